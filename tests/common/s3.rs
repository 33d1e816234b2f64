//! A local S3-compatible server for the tests of `s3://` locations: moto's server mode
//! started on a free port (objects put with boto3), and a proxy in front of it that
//! logs each request and can answer as S3 does when it throttles or refuses
//! (`s3_proxy.py`). Never a mock inside the process: vpcflow sends real S3 requests.
//!
//! Needs Python's `moto[server]` (with boto3): without it the tests say "skipped", unless
//! `VPCFLOW_S3=require` (CI) makes a missing server a failure.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A child process stopped when dropped.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A moto server on a free port, stopped when dropped.
pub struct Server {
    _child: Process,
    pub port: u16,
    pub url: String,
}

/// The server for `test`, or `None` with `test` said to be skipped.
pub fn server(test: &str) -> Option<Server> {
    let setting = std::env::var("VPCFLOW_S3").unwrap_or_default();
    if setting == "skip" {
        super::skip(test, "VPCFLOW_S3=skip");
        return None;
    }
    let required = setting == "require";
    if !super::python_imports("moto.server, boto3") {
        assert!(
            !required,
            "VPCFLOW_S3=require but python3 lacks moto[server] and boto3"
        );
        super::skip(
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
    let child = Process(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Server {
        _child: child,
        port,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// Puts every file under `dir` into `bucket` under `prefix`, with boto3.
pub fn upload(s: &Server, bucket: &str, dir: &Path, prefix: &str) {
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

/// vpcflow with `args`, its S3 requests sent to `endpoint` with test credentials.
pub fn vpcflow<S: AsRef<std::ffi::OsStr>>(endpoint: &str, args: &[S]) -> Output {
    super::vpcflow_env(args, &env(endpoint, &[]))
}

/// The environment of a run against `endpoint` with test credentials, then `more`.
pub fn env<'a>(
    endpoint: &'a str,
    more: &[(&'a str, Option<&'a str>)],
) -> Vec<(&'a str, Option<&'a str>)> {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", Some("test")),
        ("AWS_SECRET_ACCESS_KEY", Some("test")),
        ("AWS_SESSION_TOKEN", None),
        ("AWS_PROFILE", None),
        ("AWS_ENDPOINT_URL_S3", None),
        ("AWS_ENDPOINT_URL", Some(endpoint)),
        // Off EC2, the instance metadata service is not asked.
        ("AWS_EC2_METADATA_DISABLED", Some("true")),
    ];
    vars.extend_from_slice(more);
    vars
}

/// The proxy in front of a server (see `s3_proxy.py`), stopped when dropped.
pub struct Proxy {
    _child: Process,
    pub url: String,
    log: PathBuf,
}

impl Proxy {
    /// A proxy to `s` logging into `log`, with `options` (`--slowdown`, `--deny B`).
    pub fn start(s: &Server, log: &Path, options: &[&str]) -> Proxy {
        let script = super::root("tests/common/s3_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(s.port.to_string())
            .arg(log)
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the proxy's port");
        Proxy {
            _child: Process(child),
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        }
    }

    /// The requests logged since the last call, as `METHOD PATH?QUERY KEY-ID STATUS`
    /// lines; the log starts again empty.
    pub fn take(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines().map(str::to_string).collect()
    }
}
