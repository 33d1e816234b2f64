#!/usr/bin/env bash
# OCSF Parquet read throughput beside the same records as flow-log text.
#
#   scripts/bench-ocsf.sh [DIR]   (default /tmp/ocsf-bench; SIZE=300M)
#
# Generates v5 flow logs in the S3 layout (scripts/gen-flowlogs), writes them as Security
# Lake OCSF 1.1.0 Parquet (scripts/flowlog-to-ocsf, needs pyarrow) and as plain text, then
# runs `cat` (all columns, to /dev/null) and `query --group-by interface_id` on each, three
# times, side by side in one run, and prints the medians. Uses target/release/vpcflow.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/ocsf-bench}
size=${SIZE:-300M}
bin=target/release/vpcflow
if [ ! -d "$dir/text" ]; then
  python3 scripts/gen-flowlogs --size "$size" --layout s3 --out "$dir/text" --quiet
fi
if [ ! -d "$dir/lake" ]; then
  python3 scripts/flowlog-to-ocsf --ocsf 1.1.0 --format parquet --rows-per-group 100000 \
    "$dir/lake" "$dir/text"
fi
if [ ! -d "$dir/plain" ]; then
  mkdir -p "$dir/plain"
  find "$dir/text" -type f | while read -r f; do zcat "$f" >"$dir/plain/$(basename "$f" .gz)"; done
fi
text_bytes=$(cat "$dir"/plain/* | wc -c)
records=$("$bin" query "$dir/plain" --format csv 2>&1 >/dev/null | sed -n 's/.* = \([0-9]*\) records.*/\1/p')
echo "records: $records; text: $text_bytes bytes; OCSF Parquet: $(du -sb "$dir/lake" | cut -f1) bytes"
median() { sort -n | sed -n 2p; }
run() { # name, then the command
  local name=$1; shift
  local times=()
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  local m
  m=$(printf '%s\n' "${times[@]}" | median)
  printf '%-44s %8.3f s  %7.0f MB/s  %7.0f k records/s   (runs: %s)\n' "$name" "$m" \
    "$(echo "$text_bytes / $m / 1000000" | bc -l)" "$(echo "$records / $m / 1000" | bc -l)" \
    "${times[*]}"
}
for input in plain text lake; do
  run "cat $input" "$bin" cat "$dir/$input" --format csv -q
  run "query --group-by interface_id $input" "$bin" query "$dir/$input" --group-by interface_id --format csv -q
done
