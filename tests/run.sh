#!/bin/bash
# Runs every test: the cmocka unit tests, the tests that need a real mount
# table (each inside its own private mount namespace built by
# build/mkmounts, never the host's), and the end-to-end scripts in tests/e2e.
# Exit code 77 from a test means "skipped" (e.g. no unshare here).
# Prints one closing line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
export MC_SRCDIR=$PWD MC_BUILD=$PWD/build
B=$PWD/build
pass=0 fail=0 skip=0 failed=()

run() {
	local name=$1; shift
	local t0=$SECONDS
	echo "=== $name"
	# No test may hang the suite: 10 minutes each at most.
	timeout -k 10 600 "$@"
	local rc=$?
	case $rc in
	0) pass=$((pass + 1)); echo "--- ok: $name ($((SECONDS - t0)) s)" ;;
	77) skip=$((skip + 1)); echo "--- skipped: $name" ;;
	124) fail=$((fail + 1)); failed+=("$name"); echo "--- FAILED (timed out): $name" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "--- FAILED ($rc): $name" ;;
	esac
}

# A table of N mounts (in total) in a private namespace, around a command.
table() { echo "$B/mkmounts" -q -n "$1" --; }

run test_parse "$B/test_parse"
run test_mntent "$B/test_mntent"
for n in 20 1000 10000; do
	run "test_libmount ($n mounts)" $(table "$n") "$B/test_libmount"
done
run "test_capture (5000 mounts, churn)" $(table 5000) "$B/test_capture"
run "freshness, kernel" $(table 1000) "$B/freshcheck" --rounds 100
run "freshness, preload" $(table 1000) env LD_PRELOAD="$B/libmountcache.so" \
	MOUNTCACHE_SERVE_FIRST=1 "$B/freshcheck" --rounds 400
# Many threads and forked children reading under churn (mtreader checks
# every read; the sanitizer builds run it without fork, see sanitize.sh).
run "threads and fork under churn, preload" $(table 1000) sh -c '
	"$0/churn" --seconds 20 --pause-us 3000 2>/dev/null & c=$!
	LD_PRELOAD="$0/libmountcache.so" MOUNTCACHE_SERVE_FIRST=1 "$0/mtreader" --threads 8 --seconds 6
	r=$?; kill $c; wait $c; exit $r' "$B"
for t in tests/e2e/*.sh; do
	run "e2e $(basename "$t" .sh)" bash "$t"
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
