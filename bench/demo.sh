#!/bin/bash
# bench/demo.sh (make demo): a 10,000-mount private namespace, a handful of
# real consumers run bare, with the preload, and with the preload + daemon
# (when build/mountcached exists), alternately; prints a table and writes
# bench/results/demo.png and demo.tsv. About a minute on 2 cores.
set -u
. "$(dirname "$0")/lib.sh"
RESULTS=$ROOT/bench/results
MOUNTS=${DEMO_MOUNTS:-10000}
RUNS=${DEMO_RUNS:-11}

if [ "${1:-}" != --inside ]; then
	bench_need || exit 1
	trap bench_unfreeze EXIT
	mkdir -p "$RESULTS"
	rows=$RESULTS/demo.tsv
	t0=$SECONDS
	echo "demo: building a private mount namespace with $MOUNTS mounts (the host's table is untouched)"
	"$B/mkmounts" -q -n "$MOUNTS" -- "$0" --inside "$rows" || exit 1
	echo
	print_table <"$rows"
	echo
	echo "speed-up = bare median / mode median; in-process rows time the read inside the"
	echo "process, the others the whole command (fork to exit)."
	echo "one system call (raw getppid) costs $(syscall_cost) us on this machine: the preload's"
	echo "cost is counted in system calls, so machines that differ in it differ in the ratios."
	modes=$(cut -f2 "$rows" | awk '!s[$0]++' | tr '\n' ' ')
	if plot_bars "mountcache demo: $(cat "$RESULTS/demo.mounts") mounts, $RUNS runs per mode" \
		"$RESULTS/demo.png" "$modes" <"$rows"; then
		echo "plot: bench/results/demo.png   rows: bench/results/demo.tsv   ($((SECONDS - t0)) s)"
	else
		echo "demo: gnuplot failed; rows are in bench/results/demo.tsv" >&2
	fi
	exit 0
fi

# ---- inside the namespace ----
out=$2
cleanup() { daemon_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM
daemon_start
modes_init
echo "$MC_FIXTURE_MOUNTS" >"$RESULTS/demo.mounts"
echo "demo: $MC_FIXTURE_MOUNTS mounts; modes: $MODE_NAMES; $RUNS runs each, alternating"
[ -z "$DAEMON_SOCK" ] && echo "demo: no build/mountcached yet: the preload+daemon mode is left out"
: >"$out"
run() {
	local name=$1; shift
	printf '  %-34s' "$name"
	local t=$SECONDS
	measure "$name" "$RUNS" 1 "$@" >>"$out" || echo "demo: $name failed" >&2
	echo " $((SECONDS - t)) s"
}
run "raw read loop (in-process, warm)" --metric mean_us -- \
	"$B/bench_read" raw --iters 5 --min-ms 150
run "first read (in-process, fresh)" --from-output -- "$B/bench_read" first
run "cat /proc/self/mountinfo" -- cat /proc/self/mountinfo
run "findmnt -l" -- findmnt -l
run "df -a --output=source,target" -- df -a --output=source,target
run "mount" -- mount
run "python3 read mountinfo" -- "$PY" -c 'open("/proc/self/mountinfo").read()'
run "psutil disk_partitions(all=True)" -- "$PY" -c \
	'import psutil; psutil.disk_partitions(all=True)'
