#!/usr/bin/env bash
# Paired runs of the callback benchmark on two builds of the gateway: is a change faster, or is it the noise?
# Runs on a shared 2-core machine differ by up to ±10% in req/s, so one run of each build proves nothing; runs that
# alternate (A B, B A, A B, …) see the same drift. Each build is published once (Release); each run is
# bench/callbacks.sh on a fresh database.
#
#   bench/compare.sh main                 # main against the working tree, 3 pairs
#   PAIRS=5 bench/compare.sh HEAD~1 HEAD  # two revisions
#   STORAGE=memory WARMUP=20s DURATION=10s bench/compare.sh main   # anything bench/callbacks.sh takes
#
# A revision is anything `git worktree add` takes; "." (the default second one) is the working tree as it is.
# Prints each run, then each build's range of req/s, p99, CPU per vote and poll/bare ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 1 && $# -le 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
PAIRS=${PAIRS:-3}
export DURATION=${DURATION:-10s}

work=$(mktemp -d)
worktrees=()
clean_up() {
  for tree in "${worktrees[@]}"; do git worktree remove --force "$tree" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap clean_up EXIT

publish() { # revision label
  local source=.
  if [[ $1 != . ]]; then
    source="$work/src-$2"
    git worktree add --detach "$source" "$1" >/dev/null 2>&1 || { echo "compare: '$1' is not a revision git knows" >&2; exit 1; }
    worktrees+=("$source")
  fi
  echo "== publishing $2 ($1, $(git -C "$source" rev-parse --short HEAD)$([[ $1 == . ]] && ! git diff --quiet HEAD && echo ' + changes'))" >&2
  dotnet publish "$source/DingTalk.CardGateway" -c Release -o "$work/gateway-$2" --nologo -v quiet >/dev/null
}

publish "$1" A
publish "${2:-.}" B

# One run of bench/callbacks.sh: "rps p99_ms cpu_us ratio" from its table.
run() {
  GATEWAY_DIR="$work/gateway-$1" bench/callbacks.sh 2>&1 | awk '
    /^POST \/dingtalk\/callbacks\/card/ { rps = $3; p99 = $5; cpu = $8 }
    /^poll\/bare throughput ratio/ { ratio = $4 }
    END { if (rps == "") exit 1; print rps, p99, cpu, ratio }'
}

declare -A results
printf '%-6s %-5s %10s %8s %12s %7s\n' pair build "req/s" "p99 ms" "CPU µs/vote" ratio
for pair in $(seq 1 "$PAIRS"); do
  order="A B"; ((pair % 2 == 0)) && order="B A"
  for build in $order; do
    line=$(run "$build") || { echo "compare: the run of build $build failed (run bench/callbacks.sh with GATEWAY_DIR to see why)" >&2; exit 1; }
    results[$build]+="$line"$'\n'
    read -r rps p99 cpu ratio <<<"$line"
    printf '%-6s %-5s %10s %8s %12s %7s\n' "$pair" "$build" "$rps" "$p99" "$cpu" "$ratio"
  done
done

echo
for build in A B; do
  printf '%s (%s): ' "$build" "$([[ $build == A ]] && echo "$1" || echo "${2:-.}")"
  awk '
    { for (i = 1; i <= 4; i++) { v = $i + 0; if (NR == 1 || v < lo[i]) lo[i] = v; if (NR == 1 || v > hi[i]) hi[i] = v } }
    END { printf "%d–%d req/s, p99 %.2f–%.2f ms, %d–%d µs CPU per vote, ratio %.2f–%.2f\n", lo[1], hi[1], lo[2], hi[2], lo[3], hi[3], lo[4], hi[4] }' \
    <<<"${results[$build]%$'\n'}"
done
