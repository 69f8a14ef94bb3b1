# Build stage: the release binary (libpq for the Postgres backend; SQLite is bundled).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

# Runtime stage: a small Debian with libpq, running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/gatehouse --create-home gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
# The documented defaults; mount your own config *directory* over /etc/gatehouse (a single-file
# mount would hide edits from live reload, since editors replace the file).
COPY config/gatehouse.toml /etc/gatehouse/gatehouse.toml
ENV GATEHOUSE_CONFIG=/etc/gatehouse/gatehouse.toml \
    GATEHOUSE__SERVER__BIND=0.0.0.0:8080
USER gatehouse
# SQLite (the default database.url, sqlite://data/gatehouse.db) lands in /var/lib/gatehouse/data.
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["gatehouse", "healthcheck"]
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
