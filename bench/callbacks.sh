#!/usr/bin/env bash
# Benchmark of the callback hot path: signed DingTalk card callbacks ("vote" from a pool of users, each request a new
# callback, none a redelivery) at the poll handler, and the same requests at a bare 200-OK endpoint of the same
# gateway process, one after the other.
# Prints requests/s, p50/p99 latency, the poll/bare ratio, and the gateway's peak RSS.
#
#   bench/callbacks.sh                        # 32 connections, 15 s per endpoint after a 20 s warm-up
#   DURATION=20s CONNECTIONS=64 USERS=100000 bench/callbacks.sh
#   CARDS=32 STORAGE=postgres …               # votes spread over 32 poll cards instead of one hot card
#   STORAGE=postgres CARDGATEWAY_TEST_POSTGRES="$(.ci/postgres.sh)" bench/callbacks.sh
#   GATEWAY_DIR=/path/to/published/gateway bench/callbacks.sh   # run a gateway published already
#
# STORAGE=sqlite (the default) stores in a fresh SQLite file; STORAGE=memory in SQLite in memory (not durable: the
# gateway without storage's fsyncs); STORAGE=postgres in a throwaway database created (and dropped afterwards) on the
# server CARDGATEWAY_TEST_POSTGRES names, whose role needs CREATEDB; that needs psql too.
#
# Needs wrk (Debian/Ubuntu: apt-get install -y wrk), python3 and curl. Runs the gateway in Release, in Sandbox mode
# (its built-in DingTalk emulator receives the updates for everyone), on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
# The JIT keeps recompiling hot methods (tiered compilation, dynamic PGO) for ~20 s of load: measuring sooner
# measures the compiler, not the gateway.
WARMUP=${WARMUP:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-5099}
USERS=${USERS:-10000}
# Poll cards the votes are spread over: 1 is the hot card every vote of a busy poll lands on; more shows a store
# (PostgreSQL) that serialises votes per card rather than per database.
CARDS=${CARDS:-1}
[[ $CARDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: CARDS is a number of cards, not '$CARDS'" >&2; exit 1; }
STORAGE=${STORAGE:-sqlite}
BASE="http://127.0.0.1:${PORT}"
API_SECRET="sandbox-api-secret" # Sandbox mode's well-known, non-secret callback secret
OUT_TRACK_ID="bench-poll-$$"

tools="wrk python3 curl dotnet"
[[ $STORAGE == postgres ]] && tools="$tools psql"
for tool in $tools; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required (wrk: apt-get install -y wrk)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$STORAGE" in
  sqlite)
    provider=Sqlite
    connection_string="Data Source=$work/bench.db"
    ;;
  memory)
    # SQLite in memory: the same pipeline and statements with no file, no fsync and no checkpoints — the gateway
    # without durable storage (issue 2's measure). Nothing survives the process.
    provider=Sqlite
    connection_string="Data Source=:memory:"
    ;;
  postgres)
    [[ -n ${CARDGATEWAY_TEST_POSTGRES:-} ]] || { echo "bench: STORAGE=postgres needs CARDGATEWAY_TEST_POSTGRES (run .ci/postgres.sh)" >&2; exit 1; }
    # The server's address and role from the ADO.NET connection string, for psql.
    pg() { sed -n "s/.*\(^\|;\)$1=\([^;]*\).*/\2/Ip" <<<"$CARDGATEWAY_TEST_POSTGRES"; }
    export PGHOST=$(pg Host) PGPORT=$(pg Port) PGUSER=$(pg Username) PGPASSWORD=$(pg Password) PGDATABASE=$(pg Database)
    bench_db="cardgateway_bench_$$"
    psql -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $bench_db" >/dev/null
    provider=Postgres
    connection_string="$(sed "s/\(^\|;\)Database=[^;]*/\1Database=$bench_db/I" <<<"$CARDGATEWAY_TEST_POSTGRES")"
    ;;
  *) echo "bench: STORAGE is sqlite, memory or postgres, not '$STORAGE'" >&2; exit 1 ;;
esac
drop_database() { [[ -z ${bench_db:-} ]] || psql -q -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null || true; }
# The run's folder (the database alone grows to ~200 MB a run) goes when the script ends, unless KEEP_WORK=1.
clean_up() { drop_database; [[ ${KEEP_WORK:-0} == 1 ]] && echo "bench: kept $work" >&2 || rm -rf "$work"; }
trap clean_up EXIT
if [[ -n ${GATEWAY_DIR:-} ]]; then
  # A gateway published already (bench/compare.sh publishes each revision once, then runs it many times).
  [[ -f $GATEWAY_DIR/DingTalk.CardGateway.dll ]] || { echo "bench: no DingTalk.CardGateway.dll in GATEWAY_DIR=$GATEWAY_DIR" >&2; exit 1; }
  gateway_dir=$GATEWAY_DIR
else
  gateway_dir="$work/gateway"
  echo "== publishing the gateway (Release) to $gateway_dir"
  dotnet publish DingTalk.CardGateway -c Release -o "$gateway_dir" --nologo -v quiet >/dev/null
fi

echo "== starting it on $BASE (Sandbox mode, bare endpoint on, $provider storage)"
# The emulator's address and our public one given outright, so no client depends on when the server learns its port.
ASPNETCORE_URLS="$BASE" \
DingTalk__ApiBaseUrl="$BASE/sandbox" \
DingTalk__Callback__PublicBaseUrl="$BASE" \
Gateway__Bench__BareEndpoint=true \
Gateway__Storage__Provider="$provider" \
Gateway__Storage__ConnectionString="$connection_string" \
Serilog__MinimumLevel__Default=Warning \
  dotnet "$gateway_dir/DingTalk.CardGateway.dll" >"$work/gateway.log" 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; clean_up' EXIT

for _ in $(seq 1 100); do
  curl -fs "$BASE/health/live" >/dev/null 2>&1 && break
  kill -0 "$gateway" 2>/dev/null || { echo "bench: the gateway exited; its log:" >&2; cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.2
done

# One card keeps its plain id (bench-poll-<pid>); several are <that>-1 … <that>-N, as callbacks.lua names them.
card_ids() { if ((CARDS == 1)); then echo "$OUT_TRACK_ID"; else seq -f "$OUT_TRACK_ID-%g" 1 "$CARDS"; fi; }
echo "== sending $CARDS poll card(s) through POST /api/cards"
for card in $(card_ids); do
  curl -fsS -o /dev/null -X POST "$BASE/api/cards" -H 'X-Api-Key: sandbox' -H 'Content-Type: application/json' \
    -d "{\"cardTemplateId\":\"bench.poll\",\"outTrackId\":\"$card\",\"openConversationId\":\"cidBench==\",\"cardData\":{\"question\":\"Bench?\"}}"
done

# Signed timestamps, as DingTalk signs them: Base64(HMAC-SHA256(apiSecret, timestamp)), one per millisecond from now
# on. DingTalk signs each callback with the time it sends it, so callback ids (which begin with that timestamp) arrive
# in time order; callbacks.lua walks through these in order (BENCH_STAMP_STEP requests per stamp per wrk thread) to
# do the same. A small pool reused for a whole run would scatter the ids over the dedupe index as no DingTalk does.
sign_timestamps() {
  python3 - "$(($(date +%s%N) / 1000000))" "$API_SECRET" >"$work/signatures" <<'PY'
import base64, hashlib, hmac, sys
now, secret = int(sys.argv[1]), sys.argv[2].encode()
for t in range(now, now + 65536):
    print(t, base64.b64encode(hmac.new(secret, str(t).encode(), hashlib.sha256).digest()).decode())
PY
}

# One run of wrk; its Lua done() prints "RESULT requests=… rps=… p50_us=… p99_us=… non2xx=… socket_errors=…".
run() { # path duration
  sign_timestamps
  BENCH_OUT_TRACK_ID="$OUT_TRACK_ID" BENCH_CARDS="$CARDS" BENCH_SIGNATURES="$work/signatures" BENCH_USERS="$USERS" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" -s bench/callbacks.lua "$BASE" -- "$1" | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }

echo "== warming up (5s bare, $WARMUP callbacks)"
run /bench/bare 5s >/dev/null
run /dingtalk/callbacks/card "$WARMUP" >/dev/null

echo "== measuring: $CONNECTIONS connections, $THREADS wrk threads, $DURATION per endpoint, $USERS users, $CARDS card(s)"
# CPU time the gateway used (user + system clock ticks, from /proc) during each run: with its requests, CPU per request.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gateway/stat"; }
ticks_per_second=$(getconf CLK_TCK)
before=$(cpu_ticks); bare=$(run /bench/bare "$DURATION"); bare_cpu=$(($(cpu_ticks) - before))
poll_from=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
before=$(cpu_ticks); poll=$(run /dingtalk/callbacks/card "$DURATION"); poll_cpu=$(($(cpu_ticks) - before))
poll_to=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$gateway/status")

printf '\n%-28s %10s %10s %10s %8s %8s %12s\n' endpoint "req/s" "p50 ms" "p99 ms" non2xx errors "CPU µs/req"
for name in bare poll; do
  line=${!name}
  cpu=${name}_cpu
  label=$([[ $name == bare ]] && echo "POST /bench/bare" || echo "POST /dingtalk/callbacks/card")
  printf '%-28s %10s %10.2f %10.2f %8s %8s %12.0f\n' "$label" "$(field rps "$line")" \
    "$(calc "$(field p50_us "$line") / 1000")" "$(calc "$(field p99_us "$line") / 1000")" \
    "$(field non2xx "$line")" "$(field socket_errors "$line")" \
    "$(calc "${!cpu} / $ticks_per_second * 1000000 / $(field requests "$line")")"
done
printf 'latency tail (p99.9 / max): bare %s / %s ms, poll %s / %s ms\n' \
  "$(calc "$(field p999_us "$bare") / 1000")" "$(calc "$(field max_us "$bare") / 1000")" \
  "$(calc "$(field p999_us "$poll") / 1000")" "$(calc "$(field max_us "$poll") / 1000")"
printf '\npoll/bare throughput ratio: %s\n' "$(calc "$(field rps "$poll") / $(field rps "$bare")")"
# How often everyone's card changed while the votes came: the emulator's record of the card updates it received
# (PUT /v1.0/card/instances) in the measured poll run. DingTalk allows ~20 such calls a second per app, so the
# outbox folds a card's votes into one update; the gaps between updates are how stale everyone's card gets (with
# CARDS > 1, the gaps between any two of the cards' updates: the allowance is shared).
curl -fsS "$BASE/sandbox/requests" | python3 -c '
import json, re, sys
from datetime import datetime
def at(text):  # ISO 8601 as date and .NET write it: up to 9 fractional digits (Python takes 6), Z or an offset
    match = re.fullmatch(r"([^.Z+]+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    whole = datetime.fromisoformat(match[1] + ("+00:00" if match[3] in (None, "Z") else match[3]))
    return whole.timestamp() + float("0." + (match[2] or "0"))
start, end = at(sys.argv[1]), at(sys.argv[2])
times = sorted(at(r["at"]) for r in json.load(sys.stdin)
               if r["method"] == "PUT" and r["path"].endswith("/v1.0/card/instances") and start <= at(r["at"]) <= end)
if len(times) < 2:
    print("updates for everyone during the poll run (%s): %d" % (sys.argv[3], len(times)))
else:
    gaps = sorted((b - a) * 1000 for a, b in zip(times, times[1:]))
    print("updates for everyone during the poll run (%s): %d (%.1f a second), %.0f ms apart at the median, %.0f at p95, %.0f at most"
          % (sys.argv[3], len(times), len(times) / (end - start), gaps[len(gaps) // 2], gaps[int(len(gaps) * 0.95)], gaps[-1]))
' "$poll_from" "$poll_to" "$( ((CARDS == 1)) && echo "1 card" || echo "$CARDS cards")"
printf 'storage: %s (%s)\n' "$provider" "$STORAGE"
printf 'gateway peak RSS: %d MB\n' $((rss_kb / 1024))
if ((CARDS == 1)); then
  votes=$(curl -fsS -H 'X-Api-Key: sandbox' "$BASE/api/cards/$OUT_TRACK_ID" | grep -o '"total":"[0-9]*"' || true)
  echo "poll card as stored after the run: ${votes:-(no total yet)}"
else
  # Each card counts its own voters: the sum is the number of distinct (card, user) pairs the runs covered.
  total=0
  for card in $(card_ids); do
    votes=$(curl -fsS -H 'X-Api-Key: sandbox' "$BASE/api/cards/$card" | grep -o '"total":"[0-9]*"' | grep -o '[0-9]*' || true)
    total=$((total + ${votes:-0}))
  done
  echo "poll cards as stored after the run: $CARDS cards, totals summing to $total"
fi
