//! `INPUT` as `s3://bucket/prefix`, against a local S3-compatible server (moto, started
//! here; objects put with boto3) behind a proxy that logs each request (`common::s3`):
//! the runs of `cat`, `query` and `audit` on S3 print what they print on the same tree
//! on disk, byte for byte; `--since`/`--until` list and get only what the window needs
//! (the requests counted); credentials come from a profile file; errors name the bucket
//! and exit 2; throttling is retried.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::s3::{env, server, upload, Proxy};
use common::{root, stderr};

/// `(exit code, stdout)` of a run.
fn answer(o: &Output) -> (Option<i32>, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// vpcflow with `args` against `endpoint`, with test credentials.
fn run<S: AsRef<std::ffi::OsStr>>(endpoint: &str, args: &[S]) -> Output {
    common::s3::vpcflow(endpoint, args)
}

/// The subcommands compared, each with `{}` where the input goes.
fn commands(map: &str, policy: &str) -> Vec<Vec<String>> {
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    vec![
        words("cat {} --format jsonl -q"),
        words("cat {} --format csv -q --since 2026-11-01T00:20:00Z --until 2026-11-01T00:40:00Z"),
        words("query {} --group-by dstport,action --format json -q"),
        words(&format!(
            "audit {{}} --map {map} --policy {policy} --format json -q"
        )),
    ]
}

fn with_input(command: &[String], input: &str) -> Vec<String> {
    command
        .iter()
        .map(|w| {
            if w == "{}" {
                input.to_string()
            } else {
                w.clone()
            }
        })
        .collect()
}

#[test]
fn s3_runs_print_what_the_tree_on_disk_prints() {
    let Some(s) = server("s3_runs_print_what_the_tree_on_disk_prints") else {
        return;
    };
    let logs = root("testdata/demo/logs");
    upload(&s, "flows", &logs, "vpc/");
    // The same records as Parquet, converted on disk and put beside.
    let d = tempfile::tempdir().unwrap();
    let parquet_dir = d.path().join("parquet");
    std::fs::create_dir(&parquet_dir).unwrap();
    let parquet = parquet_dir.join("flows.parquet");
    let o = common::vpcflow(&[
        "convert",
        logs.to_str().unwrap(),
        "-o",
        parquet.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    upload(&s, "flows", &parquet_dir, "parquet/");

    let map = root("testdata/demo/eni-map.csv");
    let policy = root("testdata/demo/policy.toml");
    for command in commands(map.to_str().unwrap(), policy.to_str().unwrap()) {
        for (local, remote) in [
            (logs.to_str().unwrap(), "s3://flows/vpc/"),
            (parquet_dir.to_str().unwrap(), "s3://flows/parquet/"),
            (
                parquet.to_str().unwrap(),
                "s3://flows/parquet/flows.parquet",
            ),
        ] {
            let on_disk = common::vpcflow(&with_input(&command, local));
            let on_s3 = run(&s.url, &with_input(&command, remote));
            assert_eq!(
                answer(&on_s3),
                answer(&on_disk),
                "{command:?} on {remote}: {}",
                stderr(&on_s3)
            );
            assert!(
                on_disk.stdout.len() > 100,
                "{command:?}: {}",
                stderr(&on_disk)
            );
        }
    }
    // The summary counts what the tree's does: 12 objects, 6000 records.
    let o = run(&s.url, &["cat", "s3://flows/vpc", "--format", "csv"]);
    let err = stderr(&o);
    assert!(err.contains("12 files, 6012 lines = 6000 records"), "{err}");
}

/// The demo's twelve objects of 2026-11-01, and copies of them under other dates: a day
/// folder of 2026-10-20, a year folder of 2025, and one object of 2026-11-01 whose name
/// says 23:00 (its records are the same; its name puts it outside an early window).
fn dated_tree(d: &Path) -> PathBuf {
    let tree = d.join("tree");
    let day = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01";
    let src = root("testdata/demo/logs").join(day);
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let base = tree.join("AWSLogs/123456789012/vpcflowlogs/us-east-1");
    for (folder, from, to) in [
        ("2026/11/01", "20261101T", "20261101T"),
        ("2026/10/20", "20261101T", "20261020T"),
        ("2025/11/01", "20261101T", "20251101T"),
    ] {
        std::fs::create_dir_all(base.join(folder)).unwrap();
        for n in &names {
            std::fs::copy(src.join(n), base.join(folder).join(n.replace(from, to))).unwrap();
        }
    }
    let late = names[0].replace(
        &names[0][names[0].find("20261101T").unwrap()..][..14],
        "20261101T2300Z",
    );
    std::fs::copy(src.join(&names[0]), base.join("2026/11/01").join(late)).unwrap();
    tree
}

#[test]
fn a_window_lists_and_gets_only_what_it_needs() {
    let Some(s) = server("a_window_lists_and_gets_only_what_it_needs") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let tree = dated_tree(d.path());
    upload(&s, "dated", &tree, "");
    let proxy = Proxy::start(&s, &d.path().join("requests.log"), &[]);
    let window = [
        "--since",
        "2026-11-01T00:30:00Z",
        "--until",
        "2026-11-01T01:00:00Z",
    ];
    let args = |input: &str| {
        let mut a = vec!["cat", input, "--format", "jsonl", "-q"];
        a.extend(window);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let on_disk = common::vpcflow(&args(tree.to_str().unwrap()));
    let on_s3 = run(&proxy.url, &args("s3://dated/AWSLogs/"));
    assert_eq!(answer(&on_s3), answer(&on_disk), "{}", stderr(&on_s3));
    assert_eq!(on_s3.status.code(), Some(0));
    let requests = proxy.take();

    // The objects got: exactly the twelve of 2026-11-01 whose names are near the window
    // (not the copy named 23:00, whose records could start at 22:00 at the earliest).
    let day = "/dated/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01/";
    let mut got: Vec<&str> = requests
        .iter()
        .filter(|r| r.starts_with("GET /dated/AWSLogs/") && !r.contains('?'))
        .map(|r| r.split(' ').nth(1).unwrap())
        .collect();
    got.sort();
    let mut expected: Vec<String> = std::fs::read_dir(
        root("testdata/demo/logs").join("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01"),
    )
    .unwrap()
    .map(|e| format!("{day}{}", e.unwrap().file_name().into_string().unwrap()))
    .collect();
    expected.sort();
    assert_eq!(got, expected, "{requests:#?}");

    // The listings: one per folder on the way down, and none of the folders of 2025
    // or of October 20th (their dates are outside), nor of the whole bucket at once.
    let prefixes: Vec<String> = requests
        .iter()
        .filter(|r| r.contains("list-type=2"))
        .map(|r| {
            assert!(r.contains("delimiter=%2F"), "{r}");
            let q = r.split(' ').nth(1).unwrap();
            let p = q
                .split("prefix=")
                .nth(1)
                .unwrap_or("")
                .split('&')
                .next()
                .unwrap();
            p.replace("%2F", "/")
        })
        .collect();
    let under = "AWSLogs/123456789012/vpcflowlogs/us-east-1/";
    let mut expected_lists: Vec<String> = [
        "AWSLogs/",
        "AWSLogs/123456789012/",
        "AWSLogs/123456789012/vpcflowlogs/",
        under,
    ]
    .iter()
    .map(|p| p.to_string())
    .chain(
        // October ends at 00:00 on November 1st, within the hour's slack of the
        // window: its folder is listed, its day 20 is not.
        ["2026/", "2026/10/", "2026/11/", "2026/11/01/"]
            .iter()
            .map(|p| format!("{under}{p}")),
    )
    .collect();
    let mut sorted = prefixes.clone();
    sorted.sort();
    expected_lists.sort();
    assert_eq!(sorted, expected_lists, "{requests:#?}");

    // Without a window, one listing of the whole prefix, and every object got.
    let o = run(
        &proxy.url,
        &["cat", "s3://dated/AWSLogs/", "-q", "--format", "csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let requests = proxy.take();
    let gets = requests
        .iter()
        .filter(|r| r.starts_with("GET /dated/AWSLogs/") && !r.contains('?'))
        .count();
    assert_eq!(gets, 37);
    let lists: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("list-type=2"))
        .collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(!lists[0].contains("delimiter"), "{lists:?}");
}

#[test]
fn credentials_come_from_a_profile_file() {
    let Some(s) = server("credentials_come_from_a_profile_file") else {
        return;
    };
    let logs = root("testdata/demo/logs");
    upload(&s, "profiled", &logs, "");
    let d = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&s, &d.path().join("requests.log"), &[]);
    let credentials = d.path().join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = x\n\n\
         [audit]\naws_access_key_id = AKIDAUDITPROFILE\naws_secret_access_key = s3cret\n",
    )
    .unwrap();
    let config = d.path().join("config");
    std::fs::write(&config, "[profile audit]\nregion = eu-west-1\n").unwrap();
    let vars = env(
        &proxy.url,
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_ENDPOINT_URL", None),
            ("AWS_ENDPOINT_URL_S3", Some(proxy.url.as_str())),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str()),
            ("AWS_CONFIG_FILE", config.to_str()),
            ("AWS_PROFILE", Some("audit")),
            ("HOME", d.path().to_str()),
        ],
    );
    let o = common::vpcflow_env(&["cat", "s3://profiled/", "--format", "jsonl", "-q"], &vars);
    let on_disk = common::vpcflow(&["cat", logs.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert_eq!(answer(&o), answer(&on_disk), "{}", stderr(&o));
    let requests = proxy.take();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.split(' ').nth(2), Some("AKIDAUDITPROFILE"), "{r}");
    }
}

#[test]
fn s3_errors_name_the_bucket_and_exit_2() {
    let Some(s) = server("s3_errors_name_the_bucket_and_exit_2") else {
        return;
    };
    let logs = root("testdata/demo/logs");
    upload(&s, "forbidden", &logs, "");
    let d = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&s, &d.path().join("requests.log"), &["--deny", "forbidden"]);

    let o = run(&proxy.url, &["cat", "s3://no-such-bucket/logs/", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("s3://no-such-bucket/logs/") && err.contains("NoSuchBucket"),
        "{err}"
    );

    let o = run(&proxy.url, &["cat", "s3://forbidden/", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("s3://forbidden/") && err.contains("AccessDenied: Access Denied"),
        "{err}"
    );

    upload(&s, "empty", &root("testdata/aws-json"), "x/");
    let o = run(&proxy.url, &["cat", "s3://empty/nothing-here/", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("s3://empty/nothing-here/: no object there"));

    // No credentials anywhere: said with the bucket, before any request.
    proxy.take();
    let vars = env(
        &proxy.url,
        &[
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("HOME", Some("/nonexistent")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                Some("/nonexistent/credentials"),
            ),
            ("AWS_CONFIG_FILE", Some("/nonexistent/config")),
        ],
    );
    let o = common::vpcflow_env(&["query", "s3://empty/x/", "-q"], &vars);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("s3://empty: no AWS credentials"), "{err}");
    assert_eq!(proxy.take(), Vec::<String>::new());
}

#[test]
fn a_damaged_object_is_reported_as_a_damaged_file_is() {
    let Some(s) = server("a_damaged_object_is_reported_as_a_damaged_file_is") else {
        return;
    };
    // The clean demo (an audit without findings), one of its objects cut short: its
    // gzip trailer and part of its last member gone.
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    let day = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01";
    std::fs::create_dir_all(tree.join(day)).unwrap();
    for e in std::fs::read_dir(root("testdata/demo-clean/logs").join(day)).unwrap() {
        let p = e.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.contains("T0030Z") {
            bytes.truncate(bytes.len() * 2 / 3);
        }
        std::fs::write(tree.join(day).join(name), bytes).unwrap();
    }
    upload(&s, "damaged", &tree, "");
    let clean = root("testdata/demo-clean");
    let (map, policy) = (clean.join("eni-map.csv"), clean.join("policy.toml"));
    let (map, policy) = (map.to_str().unwrap(), policy.to_str().unwrap());
    let args = |command: &str, input: &str| -> Vec<String> {
        let a = match command {
            "cat" => vec![command, input, "--format", "csv"],
            _ => vec![
                command, input, "--format", "json", "--map", map, "--policy", policy,
            ],
        };
        a.into_iter().map(str::to_string).collect()
    };
    for command in ["cat", "audit"] {
        let on_disk = common::vpcflow(&args(command, tree.to_str().unwrap()));
        let on_s3 = common::s3::vpcflow(&s.url, &args(command, "s3://damaged/"));
        assert_eq!(answer(&on_s3), answer(&on_disk), "{command}");
        // The audit read a damaged input: not clean, as with the file.
        let code = if command == "audit" { 2 } else { 0 };
        assert_eq!(on_s3.status.code(), Some(code), "{}", stderr(&on_s3));
        let err = stderr(&on_s3);
        let cut = err
            .lines()
            .find(|l| l.contains("T0030Z"))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            cut.contains("s3://damaged/AWSLogs/123456789012/vpcflowlogs/"),
            "{cut}"
        );
        // The same words as for the file, after its name.
        let disk_err = stderr(&on_disk);
        let disk_cut = disk_err.lines().find(|l| l.contains("T0030Z")).unwrap();
        let after = |l: &str| l[l.find("T0030Z").unwrap()..].to_string();
        assert_eq!(after(cut), after(disk_cut));
    }
}

#[test]
fn throttling_is_retried() {
    let Some(s) = server("throttling_is_retried") else {
        return;
    };
    let logs = root("testdata/demo/logs");
    upload(&s, "busy", &logs, "");
    let d = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&s, &d.path().join("requests.log"), &["--slowdown"]);
    let o = run(
        &proxy.url,
        &["cat", "s3://busy/", "--format", "jsonl", "-q"],
    );
    let on_disk = common::vpcflow(&["cat", logs.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert_eq!(answer(&o), answer(&on_disk), "{}", stderr(&o));
    // Each of the twelve objects: one 503 SlowDown, then one 200.
    let requests = proxy.take();
    let gets: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET /busy/AWSLogs/"))
        .collect();
    assert_eq!(gets.len(), 24, "{gets:#?}");
    assert_eq!(gets.iter().filter(|r| r.ends_with(" 503")).count(), 12);
    assert_eq!(gets.iter().filter(|r| r.ends_with(" 200")).count(), 12);
}

#[test]
fn security_lake_ocsf_parquet_on_s3_reads_as_on_disk() {
    let test = "security_lake_ocsf_parquet_on_s3_reads_as_on_disk";
    let Some(s) = server(test) else {
        return;
    };
    if !common::python_imports("pyarrow") {
        common::skip(test, "python3 with pyarrow is needed to write OCSF Parquet");
        return;
    }
    // The demo as Security Lake writes it (aws/VPC_FLOW/2.0/.../eventDay=YYYYMMDD/).
    let d = tempfile::tempdir().unwrap();
    let lake = d.path().join("lake");
    let o = std::process::Command::new("python3")
        .arg(root("scripts/flowlog-to-ocsf"))
        .args(["--ocsf", "1.1.0", "--format", "parquet"])
        .arg(&lake)
        .arg(root("testdata/demo/logs"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    upload(&s, "lake", &lake, "");
    let args = |input: &str| -> Vec<String> {
        [
            "query",
            input,
            "--group-by",
            "dstport,action",
            "--format",
            "json",
            "-q",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let on_disk = common::vpcflow(&args(lake.to_str().unwrap()));
    let on_s3 = run(&s.url, &args("s3://lake/aws/"));
    assert_eq!(answer(&on_s3), answer(&on_disk), "{}", stderr(&on_s3));
    // And the text the records came from answers the same.
    let text = common::vpcflow(&args(root("testdata/demo/logs").to_str().unwrap()));
    assert_eq!(answer(&on_s3), answer(&text));
    // eventDay= folders outside a window are not listed: nothing read, nothing printed.
    let o = run(
        &s.url,
        &[
            "cat",
            "s3://lake/aws/",
            "--since",
            "2026-11-05T00:00:00Z",
            "-q",
        ],
    );
    assert_eq!(answer(&o), (Some(0), String::new()), "{}", stderr(&o));
}
