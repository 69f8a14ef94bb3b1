# Build stage: the release binary (libpq for the Postgres backend; SQLite is bundled).
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, in a layer of their own that is reused while Cargo.toml and Cargo.lock
# stay the same: the same `cargo build --release --locked` (same profile, same features) over
# an empty library and an empty main.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -r src
# Then Gatehouse itself. The placeholders left fingerprints newer than the copied sources may
# be (COPY keeps the files' times): touching the crate roots makes cargo rebuild the crate
# instead of shipping the empty main.
COPY src src
COPY migrations migrations
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked

# Runtime stage: a small Debian with libpq, running as an unprivileged user.
FROM debian:bookworm-slim
# User and group 10001, a home of its own that is the data volume and holds no shell dotfiles
# (--create-home would copy /etc/skel into it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/gatehouse --no-create-home \
      --shell /usr/sbin/nologin gatehouse \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/gatehouse
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
