// The check of the SQL quoting functions (`vpcflow::sql::Quoting`, `TableName`) shared
// by the fuzz target `sql_quote` (`fuzz/`, nightly) and the stable tests of
// `tests/sql_quote.rs`. Included by both with `include!`, so it names everything by its
// full path. The unquoters here are written from each language's rules, apart from the
// quoting code they check: quote, then unquote, gives the original; the quoted form
// ends at its last character (no terminator left unescaped inside); a comment holds no
// line break; on Spark no `${` is left for variable substitution.

/// Arbitrary bytes (as lossy UTF-8) through every language's literal, identifier and
/// comment quoting, and through the table-name parser.
pub fn check_sql_quote(data: &[u8]) {
    use vpcflow::sql::{Quoting, TableName};
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    for q in [Quoting::Ansi, Quoting::Spark, Quoting::Hive] {
        let lit = q.literal(text);
        assert_eq!(unquote_literal(q, &lit).as_deref(), Some(text), "{q:?} {lit:?}");
        if q == Quoting::Spark {
            assert!(!lit.contains("${"), "{lit:?}");
        }
        match q.identifier(text) {
            Ok(id) => {
                assert_eq!(unquote_identifier(q, &id).as_deref(), Some(text), "{q:?} {id:?}");
                assert!(!id.contains('\n') && !id.contains('\r'), "{id:?}");
                if q == Quoting::Spark {
                    assert!(!id.contains("${"), "{id:?}");
                }
            }
            Err(_) => assert!(
                text.is_empty()
                    || text.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
                    || q == Quoting::Spark && text.contains("${"),
                "{q:?} refused {text:?}"
            ),
        }
        let comment = q.comment(text);
        assert!(
            !comment.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
            "{comment:?}"
        );
        if q == Quoting::Spark {
            assert!(!comment.contains("${"), "{comment:?}");
        }
    }
    if let Ok(name) = TableName::parse(text) {
        assert!((1..=3).contains(&name.parts().len()));
        for q in [Quoting::Ansi, Quoting::Spark, Quoting::Hive] {
            let quoted = name.quoted(q).expect("a parsed name quotes");
            let parts = split_identifiers(q, &quoted).expect("quoted parts");
            assert_eq!(parts, name.parts(), "{q:?} {quoted:?}");
            // Read again as the user's own text, the quoted name is the same name.
            assert_eq!(TableName::parse(&quoted).as_ref(), Ok(&name), "{quoted:?}");
        }
    }
}

/// A literal of the language read back, or `None` when it is not exactly one literal.
fn unquote_literal(q: vpcflow::sql::Quoting, lit: &str) -> Option<String> {
    use vpcflow::sql::Quoting;
    let body = lit.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match (q, c) {
            (_, '\'') => {
                if q == Quoting::Ansi && chars.clone().next() == Some('\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                // The end: it must be the last character.
                return chars.next().is_none().then_some(out);
            }
            (Quoting::Spark | Quoting::Hive, '\\') => match chars.next()? {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                'u' if q == Quoting::Spark => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            _ => out.push(c),
        }
    }
    None
}

/// One quoted identifier read back, or `None`.
fn unquote_identifier(q: vpcflow::sql::Quoting, id: &str) -> Option<String> {
    let parts = split_identifiers(q, id)?;
    (parts.len() == 1).then(|| parts.into_iter().next().unwrap_or_default())
}

/// Quoted identifiers joined by `.`, read back part by part.
fn split_identifiers(q: vpcflow::sql::Quoting, text: &str) -> Option<Vec<String>> {
    let quote = if q == vpcflow::sql::Quoting::Ansi { '"' } else { '`' };
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        if chars.next()? != quote {
            return None;
        }
        let mut part = String::new();
        loop {
            let c = chars.next()?;
            if c == quote {
                if chars.peek() == Some(&quote) {
                    chars.next();
                    part.push(quote);
                } else {
                    break;
                }
            } else {
                part.push(c);
            }
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => {}
            Some(_) => return None,
        }
    }
}
