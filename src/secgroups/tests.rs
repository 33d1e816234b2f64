use serde_json::json;

use super::*;
use crate::net::addr;

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

fn parse(v: serde_json::Value) -> SecurityGroups {
    SecurityGroups::parse("sg.json", v.to_string().as_bytes()).unwrap()
}

fn err(v: &str) -> String {
    SecurityGroups::parse("sg.json", v.as_bytes())
        .unwrap_err()
        .to_string()
}

fn rule(group: &str, direction: Direction, protocol: i32, ports: Ports, source: Source) -> SgRule {
    SgRule {
        group_id: group.into(),
        rule_id: None,
        direction,
        protocol,
        ports,
        source,
        description: None,
    }
}

#[test]
fn one_rule_per_source_of_a_permission() {
    let g = parse(json!({"SecurityGroups": [{
        "GroupId": "sg-1", "GroupName": "web", "VpcId": "vpc-1",
        "IpPermissions": [{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16", "Description": "office"}],
            "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
            "PrefixListIds": [{"PrefixListId": "pl-0a1"}],
            "UserIdGroupPairs": [{"GroupId": "sg-alb", "UserId": "123456789012"}]
        }],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    }]}));
    let tcp = Ports::Range(443, 443);
    let mut office = rule(
        "sg-1",
        Direction::Ingress,
        6,
        tcp,
        Source::Cidr(cidr("192.168.0.0/16")),
    );
    office.description = Some("office".into());
    let expected = [
        rule(
            "sg-1",
            Direction::Ingress,
            6,
            tcp,
            Source::Cidr(cidr("10.0.0.0/8")),
        ),
        office,
        rule(
            "sg-1",
            Direction::Ingress,
            6,
            tcp,
            Source::Cidr(cidr("2001:db8::/32")),
        ),
        rule(
            "sg-1",
            Direction::Ingress,
            6,
            tcp,
            Source::PrefixList("pl-0a1".into()),
        ),
        rule(
            "sg-1",
            Direction::Ingress,
            6,
            tcp,
            Source::Group("sg-alb".into()),
        ),
        rule(
            "sg-1",
            Direction::Egress,
            -1,
            Ports::All,
            Source::Cidr(cidr("0.0.0.0/0")),
        ),
    ];
    assert_eq!(g.rules(), &expected[..]);
    assert_eq!(
        g.groups(),
        &[GroupInfo {
            id: "sg-1".into(),
            name: Some("web".into()),
            vpc_id: Some("vpc-1".into())
        }]
    );
}

#[test]
fn security_group_rules_keep_their_ids() {
    let g = parse(json!({"SecurityGroupRules": [
        {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": false,
         "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "CidrIpv4": "10.0.0.0/16"},
        {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-1", "IsEgress": true,
         "IpProtocol": "icmpv6", "FromPort": 128, "ToPort": -1,
         "ReferencedGroupInfo": {"GroupId": "sg-2", "UserId": "1"}, "Description": "ping"},
        {"GroupId": "sg-1", "IsEgress": true, "IpProtocol": "132", "PrefixListId": "pl-9"}
    ]}));
    let r = g.rules();
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0].to_string(),
        "sg-1 ingress udp 53 from 10.0.0.0/16 (sgr-1)"
    );
    assert_eq!(
        r[1].to_string(),
        "sg-1 egress icmpv6 type 128 to sg-2 (sgr-2)"
    );
    assert_eq!(r[1].description.as_deref(), Some("ping"));
    assert_eq!(r[2].to_string(), "sg-1 egress protocol 132 to pl-9");
    assert_eq!(r[2].ports, Ports::All);
}

#[test]
fn rules_read_as_one_line() {
    let all = rule(
        "sg-0abc",
        Direction::Egress,
        -1,
        Ports::All,
        Source::Group("sg-0def".into()),
    );
    assert_eq!(all.to_string(), "sg-0abc egress all to sg-0def");
    let mut range = rule(
        "sg-0abc",
        Direction::Ingress,
        6,
        Ports::Range(1024, 65535),
        Source::PrefixList("pl-0123".into()),
    );
    assert_eq!(
        range.to_string(),
        "sg-0abc ingress tcp 1024-65535 from pl-0123"
    );
    range.rule_id = Some("sgr-9".into());
    assert_eq!(
        range.to_string(),
        "sg-0abc ingress tcp 1024-65535 from pl-0123 (sgr-9)"
    );
    let icmp = rule(
        "sg-0abc",
        Direction::Ingress,
        1,
        Ports::Icmp { kind: 8, code: 0 },
        Source::Cidr(cidr("0.0.0.0/0")),
    );
    assert_eq!(
        icmp.to_string(),
        "sg-0abc ingress icmp type 8 code 0 from 0.0.0.0/0"
    );
    let hostile = rule(
        "sg-\u{1b}[2J",
        Direction::Ingress,
        -1,
        Ports::All,
        Source::Group("sg-\u{202e}x".into()),
    );
    assert_eq!(
        hostile.to_string(),
        "sg-\\u{1b}[2J ingress all from sg-\\u{202e}x"
    );
}

#[test]
fn bad_values_are_named_by_their_json_path() {
    let group = |perm: &str| {
        format!(
            r#"{{"SecurityGroups": [{{"GroupId": "sg-0"}}, {{"GroupId": "sg-1", "IpPermissions": [{perm}]}}]}}"#
        )
    };
    assert_eq!(
        err(&group(
            r#"{"IpProtocol": "tcp", "FromPort": 70000, "ToPort": 70000}"#
        )),
        "sg.json: SecurityGroups[1].IpPermissions[0].FromPort: 70000 is not a port (0-65535)"
    );
    assert_eq!(
        err(&group(
            r#"{"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80}"#
        )),
        "sg.json: SecurityGroups[1].IpPermissions[0].ToPort: 80 is below FromPort 90"
    );
    assert_eq!(
        err(&group(
            r#"{"IpProtocol": "tcp", "FromPort": "80", "ToPort": 80}"#
        )),
        "sg.json: SecurityGroups[1].IpPermissions[0].FromPort: expected an integer, found \"80\""
    );
    assert_eq!(
        err(&group(r#"{"IpProtocol": "tcp", "ToPort": 80}"#)),
        "sg.json: SecurityGroups[1].IpPermissions[0].FromPort: missing (a TCP or UDP rule has a port range)"
    );
    assert_eq!(
        err(&group(r#"{"IpProtocol": "icmp", "FromPort": 300, "ToPort": -1}"#)),
        "sg.json: SecurityGroups[1].IpPermissions[0].FromPort: 300 is not an ICMP type (-1 for all, or 0-255)"
    );
    assert_eq!(
        err(&group(r#"{"IpProtocol": "tpc"}"#)),
        "sg.json: SecurityGroups[1].IpPermissions[0].IpProtocol: \"tpc\" is not a protocol (-1, tcp, udp, icmp, icmpv6 or 0-255)"
    );
    assert_eq!(
        err(&group(r#"{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.300/8"}]}"#)),
        "sg.json: SecurityGroups[1].IpPermissions[0].IpRanges[1].CidrIp: \"10.0.0.300/8\" is not a CIDR block"
    );
    assert_eq!(
        err(&group(r#"{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]}"#)),
        "sg.json: SecurityGroups[1].IpPermissions[0].Ipv6Ranges[0].CidrIpv6: \"10.0.0.0/8\" is not an IPv6 block"
    );
    assert_eq!(
        err(&group(
            r#"{"IpProtocol": "-1", "UserIdGroupPairs": [{"UserId": "1"}]}"#
        )),
        "sg.json: SecurityGroups[1].IpPermissions[0].UserIdGroupPairs[0].GroupId: missing"
    );
    assert_eq!(
        err(r#"{"SecurityGroups": [{"GroupName": "x"}]}"#),
        "sg.json: SecurityGroups[0].GroupId: missing"
    );
    assert_eq!(
        err(r#"{"SecurityGroups": {"GroupId": "sg-1"}}"#),
        "sg.json: SecurityGroups: expected an array, found an object"
    );
    assert_eq!(
        err(r#"{"SecurityGroupRules": [{"GroupId": "sg-1", "IsEgress": false, "IpProtocol": "-1"}]}"#),
        "sg.json: SecurityGroupRules[0]: 0 sources: a rule has exactly one of CidrIpv4, CidrIpv6, PrefixListId and ReferencedGroupInfo"
    );
    assert_eq!(
        err(
            r#"{"SecurityGroupRules": [{"GroupId": "sg-1", "IsEgress": "no", "IpProtocol": "-1"}]}"#
        ),
        "sg.json: SecurityGroupRules[0].IsEgress: expected true or false, found \"no\""
    );
}

#[test]
fn other_documents_say_what_they_look_like() {
    let tail = ", not describe-security-groups output (an object with \"SecurityGroups\") or \
                describe-security-group-rules output (\"SecurityGroupRules\")";
    assert_eq!(
        err(r#"{"NetworkInterfaces": []}"#),
        format!("sg.json: this looks like describe-network-interfaces output{tail}")
    );
    assert_eq!(
        err("[]"),
        format!("sg.json: this is an array, not an object{tail}")
    );
    assert_eq!(
        err("{}"),
        format!("sg.json: this is an empty JSON object{tail}")
    );
    assert_eq!(
        err(r#"{"a": 1, "b": 2}"#),
        format!("sg.json: this is a JSON object with \"a\", \"b\"{tail}")
    );
}

#[test]
fn truncated_json_says_where() {
    let e = SecurityGroups::parse(
        "sg.json",
        b"{\"SecurityGroups\": [\n  {\"GroupId\": \"sg-1\"",
    )
    .unwrap_err();
    match &e {
        SgError::Json { line, column, .. } => assert_eq!((*line, *column), (2, 20)),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("sg.json: not valid JSON at line 2, column 20: EOF"),
        "{e}"
    );
}

#[test]
fn prefix_lists_from_a_named_file_or_a_map() {
    let mut g = SecurityGroups::default();
    let entries = json!({"Entries": [{"Cidr": "52.216.0.0/15", "Description": "s3"}]}).to_string();
    g.add_prefix_lists("lists/pl-63a5400a.json", entries.as_bytes())
        .unwrap();
    assert_eq!(
        g.prefix_list("pl-63a5400a"),
        Some(&[cidr("52.216.0.0/15")][..])
    );
    let map = json!({"pl-0b": {"Entries": [{"Cidr": "10.1.0.0/16"}, {"Cidr": "fd00::/8"}]}, "pl-0c": {"Entries": []}});
    g.add_prefix_lists("lists.json", map.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        g.prefix_list("pl-0b"),
        Some(&[cidr("10.1.0.0/16"), cidr("fd00::/8")][..])
    );
    assert_eq!(g.prefix_list("pl-0c"), Some(&[][..]));
    assert_eq!(g.prefix_list("pl-0d"), None);

    let e = g
        .add_prefix_lists("entries.json", entries.as_bytes())
        .unwrap_err();
    assert_eq!(
        e,
        SgError::PrefixListId {
            file: "entries.json".into()
        }
    );
    assert!(
        e.to_string()
            .contains("name the file after the list (pl-0abc.json)"),
        "{e}"
    );
    let e = g
        .add_prefix_lists(
            "x.json",
            br#"{"pl-0b": {"Entries": [{"Cidr": "10.1.0.0/33"}]}}"#,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.json: pl-0b.Entries[0].Cidr: \"10.1.0.0/33\" is not a CIDR block"
    );
    let e = g
        .add_prefix_lists("x.json", br#"{"SecurityGroups": []}"#)
        .unwrap_err();
    assert!(matches!(e, SgError::Shape { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("({\"pl-0abc\": {\"Entries\": [...]}})"),
        "{e}"
    );
    let e = g
        .add_prefix_lists("x.json", br#"{"pl-0b": {"Cidrs": []}}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "x.json: pl-0b: missing \"Entries\"");
}

/// A group set for the matching tests: sg-web with rules of every kind of source.
fn web() -> SecurityGroups {
    let mut g = parse(json!({"SecurityGroups": [{
        "GroupId": "sg-web",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/16"}],
             "UserIdGroupPairs": [{"GroupId": "sg-alb"}]},
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 9000, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.1.0/24"}]},
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "PrefixListIds": [{"PrefixListId": "pl-1"}]},
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        ]
    }]}));
    g.add_prefix_lists("pl-1.json", br#"{"Entries": [{"Cidr": "10.0.1.128/25"}]}"#)
        .unwrap();
    g
}

#[test]
fn the_most_specific_rule_admits() {
    let g = web();
    let own = vec!["sg-web".to_string()];
    let pick = |port: u16, peer: &str, peer_groups: &[String]| {
        admitting_rule(&g, &own, false, 6, port, &addr(peer).unwrap(), peer_groups)
            .map(|r| r.to_string())
    };
    let alb = vec!["sg-alb".to_string()];
    // Five rules hold 10.0.1.200 on 8080 from sg-alb; the group reference wins.
    assert_eq!(
        pick(8080, "10.0.1.200", &alb).as_deref(),
        Some("sg-web ingress tcp 8080 from sg-alb")
    );
    // Without the group: the prefix list's /25 is the longest prefix.
    assert_eq!(
        pick(8080, "10.0.1.200", &[]).as_deref(),
        Some("sg-web ingress tcp 8080 from pl-1")
    );
    // 10.0.1.5: /24 twice (8000-9000 and all protocols); the narrower port range wins.
    assert_eq!(
        pick(8080, "10.0.1.5", &[]).as_deref(),
        Some("sg-web ingress tcp 8000-9000 from 10.0.1.0/24")
    );
    assert_eq!(
        pick(8080, "10.0.2.5", &[]).as_deref(),
        Some("sg-web ingress tcp 8080 from 10.0.0.0/16")
    );
    assert_eq!(
        pick(8080, "8.8.8.8", &[]).as_deref(),
        Some("sg-web ingress tcp 8080 from 0.0.0.0/0")
    );
    assert_eq!(pick(22, "8.8.8.8", &[]), None);
    assert_eq!(
        pick(8080, "2001:db8::1", &[]),
        None,
        "IPv4 blocks hold no IPv6 peer"
    );
    // Egress: no egress rule at all.
    assert_eq!(
        admitting_rule(&g, &own, true, 6, 8080, &addr("8.8.8.8").unwrap(), &[]),
        None
    );
    // ICMP: the type-specific rule admits any ICMP connection of its source.
    assert_eq!(
        admitting_rule(&g, &own, false, 1, 0, &addr("10.9.0.1").unwrap(), &[])
            .map(|r| r.to_string()),
        Some("sg-web ingress icmp type 8 code 0 from 10.0.0.0/8".into())
    );
    // A group the ENI does not have judges nothing.
    assert_eq!(
        admitting_rule(
            &g,
            &["sg-other".into()],
            false,
            6,
            8080,
            &addr("8.8.8.8").unwrap(),
            &[]
        ),
        None
    );
}

#[test]
fn a_prefix_list_without_entries_admits_nothing_known() {
    let mut g = parse(
        json!({"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-2"}]}]}]}),
    );
    let own = vec!["sg-1".to_string()];
    let peer = addr("52.216.1.1").unwrap();
    assert_eq!(admitting_rule(&g, &own, false, 6, 443, &peer, &[]), None);
    g.add_prefix_lists("pl-2.json", br#"{"Entries": [{"Cidr": "52.216.0.0/15"}]}"#)
        .unwrap();
    assert_eq!(
        admitting_rule(&g, &own, false, 6, 443, &peer, &[]).map(|r| r.to_string()),
        Some("sg-1 ingress tcp 443 from pl-2".into())
    );
}

#[test]
fn source_text_and_order() {
    let mut s = [
        Source::Cidr(cidr("::/0")),
        Source::Cidr(cidr("10.0.0.0/8")),
        Source::PrefixList("pl-1".into()),
        Source::Group("sg-b".into()),
        Source::Cidr(cidr("0.0.0.0/0")),
        Source::Group("sg-a".into()),
    ];
    s.sort();
    let text: Vec<String> = s.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        text,
        ["sg-a", "sg-b", "pl-1", "0.0.0.0/0", "10.0.0.0/8", "::/0"]
    );
    assert_eq!(serde_json::to_string(&s[3]).unwrap(), "\"0.0.0.0/0\"");
}

#[test]
fn descriptions_keep_to_what_ec2_accepts() {
    let d = review::aws_description("service web (cluster prod) \"x\" é\n");
    assert_eq!(d, "service web (cluster prod) _x_ __");
    assert_eq!(review::aws_description(&"a".repeat(300)).len(), 255);
}

#[test]
fn every_cut_of_a_document_is_an_error_not_a_panic() {
    let doc = json!({"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}]})
    .to_string();
    for cut in 0..doc.len() {
        assert!(
            SecurityGroups::parse("x", &doc.as_bytes()[..cut]).is_err(),
            "{cut}"
        );
        let mut g = SecurityGroups::default();
        assert!(
            g.add_prefix_lists("pl-1", &doc.as_bytes()[..cut]).is_err(),
            "{cut}"
        );
    }
    assert_eq!(
        SecurityGroups::parse("x", doc.as_bytes())
            .unwrap()
            .rules()
            .len(),
        2
    );
}
