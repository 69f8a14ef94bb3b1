//! Which user an upstream identity signs in as (SPEC §9.1, §9.3): the one place of the linking
//! rules — known identity → its user; a first sign-in may link to an existing local user by a
//! verified email when the provider allows it; an email that belongs to any other user is
//! refused (`email_in_use`: never a second user with one email, never a silent link); else a
//! new user, when the provider creates users. Run inside the caller's transaction.

use serde_json::json;

use super::access::{self, Account, Denial};
use crate::config::ProviderSettings;
use crate::db::DbConnection;
use crate::secrets;
use crate::store::audit::{event, Actor, AuditRecord};
use crate::store::identities::{self, IdentityRow};
use crate::store::users::{self, UserRow};

/// Why a sign-in through a provider is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Access(Denial),
    UserDisabled,
    /// The email belongs to another user, and linking to it is not allowed.
    EmailInUse,
    /// Unknown identity and `create_users = false`.
    NoNewUsers,
}

impl Refusal {
    /// The rule's name, for the audit row.
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::Access(denial) => denial.rule(),
            Refusal::UserDisabled => "user_disabled",
            Refusal::EmailInUse => "email_in_use",
            Refusal::NoNewUsers => "no_new_users",
        }
    }

    /// The rule in plain words, for the refusal page.
    pub fn explain(&self, provider: &ProviderSettings) -> String {
        match self {
            Refusal::Access(denial) => denial.explain(provider),
            Refusal::UserDisabled => "Your account has been disabled. Ask the administrator.".into(),
            Refusal::EmailInUse => format!(
                "The email address of your {} account already belongs to another user here. Sign in the way that user does, or ask the administrator.",
                provider.name
            ),
            Refusal::NoNewUsers => format!(
                "Only {} accounts already known here may sign in; yours is not. Ask the administrator.",
                provider.name
            ),
        }
    }
}

/// The user an identity signs in as, with the audit rows the linking made.
pub struct Linked {
    pub user: UserRow,
    pub records: Vec<AuditRecord>,
}

/// Apply the access and linking rules and write what they decide (new user, link, refreshed
/// profile). Nothing is written on a refusal.
pub fn link(
    conn: &mut DbConnection,
    provider: &ProviderSettings,
    account: &Account,
    now: i64,
) -> Result<Result<Linked, Refusal>, diesel::result::Error> {
    let key = (provider.id.as_str(), account.issuer.as_str(), account.subject.as_str());
    let known = identities::find(conn, key.0, key.1, key.2)?;
    if let Err(denial) = access::check(provider, account, known.is_some()) {
        return Ok(Err(Refusal::Access(denial)));
    }
    let verified_email = account.verified_email();
    let mut records = Vec::new();
    let user = match known {
        Some(identity) => match users::find(conn, &identity.user_id)? {
            Some(user) if user.is_active() => {
                identities::touch(conn, key, account.email.as_deref(), now)?;
                user
            }
            _ => return Ok(Err(Refusal::UserDisabled)),
        },
        None => {
            // Access rule 1: an unknown identity has a verified email.
            let Some(email) = verified_email else { return Ok(Err(Refusal::Access(Denial::EmailNotVerified))) };
            let user = match users::find_by_email(conn, email)? {
                Some(holder) => {
                    let may_link = provider.link_existing_by_email
                        && holder.is_local()
                        && holder.role != users::ROLE_ADMIN
                        && !identities::user_has_provider(conn, &holder.user_id, &provider.id)?;
                    if !may_link {
                        return Ok(Err(Refusal::EmailInUse));
                    }
                    if !holder.is_active() {
                        return Ok(Err(Refusal::UserDisabled));
                    }
                    holder
                }
                None if provider.create_users => {
                    let user = UserRow {
                        user_id: format!("usr_{}", secrets::random_token(12)),
                        email: Some(email.to_string()),
                        email_lower: Some(email.to_lowercase()),
                        password_hash: None,
                        status: users::STATUS_ACTIVE.into(),
                        created_at: now,
                        updated_at: now,
                        source: users::SOURCE_PROVIDER.into(),
                        name: account.name.clone(),
                        email_verified: true,
                        role: users::ROLE_USER.into(),
                        last_sign_in_at: None,
                    };
                    users::insert(conn, &user)?;
                    records.push(AuditRecord::new(
                        event::USER_CREATED,
                        Actor::Anonymous,
                        json!({"user_id": user.user_id, "source": users::SOURCE_PROVIDER, "provider": provider.id}),
                    ));
                    user
                }
                None => return Ok(Err(Refusal::NoNewUsers)),
            };
            identities::insert(
                conn,
                &IdentityRow {
                    provider: provider.id.clone(),
                    issuer: account.issuer.clone(),
                    subject: account.subject.clone(),
                    user_id: user.user_id.clone(),
                    email: account.email.clone(),
                    created_at: now,
                    last_sign_in_at: now,
                },
            )?;
            records.push(AuditRecord::new(
                event::USER_IDENTITY_LINKED,
                Actor::Anonymous,
                json!({"user_id": user.user_id, "provider": provider.id, "issuer": account.issuer, "subject": account.subject}),
            ));
            user
        }
    };
    // The name follows the provider; the email only when verified and no other user's.
    let new_email = match verified_email {
        Some(email) if user.email_lower.as_deref() != Some(email.to_lowercase().as_str()) => {
            match users::find_by_email(conn, email)? {
                None => Some(email),
                Some(_) => None,
            }
        }
        _ => None,
    };
    let name = account.name.as_deref().or(user.name.as_deref());
    match new_email {
        Some(email) => users::refresh_profile(conn, &user.user_id, name, Some(email), true, now)?,
        None => users::refresh_profile(conn, &user.user_id, name, user.email.as_deref(), user.email_verified, now)?,
    }
    let user = users::find(conn, &user.user_id)?.unwrap_or(user);
    Ok(Ok(Linked { user, records }))
}
