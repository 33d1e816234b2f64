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

#[test]
fn literals_columns_and_required_fields() {
    assert_eq!(Dialect::Spark.lit("AWS's"), "'AWS\\'s'");
    assert_eq!(Dialect::Trino.lit("AWS's"), "'AWS''s'");
    assert_eq!(Dialect::Spark.ident("end"), "`end`");
    assert_eq!(Dialect::Duckdb.ident("end"), "\"end\"");
    let p = policy("[[service]]\nname = \"web\"\ningress_from_cidrs = [\"vpc\"]\n");
    let compile = |columns: Option<&str>| {
        Compile {
            policy: &p,
            checks: Checks::ALL,
            aws_ranges: None,
            dialect: Dialect::Duckdb,
            tables: Tables::default(),
            columns: columns.map(|f| columns_of_fields(f).unwrap()),
        }
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
    let e = compile(Some("version interface-id dstaddr")).unwrap_err();
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
        c: &Compile {
            policy: &p,
            checks: Checks::ALL,
            aws_ranges: None,
            dialect: Dialect::Trino,
            tables: Tables::default(),
            columns: None,
        },
        d: Dialect::Trino,
        rules: rules(&p),
        sgs: Vec::new(),
    };
    assert_eq!(
        q.rule_for("s", "c"),
        "CASE WHEN s = 'api' AND regexp_extract(c, '[^/]*$') = 'pci' THEN 1 \
         WHEN s = 'api' THEN 0 ELSE 2 END"
    );
}
