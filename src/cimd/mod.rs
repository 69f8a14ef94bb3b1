//! Client ID Metadata Documents (SPEC §8): a `client_id` that is an https URL names the
//! client's own metadata. This module resolves such ids to clients — through a bounded
//! in-memory cache, one fetch per URL at a time, a few fetches at once in the whole process
//! (a permit awaited at most a second, SPEC §11), failures remembered for a minute, fetches
//! capped per host (after it resolved) and, for unknown URLs, per requesting address — and stores
//! a CIMD client only once a signed-in user reaches consent, so unauthenticated requests cannot
//! fill the tables. At `/token` a stored copy within the stale window is used at once and
//! revalidated in the background.

pub mod address;
pub mod budget;
pub mod cache;
pub mod document;
pub mod fetch;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::{CimdSettings, Settings};
use crate::db::{write_tx, DbError};
use crate::error::AppError;
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::error::ErrorCode;
use crate::oauth::redirect_uri::normalise_host;
use crate::origin::Origin;
use crate::registration::policy::HostPattern;
use crate::registration::rules::RegistrationRules;
use crate::state::AppState;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::{self, Client, Source};
use crate::store::refresh;
use budget::MinuteBudget;
use fetch::{FetchConfig, FetchError, FetchResponse, Fetcher};

/// Fetches in flight at once, in the whole process.
const MAX_CONCURRENT_FETCHES: usize = 4;
/// How long a lookup waits for one of those (SPEC §11); then it is answered "busy".
const PERMIT_WAIT: Duration = Duration::from_secs(1);
/// Fetches of URLs not stored as clients, per requesting address (IPv6: its /64) and minute.
const UNKNOWN_FETCHES_PER_ADDRESS_PER_MINUTE: u32 = 10;
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
    Found(Box<Client>),
    NotFound,
    /// A CIMD client id whose document cannot be used; the message is for the client's author.
    Failed(String),
    /// The document could not be fetched in time because every fetch is busy: try again shortly
    /// (a 503, not the document's fault).
    Busy(String),
}

/// What a busy lookup tells the browser or client.
const BUSY_MESSAGE: &str =
    "The application's client metadata document cannot be fetched right now: the server is busy. Try again in a moment.";

/// A fetch's result: a new document, or (to a conditional request) "not modified".
#[derive(Debug, Clone)]
enum Fetched {
    Document(Box<Resolved>),
    NotModified { expires_at: i64 },
}

/// Why a document was not resolved.
#[derive(Debug, Clone)]
enum Unresolved {
    /// It cannot be used (remembered for a minute, audited): the message is for the client's author.
    Failed(String),
    /// No fetch permit within `PERMIT_WAIT`: not the document's fault, so not remembered.
    Busy,
}

type InFlight = Arc<OnceCell<Result<Fetched, Unresolved>>>;

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

pub struct Cimd {
    fetcher: Mutex<Option<FetcherSlot>>,
    /// Test-only DNS pinning (there is no public DNS in tests).
    overrides: Mutex<HashMap<String, Vec<IpAddr>>>,
    permits: Semaphore,
    in_flight: Mutex<HashMap<String, InFlight>>,
    failures: Mutex<HashMap<String, (i64, String)>>,
    /// Network fetches per host, charged once the host has resolved.
    host_fetches: MinuteBudget,
    /// Fetches of unknown URLs per requesting address.
    address_fetches: MinuteBudget,
    /// Stored clients being revalidated in the background (one task per client at a time).
    revalidating: Mutex<HashSet<String>>,
    host_audits: Mutex<HashMap<String, i64>>,
    /// (minute start, failure rows written in it), across all hosts.
    audits_this_minute: Mutex<(i64, u32)>,
    documents: Mutex<DocumentCache>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for Cimd {
    fn default() -> Self {
        Cimd::new()
    }
}

impl Cimd {
    pub fn new() -> Cimd {
        Cimd {
            fetcher: Mutex::default(),
            overrides: Mutex::default(),
            permits: Semaphore::new(MAX_CONCURRENT_FETCHES),
            in_flight: Mutex::default(),
            failures: Mutex::default(),
            host_fetches: MinuteBudget::new(FETCHES_PER_HOST_PER_MINUTE, MAX_TRACKED),
            address_fetches: MinuteBudget::new(UNKNOWN_FETCHES_PER_ADDRESS_PER_MINUTE, MAX_TRACKED),
            revalidating: Mutex::default(),
            host_audits: Mutex::default(),
            audits_this_minute: Mutex::default(),
            documents: Mutex::default(),
        }
    }

    /// Hosts whose fetches this minute are counted (for tests and diagnostics).
    pub fn tracked_hosts(&self) -> usize {
        self.host_fetches.tracked()
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
        stored: Option<&Client>,
        requester: &Origin,
    ) -> Result<Fetched, Unresolved> {
        let now = state.clock.now();
        let key = url.as_str().to_string();
        if let Some(doc) = lock(&self.documents).get(&key, now) {
            return Ok(Fetched::Document(Box::new(doc)));
        }
        if let Some(message) = self.remembered_failure(&key, now) {
            return Err(Unresolved::Failed(message));
        }
        let validators = stored.map(|row| (row.cimd_etag.clone(), row.cimd_last_modified.clone())).unwrap_or_default();
        let cell = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(&key) {
                // Joining a fetch in flight costs nothing.
                Some(cell) => cell.clone(),
                None => {
                    // A new fetch of a URL no stored client has: charged to the requesting address,
                    // and refused to it alone (not remembered for the URL).
                    if stored.is_none() && !self.address_fetches.take(&address_key(requester), now) {
                        tracing::info!(url = %url, address = ?requester.address, "client metadata document fetches from this address are over their budget");
                        return Err(Unresolved::Failed(
                            "too many new client metadata documents were requested from your address; try again in a minute"
                                .into(),
                        ));
                    }
                    in_flight.entry(key.clone()).or_insert_with(|| Arc::new(OnceCell::new())).clone()
                }
            }
        };
        let result =
            cell.get_or_init(|| self.fetch_and_validate(state, settings, url, &validators, requester)).await.clone();
        // Store the outcome before the in-flight entry goes, so a lookup arriving in between finds
        // it instead of fetching again; and remove only this fetch's entry, not a later one.
        match &result {
            Ok(Fetched::Document(doc)) => lock(&self.documents).put(key.clone(), (**doc).clone()),
            Ok(Fetched::NotModified { .. }) | Err(Unresolved::Busy) => {}
            Err(Unresolved::Failed(message)) => {
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
        requester: &Origin,
    ) -> Result<Fetched, Unresolved> {
        let now = state.clock.now();
        let host = normalise_host(url.host_str().unwrap_or(""));
        let cimd = &settings.cimd;
        let failed = |event: &'static str, message: String| Refusal::Failed(event, message);
        let outcome: Result<Fetched, Refusal> = async {
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
            let fetcher = self.fetcher(cimd).map_err(|e| failed(event::CIMD_FETCH_FAILED, e))?;
            // Everything that touches the network — resolving included — holds a permit, awaited
            // at most PERMIT_WAIT: hosts that never answer cannot make other lookups wait longer.
            let _permit = match tokio::time::timeout(PERMIT_WAIT, self.permits.acquire()).await {
                Ok(permit) => permit.map_err(|e| failed(event::CIMD_FETCH_FAILED, e.to_string()))?,
                Err(_) => return Err(Refusal::Busy),
            };
            let refused = |m: String| {
                // The page stays generic: the reason may name internal addresses (split DNS).
                tracing::info!(url = %url, reason = %m, "client metadata document fetch refused");
                failed(
                    event::CIMD_REJECTED,
                    "the client metadata document was not fetched: its host must be a public address served on port 443"
                        .into(),
                )
            };
            let fetch_failed = |m: String| {
                failed(event::CIMD_FETCH_FAILED, format!("fetching the client metadata document failed: {m}"))
            };
            // Resolving and fetching share one deadline, so the permit is held at most that long.
            let timeout = Duration::from_millis(cimd.http_timeout_ms);
            let exchange = async {
                let target = fetcher.resolve(url).await.map_err(|e| match e {
                    FetchError::Refused(m) => refused(m),
                    FetchError::Failed(m) => fetch_failed(m),
                })?;
                // Charged only now that the host resolved to addresses that may be fetched: names
                // that do not resolve cost no host an entry, and cannot fill the table.
                if !self.host_fetches.take(&host, now) {
                    return Err(failed(
                        event::CIMD_FETCH_FAILED,
                        format!("too many document fetches for {host}; try again in a minute"),
                    ));
                }
                fetcher.fetch_target(&target, validators.0.as_deref(), validators.1.as_deref()).await.map_err(|e| {
                    match e {
                        FetchError::Refused(m) => refused(m),
                        FetchError::Failed(m) => fetch_failed(m),
                    }
                })
            };
            let response = match tokio::time::timeout(timeout, exchange).await {
                Ok(response) => response?,
                Err(_) => return Err(fetch_failed(format!("fetching {url} failed: timed out after {timeout:?}"))),
            };
            match response {
                FetchResponse::NotModified { cache_control, expires, .. } => Ok(Fetched::NotModified {
                    expires_at: now + cache::freshness_secs(cache_control.as_deref(), expires.as_deref(), now, cimd),
                }),
                FetchResponse::Document { body, etag, last_modified, cache_control, expires } => {
                    let metadata = document::validate(url.as_str(), &body, &RegistrationRules::from_settings(settings))
                        .map_err(|m| {
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
            Err(Refusal::Busy) => {
                tracing::warn!(url = %url, "every client metadata document fetch is busy; lookup answered busy");
                Err(Unresolved::Busy)
            }
            Err(Refusal::Failed(event, message)) => {
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
                Err(Unresolved::Failed(message))
            }
        }
    }
}

/// Why `fetch_and_validate` did not produce a document.
enum Refusal {
    /// The audit event and the message.
    Failed(&'static str, String),
    Busy,
}

/// The per-address budget's key: the address (IPv6: its /64), as the other per-address limits.
fn address_key(requester: &Origin) -> String {
    requester
        .address
        .as_deref()
        .and_then(|address| address.parse::<IpAddr>().ok())
        .map(crate::net::rate_limit_key)
        .unwrap_or_else(|| "unknown".into())
}

/// A CIMD client as it would be stored.
fn client_row(url: &str, doc: &Resolved) -> Client {
    Client {
        cimd_fetched_at: Some(doc.fetched_at),
        cimd_expires_at: Some(doc.expires_at),
        cimd_etag: doc.etag.clone(),
        cimd_last_modified: doc.last_modified.clone(),
        ..Client::new(url.to_string(), Source::Cimd, doc.metadata.clone(), doc.fetched_at)
    }
}

/// The client named by `client_id`: a stored one, or — for a CIMD URL while CIMD is enabled — the
/// one its document describes (fetched when not fresh; stored clients are updated quietly).
pub async fn lookup_client(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Origin,
) -> Result<Lookup, AppError> {
    let id = client_id.to_string();
    let stored = state.db.run(move |conn| Ok(clients::find(conn, &id)?)).await?;
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
    stored: Option<Client>,
    requester: &Origin,
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
            Err(Unresolved::Failed(message)) => Lookup::Failed(message),
            Err(Unresolved::Busy) => Lookup::Busy(BUSY_MESSAGE.into()),
        });
    };
    let stale_until = existing.cimd_expires_at.unwrap_or(0) + settings.cimd.stale_if_error_secs as i64;
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
        // No fetch could start: nothing is known about the origin, so the copy is kept unmarked.
        Err(Unresolved::Busy) if now <= stale_until => existing,
        Err(Unresolved::Busy) => return Ok(Lookup::Busy(BUSY_MESSAGE.into())),
        Err(Unresolved::Failed(message)) => {
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

/// At the token endpoint (SPEC §11): a stored CIMD client whose copy has expired is used at once
/// while within `stale_if_error_secs` of its expiry, and revalidated in the background — where a
/// changed redirect list or auth method still revokes its grants, on that result. Past the stale
/// window it is revalidated first, as at `/authorize`, so a client cannot live on refreshes alone
/// past its document. Unknown URLs are not fetched here (no code or grant can exist for them).
/// Returns why the document cannot be used (its origin failing past the stale window), if so.
pub async fn revalidate_for_token(
    state: &AppState,
    settings: &Settings,
    client_id: &str,
    requester: &Origin,
) -> Result<Option<String>, AppError> {
    if !settings.cimd.enabled || !fetch::looks_like_url(client_id) {
        return Ok(None);
    }
    let id = client_id.to_string();
    let Some(stored) = state.db.run(move |conn| Ok(clients::find(conn, &id)?)).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if let Some(expires_at) = stored.cimd_expires_at.filter(|_| stored.is_active()) {
        if expires_at > now {
            return Ok(None);
        }
        if now <= expires_at + settings.cimd.stale_if_error_secs as i64 {
            revalidate_in_background(state, stored, requester);
            return Ok(None);
        }
    }
    match resolve_document(state, settings, client_id, Some(stored), requester).await? {
        Lookup::Failed(message) => Ok(Some(message)),
        Lookup::Busy(message) => Err(AppError::protocol(ErrorCode::TemporarilyUnavailable, message)),
        Lookup::Found(_) | Lookup::NotFound => Ok(None),
    }
}

/// Revalidate a stored client's document off the request, one task per client at a time.
fn revalidate_in_background(state: &AppState, stored: Client, requester: &Origin) {
    let client_id = stored.client_id.clone();
    if !lock(&state.cimd.revalidating).insert(client_id.clone()) {
        return;
    }
    /// Lets the next revalidation of the client start once this one ends, however it ends.
    struct Done(Arc<Cimd>, String);
    impl Drop for Done {
        fn drop(&mut self) {
            lock(&self.0.revalidating).remove(&self.1);
        }
    }
    let done = Done(state.cimd.clone(), client_id.clone());
    let state = state.clone();
    let requester = requester.clone();
    actix_web::rt::spawn(async move {
        let _done = done;
        let settings = state.settings.current();
        match resolve_document(&state, &settings, &client_id, Some(stored), &requester).await {
            Ok(Lookup::Failed(message)) => {
                tracing::warn!(client_id, %message, "background revalidation: the client metadata document is unusable")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(client_id, %error, "background revalidation of a client metadata document failed")
            }
        }
    });
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
async fn replace_document(state: &AppState, existing: &Client, row: &Client) -> Result<(), AppError> {
    let changed = security_changes(&existing.metadata, &row.metadata);
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
pub async fn store_at_consent(state: &AppState, client: &Client, requester: &Origin) -> Result<(), AppError> {
    if client.source != Source::Cimd {
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
                        detail: json!({"client_name": row.client_name(), "host": host, "redirect_uris": row.redirect_uris()}),
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
pub fn document_host(client: &Client) -> Option<String> {
    (client.source == Source::Cimd)
        .then(|| url::Url::parse(&client.client_id).ok()?.host_str().map(str::to_string))
        .flatten()
}
