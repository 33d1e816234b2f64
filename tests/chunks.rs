//! Large plain files are split into newline-aligned chunks read in parallel (tiny
//! chunks in debug builds): results, line numbers of rejected lines, and the line
//! accounting must be those of a plain sequential read, also when a header line in the
//! middle of the file changes the layout.

mod common;

use std::process::Output;

use common::vpcflow;
use serde_json::Value;

fn summary(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.contains(" lines = "))
        .map(|l| l.split("; ").next().unwrap().to_string())
        .unwrap()
}

#[test]
fn chunked_reads_equal_a_sequential_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n");
    for i in 0..300u32 {
        text += &format!(
            "2 123456789012 eni-{:02} 10.0.{}.{} 10.1.0.1 {} 443 6 {} {} {} {} ACCEPT OK\n",
            i % 7,
            i / 200,
            i % 200 + 1,
            30000 + i,
            i + 1,
            100 + i,
            1_793_491_200 + i,
            1_793_491_260 + i
        );
        if i % 97 == 5 {
            text += "2 123456789012 eni-bad 10.0.0.1 10.0.0.2 443 70000 6 1 1 1 1 ACCEPT OK\n\n";
        }
    }
    // A different layout from here on: the chunks after it must be decoded with it.
    text += "version interface-id srcaddr dstaddr dstport bytes start\n";
    for i in 0..300u32 {
        text += &format!(
            "5 eni-v5-{} 10.2.0.{} 10.3.0.1 {} {} {}\n",
            i % 3,
            i % 250 + 1,
            8000 + i % 5,
            1000 + i,
            1_793_492_000 + i
        );
        if i == 150 {
            text += "5 eni-v5-x 10.2.0.1 10.3.0.1 8080 lots 1793492000\n";
        }
    }
    let p = dir.path().join("big.log");
    std::fs::write(&p, &text).unwrap();
    let path = p.to_str().unwrap();
    assert!(
        text.len() > 20 * 2048,
        "the file spans many debug-build chunks"
    );

    let e1 = dir.path().join("cat-errors.jsonl");
    let cat = vpcflow(&["cat", path, "--errors", e1.to_str().unwrap()]);
    let rows: Vec<Value> = String::from_utf8(cat.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bytes: u64 = rows.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    for threads in ["1", "3"] {
        let e2 = dir.path().join(format!("query-errors-{threads}.jsonl"));
        let q = vpcflow(&[
            "query",
            path,
            "--format",
            "json",
            "--threads",
            threads,
            "--errors",
            e2.to_str().unwrap(),
        ]);
        assert!(q.status.success());
        let total: Value = serde_json::from_slice(&q.stdout).unwrap();
        assert_eq!(total["records"].as_u64().unwrap(), rows.len() as u64);
        assert_eq!(total["bytes"].as_u64().unwrap(), bytes);
        assert_eq!(summary(&q), summary(&cat));
        assert_eq!(
            std::fs::read_to_string(&e2).unwrap(),
            std::fs::read_to_string(&e1).unwrap()
        );
        let by_eni = vpcflow(&[
            "query",
            path,
            "--format",
            "json",
            "--threads",
            threads,
            "--group-by",
            "eni",
            "-q",
        ]);
        let groups = String::from_utf8(by_eni.stdout).unwrap();
        assert!(groups.contains("\"eni\":\"eni-v5-2\""), "{groups}");
    }
    let errors = std::fs::read_to_string(&e1).unwrap();
    assert_eq!(errors.lines().count(), 5);
    assert!(
        errors.contains("\"error\":\"field bytes: \\\"lots\\\" is not a number\""),
        "{errors}"
    );
}

#[test]
fn cat_and_convert_honour_threads_with_output_order_unchanged() {
    // A directory with a large plain file (many debug-build chunks, a header change in
    // the middle), a .gz object and a small file: rows come out in path and line order
    // whatever the number of threads.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut expected: Vec<(String, u64)> = Vec::new();
    let mut big = String::from("version interface-id srcaddr dstaddr bytes start\n");
    for i in 0..1000u32 {
        let eni = format!("eni-a{}", i % 11);
        big += &format!("2 {eni} 10.0.0.{} 10.1.0.1 {i} 1793491200\n", i % 200 + 1);
        expected.push((eni, i as u64));
    }
    // From here on the layout is (version, bytes, interface-id).
    big += "version bytes interface-id\n";
    for i in 1000..2000u32 {
        let eni = format!("eni-b{}", i % 5);
        big += &format!("2 {i} {eni}\n");
        expected.push((eni, i as u64));
    }
    std::fs::write(logs.join("a-big.log"), &big).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut small = String::from("version interface-id bytes\n");
    for i in 0..50u64 {
        small += &format!("2 eni-c {}\n", 5000 + i);
        expected.push(("eni-c".into(), 5000 + i));
    }
    std::io::Write::write_all(&mut gz, small.as_bytes()).unwrap();
    std::fs::write(logs.join("b.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        logs.join("c.log"),
        "version interface-id bytes\n2 eni-d 7\n",
    )
    .unwrap();
    expected.push(("eni-d".into(), 7));
    assert!(big.len() > 20 * 2048, "many chunks in debug builds");

    let path = logs.to_str().unwrap();
    let cat = |threads: &str| vpcflow(&["cat", path, "--threads", threads, "-q"]).stdout;
    let one = cat("1");
    let got: Vec<(String, u64)> = String::from_utf8(one.clone())
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["interface_id"].as_str().unwrap().to_string(),
                v["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "rows out of order");
    for threads in ["2", "3", "8"] {
        assert!(cat(threads) == one, "--threads {threads}");
    }
    let convert = |threads: &str| {
        let out = dir.path().join(format!("out-{threads}.parquet"));
        let o = vpcflow(&[
            "convert",
            path,
            "-o",
            out.to_str().unwrap(),
            "--threads",
            threads,
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let one = convert("1");
    assert!(convert("3") == one);
}
