//! What the tables for people share: their style, and how a protocol is written.

use comfy_table::{presets, ContentArrangement, Table};

/// A protocol number as tables print it: its name ([`crate::net::PROTOCOLS`]), `-`
/// for none, else the number.
pub fn protocol_name(p: i32) -> String {
    match crate::net::protocol_name(p) {
        Some(name) => name.into(),
        None if p == -1 => "-".into(),
        None => p.to_string(),
    }
}

/// An empty table in our style, wrapped to `width` on a terminal, unwrapped otherwise.
pub fn new_table(width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    match width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}
