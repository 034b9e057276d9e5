#!/usr/bin/env bash
# What the test command starts outside the repository, and how it is put
# back: a cupsd (crates/airlock-attest/tests/print_cups.rs starts one when
# none runs), its airlock-test print queue and the PDFs cups-pdf wrote, and
# the online tests' emulators (LocalStack, moto). Sourced by test-all.sh:
#
#   cleanup_snapshot   before the tests: note what is already there
#   cleanup_restore    on exit: stop and remove only what the run added
#
# A cupsd, queue or emulator that was there before the run is left alone.
# CLEANUP_QUEUE and CLEANUP_PDF_DIR may be set before sourcing (tests).

CLEANUP_QUEUE=${CLEANUP_QUEUE:-airlock-test}
CLEANUP_PDF_DIR=${CLEANUP_PDF_DIR:-${HOME:-/root}/PDF}
_cleanup_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_cleanup_emu_state=${AIRLOCK_EMU_STATE:-$_cleanup_root/.work/online-emulators}

# cupsd process ids, one a line (by exact process name; read only).
cleanup_cupsd_pids() { pgrep -x cupsd 2>/dev/null | sort || true; }

cleanup_queue_exists() { lpstat -p "$1" >/dev/null 2>&1; }

# True when the emulator NAME (localstack, moto) runs from its pid file.
cleanup_emulator_running() {
    local f=$_cleanup_emu_state/$1.pid
    [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

cleanup_snapshot() {
    _cleanup_cupsd_before=$(cleanup_cupsd_pids)
    _cleanup_queue_before=0
    if [[ -n $_cleanup_cupsd_before ]] && cleanup_queue_exists "$CLEANUP_QUEUE"; then
        _cleanup_queue_before=1
    fi
    _cleanup_emu_before=0
    if cleanup_emulator_running localstack || cleanup_emulator_running moto; then
        _cleanup_emu_before=1
    fi
    _cleanup_stamp=$(mktemp)
}

cleanup_restore() {
    local pid new=() stopped=()
    [[ -n ${_cleanup_stamp:-} ]] || return 0
    # The queue first (lpadmin needs the scheduler), if the run added it.
    if ((_cleanup_queue_before == 0)) && cleanup_queue_exists "$CLEANUP_QUEUE"; then
        lpadmin -x "$CLEANUP_QUEUE" 2>/dev/null && echo "cleanup: removed print queue $CLEANUP_QUEUE" >&2
    fi
    # What cups-pdf printed during the run.
    if [[ -d $CLEANUP_PDF_DIR ]]; then
        find "$CLEANUP_PDF_DIR" -maxdepth 1 -type f -name '*.pdf' -newer "$_cleanup_stamp" -delete 2>/dev/null || true
    fi
    # A cupsd that was not running before (by pid: one running before is kept).
    for pid in $(cleanup_cupsd_pids); do
        grep -qx "$pid" <<<"$_cleanup_cupsd_before" || new+=("$pid")
    done
    for pid in "${new[@]}"; do
        kill "$pid" 2>/dev/null && stopped+=("$pid")
    done
    for pid in "${stopped[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    done
    ((${#stopped[@]} == 0)) || echo "cleanup: stopped the cupsd this run started (pid ${stopped[*]})" >&2
    if ((_cleanup_emu_before == 0)); then
        bash "$_cleanup_root/ceremony-scripts/localstack/emulators.sh" stop >/dev/null 2>&1 || true
    fi
    rm -f "$_cleanup_stamp"
    _cleanup_stamp=""
}
