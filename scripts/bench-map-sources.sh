#!/usr/bin/env bash
# Loading map sources at scale, beside the parse of flow logs of the same size:
#   - N ECS task state change events as JSON Lines (scripts/gen-map-sources events),
#     against plain v5 flow logs of the same number of bytes (`vpcflow query`, one row
#     of totals: every record parsed);
#   - N CloudTrail records in a trail's S3 tree of gzip objects (gen-map-sources trail),
#     against an S3 tree of gzip flow logs of the same uncompressed size.
# Each command runs RUNS times; the median time and the largest peak RSS are printed,
# with MB/s of uncompressed input and records per second.
#
#   scripts/bench-map-sources.sh            # N=1000000, RUNS=3, data in /tmp/vpcflow-bench-map
#   N=200000 RUNS=5 scripts/bench-map-sources.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-measure.sh
. scripts/bench-measure.sh

N=${N:-1000000}
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/vpcflow-bench-map}
BIN=target/release/vpcflow

cargo build --release --quiet
mkdir -p "$DIR"
[ -f "$DIR/events.jsonl" ] || scripts/gen-map-sources events "$N" "$DIR/events.jsonl"
[ -d "$DIR/trail" ] || scripts/gen-map-sources trail "$N" "$DIR/trail"

events_bytes=$(stat -c %s "$DIR/events.jsonl")
trail_bytes=$(find "$DIR/trail" -name '*.gz' -exec zcat {} + | wc -c)
if [ ! -f "$DIR/flows.log" ]; then
  scripts/gen-flowlogs --seed 1 --version 5 --size "$events_bytes" --quiet --out "$DIR/flows.log"
fi
if [ ! -d "$DIR/flows-tree" ]; then
  scripts/gen-flowlogs --seed 2 --version 5 --size "$trail_bytes" --hours 24 --layout s3 \
    --quiet --out "$DIR/flows-tree"
fi
flows_records=$(($(wc -l < "$DIR/flows.log") - 1))
tree_records=$(find "$DIR/flows-tree" -name '*.gz' -exec zcat {} + | grep -vc '^version')

# run NAME BYTES RECORDS CMD...: median seconds and peak RSS of RUNS runs.
run() {
  local name=$1 bytes=$2 records=$3
  shift 3
  measure "$@"
  awk -v n="$name" -v b="$bytes" -v r="$records" -v t="$median" -v m="$rss" 'BEGIN {
    printf "| %s | %.2f GB | %.2f M | %.2f s | %.0f MB/s | %.0f k/s | %.0f MB |\n",
      n, b / 1e9, r / 1e6, t, b / 1e6 / t, r / 1e3 / t, m / 1024 }'
}

echo "| input | uncompressed | records | median | MB/s | records/s | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run "map: $N events, JSON Lines" "$events_bytes" "$N" \
  "$BIN" map "$DIR/events.jsonl" -q -o /dev/null
run "query: v5 flow logs, same size, plain" "$events_bytes" "$flows_records" \
  "$BIN" query "$DIR/flows.log" -q --format json
run "map: $N CloudTrail records, S3 tree (.json.gz)" "$trail_bytes" "$N" \
  "$BIN" map "$DIR/trail" -q -o /dev/null
run "query: v5 flow logs, same size, S3 tree (.log.gz)" "$trail_bytes" "$tree_records" \
  "$BIN" query "$DIR/flows-tree" -q --format json
