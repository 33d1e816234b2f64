//! Decoder throughput on one core, whole input to batches with every field built: the
//! fast decoder (structural index, column-wise conversion) beside the reference
//! (scalar) decoder, on v2, v5 and v7 lines and on a v2 file whose addresses are all
//! IPv6; and the block classifier alone beside `memchr` counting lines (one pass over
//! the bytes: the memory bandwidth this machine gives one core).
//!
//! The input is built here, deterministically, so the bench needs nothing but cargo:
//! realistic field values (ENIs and accounts that repeat, ephemeral ports, NODATA
//! lines) at about 4 MB per format. Each iteration checks the record count.
//!
//! `cargo bench --bench parse`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vpcflow::parse::classify::{available, index, Index};
use vpcflow::parse::{decode_slice, decode_slice_reference, DecoderOptions};

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const V5: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";
const ECS: &str = "ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id";

/// A small deterministic generator (xorshift), so the bench data never changes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An IPv6 address of the VPC's /56 (or a public one) from a random number.
fn v6(r: &mut Rng, public: bool) -> String {
    if public {
        format!(
            "2a05:d018:{:x}:{:x}::{:x}",
            r.below(65536),
            r.below(65536),
            r.below(65536)
        )
    } else {
        format!(
            "2600:1f18:abcd:ef{:02x}:{:x}:{:x}:{:x}:{:x}",
            r.below(64),
            r.below(65536),
            r.below(65536),
            r.below(65536),
            r.below(65536)
        )
    }
}

/// About `target` bytes of flow-log text of the given version, header first; version
/// 6 here means the v2 fields with IPv6 addresses only.
fn generate(version: u8, target: usize) -> (Vec<u8>, u64) {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let header = match version {
        2 | 6 => V2.to_string(),
        5 => V5.to_string(),
        _ => format!("{V5} {ECS}"),
    };
    let mut out = format!("{header}\n").into_bytes();
    let mut records = 0;
    let services = ["web", "api", "worker", "admin-gateway"];
    while out.len() < target {
        let eni = r.below(40);
        let src = format!("10.0.{}.{}", r.below(64), 1 + r.below(250));
        let (src, dst) = if version == 6 {
            let public = r.below(4) == 0;
            (v6(&mut r, false), v6(&mut r, public))
        } else if r.below(4) == 0 {
            (
                src,
                format!(
                    "{}.{}.{}.{}",
                    3 + r.below(200),
                    r.below(256),
                    r.below(256),
                    1 + r.below(250)
                ),
            )
        } else {
            (src, format!("10.0.{}.{}", r.below(64), 1 + r.below(250)))
        };
        let version = if version == 6 { 2 } else { version };
        let start = 1_793_491_200 + records / 50;
        let nodata = r.below(100) == 0;
        let mut line = if nodata {
            format!(
                "{version} 123456789012 eni-0a{eni:015x} - - - - - - - {start} {} - NODATA",
                start + 60
            )
        } else {
            format!(
                "{version} 123456789012 eni-0a{eni:015x} {src} {dst} {} {} 6 {} {} {start} {} {} OK",
                32768 + r.below(28000),
                [443, 8080, 9090, 5432][r.below(4) as usize],
                1 + r.below(100),
                40 + r.below(150_000),
                start + r.below(60),
                if r.below(20) == 0 { "REJECT" } else { "ACCEPT" },
            )
        };
        if version >= 5 {
            if nodata {
                line.push_str(&" -".repeat(15));
            } else {
                line.push_str(&format!(
                    " vpc-038faba71b3a6cfc9 subnet-0{:016x} - {} IPv4 {src} {dst} us-east-1 use1-az{} - - - - {} {}",
                    eni % 3,
                    [2, 18, 19, 3, 0][r.below(5) as usize],
                    1 + eni % 3,
                    if r.below(2) == 0 { "ingress" } else { "egress" },
                    if r.below(2) == 0 { "1".to_string() } else { "-".to_string() },
                ));
            }
        }
        if version >= 7 {
            let service = services[(eni % 4) as usize];
            line.push_str(&format!(
                " arn:aws:ecs:us-east-1:123456789012:cluster/prod prod - - {:032x} - {service} \
                 arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:7 \
                 arn:aws:ecs:us-east-1:123456789012:task/prod/{:032x} {:032x}",
                eni * 7919,
                eni * 104_729,
                eni * 104_729
            ));
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        records += 1;
    }
    (out, records)
}

fn bench(c: &mut Criterion) {
    let inputs: Vec<(&str, Vec<u8>, u64)> = [(2u8, "v2"), (5, "v5"), (7, "v7"), (6, "v2-ipv6")]
        .into_iter()
        .map(|(v, name)| {
            let (input, records) = generate(v, 4 << 20);
            (name, input, records)
        })
        .collect();
    type Decode = fn(&[u8], DecoderOptions) -> vpcflow::parse::Decoded;
    let decoders: [(&str, Decode); 2] = [
        ("fast", decode_slice),
        ("reference", decode_slice_reference),
    ];
    // The same runs twice: once reported in bytes/s, once in records/s.
    for (unit, name) in [(0, "decode_bytes"), (1, "decode_records")] {
        let mut group = c.benchmark_group(name);
        group.sample_size(15);
        for (label, input, records) in &inputs {
            group.throughput(if unit == 0 {
                Throughput::Bytes(input.len() as u64)
            } else {
                Throughput::Elements(*records)
            });
            for (decoder, decode) in decoders {
                group.bench_function(format!("{decoder}/{label}"), |b| {
                    b.iter(|| {
                        let d = decode(black_box(input), DecoderOptions::default());
                        assert_eq!(d.counts.records, *records);
                        assert_eq!(d.counts.rejected, 0);
                        d.batches.len()
                    })
                });
            }
        }
        group.finish();
    }
    // Stage 1 alone, on the v5 input.
    let (_, input, _) = &inputs[1];
    let mut group = c.benchmark_group("classify");
    group.sample_size(30);
    group.throughput(Throughput::Bytes(input.len() as u64));
    let lines = memchr::memchr_iter(b'\n', input).count();
    let seps = memchr::memchr2_iter(b' ', b'\n', input).count();
    for classifier in available() {
        let mut idx = Index::default();
        group.bench_function(format!("index/{}", classifier.name()), |b| {
            b.iter(|| {
                // In slices, as the decoder indexes its input.
                let mut n = 0;
                for slice in black_box(input).chunks(32 * 1024) {
                    index(classifier, slice, &mut idx);
                    n += idx.separators().len();
                }
                assert_eq!(n, seps);
            })
        });
    }
    group.bench_function("memchr_line_count", |b| {
        b.iter(|| assert_eq!(memchr::memchr_iter(b'\n', black_box(input)).count(), lines))
    });
    group.bench_function("memchr2_separator_count", |b| {
        b.iter(|| {
            assert_eq!(
                memchr::memchr2_iter(b' ', b'\n', black_box(input)).count(),
                seps
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
