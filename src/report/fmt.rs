//! The little formatters every part of the page and its charts share: text escaped for
//! HTML, byte counts and counts with thousands separators. A leaf: it uses no other
//! file of the report, so that the page's parts and [`super::svg`] can all use it.

use std::borrow::Cow;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> Cow<'_, str> {
    // Control characters (a NUL) and characters that reorder the text around them (a
    // right-to-left override) are shown as visible escapes, as in the tables.
    let shown = |c: char| c.is_control() || crate::text::reorders_text(c);
    if !s.contains(['&', '<', '>', '"', '\'']) && !s.chars().any(shown) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if shown(c) => o.extend(c.escape_unicode()),
            c => o.push(c),
        }
    }
    Cow::Owned(o)
}

/// `1234567` -> `1.2 MB`.
pub fn bytes(n: u64) -> String {
    crate::output::human_bytes(n)
}

/// `1234567` -> `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut o = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_to_left_overrides_and_nuls_are_shown_escaped_in_the_report() {
        // Regression: U+202E and NUL in names reached the page raw.
        assert_eq!(esc("svc\u{202e}<b>\0"), "svc\\u{202e}&lt;b&gt;\\u{0}");
        assert_eq!(esc("web · prod"), "web · prod");
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
