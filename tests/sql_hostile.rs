//! `vpcflow sql` given hostile or careless names, locations and maps: each test is
//! named after the way such input used to reach the emitted SQL raw (or give a wrong
//! answer), and checks the text that is printed now. What the engines then make of the
//! text is checked in `tests/sql_engines.rs` and `tests/sql_sqlglot.rs`.

mod common;

use std::process::Output;

use common::{root, stderr, stdout, vpcflow};

/// `vpcflow sql` with one command-line rule, for the tables `flows` and `map`.
fn query(dialect: &str, flows: &str, map: &str) -> Output {
    vpcflow(&[
        "sql",
        "--dialect",
        dialect,
        "--allow-cidr",
        "vpc",
        "--flows",
        flows,
        "--map",
        map,
    ])
}

#[test]
fn sql_flows_name_with_sql_after_it_was_pasted_into_the_query() {
    let o = query(
        "duckdb",
        "flows LIMIT 0) SELECT 'pwned'; CREATE TABLE evil AS SELECT 42 AS y; WITH q AS (SELECT 1",
        "eni_map",
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("--flows: a space (byte 5) cannot be in an unquoted name part"),
        "{e}"
    );
}

#[test]
fn sql_a_newline_in_the_map_name_left_the_header_comment() {
    for name in [
        "eni_map\nCREATE TABLE evil AS SELECT 1; --",
        "\"eni_map\nCREATE TABLE evil AS SELECT 1; --\"",
    ] {
        let o = query("trino", "flows", name);
        assert_eq!(o.status.code(), Some(2), "{name:?}: {}", stdout(&o));
        let e = stderr(&o);
        assert!(e.contains("--map: a line feed (byte "), "{e}");
        assert!(!stdout(&o).contains("CREATE TABLE"));
    }
}

#[test]
fn sql_table_names_were_not_quoted_per_dialect() {
    // A catalog, a schema and a name, quoted as users write them (either quote), and a
    // quote of the other kind inside: each part comes out quoted for the engine.
    let given = "\"my db\".`a\"b`.flows";
    for (dialect, want) in [
        ("duckdb", "FROM \"my db\".\"a\"\"b\".\"flows\""),
        ("trino", "FROM \"my db\".\"a\"\"b\".\"flows\""),
        ("spark", "FROM `my db`.`a\"b`.`flows`"),
    ] {
        let o = query(dialect, given, "eni_map");
        assert!(o.status.success(), "{dialect}: {}", stderr(&o));
        assert!(stdout(&o).contains(want), "{dialect}: {}", stdout(&o));
    }
    let o = query("spark", "flows", "`we``ird`");
    assert!(stdout(&o).contains("FROM `we``ird`"), "{}", stdout(&o));
    // Four parts, an empty part, an unclosed quote: refused, each in its words.
    for (name, words) in [
        ("a.b.c.d", "at most three parts (catalog.schema.table)"),
        ("a..b", "an empty part"),
        ("\"flows", "a quote that is not closed"),
        (
            "fl\"ows\"",
            "a double quote (byte 2) cannot be in an unquoted name part",
        ),
    ] {
        let o = query("duckdb", name, "eni_map");
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stderr(&o).contains(words), "{name}: {}", stderr(&o));
    }
}

#[test]
fn sql_spark_substituted_dollar_brace_in_a_literal() {
    // `${env:HOME}` in a Spark query is replaced by the engine before it parses: no
    // `${` may stand in what is printed, in literals or in comments.
    let o = vpcflow(&[
        "sql",
        "--dialect",
        "spark",
        "--allow-service",
        "${env:HOME}",
        "--allow-sg",
        "sg-${x}",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let q = stdout(&o);
    assert!(!q.contains("${"), "{q}");
    assert!(q.contains("'$\\u007Benv:HOME}'"), "{q}");
    // On DuckDB the name is a plain literal.
    let o = vpcflow(&[
        "sql",
        "--dialect",
        "duckdb",
        "--allow-service",
        "${env:HOME}",
    ]);
    assert!(stdout(&o).contains("'${env:HOME}'"));
}

/// `vpcflow sql --ddl` for a flows location.
fn ddl(dialect: &str, flows: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sql",
        "--dialect",
        dialect,
        "--ddl",
        "--flows-location",
        flows,
        "--map-location",
        "s3://b/eni-map/",
        "--partition-by",
        "year,month,day",
    ];
    args.extend(extra);
    vpcflow(&args)
}

#[test]
fn sql_athena_location_with_a_quote_broke_the_ddl() {
    let o = ddl("trino", "s3://b/o'brien\\x/", &["--years", "2020-2030"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let q = stdout(&o);
    // Athena's DDL is Hive's: backslash escapes, where a doubled quote would end one
    // literal and start the next.
    assert!(q.contains("LOCATION 's3://b/o\\'brien\\\\x/'"), "{q}");
    assert!(
        q.contains(
            "'storage.location.template' = 's3://b/o\\'brien\\\\x/year=${year}/month=${month}/day=${day}/'"
        ),
        "{q}"
    );
    // Spark's DDL, and DuckDB's.
    let o = ddl("spark", "/data/o'brien/", &[]);
    assert!(
        stdout(&o).contains("LOCATION '/data/o\\'brien/'"),
        "{}",
        stdout(&o)
    );
    let o = ddl("duckdb", "/data/o'brien/", &[]);
    assert!(
        stdout(&o).contains("read_parquet('/data/o''brien/**/*.parquet'"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn sql_duckdb_read_glob_characters_in_a_location_as_a_glob() {
    for (loc, ch) in [
        ("/data/flows[1]/", "'['"),
        ("/data/fl*ws/", "'*'"),
        ("/data/flows?/", "'?'"),
    ] {
        let o = ddl("duckdb", loc, &[]);
        assert_eq!(o.status.code(), Some(2), "{loc}");
        let e = stderr(&o);
        assert!(e.contains(&format!("--flows-location: {ch}")), "{e}");
        assert!(e.contains("[ ] * ?"), "{e}");
    }
    // Line breaks in a location are refused on every engine; `${` on Athena, whose
    // template gives it a meaning.
    let o = ddl("spark", "/data/a\nb/", &[]);
    assert!(stderr(&o).contains("a line feed"), "{}", stderr(&o));
    let o = ddl("trino", "s3://b/${x}/", &["--years", "2020-2030"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'${'"), "{}", stderr(&o));
    // The help says which characters a location cannot hold.
    let help = stdout(&vpcflow(&["sql", "--help"]));
    assert!(help.contains("[ ] * ?"), "{help}");
}

#[test]
fn sql_athena_ddl_projected_years_2015_to_2099_whatever_the_data() {
    // A local tree with partitions of 1970 and 2199: the projection covers them.
    let dir = tempfile::tempdir().unwrap();
    for y in ["1970", "2026", "2199"] {
        std::fs::create_dir_all(dir.path().join(format!("year={y}/month=01/day=01"))).unwrap();
    }
    let loc = dir.path().display().to_string();
    let o = ddl("trino", &loc, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("'projection.year.range' = '1970,2199'"),
        "{}",
        stdout(&o)
    );
    // An S3 tree cannot be listed here: the years are given, or the default range is
    // said on stderr.
    let o = ddl("trino", "s3://b/flows/", &["--years", "1999-2001"]);
    assert!(stdout(&o).contains("'projection.year.range' = '1999,2001'"));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = ddl("trino", "s3://b/flows/", &[]);
    assert!(stdout(&o).contains("'projection.year.range' = '2015,2099'"));
    assert!(
        stderr(&o).contains("partitions of years before 2015 or after 2099 are left out"),
        "{}",
        stderr(&o)
    );
    for bad in ["2030-2020", "99-2000", "x"] {
        let o = ddl("trino", "s3://b/flows/", &["--years", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("--years"), "{}", stderr(&o));
    }
}

#[test]
fn sql_could_not_check_the_policy_against_the_map() {
    // A policy naming a service and a security group the map has never seen: audit
    // refuses it; with --map-file, sql refuses it in the same words.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[service]]\nname = \"api\"\ningress_from_services = [\"no-such-service\"]\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let map = root("testdata/demo/eni-map.csv").display().to_string();
    let audit = vpcflow(&[
        "audit",
        &root("testdata/demo/logs").display().to_string(),
        "--map",
        &map,
        "--policy",
        &policy,
        "-q",
    ]);
    assert_eq!(audit.status.code(), Some(2));
    let refused = stderr(&audit);
    assert!(refused.contains("no-such-service"), "{refused}");
    let sql = |more: &[&str]| {
        let mut args = vec!["sql", "--dialect", "duckdb", "--policy", &policy];
        args.extend(["--map-file", &map]);
        args.extend(more);
        vpcflow(&args)
    };
    let o = sql(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), refused);
    assert!(stdout(&o).is_empty());
    // --map still names the table; a map that knows the service lets the query out.
    std::fs::write(
        dir.path().join("p.toml"),
        "[[service]]\nname = \"api\"\ningress_from_services = [\"web\"]\n",
    )
    .unwrap();
    let o = sql(&["--map", "m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("FROM \"m\""));
}
