//! The one `application/x-www-form-urlencoded` decoder, for query strings (`/authorize`, the
//! sign-in pages, the admin API) and form bodies (`/token`, `/revoke`, the sign-in pages) — and
//! so the boundary where request values are refused before anything looks them up.
//!
//! Decisions worth knowing: empty segments (`a=1&&b=2`, a trailing `&`) are skipped; a segment
//! without `=` is a parameter with an empty value; a `%` not followed by two hex digits is kept
//! literally (as browsers and the WHATWG form decoder do). A name or value that decodes to a
//! control character (`text::is_control`: U+0000 above all, which PostgreSQL text cannot hold)
//! makes the whole input `ControlCharacter` — in a free-text field (a password) only U+0000 does.
//! [`parse_query`] is strict: decoded bytes that are not UTF-8 make the query `Malformed`, and a
//! parameter with an empty name is ignored like any unknown parameter. [`pairs`] replaces bytes
//! that are not UTF-8 with U+FFFD (a form is answered with a page, not refused for that), and
//! [`first_value`] reads one value of input that has already passed [`pairs`] or [`parse_query`].

use std::collections::BTreeMap;
use std::fmt;

use crate::text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The named parameter appeared more than once (RFC 6749 §3.1: "MUST NOT be included more than once").
    RepeatedParameter(String),
    /// The query decodes to bytes that are not UTF-8.
    Malformed,
    /// The named parameter's value (or, when the name is empty, a parameter's name) holds a
    /// control character. The name is already made safe to show (`text::echo`).
    ControlCharacter(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::RepeatedParameter(name) => {
                write!(f, "parameter '{}' must not be repeated", text::echo(name))
            }
            QueryError::Malformed => f.write_str("the query string is not valid UTF-8 after percent-decoding"),
            QueryError::ControlCharacter(name) if name.is_empty() => {
                f.write_str("a parameter name contains a control character")
            }
            QueryError::ControlCharacter(name) => write!(f, "the {name} parameter contains a control character"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Each `name=value` segment, decoded to bytes, in order. Empty segments are skipped.
fn raw_pairs(input: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    input.split(|b| *b == b'&').filter(|segment| !segment.is_empty()).map(|segment| {
        match segment.iter().position(|b| *b == b'=') {
            Some(at) => (form_decode(&segment[..at]), form_decode(&segment[at + 1..])),
            None => (form_decode(segment), Vec::new()),
        }
    })
}

/// Each pair as text, bytes that are not UTF-8 replaced with U+FFFD.
fn pairs_lossy(input: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    raw_pairs(input).map(|(name, value)| (lossy(name), lossy(value)))
}

/// Refuse a pair whose name or value holds a control character (in a `free_text` field's value,
/// only U+0000).
fn check_pair(name: &str, value: &str, free_text: &[&str]) -> Result<(), QueryError> {
    if text::has_control(name) {
        return Err(QueryError::ControlCharacter(String::new()));
    }
    let allowed = if free_text.contains(&name) { text::allowed_in_free_text(value) } else { !text::has_control(value) };
    if allowed {
        Ok(())
    } else {
        Err(QueryError::ControlCharacter(text::echo(name)))
    }
}

/// Every pair as text, in order (bytes that are not UTF-8 replaced with U+FFFD), or
/// `ControlCharacter` when any name or value holds one — `free_text` names the fields whose
/// values may hold any character but U+0000.
pub fn pairs(input: &[u8], free_text: &[&str]) -> Result<Vec<(String, String)>, QueryError> {
    pairs_lossy(input).map(|(name, value)| check_pair(&name, &value, free_text).map(|()| (name, value))).collect()
}

/// The first value of a parameter (lossy), for the checks that must run before full validation.
/// Only for input already checked by [`pairs`] or [`parse_query`]: it refuses nothing itself.
pub fn first_value(query: &str, name: &str) -> Option<String> {
    pairs_lossy(query.as_bytes()).find(|(n, _)| n == name).map(|(_, value)| value)
}

/// Parse a raw query string (`a=1&b=2`, application/x-www-form-urlencoded, `+` is space) into a map.
///
/// A control character in any name or value → `Err(ControlCharacter(name))`, before any other error: a
/// caller may still read values of a query refused for another reason (with [`first_value`]). A parameter
/// that appears twice → `Err(RepeatedParameter(name))`. Empty-valued parameters count as absent (RFC 6749
/// §3.1) but still count for repetition. Decoded bytes that are not UTF-8 → `Err(Malformed)`.
/// The input is the query without its leading `?`.
pub fn parse_query(query: &str) -> Result<BTreeMap<String, String>, QueryError> {
    pairs(query.as_bytes(), &[])?;
    let mut seen: Vec<String> = Vec::new();
    let mut map = BTreeMap::new();
    for (raw_name, raw_value) in raw_pairs(query.as_bytes()) {
        let name = String::from_utf8(raw_name).map_err(|_| QueryError::Malformed)?;
        let value = String::from_utf8(raw_value).map_err(|_| QueryError::Malformed)?;
        if name.is_empty() {
            continue;
        }
        if seen.contains(&name) {
            return Err(QueryError::RepeatedParameter(name));
        }
        seen.push(name.clone());
        if !value.is_empty() {
            map.insert(name, value);
        }
    }
    Ok(map)
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// application/x-www-form-urlencoded decoding of one name or value: `+` is a space, `%XX` a byte, a `%` not
/// followed by two hex digits stays literal.
fn form_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                match (bytes.get(i + 1).and_then(|b| hex_value(*b)), bytes.get(i + 2).and_then(|b| hex_value(*b))) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_simple() {
        let m = parse_query("a=1&b=2").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "2");
        assert!(parse_query("").unwrap().is_empty());
    }

    #[test]
    fn parse_repeated() {
        assert_eq!(parse_query("a=1&a=2"), Err(QueryError::RepeatedParameter("a".into())));
        assert_eq!(parse_query("a=1&b=2&a=1"), Err(QueryError::RepeatedParameter("a".into())));
        // names are compared after decoding
        assert_eq!(parse_query("state=1&st%61te=2"), Err(QueryError::RepeatedParameter("state".into())));
        // empty values still count for repetition
        assert_eq!(parse_query("state=&state=x"), Err(QueryError::RepeatedParameter("state".into())));
        assert_eq!(parse_query("state&state=x"), Err(QueryError::RepeatedParameter("state".into())));
        assert_eq!(parse_query("state=x&state="), Err(QueryError::RepeatedParameter("state".into())));
    }

    #[test]
    fn parse_decoding() {
        let m = parse_query("scope=openid+read&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&x=a%2Bb&y=%C3%A9").unwrap();
        assert_eq!(m["scope"], "openid read");
        assert_eq!(m["redirect_uri"], "http://localhost/cb");
        assert_eq!(m["x"], "a+b");
        assert_eq!(m["y"], "é");
        let m = parse_query("a%20b=c%3Dd&e=f=g").unwrap();
        assert_eq!(m["a b"], "c=d");
        assert_eq!(m["e"], "f=g");
        // lower-case hex digits
        assert_eq!(parse_query("a=%2f").unwrap()["a"], "/");
        // a '%' not followed by two hex digits stays literal
        let m = parse_query("a=100%&b=%zz&c=%4").unwrap();
        assert_eq!(m["a"], "100%");
        assert_eq!(m["b"], "%zz");
        assert_eq!(m["c"], "%4");
    }

    #[test]
    fn parse_malformed_utf8() {
        assert_eq!(parse_query("a=%FF"), Err(QueryError::Malformed));
        assert_eq!(parse_query("a=%C3"), Err(QueryError::Malformed));
        assert_eq!(parse_query("%80=x"), Err(QueryError::Malformed));
    }

    #[test]
    fn parse_empty_values_are_absent() {
        let m = parse_query("state=&scope&a=1&&").unwrap();
        assert!(!m.contains_key("state"));
        assert!(!m.contains_key("scope"));
        assert_eq!(m.len(), 1);
        // empty names are ignored
        assert!(parse_query("=x&=y").unwrap().is_empty());
    }

    #[test]
    fn lossy_readers_match_the_strict_decoder() {
        assert_eq!(first_value("a=1&client_id=x%20y&client_id=z", "client_id").as_deref(), Some("x y"));
        assert_eq!(first_value("client_id", "client_id").as_deref(), Some(""));
        assert_eq!(first_value("a=%FF", "a").as_deref(), Some("\u{fffd}"));
        assert_eq!(first_value("a=1", "b"), None);
        let all = pairs(b"a=1&&=x&b&c=%FF", &[]).unwrap();
        assert_eq!(
            all,
            [
                ("a".into(), "1".into()),
                ("".into(), "x".into()),
                ("b".into(), "".into()),
                ("c".into(), "\u{fffd}".into())
            ]
        );
    }

    #[test]
    fn control_characters_are_refused_in_names_and_values() {
        for control in ["%00", "%01", "%09", "%0A", "%0d", "%1B", "%1F", "%7F", "%C2%85", "%C2%9F"] {
            let control_in = |name: &str| QueryError::ControlCharacter(name.into());
            assert_eq!(parse_query(&format!("a=1&state=x{control}y")), Err(control_in("state")), "{control}");
            assert_eq!(parse_query(&format!("st{control}ate=x")), Err(control_in("")), "{control}");
            assert_eq!(parse_query(&format!("x={control}")), Err(control_in("x")), "{control}");
            assert_eq!(pairs(format!("email=a{control}@b.example").as_bytes(), &[]), Err(control_in("email")));
            assert_eq!(pairs(format!("e{control}mail=a").as_bytes(), &["email"]), Err(control_in("")));
        }
        // Wherever it is, a control character is the error, ahead of a repetition or bad UTF-8 earlier on.
        assert_eq!(
            parse_query("state=a&state=b&client_id=x%00"),
            Err(QueryError::ControlCharacter("client_id".into()))
        );
        assert_eq!(parse_query("a=%FF&b=%01"), Err(QueryError::ControlCharacter("b".into())));
        // Literal control bytes (not percent-encoded) are refused the same way.
        assert!(matches!(parse_query("a=x\u{0}y"), Err(QueryError::ControlCharacter(_))));
        assert!(matches!(pairs(b"a=x\ty", &[]), Err(QueryError::ControlCharacter(_))));
        // A free-text field refuses U+0000 only.
        assert_eq!(pairs(b"password=a%09b%01", &["password"]).unwrap()[0].1, "a\tb\u{1}");
        assert_eq!(pairs(b"password=a%00b", &["password"]), Err(QueryError::ControlCharacter("password".into())));
        // A name is echoed safely in the description.
        let long = format!("{}=%00", "n".repeat(300));
        let error = parse_query(&long).unwrap_err().to_string();
        assert!(error.len() < 150, "{error}");
        // `+` and ordinary characters are no control characters.
        assert_eq!(parse_query("scope=a+b&state=%E2%80%AE").unwrap()["scope"], "a b");
    }
}
