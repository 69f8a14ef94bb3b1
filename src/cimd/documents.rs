//! The process's document fetching (SPEC §8, §11): one fetch at a time per URL shared by all
//! who wait on it, at most four at once and a permit awaited at most a second, per-host and
//! per-address budgets, remembered failures and a bounded memory cache. Knows the database only
//! to audit a failed fetch.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use crate::config::{CimdSettings, Settings};
use crate::oauth::client_metadata::ClientMetadata;
use crate::oauth::redirect_uri::normalise_host;
use crate::origin::Origin;
use crate::registration::policy::HostPattern;
use crate::registration::rules::RegistrationRules;
use crate::store::audit::{self, event, Actor, AuditRecord};
use crate::store::clients::Client;

use super::budget::MinuteBudget;
use super::fetch::{FetchConfig, FetchError, FetchResponse, Fetcher};
use super::{cache, document};
use crate::db::Db;

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
    pub(super) size: usize,
}

/// A fetch's result: a new document, or (to a conditional request) "not modified".
#[derive(Debug, Clone)]
pub(super) enum Fetched {
    Document(Box<Resolved>),
    NotModified { expires_at: i64 },
}

/// Why a document was not resolved.
#[derive(Debug, Clone)]
pub(super) enum Unresolved {
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
    pub(super) revalidating: Mutex<HashSet<String>>,
    host_audits: Mutex<HashMap<String, i64>>,
    /// (minute start, failure rows written in it), across all hosts.
    audits_this_minute: Mutex<(i64, u32)>,
    documents: Mutex<DocumentCache>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
    pub(super) async fn resolve(
        &self,
        db: &Db,
        now: i64,
        settings: &Settings,
        url: &url::Url,
        stored: Option<&Client>,
        requester: &Origin,
    ) -> Result<Fetched, Unresolved> {
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
            cell.get_or_init(|| self.fetch_and_validate(db, now, settings, url, &validators, requester)).await.clone();
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
        db: &Db,
        now: i64,
        settings: &Settings,
        url: &url::Url,
        validators: &(Option<String>, Option<String>),
        requester: &Origin,
    ) -> Result<Fetched, Unresolved> {
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
                    let detail = json!({"host": host, "reason": crate::text::truncate(&message, 500)});
                    let record = AuditRecord::new(event, Actor::Anonymous, detail)
                        .client(url.as_str().chars().take(2000).collect::<String>())
                        .from(requester);
                    if let Err(error) = db.run(move |conn| Ok(audit::record(conn, now, &record)?)).await {
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
