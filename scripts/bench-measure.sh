# Sourced by the bench scripts. `measure CMD...` runs CMD $RUNS times (output discarded,
# /usr/bin/time's record in $DIR/time.txt) and sets `median` (seconds) and `rss` (the
# largest peak RSS, KiB).
measure() {
  local times=() out r
  rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$@" >/dev/null 2>&1
    out=$(tail -1 "$DIR/time.txt")
    times+=("${out% *}")
    r=${out#* }
    [ "$r" -gt "$rss" ] && rss=$r
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
}
