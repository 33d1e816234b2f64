//! What differs between the engines the audit is compiled for: quoting, literals,
//! and the handful of functions that have no common spelling.

/// An SQL engine the audit is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Apache Spark SQL (3.4 and later), as on EMR, Glue and Databricks.
    Spark,
    /// Trino, and Amazon Athena (engine version 3), which runs Trino's SQL.
    Trino,
    /// DuckDB.
    Duckdb,
}

/// How a language writes string literals and quoted identifiers: the one place where
/// text crosses into SQL. Each dialect of the query has one ([`Dialect::quoting`]);
/// Athena's `CREATE EXTERNAL TABLE` is Hive's language, with its own.
///
/// - `Ansi` (DuckDB, Trino): `'it''s'` and `"a""b"`; nothing else is special inside.
/// - `Spark`: backslash escapes in `'...'` (a doubled quote there ends one literal and
///   starts the next, which Spark joins) and `` `a``b` ``. Spark replaces `${...}`
///   anywhere in the text before it parses (`spark.sql.variable.substitute`, on by
///   default): in a literal the `{` after a `$` is written `\u007B`, which Spark's
///   parser reads back as `{` after substitution; an identifier cannot hold `${`.
/// - `Hive` (Athena's DDL): backslash escapes in `'...'`, backticks for names.
///
/// Identifiers hold no control characters (a line break would end a comment that
/// names them, and no engine needs one): [`Quoting::identifier`] refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoting {
    Ansi,
    Spark,
    Hive,
}

/// Why a name cannot be quoted or parsed: the offending character and its byte offset
/// in the text given, or what is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameError(pub String);

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A character in words, for messages: `a space`, `a line feed`, `'x'`, `U+202E`.
pub fn char_words(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\n' => "a line feed".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        '\0' => "a NUL".into(),
        '"' => "a double quote".into(),
        '\'' => "a single quote".into(),
        '`' => "a backtick".into(),
        c if c.is_control() || !c.is_ascii() && !c.is_alphanumeric() => {
            format!("U+{:04X}", c as u32)
        }
        c => format!("'{c}'"),
    }
}

/// The first control character of `s` (or a line or paragraph separator), with its
/// byte offset.
pub fn control_char(s: &str) -> Option<(usize, char)> {
    s.char_indices()
        .find(|(_, c)| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
}

impl Quoting {
    /// `s` as a string literal of this language.
    pub fn literal(self, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        let mut after_dollar = false;
        for c in s.chars() {
            match (self, c) {
                (Quoting::Ansi, '\'') => out.push_str("''"),
                (Quoting::Spark | Quoting::Hive, '\\') => out.push_str("\\\\"),
                (Quoting::Spark | Quoting::Hive, '\'') => out.push_str("\\'"),
                (Quoting::Spark, '{') if after_dollar => out.push_str("\\u007B"),
                _ => out.push(c),
            }
            after_dollar = c == '$';
        }
        out.push('\'');
        out
    }

    /// `name` as a quoted identifier of this language; refused when it is empty,
    /// holds a control character, or (Spark) `${`.
    pub fn identifier(self, name: &str) -> Result<String, NameError> {
        if name.is_empty() {
            return Err(NameError("an empty name".into()));
        }
        if let Some((at, c)) = control_char(name) {
            return Err(NameError(format!(
                "{} (byte {at}) cannot be in a name",
                char_words(c)
            )));
        }
        if let (Quoting::Spark, Some(at)) = (self, name.find("${")) {
            return Err(NameError(format!(
                "'${{' (byte {at}) cannot be in a name for Spark, which substitutes \
                 variables there"
            )));
        }
        Ok(match self {
            Quoting::Ansi => format!("\"{}\"", name.replace('"', "\"\"")),
            Quoting::Spark | Quoting::Hive => format!("`{}`", name.replace('`', "``")),
        })
    }

    /// `text` made safe inside a `--` comment: control characters and line separators
    /// as `\u{..}` escapes (none can end the comment), and on Spark `${` broken.
    pub fn comment(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut after_dollar = false;
        for c in text.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            } else if c == '{' && after_dollar && self == Quoting::Spark {
                out.push_str("\\u{7b}");
            } else {
                out.push(c);
            }
            after_dollar = c == '$';
        }
        out
    }
}

/// A table's name as the user gives it: one to three parts (`catalog.schema.table`),
/// each a plain word (letters, digits, `_`) or quoted as users write them, `"my db"`
/// or `` `my db` `` (a quote inside doubled). The parts are kept unquoted and quoted
/// again for the engine ([`TableName::quoted`]): the same name works on each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    parts: Vec<String>,
}

impl TableName {
    /// Parses a table name; the error names the offending character and its byte.
    pub fn parse(text: &str) -> Result<TableName, NameError> {
        let err = |s: String| Err(NameError(s));
        let mut parts = Vec::new();
        let mut chars = text.char_indices().peekable();
        loop {
            let mut part = String::new();
            match chars.peek().copied() {
                Some((start, q @ ('"' | '`'))) => {
                    chars.next();
                    loop {
                        match chars.next() {
                            None => {
                                return err(format!(
                                    "a quote that is not closed (the {} at byte {start})",
                                    char_words(q)
                                ))
                            }
                            Some((_, c)) if c == q => {
                                if chars.peek().is_some_and(|(_, n)| *n == q) {
                                    chars.next();
                                    part.push(q);
                                } else {
                                    break;
                                }
                            }
                            Some((at, c)) => {
                                if control_char(c.encode_utf8(&mut [0; 4])).is_some() {
                                    return err(format!(
                                        "{} (byte {at}) cannot be in a name",
                                        char_words(c)
                                    ));
                                }
                                part.push(c)
                            }
                        }
                    }
                    match chars.next() {
                        None | Some((_, '.')) => {}
                        Some((at, c)) => {
                            return err(format!(
                                "{} (byte {at}) after a quoted part: parts are joined by '.'",
                                char_words(c)
                            ))
                        }
                    }
                }
                _ => loop {
                    match chars.next() {
                        None | Some((_, '.')) => break,
                        Some((_, c)) if c.is_alphanumeric() || c == '_' => part.push(c),
                        Some((at, c)) => {
                            return err(format!(
                                "{} (byte {at}) cannot be in an unquoted name part (letters, \
                                 digits and _); quote the part, as \"my table\" or `my table`",
                                char_words(c)
                            ))
                        }
                    }
                },
            }
            if part.is_empty() {
                return err("an empty part: a name is table, schema.table or \
                            catalog.schema.table"
                    .into());
            }
            if let Some(at) = part.find("${") {
                return err(format!(
                    "'${{' (at {at} in part {}) cannot be in a name: Spark substitutes \
                     variables there",
                    parts.len() + 1
                ));
            }
            parts.push(part);
            if parts.len() > 3 {
                return err("at most three parts (catalog.schema.table)".into());
            }
            // A trailing dot leaves an empty part.
            if chars.peek().is_none() {
                if text.ends_with('.') && !text.ends_with("\".") && !text.ends_with("`.") {
                    return err("an empty part: a name is table, schema.table or \
                                catalog.schema.table"
                        .into());
                }
                break;
            }
        }
        Ok(TableName { parts })
    }

    /// The parts, unquoted.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The name quoted for a language, part by part.
    pub fn quoted(&self, q: Quoting) -> Result<String, NameError> {
        let parts = self
            .parts
            .iter()
            .map(|p| q.identifier(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join("."))
    }
}

/// A column type, spelled per dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Int,
    BigInt,
    Text,
}

// The functions below are one `match` each on the dialect, alike in shape: kept on
// purpose, so that each SQL function's spelling in every engine stands side by side.
impl Dialect {
    /// The name `--dialect` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Trino => "trino",
            Dialect::Duckdb => "duckdb",
        }
    }

    /// How the query's language quotes literals and identifiers.
    pub fn quoting(self) -> Quoting {
        match self {
            Dialect::Spark => Quoting::Spark,
            Dialect::Trino | Dialect::Duckdb => Quoting::Ansi,
        }
    }

    /// A quoted identifier of the audit's own (flow-log columns such as `end` are
    /// reserved words); names from the user are [`TableName`]s.
    pub(crate) fn ident(self, name: &str) -> String {
        self.quoting()
            .identifier(name)
            .expect("the audit's column names are plain words")
    }

    /// A string literal: every literal of the query is written by this, through
    /// [`Quoting::literal`].
    pub fn lit(self, s: &str) -> String {
        self.quoting().literal(s)
    }

    pub fn ty(self, t: Type) -> &'static str {
        match (self, t) {
            (_, Type::Int) => "INTEGER",
            (_, Type::BigInt) => "BIGINT",
            (Dialect::Spark, Type::Text) => "STRING",
            (_, Type::Text) => "VARCHAR",
        }
    }

    /// `x & mask` on integers.
    pub fn bit_and(self, x: &str, mask: u32) -> String {
        match self {
            Dialect::Trino => format!("bitwise_and({x}, {mask})"),
            _ => format!("({x} & {mask})"),
        }
    }

    /// The 1-based position of `needle` in `s`, 0 when absent.
    pub fn position(self, s: &str, needle: &str) -> String {
        match self {
            Dialect::Spark => format!("instr({s}, {needle})"),
            _ => format!("strpos({s}, {needle})"),
        }
    }

    /// An integer from 0 to 255 as two lowercase hex digits.
    pub fn hex2(self, x: &str) -> String {
        let h = match self {
            Dialect::Trino => format!("to_base({x}, 16)"),
            _ => format!("hex({x})"),
        };
        format!("lpad(lower({h}), 2, '0')")
    }

    /// Hex digits as a decimal number in text.
    pub fn hex_to_decimal(self, h: &str) -> String {
        match self {
            Dialect::Spark => format!("conv({h}, 16, 10)"),
            Dialect::Trino => format!("CAST(from_base({h}, 16) AS VARCHAR)"),
            Dialect::Duckdb => format!("CAST(CAST('0x' || {h} AS INTEGER) AS VARCHAR)"),
        }
    }

    /// The last `/`-separated part of a cluster name or ARN.
    pub fn last_part(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("regexp_extract({x}, '([^/]*)$', 1)"),
            _ => format!("regexp_extract({x}, '[^/]*$')"),
        }
    }

    /// Aggregate: the distinct non-null values of a text expression, sorted and joined
    /// by ", "; null when there are none.
    pub fn agg_sorted_text(self, x: &str) -> String {
        let joined = match self {
            Dialect::Spark => format!("array_join(array_sort(collect_set({x})), ', ')"),
            Dialect::Trino => {
                format!("array_join(array_sort(array_distinct(array_agg({x}) FILTER (WHERE {x} IS NOT NULL))), ', ')")
            }
            Dialect::Duckdb => {
                format!("array_to_string(list_sort(list_distinct(list({x}))), ', ')")
            }
        };
        format!("NULLIF({joined}, '')")
    }

    /// Aggregate: the distinct non-null values of an integer expression as a sorted
    /// array (empty when there are none).
    pub fn agg_sorted_ints(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("array_sort(collect_set({x}))"),
            Dialect::Trino => format!(
                "COALESCE(array_sort(array_distinct(array_agg({x}) FILTER (WHERE {x} IS NOT NULL))), ARRAY[])"
            ),
            Dialect::Duckdb => format!("list_sort(list_distinct(list({x})))"),
        }
    }

    /// Aggregate: the distinct non-null values of an expression as an array.
    pub fn agg_distinct(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("collect_set({x})"),
            Dialect::Trino => {
                format!("array_distinct(array_agg({x}) FILTER (WHERE {x} IS NOT NULL))")
            }
            Dialect::Duckdb => format!("list_distinct(list({x}))"),
        }
    }

    /// Whether an array holds a value.
    pub fn contains(self, a: &str, x: &str) -> String {
        match self {
            Dialect::Spark => format!("array_contains({a}, {x})"),
            Dialect::Trino => format!("contains({a}, {x})"),
            Dialect::Duckdb => format!("list_contains({a}, {x})"),
        }
    }

    /// The number of elements of an array.
    pub fn len(self, a: &str) -> String {
        match self {
            Dialect::Spark => format!("size({a})"),
            Dialect::Trino => format!("cardinality({a})"),
            Dialect::Duckdb => format!("len({a})"),
        }
    }

    /// An array of integers joined by ", ".
    pub fn join_ints(self, a: &str) -> String {
        match self {
            Dialect::Duckdb => format!("array_to_string({a}, ', ')"),
            Dialect::Spark => format!("array_join({a}, ', ')"),
            Dialect::Trino => format!("array_join(transform({a}, p -> CAST(p AS VARCHAR)), ', ')"),
        }
    }

    /// Unix seconds as RFC 3339 UTC text (`2026-11-01T00:20:00Z`), whatever the
    /// session's time zone.
    pub fn rfc3339(self, x: &str) -> String {
        match self {
            Dialect::Duckdb => {
                format!(
                    "strftime(make_timestamp(CAST({x} AS BIGINT) * 1000000), '%Y-%m-%dT%H:%M:%SZ')"
                )
            }
            Dialect::Trino => format!(
                "format_datetime(from_unixtime({x}, 'UTC'), 'yyyy-MM-dd''T''HH:mm:ss''Z''')"
            ),
            // Spark formats timestamps in the session's zone: the date and the time of
            // day are computed from the seconds instead.
            Dialect::Spark => {
                let part = |div: u32, modulo: u32| {
                    format!("lpad(CAST(CAST(floor(pmod({x}, {modulo}) / {div}) AS INT) AS STRING), 2, '0')")
                };
                format!(
                    "concat(CAST(date_add(DATE'1970-01-01', CAST(floor({x} / 86400) AS INT)) AS STRING), 'T', {}, ':', {}, ':', {}, 'Z')",
                    part(3600, 86400),
                    part(60, 3600),
                    part(1, 60)
                )
            }
        }
    }
}
