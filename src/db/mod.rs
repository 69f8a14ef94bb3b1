//! Storage plumbing: the backend chosen from `database.url`, an r2d2 pool that keeps the real
//! connection error, SQLite pragmas on every connection, embedded migrations (under a Postgres
//! advisory lock), and the one helper that runs database work on the blocking pool — bounded in
//! time on PostgreSQL, with a lost connection counted as the outage it is (`guard`).

pub mod conn;
pub mod guard;
pub mod schema;

use std::fs::{self, OpenOptions};
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use conn::DbConnection;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant naming the Postgres advisory lock that serialises migrations.
const MIGRATION_LOCK_ID: i64 = 0x6761_7465_686f_7573; // "gatehous"

/// How long SQLite waits for a competing writer before "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// A connection returned this recently, with no connection failure seen since, is handed out
/// without a test query. Pinging on every checkout added two round trips to each registration
/// (a quarter of its database time on Postgres); failures are caught where they happen instead
/// (`run_with`), and the first one makes every older connection be tested before reuse.
const TRUSTED_AFTER_USE: Duration = Duration::from_secs(1);

/// How far past `database.connect_timeout_ms` a PostgreSQL call may go before the request gives
/// up with a 503: the pool's own checkout timeout and the server's `statement_timeout` (both
/// `connect_timeout_ms`) answer first whenever the server answers at all; this bounds the rest
/// (a silent partition, a checkout test that never returns).
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

pub type Pool = r2d2::Pool<ConnectionManager>;

/// `database.url`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/gatehouse.db".into());
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else {
            Err(format!("{:?} must start with postgres://, postgresql:// or sqlite://", mask_password(url)))
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`, for logs and output.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:********{}", &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Database failures as the HTTP layer needs to tell them apart: the database could not be
/// reached (503, the process recovers by itself) or a query failed (500, detail in the log).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {}", without_trailing_newline(&.0.to_string()))]
    Query(#[from] diesel::result::Error),
}

/// libpq ends its messages with a newline ("…Connection refused\n\tIs the server running…?\n"),
/// which left a blank line after each in the log and in a command's error. Connection errors
/// are trimmed where the pool makes them (`ConnectionManager`), query errors where `DbError`
/// formats them; both through here.
fn without_trailing_newline(message: &str) -> &str {
    message.trim_end()
}

fn trimmed(error: diesel::ConnectionError) -> diesel::ConnectionError {
    match error {
        diesel::ConnectionError::BadConnection(message) => {
            diesel::ConnectionError::BadConnection(without_trailing_newline(&message).to_string())
        }
        other => other,
    }
}

impl DbError {
    /// An outage (503), not a bug (500): no connection, a connection that died mid-request, a
    /// statement the server cut off, a database that did not answer in time.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(e) => guard::unavailable(e),
        }
    }

    /// The connection went away under the work (so none of it can have been done after that).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::Query(e) if guard::connection_lost(e))
    }
}

/// A connection in the pool, with what the pool needs to decide whether to test it.
pub struct PooledConn {
    conn: DbConnection,
    /// When it last went back to the pool (or was opened).
    returned_at: Instant,
    /// The pool's count of connection failures at that moment.
    failures_seen: u64,
    /// Its last work failed and a test query failed too: close it, do not reuse it.
    broken: bool,
    failures: Arc<AtomicU64>,
    /// What its instrumentation saw (PostgreSQL): the statement in flight, a lost connection.
    watch: Arc<guard::ConnectionWatch>,
}

impl PooledConn {
    /// After work: a connection that was lost under it (even if the work logged that and went
    /// on), or whose work was given up on, is closed; after other failed work, is the connection
    /// itself still sound? Either way a broken one makes the pool test every other connection
    /// before handing it out again, so an outage costs the requests that meet it and not those
    /// after it.
    fn check_after_work(&mut self, failed: bool, abandoned: bool) {
        if self.watch.lost() || abandoned {
            self.broken = true;
        } else if failed {
            self.broken = self.conn.batch_execute("SELECT 1").is_err();
        }
        if self.broken {
            self.failures.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Deref for PooledConn {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// r2d2 manager building the variant named by the URL, so the operator sees the real error
/// ("connection refused", "unable to open database file").
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// Connection failures seen by `run_with` so far.
    failures: Arc<AtomicU64>,
    connect_timeout_ms: u64,
    /// PostgreSQL `statement_timeout` set on every connection of a serving pool.
    statement_timeout_ms: Option<u64>,
}

impl ConnectionManager {
    fn open(&self, watch: &Arc<guard::ConnectionWatch>) -> Result<DbConnection, diesel::ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&guard::libpq_url(url, self.connect_timeout_ms))?;
                if let Some(ms) = self.statement_timeout_ms {
                    conn.batch_execute(&format!("SET statement_timeout = {ms}"))
                        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                }
                conn.set_instrumentation(guard::Watcher(watch.clone()));
                Ok(DbConnection::Postgresql(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                ))
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledConn;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<PooledConn, diesel::ConnectionError> {
        let watch = Arc::default();
        Ok(PooledConn {
            conn: self.open(&watch).map_err(trimmed)?,
            returned_at: Instant::now(),
            failures_seen: self.failures.load(Ordering::SeqCst),
            broken: false,
            failures: self.failures.clone(),
            watch,
        })
    }

    /// On checkout: test a connection that has sat idle (the server may have closed it) or that
    /// went back before a failure on another one.
    fn is_valid(&self, pooled: &mut PooledConn) -> Result<(), diesel::ConnectionError> {
        let trusted = pooled.returned_at.elapsed() < TRUSTED_AFTER_USE
            && pooled.failures_seen == self.failures.load(Ordering::SeqCst);
        if trusted {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(|e| trimmed(diesel::ConnectionError::BadConnection(e.to_string())))
    }

    /// On check-in.
    fn has_broken(&self, pooled: &mut PooledConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        pooled.returned_at = Instant::now();
        pooled.failures_seen = self.failures.load(Ordering::SeqCst);
        pooled.broken || pooled.watch.lost() || pooled.conn.is_broken()
    }
}

/// The bounds on one PostgreSQL call of a serving pool (see `DEADLINE_MARGIN`).
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    /// From the call to a connection in hand (the pool's wait and its test of the connection).
    checkout: Duration,
    /// From a statement sent to its answer. Work between statements (hashing, say) is not
    /// counted: only the database's silence is.
    statement: Duration,
}

/// What the async side of one call and its blocking task share.
#[derive(Default)]
struct Call {
    /// The connection's watch, once one is checked out.
    watch: OnceLock<Arc<guard::ConnectionWatch>>,
    /// The caller stopped waiting: the connection must not be reused.
    abandoned: AtomicBool,
}

/// The database: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
    /// One permit per pooled connection: work waits for a connection here, asynchronously,
    /// rather than on a blocking thread each, so a flood of requests cannot pile up threads.
    slots: Arc<tokio::sync::Semaphore>,
    connect_timeout: Duration,
    /// `None` on SQLite (a local file: its waits are bounded by `busy_timeout`) and for the CLI.
    deadlines: Option<Deadlines>,
}

impl Db {
    /// Open the pool of a serving process. Fails (with the real error) when the database cannot
    /// be reached within `connect_timeout_ms`. On PostgreSQL, every call is bounded: a statement
    /// running longer than `connect_timeout_ms` is cancelled by the server (`statement_timeout`),
    /// and a call whose checkout or statement gets no answer `DEADLINE_MARGIN` past that is given
    /// up on with `DbError::Unavailable`.
    pub fn connect(url: &str, pool_size: u32, connect_timeout_ms: u64) -> Result<Db, String> {
        Db::build(url, pool_size, 1, connect_timeout_ms, true)
    }

    /// One connection, opened on demand and never replenished in the background: for a CLI
    /// command that exits as soon as its work is done. (A pool refilling its idle connection
    /// on a worker thread while the process exits races libpq's GSSAPI teardown, which aborts
    /// the process or prints to stderr.)
    pub fn connect_single(url: &str, connect_timeout_ms: u64) -> Result<Db, String> {
        let db = Db::build(url, 1, 0, connect_timeout_ms, false)?;
        // Open it now, so that an unreachable database fails here with the real error.
        db.pool.get().map_err(|e| e.to_string())?;
        Ok(db)
    }

    fn build(url: &str, pool_size: u32, min_idle: u32, connect_timeout_ms: u64, serving: bool) -> Result<Db, String> {
        let url = DatabaseUrl::parse(url)?;
        if let DatabaseUrl::Sqlite(path) = &url {
            prepare_sqlite_file(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        }
        let bounded = serving && matches!(url, DatabaseUrl::Postgres(_));
        let timeout = Duration::from_millis(connect_timeout_ms);
        let deadlines =
            bounded.then_some(Deadlines { checkout: timeout + DEADLINE_MARGIN, statement: timeout + DEADLINE_MARGIN });
        let manager = ConnectionManager {
            url: url.clone(),
            failures: Arc::default(),
            connect_timeout_ms,
            statement_timeout_ms: bounded.then_some(connect_timeout_ms),
        };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(min_idle))
            .connection_timeout(Duration::from_millis(connect_timeout_ms))
            .error_handler(Box::new(LogPoolErrors))
            .build(manager)
            .map_err(|e| e.to_string())?;
        let slots = Arc::new(tokio::sync::Semaphore::new(pool_size as usize));
        Ok(Db { pool, url, slots, connect_timeout: timeout, deadlines })
    }

    /// Run pending migrations; returns how many ran. No statement timeout applies (a migration
    /// may wait for another replica's), so that connection is closed afterwards.
    pub fn migrate(&self) -> Result<usize, String> {
        let _lock = lock_sqlite_file(&self.url)?;
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        if self.deadlines.is_some() {
            conn.broken = true;
            conn.batch_execute("SET statement_timeout = 0").map_err(|e| e.to_string())?;
        }
        run_migrations(&mut conn)
    }

    /// Run `work` with a pooled connection on the blocking thread pool (checkout included), so
    /// no actix worker ever waits on the database.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_with(work).await
    }

    /// As `run`, for work that may run twice (it reads, or writes what it would write again):
    /// when the connection turns out to have been lost under it — a server restart, a backend
    /// terminated while the connection sat in the pool — it runs once more on another.
    pub async fn run_idempotent<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + Sync + 'static,
        T: Send + 'static,
    {
        let work = Arc::new(work);
        let first = work.clone();
        match self.run(move |conn| first(conn)).await {
            Err(error) if error.is_connection_lost() => {
                tracing::info!(%error, "database connection lost; trying once more on another");
                self.run(move |conn| work(conn)).await
            }
            other => other,
        }
    }

    /// As `run`, for work with an error type of its own (one a database failure converts into).
    pub async fn run_with<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        // Waiting for a slot is part of the checkout, and bounded like it.
        let started = Instant::now();
        let slot_wait = self.deadlines.map_or(self.connect_timeout, |d| d.checkout);
        let slot = tokio::time::timeout(slot_wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| DbError::Unavailable("timed out waiting for a database connection".into()))?
            .map_err(|_| DbError::Unavailable("the database is closed".into()))?;
        let call = Arc::new(Call::default());
        let shared = call.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _slot = slot;
            let mut conn = pool.get().map_err(|e| DbError::Unavailable(e.to_string()))?;
            let _ = shared.watch.set(conn.watch.clone());
            let result = work(&mut conn);
            conn.check_after_work(result.is_err(), shared.abandoned.load(Ordering::SeqCst));
            result
        });
        let joined = match self.deadlines {
            None => task.await,
            Some(deadlines) => match within_deadlines(task, &call, deadlines, started).await {
                Some(joined) => joined,
                None => {
                    call.abandoned.store(true, Ordering::SeqCst);
                    return Err(DbError::Unavailable("the database did not answer in time".into()).into());
                }
            },
        };
        joined.map_err(|e| DbError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Best-effort work that must never fail or delay a request (the last-seen time): on its
    /// own connection, after the caller has moved on; a failure is logged with `what`.
    pub fn run_detached<F>(&self, what: &'static str, work: F)
    where
        F: FnOnce(&mut DbConnection) -> diesel::QueryResult<()> + Send + 'static,
    {
        let db = self.clone();
        tokio::spawn(async move {
            if let Err(error) = db.run(move |conn| Ok(work(conn)?)).await {
                tracing::warn!(%error, "could not {what}");
            }
        });
    }

    /// Synchronous access for the CLI.
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        self.pool.get().map_err(|e| DbError::Unavailable(e.to_string()))
    }
}

/// Wait for `task` while the database keeps answering: `None` when the checkout or a statement
/// outlasts its deadline. The task itself cannot be stopped (it sits in libpq); it finishes
/// when the connection does, and that connection is then closed.
async fn within_deadlines<R>(
    mut task: tokio::task::JoinHandle<R>,
    call: &Call,
    deadlines: Deadlines,
    started: Instant,
) -> Option<Result<R, tokio::task::JoinError>> {
    loop {
        let now = Instant::now();
        let give_up_at = match call.watch.get() {
            None => started + deadlines.checkout,
            Some(watch) => watch.in_flight_since().map_or(now + deadlines.statement, |sent| sent + deadlines.statement),
        };
        if give_up_at <= now {
            return None;
        }
        tokio::select! {
            joined = &mut task => return Some(joined),
            _ = tokio::time::sleep_until(give_up_at.into()) => {}
        }
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<diesel::ConnectionError> for LogPoolErrors {
    fn handle_error(&self, error: diesel::ConnectionError) {
        tracing::warn!(%error, "database connection failed");
    }
}

/// Create the SQLite file 0600 in a 0700 directory when they do not exist yet.
fn prepare_sqlite_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
    }
    if !path.exists() {
        OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn run_migrations(conn: &mut DbConnection) -> Result<usize, String> {
    match conn {
        DbConnection::Postgresql(pg) => {
            // Replicas starting together wait for each other instead of racing.
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")).map_err(|e| e.to_string())?;
            let result = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()).map_err(|e| e.to_string());
            let unlock = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"));
            let ran = result?;
            unlock.map_err(|e| e.to_string())?;
            Ok(ran)
        }
        DbConnection::Sqlite(sqlite) => {
            let result = sqlite.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()).map_err(|e| e.to_string());
            restore_after_failed_rebuild(sqlite, result)
        }
    }
}

/// A SQLite migration that rebuilds tables runs outside diesel's transaction (its
/// `metadata.toml`): it turns foreign keys off and opens its own. When one of its statements
/// fails, that transaction is still open and foreign keys still off: undo the one, restore the
/// other, so the connection goes back to the pool as it came.
/// Every SQLite migration run and revert passes its result through here.
fn restore_after_failed_rebuild<T, E>(sqlite: &mut SqliteConnection, result: Result<T, E>) -> Result<T, E> {
    if result.is_ok() {
        return result;
    }
    // "no transaction is active" when the failure was elsewhere: nothing to undo.
    let _ = sqlite.batch_execute("ROLLBACK");
    if let Err(error) = sqlite.batch_execute("PRAGMA foreign_keys = ON") {
        tracing::warn!(%error, "could not turn SQLite foreign keys back on after a failed migration");
    }
    result
}

/// The embedded migrations of this connection's backend whose version is at most `version`
/// (the folder name's prefix, e.g. `2026-12-02-000007`), applied in order when not applied yet;
/// returns how many ran. For tests of a migration over data written in the shape before it.
pub fn migrate_through(conn: &mut DbConnection, version: &str) -> Result<usize, String> {
    fn through<C, DB>(conn: &mut C, source: EmbeddedMigrations, version: &str) -> Result<usize, String>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
        EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
    {
        // diesel's versions are the folder prefix without its dashes.
        let version = version.replace('-', "");
        let version = version.as_str();
        let pending = conn.pending_migrations(source).map_err(|e| e.to_string())?;
        let mut ran = 0;
        for migration in pending.iter().filter(|m| m.name().version().to_string().as_str() <= version) {
            conn.run_migration(migration.as_ref()).map_err(|e| e.to_string())?;
            ran += 1;
        }
        Ok(ran)
    }
    match conn {
        DbConnection::Postgresql(pg) => through(pg, POSTGRES_MIGRATIONS, version),
        DbConnection::Sqlite(sqlite) => {
            let result = through(sqlite, SQLITE_MIGRATIONS, version);
            restore_after_failed_rebuild(sqlite, result)
        }
    }
}

/// Revert the newest applied migration (tests of a down migration over data).
pub fn revert_last_migration(conn: &mut DbConnection) -> Result<(), String> {
    match conn {
        DbConnection::Postgresql(pg) => pg.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(sqlite) => {
            let result = sqlite.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ());
            restore_after_failed_rebuild(sqlite, result)
        }
    }
    .map_err(|e| e.to_string())
}

/// Revert every applied migration newer than `version` (a folder prefix such as
/// `2026-12-02-000007`), newest first; how many were reverted. Tests use it to step back to the
/// schema a migration started from.
pub fn revert_after(conn: &mut DbConnection, version: &str) -> Result<usize, String> {
    fn newest<C, DB>(conn: &mut C) -> Result<Option<String>, String>
    where
        DB: diesel::backend::Backend,
        C: MigrationHarness<DB>,
    {
        let applied = conn.applied_migrations().map_err(|e| e.to_string())?;
        Ok(applied.iter().map(|v| v.to_string()).max())
    }
    let version = version.replace('-', "");
    let mut reverted = 0;
    loop {
        let newest = match conn {
            DbConnection::Postgresql(pg) => newest(pg)?,
            DbConnection::Sqlite(sqlite) => newest(sqlite)?,
        };
        match newest {
            Some(newest) if newest > version => revert_last_migration(conn)?,
            _ => return Ok(reverted),
        }
        reverted += 1;
    }
}

/// SQLite has no advisory locks: processes migrating one file take an exclusive lock on the
/// file itself (flock, which does not interfere with SQLite's own fcntl locks).
fn lock_sqlite_file(url: &DatabaseUrl) -> Result<Option<fs::File>, String> {
    let DatabaseUrl::Sqlite(path) = url else {
        return Ok(None);
    };
    let file = OpenOptions::new().read(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.lock().map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(Some(file))
}

/// Revert every migration (tests check that migrations round-trip).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<(), String> {
    match conn {
        DbConnection::Postgresql(pg) => pg.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(sqlite) => {
            let result = sqlite.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ());
            restore_after_failed_rebuild(sqlite, result)
        }
    }
    .map_err(|e| e.to_string())
}

/// A read-then-write transaction that cannot lose a race: `BEGIN IMMEDIATE` on SQLite (a
/// deferred BEGIN fails with "database is locked" under contention), a normal transaction on
/// Postgres (callers lock rows or update conditionally). `work` must not open a transaction.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Postgresql(_) => conn.transaction::<T, E, _>(work),
        DbConnection::Sqlite(_) => {
            conn.batch_execute("BEGIN IMMEDIATE")?;
            // A panic must not return the connection to the pool inside an open transaction.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *conn)));
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(panic) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    std::panic::resume_unwind(panic)
                }
            };
            match outcome {
                Ok(value) => match conn.batch_execute("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = conn.batch_execute("ROLLBACK");
                        Err(e.into())
                    }
                },
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        }
    }
}

/// Run one diesel statement on the backend's own connection instead of the combined one:
/// `per_backend!(conn, |c| query.execute(c))`. The combined connection renders every statement
/// to SQL text to find its prepared statement (a third of a registration's instructions under
/// callgrind); the backend's own connection keys its cache by the statement's type. Also the
/// way to use what only the backends have (`on_conflict`, `for_update`).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// `SELECT 1` — the readiness probe.
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/x.db"), Ok(DatabaseUrl::Sqlite("data/x.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:///var/x.db"), Ok(DatabaseUrl::Sqlite("/var/x.db".into())));
        assert!(matches!(DatabaseUrl::parse("postgresql://u@h/d"), Ok(DatabaseUrl::Postgres(_))));
        assert!(DatabaseUrl::parse("mysql://h/d").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn masks_passwords() {
        assert_eq!(mask_password("postgres://u:secret@h:5432/d"), "postgres://u:********@h:5432/d");
        assert_eq!(mask_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(mask_password("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn libpq_messages_lose_their_trailing_newline() {
        let refused = "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\
                       \tIs the server running on that host and accepting TCP/IP connections?\n";
        let diesel::ConnectionError::BadConnection(message) =
            trimmed(diesel::ConnectionError::BadConnection(refused.to_string()))
        else {
            panic!("the kind of error changed");
        };
        assert!(message.ends_with("TCP/IP connections?"), "{message:?}");
        assert!(message.contains("failed: Connection refused\n\tIs the server"), "inner lines stay: {message:?}");

        let closed = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UnableToSendCommand,
            Box::new("server closed the connection unexpectedly\n".to_string()),
        );
        assert_eq!(DbError::Query(closed).to_string(), "database error: server closed the connection unexpectedly");
    }
}
