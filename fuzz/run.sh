#!/usr/bin/env bash
# Fuzz the launcher's file parsing for a while (default 10 minutes), then merge the
# inputs that found new coverage into fuzz/corpus/ (which the CI test replays).
#
#   fuzz/run.sh [SECONDS]        needs clang (libFuzzer); zstd.c as the Makefile says
#
# Exits non-zero if the fuzzer found a crash (its input is saved as build/crash-*).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"

make -s fuzzer
work="$(mktemp -d /tmp/of-fuzz-corpus-XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 make_seeds.py "$work"
if [ -d corpus ]; then cp corpus/* "$work"/ 2>/dev/null || true; fi

status=0
./build/fuzz_launcher -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -dict=launcher.dict -artifact_prefix=build/ -print_final_stats=1 "$work" 2>build/fuzz.log || status=$?
grep -E "^stat::|^#[0-9]+ +DONE|SUMMARY|ERROR" build/fuzz.log || true
tail -n 3 build/fuzz.log

# Keep only what adds coverage, and only small inputs, so the corpus stays well under 1 MB.
mkdir -p corpus
./build/fuzz_launcher -merge=1 -max_len=4096 corpus "$work" 2>>build/fuzz.log >/dev/null
echo "corpus: $(ls corpus | wc -l) files, $(du -sk --apparent-size corpus | cut -f1) kB"
if [ "$status" -ne 0 ]; then
    echo "the fuzzer stopped with status $status: see fuzz/build/fuzz.log and fuzz/build/crash-*" >&2
fi
exit "$status"
