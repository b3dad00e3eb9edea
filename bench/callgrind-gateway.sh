#!/usr/bin/env bash
# Instructions per gateway call, counted by callgrind on the Hotline child (load-independent).
# Usage: bench/callgrind-gateway.sh target/release/hotline-bench off|on [calls] [warm-up]
# Needs valgrind and python3. "off": mirroring off (the pass-through alone); "on": mirroring
# on, where the window also holds the mirror decisions and the copies of those calls.
# COUNT=1: no callgrind; Hotline counts SQL statements and write transactions over the same
# window instead (printed per call, by statement). The callgrind out file is kept (its path
# is printed): `callgrind_annotate --inclusive=yes FILE` shows where the instructions go.
set -euo pipefail
BIN=$1; MODE=$2; CALLS=${3:-2000}; WARM=${4:-300}; USERS=20
D=$(mktemp -d)
if [ "$MODE" = off ]; then TOKEN="9100001:bench-mirror-off"; PARAMS='INTERCEPT_EXTERNAL = false'; IDX=group_off
else TOKEN="9100002:bench-mirror-on"; PARAMS=''; IDX=group_on; fi
exec 3< <(RUST_LOG=warn exec "$BIN" serve-emulator --users $USERS)
EPID=$!
read -r WORLD <&3
URL=$(echo "$WORLD" | python3 -c 'import json,sys;print(json.load(sys.stdin)["url"])')
GROUP=$(echo "$WORLD" | python3 -c "import json,sys;print(json.load(sys.stdin)['$IDX'])")
cat > $D/h.toml <<T
database_url = "sqlite://$D/h.db"
[http]
listen = "127.0.0.1:0"
[limits]
bot_per_second = 1000000
private_per_second = 1000000
group_per_minute = 100000000
[[connection]]
name = "$MODE"
token = "$TOKEN"
group_id = $GROUP
api_url = "$URL"
[connection.params]
WELCOME = "OFF"
AUTO_INFO = false
$PARAMS
T
if [ "${COUNT:-0}" = 1 ]; then
  exec 4< <(RUST_LOG=warn HOTLINE_BENCH_COUNT=$CALLS exec "$BIN" serve-hotline --config $D/h.toml 2>$D/vg.log)
  read -r ADDR <&4
  VPID=$(pgrep -f "serve-hotline --config $D/h.toml" | head -1)
else
  exec 4< <(RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file=$D/cg.out.%p "$BIN" serve-hotline --config $D/h.toml 2>$D/vg.log)
  read -r ADDR <&4
  VPID=$(pgrep -f "callgrind-out-file=$D" | head -1)
fi
echo "emulator $URL hotline $ADDR vgpid $VPID" >&2
python3 - "$ADDR" "$TOKEN" "$URL" "$GROUP" "$WORLD" "$CALLS" "$WARM" "$VPID" "${COUNT:-0}" <<'PY'
import sys, json, http.client, subprocess, time, urllib.request, os, signal
addr, token, url, group, world, calls, warm, vpid, count = sys.argv[1:]
calls, warm = int(calls), int(warm)
users = json.loads(world)["users"]
deadline = time.time() + 600
while True:
    t = json.load(urllib.request.urlopen(f"{url}/control/topics?chat_id={group}"))
    if len(t["result"]) >= len(users): break
    assert time.time() < deadline, "topics"
    time.sleep(0.5)
host, port = addr.split(":")
c = http.client.HTTPConnection(host, int(port))
def one(k):
    if k % 2:
        body = json.dumps({"chat_id": users[k % len(users)], "text": f"bench {k}"})
        c.request("POST", f"/bot{token}/sendMessage", body, {"content-type": "application/json"})
    else:
        c.request("GET", f"/bot{token}/getMe")
    r = c.getresponse(); r.read(); assert r.status == 200, r.status
for k in range(warm): one(k)
time.sleep(2)
def mark(what):
    if count == "1": os.kill(int(vpid), signal.SIGUSR1)
    else: subprocess.run(["callgrind_control", what, vpid], check=True, capture_output=True)
mark("-z")
for k in range(warm, warm + calls): one(k)
# SETTLE=s: the copies of the last calls are decided and sent after their answers; let
# them settle (0 by default, as the figures in bench/README.md were taken).
time.sleep(float(os.environ.get("SETTLE", "0")))
mark("-d")
PY
sleep 1
if [ "${COUNT:-0}" = 1 ]; then
  sed -n '/gateway window/,$p' $D/vg.log
  kill $VPID 2>/dev/null || true; kill $EPID 2>/dev/null || true
  exit 0
fi
F=$(ls -t $D/cg.out.* | head -1)
IR=$(grep -E '^(summary|totals):' $F | head -1 | awk '{print $2}')
echo "$MODE: $IR instructions over $CALLS calls = $((IR / CALLS)) per call ($F)"
kill $VPID 2>/dev/null || true
kill $EPID 2>/dev/null || true
