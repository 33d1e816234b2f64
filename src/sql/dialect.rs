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

/// A column type, spelled per dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Int,
    BigInt,
    Text,
}

impl Dialect {
    /// The name `--dialect` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Trino => "trino",
            Dialect::Duckdb => "duckdb",
        }
    }

    /// A quoted identifier (flow-log columns such as `end` are reserved words).
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A string literal. Spark reads backslash escapes and joins adjacent literals, so
    /// a quote is escaped there rather than doubled.
    pub fn lit(self, s: &str) -> String {
        match self {
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
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
