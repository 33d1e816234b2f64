//! `--map s3://...`: a trail's bucket and an event archive read straight from S3, against
//! a local S3-compatible server (moto, started here; objects put with boto3). The map
//! from S3 equals the map from the same files on disk, and so do the audit's findings.
//!
//! Needs Python's `moto[server]` (with boto3), as `common::s3` says.

mod common;

use std::process::Output;

use common::s3::{server, upload};
use common::{root, stderr, stdout};

/// vpcflow with `args`, its S3 requests sent to the server with test credentials.
fn vpcflow(s: &common::s3::Server, args: &[&str]) -> Output {
    common::s3::vpcflow(&s.url, args)
}

/// A map CSV without its last column (`source`, which names the files).
fn rows(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect()
}

#[test]
fn a_trail_bucket_and_an_event_archive_on_s3_give_the_maps_of_their_files() {
    let Some(s) = server("a_trail_bucket_and_an_event_archive_on_s3_give_the_maps_of_their_files")
    else {
        return;
    };
    let sources = root("testdata/demo/sources");
    // An organization trail's layout, with its digests, and Firehose's event objects.
    upload(&s, "trail", &sources.join("trail"), "org/");
    upload(&s, "events", &sources.join("events/firehose"), "ecs/");
    let trail = sources.join("trail");
    let firehose = sources.join("events/firehose");
    let local = vpcflow(&s, &["map", "-q", trail.to_str().unwrap()]);
    let remote = vpcflow(&s, &["map", "-q", "s3://trail/org/"]);
    assert_eq!(rows(&remote), rows(&local));
    assert!(rows(&local).len() > 20);
    // A deeper prefix, of one object.
    let one = vpcflow(&s, &["map", "-q", "s3://events/ecs/2026/11/01/00"]);
    let local_events = vpcflow(&s, &["map", "-q", firehose.to_str().unwrap()]);
    assert_eq!(rows(&one), rows(&local_events));

    // The audit with the maps on S3 finds what it finds with them on disk.
    let logs = root("testdata/demo/logs");
    let policy = root("testdata/demo/policy.toml");
    let late = sources.join("late/describe-network-interfaces.json");
    let audit = |maps: [&str; 3]| {
        let o = vpcflow(
            &s,
            &[
                "audit",
                logs.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
                "--format",
                "json",
                "-q",
                "--map",
                maps[0],
                "--map",
                maps[1],
                "--map",
                maps[2],
            ],
        );
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let on_disk = audit([
        firehose.to_str().unwrap(),
        trail.to_str().unwrap(),
        late.to_str().unwrap(),
    ]);
    assert_eq!(on_disk.0, Some(1));
    assert_eq!(on_disk.1.lines().count(), 14);
    assert_eq!(
        audit([
            "s3://events/ecs/",
            "s3://trail/org/",
            late.to_str().unwrap()
        ]),
        on_disk
    );
}

#[test]
fn s3_errors_say_what_is_wrong() {
    let Some(s) = server("s3_errors_say_what_is_wrong") else {
        return;
    };
    let o = vpcflow(&s, &["map", "s3://no-such-bucket/x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("s3://no-such-bucket/x") && err.contains("NoSuchBucket"),
        "{err}"
    );
    upload(&s, "empty", &root("testdata/aws-json"), "x/");
    let o = vpcflow(&s, &["map", "s3://empty/nothing-here/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("s3://empty/nothing-here/: no object there")
    );
    // Without credentials, it says where they are looked for.
    let o = common::vpcflow_env(
        &["map", "s3://empty/x/"],
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_PROFILE", None),
            ("HOME", Some("/nonexistent")),
            ("AWS_SHARED_CREDENTIALS_FILE", None),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no AWS credentials"));
}
