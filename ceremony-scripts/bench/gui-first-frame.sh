#!/usr/bin/env bash
# Benchmark: the desktop app from exec to its first drawn frame (target
# < 1 s), under Xvfb with Mesa's software OpenGL, release build. The clock
# starts just before exec; the frame counts as drawn when a screenshot of
# the X screen shows more than 16 colours, i.e. anti-aliased text, not just
# a mapped window (polled with ImageMagick, so the resolution is the
# ~50-150 ms one `import` takes; the number is an upper bound). RUNS=N
# repeats (default 5) and prints each and the median.
source "$(dirname "$0")/lib.sh"
need xvfb-run xvfb; need import imagemagick
[ "${SKIP_BUILD:-}" = 1 ] || build_release
bench_token
runs="${RUNS:-5}"
cat >"$work/first-frame.sh" <<'INNER'
set -u
shot="$1/shot.png"
start=$(date +%s%N)
"$2" >"$1/app.log" 2>&1 &
pid=$!
while :; do
    now=$(date +%s%N)
    if [ $(((now - start) / 1000000)) -gt 20000 ]; then echo timeout; break; fi
    if import -window root "$shot" 2>/dev/null &&
        [ "$(identify -format %k "$shot")" -gt 16 ]; then
        echo $(((now - start) / 1000000))
        break
    fi
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
true
INNER
times=()
for i in $(seq "$runs"); do
    ms=$(env -u WAYLAND_DISPLAY xvfb-run -a -s "-screen 0 1400x900x24" \
        bash "$work/first-frame.sh" "$work" "$airlock")
    echo "run $i: $ms ms to first frame"
    times+=("$ms")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median: " a[int((NR+1)/2)] " ms"}'
