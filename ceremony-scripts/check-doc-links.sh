#!/usr/bin/env bash
# Checks that every relative link in README.md and docs/*.md resolves: the
# file or folder exists, and a #fragment names a heading of the target
# Markdown file (GitHub's anchor rules). Links inside fenced code blocks and
# `code spans` are not links; http(s): and mailto: links are not checked
# (the workstation is offline).
#
# Usage: check-doc-links.sh [ROOT]   (default: the repository)
# Exit codes: 0 every link resolves; 1 a link is broken (each is named as
# FILE:LINE: target); 2 usage.
set -euo pipefail
case "${1:-}" in
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check-doc-links: unknown option $1" >&2; exit 2 ;;
esac
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[[ -d $root ]] || { echo "check-doc-links: $root is not a folder" >&2; exit 2; }
cd "$root"

# links FILE: "LINE<TAB>TARGET" for each inline link or reference definition.
links() {
    awk '
        /^[ \t]*(```|~~~)/ { fence = !fence; next }
        fence { next }
        {
            line = $0
            gsub(/`[^`]*`/, "", line)
            if (match(line, /^[ \t]*\[[^]]+\]:[ \t]*[^ \t]+/)) {
                t = substr(line, RSTART, RLENGTH); sub(/^[ \t]*\[[^]]+\]:[ \t]*/, "", t)
                print NR "\t" t
            }
            while (match(line, /\]\([^) \t]+[^)]*\)/)) {
                t = substr(line, RSTART + 2, RLENGTH - 3)
                sub(/[ \t].*$/, "", t)
                sub(/^</, "", t); sub(/>$/, "", t)
                print NR "\t" t
                line = substr(line, RSTART + RLENGTH)
            }
        }' "$1"
}

# anchors FILE: GitHub's heading anchors, one a line (repeats get -1, -2 ...).
anchors() {
    awk '
        /^[ \t]*(```|~~~)/ { fence = !fence; next }
        fence { next }
        /^#+[ \t]/ {
            h = $0; sub(/^#+[ \t]+/, "", h); sub(/[ \t]+#*[ \t]*$/, "", h)
            h = tolower(h)
            gsub(/[^a-z0-9 _-]/, "", h)
            gsub(/ /, "-", h)
            n = seen[h]++
            print (n ? h "-" n : h)
        }' "$1"
}

broken=0
files=(README.md)
for f in docs/*.md; do [[ -e $f ]] && files+=("$f"); done
for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    dir=$(dirname "$f")
    while IFS=$'\t' read -r line target; do
        case "$target" in
            http://* | https://* | mailto:*) continue ;;
        esac
        path=${target%%#*}
        frag=""
        [[ $target == *"#"* ]] && frag=${target#*#}
        if [[ -z $path ]]; then
            resolved=$f
        else
            resolved=$dir/$path
        fi
        if [[ ! -e $resolved ]]; then
            echo "$f:$line: $target: $resolved does not exist" >&2
            broken=$((broken + 1))
            continue
        fi
        # (a whole-list match, not `| grep -q`: with pipefail an early exit is a SIGPIPE failure)
        if [[ -n $frag && $resolved == *.md && $'\n'$(anchors "$resolved")$'\n' != *$'\n'"$frag"$'\n'* ]]; then
            echo "$f:$line: $target: no heading for #$frag in $resolved" >&2
            broken=$((broken + 1))
        fi
    done < <(links "$f")
done
if ((broken)); then
    echo "check-doc-links: $broken broken link(s)" >&2
    exit 1
fi
echo "check-doc-links: every relative link in ${#files[@]} files resolves"
