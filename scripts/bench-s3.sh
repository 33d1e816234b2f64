#!/usr/bin/env bash
# Reading flow logs from S3 against reading the same tree on disk: an S3 tree of gzip
# objects (scripts/gen-flowlogs --layout s3) put into a local S3-compatible server (moto's
# server mode, with boto3), then `vpcflow query` (one row of totals: every record parsed)
# on the folder and on `s3://bench/`, side by side, RUNS times each; and the same as
# Parquet objects (`vpcflow convert`, one file per day). Prints the median time, MB/s of
# the objects' bytes (as stored: compressed) and of the text, records per second, and the
# largest peak RSS.
#
# moto is a Python server, one request at a time per connection and far slower than S3:
# these figures measure vpcflow's S3 path against moto, not S3's throughput.
#
#   scripts/bench-s3.sh                 # SIZE=300M of text, RUNS=3, data in /tmp/vpcflow-bench-s3
#   SIZE=100M RUNS=5 scripts/bench-s3.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-measure.sh
. scripts/bench-measure.sh

SIZE=${SIZE:-300M}
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/vpcflow-bench-s3}
BIN=$PWD/target/release/vpcflow
PORT=${PORT:-5181}

cargo build --release --quiet
mkdir -p "$DIR"
if [ ! -d "$DIR/tree" ]; then
  scripts/gen-flowlogs --seed 2 --version 5 --size "$SIZE" --hours 24 --layout s3 \
    --quiet --out "$DIR/tree"
fi
if [ ! -d "$DIR/parquet" ]; then
  mkdir -p "$DIR/parquet"
  for day in "$DIR"/tree/AWSLogs/*/vpcflowlogs/*/*/*/*/; do
    name=$(echo "$day" | awk -F/ '{print $(NF-3) $(NF-2) $(NF-1)}')
    "$BIN" convert "$day" -q -o "$DIR/parquet/$name.parquet"
  done
fi
tree_bytes=$(find "$DIR/tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
parquet_bytes=$(find "$DIR/parquet" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
text_bytes=$(find "$DIR/tree" -name '*.gz' -exec zcat {} + | wc -c)
records=$(find "$DIR/tree" -name '*.gz' -exec zcat {} + | grep -vc '^version')
objects=$(find "$DIR/tree" -type f | wc -l)

python3 -m moto.server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null; do
  sleep 0.2
done
python3 - "$DIR" "$PORT" <<'PY'
import boto3, os, sys
d, port = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="bench",
                  aws_secret_access_key="bench", region_name="us-east-1")
s3.create_bucket(Bucket="bench")
for sub, prefix in (("tree", ""), ("parquet", "parquet/")):
    root = os.path.join(d, sub)
    for base, _, files in os.walk(root):
        for f in files:
            p = os.path.join(base, f)
            s3.upload_file(p, "bench", prefix + os.path.relpath(p, root))
PY
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_ENDPOINT_URL=http://127.0.0.1:$PORT

# run NAME BYTES CMD...: median seconds and peak RSS of RUNS runs.
run() {
  local name=$1 bytes=$2
  shift 2
  measure "$@"
  awk -v n="$name" -v b="$bytes" -v x="$text_bytes" -v r="$records" -v t="$median" -v m="$rss" 'BEGIN {
    printf "| %s | %.1f MB | %.2f s | %.0f MB/s | %.0f MB/s | %.0f k/s | %.0f MB |\n",
      n, b / 1e6, t, b / 1e6 / t, x / 1e6 / t, r / 1e3 / t, m / 1024 }'
}

echo "$objects objects, $(awk -v x="$text_bytes" 'BEGIN {printf "%.0f", x / 1e6}') MB of text, $records records"
echo "| input | stored | median | MB/s stored | MB/s text | records/s | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run "S3 tree of .log.gz, on disk" "$tree_bytes" "$BIN" query "$DIR/tree" -q --format json
run "the same, s3:// (moto)" "$tree_bytes" "$BIN" query s3://bench/AWSLogs/ -q --format json
run "the same, s3:// with --threads 8" "$tree_bytes" \
  "$BIN" query s3://bench/AWSLogs/ -q --format json --threads 8
run "Parquet, one object per day, on disk" "$parquet_bytes" \
  "$BIN" query "$DIR/parquet" -q --format json
run "the same, s3:// (moto)" "$parquet_bytes" "$BIN" query s3://bench/parquet/ -q --format json
