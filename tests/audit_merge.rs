//! The audit's state is mergeable: whatever way the records are split among workers
//! and in whatever order the workers' states are merged, the findings and the summary
//! are the same as from one state that saw every record. Random records over every
//! rule's inputs (flags, actions, encryption-status, AWS services, traffic-path, IPv6).

use std::sync::Arc;

use proptest::prelude::*;
use vpcflow::enrich::load::parse_map;
use vpcflow::enrich::{EniMap, Enricher};
use vpcflow::parse::{decode_slice, DecoderOptions};
use vpcflow::policy::audit::{AuditState, Auditor, Check};
use vpcflow::policy::{CommandLineRules, Policy};

const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
eni-api,task,2600:1f18::20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
eni-pay,task,10.0.3.30,arn:aws:ecs:us-east-1:1:task/pci/pay1,pci,payments,payments,sg-pay,,,,
eni-wrk,task,10.0.4.40,arn:aws:ecs:us-east-1:1:task/prod/wrk1,prod,worker,worker,sg-wrk,,,,
eni-vpce,vpce,10.0.0.99,,,,,sg-vpce,,,,
eni-db,other,10.0.64.25,,,,,sg-db,,,,
";

const POLICY: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16", "2600:1f18::/32"]
[[service]]
name = "web"
ports = [8080]
ingress_from_cidrs = ["vpc"]
private_aws_access = true
[[service]]
name = "api"
ports = [9090]
ingress_from_services = ["web", "payments"]
egress_to_security_groups = ["sg-db"]
require_encryption = true
[[service]]
name = "payments"
cluster = "pci"
ingress_from_services = ["web"]
isolated = true
[[service]]
name = "worker"
egress_to_cidrs = ["0.0.0.0/0"]
egress_ports = [443]
"#;

const BASELINE: &str = r#"
[[service]]
name = "web"
ingress_from_cidrs = ["10.0.0.0/16"]
egress_to_cidrs = ["52.216.8.117/32"]
[[service]]
name = "api"
ingress_from_services = ["web"]
"#;

const HEADER: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets \
                      bytes start end action log-status tcp-flags pkt-src-aws-service \
                      pkt-dst-aws-service traffic-path encryption-status";

const TASKS: [(&str, &str); 5] = [
    ("eni-web", "10.0.1.10"),
    ("eni-api", "10.0.2.20"),
    ("eni-api", "2600:1f18::20"),
    ("eni-pay", "10.0.3.30"),
    ("eni-wrk", "10.0.4.40"),
];
const PEERS: [&str; 9] = [
    "10.0.1.10",
    "10.0.2.20",
    "10.0.0.99",
    "10.0.64.25",
    "52.216.8.117",
    "151.101.1.69",
    "198.51.100.7",
    "2001:db8::7",
    "10.0.9.9",
];
const PORTS: [u16; 8] = [80, 443, 5432, 8080, 9090, 40001, 40002, 55555];

/// One record: (task, peer, own port, peer port, outbound, action, flags, status,
/// service, path, minute).
type Rec = (usize, usize, usize, usize, bool, bool, u8, u8, u8, u8, i64);

fn line(r: &Rec) -> Option<String> {
    let (task, peer, op, pp, out, reject, flags, enc, svc, path, at) = *r;
    let (eni, own) = TASKS[task];
    let peer = PEERS[peer];
    if own.contains(':') != peer.contains(':') {
        return None;
    }
    let (op, pp) = (PORTS[op], PORTS[pp]);
    let (src, dst, sp, dp) = if out {
        (own, peer, op, pp)
    } else {
        (peer, own, pp, op)
    };
    let t = 1_793_491_200 + at * 60;
    let flags = [0, 2, 18, 3, 19][flags as usize % 5];
    let enc = ["-", "0", "1", "2"][enc as usize % 4];
    let svc = ["-", "S3", "AMAZON", "EC2"][svc as usize % 4];
    let (ssvc, dsvc) = if out { ("-", svc) } else { (svc, "-") };
    let path = ["-", "1", "7", "8"][path as usize % 4];
    let action = if reject { "REJECT" } else { "ACCEPT" };
    Some(format!(
        "10 {eni} {src} {dst} {sp} {dp} 6 3 300 {t} {} {action} OK {flags} {ssvc} {dsvc} {path} {enc}\n",
        t + 30
    ))
}

fn records() -> impl Strategy<Value = Vec<Rec>> {
    let rec = (
        0..TASKS.len(),
        0..PEERS.len(),
        0..PORTS.len(),
        0..PORTS.len(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        0u8..5,
        0u8..4,
        0u8..4,
        0u8..4,
        0i64..30,
    );
    prop::collection::vec(rec, 1..120)
}

/// The findings and summary figures of one state over every record, and of states
/// over the parts between `cuts` merged (in reverse order if asked): both as text.
fn whole_and_merged(
    recs: &[Rec],
    cuts: &[usize],
    reverse: bool,
) -> [(String, [u64; Check::COUNT]); 2] {
    let map = Arc::new(EniMap::from_facts(
        parse_map("map.csv", MAP.as_bytes()).unwrap().facts,
    ));
    let mut policy = Policy::parse("p.toml", POLICY, &[], &CommandLineRules::default()).unwrap();
    policy.check_against("p.toml", &map).unwrap();
    // A baseline that knows some peers of web and api, and nothing of the others: every
    // rule, new-peer too, has findings to merge.
    let baseline = Policy::parse("b.toml", BASELINE, &[], &CommandLineRules::default()).unwrap();
    policy.add_baseline(&baseline);
    let enricher = Enricher::new(map.clone(), &policy.vpc_cidrs);
    let auditor = Auditor::new(&policy, &map);
    let text: String = std::iter::once(format!("{HEADER}\n"))
        .chain(recs.iter().filter_map(line))
        .collect();
    let decoded = decode_slice(
        text.as_bytes(),
        DecoderOptions {
            batch_size: 1,
            ..DecoderOptions::default()
        },
    );
    assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
    let batches: Vec<_> = decoded
        .batches
        .iter()
        .map(|b| enricher.enrich(b).0)
        .collect();
    let mut whole = AuditState::default();
    for b in &batches {
        whole.add(b, &auditor);
    }
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (batches.len() + 1)).collect();
    at.extend([0, batches.len()]);
    at.sort_unstable();
    let mut parts: Vec<AuditState> = at
        .windows(2)
        .map(|w| {
            let mut s = AuditState::default();
            for b in &batches[w[0]..w[1]] {
                s.add(b, &auditor);
            }
            s
        })
        .collect();
    if reverse {
        parts.reverse();
    }
    let mut merged = AuditState::default();
    for p in parts {
        merged.merge(p);
    }
    [whole, merged].map(|state| {
        let (f, s) = state.finish(&auditor);
        let text = format!(
            "{}\n{:?} {} {} {:?}",
            serde_json::to_string(&f).unwrap(),
            s.by_rule,
            s.connections,
            s.undecided,
            s.counts
        );
        (text, s.by_rule)
    })
}

#[test]
fn the_random_records_reach_every_rule() {
    // The generator below is worth its runs only if it makes findings of every rule.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let recs: Vec<Rec> = (0..3000)
        .map(|_| {
            (
                next(TASKS.len()),
                next(PEERS.len()),
                next(PORTS.len()),
                next(PORTS.len()),
                next(2) == 0,
                next(5) == 0,
                next(5) as u8,
                next(4) as u8,
                next(4) as u8,
                next(4) as u8,
                next(30) as i64,
            )
        })
        .collect();
    let [(whole, by_rule), (merged, _)] = whole_and_merged(&recs, &[1000, 2000], true);
    assert!(by_rule.iter().all(|n| *n > 0), "{by_rule:?}");
    assert_eq!(whole, merged);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn findings_do_not_depend_on_how_records_are_split_or_merged(
        recs in records(),
        cuts in prop::collection::vec(any::<usize>(), 1..4),
        reverse in any::<bool>(),
    ) {
        let [(whole, _), (merged, _)] = whole_and_merged(&recs, &cuts, reverse);
        prop_assert_eq!(whole, merged);
    }
}
