//! Text that came from the input, made safe to print: a name, a tag or a path can hold
//! control characters and characters that reorder the text around them, and nothing in
//! the input may move the cursor or make one name read as another.

use std::borrow::Cow;

/// Text for a terminal: control characters (an escape sequence hidden in an interface
/// id or a tag, a tab, a newline) written as visible escapes (`\u{1b}`), so that
/// what the input says can never move the cursor, recolour or rewrite the screen.
/// Newlines are kept when `keep_newlines` (multi-line messages).
pub fn printable(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let escape = |c: char| (c.is_control() && !(keep_newlines && c == '\n')) || reorders_text(c);
    if !s.chars().any(escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character reorders the text around it: the bidirectional embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the direction marks
/// (U+200E, U+200F, U+061C). A name holding one could make `evil` read as `live`; they
/// are shown escaped wherever names are printed.
pub fn reorders_text(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// `1234567` -> `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n} B"),
    }
}
