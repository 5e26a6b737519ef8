#!/bin/bash
# Runs every test: the cmocka unit tests, the tests that need a real mount
# table (each inside its own private mount namespace built by
# build/mkmounts, never the host's), and the end-to-end scripts in tests/e2e.
# Exit code 77 from a test means "skipped" (e.g. no unshare here).
# Prints one closing line: "N passed, N failed, N skipped".
#
# MC_BUILD names the build under test (default build/); MC_SANITIZE the
# sanitizers it was built with (`make test SANITIZE=address,undefined` sets
# both). In a sanitizer build every process logs its reports under one
# directory, and any report fails the test that caused it, whatever that
# test's own verdict.
set -u
cd "$(dirname "$0")/.."
export MC_SRCDIR=$PWD MC_BUILD=${MC_BUILD:-$PWD/build} MC_SANITIZE=${MC_SANITIZE:-}
B=$MC_BUILD
. tests/e2e/lib.sh
pass=0 fail=0 skip=0 failed=()

sanlog=
if [ -n "$MC_SANITIZE" ]; then
	sanlog=$(mktemp -d /tmp/mc-sanlog.XXXXXX)
	chmod 1777 "$sanlog"    # the adversarial cases run processes as nobody
	# Uninstrumented consumers (cat, findmnt, python) run with the runtime
	# preloaded: their own leaks are not ours; ours are checked with leak
	# detection on in sanitize.sh.
	export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0:log_path=$sanlog/asan"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$sanlog/ubsan"
	trap 'rm -rf "$sanlog"' EXIT
fi

run() {
	local name=$1; shift
	local t0=$SECONDS
	echo "=== $name"
	# No test may hang the suite: 10 minutes each at most.
	timeout -k 10 600 "$@"
	local rc=$?
	if [ -n "$sanlog" ] && [ -n "$(ls -A "$sanlog")" ]; then
		echo "sanitizer reports:"; head -n 30 "$sanlog"/*; rm -f "$sanlog"/*
		case $rc in 0|77) rc=1 ;; esac
	fi
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
run test_seqfile "$B/test_seqfile"
run test_pagehash "$B/test_pagehash"
run test_refresher "$B/test_refresher"
for n in 20 1000 10000; do
	run "test_libmount ($n mounts)" $(table "$n") "$B/test_libmount"
done
run "test_capture (5000 mounts, churn)" $(table 5000) "$B/test_capture"
run "freshness, kernel" $(table 1000) "$B/freshcheck" --rounds 100
run "freshness, preload" $(table 1000) env LD_PRELOAD="$PRE" \
	MOUNTCACHE_SERVE_FIRST=1 "$B/freshcheck" --rounds 400
# Many threads and forked children reading under churn (mtreader checks
# every read; the sanitizer builds run it without fork, see sanitize.sh).
run "threads and fork under churn, preload" $(table 1000) sh -c '
	"$0/churn" --seconds 20 --pause-us 3000 2>/dev/null & c=$!
	LD_PRELOAD="$1" MOUNTCACHE_SERVE_FIRST=1 "$0/mtreader" --threads 8 --seconds 6 $2
	r=$?; kill $c; wait $c; exit $r' "$B" "$PRE" "${MC_SANITIZE:+--no-fork}"
for t in tests/e2e/*.sh; do
	[ "$t" = tests/e2e/lib.sh ] && continue   # sourced by the others
	run "e2e $(basename "$t" .sh)" bash "$t"
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
