//! The external policy decision point (`dcr.policy.webhook_url`, SPEC §4.4): called only for
//! registrations every other rule accepted, outside any transaction and holding no pooled
//! connection. `{"allow": true}` allows; `{"allow": false, "reason": …}` denies; anything
//! else — no answer in time, a non-2xx status, another body, a body over 64 KiB — is an error
//! that follows `webhook_on_error`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::text;

/// Largest webhook answer read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_DENIAL: &str = "rejected by policy";
/// Longest denial reason repeated to the registrant (and kept in the audit row). Control and
/// bidi characters are dropped from it: it is quoted back and stored as the webhook sent it.
const MAX_REASON_CHARS: usize = 500;

/// One shared client: rustls with ring, no redirects, no proxy from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook HTTP client builds with static settings")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allow,
    Deny(String),
}

/// The decision and what it cost, for the audit detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub answer: Result<Answer, String>,
    pub latency_ms: u64,
}

/// Interpret a webhook body.
pub fn interpret(body: &[u8]) -> Result<Answer, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "the webhook answered with something other than JSON".to_string())?;
    match value.get("allow") {
        Some(Value::Bool(true)) => Ok(Answer::Allow),
        Some(Value::Bool(false)) => Ok(Answer::Deny(
            value
                .get("reason")
                .and_then(Value::as_str)
                .map(|reason| reason.chars().filter(|c| !text::is_control(*c) && !text::is_bidi_control(*c)))
                .map(|kept| kept.take(MAX_REASON_CHARS).collect::<String>())
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_DENIAL.to_string()),
        )),
        _ => Err("the webhook's answer has no boolean \"allow\"".into()),
    }
}

async fn ask(client: &reqwest::Client, url: &str, context: &Value) -> Result<Answer, String> {
    let response = client
        .post(url)
        .json(context)
        .send()
        .await
        .map_err(|e| format!("webhook request failed: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("the webhook answered HTTP {}", response.status().as_u16()));
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) =
        response.chunk().await.map_err(|e| format!("reading the webhook's answer failed: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("the webhook's answer is larger than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    interpret(&body)
}

/// POST the context and wait at most `timeout` for the whole answer.
pub async fn decide(client: &reqwest::Client, url: &str, timeout: Duration, context: &Value) -> Outcome {
    let started = Instant::now();
    let answer = match tokio::time::timeout(timeout, ask(client, url, context)).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("the webhook did not answer within {} ms", timeout.as_millis())),
    };
    Outcome { answer, latency_ms: started.elapsed().as_millis() as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_answers() {
        assert_eq!(interpret(br#"{"allow": true}"#), Ok(Answer::Allow));
        assert_eq!(interpret(br#"{"allow": false}"#), Ok(Answer::Deny(DEFAULT_DENIAL.into())));
        assert_eq!(
            interpret(br#"{"allow": false, "reason": "not on the list"}"#),
            Ok(Answer::Deny("not on the list".into()))
        );
        assert_eq!(
            interpret(br#"{"allow": false, "reason": "no\u0000t \u202eon\n the list"}"#),
            Ok(Answer::Deny("not on the list".into()))
        );
        assert_eq!(
            interpret(br#"{"allow": false, "reason": "\u0000\u0001"}"#),
            Ok(Answer::Deny(DEFAULT_DENIAL.into()))
        );
        assert!(interpret(br#"{"allow": "yes"}"#).is_err());
        assert!(interpret(b"allow").is_err());
        assert!(interpret(b"[]").is_err());
        assert!(interpret(b"").is_err());
    }
}
