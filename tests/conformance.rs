//! Conformance with other projects' VPC Flow Logs test data.
//!
//! Every file of the conformance collection (see `testdata/conformance/PROVENANCE.md` and
//! `../shared/conformance/PROVENANCE.md`) is parsed here:
//! - every input file, with the layout its provenance gives, must decode with the line
//!   accounting an independent reading of the file predicts, every field of every record
//!   equal to that reading (`conformance_support::oracle`), and no rejected line except
//!   in the files that are bad on purpose, whose rejections are asserted exactly;
//! - where the other project ships expected outputs (VRL, flowlogs-reader, Elastic
//!   integrations and Beats, OpenTelemetry), the records are also compared field by field
//!   with those, mapped back to flow-log columns; a column the expected output leaves
//!   out (those projects drop `-` fields) must be null;
//! - `vpcflow cat` itself is run on copied files and its stdout and summary checked.
//!
//! MIT-0 and Apache-2.0 files are copied into `testdata/conformance/`. Elastic License,
//! MPL and unlicensed files are read in place from `../shared/conformance/`; those tests
//! print `skipped: TEST: ../shared/conformance not found (...)` and pass where it is
//! absent.

mod common;
mod conformance_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use conformance_support::{
    assert_record, beats_sample_groups, check, column, get, lines, normalise, oracle, otel_logs,
    parse, read, read_json, read_text, rfc3339_to_unix, shared_dir, shared_part, Parsed, Why,
    COPIED, DEFAULT_V2,
};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------
// Layouts of headerless files (from the PROVENANCE files).

macro_rules! canonical_v5 {
    () => {
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets \
         bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type \
         pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id \
         pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"
    };
}
macro_rules! ecs_doc_order {
    () => {
        " ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn \
         ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name \
         ecs-task-definition-arn ecs-task-arn ecs-task-id"
    };
}

/// The AWS documentation's TCP-flag-sequence example (21 fields).
const TCP_FLAGS_21: &str = "version vpc-id subnet-id instance-id interface-id account-id \
     type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets \
     start end action tcp-flags log-status";
/// The AWS documentation's NAT gateway example (6 fields).
const NAT_6: &str = "instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr";
/// The AWS documentation's Transit Gateway example, VPC side (17 fields).
const TGW_EXAMPLE_17: &str = "version interface-id account-id vpc-id subnet-id instance-id \
     srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr action \
     log-status";
/// The AWS documentation's service/path/direction example (29 fields).
const SERVICE_PATH_29: &str = "version srcaddr dstaddr srcport dstport protocol start end \
     type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id \
     sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr \
     pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status";
/// Every v2-v5 field in the order of the AWS field table.
const CANONICAL_V5_29: &str = canonical_v5!();
/// The canonical 29 plus the ten ECS fields (Elastic's 39-field sample).
const ECS_39: &str = concat!(canonical_v5!(), ecs_doc_order!());
/// The 39 plus `reject-reason` (Elastic's 40-field v8 sample).
const V8_40: &str = concat!(canonical_v5!(), ecs_doc_order!(), " reject-reason");
/// Elastic's 36-field Transit Gateway sample.
const TGW_36: &str = "version resource-type account-id tgw-id tgw-attachment-id \
     tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id \
     tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id \
     tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end \
     log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded \
     packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service \
     pkt-dst-aws-service";
/// The 29 v5 fields in alphabetical order (the console's order; flowlogs-reader's
/// `v5_file` header), which the record of elastic/integrations#8532 uses.
const ALPHABETICAL_V5_29: &str = "account-id action az-id bytes dstaddr dstport end \
     flow-direction instance-id interface-id log-status packets pkt-dst-aws-service \
     pkt-dstaddr pkt-src-aws-service pkt-srcaddr protocol region srcaddr srcport start \
     sublocation-id sublocation-type subnet-id tcp-flags traffic-path type version vpc-id";
/// OpenTelemetry's 4-field CloudWatch custom format.
const OTEL_CWL_CUSTOM_4: &str = "version interface-id srcaddr dstaddr";
/// OpenTelemetry's TGW header without the four `packets-lost-*` fields (27 fields), the
/// format of its CloudWatch TGW payload.
const OTEL_TGW_CWL_27: &str = "version account-id tgw-id tgw-attachment-id tgw-src-vpc-id \
     tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id \
     tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets \
     bytes start end log-status type tcp-flags flow-direction region";

// ---------------------------------------------------------------------------------------
// Every input file: layout and expected rejections.

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    /// `testdata/conformance/` (always present).
    Copied,
    /// `../shared/conformance/` (read in place; may be absent).
    Shared,
}

struct Case {
    dir: Dir,
    path: &'static str,
    /// `--fields` for headerless input; `None`: the default v2 format.
    fields: Option<&'static str>,
    rejects: &'static [(u64, Why)],
}

const fn case(dir: Dir, path: &'static str, fields: Option<&'static str>) -> Case {
    Case {
        dir,
        path,
        fields,
        rejects: &[],
    }
}

const fn bad(
    dir: Dir,
    path: &'static str,
    fields: Option<&'static str>,
    rejects: &'static [(u64, Why)],
) -> Case {
    Case {
        dir,
        path,
        fields,
        rejects,
    }
}

use Dir::{Copied, Shared};

const AWSDOCS: &str = "awsdocs-amazon-vpc-user-guide";
const OTEL: &str = "opentelemetry-collector-contrib";
const OBSRVBL: &str = "obsrvbl-oss-flowlogs-reader";

/// Every flow-log input of the collection. Files without a header use the layout their
/// provenance gives; files with one use `None` (the header takes precedence anyway).
const CASES: &[Case] = &[
    // AWS documentation examples (MIT-0, copied).
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/default-v2-accept-reject.log",
        None,
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/default-v2-nodata-skipdata.log",
        None,
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/default-v2-sg-nacl-icmp.log",
        None,
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/default-v2-ipv6.log",
        None,
    ),
    // The last record has AWS's double space between two fields.
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/custom-v3-tcp-flag-sequence.log",
        Some(TCP_FLAGS_21),
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/custom-v3-nat-gateway.log",
        Some(NAT_6),
    ),
    // As printed on the page: two records carry `#...` annotations, which are more
    // tokens; the lines are rejected whole, the other four accepted.
    bad(
        Copied,
        "awsdocs-amazon-vpc-user-guide/custom-v3-nat-gateway.verbatim-with-doc-comments.log",
        Some(NAT_6),
        &[
            (5, Why::Text("expected 6 fields, found 16")),
            (6, Why::Text("expected 6 fields, found 17")),
        ],
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/custom-v3-transit-gateway-vpc-side.log",
        Some(TGW_EXAMPLE_17),
    ),
    case(
        Copied,
        "awsdocs-amazon-vpc-user-guide/custom-v5-service-path-direction.log",
        Some(SERVICE_PATH_29),
    ),
    // OpenTelemetry collector-contrib (Apache-2.0, copied).
    case(
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_log.log",
        None,
    ),
    case(
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_log_multi.log",
        None,
    ),
    case(
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_log_ecs.log",
        None,
    ),
    case(
        Copied,
        "opentelemetry-collector-contrib/valid_tgw_flow_log.log",
        None,
    ),
    bad(
        Copied,
        "opentelemetry-collector-contrib/vpc_flow_log_too_few_fields.log",
        None,
        &[(2, Why::Text("expected 14 fields, found 13"))],
    ),
    bad(
        Copied,
        "opentelemetry-collector-contrib/vpc_flow_log_too_many_fields.log",
        None,
        &[(2, Why::Text("expected 14 fields, found 15"))],
    ),
    // CloudWatch Logs subscription payloads are JSON, not flow-log text: given to
    // `vpcflow cat` as they are, the one line is rejected whole (never a partial record).
    // Their messages are flow-log lines; `cloudwatch_payload_messages` parses those.
    bad(
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_cw.json",
        None,
        &[(1, Why::FieldCount)],
    ),
    bad(
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_cw_custom.json",
        None,
        &[(1, Why::FieldCount)],
    ),
    bad(
        Copied,
        "opentelemetry-collector-contrib/valid_tgw_flow_cw.json",
        None,
        &[(1, Why::FieldCount)],
    ),
    // flowlogs-reader (Apache-2.0, copied).
    case(
        Copied,
        "obsrvbl-oss-flowlogs-reader/v2_records.cwl-messages.log",
        None,
    ),
    case(
        Copied,
        "obsrvbl-oss-flowlogs-reader/v3_file.s3-text.log",
        None,
    ),
    case(
        Copied,
        "obsrvbl-oss-flowlogs-reader/v4_file.s3-text.log",
        None,
    ),
    // flowlogs-reader skips the trailing junk line silently; vpcflow rejects it.
    bad(
        Copied,
        "obsrvbl-oss-flowlogs-reader/v5_file.s3-text.log",
        None,
        &[(4, Why::Text("expected 29 fields, found 2"))],
    ),
    case(
        Copied,
        "obsrvbl-oss-flowlogs-reader/v6_file.tgw-partial.s3-text.log",
        None,
    ),
    case(
        Copied,
        "obsrvbl-oss-flowlogs-reader/millisecond_timestamps.cwl-message.log",
        None,
    ),
    // Elastic integrations (Elastic License 2.0, read in place).
    // The malformed ENI `eni-89.160.20.1561aaaaaaaaa` is only a string: accepted.
    case(Shared, "elastic-integrations/test-extra-samples.log", None),
    case(
        Shared,
        "elastic-integrations/test-tcp-flag-sequence.log",
        Some(TCP_FLAGS_21),
    ),
    case(
        Shared,
        "elastic-integrations/test-tcp-flag-sequence.with-header-lines.older-revision.log",
        None,
    ),
    // `start` is a 9-digit typo (164000066): still a valid number of seconds.
    case(
        Shared,
        "elastic-integrations/test-v5-all-fields.log",
        Some(CANONICAL_V5_29),
    ),
    case(
        Shared,
        "elastic-integrations/test-ecs-samples.log",
        Some(ECS_39),
    ),
    case(
        Shared,
        "elastic-integrations/test-v8-samples.log",
        Some(V8_40),
    ),
    case(
        Shared,
        "elastic-integrations/test-tgw-samples.log",
        Some(TGW_36),
    ),
    // A JSON wrapper around a default record: 14 tokens, so the field count matches
    // and the first field is what fails.
    bad(
        Shared,
        "elastic-integrations/test-with-message-field.log",
        None,
        &[(
            1,
            Why::Text(r#"field version: "{\"message\":\"2" is not a number"#),
        )],
    ),
    // Elastic Beats module tests (Elastic License 2.0, read in place).
    case(
        Shared,
        "elastic-beats/module-test/accept-reject-traffic.log",
        None,
    ),
    case(
        Shared,
        "elastic-beats/module-test/no-data-skip-data.log",
        None,
    ),
    case(Shared, "elastic-beats/module-test/ipv6.log", None),
    case(
        Shared,
        "elastic-beats/module-test/tcp-flag-sequence.log",
        None,
    ),
    case(
        Shared,
        "elastic-beats/module-test/tcp-flag-sequence-skip-data.log",
        None,
    ),
    case(
        Shared,
        "elastic-beats/module-test/custom-nat-gateway.log",
        None,
    ),
    case(
        Shared,
        "elastic-beats/module-test/custom-transit-gateway.log",
        Some(TGW_EXAMPLE_17),
    ),
    bad(
        Shared,
        "elastic-beats/module-test/bad.log",
        None,
        &[(1, Why::Text("expected 14 fields, found 4"))],
    ),
    // Records quoted in GitHub issues (no licence, read in place).
    case(
        Shared,
        "github-issues/elastic-integrations-issue-8532.alphabetical-order-v5-skipdata.log",
        Some(ALPHABETICAL_V5_29),
    ),
    case(
        Shared,
        "github-issues/vectordotdev-vrl-issue-263.unknown-account-id.log",
        None,
    ),
    case(
        Shared,
        "github-issues/airbnb-streamalert-issue-315.unknown-account-id.log",
        None,
    ),
    case(
        Shared,
        "github-issues/datadog-serverless-functions-issue-1043.header-line.log",
        None,
    ),
];

/// Files of the collection that are not flow-log text, and the test that uses each (or
/// why none does).
const OTHER_FILES: &[(Dir, &str, &str)] = &[
    (Copied, "PROVENANCE.md", "metadata"),
    (Copied, "LICENSE-Apache-2.0.txt", "metadata"),
    (Copied, "LICENSE-MIT-0.txt", "metadata"),
    (Shared, "PROVENANCE.md", "metadata"),
    (
        Copied,
        "obsrvbl-oss-flowlogs-reader/expected.transcribed.json",
        "flowlogs_reader_expected_values",
    ),
    (
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_log_expected.yaml",
        "opentelemetry_expected_values",
    ),
    (
        Copied,
        "opentelemetry-collector-contrib/valid_vpc_flow_log_ecs_expected.yaml",
        "opentelemetry_expected_values",
    ),
    (
        Copied,
        "opentelemetry-collector-contrib/valid_flow_log_parquet_expected.yaml",
        "not used: it describes upstream's valid_flow_log.parquet, which is not in the collection",
    ),
    (
        Copied,
        "obsrvbl-oss-flowlogs-reader/flows.parquet",
        "flowlogs_reader_expected_values (read by the binary)",
    ),
    (
        Shared,
        "vectordotdev-vrl/vrl-vectors.transcribed.json",
        "vrl_vectors",
    ),
    (
        Shared,
        "elastic-integrations/test-tcp-flag-sequence.log-expected.json",
        "elastic_integrations_expected_values",
    ),
    (
        Shared,
        "elastic-integrations/test-v8-samples.log-expected.json",
        "elastic_integrations_expected_values",
    ),
    (
        Shared,
        "elastic-beats/processor-testdata/aws-vpc-flow-logs.yml",
        "elastic_beats_processor_samples",
    ),
    (
        Shared,
        "elastic-beats/processor-testdata/v5-fields-original.golden.json",
        "elastic_beats_processor_samples",
    ),
    (
        Shared,
        "elastic-beats/processor-testdata/v6-fields-original.golden.json",
        "elastic_beats_processor_samples",
    ),
    (
        Shared,
        "elastic-beats/processor-testdata/v7-fields-original.golden.json",
        "elastic_beats_processor_samples",
    ),
];

/// The copied folders, which must be byte-identical to the shared ones.
const COPIED_FOLDERS: [&str; 3] = [AWSDOCS, OTEL, OBSRVBL];

fn copied(path: &str) -> PathBuf {
    Path::new(COPIED).join(path)
}

fn run_cases(dir: Dir, root: &Path) {
    let mut n = 0;
    for c in CASES.iter().filter(|c| c.dir == dir) {
        check(c.path, &read(&root.join(c.path)), c.fields, c.rejects);
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn copied_inputs_parse_as_an_independent_reading_predicts() {
    run_cases(Copied, Path::new(COPIED));
}

#[test]
fn shared_inputs_parse_as_an_independent_reading_predicts() {
    let Some(root) = shared_dir("shared_inputs_parse_as_an_independent_reading_predicts") else {
        return;
    };
    run_cases(Shared, &root);
}

/// Every file of both folders is either an input of [`CASES`] or listed in
/// [`OTHER_FILES`], so a file added to the collection cannot go unchecked.
#[test]
fn every_conformance_file_is_covered() {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"));
            }
        }
    }
    let mut roots = vec![(Copied, PathBuf::from(COPIED))];
    if let Some(shared) = shared_part("every_conformance_file_is_covered") {
        roots.push((Shared, shared));
    }
    for (dir, root) in roots {
        let mut found = BTreeSet::new();
        walk(&root, &root, &mut found);
        let mut known: BTreeSet<String> = CASES
            .iter()
            .filter(|c| c.dir == dir)
            .map(|c| c.path.to_string())
            .collect();
        known.extend(
            OTHER_FILES
                .iter()
                .filter(|o| o.0 == dir)
                .map(|o| o.1.to_string()),
        );
        if dir == Shared {
            // The shared copies of the copied folders are covered through the copies.
            found.retain(|f| !COPIED_FOLDERS.iter().any(|c| f.starts_with(c)));
        }
        assert_eq!(found, known, "{}: files vs test tables", root.display());
    }
}

/// The copies in `testdata/conformance/` are byte-identical to the shared collection.
#[test]
fn copies_are_identical_to_the_shared_collection() {
    let Some(shared) = shared_dir("copies_are_identical_to_the_shared_collection") else {
        return;
    };
    for folder in COPIED_FOLDERS {
        let mut names: Vec<_> = std::fs::read_dir(shared.join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let mut ours: Vec<_> = std::fs::read_dir(copied(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        ours.sort();
        assert_eq!(names, ours, "{folder}: file names");
        for name in names {
            let a = read(&shared.join(folder).join(&name));
            let b = read(&copied(folder).join(&name));
            assert!(a == b, "{folder}/{}: copy differs", name.to_string_lossy());
        }
    }
}

// ---------------------------------------------------------------------------------------
// flowlogs-reader: expected.transcribed.json.

/// A flowlogs-reader expected record: datetimes `{iso_utc, unix}` become unix seconds.
fn flowlogs_reader_record(v: &Value) -> Map<String, Value> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = match v.get("unix") {
                Some(unix) => {
                    // The two renderings of the datetime agree.
                    let iso = v["iso_utc"].as_str().unwrap();
                    assert_eq!(Some(rfc3339_to_unix(iso)), unix.as_i64(), "{k}: {iso}");
                    unix.clone()
                }
                None => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The expected records of one flowlogs-reader case (by the file name its key begins with).
fn flowlogs_reader_expected(file: &str) -> Vec<Map<String, Value>> {
    let doc = read_json(&copied(&format!("{OBSRVBL}/expected.transcribed.json")));
    let cases = doc["cases"].as_object().unwrap();
    let (_, v) = cases
        .iter()
        .find(|(k, _)| k.split(' ').next() == Some(file))
        .unwrap_or_else(|| panic!("no expected case for {file}"));
    match v {
        Value::Array(a) => a.iter().map(flowlogs_reader_record).collect(),
        one => vec![flowlogs_reader_record(one)],
    }
}

fn parse_copied(path: &str, fields: Option<&str>) -> Parsed {
    parse(&read(&copied(path)), fields)
}

#[test]
fn flowlogs_reader_expected_values() {
    let doc = read_json(&copied(&format!("{OBSRVBL}/expected.transcribed.json")));
    let mut used = 0;
    for key in doc["cases"].as_object().unwrap().keys() {
        let file = key.split(' ').next().unwrap();
        used += 1;
        let label = format!("flowlogs-reader {key}");
        if file == "flows.parquet" {
            // Read by the binary (Parquet is read from files): numbers stored as text,
            // `None` and `-` for missing values. The third row's protocol 8080 is out of
            // range, and rejected as in text; flowlogs-reader does not check it.
            let path = copied(&format!("{OBSRVBL}/{file}"));
            let out = common::vpcflow(&["cat", path.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{label}");
            let rows: Vec<Map<String, Value>> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let want = flowlogs_reader_expected(file);
            assert_eq!((rows.len(), want.len()), (2, 3), "{label}");
            for (i, (g, w)) in rows.iter().zip(&want).enumerate() {
                assert_record(&format!("{label} record {i}"), g, w);
            }
            assert!(
                String::from_utf8_lossy(&out.stderr)
                    .contains(":3: field protocol: \"8080\" is out of range (0 to 255)"),
                "{label}"
            );
            continue;
        }
        let got = parse_copied(&format!("{OBSRVBL}/{file}"), None);
        let want = flowlogs_reader_expected(file);
        if file == "millisecond_timestamps.cwl-message.log" {
            // Only start/end are given: 13-digit milliseconds become seconds.
            assert_eq!(got.rows.len(), 1, "{label}");
            for k in ["start", "end"] {
                assert_eq!(got.rows[0][k], want[0][k], "{label}: {k}");
            }
        } else if file == "v2_records.cwl-messages.log" {
            // The expected record is the first line's (FlowRecordTestCase.test_parse).
            assert_eq!(want.len(), 1, "{label}");
            assert_record(&label, &got.rows[0], &want[0]);
        } else {
            assert_eq!(got.rows.len(), want.len(), "{label}: records");
            for (i, (g, w)) in got.rows.iter().zip(&want).enumerate() {
                assert_record(&format!("{label} record {i}"), g, w);
            }
        }
    }
    assert_eq!(used, 7, "cases used");
}

// ---------------------------------------------------------------------------------------
// OpenTelemetry: *_expected.yaml and the CloudWatch payloads.

/// OpenTelemetry attribute -> flow-log column.
const OTEL_ATTRIBUTES: &[(&str, &str)] = &[
    ("cloud.account.id", "account_id"),
    ("aws.vpc.flow.log.version", "version"),
    ("aws.vpc.flow.version", "version"),
    ("network.interface.name", "interface_id"),
    ("aws.eni.id", "interface_id"),
    ("source.address", "srcaddr"),
    ("destination.address", "dstaddr"),
    ("source.port", "srcport"),
    ("destination.port", "dstport"),
    ("aws.vpc.flow.packets", "packets"),
    ("aws.vpc.flow.bytes", "bytes"),
    ("aws.vpc.flow.start", "start"),
    ("aws.vpc.flow.end", "end"),
    ("aws.vpc.flow.action", "action"),
    ("aws.vpc.flow.status", "log_status"),
    ("aws.ecs.cluster.arn", "ecs_cluster_arn"),
    ("aws.ecs.cluster.name", "ecs_cluster_name"),
    (
        "aws.ecs.container.instance.arn",
        "ecs_container_instance_arn",
    ),
    ("aws.ecs.container.instance.id", "ecs_container_instance_id"),
    ("aws.ecs.container.id", "ecs_container_id"),
    ("aws.ecs.second.container.id", "ecs_second_container_id"),
    ("aws.ecs.service.name", "ecs_service_name"),
    ("aws.ecs.task.definition.arn", "ecs_task_definition_arn"),
    ("aws.ecs.task.arn", "ecs_task_arn"),
    ("aws.ecs.task.id", "ecs_task_id"),
];

/// Adds `col = value` (normalised), checking it agrees with a value already mapped.
fn put(out: &mut Map<String, Value>, label: &str, col: &str, value: Value) {
    let value = normalise(col, &value);
    if let Some(prev) = out.get(col) {
        assert_eq!(
            prev, &value,
            "{label}: two expected fields for {col} disagree"
        );
    }
    out.insert(col.to_string(), value);
}

/// The flow-log columns of one OpenTelemetry log record (resource attributes included).
fn otel_columns(
    label: &str,
    resource: &[(String, String)],
    record: &[(String, String)],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in resource.iter().chain(record) {
        let value = Value::String(v.clone());
        match k.as_str() {
            "cloud.provider" => assert_eq!(v, "aws"),
            // The log record's time is the flow's end.
            "timeUnixNano" => {
                let ns: u64 = v.parse().unwrap();
                assert_eq!(ns % 1_000_000_000, 0, "{label}: whole seconds");
                put(&mut out, label, "end", Value::from(ns / 1_000_000_000));
            }
            "network.protocol.name" => {
                let number = match v.as_str() {
                    "icmp" => 1,
                    "tcp" => 6,
                    "udp" => 17,
                    other => panic!("{label}: protocol {other}"),
                };
                put(&mut out, label, "protocol", Value::from(number));
            }
            _ => {
                let (_, col) = OTEL_ATTRIBUTES
                    .iter()
                    .find(|(a, _)| a == k)
                    .unwrap_or_else(|| panic!("{label}: unmapped attribute {k}"));
                put(&mut out, label, col, value);
            }
        }
    }
    out
}

fn otel_expected(yaml: &str) -> Vec<Map<String, Value>> {
    let logs = otel_logs(&read_text(&copied(&format!("{OTEL}/{yaml}"))));
    logs.records
        .iter()
        .map(|r| otel_columns(yaml, &logs.resource, r))
        .collect()
}

#[test]
fn opentelemetry_expected_values() {
    for (input, yaml) in [
        ("valid_vpc_flow_log.log", "valid_vpc_flow_log_expected.yaml"),
        (
            "valid_vpc_flow_log_ecs.log",
            "valid_vpc_flow_log_ecs_expected.yaml",
        ),
    ] {
        let got = parse_copied(&format!("{OTEL}/{input}"), None);
        let want = otel_expected(yaml);
        assert_eq!(got.rows.len(), want.len(), "{input}: records");
        for (g, w) in got.rows.iter().zip(&want) {
            assert_record(input, g, w);
        }
    }
}

/// The `logEvents[].message` lines of a CloudWatch Logs subscription payload.
fn cloudwatch_messages(path: &Path) -> String {
    let doc = read_json(path);
    assert_eq!(doc["messageType"], "DATA_MESSAGE");
    let messages: Vec<&str> = doc["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(!messages.is_empty());
    messages.join("\n")
}

/// The flow-log lines inside the CloudWatch payloads, with the layout the subscription
/// implies, parse cleanly and equal the same records delivered as S3 text.
#[test]
fn cloudwatch_payload_messages() {
    let vpc = cloudwatch_messages(&copied(&format!("{OTEL}/valid_vpc_flow_cw.json")));
    let got = check("valid_vpc_flow_cw.json messages", vpc.as_bytes(), None, &[]);
    let s3 = parse_copied(&format!("{OTEL}/valid_vpc_flow_log_multi.log"), None);
    assert_eq!(
        got.rows, s3.rows,
        "CloudWatch vs S3 delivery of the same records"
    );

    let custom = cloudwatch_messages(&copied(&format!("{OTEL}/valid_vpc_flow_cw_custom.json")));
    let got = check(
        "valid_vpc_flow_cw_custom.json messages",
        custom.as_bytes(),
        Some(OTEL_CWL_CUSTOM_4),
        &[],
    );
    assert_eq!(got.rows.len(), 2);

    let tgw = cloudwatch_messages(&copied(&format!("{OTEL}/valid_tgw_flow_cw.json")));
    let got = check(
        "valid_tgw_flow_cw.json messages",
        tgw.as_bytes(),
        Some(OTEL_TGW_CWL_27),
        &[],
    );
    let mut s3 = parse_copied(&format!("{OTEL}/valid_tgw_flow_log.log"), None);
    for row in &mut s3.rows {
        for k in [
            "packets_lost_no_route",
            "packets_lost_blackhole",
            "packets_lost_mtu_exceeded",
            "packets_lost_ttl_expired",
        ] {
            assert!(row.remove(k).is_some(), "{k}");
        }
    }
    assert_eq!(got.rows, s3.rows, "TGW via CloudWatch vs S3");
}

// ---------------------------------------------------------------------------------------
// VRL (MPL-2.0, read in place): vrl-vectors.transcribed.json.

#[test]
fn vrl_vectors() {
    let Some(shared) = shared_dir("vrl_vectors") else {
        return;
    };
    let doc = read_json(&shared.join("vectordotdev-vrl/vrl-vectors.transcribed.json"));
    for (i, group) in doc["parse_only_vectors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let fields = group["format"].as_str();
        let text: Vec<&str> = group["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let label = format!("vrl parse_only_vectors[{i}]");
        let got = check(&label, text.join("\n").as_bytes(), fields, &[]);
        assert_eq!(got.rows.len(), text.len(), "{label}");
    }
    let cases = doc["with_expected"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let label = format!("vrl {}", case["origin"].as_str().unwrap());
        let line = case["line"].as_str().unwrap();
        let got = check(&label, line.as_bytes(), case["format"].as_str(), &[]);
        let want = case["expected"].as_object().unwrap();
        assert_eq!(got.rows.len(), 1, "{label}");
        // VRL returns every field of the format, nulls included.
        let got_keys: BTreeSet<_> = got.rows[0].keys().collect();
        let want_keys: BTreeSet<_> = want.keys().collect();
        assert_eq!(got_keys, want_keys, "{label}: fields");
        assert_record(&label, &got.rows[0], want);
    }
}

// ---------------------------------------------------------------------------------------
// Elastic integrations (ELv2, read in place): *-expected.json (ECS-mapped).

/// ECS field -> flow-log column, for the fields the integration maps from the record.
/// Derived fields (geo, AS, community ID, network.type/transport, related.ip,
/// event.kind/category/type/outcome, tcp_flags_array, @timestamp) are not compared.
const ECS_FIELDS: &[(&str, &str)] = &[
    ("cloud.account.id", "account_id"),
    ("cloud.instance.id", "instance_id"),
    ("cloud.region", "region"),
    ("cloud.availability_zone", "az_id"),
    ("source.address", "srcaddr"),
    ("source.ip", "srcaddr"),
    ("destination.address", "dstaddr"),
    ("destination.ip", "dstaddr"),
    ("source.port", "srcport"),
    ("destination.port", "dstport"),
    ("network.iana_number", "protocol"),
    ("network.bytes", "bytes"),
    ("source.bytes", "bytes"),
    ("network.packets", "packets"),
    ("source.packets", "packets"),
    ("network.direction", "flow_direction"),
    ("event.action", "action"),
    ("event.reason", "reject_reason"),
    ("orchestrator.cluster.id", "ecs_cluster_arn"),
    ("orchestrator.cluster.name", "ecs_cluster_name"),
    ("orchestrator.resource.id", "ecs_container_instance_id"),
    ("orchestrator.resource.name", "ecs_container_instance_arn"),
    ("service.name", "ecs_service_name"),
];

/// The flow-log columns of one ECS document of the Elastic integration.
fn ecs_columns(label: &str, doc: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(vpc)) = get(doc, "aws.vpcflow") {
        for (k, v) in vpc {
            // `tcp_flags_array` is derived; `sublocation: {}` holds the (null) sublocation.
            if k == "tcp_flags_array" || v.is_object() {
                continue;
            }
            put(&mut out, label, k, v.clone());
        }
    }
    for (field, col) in ECS_FIELDS {
        if let Some(v) = get(doc, field) {
            put(&mut out, label, col, v.clone());
        }
    }
    for (field, col) in [("event.start", "start"), ("event.end", "end")] {
        if let Some(v) = get(doc, field) {
            let unix = rfc3339_to_unix(v.as_str().unwrap());
            put(&mut out, label, col, Value::from(unix));
        }
    }
    out
}

#[test]
fn elastic_integrations_expected_values() {
    let Some(shared) = shared_dir("elastic_integrations_expected_values") else {
        return;
    };
    for (input, fields) in [
        ("test-tcp-flag-sequence.log", TCP_FLAGS_21),
        ("test-v8-samples.log", V8_40),
    ] {
        let dir = shared.join("elastic-integrations");
        let text = read_text(&dir.join(input));
        let got = check(input, text.as_bytes(), Some(fields), &[]);
        let expected = read_json(&dir.join(format!("{input}-expected.json")));
        let docs = expected["expected"].as_array().unwrap();
        let records: Vec<&str> = lines(&text).iter().map(|l| l.text).collect();
        assert_eq!(got.rows.len(), docs.len(), "{input}: records");
        for (i, (row, doc)) in got.rows.iter().zip(docs).enumerate() {
            let label = format!("{input} record {i}");
            assert_eq!(
                doc["event"]["original"], records[i],
                "{label}: event.original"
            );
            assert_record(&label, row, &ecs_columns(&label, doc));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Elastic Beats processor (ELv2, read in place): aws-vpc-flow-logs.yml + golden files.

#[test]
fn elastic_beats_processor_samples() {
    let Some(shared) = shared_dir("elastic_beats_processor_samples") else {
        return;
    };
    let dir = shared.join("elastic-beats/processor-testdata");
    let groups = beats_sample_groups(&read_text(&dir.join("aws-vpc-flow-logs.yml")));
    let mut parsed = 0;
    for g in groups.iter().filter(|g| !g.samples.is_empty()) {
        // Samples are YAML scalars: in the NAT group's plain scalars ` #Traffic ...` is a
        // YAML comment, so the value is the bare record (as Beats reads it).
        let fields = g
            .format
            .as_deref()
            .expect("a group with samples has a format");
        let text = g.samples.join("\n");
        let got = check(&g.name, text.as_bytes(), Some(fields), &[]);
        assert_eq!(got.rows.len(), g.samples.len(), "{}", g.name);
        parsed += got.rows.len();

        let golden = dir.join(format!("{}.golden.json", g.name));
        if !golden.exists() {
            continue;
        }
        let docs = read_json(&golden);
        let docs = docs.as_array().unwrap();
        assert_eq!(docs.len(), got.rows.len(), "{}: golden records", g.name);
        for (i, (row, doc)) in got.rows.iter().zip(docs).enumerate() {
            let label = format!("{} record {i}", g.name);
            assert_eq!(doc["message"], g.samples[i].as_str(), "{label}: message");
            let mut want = Map::new();
            for (k, v) in doc["aws"]["vpcflow"].as_object().unwrap() {
                let v = match k.as_str() {
                    "tcp_flags_array" => continue,
                    "start" | "end" => Value::from(rfc3339_to_unix(v.as_str().unwrap())),
                    _ => v.clone(),
                };
                put(&mut want, &label, k, v);
            }
            assert_record(&label, row, &want);
        }
    }
    let goldens = [
        "v5-fields-original",
        "v6-fields-original",
        "v7-fields-original",
    ];
    for name in goldens {
        assert!(
            groups
                .iter()
                .any(|g| g.name == name && !g.samples.is_empty()),
            "{name}: group with samples"
        );
    }
    assert_eq!(parsed, 7 + 8 + 6 + 4 + 2 + 3, "samples parsed");
}

// ---------------------------------------------------------------------------------------
// The binary.

/// One input of `vpcflow cat`: path, `--fields`, expected rejections.
type CatInput<'a> = (&'a str, Option<&'a str>, &'a [(u64, Why)]);

/// `vpcflow cat` on three copied files (a headerless file with `--fields`, a file with
/// an alphabetical header and a junk line, a file with an ECS header): stdout equals the
/// independent reading and the other projects' expected values, the junk line is
/// reported on stderr and in `--errors`, and the summary accounts for every line.
#[test]
fn vpcflow_cat_on_copied_files() {
    let tcp = format!("{COPIED}/{AWSDOCS}/custom-v3-tcp-flag-sequence.log");
    let v5 = format!("{COPIED}/{OBSRVBL}/v5_file.s3-text.log");
    let ecs = format!("{COPIED}/{OTEL}/valid_vpc_flow_log_ecs.log");
    let errors = tempfile::NamedTempFile::new().unwrap();
    let errors_path = errors.path().to_str().unwrap();
    // Given out of order: inputs are processed in sorted path order.
    let out = common::vpcflow(&[
        "cat",
        &ecs,
        &v5,
        &tcp,
        "--fields",
        TCP_FLAGS_21,
        "--errors",
        errors_path,
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "exit code; stderr: {stderr}");

    let v5_reject = [(4, Why::Text("expected 29 fields, found 2"))];
    let inputs: [CatInput; 3] = [
        (&tcp, Some(TCP_FLAGS_21), &[]),
        (&v5, None, &v5_reject),
        (&ecs, None, &[]),
    ];
    let mut want_rows = Vec::new();
    let mut want = [0u64; 5];
    let mut want_rejects = Vec::new();
    for (path, fields, rejects) in inputs {
        // A header applies to its own file only: the layout starts afresh with each file.
        let e = oracle(&read_text(Path::new(path)), fields, rejects);
        want_rows.extend(e.rows);
        let c = e.counts;
        for (w, n) in want
            .iter_mut()
            .zip([c.lines, c.records, c.rejected, c.headers, c.blanks])
        {
            *w += n;
        }
        want_rejects.extend(e.rejects.into_iter().map(|r| (path, r)));
    }
    let mut rows = conformance_support::json_lines(&out.stdout);
    // Records that carry the v7 ECS fields also show, without a map, the task they
    // name; both of this record's addresses are private, so its direction is undecided.
    let ecs = |k: &str| rows[10][k].clone();
    let attribution: Map<String, Value> = [
        ("task_arn", ecs("ecs_task_arn")),
        ("service", ecs("ecs_service_name")),
        ("cluster", ecs("ecs_cluster_name")),
        ("eni_kind", Value::from("task")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(
        [
            "peer_addr",
            "peer_eni_id",
            "peer_kind",
            "peer_task_arn",
            "peer_service",
            "peer_lb",
            "own_addr",
            "inbound",
            "direction_by",
        ]
        .iter()
        .map(|k| (k.to_string(), Value::Null)),
    )
    .collect();
    for (k, v) in &attribution {
        assert_eq!(rows[10].remove(k).as_ref(), Some(v), "{k}");
    }
    assert_eq!(rows, want_rows, "stdout vs the independent reading");

    // The same records against the other projects' expected values.
    let (tcp_rows, rest) = rows.split_at(8);
    let (v5_rows, ecs_rows) = rest.split_at(2);
    assert_eq!(tcp_rows.len(), 8);
    for (i, (g, w)) in v5_rows
        .iter()
        .zip(flowlogs_reader_expected("v5_file.s3-text.log"))
        .enumerate()
    {
        assert_record(&format!("cat v5_file record {i}"), g, &w);
    }
    assert_eq!(ecs_rows.len(), 1);
    assert_record(
        "cat valid_vpc_flow_log_ecs.log",
        &ecs_rows[0],
        &otel_expected("valid_vpc_flow_log_ecs_expected.yaml")[0],
    );

    // The summary's accounting, counted from the files.
    assert_eq!(want, [14, 11, 1, 2, 0], "the files' own accounting");
    assert_eq!(common::accounting(&stderr), want, "summary: {stderr}");
    assert!(stderr.contains(" 3 files, "), "file count: {stderr}");

    // The rejected line, on stderr and in --errors.
    assert_eq!(want_rejects.len(), 1);
    let (path, r) = &want_rejects[0];
    let shown = format!("{path}:{}: {}", r.line, r.message);
    assert!(stderr.contains(&shown), "{shown:?} not in {stderr:?}");
    let logged = conformance_support::json_lines(&read(errors.path()));
    let mut expected = Map::new();
    expected.insert("file".into(), Value::from(*path));
    expected.insert("line".into(), Value::from(r.line));
    expected.insert("byte_offset".into(), Value::from(r.byte_offset));
    expected.insert("error".into(), Value::from(r.message.as_str()));
    assert_eq!(logged, vec![expected], "--errors");
}

/// The oracle's default layout (used for headerless input without `--fields`) is the
/// header AWS writes for the default format, as found in real files.
#[test]
fn default_layout_constant_matches_real_headers() {
    let ours: Vec<String> = DEFAULT_V2.split_whitespace().map(column).collect();
    let mut files = vec![copied(&format!("{OTEL}/valid_vpc_flow_log.log"))];
    if let Some(shared) = shared_part("default_layout_constant_matches_real_headers") {
        files.push(
            shared.join("github-issues/datadog-serverless-functions-issue-1043.header-line.log"),
        );
    }
    for file in files {
        let text = read_text(&file);
        let header = text.lines().next().unwrap();
        let names: Vec<String> = header.split_whitespace().map(column).collect();
        assert_eq!(names, ours, "{}", file.display());
    }
}
