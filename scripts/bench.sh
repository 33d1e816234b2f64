#!/usr/bin/env bash
# End-to-end benchmark: vpcflow against DuckDB and DataFusion on the same flow logs, with
# `wc -l` and bare zlib-rs inflating (examples/inflate) as the hardware baselines, side by
# side in one hyperfine run; then `convert` against DuckDB's COPY to Parquet, and the same
# 100 MB of text as 20,000 small `.gz` objects and as 16 large ones.
#
#   scripts/bench.sh            # 1 GB of v2 and of v5 (plain), and v5 as S3 .gz parts
#   BENCH_SIZE=200M scripts/bench.sh
#
# Needs: cargo, python3 (a virtual environment with duckdb, datafusion and pyarrow is made
# in bench-data/.venv), hyperfine (Debian package; installed with apt-get if missing).
# Checks that every engine returns the same totals before timing anything.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${BENCH_SIZE:-1G}
RUNS=${BENCH_RUNS:-3}
DATA=bench-data
mkdir -p "$DATA"

command -v hyperfine >/dev/null || { apt-get update -q && apt-get install -y -q hyperfine; }
if [ ! -x "$DATA/.venv/bin/python" ]; then
  python3 -m venv "$DATA/.venv"
  "$DATA/.venv/bin/pip" install -q duckdb datafusion pyarrow
fi
PY="$DATA/.venv/bin/python"
cargo build --release -q
cargo build --release -q --example inflate
VF=target/release/vpcflow
INFLATE=target/release/examples/inflate

gen() { # version layout out
  [ -e "$DATA/$3.done" ] && return
  rm -rf "$DATA/$3"
  extra=()
  [ "$2" != none ] && extra=(--layout "$2")
  python3 scripts/gen-flowlogs --seed 7 --version "$1" --size "$SIZE" --quiet "${extra[@]}" \
    --out "$DATA/$3" --map-out "$DATA/$3.map.csv" --policy-out "$DATA/$3.policy.toml"
  touch "$DATA/$3.done"
}
gen 2 none "v2-$SIZE.log"
gen 5 none "v5-$SIZE.log"
gen 5 s3 "v5-$SIZE-s3"
# The same 100 MB of v5 text as 20,000 small objects and as 16 large ones.
for n in 20000 16; do
  [ -e "$DATA/split-$n.done" ] && continue
  rm -rf "$DATA/split-$n"
  python3 scripts/split-gz "$DATA/v5-$SIZE.log" 104857600 "$n" "$DATA/split-$n"
  touch "$DATA/split-$n.done"
done

bytes_of() { du -sb --apparent-size "$1" | cut -f1; }
text_bytes() { if [ -d "$1" ]; then find "$1" -name '*.gz' -exec zcat {} + | wc -c; else bytes_of "$1"; fi; }

check() { # label path glob
  local v d f
  v=$($VF query "$2" --format json -q | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["records"], r["bytes"])')
  d=$("$PY" scripts/bench_engines.py duckdb totals "$3")
  f=$("$PY" scripts/bench_engines.py datafusion totals "$3")
  echo "totals $1: vpcflow [$v] duckdb [$d] datafusion [$f]"
  [ "$v" = "$d" ] && [ "$v" = "$f" ] || { echo "engines disagree on $1" >&2; exit 1; }
}

run() { # label path glob records
  local label=$1 path=$2 glob=$3 records=$4 text
  text=$(text_bytes "$path")
  local cmds=(
    "$VF query $path --group-by eni --format json -q"
    "$VF audit $path --map $path.map.csv --policy $path.policy.toml --format json -q; true"
    "$PY scripts/bench_engines.py duckdb by-eni '$glob'"
    "$PY scripts/bench_engines.py datafusion by-eni '$glob'"
  )
  if [ -d "$path" ]; then
    cmds+=("$INFLATE $path")
  else
    cmds+=("wc -l $path")
  fi
  hyperfine --shell=bash --warmup 1 --runs "$RUNS" --export-json "$DATA/$label.json" \
    -n "vpcflow query --group-by eni" -n "vpcflow audit" -n "duckdb read_csv group by" \
    -n "datafusion csv group by" -n "baseline" "${cmds[@]}" >/dev/null
  "$PY" - "$DATA/$label.json" "$label" "$text" "$records" <<'PYEOF'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
label, text, records = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = {r["command"]: r["median"] for r in runs}
ref_duck, ref_df = base["duckdb read_csv group by"], base["datafusion csv group by"]
print(f"\n{label}: {text/1e9:.2f} GB of text, {records/1e6:.2f} M records")
print(f"| command | median s | MB/s | M records/s | vs DuckDB | vs DataFusion |")
print(f"| --- | ---: | ---: | ---: | ---: | ---: |")
for r in runs:
    m = r["median"]
    print(f"| {r['command']} | {m:.2f} | {text/m/1e6:.0f} | {records/m/1e6:.2f} | "
          f"{ref_duck/m:.2f}x | {ref_df/m:.2f}x |")
PYEOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
for spec in "v2-$SIZE.log:$DATA/v2-$SIZE.log" "v5-$SIZE.log:$DATA/v5-$SIZE.log" "v5-$SIZE-s3:$DATA/v5-$SIZE-s3/**/*.log.gz"; do
  label=${spec%%:*}; glob=${spec#*:}
  check "$label" "$DATA/$label" "$glob"
  records=$($VF query "$DATA/$label" --format json -q | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  run "$label" "$DATA/$label" "$glob" "$records"
done

# Convert to Parquet: vpcflow (zstd, every field validated) and DuckDB's COPY.
v5="$DATA/v5-$SIZE.log"
hyperfine --shell=bash --warmup 1 --runs "$RUNS" --export-json "$DATA/convert.json" \
  -n "vpcflow convert" -n "duckdb COPY to parquet" \
  "$VF convert $v5 -o $DATA/convert-vf.parquet -q" \
  "$PY scripts/bench_engines.py duckdb convert $v5 $DATA/convert-duck.parquet" >/dev/null
"$PY" - "$DATA/convert.json" "$(bytes_of "$v5")" <<'PYEOF'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
text = int(sys.argv[2])
duck = next(r["median"] for r in runs if r["command"].startswith("duckdb"))
print(f"\nconvert v5 to Parquet: {text/1e9:.2f} GB of text")
print("| command | median s | MB/s | vs DuckDB |")
print("| --- | ---: | ---: | ---: |")
for r in runs:
    print(f"| {r['command']} | {r['median']:.2f} | {text/r['median']/1e6:.0f} | {duck/r['median']:.2f}x |")
PYEOF
ls -l "$DATA/convert-vf.parquet" "$DATA/convert-duck.parquet" | awk '{print "  " $5, $9}'

# Many small objects against a few large ones (same text), with peak memory.
echo
echo "20,000 small .gz objects vs 16 large ones (the same 100 MB of v5 text)"
echo "| input | command | median s | MB/s | peak RSS MB |"
echo "| --- | --- | ---: | ---: | ---: |"
text=$(find "$DATA/split-16" -name '*.gz' -exec zcat {} + | wc -c)
for n in 20000 16; do
  d="$DATA/split-$n"
  for cmd in "$VF query $d --group-by eni --format json -q" \
             "$PY scripts/bench_engines.py duckdb by-eni '$d/**/*.log.gz'" \
             "$INFLATE $d"; do
    times=()
    for _ in $(seq "$RUNS"); do
      /usr/bin/time -f "%e %M" -o "$DATA/time.txt" bash -c "$cmd" >/dev/null
      times+=("$(cat "$DATA/time.txt")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" | {
      read -r s kb
      name=$(echo "$cmd" | awk '{print $1}' | xargs basename)
      [ "$name" = python ] && name=duckdb
      awk -v n="$n" -v name="$name" -v s="$s" -v kb="$kb" -v t="$text" \
        'BEGIN { printf "| %s objects | %s | %.2f | %.0f | %.0f |\n", n, name, s, t / s / 1e6, kb / 1024 }'
    }
  done
done

