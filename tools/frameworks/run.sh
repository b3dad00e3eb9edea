#!/usr/bin/env bash
# Runs real bot frameworks through Hotline's gateway against the Telegram emulator and prints
# a PASS/FAIL table (README.md beside this file).
#
#   tools/frameworks/run.sh [ptb aiogram telebot telegraf grammy teloxide]   (default: all six)
#   MODES="polling" tools/frameworks/run.sh grammy
#   INTAKES="webhook" tools/frameworks/run.sh   (Hotline's own intake: polling, webhook or both)
#   KEEP=1 tools/frameworks/run.sh ptb   (leaves the emulator and Hotline running afterwards)
#
# Installs the frameworks into tools/frameworks/.venv and tools/frameworks/node_modules (pinned
# by requirements.txt and package-lock.json), builds Hotline, the emulator and the teloxide bot
# (debug), then for each framework and mode: starts the bot, drives a conversation with
# drive.py, stops the bot. Logs and the table are kept in tools/frameworks/results/.
# Not part of CI: it downloads from PyPI, npm and crates.io.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ALL=(ptb aiogram telebot telegraf grammy teloxide)
if [ $# -gt 0 ]; then FRAMEWORKS=("$@"); else FRAMEWORKS=("${ALL[@]}"); fi
read -r -a MODES <<< "${MODES:-polling webhook}"
read -r -a INTAKES <<< "${INTAKES:-polling webhook}"
OUT="$HERE/results"
TOKEN="5000001:harness-token"
PY="$HERE/.venv/bin/python"

say() { printf '\n== %s\n' "$*"; }
die() { echo "run.sh: $*" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for SECONDS COMMAND...: retries the command until it succeeds
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}

PIDS=()
stop() { # stop PID: TERM, then KILL after 10 s
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }; sleep 0.2; done
    kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null
}
cleanup() { for p in "${PIDS[@]}"; do stop "$p"; done; }
trap cleanup EXIT

# --- 1. install (pinned) and build ---------------------------------------------------------
say "installing the frameworks"
[ -x "$PY" ] || python3 -m venv "$HERE/.venv" || die "python3 -m venv failed"
"$PY" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt" || die "pip install failed"
(cd "$HERE" && npm ci --silent --no-audit --no-fund) || die "npm ci failed"
say "building hotline, tg-emulator$([[ " ${FRAMEWORKS[*]} " == *" teloxide "* ]] && echo " and the teloxide bot")"
(cd "$ROOT" && nice cargo build -q -p hotline -p tg-emulator --bins) || die "cargo build failed"
if [[ " ${FRAMEWORKS[*]} " == *" teloxide "* ]]; then
    nice cargo build -q --manifest-path "$HERE/teloxide_bot/Cargo.toml" || die "teloxide_bot build failed"
fi
TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# --- 2. the emulator and Hotline with a gateway connection ---------------------------------
rm -rf "$OUT" && mkdir -p "$OUT"

start_services() { # start_services INTAKE: the emulator, then Hotline with its intake in that mode
    local intake=$1 webhook=""
    WORK=$(mktemp -d)
    EMU_PORT=$(free_port)
    HL_PORT=$(free_port)
    EMU="http://127.0.0.1:$EMU_PORT"
    HOTLINE="http://127.0.0.1:$HL_PORT"
    say "starting the emulator ($EMU) and Hotline ($HOTLINE, intake: $intake)"
    # Webhook intake: the emulator pushes https://hotline.test:8443/... to Hotline's port.
    "$TARGET/debug/tg-emulator" --listen "127.0.0.1:$EMU_PORT" --bot "$TOKEN=harness_bot" \
        --user Olga --forum "Support team" --route-webhook "hotline.test:8443=127.0.0.1:$HL_PORT" \
        > "$OUT/emulator-$intake.log" 2>&1 &
    EMU_PID=$!
    PIDS+=("$EMU_PID")
    wait_for 30 grep -q 'listening' "$OUT/emulator-$intake.log" ||
        die "the emulator did not start ($OUT/emulator-$intake.log)"
    GROUP=$(awk '/^forum /{print $2}' "$OUT/emulator-$intake.log")
    if [ "$intake" = webhook ]; then
        webhook=$'mode = "webhook"\nwebhook_url = "https://hotline.test:8443"\nwebhook_secret = "harness-intake-secret"'
    fi
    cat > "$WORK/hotline.toml" <<EOF
database_url = "sqlite://$WORK/hotline.db"
[http]
listen = "127.0.0.1:$HL_PORT"
# The emulator enforces no rate limits; Telegram's 20 messages a minute per group would make
# the outbox pace the topic copies of a run over minutes (each run posts ~15 into the group).
[limits]
group_per_minute = 100000
[[connection]]
name = "harness"
token = "$TOKEN"
group_id = $GROUP
api_url = "$EMU"
$webhook
# The bots under test take plain-http webhooks on loopback.
gateway_plain_http_webhooks = true
[connection.params]
WELCOME = "OFF"
EOF
    RUST_LOG="${RUST_LOG:-info}" "$TARGET/debug/hotline" run --config "$WORK/hotline.toml" \
        > "$OUT/hotline-$intake.log" 2>&1 &
    HL_PID=$!
    PIDS+=("$HL_PID")
    wait_for 60 curl -sf "$HOTLINE/ready" || die "Hotline did not become ready ($OUT/hotline-$intake.log)"
}

# --- 3. each framework, each mode ----------------------------------------------------------
bot_command() { # bot_command FRAMEWORK: the command line that starts its bot
    case "$1" in
        ptb) echo "$PY $HERE/ptb_bot.py" ;;
        aiogram) echo "$PY $HERE/aiogram_bot.py" ;;
        telebot) echo "$PY $HERE/telebot_bot.py" ;;
        telegraf) echo "node $HERE/telegraf_bot.js" ;;
        grammy) echo "node $HERE/grammy_bot.js" ;;
        teloxide) echo "$HERE/teloxide_bot/target/debug/teloxide_bot" ;;
        *) die "unknown framework $1 (known: ${ALL[*]})" ;;
    esac
}

for intake in "${INTAKES[@]}"; do
    start_services "$intake"
    for fw in "${FRAMEWORKS[@]}"; do
        cmd=$(bot_command "$fw") || exit 2
        for mode in "${MODES[@]}"; do
            name="$fw-$mode"
            say "$name (Hotline's intake: $intake)"
            args=(polling) relay=()
            if [ "$mode" = webhook ]; then
                bot_port=$(free_port) relay_port=$(free_port)
                args=(webhook "$bot_port" "http://127.0.0.1:$relay_port/hook")
                relay=(--relay "$relay_port" --upstream "$bot_port")
            else
                # A webhook left from an earlier deployment: the polling bot must delete it
                # (the guide says which frameworks do it themselves); drive.py waits for that.
                curl -sf "$HOTLINE/bot$TOKEN/setWebhook" -d url=http://127.0.0.1:9/leftover > /dev/null ||
                    die "setWebhook for the leftover webhook failed"
            fi
            # shellcheck disable=SC2086 # $cmd is a command line
            HOTLINE="$HOTLINE" TOKEN="$TOKEN" TELOXIDE_API_URL="$HOTLINE" TELOXIDE_TOKEN="$TOKEN" \
                $cmd "${args[@]}" > "$OUT/$name-$intake-intake.log" 2>&1 &
            bot=$!
            python3 "$HERE/drive.py" --emulator "$EMU" --hotline "$HOTLINE" --token "$TOKEN" \
                --name "$name" --intake "$intake" "${relay[@]}" --json "$OUT/results.jsonl"
            stop "$bot"
        done
    done
    if [ -n "${KEEP:-}" ] && [ "$intake" = "${INTAKES[-1]}" ]; then break; fi
    stop "$HL_PID"
    stop "$EMU_PID"
done

# --- 4. the table --------------------------------------------------------------------------
versions() {
    "$PY" -m pip show python-telegram-bot aiogram pyTelegramBotAPI 2>/dev/null | awk '/^Name/{n=$2} /^Version/{printf "%s %s, ", n, $2}'
    for p in telegraf grammy @grammyjs/files; do
        printf '%s %s, ' "$p" "$(node -p "require('$HERE/node_modules/$p/package.json').version")"
    done
    awk '/^name = "teloxide"$/{getline; gsub(/"/, "", $3); printf "teloxide %s", $3}' "$HERE/teloxide_bot/Cargo.lock"
}
{
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), Hotline $(git -C "$ROOT" rev-parse --short HEAD)"
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "Versions: $(versions)"
    echo
    python3 - "$OUT/results.jsonl" <<'EOF'
import json, sys
cols = ["intake", "answer", "order", "button", "edit", "delete", "upload", "download", "handover", "reply"]
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| bot | " + " | ".join(cols) + " |")
print("|---|" + "---|" * len(cols))
for r in rows:
    print(f"| {r['name']} | " + " | ".join(r["results"].get(c, "FAIL") for c in cols) + " |")
EOF
} | tee "$OUT/table.md"
if [ -n "${KEEP:-}" ]; then
    echo "KEEP is set: the emulator ($EMU) and Hotline ($HOTLINE, token $TOKEN) keep running; Ctrl-C stops them"
    wait
fi
! grep -q FAIL "$OUT/results.jsonl"
