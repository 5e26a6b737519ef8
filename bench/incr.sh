#!/bin/bash
# bench/incr.sh: the daemon's CPU per mount change, text capture against
# incremental refresh, side by side in one run:
#   bench/incr.sh [MOUNTS...]         (default 10000; needs root, unshare)
# In a private namespace of MOUNTS mounts (build/mkmounts), for each mode a
# mountcached serves one preloaded reader of mountinfo and mounts (so both
# views are watched, mounts with its getmntent image; read again every 10
# changes, as a view is kept up to date only while in use), then
# CHANGES mount/umount changes are made, each alone: 4 kernel reads' time
# apart, so that every change costs its own refresh and none is torn. The
# daemon's CPU (schedstat of all its threads) is divided by the
# number of changes and printed beside one kernel read of the table (an
# in-process read, bench_read raw: no process start-up in it). The daemons
# run with --max-age-ms 60000: what a client's view costs with no change
# (a kernel read per 3/4 of the maximum age, 0.75 s by default, to bound
# what nobody announces) is not per change, and would be counted here by
# where it falls. For --incremental: its update alone (the table, per
# change) and the snapshots it made (a full copy of the text and its
# indexes each, made for the reads, not for every change).
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
		"$B/mountcached" --socket "$sock" $mode --max-age-ms 60000 2>/dev/null & d=$!
		for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.02; done
		touch_views() {          # a request: the views stay in use (10 s)
			MOUNTCACHE_SOCKET=$sock MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD=$B/libmountcache-preload.so \
				cat /proc/self/mountinfo /proc/self/mounts >/dev/null
		}
		touch_views; sleep 0.5
		st() { MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
		touch_views
		c0=$(cpu_ns $d) s0=$(st captures)
		for i in $(seq "$CHANGES"); do
			[ $((i % 10)) = 0 ] && touch_views
			mount -t tmpfs bench "$MC_FIXTURE_LATE"; sleep "$gap"
			umount "$MC_FIXTURE_LATE"; sleep "$gap"
		done
		c1=$(cpu_ns $d) s1=$(st captures)
		per=$(( (c1 - c0) / 1000 / (2 * CHANGES) ))
		pct() { awk -v p="$1" -v r="$read_us" 'BEGIN { printf "%.1f", r ? 100 * p / r : 0 }'; }
		printf '%-17s daemon CPU %6d us per change, %5.1f%% of one kernel read (%d changes, %d snapshots made)\n' \
			"${mode#--}:" "$per" "$(pct "$per")" $((2 * CHANGES)) $((s1 - s0))
		upd=$(st incr_avg_us)
		[ -n "$upd" ] && printf '%-17s its update alone %6.0f us, %5.1f%% of one kernel read\n' "" "$upd" "$(pct "$upd")"
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
