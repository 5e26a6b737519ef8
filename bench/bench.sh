#!/bin/bash
# bench/bench.sh (make bench): the full matrix. For each table size, in a
# private mount namespace built by mkmounts: every consumer bare / preload /
# preload+daemon (the last only where build/mountcached exists), alternated,
# quiet and under bursty churn; the peers (glibc getmntent, libmount,
# listmount+statmount) and the engine's own costs beside the kernel read;
# memory; then callgrind instruction counts for the hit path at 1k mounts.
# Writes bench/results/{bench.csv,memory.csv,callgrind.csv,bench.txt,*.png}.
#
#   bench/bench.sh [--sizes "20 1000 10000 50000"] [--no-callgrind]
#
# About 10-15 minutes on 2 cores (more on a busy machine). See bench/README.md for how to read it.
set -u
. "$(dirname "$0")/lib.sh"
RESULTS=$ROOT/bench/results

# ---- what to run at each size --------------------------------------------
# Runs per mode, alternated. In-process loops run for at least LOOP_MS
# (100 ms quiet; 200 ms under churn, i.e. four burst periods).
runs_for() {
	case $1 in
	20) echo 11 ;; 1000) echo 9 ;; 10000) echo 7 ;;
	*) echo 5 ;;
	esac
}

# consumer_runs SIZE LOAD NAME: runs for one consumer ("0": skip it).
consumer_runs() {
	local size=$1 load=$2 name=$3 runs
	runs=$(runs_for "$size")
	case $name in
	"findmnt (tree)")
		# libmount's tree building is quadratic: 1.5 s at 10k, ~40 s at
		# 50k on an idle machine (110 s under load), whatever the preload
		# does: one run per mode at 50k, quiet only (BENCH_FINDMNT_50K=0
		# leaves it out).
		if [ "$size" -ge 50000 ]; then
			[ "$load" = quiet ] && [ "${BENCH_FINDMNT_50K:-1}" != 0 ] && echo 1 || echo 0
			return
		fi
		if [ "$size" -ge 10000 ]; then
			[ "$load" = quiet ] && runs=2 || runs=1
		fi ;;
	"first read (fresh process)"|"first 4 KiB (fresh process)")
		# One read each, cheap (at most a kernel read); under churn a
		# run lands in one of two kinds (the snapshot fresh: under a
		# millisecond; a capture under way: a wait, or the kernel), and
		# the median of 15 fell in either (19x, then 3.5x, at 10,000
		# mounts in two runs of one day): 31 runs under churn.
		runs=$((runs * 2 + 1)); [ $runs -gt 21 ] && runs=21
		[ "$load" = churn ] && runs=31 ;;
	esac
	echo "$runs"
}

# Rows get SIZE MOUNTS LOAD GROUP in front.
emit() {
	local group=$1
	awk -v pre="$SIZE	$MC_FIXTURE_MOUNTS	$LOAD	$group" '{ print pre "\t" $0 }' >>"$OUT/rows.tsv"
}

# Arguments of bench_read for an in-process loop: a warm-up that makes the
# preload's next read a hit (the first open goes to the kernel, the second
# captures), then at least LOOP_MS of reads. At 50k under churn a read can
# take seconds (see README): one warm-up read, then the window.
loop_args() {
	if [ "$SIZE" -ge 50000 ] && [ "$LOAD" = churn ]; then
		echo "--warmup 1 --iters 1 --min-ms $LOOP_MS"
	else
		echo "--warmup 2 --iters 3 --min-ms $LOOP_MS"
	fi
}

# one NAME KIND CMD...: KIND loop (in-process, amortised mean over LOOP_MS),
# once (in-process, a single read) or proc (whole process, wall time).
one() {
	local name=$1 kind=$2; shift 2
	local runs warmup=1 opts=()
	runs=$(consumer_runs "$SIZE" "$LOAD" "$name")
	if [ "$runs" = 0 ]; then
		printf '    %-30s skipped at this size under %s (see README)\n' "$name" "$LOAD"
		return
	fi
	# A warm-up round warms page cache, dentries and the daemon's view;
	# in-process loops warm up inside, and long runs need none.
	[ "$runs" -le 3 ] && warmup=0
	case $kind in
	# shellcheck disable=SC2046  # loop_args: several words on purpose
	loop) opts=(--metric mean_us); warmup=0; set -- "$@" $(loop_args) ;;
	once) opts=(--from-output); warmup=1 ;;
	esac
	# Fresh processes under churn start at a random moment of the burst
	# period, as a host's do: back to back they kept one phase of it
	# (bench_run.c, --jitter-ms). Loops span several periods.
	[ "$LOAD" = churn ] && [ "$kind" != loop ] && opts+=(--jitter-ms "$CHURN_JITTER_MS")
	local t=$SECONDS
	measure "$name" "$runs" "$warmup" "${opts[@]}" -- "$@" | emit consumer
	printf '    %-30s %3d runs x %d modes  %3d s\n' "$name" "$runs" "$NMODES" $((SECONDS - t))
}

consumers() {
	one "raw read loop (warm)" loop "$B/bench_read" raw
	one "first read (fresh process)" once "$B/bench_read" first
	one "first 4 KiB (fresh process)" once "$B/bench_read" first4k
	# Not a mount table: what the hooks cost every other file a program
	# opens, reads and closes (they see all of them); 100 per sample.
	one "/etc/hostname (100 reads)" loop "$B/bench_read" other
	one "fopen+getline" loop "$B/bench_read" getline
	one "getmntent" loop "$B/bench_read" getmntent
	one "cat" proc cat /proc/self/mountinfo
	one "findmnt -l" proc findmnt -l
	one "findmnt (tree)" proc findmnt
	one "df -a" proc df -a
	one "mount" proc mount
	one "mountpoint" proc mountpoint "$MC_FIXTURE_EARLY"
	one "psutil" proc "$PY" -c 'import psutil; psutil.disk_partitions(all=True)'
}

# The floor under whole commands: LD_PRELOAD of a library that does nothing
# (build/empty-preload.so) beside bare, the preload and the daemon, on
# /bin/true (start-up alone) and cat, alternated: what any preload costs a
# process before a hook runs. At the smallest table only, quiet.
floor() {
	local empty=$B/empty-preload.so
	[ -f "$empty" ] || { echo "    floor: $empty missing, left out"; return; }
	MODES_OVERRIDE=("${MODE_BARE[@]}"
			--mode empty-preload --env "LD_PRELOAD=$empty" --unset MOUNTCACHE_SOCKET "${KNOBS[@]}"
			"${MODES[@]:${#MODE_BARE[@]}}")
	local t=$SECONDS runs=31
	measure "/bin/true" "$runs" 1 -- /bin/true | emit floor
	measure "cat" "$runs" 1 -- cat /proc/self/mountinfo | emit floor
	MODES_OVERRIDE=()
	printf '    %-30s %3d runs x %d modes  %3d s\n' "floor: an empty preload" "$runs" $((NMODES + 1)) $((SECONDS - t))
}

# Peers and the engine, bare, in one alternated set: the kernel read first
# (the baseline of the ratios). Under churn only what churn changes: the
# kernel read, the capture (retries) and the engine's hit path.
peers() {
	local what=(raw capture parse view getmntent libmount)
	[ "$LOAD" = churn ] && what=(raw capture view)
	if [ "$LOAD" = quiet ]; then
		"$B/bench_read" listmount --iters 1 >/dev/null 2>&1
		if [ $? = 77 ]; then
			echo "    listmount/statmount: ENOSYS on this kernel, left out"
		else
			what+=(listmount)
		fi
	fi
	local m label
	MODES_OVERRIDE=()
	for m in "${what[@]}"; do
		case $m in
		raw) label=kernel-read ;; getmntent) label=glibc-getmntent ;;
		libmount) label=libmount-parse-mtab ;; listmount) label=listmount+statmount ;;
		view) label=engine-hit ;; *) label=engine-$m ;;
		esac
		MODES_OVERRIDE+=(--mode "$label" --unset LD_PRELOAD --env "BENCH_READ_MODE=$m")
	done
	local t=$SECONDS runs
	runs=$(runs_for "$SIZE")
	[ "$runs" -gt 5 ] && runs=5
	# shellcheck disable=SC2016,SC2046
	measure "peers and engine" "$runs" 0 --metric mean_us -- \
		sh -c 'exec "$0" "$BENCH_READ_MODE" "$@"' "$B/bench_read" $(loop_args) |
		emit peer
	MODES_OVERRIDE=()
	printf '    %-30s %3d runs x %d ways   %3d s\n' "peers and engine (bare)" "$runs" ${#what[@]} $((SECONDS - t))
}

memory() {
	"$B/bench_read" snapsize | awk -v pre="$SIZE	$MC_FIXTURE_MOUNTS" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		  print pre "\t" v["file"] "\t" v["entries"] "\t" v["text_bytes"] "\t" \
			v["table_bytes"] "\t" v["index_bytes"] }' >>"$OUT/snapsize.tsv"
	# VmRSS at exit of a process that read the table 8 times (MB in the
	# "median" column): bare vs preload (vs daemon client).
	local c
	for c in raw getmntent; do
		measure "RSS after $c reads (MB)" 3 0 --metric rss_kb -- \
			"$B/bench_read" "$c" --iters 5 | emit rss
	done
	echo "    memory: snapshot sizes, RSS of bare and preloaded readers"
}

inside() {
	OUT=$1 SIZE=$2
	cleanup() { churn_stop; daemon_stop; }
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	daemon_start
	modes_init
	NMODES=$(wc -w <<<"$MODE_NAMES")
	echo "== $SIZE mounts (table: $MC_FIXTURE_MOUNTS lines); modes: $MODE_NAMES"
	for LOAD in quiet churn; do
		if [ $LOAD = churn ]; then
			LOOP_MS=200
			churn_start
			echo "  -- under bursty churn ($CHURN_ARGS)"
		else
			LOOP_MS=100
			echo "  -- quiet"
		fi
		consumers
		peers
		[ $LOAD = quiet ] && memory
		[ $LOAD = quiet ] && [ "$SIZE" = "$FLOOR_SIZE" ] && floor
		churn_stop
		[ -n "$DAEMON_PID" ] &&
			echo "$SIZE	$MC_FIXTURE_MOUNTS	$LOAD	$(daemon_rss | tr ' ' '\t')" >>"$OUT/daemon.tsv"
		# How the daemon answered, counted since it started (the quiet
		# runs come first): requests, how many were "churning", waited,
		# and how many brief ones (a fresh process's second read) were
		# declined.
		[ -n "$DAEMON_SOCK" ] && MOUNTCACHE_SOCKET=$DAEMON_SOCK "$B/mountcache" stats 2>/dev/null |
			awk -v s="$SIZE" -v l=$LOAD '$1 == "requests" { q = $2 } $1 == "churning" { c = $2 }
				$1 == "waited" { w = $2 } $1 == "declined" { d = $2 }
				END { if (q != "") print s "\t" l "\t" q "\t" c "\t" w "\t" d + 0 }' \
			>>"$OUT/answers.tsv"
	done
}

# ---- callgrind: instructions per warm read at 1k mounts -------------------
# Two runs, K1 and K2 timed iterations after the same warm-up; the
# difference divided by K2-K1 is the cost of one more read, start-up and the
# first (kernel) read cancelling out. Only user space is counted: the
# kernel's work for a bare read is invisible to callgrind (see README).
# Valgrind runs the program ~50x slower, which would age the snapshot past
# the preload's default 1 s limit in the middle of the loop: the runs here
# raise it, so that every timed read is a hit.
CG_K1=5 CG_K2=25

cg_run() {   # FILE ENV... -- ARGS: run bench_read under callgrind
	local file=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file="$file" \
		"$B/bench_read" "$@" >/dev/null 2>&1
}

# Per-function self cost, "Ir function" lines, one per function name.
cg_functions() {
	callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" 2>/dev/null |
	awk '/^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ {
		ir = $1; gsub(",", "", ir); fn = $0
		sub(/^ *[0-9,]+ *(\([^)]*\))? */, "", fn); sub(/ \[.*$/, "", fn); sub(/^.*:/, "", fn)
		sum[fn] += ir }
	END { for (fn in sum) print sum[fn], fn }'
}

# Total Ir of a callgrind file.
cg_total() {
	awk '/^totals:/ { print $2; exit }' "$1"
}

callgrind_inside() {
	local out=$1 c m f1 f2
	local tmp; tmp=$(mktemp -d)
	daemon_start
	local modes="bare preload"
	[ -n "$DAEMON_SOCK" ] && modes="$modes daemon"
	for c in raw getline getmntent view; do
		for m in $modes; do
			[ $c = view ] && [ $m != bare ] && continue
			local envs=(-u LD_PRELOAD -u MOUNTCACHE_SERVE_FIRST MOUNTCACHE_MAX_AGE_MS=600000)
			case $m in
			preload) envs+=("LD_PRELOAD=$PRELOAD" MOUNTCACHE_SOCKET=/nonexistent/mountcache-bench.sock) ;;
			daemon) envs+=("LD_PRELOAD=$PRELOAD" "MOUNTCACHE_SOCKET=$DAEMON_SOCK") ;;
			esac
			f1=$tmp/$c.$m.1 f2=$tmp/$c.$m.2
			cg_run "$f1" "${envs[@]}" -- "$c" --iters $CG_K1 --warmup 2 &&
			cg_run "$f2" "${envs[@]}" -- "$c" --iters $CG_K2 --warmup 2 || {
				echo "    callgrind $c $m failed"; continue; }
			# total, memcpy, top functions (per read)
			join -j 2 -a 1 -a 2 -e 0 -o 0,1.1,2.1 \
				<(cg_functions "$f1" | sort -k2,2) <(cg_functions "$f2" | sort -k2,2) |
			awk -v c="$c" -v m="$m" -v n=$((CG_K2 - CG_K1)) -v mounts="$MC_FIXTURE_MOUNTS" '
				# the bench loop sorting its samples is not the reader
				$1 ~ /^(msort|cmp_double|qsort)/ { next }
				{ d = ($3 - $2) / n; tot += d; if ($1 ~ /^__mem(cpy|move)/) mc += d
				  if (d >= 1) { fn[++k] = $1; v[k] = d } }
				END {
					for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
						if (v[j] > v[i]) { t = v[i]; v[i] = v[j]; v[j] = t; t = fn[i]; fn[i] = fn[j]; fn[j] = t }
					top = ""
					for (i = 1; i <= k && i <= 6; i++) top = top sprintf("%s%s=%.0f", i > 1 ? " " : "", fn[i], v[i])
					printf "%s\t%s\t%s\t%.0f\t%.0f\t%s\n", mounts, c, m, tot, mc, top
				}' >>"$out"
			echo "    callgrind: $c $m"
		done
	done
	# What loading the preload costs a process that never reads the table.
	for m in $modes; do
		local envs=(-u LD_PRELOAD)
		case $m in
		preload) envs+=("LD_PRELOAD=$PRELOAD" MOUNTCACHE_SOCKET=/nonexistent/mountcache-bench.sock) ;;
		daemon) envs+=("LD_PRELOAD=$PRELOAD" "MOUNTCACHE_SOCKET=$DAEMON_SOCK") ;;
		esac
		env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/true.$m" \
			/bin/true >/dev/null 2>&1 || continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$MC_FIXTURE_MOUNTS" "start-up (/bin/true)" "$m" \
			"$(cg_total "$tmp/true.$m")" 0 "whole process" >>"$out"
	done
	echo "    callgrind: start-up"
	daemon_stop
	rm -rf "$tmp"
}

# ---- main -----------------------------------------------------------------
case ${1:-} in
--inside) inside "$2" "$3"; exit ;;
--callgrind-inside) callgrind_inside "$2"; exit ;;
esac

sizes="20 1000 10000 50000" do_cg=1
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=${2:?}; shift 2 ;;
	--no-callgrind) do_cg=0; shift ;;
	*) sed -n '10p' "$0" | sed 's/^# //' >&2; exit 2 ;;
	esac
done
bench_need || exit 1
mkdir -p "$RESULTS"
OUT=$(mktemp -d /tmp/mcbench-out.XXXXXX)
trap 'rm -rf "$OUT"; bench_unfreeze' EXIT
t0=$SECONDS
{
	rev=$(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo unknown)
	[ -n "$(git -C "$ROOT" status --porcelain -- cache preload 2>/dev/null)" ] &&
		rev="$rev + uncommitted changes in cache/ or preload/"
	echo "started $(date -u '+%F %T') UTC on $(uname -r), $(nproc) cores, build of $rev;" \
		"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "one system call (raw getppid) costs $(syscall_cost) us on this machine"
	echo "one page fault (first write to an anonymous page) costs $(fault_cost) us on this machine"
} >"$OUT/env.txt"
cat "$OUT/env.txt"
# floor(): at the smallest size only
FLOOR_SIZE=$(tr ' ' '\n' <<<"$sizes" | sort -n | head -1)
export FLOOR_SIZE
for n in $sizes; do
	"$B/mkmounts" -q -n "$n" -- "$0" --inside "$OUT" "$n" || echo "bench: size $n failed" >&2
done
if [ $do_cg = 1 ]; then
	if command -v valgrind >/dev/null; then
		echo "== callgrind, 1000 mounts"
		"$B/mkmounts" -q -n 1000 -- "$0" --callgrind-inside "$OUT/callgrind.tsv"
	else
		echo "bench: no valgrind: instruction counts left out"
	fi
fi
# Watchers under container-like churn, at 10,000 mounts (bench/watchers.sh,
# about 2 minutes; BENCH_WATCHERS=0 leaves them out).
if [[ " $sizes " == *" 10000 "* ]] && [ "${BENCH_WATCHERS:-1}" != 0 ]; then
	echo "== watchers, 10000 mounts"
	"$ROOT/bench/watchers.sh" --mounts 10000 >"$OUT/watchers.txt" 2>&1 || echo "bench: watchers failed" >&2
fi
# The daemon's CPU for one mount change, text and incremental, at 10,000
# and 50,000 mounts (bench/incr.sh, about a minute; BENCH_INCR=0 leaves it
# out).
if [ "${BENCH_INCR:-1}" != 0 ]; then
	for n in 10000 50000; do
		[[ " $sizes " == *" $n "* ]] || continue
		echo "== daemon CPU per change, $n mounts"
		MC_BUILD=$B CHANGES=$([ "$n" -ge 50000 ] && echo 20 || echo 40) "$ROOT/bench/incr.sh" "$n" \
			>>"$OUT/incr.txt" 2>&1 || echo "bench: incr failed" >&2
	done
fi
{
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); matrix took $((SECONDS - t0)) s"
	echo "one system call (raw getppid) costs $(syscall_cost) us on this machine (after the matrix)"
} >>"$OUT/env.txt"
"$PY" "$ROOT/bench/report.py" "$OUT" "$RESULTS" | tee "$RESULTS/bench.txt"
if [ -s "$OUT/incr.txt" ]; then
	{ echo; echo "== the daemon's CPU for one mount change, each change alone (bench/incr.sh)"; cat "$OUT/incr.txt"; } |
		tee -a "$RESULTS/bench.txt"
fi
if [ -s "$OUT/watchers.txt" ]; then
	{ echo; echo "== mount watchers (bench/watchers.sh; results/watchers.tsv)"; cat "$OUT/watchers.txt"; } |
		tee -a "$RESULTS/bench.txt"
fi
