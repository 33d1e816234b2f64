//! `--map s3://...`: a trail's bucket and an event archive read straight from S3, against
//! a local S3-compatible server (moto, started here; objects put with boto3). The map
//! from S3 equals the map from the same files on disk, and so do the audit's findings.
//!
//! Needs Python's `moto[server]` (with boto3): without it the tests say "skipped", unless
//! `VPCFLOW_S3=require` (CI) makes a missing server a failure.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{root, stderr, stdout};

/// A moto server on a free port, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server for `test`, or `None` with `test` said to be skipped.
fn server(test: &str) -> Option<Server> {
    let setting = std::env::var("VPCFLOW_S3").unwrap_or_default();
    if setting == "skip" {
        common::skip(test, "VPCFLOW_S3=skip");
        return None;
    }
    let required = setting == "require";
    if !common::python_imports("moto.server, boto3") {
        assert!(
            !required,
            "VPCFLOW_S3=require but python3 lacks moto[server] and boto3"
        );
        common::skip(
            test,
            "python3 has no moto[server] and boto3 (pip install 'moto[server]')",
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// Puts every file under `dir` into `bucket` under `prefix`, with boto3.
fn upload(s: &Server, bucket: &str, dir: &Path, prefix: &str) {
    let script = format!(
        r#"
import boto3, os
s3 = boto3.client("s3", endpoint_url="{url}", aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
try:
    s3.create_bucket(Bucket="{bucket}")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
root = {dir:?}
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        s3.upload_file(p, "{bucket}", "{prefix}" + os.path.relpath(p, root))
"#,
        url = s.url,
        dir = dir.display().to_string(),
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// vpcflow with `args`, its S3 requests sent to the server with test credentials.
fn vpcflow(s: &Server, args: &[&str]) -> Output {
    common::vpcflow_env(
        args,
        &[
            ("AWS_ACCESS_KEY_ID", Some("test")),
            ("AWS_SECRET_ACCESS_KEY", Some("test")),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_ENDPOINT_URL", Some(s.url.as_str())),
        ],
    )
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
