//! `vpcflow report` in a real browser: headless Chromium opens the demo's page from a
//! file, driven over the DevTools protocol (`--remote-debugging-pipe`). The page must
//! load with no console error or warning, no exception, and no network request (only
//! the page itself is fetched); every finding of `vpcflow audit` must be a visible row
//! with its reason; every chart must be drawn; the filters and sorting must work; the
//! dark theme and the print style must apply. Screenshots at 1280x800 are saved
//! (`VPCFLOW_SCREENSHOTS=DIR`, default `target/report-screenshots`): the top of the page
//! and the first service's charts, in light and dark.
//!
//! `VPCFLOW_BROWSER=require` (CI) makes a missing Chromium a failure; `skip` skips the
//! test; unset, it is skipped with a message when no Chromium is found.
//! `VPCFLOW_CHROMIUM=PATH` names the browser (default: `chromium` on the PATH).

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{json_lines, root, stderr, vpcflow_in};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// The browser to run, or `None` with `test` said to be skipped.
fn chromium(test: &str) -> Option<PathBuf> {
    let mode = std::env::var("VPCFLOW_BROWSER").unwrap_or_default();
    if mode == "skip" {
        common::skip(test, "VPCFLOW_BROWSER=skip");
        return None;
    }
    let named = std::env::var_os("VPCFLOW_CHROMIUM").map(PathBuf::from);
    let found = named.or_else(|| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|n| {
                std::env::var_os("PATH").and_then(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join(n))
                        .find(|f| f.is_file())
                })
            })
    });
    match found {
        Some(p) => Some(p),
        None if mode == "require" => {
            panic!("VPCFLOW_BROWSER=require, but no chromium is on the PATH (apt-get install chromium)")
        }
        None => {
            common::skip(
                test,
                "no chromium on the PATH (install Debian's chromium package, or set \
                 VPCFLOW_CHROMIUM)",
            );
            None
        }
    }
}

/// A headless Chromium and one page of it, over the DevTools pipe.
struct Browser {
    child: Child,
    to: File,
    from: Receiver<Value>,
    session: String,
    next: u64,
    /// Events received so far, in order.
    events: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Browser {
    fn start(exe: &Path) -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in"), dir.path().join("out"));
        for f in [&input, &output] {
            let made = Command::new("mkfifo").arg(f).status().unwrap();
            assert!(made.success(), "mkfifo {}", f.display());
        }
        // The browser reads commands on fd 3 and writes replies on fd 4.
        // In a process group of its own, to be ended with everything it started.
        let child = Command::new("sh")
            .process_group(0)
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<"$IN" 4>"$OUT""#)
            .arg(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg("about:blank")
            .env("IN", &input)
            .env("OUT", &output)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let to = File::options().write(true).open(&input).unwrap();
        let from = File::open(&output).unwrap();
        let (send, recv) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if send.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        let mut b = Browser {
            child,
            to,
            from: recv,
            session: String::new(),
            next: 0,
            events: Vec::new(),
            _dir: dir,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page", "Runtime", "Log", "Network"] {
            b.call(&format!("{domain}.enable"), json!({}));
        }
        b
    }

    /// Sends a command (to the page once attached) and waits for its reply.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match self.from.recv_timeout(left) {
                Ok(v) => v,
                Err(e) => panic!("{method}: no reply from the browser: {e}{}", self.exited()),
            };
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    panic!("{method}: {err}");
                }
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for an event of the page, received after the first `since` events.
    fn wait_for(&mut self, method: &str, since: usize) {
        if self.events[since.min(self.events.len())..]
            .iter()
            .any(|e| e["method"] == method)
        {
            return;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match self.from.recv_timeout(left) {
                Ok(v) => v,
                Err(e) => panic!("no {method} from the browser: {e}{}", self.exited()),
            };
            let done = v["method"] == method;
            self.events.push(v);
            if done {
                return;
            }
        }
    }

    /// Evaluates a script in the page and returns its value (JSON).
    fn eval(&mut self, script: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": script, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("script failed: {e}\n{script}");
        }
        r["result"]["value"].clone()
    }

    /// Whether the browser has exited, and how, for messages.
    fn exited(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!(" (the browser exited: {status})"),
            _ => String::new(),
        }
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    /// Closes the browser (so that it removes its own temporary files), then ends
    /// whatever of its process group is left.
    fn drop(&mut self) {
        let close = json!({"id": 0, "method": "Browser.close"});
        let mut bytes = serde_json::to_vec(&close).unwrap();
        bytes.push(0);
        if self.to.write_all(&bytes).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// What the page's scripts, console and network did, as problems.
fn problems(events: &[Value], page: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled" => {
                let kind = p["type"].as_str().unwrap_or("");
                if matches!(kind, "error" | "warning" | "assert") {
                    bad.push(format!("console {kind}: {}", p["args"]));
                }
            }
            "Runtime.exceptionThrown" => bad.push(format!("exception: {}", p["exceptionDetails"])),
            "Log.entryAdded" => {
                let level = p["entry"]["level"].as_str().unwrap_or("");
                if matches!(level, "error" | "warning") {
                    bad.push(format!("log {level}: {}", p["entry"]["text"]));
                }
            }
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or("");
                if url != page {
                    bad.push(format!("network request: {url}"));
                }
            }
            "Network.loadingFailed" => bad.push(format!("loading failed: {p}")),
            _ => {}
        }
    }
    bad
}

/// The demo's arguments, relative to the package's folder (the commands run there, so
/// that the page and its screenshots show the paths a user types).
fn demo_args() -> [&'static str; 5] {
    [
        "testdata/demo/logs",
        "--map",
        "testdata/demo/eni-map.csv",
        "--policy",
        "testdata/demo/policy.toml",
    ]
}

#[test]
fn the_demo_report_renders_in_chromium_offline_with_every_finding() {
    let Some(exe) = chromium("the_demo_report_renders_in_chromium_offline_with_every_finding")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let made = vpcflow_in(
        &root(""),
        &[
            &["report"][..],
            &demo_args(),
            &["-q", "-o", page.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(made.status.code(), Some(1), "{}", stderr(&made));
    let audit = vpcflow_in(
        &root(""),
        &[&["audit"][..], &demo_args(), &["-q", "--format", "json"]].concat(),
    );
    let findings: Vec<Value> = json_lines(&audit);
    assert_eq!(findings.len(), 14, "the demo's findings");

    let mut b = Browser::start(&exe);
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    );
    let url = format!("file://{}", page.display());
    let since = b.events.len();
    b.call("Page.navigate", json!({"url": url}));
    b.wait_for("Page.loadEventFired", since);

    // Screenshots: the top of the page and the first service's charts.
    let shots = std::env::var_os("VPCFLOW_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root("target/report-screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    b.eval("window.scrollTo(0, 0)");
    b.screenshot(&shots.join("report.png"));
    b.eval("document.querySelector('article.service').scrollIntoView(); true");
    b.screenshot(&shots.join("report-service.png"));

    // Every finding is a visible row of the table, with its reason.
    let rows = b.eval(
        r#"Array.from(document.querySelectorAll('#findings-table tbody tr')).map(r => ({
            key: r.dataset.key, text: r.innerText, visible: r.offsetParent !== null }))"#,
    );
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), findings.len());
    for f in &findings {
        let key = format!(
            "{}|{}|{}|{}|{}",
            f["rule"].as_str().unwrap(),
            f["eni_id"].as_str().unwrap(),
            f["peer_addr"].as_str().unwrap(),
            f["protocol"],
            f["action"].as_str().unwrap()
        );
        let row = rows
            .iter()
            .find(|r| r["key"] == key.as_str())
            .unwrap_or_else(|| panic!("no row for {key}"));
        assert_eq!(row["visible"], true, "{key}");
        let text = row["text"].as_str().unwrap();
        assert!(
            text.contains(f["reason"].as_str().unwrap()),
            "{key}: the row does not show the reason: {text}"
        );
        assert!(text.contains(f["severity"].as_str().unwrap()), "{key}");
    }

    // Every chart is drawn: a timeline and a peer graph per service, whose services
    // are those of the map's tasks that logged records; findings marked on the time
    // axes; red edges to the peers with findings; the rejected-ports bars.
    let charts = b.eval(
        r#"({
            services: Array.from(document.querySelectorAll('article.service h3')).map(h => h.textContent),
            timelines: document.querySelectorAll('article.service svg.timeline').length,
            areas: document.querySelectorAll('svg.timeline path.area').length,
            marks: document.querySelectorAll('svg.timeline rect.mark').length,
            graphs: document.querySelectorAll('article.service svg.graph').length,
            red: document.querySelectorAll('svg.graph line.edge.bad').length,
            bars: document.querySelectorAll('#rejected svg.bars rect.bar').length,
            sizes: Array.from(document.querySelectorAll('svg.chart')).map(s => {
                const r = s.getBoundingClientRect(); return [r.width, r.height]; }),
            overflow: document.documentElement.scrollWidth - window.innerWidth
        })"#,
    );
    let services: Vec<&str> = charts["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut sorted = services.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            // The standalone task `migrate` (no service) talks to the database.
            "(no service) · prod",
            "admin-gateway · prod",
            "api · prod",
            "payments · pci",
            "web · prod",
            "worker · prod"
        ]
    );
    assert_eq!(charts["timelines"], 6);
    assert_eq!(charts["graphs"], 6);
    // In every peer graph, no two labels' boxes meet and none leaves the drawing.
    let labels = b.eval(
        r#"Array.from(document.querySelectorAll('svg.graph')).map(svg => {
            const vb = svg.viewBox.baseVal;
            const boxes = Array.from(svg.querySelectorAll('text.label')).map(t => t.getBBox());
            const bad = [];
            boxes.forEach((a, i) => {
                if (a.x < vb.x || a.y < vb.y || a.x + a.width > vb.x + vb.width
                    || a.y + a.height > vb.y + vb.height) bad.push(`label ${i} outside`);
                boxes.slice(i + 1).forEach((c, k) => {
                    if (a.x < c.x + c.width && c.x < a.x + a.width
                        && a.y < c.y + c.height && c.y < a.y + a.height)
                        bad.push(`labels ${i} and ${i + 1 + k} meet`);
                });
            });
            return { labels: boxes.length, bad };
        })"#,
    );
    for g in labels.as_array().unwrap() {
        assert!(g["labels"].as_u64().unwrap() > 1, "{labels}");
        assert!(g["bad"].as_array().unwrap().is_empty(), "{labels}");
    }
    assert!(charts["areas"].as_u64().unwrap() >= 10, "{charts}");
    // Each service with findings marks them; api's six findings and web's four, at
    // least one mark for each service with findings.
    let with_findings: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["service"].as_str().unwrap())
        .collect();
    assert!(charts["marks"].as_u64().unwrap() >= with_findings.len() as u64);
    assert!(charts["red"].as_u64().unwrap() >= with_findings.len() as u64);
    assert!(charts["bars"].as_u64().unwrap() >= 1);
    for s in charts["sizes"].as_array().unwrap() {
        assert!(
            s[0].as_f64().unwrap() > 200.0 && s[1].as_f64().unwrap() > 50.0,
            "{s}"
        );
    }
    assert!(
        charts["overflow"].as_f64().unwrap() <= 0.0,
        "the page is wider than 1280 px: {charts}"
    );

    // The filters and sorting work.
    let filtered = b.eval(
        r#"(() => {
            const s = document.getElementById('f-rule');
            s.value = 'cleartext'; s.dispatchEvent(new Event('change'));
            const shown = Array.from(document.querySelectorAll('#findings-table tbody tr'))
                .filter(r => !r.hidden).map(r => r.dataset.rule);
            const count = document.getElementById('f-count').textContent;
            s.value = ''; s.dispatchEvent(new Event('change'));
            return {shown, count};
        })()"#,
    );
    let cleartext = findings.iter().filter(|f| f["rule"] == "cleartext").count();
    assert_eq!(
        filtered["shown"].as_array().unwrap().len(),
        cleartext,
        "{filtered}"
    );
    assert!(filtered["shown"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r == "cleartext"));
    assert_eq!(
        filtered["count"],
        format!("{cleartext} of {} findings shown", findings.len()).as_str()
    );
    let sorted = b.eval(
        r#"(() => {
            const th = Array.from(document.querySelectorAll('#findings-table th'))
                .find(h => h.textContent.startsWith('Bytes'));
            th.querySelector('button').click();
            const up = Array.from(document.querySelectorAll('#findings-table tbody tr'))
                .map(r => Number(r.cells[th.cellIndex].dataset.v));
            th.querySelector('button').click();
            const down = Array.from(document.querySelectorAll('#findings-table tbody tr'))
                .map(r => Number(r.cells[th.cellIndex].dataset.v));
            return {up, down, sort: th.getAttribute('aria-sort')};
        })()"#,
    );
    let mut bytes: Vec<u64> = findings
        .iter()
        .map(|f| f["bytes"].as_u64().unwrap())
        .collect();
    bytes.sort();
    let numbers = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers(&sorted["up"]), bytes);
    bytes.reverse();
    assert_eq!(numbers(&sorted["down"]), bytes);
    assert_eq!(sorted["sort"], "descending");

    // Dark: the system's preference, then the button's; printed: light, no controls.
    let light = b.eval("getComputedStyle(document.body).backgroundColor");
    b.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    let dark = b.eval("getComputedStyle(document.body).backgroundColor");
    assert_eq!(light, "rgb(255, 255, 255)");
    assert_ne!(dark, light, "the dark theme does not apply");
    b.screenshot(&shots.join("report-service-dark.png"));
    let forced = b.eval(
        r#"(() => { const t = document.getElementById('theme'); t.click();
            const l = getComputedStyle(document.body).backgroundColor; t.click();
            const d = getComputedStyle(document.body).backgroundColor; t.click();
            return [l, d, t.textContent]; })()"#,
    );
    assert_eq!(forced[0], light, "the light theme button");
    assert_eq!(forced[1], dark, "the dark theme button");
    assert_eq!(forced[2], "Theme: auto");
    b.call(
        "Emulation.setEmulatedMedia",
        json!({"media": "print", "features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    let print = b.eval(
        r#"[getComputedStyle(document.body).backgroundColor,
            getComputedStyle(document.querySelector('nav')).display,
            getComputedStyle(document.querySelector('.filters')).display]"#,
    );
    assert_eq!(print, json!([light, "none", "none"]));
    // Printed after choosing Dark with the button: light all the same.
    let chosen = b.eval(
        r#"(() => { const t = document.getElementById('theme'); t.click(); t.click();
            return [t.textContent, getComputedStyle(document.body).backgroundColor]; })()"#,
    );
    assert_eq!(chosen, json!(["Theme: dark", light]));
    let svg_text = b.eval("getComputedStyle(document.querySelector('svg .label')).fill");
    assert_eq!(
        svg_text, "rgb(28, 32, 38)",
        "the charts' labels print dark on white"
    );
    b.call("Emulation.setEmulatedMedia", json!({"media": ""}));
    let pdf = b.call("Page.printToPDF", json!({}));
    assert!(pdf["data"].as_str().unwrap().len() > 10_000);

    let bad = problems(&b.events, &url);
    assert!(bad.is_empty(), "the page was not clean: {bad:#?}");
    let fetched = b
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .count();
    assert_eq!(fetched, 1, "only the page itself is fetched");
}
