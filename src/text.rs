//! Small rules for untrusted text shared by every layer: how much of it is kept (audit
//! details) and how it is quoted back in an error description.

/// How much of a client-supplied value is repeated back in an error description.
const MAX_ECHO_CHARS: usize = 100;

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

/// A client-supplied value made safe to repeat in a description: no control or bidi
/// characters, and at most `MAX_ECHO_CHARS` characters.
pub fn echo(value: &str) -> String {
    let mut out = String::new();
    for (count, c) in value.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).enumerate() {
        if count == MAX_ECHO_CHARS {
            out.push_str("...");
            break;
        }
        out.push(c);
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
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
    }
}
