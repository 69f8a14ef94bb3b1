//! Prometheus counters, served as text at `/metrics`.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// DCR attempts by outcome (`registered`, `reused`, `rejected`, `rate_limited`) and error code.
    pub registrations: IntCounterVec,
    /// RFC 7592 deletions by registrants (`token_retired`, `client_removed`).
    pub registration_deletions: IntCounterVec,
    /// Access tokens issued, by grant type.
    pub tokens_issued: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let registrations = IntCounterVec::new(
            Opts::new(
                "gatehouse_dcr_registrations_total",
                "Dynamic client registration attempts by outcome and error code",
            ),
            &["outcome", "error"],
        )
        .expect("static metric definition");
        let registration_deletions = IntCounterVec::new(
            Opts::new("gatehouse_dcr_deletions_total", "RFC 7592 deletions by registrants"),
            &["result"],
        )
        .expect("static metric definition");
        let tokens_issued = IntCounterVec::new(
            Opts::new("gatehouse_tokens_issued_total", "Access tokens issued, by grant type"),
            &["grant_type"],
        )
        .expect("static metric definition");
        registry.register(Box::new(registrations.clone())).expect("metric registered once");
        registry.register(Box::new(tokens_issued.clone())).expect("metric registered once");
        registry.register(Box::new(registration_deletions.clone())).expect("metric registered once");
        Metrics { registry, registrations, registration_deletions, tokens_issued }
    }

    pub fn registration(&self, outcome: &str, error: &str) {
        self.registrations.with_label_values(&[outcome, error]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
