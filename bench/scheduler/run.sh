#!/usr/bin/env bash
# Scheduler benchmark (issue 6): one scheduling pass over 1,000 / 10,000 / 100,000 challenges spread over
# 100 namespaces with 60 in progress; median pass time (CLOCK_MONOTONIC) and peak RSS, each size in a
# fresh process. Not a test. Builds bench.c against controller/scheduler.c directly with -O2 (no change to
# the project build needed). The cap is raised to 80 so that every pass does the full work (20 free slots
# = a full tick); with the default cap of 60 and 60 in progress a pass returns after one flag scan.
# The result lines (last) are for the plain path: every pass hashes the strings, which are allocated one
# by one and interleaved across namespaces (no help from caches or shared pointers).
# Prints one line per size last: challenges=<n> pass_ms=<x> peak_rss_kb=<n>
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${KACME_BUILD_DIR:-$root/build}/bench-scheduler
mkdir -p "$out"
${CC:-cc} -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/controller" \
    "$here/bench.c" "$root/controller/scheduler.c" -o "$out/bench"

# The same sizes with the default cap (60 in progress = cap full, the steady state under load: the pass
# stops after one scan of the flags), for comparison; then the full passes, result lines last.
for n in 1000 10000 100000; do
    "$out/bench" "$n" 60 | sed 's/^/# default cap 60: /'
done
# With the hashes cached by the caller (sched_key_hash/sched_ns_hash per object): no string reads.
for n in 1000 10000 100000; do
    "$out/bench" "$n" 80 31 cached | sed 's/^/# cached hashes: /'
done
results=()
for n in 1000 10000 100000; do
    while IFS= read -r line; do
        case $line in
        "#"*) echo "$line" ;;
        *) results+=("$line") ;;
        esac
    done < <("$out/bench" "$n" 80)
done
printf '%s\n' "${results[@]}"
