#!/usr/bin/env bash
# `learn` beside `audit` on the same file, side by side in one run: the audit with the
# scenario's policy, the audit with the policy learned from the file (every connection
# admitted), and `learn` itself (every connection kept and decided, then named).
#
#   scripts/bench-learn.sh [DIR]   (default bench-data; BENCH_SIZE=1G, BENCH_RUNS=3)
#
# Generates 1 GB of v5 text with its map and policy (scripts/gen-flowlogs --seed 7, as
# scripts/bench.sh does) unless DIR has it, and prints each command's median (hyperfine;
# installed with apt-get if missing) with MB/s, records/s, peak RSS and the ratio to the
# audit. Uses target/release/vpcflow.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-bench-data}
SIZE=${BENCH_SIZE:-1G}
RUNS=${BENCH_RUNS:-3}
mkdir -p "$DIR"
command -v hyperfine >/dev/null || { apt-get update -q && apt-get install -y -q hyperfine; }
cargo build --release -q
VF=target/release/vpcflow
f="$DIR/v5-$SIZE.log"
if [ ! -e "$f" ]; then
  python3 scripts/gen-flowlogs --seed 7 --version 5 --size "$SIZE" --quiet \
    --out "$f" --map-out "$f.map.csv" --policy-out "$f.policy.toml"
fi
"$VF" learn "$f" --map "$f.map.csv" --vpc-cidr 10.0.0.0/16 -o "$DIR/learned.toml" -q
records=$("$VF" query "$f" --format json -q | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
bytes=$(stat -L -c %s "$f")
hyperfine --warmup 1 --runs "$RUNS" --export-json "$DIR/learn.json" \
  -n "audit (scenario policy)" "$VF audit $f --map $f.map.csv --policy $f.policy.toml --format json -q > /dev/null; true" \
  -n "audit (learned policy)" "$VF audit $f --map $f.map.csv --policy $DIR/learned.toml --format json -q > /dev/null; true" \
  -n "learn" "$VF learn $f --map $f.map.csv --vpc-cidr 10.0.0.0/16 -o $DIR/learned-again.toml -q" \
  >/dev/null
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
python3 - "$DIR/learn.json" "$bytes" "$records" \
  "$(rss "$VF" audit "$f" --map "$f.map.csv" --policy "$f.policy.toml" --format json -q || true)" \
  "$(rss "$VF" audit "$f" --map "$f.map.csv" --policy "$DIR/learned.toml" --format json -q || true)" \
  "$(rss "$VF" learn "$f" --map "$f.map.csv" --vpc-cidr 10.0.0.0/16 -o "$DIR/learned-again.toml" -q)" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
size, records = int(sys.argv[2]), int(sys.argv[3])
rss = sys.argv[4:7]
base = runs[0]["median"]
print(f"{size/1e9:.2f} GB, {records/1e6:.2f} M records")
print("| command | median s | MB/s | M records/s | peak RSS | vs audit |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r, m in zip(runs, rss):
    t = r["median"]
    print(f"| {r['command']} | {t:.2f} | {size/1e6/t:.0f} | {records/1e6/t:.2f} | {int(m)/1024:.0f} MB | {t/base:.2f}x |")
PY
