#!/bin/bash
# bench/incr.sh: the daemon's CPU per mount change, text capture against
# incremental refresh, side by side in one run:
#   bench/incr.sh [MOUNTS...]         (default 10000; needs root, unshare)
# In a private namespace of MOUNTS mounts (build/mkmounts), for each mode a
# mountcached serves one preloaded reader (so the view is watched), then
# CHANGES mount/umount changes are made, each alone: 2 kernel reads' time
# apart, so that every change costs its own refresh and none is torn. The
# daemon's CPU (utime+stime from /proc/<pid>/stat) is divided by the
# number of changes and printed beside one kernel read of the table (an
# in-process read, bench_read raw: no process start-up in it).
set -u
cd "$(dirname "$0")/.."
B=${MC_BUILD:-$PWD/build}
CHANGES=${CHANGES:-40}
if [ "${1:-}" = --inside ]; then
	tck=$(getconf CLK_TCK)
	read_us=$("$B/bench_read" raw --iters 5 --warmup 1 | sed -n 's/.*median_us=\([0-9.]*\).*/\1/p')
	read_us=${read_us%.*}
	gap=$(awk -v r="${read_us:-10000}" 'BEGIN { printf "%.3f", (2 * r + 2000) / 1e6 }')
	for mode in --no-incremental --incremental; do
		sock=$(mktemp -u /tmp/mc-bench.XXXXXX.sock)
		"$B/mountcached" --socket "$sock" $mode 2>/dev/null & d=$!
		for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.02; done
		MOUNTCACHE_SOCKET=$sock MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD=$B/libmountcache-preload.so \
			cat /proc/self/mountinfo >/dev/null
		sleep 0.5
		read -r -a s0 < /proc/$d/stat
		for _ in $(seq "$CHANGES"); do
			mount -t tmpfs bench "$MC_FIXTURE_LATE"; sleep "$gap"
			umount "$MC_FIXTURE_LATE"; sleep "$gap"
		done
		read -r -a s1 < /proc/$d/stat
		ticks=$(( s1[13] + s1[14] - s0[13] - s0[14] ))
		per=$(( ticks * 1000000 / tck / (2 * CHANGES) ))
		printf '%-17s daemon CPU %6d us per change, %5.1f%% of one kernel read (%d changes, %d ticks)\n' \
			"${mode#--}:" "$per" "$(awk -v p="$per" -v r="$read_us" 'BEGIN { print r ? 100 * p / r : 0 }')" \
			$((2 * CHANGES)) "$ticks"
		MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null |
			grep -E '^(captures|unvalidated|incr_refreshes|incr_rebuilds|incr_by_text|incr_avg_us)' | tr '\n' ' ' |
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
