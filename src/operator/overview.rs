//! The dashboard's overview (SPEC §12): clients by source and status, registrations and
//! refusals per day over 30 days, live grants, CIMD documents failing.

use serde::Serialize;

use super::Result;
use crate::db::DbConnection;
use crate::store::audit::{self, event};
use crate::store::clients;

/// Days the chart covers, today included.
pub const CHART_DAYS: usize = 30;
const DAY_SECS: i64 = 86_400;

/// Events counted as a registration: a client that came to exist by DCR, CIMD or the operator.
pub const REGISTRATION_EVENTS: &[&str] = &[event::DCR_REGISTERED, event::CIMD_DISCOVERED, event::CLIENT_CREATED];
/// Events counted as a refusal: a registration refused or rate-limited, a document rejected.
pub const REFUSAL_EVENTS: &[&str] = &[event::DCR_REJECTED, event::DCR_RATE_LIMITED, event::CIMD_REJECTED];

/// One day of the chart (UTC), its start as epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub start: i64,
    pub registrations: u32,
    pub refusals: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// (source, status, count), as stored.
    pub clients: Vec<(String, String, i64)>,
    pub days: Vec<Day>,
    pub live_grants: i64,
    pub failing_documents: i64,
}

/// The last `CHART_DAYS` UTC days up to `now`'s, oldest first, with the events of each.
pub fn per_day(events: &[(String, i64)], now: i64) -> Vec<Day> {
    let today = now.div_euclid(DAY_SECS) * DAY_SECS;
    let first = today - (CHART_DAYS as i64 - 1) * DAY_SECS;
    let mut days: Vec<Day> =
        (0..CHART_DAYS as i64).map(|i| Day { start: first + i * DAY_SECS, registrations: 0, refusals: 0 }).collect();
    for (name, at) in events {
        if *at < first || *at >= today + DAY_SECS {
            continue;
        }
        let day = &mut days[((at - first) / DAY_SECS) as usize];
        if REGISTRATION_EVENTS.contains(&name.as_str()) {
            day.registrations += 1;
        } else if REFUSAL_EVENTS.contains(&name.as_str()) {
            day.refusals += 1;
        }
    }
    days
}

pub fn overview(conn: &mut DbConnection, now: i64) -> Result<Overview> {
    let since = now.div_euclid(DAY_SECS) * DAY_SECS - (CHART_DAYS as i64 - 1) * DAY_SECS;
    let events: Vec<&str> = REGISTRATION_EVENTS.iter().chain(REFUSAL_EVENTS).copied().collect();
    let times = audit::times_of(conn, &events, since)?;
    Ok(Overview {
        clients: clients::counts(conn)?,
        days: per_day(&times, now),
        live_grants: clients::live_grants(conn, now)?,
        failing_documents: clients::failing_documents(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_event_on_its_day() {
        let now = 100 * DAY_SECS + 3600;
        let events = vec![
            (event::DCR_REGISTERED.to_string(), now),
            (event::DCR_REGISTERED.to_string(), now - DAY_SECS),
            (event::DCR_REJECTED.to_string(), now - DAY_SECS),
            // Before the first day: not counted.
            (event::DCR_REJECTED.to_string(), now - 40 * DAY_SECS),
            (event::CLIENT_DISABLED.to_string(), now),
        ];
        let days = per_day(&events, now);
        assert_eq!(days.len(), CHART_DAYS);
        assert_eq!(days[CHART_DAYS - 1], Day { start: 100 * DAY_SECS, registrations: 1, refusals: 0 });
        assert_eq!(days[CHART_DAYS - 2].registrations, 1);
        assert_eq!(days[CHART_DAYS - 2].refusals, 1);
        assert_eq!(days.iter().map(|d| d.refusals).sum::<u32>(), 1);
        assert_eq!(days[0].start, 71 * DAY_SECS);
    }
}
