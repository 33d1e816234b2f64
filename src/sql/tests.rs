//! Unit tests of the SQL compiler: keys and bounds, quoting, the rule of a task, the
//! status row, and the numbering of kinds and severities from the native lists.

use super::*;
use crate::policy::CommandLineRules;

#[test]
fn keys_and_bounds() {
    let v4 = crate::net::addr("10.0.1.2").unwrap();
    assert_eq!(hex_key(&v4), "00000000000000000000ffff0a000102");
    let c: Cidr = "10.0.0.0/16".parse().unwrap();
    let (lo, hi) = c.bounds();
    assert_eq!(hex_key(&lo), "00000000000000000000ffff0a000000");
    assert_eq!(hex_key(&hi), "00000000000000000000ffff0a00ffff");
    let c: Cidr = "2600:1f18::/32".parse().unwrap();
    let (lo, hi) = c.bounds();
    assert_eq!(hex_key(&lo), "26001f18000000000000000000000000");
    assert_eq!(hex_key(&hi), "26001f18ffffffffffffffffffffffff");
}

#[test]
fn aws_intervals_answer_as_the_lookup_does() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/aws-ip-ranges.json"),
    )
    .unwrap();
    let r = AwsRanges::parse("ip-ranges.json", &text).unwrap();
    let intervals = r.intervals();
    assert!(!intervals.is_empty());
    for (lo, hi, service) in &intervals {
        assert!(lo <= hi);
        for a in [lo, hi] {
            assert_eq!(r.lookup(a).map(|s| s.service), Some(*service), "{a:?}");
        }
        // Just outside an interval the answer is another one, or none.
        let after = (u128::from_be_bytes(*hi) + 1).to_be_bytes();
        if !intervals.iter().any(|(l, _, _)| *l == after) {
            assert_eq!(r.lookup(&after), None);
        }
    }
    // EC2's prefixes answer nothing, so no interval holds them.
    let ec2 = crate::net::addr("3.5.140.1").unwrap();
    if r.lookup(&ec2).is_none() {
        assert!(!intervals.iter().any(|(l, h, _)| *l <= ec2 && ec2 <= *h));
    }
}

fn policy(text: &str) -> Policy {
    Policy::parse("p.toml", text, &[], &CommandLineRules::default()).unwrap()
}

/// What the query of `p` is compiled from: every check, no AWS ranges.
fn compile(
    p: &Policy,
    dialect: Dialect,
    tables: Tables,
    columns: Option<BTreeSet<String>>,
) -> Compile<'_> {
    Compile {
        policy: p,
        checks: Checks::ALL,
        aws_ranges: None,
        dialect,
        tables,
        columns,
    }
}

#[test]
fn literals_columns_and_required_fields() {
    assert_eq!(Dialect::Spark.lit("AWS's"), "'AWS\\'s'");
    assert_eq!(Dialect::Trino.lit("AWS's"), "'AWS''s'");
    assert_eq!(Dialect::Spark.ident("end"), "`end`");
    assert_eq!(Dialect::Duckdb.ident("end"), "\"end\"");
    let p = policy("[[service]]\nname = \"web\"\ningress_from_cidrs = [\"vpc\"]\n");
    let compile = |columns: Option<&str>| {
        compile(
            &p,
            Dialect::Duckdb,
            Tables::default(),
            columns.map(|f| columns_of_fields(f).unwrap()),
        )
        .query()
    };
    // A v2 table: the columns it lacks are typed nulls, never names.
    let q = compile(Some(format::DEFAULT_V2)).unwrap();
    assert!(q.contains("CAST(NULL AS INTEGER) AS flags"), "{q}");
    assert!(!q.contains("\"tcp_flags\""));
    assert!(q.contains("\"srcaddr\" AS srcaddr"));
    // Every column by default.
    let q = compile(None).unwrap();
    assert!(q.contains("\"tcp_flags\" AS flags"));
    let e = compile(Some("version interface-id dstaddr"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--fields has no srcaddr"), "{e}");
}

#[test]
fn rules_for_a_cluster_come_first_then_by_name_then_defaults() {
    let p = policy(
        "[defaults]\ningress_from_cidrs = [\"vpc\"]\n\
         [[service]]\nname = \"api\"\ningress_from_cidrs = [\"vpc\"]\n\
         [[service]]\nname = \"api\"\ncluster = \"arn:aws:ecs:us-east-1:1:cluster/pci\"\ningress_from_cidrs = [\"vpc\"]\n",
    );
    let q = Query {
        c: &compile(&p, Dialect::Trino, Tables::default(), None),
        d: Dialect::Trino,
        rules: rules(&p),
        sgs: Vec::new(),
        flows: "flows".into(),
        map: "eni_map".into(),
    };
    assert_eq!(
        q.rule_for("s", "c", None),
        "CASE WHEN s = 'api' AND regexp_extract(c, '[^/]*$') = 'pci' THEN 1 \
         WHEN s = 'api' THEN 0 ELSE 2 END"
    );
}

#[test]
fn table_name_injection_is_refused_and_quoted_names_are_requoted() {
    let parts = |t: &str| TableName::parse(t).map(|n| n.parts().to_vec());
    assert_eq!(parts("flows").unwrap(), ["flows"]);
    assert_eq!(
        parts("\"my db\".`s``x`.t_1").unwrap(),
        ["my db", "s`x", "t_1"]
    );
    assert_eq!(parts("\"a\"\"b\"").unwrap(), ["a\"b"]);
    let err = |t: &str| TableName::parse(t).unwrap_err().to_string();
    assert!(err("flows LIMIT 0) SELECT 1").starts_with("a space (byte 5)"));
    assert!(err("flows;").starts_with("';' (byte 5)"));
    assert!(err("\"a\nb\"").starts_with("a line feed (byte 2) cannot be in a name"));
    assert!(err("\"${x}\"").contains("'${'"));
    assert!(err("a.").starts_with("an empty part"));
    assert!(err(".a").starts_with("an empty part"));
    assert!(err("\"a\"b").starts_with("'b' (byte 3) after a quoted part"));
    let name = TableName::parse("cat.\"my db\".flows").unwrap();
    assert_eq!(
        name.quoted(Quoting::Ansi).unwrap(),
        "\"cat\".\"my db\".\"flows\""
    );
    assert_eq!(
        name.quoted(Quoting::Spark).unwrap(),
        "`cat`.`my db`.`flows`"
    );
}

// Its assertions are alike in shape with those of `literals_columns_and_required_fields`:
// kept on purpose, one line a case.
#[test]
fn spark_literals_leave_no_dollar_brace_to_substitute() {
    assert_eq!(Dialect::Spark.lit("${env:HOME}"), "'$\\u007Benv:HOME}'");
    assert_eq!(Dialect::Spark.lit("$${a}"), "'$$\\u007Ba}'");
    assert_eq!(Dialect::Spark.lit("{$}"), "'{$}'");
    assert_eq!(Dialect::Duckdb.lit("${env:HOME}"), "'${env:HOME}'");
    assert_eq!(Quoting::Hive.literal("o'brien\\"), "'o\\'brien\\\\'");
    assert!(Quoting::Spark.identifier("a${b}").is_err());
    assert_eq!(Quoting::Ansi.identifier("a${b}").unwrap(), "\"a${b}\"");
    assert_eq!(Quoting::Spark.comment("a\nb ${x}"), "a\\u{a}b $\\u{7b}x}");
}

#[test]
fn every_literal_of_the_query_goes_through_the_dialects_quoting() {
    // A policy of hostile names: on Spark no `${` is left anywhere, and the header
    // comment is one line per line the query means.
    let p = policy(
        "[[service]]\nname = \"${env:HOME}\"\ningress_from_services = [\"$${a}\", \"it's\"]\n\
         ingress_from_load_balancers = [\"app/${x}\"]\n",
    );
    let tables = Tables::parse("`we``ird`", "m").unwrap();
    let q = compile(&p, Dialect::Spark, tables, None).query().unwrap();
    assert!(!q.contains("${"), "{q}");
    assert!(q.contains("'$\\u007Benv:HOME}'"));
    assert!(q.contains("'it\\'s'"));
    assert!(q.contains("FROM `we``ird`"));
}

#[test]
fn the_status_row_says_privatelink_could_not_judge_in_the_audits_words() {
    // The query takes the audit's sentence after its count: the count and "record(s)"
    // come first, whatever the count.
    for n in [1, 2, 7] {
        let words = crate::policy::audit::aws_unknown_words(n);
        let rest = crate::policy::audit::aws_unknown_words(2)
            .strip_prefix("2 records")
            .unwrap()
            .to_string();
        let plural = if n == 1 { "" } else { "s" };
        assert_eq!(words, format!("{n} record{plural}{rest}"));
    }
    let p = policy("[[service]]\nname = \"web\"\nprivate_aws_access = true\n");
    let q = compile(&p, Dialect::Duckdb, Tables::default(), None)
        .query()
        .unwrap();
    assert!(
        q.contains("'privatelink-bypass could not be judged: '"),
        "{q}"
    );
    assert!(q.contains("'_status'"));
    assert!(q.contains("'judged'"));
}

#[test]
fn finding_kinds_and_severities_are_numbered_from_the_native_lists() {
    for c in Check::ALL {
        assert_eq!(Check::ALL[rank(c)], c);
    }
    // The least `sev` is the worst, as `MIN(sev)` takes it.
    assert_eq!(SEVERITIES.map(sev), [1, 2, 3]);
    assert!(SEVERITIES.windows(2).all(|w| w[0] < w[1]));
    let p = policy("[[service]]\nname = \"web\"\nrequire_encryption = true\n");
    let q = compile(&p, Dialect::Duckdb, Tables::default(), None)
        .query()
        .unwrap();
    let clear = findings::kind(Check::Cleartext);
    assert!(
        q.contains(&format!("k = {clear} AND ue_n > 0 AS ev_status")),
        "{q}"
    );
    assert!(q.contains(&format!("own_port < {}", crate::initiator::EPHEMERAL_FROM)));
    assert!(q.contains(&format!(
        "COUNT(DISTINCT own) <= {}",
        crate::enrich::orient::MAX_LEARNED
    )));
    assert!(q.contains("WHEN 2 THEN 'cleartext'"));
}
