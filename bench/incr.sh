#!/bin/bash
# bench/incr.sh: the daemon's CPU per mount change, text capture against
# incremental refresh, side by side in one run:
#   bench/incr.sh [MOUNTS...]         (default 10000; needs root, unshare)
# In a private namespace of MOUNTS mounts (build/mkmounts), for each mode a
# mountcached serves one preloaded reader (so the view is watched), then
# CHANGES (200) mount/umount changes are made 5 ms apart; the daemon's CPU
# (utime+stime from /proc/<pid>/stat) is divided by the number of changes.
# The cost of one kernel read of the table is printed beside it.
set -u
cd "$(dirname "$0")/.."
B=${MC_BUILD:-$PWD/build}
CHANGES=${CHANGES:-200}
if [ "${1:-}" = --inside ]; then
	tck=$(getconf CLK_TCK)
	for mode in --no-incremental --incremental; do
		sock=$(mktemp -u /tmp/mc-bench.XXXXXX.sock)
		"$B/mountcached" --socket "$sock" $mode 2>/dev/null & d=$!
		for _ in $(seq 500); do [ -S "$sock" ] && break; sleep 0.02; done
		MOUNTCACHE_SOCKET=$sock MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD=$B/libmountcache-preload.so \
			cat /proc/self/mountinfo >/dev/null
		read -r -a s0 < /proc/$d/stat
		for _ in $(seq "$CHANGES"); do
			mount -t tmpfs bench "$MC_FIXTURE_LATE"; sleep 0.005
			umount "$MC_FIXTURE_LATE"; sleep 0.005
		done
		sleep 0.2
		read -r -a s1 < /proc/$d/stat
		ticks=$(( s1[13] + s1[14] - s0[13] - s0[14] ))
		echo "$mode: daemon CPU $(( ticks * 1000000 / tck / (2 * CHANGES) )) us per change" \
		     "($((2 * CHANGES)) changes, $ticks ticks)"
		MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null | grep -E '^(captures|incr_refreshes|incr_rebuilds|incr_avg_us)' | tr '\n' ' '; echo
		kill $d; wait $d 2>/dev/null
	done
	t0=$(date +%s%N); for _ in $(seq 20); do cat /proc/self/mountinfo >/dev/null; done; t1=$(date +%s%N)
	echo "one kernel read (cat, wall): $(( (t1 - t0) / 20000 )) us"
	exit 0
fi
for n in ${@:-10000}; do
	echo "== $n mounts"
	"$B/mkmounts" -q -n "$n" -- bash "$0" --inside
done
