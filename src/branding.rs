//! The operator's brand on the pages (SPEC §12): the logo file, read and checked once per load
//! (its bytes decide its type, never its name), and the accent colour with the text colour that
//! keeps WCAG AA contrast on it.

use std::io::Read;
use std::path::Path;

/// The largest logo accepted: 256 KiB.
pub const MAX_LOGO_BYTES: u64 = 256 * 1024;

/// The two image types a logo may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoKind {
    Png,
    Svg,
}

impl LogoKind {
    pub fn content_type(self) -> &'static str {
        match self {
            LogoKind::Png => "image/png",
            LogoKind::Svg => "image/svg+xml",
        }
    }
}

/// A logo as served: its bytes, their type, and a short digest that names this version (the
/// `ETag`, and the `?v=` that busts caches after a reload).
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    pub kind: LogoKind,
    pub bytes: Vec<u8>,
    pub version: String,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo").field("kind", &self.kind).field("bytes", &self.bytes.len()).finish()
    }
}

/// Read `path` as a logo: at most [`MAX_LOGO_BYTES`], a PNG or an SVG by its bytes. The error
/// says why, for the line that names `branding.logo_file`.
pub fn read_logo(path: &Path) -> Result<Logo, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{:?} cannot be read ({e})", path.display()))?;
    let mut bytes = Vec::new();
    // One byte past the limit tells "too large" without reading a huge file whole.
    file.take(MAX_LOGO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{:?} cannot be read ({e})", path.display()))?;
    if bytes.len() as u64 > MAX_LOGO_BYTES {
        return Err(format!("{:?} is larger than {} KiB", path.display(), MAX_LOGO_BYTES / 1024));
    }
    let kind = sniff(&bytes).ok_or_else(|| format!("{:?} is neither a PNG nor an SVG image", path.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let version = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Logo { kind, bytes, version })
}

/// The image type the bytes say, if it is one a logo may be.
pub fn sniff(bytes: &[u8]) -> Option<LogoKind> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG_SIGNATURE) {
        return Some(LogoKind::Png);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    starts_with_svg_element(text).then_some(LogoKind::Svg)
}

/// Whether the first element of an XML text is `<svg`, after an optional byte-order mark, the
/// XML declaration, processing instructions, comments and a doctype.
fn starts_with_svg_element(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        let end = if rest.starts_with("<?") {
            "?>"
        } else if rest.starts_with("<!--") {
            "-->"
        } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            ">"
        } else {
            return rest
                .strip_prefix("<svg")
                .is_some_and(|after| after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'));
        };
        match rest[2..].find(end) {
            Some(at) => rest = &rest[2 + at + end.len()..],
            None => return false,
        }
    }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// The accent when none is configured: a blue that carries white text at 6.7:1.
pub const DEFAULT_ACCENT_COLOR: &str = "#1d4ed8";
const DEFAULT_ACCENT: Rgb = Rgb(0x1d, 0x4e, 0xd8);

/// The accent of settings that passed validation; the default should it somehow not parse.
pub fn accent_or_default(value: &str) -> Rgb {
    parse_hex_color(value).unwrap_or(DEFAULT_ACCENT)
}

/// `#rrggbb` (either case) as a colour; anything else is `None`.
pub fn parse_hex_color(value: &str) -> Option<Rgb> {
    let hex = value.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
    Some(Rgb(channel(0)?, channel(2)?, channel(4)?))
}

/// WCAG 2 relative luminance.
fn luminance(Rgb(r, g, b): Rgb) -> f64 {
    let linear = |channel: u8| {
        let c = f64::from(channel) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG 2 contrast ratio, 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (light, dark) = if la > lb { (la, lb) } else { (lb, la) };
    (light + 0.05) / (dark + 0.05)
}

pub const WHITE: Rgb = Rgb(255, 255, 255);
pub const BLACK: Rgb = Rgb(0, 0, 0);

/// The text colour for a button filled with `accent`: white or black, whichever contrasts more.
/// One of the two always reaches 4.58:1 (the worst case is a mid-grey), above WCAG AA's 4.5:1,
/// so every `#rrggbb` accent is accepted.
pub fn text_on(accent: Rgb) -> Rgb {
    if contrast(accent, WHITE) >= contrast(accent, BLACK) {
        WHITE
    } else {
        BLACK
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours() {
        assert_eq!(parse_hex_color("#1d4ed8"), Some(Rgb(0x1d, 0x4e, 0xd8)));
        assert_eq!(parse_hex_color("#FFFFFF"), Some(WHITE));
        for bad in ["", "1d4ed8", "#fff", "#1d4ed", "#1d4ed80", "#gggggg", "blue", "#1d4ed8 ", "rgb(0,0,0)"] {
            assert_eq!(parse_hex_color(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn contrast_matches_wcag_examples() {
        assert!((contrast(WHITE, BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast(WHITE, WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic "just passes AA" grey: 4.54:1.
        let grey = contrast(Rgb(0x76, 0x76, 0x76), WHITE);
        assert!((4.5..4.6).contains(&grey), "{grey}");
    }

    #[test]
    fn the_chosen_text_colour_reaches_aa_on_every_accent() {
        // Every grey, and a coarse walk through the colour cube: the worst cases are greys.
        let mut worst = f64::MAX;
        for r in (0..=255).step_by(5) {
            for g in (0..=255).step_by(5) {
                for b in (0..=255).step_by(5) {
                    let accent = Rgb(r as u8, g as u8, b as u8);
                    worst = worst.min(contrast(accent, text_on(accent)));
                }
            }
        }
        for v in 0..=255u8 {
            let grey = Rgb(v, v, v);
            worst = worst.min(contrast(grey, text_on(grey)));
        }
        assert!(worst >= 4.5, "worst contrast {worst}");
        assert_eq!(parse_hex_color(DEFAULT_ACCENT_COLOR), Some(DEFAULT_ACCENT));
        assert_eq!(text_on(DEFAULT_ACCENT), WHITE);
        assert!(contrast(DEFAULT_ACCENT, WHITE) > 6.7);
        assert_eq!(text_on(Rgb(0xff, 0xd7, 0x00)), BLACK);
    }

    #[test]
    fn logos_are_known_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(LogoKind::Png));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), Some(LogoKind::Svg));
        assert_eq!(
            sniff(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<!DOCTYPE svg>\n<svg>\n</svg>"),
            Some(LogoKind::Svg)
        );
        for bad in [
            &b""[..],
            b"GIF89a",
            b"\xff\xd8\xff\xe0 JFIF",
            b"<html><svg></svg></html>",
            b"<svgfoo/>",
            b"<!-- never closed <svg>",
            b"hello",
        ] {
            assert_eq!(sniff(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
