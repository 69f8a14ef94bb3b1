//! The audit trail as operators read it (SPEC §4.6, §6): newest first, filtered by event,
//! client and time, paged by id.

use serde::Serialize;
use serde_json::Value;

use super::{page_size, OperatorError, Page, Result};
use crate::clock::rfc3339;
use crate::db::DbConnection;
use crate::store::audit::{self, AuditFilter, AuditRow};
use crate::text::echo;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub detail: Value,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            at: rfc3339(row.at),
            event: row.event,
            actor: row.actor,
            client_id: row.client_id,
            address: row.address,
            user_agent: row.user_agent,
            detail: serde_json::from_str(&row.detail).unwrap_or(Value::Object(Default::default())),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    pub event: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// `1h`, `30m`, `7d`, `45s` ago, or an RFC 3339 time.
pub fn parse_since(value: &str, now: i64) -> Result<i64> {
    let invalid = || {
        OperatorError::Invalid(format!(
            "--since \"{}\": use a duration such as 1h, 30m, 7d, or an RFC 3339 time",
            echo(value)
        ))
    };
    let value = value.trim();
    if let Some(unit) = value.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        if let Ok(amount) = value[..value.len() - 1].parse::<i64>() {
            let seconds = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(invalid()),
            };
            return amount.checked_mul(seconds).filter(|s| *s >= 0).map(|s| now - s).ok_or_else(invalid);
        }
    }
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| invalid())
}

/// Newest first.
pub fn query_audit(conn: &mut DbConnection, request: &AuditRequest, now: i64) -> Result<Page<AuditEntry>> {
    let since = request.since.as_deref().map(|s| parse_since(s, now)).transpose()?;
    let before_id = request
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| OperatorError::Invalid(format!("invalid cursor \"{}\"", echo(c)))))
        .transpose()?;
    let limit = page_size(request.limit);
    let filter = AuditFilter { event: request.event.clone(), client_id: request.client_id.clone(), since, before_id };
    let rows = audit::list(conn, &filter, limit + 1)?;
    Ok(Page::of(rows, limit, |row| row.id.to_string(), AuditEntry::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_rfc3339() {
        let now = 1_000_000;
        assert_eq!(parse_since("1h", now).unwrap(), now - 3600);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1800);
        assert_eq!(parse_since("2026-11-26T00:00:00Z", now).unwrap(), 1_795_651_200);
        for bad in ["", "yesterday", "1y", "-1h", "h", "2026-13-01T00:00:00Z"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
