#!/usr/bin/env bash
# shellcheck disable=SC2016  # Markdown with backticks is single-quoted on purpose
# The test command's hygiene: ceremony-scripts/lib/cleanup.sh stops and
# removes only what a run started (a cupsd, its print queue, cups-pdf
# output, the emulators) and keeps what was there before; install-deps.sh
# refuses an install that would upgrade an installed package.
# Prints "N passed, M failed" last and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/.work/hygiene-tests
rm -rf "$work"
mkdir -p "$work/pdf" "$work/emu"

# shellcheck source=tests/lib/harness.sh
source "$root/tests/lib/harness.sh"

if command -v shellcheck >/dev/null; then
    check "shellcheck is clean on the hygiene scripts" shellcheck -x ceremony-scripts/lib/cleanup.sh \
        ceremony-scripts/lib/install-deps.sh ceremony-scripts/test-all.sh tests/hygiene/run.sh tests/lib/harness.sh
fi

# --- install-deps.sh upgrades only within Debian 12 -------------------------------------------
parser_ok() (
    INSTALL_DEPS_LIB_ONLY=1
    # shellcheck source=ceremony-scripts/lib/install-deps.sh
    source ceremony-scripts/lib/install-deps.sh
    plan=$'NOTE: simulation\nInst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian:12/stable [amd64])\nInst newtool (1.2-1 Debian:12/stable [amd64])\nConf newtool (1.2-1 Debian:12/stable [amd64])'
    [[ $(upgrades_in_plan <<<"$plan") == libssl3 ]]
    [[ -z $(upgrades_in_plan <<<$'Inst newtool (1.2-1 Debian:12/stable [amd64])') ]]
    # Debian 12's own point-release and security updates are taken; an
    # upgrade from another release, backports or a third party is not.
    [[ -z $(foreign_upgrades_in_plan <<<"$plan") ]]
    [[ -z $(foreign_upgrades_in_plan <<<$'Inst libz [1.0] (1.1 Debian-Security:12/oldstable-security [amd64])') ]]
    [[ -z $(foreign_upgrades_in_plan <<<$'Inst libg [2.7-1] (2.7-2 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [all])') ]]
    [[ $(foreign_upgrades_in_plan <<<$'Inst libssl3 [3.0.15] (3.5.1 Debian:13.2/stable [amd64])') == libssl3 ]]
    [[ $(foreign_upgrades_in_plan <<<$'Inst libssl3 [3.0.15] (3.5.1 Debian Backports:12-backports/bookworm-backports [amd64])') == libssl3 ]]
    [[ $(foreign_upgrades_in_plan <<<$'Inst libx [1] (2 Vendor:1.0/main [amd64])') == libx ]]
    installed_versions >"$work/versions"  # (not piped into grep -q: pipefail and SIGPIPE)
    grep -q '^dpkg:' "$work/versions"
)
check "install-deps.sh tells an upgrade of an installed package from a new package" parser_ok
check "install-deps.sh installs with --no-upgrade only" \
    bash -c "grep -q 'apt-get install -y -q --no-upgrade' ceremony-scripts/lib/install-deps.sh &&
             ! grep -E 'apt-get (-y )?(upgrade|dist-upgrade|full-upgrade)' ceremony-scripts/lib/install-deps.sh"
check "install-deps.sh refuses a plan that upgrades from outside Debian 12 (exit 4)" grep -q 'exit 4' ceremony-scripts/lib/install-deps.sh

# --- the cleanup library -------------------------------------------------------
export CLEANUP_PDF_DIR=$work/pdf AIRLOCK_EMU_STATE=$work/emu
# shellcheck source=ceremony-scripts/lib/cleanup.sh
source ceremony-scripts/lib/cleanup.sh
CLEANUP_QUEUE=airlock-hygiene-test

start_fake_emulator() { # NAME: a process group in place of the emulator; sets pid
    setsid sleep 300 </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$AIRLOCK_EMU_STATE/$1.pid"
    mine+=("$pid")
}

start_fake_emulator moto
cleanup_snapshot
cleanup_restore
check "an emulator running before the run is kept" kill -0 "$pid"
kill "$pid"; rm -f "$AIRLOCK_EMU_STATE/moto.pid"
sleep 0.2

cleanup_snapshot
start_fake_emulator moto
cleanup_restore
sleep 0.3
check "an emulator the run started is stopped" bash -c "! kill -0 $pid"

touch -d '1 hour ago' "$work/pdf/old-job_1.pdf"
have_cups=1
command -v cupsd >/dev/null && command -v lpadmin >/dev/null || have_cups=0
[[ $(id -u) == 0 ]] || have_cups=0
if ((have_cups == 0)); then
    skip "cupsd cleanup (needs root and CUPS: install-deps.sh --test)"
elif [[ -n $(cleanup_cupsd_pids) ]]; then
    # Someone else's cupsd runs: only check that it survives.
    before=$(cleanup_cupsd_pids)
    cleanup_snapshot
    cleanup_restore
    check "a cupsd running before the run is kept" test "$(cleanup_cupsd_pids)" == "$before"
    skip "stopping a cupsd the run started (another cupsd is running)"
else
    cleanup_snapshot
    cupsd
    for _ in $(seq 1 50); do lpstat -r 2>/dev/null | grep -q "is running" && break; sleep 0.2; done
    lpadmin -p "$CLEANUP_QUEUE" -E -v cups-pdf:/ -m lsb/usr/cups-pdf/CUPS-PDF_opt.ppd >/dev/null 2>&1 ||
        lpadmin -p "$CLEANUP_QUEUE" -E -v file:/dev/null >/dev/null 2>&1 || true
    check "(setup) the run's cupsd is up with its queue" cleanup_queue_exists "$CLEANUP_QUEUE"
    touch "$work/pdf/new-job_2.pdf"
    cleanup_restore
    check "the cupsd the run started is stopped" test -z "$(cleanup_cupsd_pids)"
    check "the PDF printed during the run is removed" test ! -e "$work/pdf/new-job_2.pdf"
    check "a PDF from before the run is kept" test -e "$work/pdf/old-job_1.pdf"
    cupsd
    for _ in $(seq 1 50); do lpstat -r 2>/dev/null | grep -q "is running" && break; sleep 0.2; done
    check "(setup) the queue the run added was removed with it" bash -c "! lpstat -p $CLEANUP_QUEUE"
    ours=$(cleanup_cupsd_pids)
    cleanup_snapshot
    cleanup_restore
    check "a cupsd running before the run is kept" test "$(cleanup_cupsd_pids)" == "$ours"
    for p in $ours; do kill "$p"; done
fi

# --- the doc-link check -----------------------------------------------------------
links=$work/links
mkdir -p "$links/docs"
printf '# Top\n\n## State directory\n\n## `airlock.toml`: keys\n\nSee [s](#state-directory), [k](#airlocktoml-keys), [r](../README.md).\n`[not a link](code.md)`\n```\n[not a link](fence.md)\n```\n' >"$links/docs/a.md"
printf '# R\n\n[a](docs/a.md#state-directory)\n' >"$links/README.md"
check "the doc-link check passes good links (anchors, code spans and fences ignored)" \
    bash ceremony-scripts/check-doc-links.sh "$links"
for bad in '[b](docs/missing.md)' '[b](docs/a.md#no-such-heading)' '![i](docs/none.png)' '[ref]: docs/gone.md'; do
    printf '%s\n' "$bad" >>"$links/README.md"
    rc=0
    out=$(bash ceremony-scripts/check-doc-links.sh "$links" 2>&1) || rc=$?
    if ((rc == 1)) && grep -q "README.md:4:" <<<"$out"; then ok "the doc-link check fails on $bad, naming the line"; else
        fail "the doc-link check fails on $bad, naming the line (exit $rc: $out)"; fi
    sed -i '$d' "$links/README.md"
done
check "every relative link in this repository's README.md and docs/*.md resolves" \
    bash ceremony-scripts/check-doc-links.sh

# --- Python 3.13 for the online tests: a clear error up front --------------------
rc=0
out=$(PYTHON313=/nonexistent/python3.13 bash ceremony-scripts/localstack/emulators.sh python 2>&1) || rc=$?
if ((rc == 3)) && grep -q "Python 3.13 not found at /nonexistent/python3.13" <<<"$out" && grep -q "PYTHON313=" <<<"$out"; then
    ok "a missing Python 3.13 is exit 3 with what to do"; else fail "a missing Python 3.13 is exit 3 with what to do ($rc: $out)"; fi
other=$(command -v python3 || true)
if [[ -n $other ]] && ! "$other" -c 'import sys; sys.exit(sys.version_info[:2] == (3, 13))'; then
    skip "a Python that is not 3.13 is refused (python3 here is 3.13)"
elif [[ -n $other ]]; then
    rc=0
    PYTHON313=$other bash ceremony-scripts/localstack/emulators.sh python >/dev/null 2>&1 || rc=$?
    if ((rc == 3)); then ok "a Python that is not 3.13 is refused (exit 3)"; else fail "a Python that is not 3.13 is refused (exit $rc)"; fi
fi
check "test-all.sh checks for Python 3.13 before building" \
    bash -c "grep -n 'emulators.sh python' ceremony-scripts/test-all.sh | head -1 | cut -d: -f1 |
             xargs -I{} awk -v l={} '/cargo build/ { exit !(NR > l) }' ceremony-scripts/test-all.sh"

# --- the harness itself: a failure fails the script ------------------------------
mkdir -p "$work/harness"
rc=0
out=$(work=$work/harness bash -c 'source tests/lib/harness.sh; check "passes" true; check "fails" false' 2>&1) || rc=$?
if ((rc != 0)) && [[ $(tail -1 <<<"$out") == "1 passed, 1 failed" ]]; then ok "a failing check fails a harness script"; else
    fail "a failing check fails a harness script (exit $rc)" "$out"; fi
rc=0
out=$(work=$work/harness bash -c 'source tests/lib/harness.sh' 2>&1) || rc=$?
if ((rc != 0)); then ok "a harness script that checked nothing fails"; else fail "a harness script that checked nothing fails"; fi
rc=0
out=$(work=$work/harness bash -c 'set -e; source tests/lib/harness.sh; check "passes" true; false; check "never reached" true' 2>&1) || rc=$?
if ((rc != 0)) && grep -q "stopped early (exit 1)" <<<"$out"; then ok "a script that stops on an error fails, even after passes"; else
    fail "a script that stops on an error fails, even after passes (exit $rc)" "$out"; fi

# --- test-all.sh wires all of this in ------------------------------------------------
check "test-all.sh restores what it started on exit (trap set before the build)" \
    bash -c "awk '/^trap cleanup_restore EXIT/ { t = NR } /^cargo build/ && !b { b = NR } END { exit !(t && b && t < b) }' ceremony-scripts/test-all.sh"
for s in ceremony-scripts/check-doc-links.sh tests/rehearse/run.sh tests/hygiene/run.sh; do
    check "test-all.sh runs $s" grep -q "^bash $s\$" ceremony-scripts/test-all.sh
done
