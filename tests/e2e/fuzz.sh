#!/bin/bash
# fuzz.sh: each libFuzzer target (tests/fuzz/, `make fuzz`) for a short time
# (FUZZ_SECONDS, default 5), so that CI keeps the targets building and
# catches what the seeds and a few seconds of mutation find. The long runs
# are `make fuzz FUZZ_SECONDS=N` by hand (README).
# Exit: 0; 1 if a target crashed or did not build; 77 without clang.
set -u
. "$(dirname "$0")/lib.sh"
secs=${FUZZ_SECONDS:-5}
if [ -n "${MC_SANITIZE:-}" ]; then
	echo "fuzz: skipped in a sanitizer build (the targets carry their own sanitizers)"
	exit 77
fi
command -v clang >/dev/null || { echo "fuzz: no clang (make deps installs it)"; exit 77; }

log=$(mktemp /tmp/mc-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
# -k: one crashing target must not hide the others.
make -s -k -j1 fuzz FUZZ_SECONDS="$secs" >"$log" 2>&1
rc=$?
# libFuzzer's final stats, one line per target, in the order they ran.
names=(parse snapshot path mntent)
i=0
while read -r runs; do
	echo "fuzz ${names[$i]}: $runs executions in $secs s"
	i=$((i + 1))
done < <(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log")
if [ $rc -ne 0 ] || [ $i -ne ${#names[@]} ]; then
	echo "fuzz: FAILED (make exit $rc, $i of ${#names[@]} targets finished)"
	grep -E -A30 'ERROR: (AddressSanitizer|libFuzzer)|runtime error:|deadly signal|error:' "$log" | head -60
	ls "$B/fuzz/artifacts" 2>/dev/null | sed 's/^/artifact: /'
	exit 1
fi
