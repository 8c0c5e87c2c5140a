#!/usr/bin/env bash
# bench/peer.sh — Mamori against its peer under the same load, on one
# platform at a time (PEER):
#
#   PEER=bolt (the default): a minimal Bolt for JavaScript app (bench/bolt:
#     @slack/bolt pinned, verifies each request's signature, acknowledges and
#     does nothing else) against `mamori serve` for Slack, under
#     `mamori bench -mix slack` (signed slash commands, clicks and DM events).
#   PEER=botbuilder: a minimal Bot Framework SDK for JavaScript bot
#     (bench/botbuilder: botbuilder pinned, CloudAdapter validating each
#     activity's JWT, a 200 and no reply) against `mamori serve` for Teams
#     (Teams alone, JWT validation on), under `mamori bench -mix teams`
#     (message activities with Bearer JWTs signed by a local RSA key). Both
#     servers fetch the OpenID metadata and keys from the bench's fakes on
#     loopback, which also stand in for the token endpoint and the Bot
#     Connector Mamori sends its replies to.
#   PEER=bare: no peer but the ceiling — bench/bare, a minimal Go server
#     that checks each request's Slack signature (slack-go) and inserts its
#     raw body into SQLite with Mamori's durability (WAL, synchronous=FULL),
#     group-committed, answering once it is on disk; no flows — against
#     `mamori serve` for Slack, under `mamori bench -mix slack`. The ratios
#     say how close Mamori comes to what any server could do here; there are
#     no targets.
#
# For each client count and repetition, the systems alternate (mamori,
# peer, mamori, peer, …). Each measurement is a fresh server process — for
# Mamori with a fresh SQLite file on disk and key, for bare with a fresh
# SQLite file on disk — pinned to one core with taskset (SERVER_CPU), the
# load generator pinned to another (LOAD_CPU); WARMUP requests are sent
# first and not counted, then N measured. It prints, per client count, the
# median and min–max over REPS of throughput, p99 and peak RSS (VmHWM, over
# the process's life, warm-up included) and the ratios of Mamori's medians
# to the peer's. Quote ratios from one run of this script, never absolute
# figures from different runs.
#
#   bench/peer.sh                                   # Bolt: 2,000 + 20,000 requests, 16 and 64 clients, 3 repetitions
#   PEER=botbuilder bench/peer.sh                   # the same against botbuilder, for Teams
#   PEER=bare bench/peer.sh                         # the same against bench/bare, the ceiling
#   PEER="bolt bare" bench/peer.sh                  # Bolt and the ceiling in one run
#   N=5000 WARMUP=500 REPS=1 CLIENTS=16 bench/peer.sh   # a quick look
#
# PEER may name two systems of the same platform ("bolt bare"): all three
# alternate in one run, the targets are against the first, and the table
# adds the second's ratio to the first — how far above the peer the ceiling
# itself is, measured in the same run.
#
# Knobs: PEER (bolt | botbuilder | bare, or "bolt bare"), N, WARMUP, REPS, CLIENTS,
# SERVER_CPU, LOAD_CPU, CAP (seconds a bench run may take at most),
# MAMORI_PORT, BOLT_PORT, BOTBUILDER_PORT, BARE_PORT, FAKES_PORT, NPM_CI,
# KEEP=1 (keep the raw outputs and server logs).
#
# Needs Go, a C compiler, taskset (util-linux), curl and two cores, and for
# bolt and botbuilder Node.js ≥ 20 with npm. Everything listens on and
# talks to 127.0.0.1 only (the botbuilder app also refuses to resolve any
# name but localhost); npm is run without audit, fund or update checks, and
# `npm ci` in bench/$PEER uses the cache first (NPM_CI=0 skips it and uses
# bench/$PEER/node_modules as it is). It is a manual benchmark: .ci/run
# does not run it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

PEER="${PEER:-bolt}"
N="${N:-20000}"
WARMUP="${WARMUP:-2000}"
REPS="${REPS:-3}"
CLIENTS="${CLIENTS:-16 64}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
MAMORI_PORT="${MAMORI_PORT:-18080}"
BOLT_PORT="${BOLT_PORT:-18081}"
BOTBUILDER_PORT="${BOTBUILDER_PORT:-18082}"
BARE_PORT="${BARE_PORT:-18083}"
FAKES_PORT="${FAKES_PORT:-18090}"
CAP="${CAP:-120}"        # seconds: the most one bench run may take (mamori bench -duration)
NPM_CI="${NPM_CI:-1}"
KEEP="${KEEP:-0}"        # 1: keep the work directory (raw outputs, server logs)
SECRET="bench-secret"
# Teams: the bot's app id (the tokens' audience) and client secret, both
# made up; the fakes' token endpoint answers any.
APP_ID="b0000000-0000-4000-8000-00000000be01"
APP_PASSWORD="bench-client-secret"

export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

read -r -a peers <<<"$PEER"
mix=""
for p in "${peers[@]}"; do
  case "$p" in
    bolt | bare) m=slack ;;
    botbuilder) m=teams ;;
    *) echo "PEER must be bolt, botbuilder or bare (or two of one platform, such as \"bolt bare\"), not '$PEER'" >&2; exit 2 ;;
  esac
  if [ -n "$mix" ] && [ "$m" != "$mix" ]; then echo "PEER \"$PEER\": both must be of one platform (bolt and bare are Slack, botbuilder Teams)" >&2; exit 2; fi
  mix="$m"
done
if [ "${#peers[@]}" -lt 1 ] || [ "${#peers[@]}" -gt 2 ] || { [ "${#peers[@]}" = 2 ] && [ "${peers[0]}" = "${peers[1]}" ]; }; then
  echo "PEER names one system or two different ones, not '$PEER'" >&2; exit 2
fi
for v in N WARMUP REPS CAP MAMORI_PORT BOLT_PORT BOTBUILDER_PORT BARE_PORT FAKES_PORT; do
  if ! [[ "${!v}" =~ ^[0-9]+$ ]]; then echo "$v must be a whole number, not '${!v}'" >&2; exit 2; fi
done
if [ "$N" -lt 1 ] || [ "$REPS" -lt 1 ]; then echo "N and REPS must be 1 or more" >&2; exit 2; fi
for c in $CLIENTS; do
  if ! [[ "$c" =~ ^[1-9][0-9]*$ ]]; then echo "CLIENTS must be whole numbers, not '$c'" >&2; exit 2; fi
done
needs=(go taskset curl)
for p in "${peers[@]}"; do [ "$p" = bare ] || { needs+=(node npm); break; }; done   # bare is all Go
for cmd in "${needs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "peer.sh needs $cmd" >&2; exit 2; }
done
ncpu="$(nproc)"
if [ "$ncpu" -lt 2 ] || [ "$SERVER_CPU" = "$LOAD_CPU" ]; then
  echo "peer.sh needs two cores, server and load apart (have $ncpu; SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/mamori-peer.XXXXXX")"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then
    echo "raw outputs kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget drops pid from the processes to stop on exit.
forget() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# The database must be on a disk: on tmpfs an fsync costs nothing and
# Mamori's (and bare's) figures would be flattered.
if [ "$(stat -f -c %T "$work")" = tmpfs ]; then
  echo "warning: $work is on tmpfs, so SQLite's fsyncs are free; set TMPDIR to a directory on disk" >&2
fi

echo "==> building mamori"
go build -o "$work/mamori" ./cmd/mamori
mamori="$work/mamori"
# serve needs a configuration for Slack and for Teams: the example one
# (its channel ids are only ever sent to the fakes).
"$mamori" config >"$work/mamori.yaml"

# install_peer P builds or installs peer P and sets label[P] and desc[P].
declare -A label desc
install_peer() {
  local p="$1" pkg
  if [ "$p" = bare ]; then
    echo "==> building bench/bare"
    go build -o "$work/bare" ./bench/bare
    label[$p]=bare desc[$p]="bare (bench/bare, the same Go)"
    return
  fi
  echo "==> installing bench/$p"
  if [ "$NPM_CI" = 1 ]; then
    (cd "bench/$p" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
  elif [ ! -d "bench/$p/node_modules" ]; then
    echo "NPM_CI=0 but bench/$p/node_modules is missing" >&2
    exit 2
  fi
  case "$p" in
    bolt) pkg=@slack/bolt label[$p]=Bolt ;;
    botbuilder) pkg=botbuilder label[$p]=botbuilder ;;
  esac
  desc[$p]="$p $(cd "bench/$p" && node -p "require('$pkg/package.json').version") (node $(node --version))"
}
for p in "${peers[@]}"; do install_peer "$p"; done
peer="${peers[0]}" beside="${peers[1]:-}"
peer_desc="${desc[$peer]}"
[ -z "$beside" ] || peer_desc="$peer_desc and ${desc[$beside]}"

fakes_url="http://127.0.0.1:$FAKES_PORT"
teams_key="$work/teams.pem"
if [ "$mix" = slack ]; then
  echo "==> the fakes Mamori talks to (fake Slack Web API on 127.0.0.1:$FAKES_PORT)"
  taskset -c "$LOAD_CPU" "$mamori" bench -n 0 -fake-slack "127.0.0.1:$FAKES_PORT" >"$work/fakes.log" 2>&1 &
  fakes_probe="$fakes_url/api/auth.test"
else
  # One process serves the OpenID metadata and keys both servers validate
  # the tokens with, the token endpoint and the Connector; every load run
  # finds the address in use and signs its tokens with the same key file.
  echo "==> the fakes the servers talk to (Teams OpenID metadata and keys, token endpoint, Connector on 127.0.0.1:$FAKES_PORT)"
  taskset -c "$LOAD_CPU" "$mamori" bench -n 0 -teams-keys "127.0.0.1:$FAKES_PORT" -teams-key "$teams_key" >"$work/fakes.log" 2>&1 &
  fakes_probe="$fakes_url/v1/.well-known/keys"
fi
fakes=$!
pids+=("$fakes")

# wait_up waits until url answers 200, or fails after 30 s or if pid exits.
wait_up() {
  local url="$1" pid="$2"
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
wait_up "$fakes_probe" "$fakes" || { echo "the fakes did not start:" >&2; cat "$work/fakes.log" >&2; exit 1; }
if [ "$mix" = teams ]; then
  # The tenant is the one the bench puts in its activities; the fakes print it.
  tenant=""
  for _ in $(seq 50); do
    tenant="$(sed -n 's/^ *MICROSOFT_APP_TENANT_ID=//p' "$work/fakes.log")"
    [ -n "$tenant" ] && break
    sleep 0.1
  done
  if [ -z "$tenant" ] || [ ! -s "$teams_key" ]; then
    echo "the fakes printed no MICROSOFT_APP_TENANT_ID or made no key:" >&2
    cat "$work/fakes.log" >&2
    exit 1
  fi
  openid_url="$fakes_url/v1/.well-known/openidconfiguration"
fi

# start_server SYSTEM DIR starts a fresh server pinned to SERVER_CPU, and
# sets server_pid and server_url.
start_server() {
  local sys="$1" dir="$2"
  mkdir -p "$dir"
  case "$sys" in
    mamori)
      local platform=()
      if [ "$mix" = slack ]; then
        platform=(SLACK_BOT_TOKEN=xoxb-bench SLACK_SIGNING_SECRET="$SECRET" SLACK_API_URL="$fakes_url/api/")
      else
        # Teams alone, with JWT validation against the fakes' keys.
        platform=(MICROSOFT_APP_ID="$APP_ID" MICROSOFT_APP_PASSWORD="$APP_PASSWORD" MICROSOFT_APP_TENANT_ID="$tenant"
          MAMORI_TEAMS_OPENID_METADATA_URL="$openid_url" MAMORI_TEAMS_TOKEN_URL="$fakes_url/$tenant/oauth2/v2.0/token")
      fi
      (cd "$dir" && exec env MAMORI_ADDR="127.0.0.1:$MAMORI_PORT" MAMORI_DB="$dir/mamori.db" MAMORI_KEY_FILE="$dir/mamori.key" \
        MAMORI_CONFIG="$work/mamori.yaml" "${platform[@]}" \
        taskset -c "$SERVER_CPU" "$mamori" serve) >"$dir/server.log" 2>&1 &
      server_url="http://127.0.0.1:$MAMORI_PORT"
      ;;
    bolt)
      (cd "$root/bench/bolt" && exec env NODE_ENV=production PORT="$BOLT_PORT" SLACK_SIGNING_SECRET="$SECRET" \
        taskset -c "$SERVER_CPU" node app.js) >"$dir/server.log" 2>&1 &
      server_url="http://127.0.0.1:$BOLT_PORT"
      ;;
    botbuilder)
      (cd "$root/bench/botbuilder" && exec env NODE_ENV=production PORT="$BOTBUILDER_PORT" \
        MICROSOFT_APP_ID="$APP_ID" MICROSOFT_APP_PASSWORD="$APP_PASSWORD" MICROSOFT_APP_TENANT_ID="$tenant" \
        OPENID_METADATA_URL="$openid_url" LOGIN_URL="$fakes_url" \
        taskset -c "$SERVER_CPU" node app.js) >"$dir/server.log" 2>&1 &
      server_url="http://127.0.0.1:$BOTBUILDER_PORT"
      ;;
    bare)
      (cd "$dir" && exec env PORT="$BARE_PORT" SLACK_SIGNING_SECRET="$SECRET" \
        taskset -c "$SERVER_CPU" "$work/bare" -db "$dir/bare.db") >"$dir/server.log" 2>&1 &
      server_url="http://127.0.0.1:$BARE_PORT"
      ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  if ! wait_up "$server_url/healthz" "$server_pid"; then
    echo "$sys did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  forget "$server_pid"
}

# load N C [PID] runs mamori bench pinned to LOAD_CPU against server_url.
load() {
  local n="$1" c="$2" pid="${3:-0}" extra=()
  if [ "$mix" = teams ]; then
    extra=(-teams-keys "127.0.0.1:$FAKES_PORT" -teams-key "$teams_key" -teams-app "$APP_ID")
  fi
  SLACK_SIGNING_SECRET="$SECRET" timeout $((CAP + 60)) taskset -c "$LOAD_CPU" \
    "$mamori" bench -url "$server_url" -mix "$mix" -n "$n" -c "$c" -duration "${CAP}s" -pid "$pid" "${extra[@]}"
}

results="$work/results.tsv"
sysw=6   # the system column's width
for p in "${peers[@]}"; do [ "${#p}" -le "$sysw" ] || sysw=${#p}; done
: >"$results"
echo "==> mamori (this tree, $(go version | awk '{print $3}')) vs $peer_desc, -mix $mix;" \
  "$WARMUP warm-up + $N requests, clients: $CLIENTS, $REPS repetitions; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
echo "    load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run=0
for c in $CLIENTS; do
  for rep in $(seq "$REPS"); do
    for sys in mamori "${peers[@]}"; do
      run=$((run + 1))
      dir="$work/run$run-$sys-c$c"
      start_server "$sys" "$dir"
      if [ "$WARMUP" -gt 0 ]; then
        load "$WARMUP" "$c" >"$dir/warmup.txt" 2>&1 || { echo "$sys warm-up failed:" >&2; cat "$dir/warmup.txt" >&2; exit 1; }
      fi
      load "$N" "$c" "$server_pid" >"$dir/bench.txt" 2>&1 || true
      stop_server
      # requests DONE in T: R req/s / errors E / latency … p99 Xms / VmHWM … → NkB
      line="$(awk -v c="$c" -v sys="$sys" -v rep="$rep" '
        /^requests / { done = $2; rps = $(NF-1) }
        /^errors /   { errs = $2 }
        /^latency /  { for (i = 1; i < NF; i++) if ($i == "p99") { p99 = $(i+1); sub(/ms$/, "", p99) } }
        /VmHWM/      { hwm = $NF; sub(/kB$/, "", hwm) }
        END { if (done == "") exit 1; printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, sys, rep, rps, p99, hwm / 1024, errs, done }
      ' "$dir/bench.txt")" || { echo "$sys: no result from mamori bench:" >&2; cat "$dir/bench.txt" >&2; exit 1; }
      printf '%s\n' "$line" >>"$results"
      IFS=$'\t' read -r _ _ _ rps p99 rss errs sent <<<"$line"
      printf '    c=%-3s rep %s %-*s %7s req/s  p99 %6s ms  peak RSS %6.1f MB  errors %s' "$c" "$rep" "$sysw" "$sys" "$rps" "$p99" "$rss" "$errs"
      if [ "$sent" != "$N" ]; then printf '  (only %s of %s requests in %ss)' "$sent" "$N" "$CAP"; fi
      if [ "$errs" != 0 ]; then printf '  (%s)' "$(grep '^errors' "$dir/bench.txt")"; fi
      printf '\n'
      if [ "$KEEP" != 1 ]; then rm -f "$dir/$sys.db" "$dir/$sys.db-wal" "$dir/$sys.db-shm"; fi
    done
  done
done
echo "    load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# The table: medians (min–max) over the repetitions, and Mamori's medians
# over the peer's with the issue's targets (bare is a reference: none).
echo
# The issue's targets: ≥ 2× Bolt's throughput, ≥ 3× botbuilder-js's (with
# JWT validation on both sides).
want=2
[ "$peer" = botbuilder ] && want=3
[ "$peer" = bare ] && want=0
awk -F'\t' -v reps="$REPS" -v n="$N" -v peer="$peer" -v beside="$beside" -v label="${label[$peer]}" -v w="$sysw" -v want="$want" '
  function med(s,    a, k, m) {
    k = split(s, a, " "); asort_num(a, k)
    m = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    lo = a[1]; hi = a[k]
    return m
  }
  function asort_num(a, k,    i, j, t) {
    for (i = 2; i <= k; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  }
  function cell(s, fmt,    m) { m = med(s); return sprintf(fmt " (" fmt "-" fmt ")", m, lo, hi) }
  {
    key = $1 SUBSEP $2
    rps[key] = rps[key] " " $4; p99[key] = p99[key] " " $5; rss[key] = rss[key] " " $6; errs[key] += $7
    if (!($1 in seen)) { seen[$1] = 1; order[++nc] = $1 }
  }
  END {
    sysf = "%-" w "s"
    printf "%-7s  " sysf "  %-26s  %-26s  %-26s  %s\n", "clients", "system", "req/s median (min-max)", "p99 ms median (min-max)", "peak RSS MB median (min-max)", "errors"
    for (i = 1; i <= nc; i++) {
      c = order[i]
      for (s = 1; s <= (beside == "" ? 2 : 3); s++) {
        sys = (s == 1) ? "mamori" : (s == 2) ? peer : beside; key = c SUBSEP sys
        printf "%-7s  " sysf "  %-26s  %-26s  %-26s  %d\n", c, sys, cell(rps[key], "%.0f"), cell(p99[key], "%.1f"), cell(rss[key], "%.1f"), errs[key]
      }
      r = med(rps[c SUBSEP "mamori"]) / med(rps[c SUBSEP peer])
      p = med(p99[c SUBSEP "mamori"]) / med(p99[c SUBSEP peer])
      m = med(rss[c SUBSEP "mamori"]) / med(rss[c SUBSEP peer])
      if (want == 0)
        printf "%-7s  " sysf "  %-26s  %-26s  %-26s\n", c, "ratio", \
          sprintf("%.2f× (reference)", r), sprintf("%.2f× (reference)", p), sprintf("%.2f× (reference)", m)
      else
        printf "%-7s  " sysf "  %-26s  %-26s  %-26s\n", c, "ratio", \
          sprintf("%.2f× (target ≥ %d: %s)", r, want, r >= want ? "met" : "not met"), \
          sprintf("%.2f× (target ≤ 0.5: %s)", p, p <= 0.5 ? "met" : "not met"), \
          sprintf("%.2f× (target ≤ 0.2: %s)", m, m <= 0.2 ? "met" : "not met")
      if (beside != "") {
        bkey = c SUBSEP beside; pkey = c SUBSEP peer
        printf "%-7s  " sysf "  %-26s  %-26s  %-26s\n", c, "ratio", \
          sprintf("%.2f× (vs %s)", med(rps[c SUBSEP "mamori"]) / med(rps[bkey]), beside), \
          sprintf("%.2f× (vs %s)", med(p99[c SUBSEP "mamori"]) / med(p99[bkey]), beside), \
          sprintf("%.2f× (vs %s)", med(rss[c SUBSEP "mamori"]) / med(rss[bkey]), beside)
        printf "%-7s  " sysf "  %-26s  %-26s  %-26s\n", c, beside "/" peer, \
          sprintf("%.2f×", med(rps[bkey]) / med(rps[pkey])), sprintf("%.2f×", med(p99[bkey]) / med(p99[pkey])), \
          sprintf("%.2f×", med(rss[bkey]) / med(rss[pkey]))
      }
    }
    printf "\nratio = Mamori median / %s median, from this run; %d repetitions of %d requests each.\n", label, reps, n
    if (beside != "")
      printf "%s/%s = %s median / %s median, from the same run: what the second system does above the first.\n", beside, peer, beside, peer
  }
' "$results"
