#!/usr/bin/env bash
# Local AWS emulators for the online scripts' tests, on 127.0.0.1 only:
# LocalStack KMS (real unwrapping on ImportKeyMaterial) on port 4566 and a
# moto server (S3, DynamoDB, RDS, CloudWatch, Config inventories) on 5000.
# Both run from one Python 3.13 venv under .work/ built from constraints.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PYTHON313=${PYTHON313:-/root/.pyenv/versions/3.13.0/bin/python3.13}
VENV=${AIRLOCK_EMU_VENV:-$root/.work/online-venv}
STATE=${AIRLOCK_EMU_STATE:-$root/.work/online-emulators}
LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
MOTO_PORT=${MOTO_PORT:-5000}

usage() {
    cat <<EOF
Usage: emulators.sh COMMAND

Commands:
  python    check that Python 3.13 is at $PYTHON313 (exit 3 if not)
  install   create the venv ($VENV) with $PYTHON313
            and install constraints.txt + moto-server.txt (idempotent: a venv
            whose stamp matches both files is left alone)
  start     install if needed, then start LocalStack (127.0.0.1:$LOCALSTACK_PORT)
            and moto (127.0.0.1:$MOTO_PORT); waits until both answer
  stop      stop both (by the PIDs recorded in $STATE)
  env       print the shell exports the tests use (dummy credentials,
            AWS_MAX_ATTEMPTS=1, PATH with the venv's aws CLI)
  -h, --help

Exit codes: 0 ok, 2 usage, 3 Python 3.13 missing, 4 install failed,
            5 an emulator did not come up (its log is named).
EOF
}

die() { local code=$1; shift; echo "emulators: $*" >&2; exit "$code"; }

stamp_value() { cat "$here/constraints.txt" "$here/moto-server.txt" | sha256sum | cut -d' ' -f1; }

check_python() {
    [[ -x $PYTHON313 ]] || die 3 "Python 3.13 not found at $PYTHON313; LocalStack 2026.3 needs it (3.11/3.12 fail). Install it (pyenv install 3.13.0) or set PYTHON313=/path/to/python3.13"
    "$PYTHON313" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' ||
        die 3 "$PYTHON313 is not Python 3.13 ($("$PYTHON313" --version 2>&1)); set PYTHON313=/path/to/python3.13"
}

install_venv() {
    check_python
    local want
    want=$(stamp_value)
    if [[ -f $VENV/.airlock-stamp && $(cat "$VENV/.airlock-stamp") == "$want" ]]; then
        return 0
    fi
    echo "emulators: building $VENV (about a minute)" >&2
    # Built in place; the stamp is written last, so a half-built venv is
    # rebuilt on the next run instead of being trusted.
    rm -rf "$VENV"
    "$PYTHON313" -m venv "$VENV" || die 4 "could not create a venv with $PYTHON313 at $VENV"
    {
        "$VENV/bin/pip" install -q -U pip &&
            "$VENV/bin/pip" install -q -r "$here/constraints.txt" &&
            "$VENV/bin/pip" install -q -c "$here/constraints.txt" -r "$here/moto-server.txt"
    } >&2 || die 4 "pip install into $VENV failed (see the pip output above); rerun 'emulators.sh install'"
    printf '%s\n' "$want" >"$VENV/.airlock-stamp"
}

wait_for() {
    local what=$1 url=$2 grep_for=$3 log=$4
    for _ in $(seq 1 120); do
        if curl -fsS "$url" 2>/dev/null | grep -q "$grep_for"; then return 0; fi
        sleep 0.5
    done
    die 5 "$what did not answer at $url within 60 s; see $log"
}

start() {
    install_venv
    mkdir -p "$STATE"
    if [[ -f $STATE/localstack.pid ]] && kill -0 "$(cat "$STATE/localstack.pid")" 2>/dev/null; then
        echo "emulators: LocalStack already running (pid $(cat "$STATE/localstack.pid"))" >&2
    else
        rm -rf "$STATE/localstack-fs"
        mkdir -p "$STATE/localstack-fs"
        GATEWAY_LISTEN=127.0.0.1:$LOCALSTACK_PORT GATEWAY_SERVER=hypercorn \
            LOCALSTACK_HOST=127.0.0.1:$LOCALSTACK_PORT OVERRIDE_IN_DOCKER=0 \
            DOCKER_BRIDGE_IP=127.0.0.1 DNS_ADDRESS=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
            SERVICES=kms,sts FILESYSTEM_ROOT="$STATE/localstack-fs" \
            setsid "$VENV/bin/python" -m localstack.runtime.main >"$STATE/localstack.log" 2>&1 </dev/null &
        echo $! >"$STATE/localstack.pid"
    fi
    if [[ -f $STATE/moto.pid ]] && kill -0 "$(cat "$STATE/moto.pid")" 2>/dev/null; then
        echo "emulators: moto already running (pid $(cat "$STATE/moto.pid"))" >&2
    else
        setsid "$VENV/bin/python" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" \
            >"$STATE/moto.log" 2>&1 </dev/null &
        echo $! >"$STATE/moto.pid"
    fi
    wait_for LocalStack "http://127.0.0.1:$LOCALSTACK_PORT/_localstack/health" '"kms"' "$STATE/localstack.log"
    wait_for moto "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" '{' "$STATE/moto.log"
    echo "emulators: LocalStack on 127.0.0.1:$LOCALSTACK_PORT, moto on 127.0.0.1:$MOTO_PORT" >&2
}

stop_one() {
    local name=$1 pidfile=$STATE/$1.pid pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        # setsid made it a process-group leader: end the group it started.
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "emulators: stopped $name" >&2
}

print_env() {
    cat <<EOF
export PATH="$VENV/bin:\$PATH"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=eu-west-1
export AWS_MAX_ATTEMPTS=1 AWS_PAGER=""
export AIRLOCK_KMS_ENDPOINT=http://127.0.0.1:$LOCALSTACK_PORT
export AIRLOCK_INVENTORY_ENDPOINT=http://127.0.0.1:$MOTO_PORT
EOF
}

case "${1:-}" in
    python) check_python ;;
    install) install_venv ;;
    start) start ;;
    stop) stop_one localstack; stop_one moto ;;
    env) print_env ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
