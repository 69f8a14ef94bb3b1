//! Wrong credentials at the server-to-server APIs (SPEC §9.2 the login API, §10
//! introspection): the right credentials are never throttled, so a stranger cannot lock a
//! caller out; wrong ones are counted per address (in the database, so replicas share the
//! count), and past `WRONG_PER_MINUTE` in a minute they get 429 until the minute is over.

use crate::clock::Window;
use crate::error::AppError;
use crate::origin::Origin;
use crate::state::AppState;
use crate::store::rate_limits;

/// Wrong credentials a minute from one address before the wrong ones get 429.
pub const WRONG_PER_MINUTE: i32 = 10;
const WINDOW_SECS: u64 = 60;

/// Count one wrong attempt at `api` (a key prefix: `login-api`, `introspect`) from the caller's
/// address. `Some(retry_after)` once past the limit: answer 429 instead of 401.
pub async fn count_wrong(state: &AppState, api: &str, origin: &Origin) -> Result<Option<i64>, AppError> {
    let now = state.clock.now();
    let window = Window::containing(now, WINDOW_SECS);
    let key = format!("{api}:{}", origin.rate_limit_key);
    let wrong = state.db.run(move |conn| Ok(rate_limits::hit(conn, &key, window.start)?)).await?;
    Ok((wrong > WRONG_PER_MINUTE).then(|| window.seconds_left(now)))
}
