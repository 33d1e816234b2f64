//! Attribution and policy-check throughput (records/s) on 4 million decoded records,
//! with a map of thousands of task ENIs whose addresses are reused over a day:
//! `Enricher::enrich` alone, then the audit's fold (`AuditState::add`) over enriched
//! batches plus its decision (`finish`).
//!
//! `cargo bench --bench join`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vpcflow::enrich::{EniMap, Enricher, MapRow, PeerKind};
use vpcflow::net::v4;
use vpcflow::parse::{decode_slice, DecoderOptions};
use vpcflow::policy::audit::{AuditState, Auditor};
use vpcflow::policy::{CommandLineRules, Policy};

const TASKS_PER_SLOT: u32 = 2000;
const SLOTS: i64 = 12; // each address is reused by 12 tasks over the day
const T0: i64 = 1_793_491_200;
const SLOT: i64 = 7200;

fn addr(i: u32) -> [u8; 16] {
    v4(10, 0, (i / 250) as u8, (i % 250 + 1) as u8)
}

fn map() -> EniMap {
    let mut rows = Vec::new();
    for slot in 0..SLOTS {
        for i in 0..TASKS_PER_SLOT {
            let services = ["web", "api", "worker", "admin-gateway"];
            let service = services[((i as i64 + slot) % 4) as usize];
            rows.push(MapRow {
                eni_id: format!("eni-{slot:02}{i:015x}"),
                kind: PeerKind::Task,
                private_ip: addr(i),
                task_arn: Some(format!(
                    "arn:aws:ecs:us-east-1:123456789012:task/prod/{slot:02}{i:030x}"
                )),
                cluster: Some("prod".into()),
                service: Some(service.into()),
                task_family: Some(service.into()),
                security_groups: vec![format!("sg-{service}")],
                subnet_id: None,
                vpc_id: None,
                valid_from: Some(T0 + slot * SLOT),
                valid_to: Some(T0 + (slot + 1) * SLOT),
                load_balancer: None,
                source: String::new(),
                origin: String::new(),
            });
        }
    }
    EniMap::from_rows(rows)
}

/// v5-style records on task ENIs talking to other tasks and to the internet.
fn records(n: u32) -> Vec<u8> {
    let mut out = b"version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction\n".to_vec();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for r in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = (r as i64 * SLOTS) / n as i64;
        let own = (x % TASKS_PER_SLOT as u64) as u32;
        let peer = ((x >> 20) % TASKS_PER_SLOT as u64) as u32;
        let t = T0 + slot * SLOT + (x >> 40) as i64 % SLOT;
        let own_ip = vpcflow::net::addr_string(&addr(own));
        let peer_ip = if x.is_multiple_of(5) {
            format!("198.51.100.{}", x % 250)
        } else {
            vpcflow::net::addr_string(&addr(peer))
        };
        let line = if x.is_multiple_of(2) {
            format!("5 eni-{slot:02}{own:015x} {peer_ip} {own_ip} 40000 8080 6 5 900 {t} {t} ACCEPT OK ingress\n")
        } else {
            format!("5 eni-{slot:02}{own:015x} {own_ip} {peer_ip} 8080 40000 6 5 900 {t} {t} ACCEPT OK egress\n")
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn bench(c: &mut Criterion) {
    let enricher = Enricher::new(Arc::new(map()), &["10.0.0.0/16".parse().unwrap()]);
    let n = 4_000_000;
    let decoded = decode_slice(&records(n), DecoderOptions::default());
    assert_eq!(decoded.counts.records, n as u64);
    let mut group = c.benchmark_group("join");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("enrich_4M_records_24k_task_windows", |b| {
        b.iter(|| {
            let mut own = 0;
            for batch in &decoded.batches {
                let (out, stats) = enricher.enrich(black_box(batch));
                own += stats.own_from_map;
                black_box(out);
            }
            assert_eq!(own, n as u64);
        })
    });
    group.finish();

    let policy = Policy::parse(
        "bench.toml",
        "[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n\
         [[service]]\nname = \"web\"\nports = [8080]\ningress_from_services = [\"api\"]\n\
         [[service]]\nname = \"api\"\nports = [8080]\ningress_from_cidrs = [\"vpc\"]\n\
         [[service]]\nname = \"worker\"\n\
         [[service]]\nname = \"admin-gateway\"\ningress_from_services = [\"web\", \"api\"]\n",
        &[],
        &CommandLineRules::default(),
    )
    .unwrap();
    let enriched: Vec<_> = decoded
        .batches
        .iter()
        .map(|b| enricher.enrich(b).0)
        .collect();
    let auditor = Auditor::new(&policy, enricher.map());
    let mut group = c.benchmark_group("policy");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("audit_4M_enriched_records", |b| {
        b.iter(|| {
            let mut state = AuditState::default();
            for batch in &enriched {
                state.add(black_box(batch), &auditor);
            }
            let (findings, summary) = state.finish(&auditor);
            assert!(summary.tasks_audited > 0);
            findings.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
