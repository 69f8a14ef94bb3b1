//! Small rules for untrusted text shared by every layer: which characters a request value may
//! carry, how much of it is kept (audit details) and how it is quoted back in an error
//! description.

use serde_json::Value;

/// How much of a client-supplied value is repeated back in an error description.
const MAX_ECHO_CHARS: usize = 100;

/// A control character (Unicode `Cc`: U+0000–U+001F, U+007F, U+0080–U+009F). No request value
/// may carry one — U+0000 above all, which PostgreSQL text cannot hold — except where
/// [`allowed_in_free_text`] says otherwise.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `value` holds a control character.
pub fn has_control(value: &str) -> bool {
    value.chars().any(is_control)
}

/// In free text that is never stored, shown or looked up as sent (a password, which is only
/// ever hashed) every character but U+0000 is the user's business.
pub fn allowed_in_free_text(value: &str) -> bool {
    !value.contains('\0')
}

/// The first string in a JSON document (a member name or a value, at any depth) that holds a
/// control character, named by its path (`$.contacts[1]`, `$.jwks.keys[0].n`). JSON escapes
/// (`\u0000`) are decoded by then, so this sees what would be stored.
pub fn json_control_path(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) if has_control(s) => Some(path.to_string()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let member = format!("{path}.{}", echo(k));
                if has_control(k) {
                    Some(member)
                } else {
                    walk(v, &member)
                }
            }),
            _ => None,
        }
    }
    walk(value, "$")
}

/// Truncate a submitted string for storage (audit details): sane sizes, never a whole payload.
pub fn truncate(value: &str, max_chars: usize) -> String {
    if value.chars().count() <= max_chars {
        value.to_string()
    } else {
        let mut cut: String = value.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

/// A client-supplied value made safe to repeat in an error description — the one rule for
/// quoting input back. At most `MAX_ECHO_CHARS` characters, no control or bidi characters, and
/// nothing from the first `&` or `;` on, or from a space or control character followed by a
/// `name=` word: what follows is most likely the next parameters of a mis-separated form
/// (`grant_type=x;refresh_token=…`), secrets among them. A cut is marked with `...`.
///
/// Callers never echo the value of a parameter that carries a secret (a code, a token, a
/// verifier, a password, a CSRF token), however short.
pub fn echo(value: &str) -> String {
    let chars: Vec<char> = value.chars().filter(|c| !is_bidi_control(*c)).collect();
    let separates = |c: &char| c.is_whitespace() || c.is_control();
    let mut out = String::new();
    let mut shown = 0;
    for (i, c) in chars.iter().enumerate() {
        let next_parameter = *c == '&'
            || *c == ';'
            || (separates(c) && chars[i + 1..].iter().take_while(|c| !separates(c)).any(|c| *c == '='));
        if next_parameter || shown == MAX_ECHO_CHARS {
            out.push_str("...");
            break;
        }
        if !c.is_control() {
            out.push(*c);
            shown += 1;
        }
    }
    out
}

/// Characters that reorder the text around them (and so can disguise what a page shows).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_truncates_and_strips() {
        assert_eq!(echo("a\r\nb\u{202E}c"), "abc");
        let long = echo(&"x".repeat(500));
        assert_eq!(long, format!("{}...", "x".repeat(100)));
        assert_eq!(echo(&"x".repeat(100)), "x".repeat(100));
    }

    #[test]
    fn echo_stops_where_a_mis_separated_form_goes_on() {
        let secret = "rt_4f9c2b7d1e8a";
        for value in [
            format!(" ;refresh_token={secret};client_id=x"),
            format!("refresh_token;refresh_token={secret}"),
            format!("refresh_token&refresh_token={secret}"),
            format!("refresh_token refresh_token={secret}"),
            format!("refresh_token\u{0}refresh_token={secret}"),
        ] {
            let shown = echo(&value);
            assert!(!shown.contains(secret), "{value:?} → {shown:?}");
            assert!(shown.ends_with("..."), "{value:?} → {shown:?}");
        }
        assert_eq!(echo("refresh_token;x=1"), "refresh_token...");
        // Ordinary values are shown whole: spaces, and `=` inside one word, are not a cut.
        assert_eq!(echo("read write"), "read write");
        assert_eq!(echo("https://a.example/cb?x=1"), "https://a.example/cb?x=1");
        assert_eq!(echo("https://a.example/cb?x=1&y=2"), "https://a.example/cb?x=1...");
    }

    #[test]
    fn control_characters() {
        for c in ['\0', '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert!(is_control(c), "{c:?}");
            assert!(has_control(&format!("a{c}b")), "{c:?}");
        }
        for c in [' ', 'é', '\u{a0}', '\u{202e}', '\u{fffd}'] {
            assert!(!is_control(c), "{c:?}");
        }
        assert!(allowed_in_free_text("tab\there"));
        assert!(!allowed_in_free_text("nul\0here"));
    }

    #[test]
    fn finds_control_characters_anywhere_in_json() {
        use serde_json::json;
        assert_eq!(json_control_path(&json!({"a": "b", "c": [1, "d", {"e": null}]})), None);
        assert_eq!(json_control_path(&json!({"a": "b\u{0}"})).as_deref(), Some("$.a"));
        assert_eq!(json_control_path(&json!({"a": ["x", "y\n"]})).as_deref(), Some("$.a[1]"));
        assert_eq!(json_control_path(&json!({"a": {"b\u{1}c": 1}})).as_deref(), Some("$.a.bc"));
        assert_eq!(json_control_path(&json!("\u{7f}")).as_deref(), Some("$"));
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
    }
}
