//! What the tables for people share: their style, and protocol names.

use comfy_table::{presets, ContentArrangement, Table};

/// Protocol numbers people know by name.
pub fn protocol_name(p: i32) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        -1 => "-".into(),
        p => p.to_string(),
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
