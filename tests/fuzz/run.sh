#!/usr/bin/env bash
# Fuzz flowmon's HTTP API with schemathesis (`make fuzz`, part of `make test`).
#
# Starts `python app.py` in the background on a free port with a fresh data directory and a known token, seeds
# one of each resource (tests/fuzz/seed.py), then runs schemathesis over /openapi.json twice:
#   1. with the token, over /api and /hooks: no response may be a 5xx;
#   2. without a token, over /api (but /api/health): every answer must be 401 or 404, never a 5xx.
# The server must also log no traceback and no ERROR line, and stop within 20 s of SIGTERM (a stop that takes
# more than 10 s logs where it is, see flowmon/infra/stop_watch.py). The server is stopped by its PID on every
# exit path.
# On failure this repeats the failures and summary of each schemathesis run that failed (with a curl command per
# failing case), then prints each distinct traceback of the server log (tests/fuzz/log_errors.py) and its tail.
#
# Budgets (seconds, spent in full: schemathesis keeps generating until they run out); raise them for a deeper run:
#   FUZZ_SECONDS_WITH_TOKEN (default 25), FUZZ_SECONDS_WITHOUT_TOKEN (default 6).
# `make test` runs this beside the browser tests, on a share of the machine, with 50 and 12 (see the Makefile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BIN=${BIN:-.venv/bin}
WITH_TOKEN_S=${FUZZ_SECONDS_WITH_TOKEN:-25}
WITHOUT_TOKEN_S=${FUZZ_SECONDS_WITHOUT_TOKEN:-6}
OUT=test-output/fuzz
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.xml
SERVER_LOG=$OUT/server.log

work=$(mktemp -d)
server_pid=''
st_pid=''
stop_overdue=0

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        local waited=0
        while kill -0 "$server_pid" 2>/dev/null && [ "$waited" -lt 100 ]; do sleep 0.2; waited=$((waited + 1)); done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "fuzz: flowmon (pid $server_pid) still running 20 s after SIGTERM; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
            stop_overdue=1
        else
            echo "fuzz: flowmon stopped $((waited / 5)) s after SIGTERM"
        fi
    fi
    server_pid=''
}
trap 'if [ -n "$st_pid" ]; then kill "$st_pid" 2>/dev/null || true; fi; stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

explain_failure() {
    echo "fuzz: FAILED: $1"
    for run in with-token without-token; do
        if [ -s "$OUT/$run.txt" ] && grep -q -E '^=+ (FAILURES|ERRORS) =+$' "$OUT/$run.txt"; then
            echo "fuzz: schemathesis $run: failures and summary (all of it in $OUT/$run.txt)"
            sed -n -E '/^=+ (FAILURES|ERRORS) =+$/,/^=+ WARNINGS =+$/p; /^=+ SUMMARY =+$/,$p' "$OUT/$run.txt"
        fi
    done
    echo "fuzz: errors in the server log ($SERVER_LOG)"
    "$BIN/python" tests/fuzz/log_errors.py "$SERVER_LOG" || true
    echo "fuzz: last 30 lines of the server log"
    tail -n 30 "$SERVER_LOG"
}

# The server gets only the settings below: nothing from the caller's FLOWMON_* environment (in particular no
# FLOWMON_OUTBOUND_ALLOW: loopback and private destinations stay refused). Outbound requests are held to one
# port, so a URL the fuzzer invents is refused before any name is resolved; the one accepted destination is a
# .invalid name (see seed.py), whose lookup fails. Each delivery makes one attempt, and the resolver gives up after
# a second (RES_OPTIONS), so a slow resolver cannot fill the lookup threads and hold up the server's stop.
# The fuzzer starts runs of the example workflows (some take a minute) far faster than they end: the queue limit's
# 503 would be the right answer to that flood, not the fault looked for here, so the limit is set out of its reach.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^FLOWMON_' || true)
port=$("$BIN/python" tests/ports.py)
token=$("$BIN/python" -c 'import secrets; print("fuzz-" + secrets.token_urlsafe(24))')
base=http://127.0.0.1:$port
mkdir -p "$work/data"
cp -r data/workflows "$work/workflows"
cp tests/fuzz/schemathesis.toml "$work/"

FLOWMON_HOST=127.0.0.1 FLOWMON_PORT=$port FLOWMON_TOKEN=$token FLOWMON_DATA_DIR=$work/data \
    FLOWMON_WORKFLOWS_DIR=$work/workflows FLOWMON_OUTBOUND_PORTS=1 FLOWMON_WEBHOOK_RETRY_SCHEDULE=0 \
    FLOWMON_LOG_LEVEL=INFO FLOWMON_MAX_QUEUED_EXECUTIONS=1000000 RES_OPTIONS='timeout:1 attempts:1' PYTHONUNBUFFERED=1 \
    "$BIN/python" app.py >"$SERVER_LOG" 2>&1 &
server_pid=$!
echo "fuzz: flowmon pid $server_pid on $base, data in $work/data, log in $SERVER_LOG"

export FUZZ_BASE_URL=$base FUZZ_TOKEN=$token SCHEMATHESIS_HOOKS=tests.fuzz.hooks
if ! "$BIN/python" tests/fuzz/seed.py "$base" "$server_pid" "$work"; then
    explain_failure 'flowmon did not start or could not be seeded'
    exit 1
fi

# One schemathesis run, named $1, with the options that follow; output to the terminal and $OUT/$1.txt.
# In the background, waited for: a signal to this script then stops it at once (the EXIT trap kills it).
fuzz_run() {
    local name=$1
    shift
    "$BIN/st" --config-file "$work/schemathesis.toml" run "$base/openapi.json" --workers 1 --no-color \
        --request-timeout 20 --report junit --report-junit-path "$OUT/$name.xml" "$@" \
        > >(tee "$OUT/$name.txt") 2>&1 &
    st_pid=$!
    local status=0
    wait "$st_pid" || status=$?
    st_pid=''
    return "$status"
}
failed=()

# The token goes in through the hooks (FUZZ_WITH_TOKEN), not as -H on a command line that `ps` shows.
echo "fuzz: with the token, /api and /hooks, ${WITH_TOKEN_S} s"
# The event streams answer a valid request with a stream that lasts until the client hangs up (each would time out
# here); their refusals and streams are tested through the whole app in tests/integration/test_event_streams.py.
FUZZ_WITH_TOKEN=1 fuzz_run with-token --checks not_a_server_error --include-path-regex '^/(api|hooks)/' \
    --exclude-path-regex '/stream$' --max-time "$WITH_TOKEN_S" || failed+=('a 5xx with the token')

echo "fuzz: without a token, /api, ${WITHOUT_TOKEN_S} s"
fuzz_run without-token --checks not_a_server_error,refused_without_token \
    --include-path-regex '^/api/' --exclude-path /api/health \
    --max-time "$WITHOUT_TOKEN_S" || failed+=('an answer other than 401/404 without a token')

if ! kill -0 "$server_pid" 2>/dev/null; then
    failed+=('flowmon exited during the fuzz run')
fi
stop_server
if [ "$stop_overdue" -eq 1 ]; then
    failed+=('flowmon did not stop within 20 s of SIGTERM (the server log says where it was)')
fi
if ! "$BIN/python" tests/fuzz/log_errors.py "$SERVER_LOG" >/dev/null; then
    failed+=('tracebacks or ERROR lines in the server log')
fi

if [ ${#failed[@]} -gt 0 ]; then
    explain_failure "$(IFS=';'; echo "${failed[*]}" | sed 's/;/; /g')"
    exit 1
fi
cases() { grep -E -m1 '^ *[0-9]+ generated' "$1" | xargs; }  # "3496 generated, 3496 passed"
echo "fuzz: passed; with the token $(cases "$OUT/with-token.txt"), without $(cases "$OUT/without-token.txt")"
