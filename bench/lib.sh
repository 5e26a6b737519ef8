# bench/lib.sh: shared by bench/ab, bench/demo.sh and bench/bench.sh.
# Source it; it defines paths, the modes (bare, preload, preload+daemon),
# the daemon and churn helpers, and the result formatting.
#
# A result row (one consumer, one mode) is a tab-separated line:
#   consumer  mode  runs  median_ms  min_ms  max_ms  speedup  maxrss_kb  status
# speedup is the bare median divided by this mode's median (>1: faster).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The binaries: build/, or the frozen copy bench_freeze made for this run
# (the inner halves, re-run by mkmounts, inherit it through the environment).
B=${MC_BENCH_BIN:-$ROOT/build}
PY=/usr/bin/python3         # Debian's, with python3-psutil (not a pyenv shim)
PRELOAD=$B/libmountcache-preload.so
BENCH_BINS="mkmounts churn bench_run bench_read bench_watch libmountcache-preload.so empty-preload.so"

# Bursty churn: bursts of 10 cycles (mount + umount + two remounts, about
# 1 ms at 10k mounts) every 50 ms, i.e. ~20 bursts a second with quiet gaps.
CHURN_ARGS=${BENCH_CHURN_ARGS:---burst 10 --pause-us 50000}
# A fresh process's run under that churn starts after a random sleep of up
# to one burst period (bench_run --jitter-ms).
CHURN_JITTER_MS=${BENCH_CHURN_JITTER_MS:-50}

# Checks, then freezes the binaries: a copy in a temporary directory, so
# that a rebuild of build/ in the middle of a long run (a make in another
# shell) cannot mix two builds, or catch a half-written library.
bench_need() {
	local f
	for f in $BENCH_BINS; do
		if [ ! -e "$ROOT/build/$f" ]; then
			echo "bench: build/$f is missing: run 'make all' first" >&2
			return 1
		fi
	done
	if [ "$(id -u)" != 0 ]; then
		echo "bench: needs root (private mount namespaces)" >&2
		return 1
	fi
	bench_freeze
}

bench_freeze() {
	local try f
	MC_BENCH_BIN=$(mktemp -d /tmp/mcbench-bin.XXXXXX) || return 1
	for try in 1 2 3; do
		for f in $BENCH_BINS mountcached mountcache; do
			[ -e "$ROOT/build/$f" ] && cp -p "$ROOT/build/$f" "$MC_BENCH_BIN/$f"
		done
		# A library copied while the linker was writing it would not load.
		[ -z "$(LD_PRELOAD=$MC_BENCH_BIN/libmountcache-preload.so /bin/true 2>&1)" ] && break
		[ $try = 3 ] && { echo "bench: build/libmountcache-preload.so does not load" >&2; return 1; }
		sleep 2
	done
	export MC_BENCH_BIN
	B=$MC_BENCH_BIN PRELOAD=$MC_BENCH_BIN/libmountcache-preload.so
}

# The outer half removes the frozen copy at exit.
bench_unfreeze() {
	case ${MC_BENCH_BIN:-} in /tmp/mcbench-bin.*) rm -rf "$MC_BENCH_BIN" ;; esac
}

# ---- the daemon (mode C), only where build/mountcached exists ----------
DAEMON_PID= DAEMON_DIR= DAEMON_SOCK=

# Start mountcached on a temporary socket, in the current mount namespace
# (call it inside mkmounts). Returns 1, and leaves mode C out, if there is
# no daemon or it does not come up within 5 s.
daemon_start() {
	[ -x "$B/mountcached" ] || return 1
	[ -n "${BENCH_NO_DAEMON:-}" ] && return 1
	DAEMON_DIR=$(mktemp -d /tmp/mcbench.XXXXXX) || return 1
	DAEMON_SOCK=$DAEMON_DIR/mountcached.sock
	"$B/mountcached" --socket "$DAEMON_SOCK" ${DAEMON_ARGS:-} >"$DAEMON_DIR/log" 2>&1 &
	DAEMON_PID=$!
	local i
	for i in $(seq 100); do
		[ -S "$DAEMON_SOCK" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench: mountcached did not come up; leaving preload+daemon out:" >&2
	sed 's/^/  /' "$DAEMON_DIR/log" >&2
	daemon_stop
	return 1
}

daemon_stop() {
	if [ -n "$DAEMON_PID" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	[ -n "$DAEMON_DIR" ] && rm -rf "$DAEMON_DIR"
	DAEMON_PID= DAEMON_DIR= DAEMON_SOCK=
}

# "VmRSS RssShmem memfd-kB" of the daemon: its resident memory, and the
# size of the snapshot memfds it holds (shared with the clients that map
# them, counted in nobody's VmRSS until touched).
daemon_rss() {
	if [ -n "$DAEMON_PID" ] && [ -r "/proc/$DAEMON_PID/status" ]; then
		local memfd=0 f
		for f in /proc/"$DAEMON_PID"/fd/*; do
			case $(readlink "$f" 2>/dev/null) in
			/memfd:*) memfd=$((memfd + $(stat -L -c %s "$f" 2>/dev/null || echo 0))) ;;
			esac
		done
		awk -v m=$((memfd / 1024)) '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 }
			END { print r, s, m }' "/proc/$DAEMON_PID/status"
	else
		echo "- - -"
	fi
}

# ---- churn --------------------------------------------------------------
CHURN_PID=
churn_start() {
	# shellcheck disable=SC2086
	"$B/churn" --seconds 0 $CHURN_ARGS 2>/dev/null &
	CHURN_PID=$!
	sleep 0.2
}

churn_stop() {
	if [ -n "$CHURN_PID" ]; then
		kill -TERM "$CHURN_PID" 2>/dev/null
		wait "$CHURN_PID" 2>/dev/null
	fi
	CHURN_PID=
}

# ---- modes ---------------------------------------------------------------
# MODES: the bench_run arguments for A (bare), B (preload without a
# daemon: its socket names nothing, so a daemon running elsewhere on the
# machine cannot help it) and C (preload + daemon, if one is up).
# Every mode runs with the preload's defaults: the knobs are cleared.
modes_init() {
	KNOBS=(--unset MOUNTCACHE_SERVE_FIRST --unset MOUNTCACHE_DISABLE
	       --unset MOUNTCACHE_DEBUG --unset MOUNTCACHE_MAX_AGE_MS)
	[ -n "${BENCH_KEEP_KNOBS:-}" ] && KNOBS=()
	local knobs=("${KNOBS[@]}")
	MODE_BARE=(--mode bare --unset LD_PRELOAD --unset MOUNTCACHE_SOCKET "${knobs[@]}")
	MODES=("${MODE_BARE[@]}"
	       --mode preload --env "LD_PRELOAD=$PRELOAD"
	       --env "MOUNTCACHE_SOCKET=/nonexistent/mountcache-bench.sock" "${knobs[@]}")
	MODE_NAMES="bare preload"
	if [ -n "$DAEMON_SOCK" ]; then
		MODES+=(--mode daemon --env "LD_PRELOAD=$PRELOAD"
			--env "MOUNTCACHE_SOCKET=$DAEMON_SOCK" "${knobs[@]}")
		MODE_NAMES="$MODE_NAMES daemon"
	fi
}

# measure CONSUMER RUNS WARMUP [BENCH_RUN_OPTIONS...] -- CMD...
# Runs CMD in every mode, alternated, and prints one result row per mode.
# Extra modes (e.g. bare-only peers) through MODES_OVERRIDE=(...).
measure() {
	local consumer=$1 runs=$2 warmup=$3
	shift 3
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	local modes=("${MODES[@]}")
	[ ${#MODES_OVERRIDE[@]} -gt 0 ] && modes=("${MODES_OVERRIDE[@]}")
	"$B/bench_run" --runs "$runs" --warmup "$warmup" "${opts[@]}" "${modes[@]}" -- "$@" |
	awk -v c="$consumer" '
	{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n++; mode[n] = v["mode"]; runs[n] = v["runs"]; med[n] = v["median_ms"]
		lo[n] = v["min_ms"]; hi[n] = v["max_ms"]; rss[n] = v["maxrss_kb"]; st[n] = v["status"]
		if (v["mode"] == "bare") base = v["median_ms"]
	}
	END {
		for (i = 1; i <= n; i++) {
			sp = (base > 0 && med[i] > 0) ? sprintf("%.3f", base / med[i]) : "-"
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c, mode[i], runs[i], med[i], lo[i], hi[i], sp, rss[i], st[i]
		}
	}'
}
MODES_OVERRIDE=()

# ---- presentation -------------------------------------------------------
# syscall_cost: what one system call (a raw getppid) costs on this machine,
# in microseconds. Machines of one kind differ up to 4x in it, and the
# preload's cost is counted in system calls: every table of ratios is
# printed with it.
syscall_cost() {
	"$B/bench_read" syscall --warmup 20 --iters 200 --min-ms 50 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^median_us=/) { split($i, a, "="); printf "%.2f\n", a[2] / 1000 } }'
}

# fault_cost: what one page fault (first write to a fresh anonymous page)
# costs on this machine, in microseconds. A fresh process that reads once
# pays one per page the preload touches for the first time (stack, data,
# mappings): on this project's machine kind ~12 us, ten system calls.
fault_cost() {
	"$B/bench_read" pagefault --warmup 5 --iters 20 --min-ms 50 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^median_us=/) { split($i, a, "="); printf "%.2f\n", a[2] / 256 } }'
}

# print_table < rows: consumer, mode, median, min-max, speed-up.
print_table() {
	awk -F'\t' '
	function f(x) {
		if (x == "" || x == "-") return "-"
		if (x >= 100) return sprintf("%.0f", x); if (x >= 10) return sprintf("%.1f", x)
		if (x >= 1) return sprintf("%.2f", x); if (x >= 0.1) return sprintf("%.3f", x)
		return sprintf("%.4f", x)
	}
	function sp(x) {
		if (x == "-" || x == "") return "-"
		if (x >= 10) return sprintf("%.0fx", x); return sprintf("%.2fx", x)
	}
	BEGIN { printf "%-34s %-8s %11s  %-19s %9s\n", "consumer", "mode", "median ms", "min-max ms", "speed-up"
		printf "%-34s %-8s %11s  %-19s %9s\n", "--------", "----", "---------", "----------", "--------" }
	{
		name = ($1 == last) ? "" : $1; last = $1
		flag = ($9 != "0" && $9 != "") ? "  (exit " $9 ")" : ""
		printf "%-34s %-8s %11s  %-19s %9s%s\n", name, $2, f($4), f($5) "-" f($6), sp($7), flag
	}'
}

# ---- plots (gnuplot from Debian's gnuplot-nox) --------------------------
# pngcairo where this gnuplot has it (gnuplot-nox does), else libgd's png.
gp_term() {
	local size=$1
	if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
		echo "pngcairo size $size font 'sans,10'"
	else
		echo "png size $size"
	fi
}

# rows_by_consumer MODES < rows: one line per consumer,
#   "label" med min max (per mode in MODES, "?" where missing)
rows_by_consumer() {
	awk -F'\t' -v modes="$1" '
	BEGIN { nm = split(modes, m, " ") }
	{ if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
	  med[$1, $2] = $4; lo[$1, $2] = $5; hi[$1, $2] = $6 }
	END {
		for (i = 1; i <= n; i++) {
			c = order[i]; printf "\"%s\"", c
			for (k = 1; k <= nm; k++) {
				if ((c, m[k]) in med) printf " %s %s %s", med[c, m[k]], lo[c, m[k]], hi[c, m[k]]
				else printf " ? ? ?"
			}
			printf "\n"
		}
	}'
}

# plot_bars TITLE PNG MODES < rows: median per consumer and mode, log scale,
# with min-max error bars.
plot_bars() {
	local title=$1 png=$2 modes=$3 data
	data=$(mktemp)
	rows_by_consumer "$modes" >"$data"
	local plots="" k=0 m color
	for m in $modes; do
		local c=$((2 + 3 * k))
		case $m in bare) color='#444444' ;; preload) color='#1f77b4' ;; *) color='#d62728' ;; esac
		[ -n "$plots" ] && plots="$plots, "
		if [ $k = 0 ]; then
			plots="$plots'$data' using $c:$((c + 1)):$((c + 2)):xtic(1) lc rgb '$color' title '$m'"
		else
			plots="$plots'' using $c:$((c + 1)):$((c + 2)) lc rgb '$color' title '$m'"
		fi
		k=$((k + 1))
	done
	gnuplot <<GP
set terminal $(gp_term 1200,650)
set termoption noenhanced
set output '$png'
set title '$title'
set datafile missing '?'
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.001:*]
set ylabel 'median time (ms, log scale; bars: min-max)'
set xtics rotate by -25 left
set grid ytics
set key top left
set bmargin 7
set rmargin 14
plot $plots
GP
	local rc=$?
	rm -f "$data"
	return $rc
}
