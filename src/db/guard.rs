//! What keeps a database failure from being a 500 or a hang (SPEC §3: an outage is a quick
//! 503): which errors mean the connection or the server went away, a watch on each PostgreSQL
//! connection's query in flight (through diesel's instrumentation), and the libpq connection
//! parameters that let a dead peer be noticed at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};

/// What the server or libpq says when the connection itself is gone (lower case). diesel has
/// no SQLSTATE accessor, so the words are all there is; PostgreSQL's messages are English
/// unless `lc_messages` says otherwise, and the error kinds below catch most cases anyway.
const CONNECTION_LOST: &[&str] = &[
    "server closed the connection",
    "no connection to the server",
    "terminating connection",
    "could not send data to server",
    "could not receive data from server",
    "connection to server",
    "ssl connection has been closed",
    "ssl syscall error",
    "eof detected",
    "connection reset",
    "broken pipe",
    "the database system is shutting down",
];

/// Failures that are an outage although the connection itself may be sound.
const UNAVAILABLE: &[&str] = &[
    "canceling statement due to statement timeout",
    "the database system is starting up",
    "the database system is in recovery mode",
    "database is locked",
];

fn message_has(error: &Error, words: &[&str]) -> bool {
    match error {
        Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            words.iter().any(|w| message.contains(w))
        }
        _ => false,
    }
}

/// The connection (or the server behind it) is gone: nothing more can be done on it.
/// diesel says `ClosedConnection` when libpq marked the connection bad and
/// `UnableToSendCommand` when a statement could not even be sent ("no connection to the
/// server"); a commit that failed either way is one too.
pub fn connection_lost(error: &Error) -> bool {
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => true,
        Error::RollbackErrorOnCommit { rollback_error, commit_error } => {
            connection_lost(rollback_error) || connection_lost(commit_error)
        }
        other => message_has(other, CONNECTION_LOST),
    }
}

/// The database cannot serve this request now, through no fault of the request: a lost
/// connection, a statement cut by `statement_timeout`, a server starting or stopping, SQLite
/// busy past its timeout, a transaction manager left broken by an earlier failure.
pub fn unavailable(error: &Error) -> bool {
    match error {
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit { rollback_error, commit_error } => {
            unavailable(rollback_error) || unavailable(commit_error)
        }
        other => connection_lost(other) || message_has(other, UNAVAILABLE),
    }
}

/// A process-wide time base, so an instant fits in an atomic.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// One connection's state as its instrumentation sees it.
#[derive(Debug, Default)]
pub struct ConnectionWatch {
    /// Milliseconds after `epoch()` plus one when the statement in flight was sent; 0 when none is.
    in_flight_since: AtomicU64,
    /// A statement on it failed because the connection was gone.
    lost: AtomicBool,
}

impl ConnectionWatch {
    /// When the statement now in flight was sent, if one is.
    pub fn in_flight_since(&self) -> Option<Instant> {
        match self.in_flight_since.load(Ordering::SeqCst) {
            0 => None,
            at => Some(epoch() + Duration::from_millis(at - 1)),
        }
    }

    /// Whether a statement has failed because the connection was gone: the connection must not
    /// be used again, even by work that logged that failure and went on.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

/// diesel instrumentation feeding a [`ConnectionWatch`].
pub struct Watcher(pub Arc<ConnectionWatch>);

impl Instrumentation for Watcher {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                let since = epoch().elapsed().as_millis() as u64 + 1;
                self.0.in_flight_since.store(since, Ordering::SeqCst);
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.0.in_flight_since.store(0, Ordering::SeqCst);
                if error.is_some_and(connection_lost) {
                    self.0.lost.store(true, Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }
}

/// TCP keepalive probes on an idle connection: the first after this many seconds, then every
/// `KEEPALIVE_INTERVAL_SECS`, and the peer is dead after `KEEPALIVE_COUNT` unanswered ones.
const KEEPALIVE_IDLE_SECS: u64 = 10;
const KEEPALIVE_INTERVAL_SECS: u64 = 5;
const KEEPALIVE_COUNT: u64 = 3;
/// Data sent and not acknowledged for this long closes the connection (TCP_USER_TIMEOUT), so a
/// statement sent into a partition frees its connection and thread.
const TCP_USER_TIMEOUT_MS: u64 = 10_000;

/// The PostgreSQL URL with libpq's parameters for noticing a dead peer added — connect
/// timeout, TCP keepalives, TCP user timeout — unless the URL sets them itself. Without them a
/// silent partition (packets dropped, no reset) holds a connection until the kernel gives up,
/// which takes many minutes.
pub fn libpq_url(url: &str, connect_timeout_ms: u64) -> String {
    // libpq counts whole seconds and treats less than 2 as 2.
    let connect_timeout_secs = connect_timeout_ms.div_ceil(1000).max(2);
    let defaults = [
        ("connect_timeout", connect_timeout_secs),
        ("keepalives", 1),
        ("keepalives_idle", KEEPALIVE_IDLE_SECS),
        ("keepalives_interval", KEEPALIVE_INTERVAL_SECS),
        ("keepalives_count", KEEPALIVE_COUNT),
        ("tcp_user_timeout", TCP_USER_TIMEOUT_MS),
    ];
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let present: Vec<&str> = query.split('&').map(|pair| pair.split('=').next().unwrap_or("")).collect();
    let mut params: Vec<String> = query.split('&').filter(|p| !p.is_empty()).map(str::to_string).collect();
    for (name, value) in defaults {
        if !present.contains(&name) {
            params.push(format!("{name}={value}"));
        }
    }
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn connection_level_failures_are_an_outage() {
        for error in [
            db_error(DatabaseErrorKind::UnableToSendCommand, "no connection to the server\n"),
            db_error(DatabaseErrorKind::ClosedConnection, "server closed the connection unexpectedly"),
            db_error(DatabaseErrorKind::Unknown, "terminating connection due to administrator command"),
            db_error(DatabaseErrorKind::Unknown, "could not receive data from server: Connection reset by peer"),
            db_error(DatabaseErrorKind::Unknown, "SSL connection has been closed unexpectedly"),
            Error::RollbackErrorOnCommit {
                rollback_error: Box::new(db_error(DatabaseErrorKind::UnableToSendCommand, "no connection")),
                commit_error: Box::new(db_error(DatabaseErrorKind::Unknown, "x")),
            },
        ] {
            assert!(connection_lost(&error), "{error:?}");
            assert!(unavailable(&error), "{error:?}");
        }
    }

    #[test]
    fn some_outages_leave_the_connection_sound() {
        for message in ["canceling statement due to statement timeout", "database is locked"] {
            let error = db_error(DatabaseErrorKind::Unknown, message);
            assert!(unavailable(&error) && !connection_lost(&error), "{message}");
        }
        assert!(unavailable(&Error::BrokenTransactionManager));
    }

    #[test]
    fn a_bad_query_is_no_outage() {
        for error in [
            db_error(DatabaseErrorKind::Unknown, "invalid byte sequence for encoding \"UTF8\": 0x00"),
            db_error(DatabaseErrorKind::UniqueViolation, "duplicate key value violates unique constraint"),
            db_error(DatabaseErrorKind::Unknown, "syntax error at or near \"SELEC\""),
            Error::NotFound,
        ] {
            assert!(!unavailable(&error) && !connection_lost(&error), "{error:?}");
        }
    }

    #[test]
    fn libpq_parameters_are_added_unless_given() {
        assert_eq!(
            libpq_url("postgres://u@h/d", 2500),
            "postgres://u@h/d?connect_timeout=3&keepalives=1&keepalives_idle=10&keepalives_interval=5\
             &keepalives_count=3&tcp_user_timeout=10000"
        );
        let url = libpq_url("postgres://u@h/d?sslmode=require&connect_timeout=9&keepalives=0", 500);
        assert!(url.starts_with("postgres://u@h/d?sslmode=require&connect_timeout=9&keepalives=0&keepalives_idle=10"));
        assert_eq!(url.matches("connect_timeout").count(), 1);
        assert_eq!(url.matches("keepalives=").count(), 1);
        assert!(libpq_url("postgres://u@h/d", 1).contains("connect_timeout=2&"));
    }
}
