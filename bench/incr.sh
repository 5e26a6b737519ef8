#!/bin/bash
# bench/incr.sh: the daemon's CPU per mount change, text capture against
# incremental refresh, side by side in one run:
#   bench/incr.sh [MOUNTS...]         (default 10000; needs root, unshare)
# In a private namespace of MOUNTS mounts (build/mkmounts), for each mode a
# mountcached serves one preloaded reader of mountinfo and mounts (so both
# views are watched, mounts with its getmntent image), then
# CHANGES mount/umount changes are made, each alone: 4 kernel reads' time
# apart, so that every change costs its own refresh and none is torn. The
# daemon's CPU (schedstat of all its threads) is divided by the
# number of changes and printed beside one kernel read of the table (an
# in-process read, bench_read raw: no process start-up in it), and beside
# what the daemon spends in the same time with no change (its re-reads
# while a client is active, see the maximum age).
set -u
cd "$(dirname "$0")/.."
B=${MC_BUILD:-$PWD/build}
CHANGES=${CHANGES:-30}
# CPU time of every thread of process $1, in ns (schedstat: exact, where
# utime+stime come in 10 ms ticks).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
if [ "${1:-}" = --inside ]; then
	read_us=$("$B/bench_read" raw --iters 5 --warmup 1 | sed -n 's/.*median_us=\([0-9.]*\).*/\1/p')
	read_us=${read_us%.*}
	# two views, one read each on the text path
	gap=$(awk -v r="${read_us:-10000}" 'BEGIN { printf "%.3f", (4 * r + 2000) / 1e6 }')
	for mode in --no-incremental --incremental; do
		sock=$(mktemp -u /tmp/mc-bench.XXXXXX.sock)
		"$B/mountcached" --socket "$sock" $mode 2>/dev/null & d=$!
		for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.02; done
		touch_views() {          # a request: the views stay in use (10 s)
			MOUNTCACHE_SOCKET=$sock MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD=$B/libmountcache-preload.so \
				cat /proc/self/mountinfo /proc/self/mounts >/dev/null
		}
		touch_views; sleep 0.5; touch_views
		# 4 s with no change first: what the daemon spends anyway while
		# a client is active (the re-read at 3/4 of the maximum age; for
		# --incremental, its check against the kernel), scaled below to
		# the time one change is given.
		q0=$(cpu_ns $d); sleep 4; q1=$(cpu_ns $d)
		touch_views
		c0=$(cpu_ns $d)
		for i in $(seq "$CHANGES"); do
			[ $((i % 10)) = 0 ] && touch_views
			mount -t tmpfs bench "$MC_FIXTURE_LATE"; sleep "$gap"
			umount "$MC_FIXTURE_LATE"; sleep "$gap"
		done
		c1=$(cpu_ns $d)
		per=$(( (c1 - c0) / 1000 / (2 * CHANGES) ))
		quiet=$(awk -v q=$((q1 - q0)) -v g="$gap" 'BEGIN { printf "%.0f", q / 1000 / 4 * g }')
		net=$(( per > quiet ? per - quiet : 0 ))
		printf '%-17s daemon CPU %6d us per change, %5.1f%% of one kernel read; %6d us of it spent as well with no change (%d changes); %6d us, %5.1f%%, beyond that\n' \
			"${mode#--}:" "$per" "$(awk -v p="$per" -v r="$read_us" 'BEGIN { print r ? 100 * p / r : 0 }')" \
			"$quiet" $((2 * CHANGES)) "$net" "$(awk -v p="$net" -v r="$read_us" 'BEGIN { print r ? 100 * p / r : 0 }')"
		MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null |
			grep -E "^(captures|derived|unvalidated|incr_refreshes|incr_rebuilds|incr_in_place|incr_by_text|incr_statmounts|incr_avg_us)" | tr '\n' ' ' |
			sed 's/^/                  /'; echo
		kill $d; wait $d 2>/dev/null
	done
	echo "one kernel read of the table (in-process, median of 5): $read_us us"
	exit 0
fi
for n in ${@:-10000}; do
	echo "== $n mounts"
	"$B/mkmounts" -q -n "$n" -- bash "$0" --inside
done
