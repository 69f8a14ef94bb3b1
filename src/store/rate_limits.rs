//! Rate-limit counters: one row per (key, window start), bumped by one atomic upsert of its own
//! (never inside a larger transaction, where the hot row would serialise every registration
//! from one address).

use diesel::prelude::*;

use crate::db::schema::rate_limit_windows as w;
use crate::db::DbConnection;

/// Count one attempt and return the attempts in this window so far, this one included.
pub fn hit(conn: &mut DbConnection, key: &str, window_start: i64) -> QueryResult<i32> {
    // `ON CONFLICT` is not available on the combined connection: the same statement per backend.
    macro_rules! upsert {
        ($c:expr) => {
            diesel::insert_into(w::table)
                .values((w::key.eq(key), w::window_start.eq(window_start), w::attempts.eq(1), w::audited.eq(false)))
                .on_conflict((w::key, w::window_start))
                .do_update()
                .set(w::attempts.eq(w::attempts + 1))
                .returning(w::attempts)
                .get_result::<i32>($c)
        };
    }
    match conn {
        DbConnection::Postgresql(c) => upsert!(c),
        DbConnection::Sqlite(c) => upsert!(c),
    }
}

/// Give one attempt back (a registration that turned out to be a dedupe reuse).
pub fn refund(conn: &mut DbConnection, key: &str, window_start: i64) -> QueryResult<()> {
    diesel::update(w::table.find((key, window_start)).filter(w::attempts.gt(0)))
        .set(w::attempts.eq(w::attempts - 1))
        .execute(conn)?;
    Ok(())
}

/// Mark the window as audited; true only for the first caller, so a flood writes one row.
pub fn claim_audit(conn: &mut DbConnection, key: &str, window_start: i64) -> QueryResult<bool> {
    let changed = diesel::update(w::table.find((key, window_start)).filter(w::audited.eq(false)))
        .set(w::audited.eq(true))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Attempts counted so far in a window (0 when none).
pub fn attempts(conn: &mut DbConnection, key: &str, window_start: i64) -> QueryResult<i32> {
    Ok(w::table.find((key, window_start)).select(w::attempts).first(conn).optional()?.unwrap_or(0))
}
