//! Client ID Metadata Documents (SPEC §8): a `client_id` that is an https URL names the
//! client's own metadata. This module resolves such ids to clients — through a bounded
//! in-memory cache, one fetch per URL at a time, a few fetches at once in the whole process,
//! failures remembered for a minute and fetches per host capped — and stores a CIMD client only
//! once a signed-in user reaches consent, so unauthenticated requests cannot fill the tables.

pub mod address;
pub mod cache;
pub mod document;
pub mod fetch;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::{CimdSettings, Settings};
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::oauth::redirect_uri::normalise_host;
use crate::registration::policy::HostPattern;
use crate::registration::rules::ClientMetadata;
use crate::registration::service::rules_from;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, ClientRow, SOURCE_CIMD, STATUS_ACTIVE};
use crate::store::refresh;
use fetch::{FetchConfig, FetchError, FetchResponse, Fetcher};

/// Fetches in flight at once, in the whole process.
const MAX_CONCURRENT_FETCHES: usize = 4;
/// A failed URL is answered from memory this long.
const FAILURE_MEMORY_SECS: i64 = 60;
/// Network fetches per host and minute.
const FETCHES_PER_HOST_PER_MINUTE: u32 = 10;
/// Bounds of the per-URL and per-host bookkeeping (beyond them, expired entries are dropped and
/// new ones not remembered), and of failure audit rows per minute across all hosts.
const MAX_TRACKED: usize = 4096;
const FAILURE_AUDITS_PER_MINUTE: u32 = 30;
/// The in-memory document cache's bounds.
const CACHE_MAX_ENTRIES: usize = 256;
const CACHE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// A fetched and validated document.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub metadata: ClientMetadata,
    pub fetched_at: i64,
    pub expires_at: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    size: usize,
}

/// What a client lookup found.
pub enum Lookup {
    Found(Box<ClientRow>),
    NotFound,
    /// A CIMD client id whose document cannot be used; the message is for the client's author.
    Failed(String),
}

/// Who is asking, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A fetch's result: a new document, or (to a conditional request) "not modified".
#[derive(Debug, Clone)]
enum Fetched {
    Document(Box<Resolved>),
    NotModified { expires_at: i64 },
}

type InFlight = Arc<OnceCell<Result<Fetched, String>>>;

#[derive(Default)]
struct DocumentCache {
    entries: HashMap<String, (Resolved, u64)>,
    bytes: usize,
    next: u64,
}

impl DocumentCache {
    fn get(&self, url: &str, now: i64) -> Option<Resolved> {
        self.entries.get(url).filter(|(doc, _)| doc.expires_at > now).map(|(doc, _)| doc.clone())
    }

    /// Insert, evicting the oldest entries beyond the bounds.
    fn put(&mut self, url: String, doc: Resolved) {
        if let Some((old, _)) = self.entries.remove(&url) {
            self.bytes -= old.size;
        }
        self.bytes += doc.size;
        self.next += 1;
        self.entries.insert(url, (doc, self.next));
        while self.entries.len() > CACHE_MAX_ENTRIES || self.bytes > CACHE_MAX_BYTES {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, seq))| *seq).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some((doc, _)) = self.entries.remove(&oldest) {
                self.bytes -= doc.size;
            }
        }
    }
}

/// The fetcher and its settings: rebuilt when `[cimd]` changes (trust roots included).
struct FetcherSlot {
    built_for: CimdSettings,
    overrides: HashMap<String, Vec<IpAddr>>,
    fetcher: Arc<Fetcher>,
}

#[derive(Default)]
pub struct Cimd {
    fetcher: Mutex<Option<FetcherSlot>>,
    /// Test-only DNS pinning (there is no public DNS in tests).
    overrides: Mutex<HashMap<String, Vec<IpAddr>>>,
    permits: Option<Semaphore>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    failures: Mutex<HashMap<String, (i64, String)>>,
    host_fetches: Mutex<HashMap<String, (i64, u32)>>,
    host_audits: Mutex<HashMap<String, i64>>,
    /// (minute start, failure rows written in it), across all hosts.
    audits_this_minute: Mutex<(i64, u32)>,
    documents: Mutex<DocumentCache>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cimd {
    pub fn new() -> Cimd {
        Cimd { permits: Some(Semaphore::new(MAX_CONCURRENT_FETCHES)), ..Cimd::default() }
    }

    /// Resolve `host` to these addresses in every fetch (tests only: no public DNS there).
    pub fn pin_host(&self, host: &str, addresses: Vec<IpAddr>) {
        lock(&self.overrides).insert(host.to_ascii_lowercase(), addresses);
    }

    /// Build the fetcher afresh at its next use, re-reading `cimd.extra_root_certificates` (a
    /// reload may mean a replaced certificate file under an unchanged path).
    pub fn rebuild_fetcher(&self) {
        *lock(&self.fetcher) = None;
    }

    fn fetcher(&self, settings: &CimdSettings) -> Result<Arc<Fetcher>, String> {
        let overrides = lock(&self.overrides).clone();
        let mut slot = lock(&self.fetcher);
        if let Some(current) = slot.as_ref() {
            if &current.built_for == settings && current.overrides == overrides {
                return Ok(current.fetcher.clone());
            }
        }
        let mut roots = Vec::new();
        for path in &settings.extra_root_certificates {
            roots.push(std::fs::read(path).map_err(|e| format!("cimd.extra_root_certificates {path:?}: {e}"))?);
        }
        let fetcher = Arc::new(Fetcher::new(FetchConfig {
            allow_private_addresses: settings.allow_private_addresses,
            timeout: std::time::Duration::from_millis(settings.http_timeout_ms),
            max_document_bytes: settings.max_document_bytes,
            extra_root_certificates: roots,
            resolver_overrides: overrides.clone(),
        })?);
        *slot = Some(FetcherSlot { built_for: settings.clone(), overrides, fetcher: fetcher.clone() });
        Ok(fetcher)
    }

    /// Count a network fetch for `host`; false when its minute's budget is spent.
    fn take_host_budget(&self, host: &str, now: i64) -> bool {
        let mut fetches = lock(&self.host_fetches);
        if fetches.len() >= MAX_TRACKED {
            fetches.retain(|_, (start, _)| now - *start < 60);
            if fetches.len() >= MAX_TRACKED && !fetches.contains_key(host) {
                return false; // too many hosts this minute: refuse rather than grow
            }
        }
        let entry = fetches.entry(host.to_string()).or_insert((now, 0));
        if now - entry.0 >= 60 {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= FETCHES_PER_HOST_PER_MINUTE
    }

    /// At most one failure row per host and minute.
    fn claim_failure_audit(&self, host: &str, now: i64) -> bool {
        let mut audits = lock(&self.host_audits);
        if audits.get(host).is_some_and(|last| now - last < 60) {
            return false;
        }
        // Many hosts (wildcard DNS) must not flood the table either.
        let mut minute = lock(&self.audits_this_minute);
        if now - minute.0 >= 60 {
            *minute = (now, 0);
        }
        if minute.1 >= FAILURE_AUDITS_PER_MINUTE {
            return false;
        }
        minute.1 += 1;
        if audits.len() >= MAX_TRACKED {
            audits.retain(|_, last| now - *last < 60);
        }
        audits.insert(host.to_string(), now);
        true
    }

    fn remembered_failure(&self, url: &str, now: i64) -> Option<String> {
        lock(&self.failures).get(url).filter(|(until, _)| *until > now).map(|(_, message)| message.clone())
    }

    /// The document of `url`: from memory, or fetched once for all who wait on it —
    /// conditionally when the stored client's validators are given.
    async fn resolve(
        &self,
        state: &AppState,
        settings: &Settings,
        url: &url::Url,
        stored: Option<&ClientRow>,
        requester: &Requester,
    ) -> Result<Fetched, String> {
        let now = state.clock.now();
        let key = url.as_str().to_string();
        if let Some(doc) = lock(&self.documents).get(&key, now) {
            return Ok(Fetched::Document(Box::new(doc)));
        }
        if let Some(message) = self.remembered_failure(&key, now) {
            return Err(message);
        }
        let validators = stored.map(|row| (row.cimd_etag.clone(), row.cimd_last_modified.clone())).unwrap_or_default();
        let cell = lock(&self.in_flight).entry(key.clone()).or_insert_with(|| Arc::new(OnceCell::new())).clone();
        let result =
            cell.get_or_init(|| self.fetch_and_validate(state, settings, url, &validators, requester)).await.clone();
        // Store the outcome before the in-flight entry goes, so a lookup arriving in between finds
        // it instead of fetching again; and remove only this fetch's entry, not a later one.
        match &result {
            Ok(Fetched::Document(doc)) => lock(&self.documents).put(key.clone(), (**doc).clone()),
            Ok(Fetched::NotModified { .. }) => {}
            Err(message) => {
                let mut failures = lock(&self.failures);
                if failures.len() >= MAX_TRACKED {
                    failures.retain(|_, (until, _)| *until > now);
                }
                if failures.len() < MAX_TRACKED {
                    failures.insert(key.clone(), (now + FAILURE_MEMORY_SECS, message.clone()));
                }
            }
        }
        let mut in_flight = lock(&self.in_flight);
        if in_flight.get(&key).is_some_and(|current| Arc::ptr_eq(current, &cell)) {
            in_flight.remove(&key);
        }
        result
    }

    async fn fetch_and_validate(
        &self,
        state: &AppState,
        settings: &Settings,
        url: &url::Url,
        validators: &(Option<String>, Option<String>),
        requester: &Requester,
    ) -> Result<Fetched, String> {
        let now = state.clock.now();
        let host = normalise_host(url.host_str().unwrap_or(""));
        let cimd = &settings.cimd;
        let failed = |event: &'static str, message: String| (event, message);
        let outcome: Result<Fetched, (&'static str, String)> = async {
            if cimd.denied_hosts.iter().any(|p| HostPattern::parse(p).matches(&host)) {
                return Err(failed(
                    event::CIMD_REJECTED,
                    format!("the host {host} may not serve client metadata documents here"),
                ));
            }
            if !cimd.trusted_hosts.is_empty()
                && !cimd.trusted_hosts.iter().any(|p| HostPattern::parse(p).matches(&host))
            {
                return Err(failed(
                    event::CIMD_REJECTED,
                    format!("the host {host} is not trusted to serve client metadata documents here"),
                ));
            }
            if !self.take_host_budget(&host, now) {
                return Err(failed(
                    event::CIMD_FETCH_FAILED,
                    format!("too many document fetches for {host}; try again in a minute"),
                ));
            }
            let fetcher = self.fetcher(cimd).map_err(|e| failed(event::CIMD_FETCH_FAILED, e))?;
            let _permit = match &self.permits {
                Some(permits) => {
                    Some(permits.acquire().await.map_err(|e| failed(event::CIMD_FETCH_FAILED, e.to_string()))?)
                }
                None => None,
            };
            let response =
                fetcher.fetch(url, validators.0.as_deref(), validators.1.as_deref()).await.map_err(|e| match e {
                    // The page stays generic: the reason may name internal addresses (split DNS).
                    FetchError::Refused(m) => {
                        tracing::info!(url = %url, reason = %m, "client metadata document fetch refused");
                        failed(
                            event::CIMD_REJECTED,
                            "the client metadata document was not fetched: its host must be a public address served on port 443"
                                .into(),
                        )
                    }
                    FetchError::Failed(m) => {
                        failed(event::CIMD_FETCH_FAILED, format!("fetching the client metadata document failed: {m}"))
                    }
                })?;
            match response {
                FetchResponse::NotModified { cache_control, expires, .. } => Ok(Fetched::NotModified {
                    expires_at: now + cache::freshness_secs(cache_control.as_deref(), expires.as_deref(), now, cimd),
                }),
                FetchResponse::Document { body, etag, last_modified, cache_control, expires } => {
                    let metadata = document::validate(url.as_str(), &body, &rules_from(settings)).map_err(|m| {
                        failed(event::CIMD_REJECTED, format!("the client metadata document is not acceptable: {m}"))
                    })?;
                    let fresh_for = cache::freshness_secs(cache_control.as_deref(), expires.as_deref(), now, cimd);
                    Ok(Fetched::Document(Box::new(Resolved {
                        metadata,
                        fetched_at: now,
                        expires_at: now + fresh_for,
                        etag,
                        last_modified,
                        size: body.len(),
                    })))
                }
            }
        }
        .await;
        match outcome {
            Ok(fetched) => Ok(fetched),
            Err((event, message)) => {
                tracing::info!(url = %url, %message, "client metadata document refused");
                if self.claim_failure_audit(&host, now) {
                    let record = AuditRecord {
                        event,
                        actor: Actor::Anonymous,
                        client_id: Some(url.as_str().chars().take(2000).collect()),
                        address: requester.address.clone(),
                        user_agent: requester.user_agent.clone(),
                        detail: json!({"host": host, "reason": crate::text::truncate(&message, 500)}),
                    };
                    if let Err(error) = state.db.run(move |conn| Ok(audit::record(conn, now, &record)?)).await {
                        tracing::warn!(%error, "could not audit a CIMD failure");
                    }
                }
                Err(message)
            }
        }
    }
}

/// A CIMD client as it would be stored.
fn client_row(url: &str, doc: &Resolved) -> ClientRow {
    ClientRow {
        client_id: url.to_string(),
        source: SOURCE_CIMD.into(),
        status: STATUS_ACTIVE.into(),
        client_name: doc.metadata.client_name.clone(),
        redirect_uris: serde_json::to_string(&doc.metadata.redirect_uris).unwrap_or_default(),
        metadata: serde_json::to_string(&doc.metadata).unwrap_or_default(),
        created_at: doc.fetched_at,
        updated_at: doc.fetched_at,
        cimd_fetched_at: Some(doc.fetched_at),
        cimd_expires_at: Some(doc.expires_at),
        cimd_etag: doc.etag.clone(),
        cimd_last_modified: doc.last_modified.clone(),
        ..ClientRow::default()
    }
}

/// The client named by `client_id`: a stored one, or — for a CIMD URL while CIMD is enabled — the
/// one its document describes (fetched when not fresh; stored clients are updated quietly).
pub async fn lookup_client(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Requester,
) -> Result<Lookup, AppError> {
    let id = client_id.to_string();
    let stored = state.db.run_idempotent(move |conn| Ok(clients::find(conn, &id)?)).await?;
    if !settings.cimd.enabled || !fetch::looks_like_url(client_id) {
        return Ok(stored.map_or(Lookup::NotFound, |row| Lookup::Found(Box::new(row))));
    }
    resolve_document(state, settings, client_id, stored, requester).await
}

/// A CIMD client id, given its stored row if any: the row while fresh (or disabled), else what
/// its document says now.
async fn resolve_document(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    stored: Option<ClientRow>,
    requester: &Requester,
) -> Result<Lookup, AppError> {
    let now = state.clock.now();
    match &stored {
        // A disabled CIMD client is refused however good its document is.
        Some(row) if !row.is_active() => return Ok(Lookup::Found(Box::new(row.clone()))),
        Some(row) if row.cimd_expires_at.is_some_and(|at| at > now) => return Ok(Lookup::Found(Box::new(row.clone()))),
        _ => {}
    }
    let url = match fetch::check_client_id_url(client_id) {
        Ok(url) => url,
        Err(message) => {
            return Ok(Lookup::Failed(format!("this client_id is not a valid client metadata document URL: {message}")))
        }
    };
    let fetched = state.cimd.resolve(state, settings, &url, stored.as_ref(), requester).await;
    let Some(existing) = stored else {
        return Ok(match fetched {
            Ok(Fetched::Document(doc)) => Lookup::Found(Box::new(client_row(client_id, &doc))),
            Ok(Fetched::NotModified { .. }) => {
                Lookup::Failed("the document server answered 304 to an unconditional request".into())
            }
            Err(message) => Lookup::Failed(message),
        });
    };
    // A stored client whose document is stale: revalidated, replaced, or served stale on error.
    let row = match fetched {
        Ok(Fetched::NotModified { expires_at }) => {
            let mut row = existing;
            row.cimd_expires_at = Some(expires_at);
            row.cimd_failed_at = None;
            let update = row.clone();
            state.db.run(move |conn| Ok(clients::update_document(conn, &update)?)).await?;
            row
        }
        Ok(Fetched::Document(doc)) => {
            let mut row = client_row(client_id, &doc);
            row.created_at = existing.created_at;
            row.last_seen_at = existing.last_seen_at;
            replace_document(state, &existing, &row).await?;
            row
        }
        Err(message) => {
            let stale_until = existing.cimd_expires_at.unwrap_or(0) + settings.cimd.stale_if_error_secs as i64;
            let mut row = existing;
            row.cimd_failed_at = Some(row.cimd_failed_at.unwrap_or(now));
            let update = row.clone();
            state.db.run(move |conn| Ok(clients::update_document(conn, &update)?)).await?;
            if now > stale_until {
                return Ok(Lookup::Failed(message));
            }
            tracing::warn!(client_id, %message, "client metadata document refetch failed; using the cached copy");
            row
        }
    };
    Ok(Lookup::Found(Box::new(row)))
}

/// At the token endpoint: a stored CIMD client whose document has expired is revalidated first,
/// as at `/authorize`, so that a changed redirect list or auth method revokes its grants before
/// one is used, and a client cannot live on refreshes alone past its document. Unknown URLs are
/// not fetched here (no code or grant can exist for them). Returns why the document cannot be
/// used (its origin failing past the stale window), if so.
pub async fn revalidate_for_token(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Requester,
) -> Result<Option<String>, AppError> {
    if !settings.cimd.enabled || !fetch::looks_like_url(client_id) {
        return Ok(None);
    }
    let id = client_id.to_string();
    let Some(stored) = state.db.run_idempotent(move |conn| Ok(clients::find(conn, &id)?)).await? else {
        return Ok(None);
    };
    match resolve_document(state, settings, client_id, Some(stored), requester).await? {
        Lookup::Failed(message) => Ok(Some(message)),
        Lookup::Found(_) | Lookup::NotFound => Ok(None),
    }
}

/// The security-relevant fields that differ between two versions of a document.
pub fn security_changes(old: &ClientMetadata, new: &ClientMetadata) -> Vec<&'static str> {
    let as_set = |values: &[String]| values.iter().cloned().collect::<std::collections::BTreeSet<String>>();
    let mut changed = Vec::new();
    if as_set(&old.redirect_uris) != as_set(&new.redirect_uris) {
        changed.push("redirect_uris");
    }
    if as_set(&old.grant_types) != as_set(&new.grant_types) {
        changed.push("grant_types");
    }
    if old.token_endpoint_auth_method != new.token_endpoint_auth_method {
        changed.push("token_endpoint_auth_method");
    }
    changed
}

/// Store a changed document. A change to a security-relevant field revokes the client's grants
/// and is audited `client.cimd.metadata_changed`; other changes are stored quietly.
async fn replace_document(state: &AppState, existing: &ClientRow, row: &ClientRow) -> Result<(), AppError> {
    let old: Option<ClientMetadata> = serde_json::from_str(&existing.metadata).ok();
    let new: Option<ClientMetadata> = serde_json::from_str(&row.metadata).ok();
    let changed = match (&old, &new) {
        (Some(old), Some(new)) => security_changes(old, new),
        _ => vec!["redirect_uris"],
    };
    let now = state.clock.now();
    let row = row.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                clients::update_document(conn, &row)?;
                if changed.is_empty() {
                    return Ok(());
                }
                let revoked =
                    refresh::revoke_client_families(conn, &row.client_id, "client metadata document changed", now)?;
                audit::record(
                    conn,
                    now,
                    &AuditRecord {
                        event: event::CIMD_METADATA_CHANGED,
                        actor: Actor::System,
                        client_id: Some(row.client_id.clone()),
                        address: None,
                        user_agent: None,
                        detail: json!({"changed": changed, "sessions_revoked": revoked}),
                    },
                )?;
                Ok::<_, DbError>(())
            })
        })
        .await
        .map_err(AppError::from)
}

/// Store a CIMD client when a signed-in user reaches consent (audited `client.cimd.discovered`
/// the first time); a no-op for stored ones.
pub async fn store_at_consent(state: &AppState, client: &ClientRow, requester: &Requester) -> Result<(), AppError> {
    if client.source != SOURCE_CIMD {
        return Ok(());
    }
    let row = client.clone();
    let requester = requester.clone();
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                if clients::find(conn, &row.client_id)?.is_some() {
                    return Ok(());
                }
                clients::insert(conn, &row)?;
                let host = url::Url::parse(&row.client_id).ok().and_then(|u| u.host_str().map(str::to_string));
                audit::record(
                    conn,
                    now,
                    &AuditRecord {
                        event: event::CIMD_DISCOVERED,
                        actor: Actor::Anonymous,
                        client_id: Some(row.client_id.clone()),
                        address: requester.address.clone(),
                        user_agent: requester.user_agent.clone(),
                        detail: json!({"client_name": row.client_name, "host": host, "redirect_uris": serde_json::from_str::<serde_json::Value>(&row.redirect_uris).unwrap_or_default()}),
                    },
                )?;
                Ok::<_, diesel::result::Error>(())
            })
            .or_else(|error| match error {
                // Two users reached consent for the same new client at once: it is stored.
                diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => Ok(()),
                other => Err(DbError::from(other)),
            })
        })
        .await
        .map_err(AppError::from)
}

/// The host that serves a CIMD client's document (shown on the consent page).
pub fn document_host(client: &ClientRow) -> Option<String> {
    (client.source == SOURCE_CIMD)
        .then(|| url::Url::parse(&client.client_id).ok()?.host_str().map(str::to_string))
        .flatten()
}
