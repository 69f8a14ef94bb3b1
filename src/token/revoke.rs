//! `POST /revoke` (RFC 7009, SPEC §5): a refresh token ends its family.

use super::request::RevocationRequest;
use crate::error::AppError;
use crate::secrets;
use crate::state::AppState;
use crate::store::refresh;

/// `POST /revoke` (RFC 7009): a refresh token revokes its family; anything else — an access
/// token, an unknown token, another client's token — is accepted with no effect.
pub async fn revoke(state: &AppState, request: RevocationRequest) -> Result<(), AppError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let Some((_, family)) = refresh::find_token(conn, &secrets::digest(&request.token))? else { return Ok(()) };
            if request.client_id.as_deref().is_some_and(|id| !secrets::constant_time_eq(id, &family.client_id)) {
                return Ok(());
            }
            refresh::revoke_family(conn, &family.family_id, "revoked by the client", now)?;
            Ok(())
        })
        .await
        .map_err(AppError::from)
}
