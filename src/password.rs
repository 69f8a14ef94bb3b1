//! Local passwords (SPEC §5 sign-in, §6 `users`, §11): argon2id hashing and constant-time
//! verification, the length rule, and [`PasswordChecks`] — the bounded pool that runs the
//! sign-in checks on threads of its own, so unauthenticated posts cannot exhaust memory or the
//! database's blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::secrets;

/// How long a sign-in may wait for a password check to start before it is told to come back.
pub const CHECK_START_TIMEOUT: Duration = Duration::from_secs(1);
/// Networks with a check waiting or running, at most (more answer "busy").
const MAX_TRACKED_NETWORKS: usize = 10_000;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Weak,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// argon2id with a salt from ring's generator; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| PasswordError::Hashing("random salt".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Constant-time verification against a stored PHC string (false for an unreadable hash), in
/// memory of its own; the sign-in checkers use [`verify_password_in`] with theirs.
pub fn verify_password(password: &str, phc: &str) -> bool {
    verify_password_in(&mut Vec::new(), password, phc)
}

/// Largest argon2 memory a stored hash may ask for (ours use 19 MiB); more is "no match".
const MAX_CHECK_BLOCKS: usize = 64 * 1024;

/// Verify `password` against `phc` in `memory` — a worker's own buffer, reused from check to check, so
/// the 19 MiB of each check are allocated once per thread instead of once per sign-in (freed
/// and reallocated, they fragment the allocator's shared arenas and memory grows).
pub fn verify_password_in(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let blocks = params.block_count();
    if blocks > MAX_CHECK_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params);
    if hasher.hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut memory[..blocks]).is_err() {
        return false;
    }
    computed.as_slice().ct_eq(expected.as_bytes()).into()
}

/// A hash of a random password, verified for unknown emails so that "no such user" takes as
/// long as "wrong password" (no timing oracle).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&secrets::random_token(24)).unwrap_or_default())
}

pub fn check_password(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        Ok(())
    } else {
        Err(PasswordError::Weak)
    }
}

/// The password checks of sign-in (SPEC §11): at most `size` at once on `size` threads of their
/// own, one in flight per source network for browsers without a device cookie, and one permit
/// kept for browsers with one. argon2id takes 19 MiB per check, so this bounds memory too.
pub struct PasswordChecks {
    /// For everyone: `size - 1` permits (at least 1).
    general: Arc<Semaphore>,
    /// Kept for browsers that signed in to this account before.
    reserved: Arc<Semaphore>,
    networks: Mutex<HashMap<String, Arc<Semaphore>>>,
    jobs: mpsc::Sender<Job>,
}

struct Job {
    password: String,
    phc: String,
    answer: oneshot::Sender<bool>,
}

/// No check could start within [`CHECK_START_TIMEOUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// `login.max_concurrent_password_checks`: 0 means min(CPUs, 4).
pub fn concurrent_checks(setting: u32) -> usize {
    match setting {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
        n => n as usize,
    }
}

impl PasswordChecks {
    /// `size` concurrent checks (at least 2: one general, one kept for device-cookie holders).
    pub fn new(size: usize) -> PasswordChecks {
        let general = size.saturating_sub(1).max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..general + 1 {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("password-check-{n}")).spawn(move || {
                let mut memory = Vec::new();
                loop {
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    let Ok(job) = job else { return };
                    let _ = job.answer.send(verify_password_in(&mut memory, &job.password, &job.phc));
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password-check thread");
            }
        }
        PasswordChecks {
            general: Arc::new(Semaphore::new(general)),
            reserved: Arc::new(Semaphore::new(1)),
            networks: Mutex::new(HashMap::new()),
            jobs: sender,
        }
    }

    /// Verify `password` against `phc`, for a browser from `network`; `trusted` when it holds a
    /// device cookie for the account. `Err(Busy)` when no check could start within a second.
    pub async fn verify(&self, password: String, phc: String, network: &str, trusted: bool) -> Result<bool, Busy> {
        let started = tokio::time::timeout(CHECK_START_TIMEOUT, self.admit(network, trusted)).await;
        let Ok(Some(permits)) = started else {
            self.forget_idle(network);
            return Err(Busy);
        };
        let (answer, result) = oneshot::channel();
        let verified = match self.jobs.send(Job { password, phc, answer }) {
            Ok(()) => result.await.map_err(|_| Busy),
            Err(_) => Err(Busy),
        };
        drop(permits);
        self.forget_idle(network);
        verified
    }

    /// The permits a check needs: its network's (untrusted browsers), then a general one — or,
    /// for a trusted browser, whichever of a general one and the kept one comes first.
    async fn admit(&self, network: &str, trusted: bool) -> Option<Vec<OwnedSemaphorePermit>> {
        let mut permits = Vec::with_capacity(2);
        if !trusted {
            let lane = self.network_lane(network)?;
            permits.push(lane.acquire_owned().await.ok()?);
            permits.push(self.general.clone().acquire_owned().await.ok()?);
        } else {
            let permit = tokio::select! {
                permit = self.general.clone().acquire_owned() => permit,
                permit = self.reserved.clone().acquire_owned() => permit,
            };
            permits.push(permit.ok()?);
        }
        Some(permits)
    }

    fn network_lane(&self, network: &str) -> Option<Arc<Semaphore>> {
        let mut networks = self.networks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lane) = networks.get(network) {
            return Some(lane.clone());
        }
        if networks.len() >= MAX_TRACKED_NETWORKS {
            return None;
        }
        let lane = Arc::new(Semaphore::new(1));
        networks.insert(network.to_string(), lane.clone());
        Some(lane)
    }

    /// Drop a network's lane once nobody holds or waits for it.
    fn forget_idle(&self, network: &str) {
        let mut networks = self.networks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if networks.get(network).is_some_and(|lane| Arc::strong_count(lane) == 1 && lane.available_permits() == 1) {
            networks.remove(network);
        }
    }

    /// Networks with a lane (tests: the table does not grow).
    pub fn tracked_networks(&self) -> usize {
        self.networks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn password_length_check() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }

    #[tokio::test]
    async fn one_check_per_network_and_one_kept_for_device_holders() {
        let checks = PasswordChecks::new(2);
        let hash = hash_password("correct horse").unwrap();
        // A check from 192.0.2.0/24 in flight holds its network's lane and the general permit.
        let held = checks.admit("192.0.2.0/24", false).await.expect("admitted");
        let same_network = checks.verify("correct horse".into(), hash.clone(), "192.0.2.0/24", false).await;
        assert_eq!(same_network, Err(Busy), "a second check from the same network waits, then is busy");
        let other_network = checks.verify("correct horse".into(), hash.clone(), "198.51.100.0/24", false).await;
        assert_eq!(other_network, Err(Busy), "the general permit is taken");
        let trusted = checks.verify("correct horse".into(), hash.clone(), "192.0.2.0/24", true).await;
        assert_eq!(trusted, Ok(true), "a device-cookie holder gets the kept permit");
        drop(held);
        assert_eq!(checks.verify("wrong horse".into(), hash, "192.0.2.0/24", false).await, Ok(false));
        assert_eq!(checks.tracked_networks(), 0, "idle networks are forgotten");
    }

    #[test]
    fn concurrency_setting() {
        assert_eq!(concurrent_checks(3), 3);
        assert!((1..=4).contains(&concurrent_checks(0)));
    }

    #[test]
    fn verifying_in_reused_memory_agrees_with_the_crate() {
        use argon2::password_hash::PasswordVerifier;
        let hash = hash_password("correct horse").unwrap();
        let mut memory = Vec::new();
        for (password, expected) in [("correct horse", true), ("wrong horse", false), ("correct horse", true)] {
            assert_eq!(verify_password_in(&mut memory, password, &hash), expected, "{password}");
            let parsed = PasswordHash::new(&hash).unwrap();
            assert_eq!(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(), expected);
        }
        assert_eq!(memory.len(), 19 * 1024, "19 MiB of blocks, allocated once");
        assert!(!verify_password_in(&mut memory, "x", "not a hash"));
        let greedy = "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!verify_password_in(&mut memory, "x", greedy), "a hash asking for 1 GiB is refused");
    }
}
