#!/bin/bash
# bench/watchers.sh: what a host's mount watchers cost, with and without
# mountcache. W watcher processes of one kind re-read the whole table after
# every change, as systemd, udisks2, GLib's monitor, containerd and kubelet
# do, while the table churns like a container host's (bursts of mount
# operations with quiet between them). Counted: the CPU time of the
# watchers plus the daemon's, over the same window, per kind and mode.
#
#   bench/watchers.sh [--mounts N] [--watchers W] [--seconds S] [--rounds R]
#
# Defaults: 10,000 mounts, 8 watchers, 5 s windows, 2 rounds (modes
# alternated within each round). Kinds: `bench_watch read` (poll, then
# open + read to EOF + close), `bench_watch getmntent` (poll, then a
# setmntent/getmntent loop), and mixed: half of each, as on a host where
# systemd reads mountinfo and others getmntent /proc/self/mounts (the
# daemon then makes its mounts snapshots from its mountinfo captures). Modes: bare; preload (no daemon); daemon (mountcached as
# installed, full captures); incremental (mountcached --incremental, not
# the default: see README). Each window starts a fresh daemon, so its CPU
# is this window's alone. CPU comes from /proc/PID/task/*/schedstat (ns).
#
# Then, apart from churn: one `findmnt --poll` and changes far enough apart
# that each is seen alone (CHANGES, 6): findmnt's CPU per change and the
# daemon's, against one kernel read of the table. 8 findmnt watchers under
# the churn above keep both cores busy in every mode (libmount's parsing
# and diffing is ~1 s per change at 10,000 mounts), so their CPU says
# nothing: per change is what shows how much of it is reading.
#
# Prints a table of medians over the rounds; writes
# bench/results/watchers.tsv (one row per window) unless --no-save.
set -u
. "$(dirname "$0")/lib.sh"

MOUNTS=10000 WATCHERS=8 SECONDS_=5 ROUNDS=2 SAVE=1
# 5 cycles of mount + umount + two remounts: a burst of 20 operations,
# four bursts a second (a container start or stop every 250 ms). --net:
# each burst leaves the table changed (one mount more, then one less), as
# a start or a stop does: no watcher is served a table it already holds.
WATCH_CHURN=${BENCH_WATCH_CHURN:---burst 5 --pause-us 250000 --net}
KINDS=${BENCH_WATCH_KINDS:-read getmntent mixed}
CHANGES=${BENCH_WATCH_CHANGES:-6}

# CPU time in ns of the processes given, all their threads, so far.
cpu_ns() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
		awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# window KIND MODE ROUND: one measured window; prints a result row
#   kind mode round seconds watcher_ms daemon_ms passes churn_cycles
# (churn_cycles: over the churn's whole run, warm-up and stop included)
window() {
	local kind=$1 mode=$2 round=$3 envs=() pids=() dpid= i
	local knobs=(-u MOUNTCACHE_SERVE_FIRST -u MOUNTCACHE_DISABLE -u MOUNTCACHE_DEBUG
		     -u MOUNTCACHE_MAX_AGE_MS -u MOUNTCACHE_NO_DAEMON)
	case $mode in
	bare) envs=(-u LD_PRELOAD -u MOUNTCACHE_SOCKET) ;;
	preload) envs=("LD_PRELOAD=$PRELOAD" "MOUNTCACHE_SOCKET=/nonexistent/mc-watch.sock") ;;
	daemon|incremental)
		DAEMON_ARGS=$([ $mode = incremental ] && echo --incremental || echo --no-incremental)
		daemon_start || return 1
		dpid=$DAEMON_PID
		envs=("LD_PRELOAD=$PRELOAD" "MOUNTCACHE_SOCKET=$DAEMON_SOCK") ;;
	esac
	local tmp; tmp=$(mktemp -d)
	"$B/churn" --seconds 0 $WATCH_CHURN 2>"$tmp/churn" & local cpid=$!
	for i in $(seq "$WATCHERS"); do
		local wk=$kind
		[ "$kind" = mixed ] && { [ $((i % 2)) = 0 ] && wk=read || wk=getmntent; }
		case $wk in
		findmnt) env "${knobs[@]}" "${envs[@]}" findmnt --poll -o TARGET,ACTION >/dev/null 2>"$tmp/w$i" & ;;
		*) env "${knobs[@]}" "${envs[@]}" "$B/bench_watch" "$wk" >"$tmp/w$i" 2>&1 & ;;
		esac
		pids+=($!)
	done
	sleep 1                 # start-up and first reads are not the steady state
	local w0 d0=0 w1 d1=0
	w0=$(cpu_ns "${pids[@]}"); [ -n "$dpid" ] && d0=$(cpu_ns "$dpid")
	sleep "$SECONDS_"
	w1=$(cpu_ns "${pids[@]}"); [ -n "$dpid" ] && d1=$(cpu_ns "$dpid")
	kill -TERM "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	kill -TERM "$cpid"; wait "$cpid" 2>/dev/null
	[ -n "$dpid" ] && daemon_stop
	local passes=- cycles
	[ "$kind" != findmnt ] && passes=$(cat "$tmp"/w* | awk -F'[= ]' '/^passes=/ { s += $2 } END { print s + 0 }')
	cycles=$(awk '/cycles/ { print $2 }' "$tmp/churn")
	rm -rf "$tmp"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$mode" "$round" "$SECONDS_" \
		"$(( (w1 - w0) / 1000000 ))" "$(( (d1 - d0) / 1000000 ))" "$passes" "${cycles:--}"
}

# Medians over the rounds, per kind and mode; ratio = bare total / total.
report() {
	awk -F'\t' -v W="$WATCHERS" -v S="$SECONDS_" '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		k = $1 "\t" $2
		if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		if (!($1 in kseen)) { kseen[$1] = 1; korder[++nk] = $1 }
		wl[k] = wl[k] " " $5 / $4; dl[k] = dl[k] " " $6 / $4
		tl[k] = tl[k] " " ($5 + $6) / $4
		if ($7 != "-") pl[k] = pl[k] " " $7 / $4 / W
	}
	END {
		printf "  %-10s %-12s %12s %12s %12s %9s %14s\n", "watcher", "mode", "watchers", "daemon", "total", "vs bare", "passes/s each"
		printf "  %-10s %-12s %12s %12s %12s %9s %14s\n", "", "", "CPU ms/s", "CPU ms/s", "CPU ms/s", "", ""
		for (i = 1; i <= n; i++) {
			split(order[i], kk, "\t")
			t = median(tl[order[i]]); b = median(tl[kk[1] "\tbare"])
			ps = "-"
			if (order[i] in pl) ps = sprintf("%.1f", median(pl[order[i]]))
			printf "  %-10s %-12s %12.1f %12.1f %12.1f %8.2fx %14s\n", kk[1], kk[2],
				median(wl[order[i]]), median(dl[order[i]]), t, (t > 0 ? b / t : 0), ps
		}
	}'
}

# per_change MODE: one findmnt --poll, CHANGES isolated changes; prints
#   findmnt MODE findmnt_ms_per_change daemon_ms_per_change
per_change() {
	local mode=$1 envs=(-u LD_PRELOAD -u MOUNTCACHE_SOCKET) dpid= i
	# a change every 1.5 s at 10,000 mounts: findmnt is done with the last
	local gap; gap=$(awk -v n="$MOUNTS" 'BEGIN { g = n / 10000 * 1.5; printf "%.2f", g < 0.2 ? 0.2 : g }')
	if [ "$mode" != bare ]; then
		DAEMON_ARGS=$([ $mode = incremental ] && echo --incremental || echo --no-incremental)
		daemon_start || return 1
		dpid=$DAEMON_PID
		envs=("LD_PRELOAD=$PRELOAD" "MOUNTCACHE_SOCKET=$DAEMON_SOCK")
	fi
	env -u MOUNTCACHE_MAX_AGE_MS -u MOUNTCACHE_DEBUG "${envs[@]}" findmnt --poll -o TARGET,ACTION >/dev/null 2>&1 &
	local f=$!
	sleep "$gap"
	local w0 d0=0 w1 d1=0
	w0=$(cpu_ns $f); [ -n "$dpid" ] && d0=$(cpu_ns "$dpid")
	for i in $(seq "$CHANGES"); do
		if [ $((i % 2)) = 1 ]; then mount -t tmpfs watch "$MC_FIXTURE_LATE"; else umount "$MC_FIXTURE_LATE"; fi
		sleep "$gap"
	done
	mountpoint -q "$MC_FIXTURE_LATE" && umount "$MC_FIXTURE_LATE"
	w1=$(cpu_ns $f); [ -n "$dpid" ] && d1=$(cpu_ns "$dpid")
	kill -TERM $f; wait $f 2>/dev/null
	[ -n "$dpid" ] && daemon_stop
	awk -v m="$mode" -v w=$((w1 - w0)) -v d=$((d1 - d0)) -v n="$CHANGES" \
		'BEGIN { printf "findmnt\t%s\t%.1f\t%.1f\n", m, w / 1e6 / n, d / 1e6 / n }'
}

if [ "${1:-}" = --inside ]; then
	shift
	MOUNTS=$1 WATCHERS=$2 SECONDS_=$3 ROUNDS=$4 OUTF=$5
	trap 'churn_stop; daemon_stop' EXIT
	modes="bare preload"
	[ -x "$B/mountcached" ] && [ -z "${BENCH_NO_DAEMON:-}" ] && modes="$modes daemon incremental"
	for kind in $KINDS; do
		for round in $(seq "$ROUNDS"); do
			for mode in $modes; do
				window "$kind" "$mode" "$round" >>"$OUTF"
			done
		done
	done
	if command -v findmnt >/dev/null && [ "$CHANGES" -gt 0 ]; then
		for mode in $modes; do
			[ $mode = preload ] && continue
			per_change $mode >>"$OUTF.pc"
		done
		"$B/bench_read" raw --iters 5 --warmup 1 |
			awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^median_us=/) { split($i, a, "="); printf "kernel\tread\t%.1f\t0\n", a[2] / 1000 } }' >>"$OUTF.pc"
	fi
	exit 0
fi

while [ $# -gt 0 ]; do
	case $1 in
	--mounts) MOUNTS=$2; shift ;;
	--watchers) WATCHERS=$2; shift ;;
	--seconds) SECONDS_=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--no-save) SAVE= ;;
	*) echo "usage: bench/watchers.sh [--mounts N] [--watchers W] [--seconds S] [--rounds R] [--no-save]" >&2; exit 2 ;;
	esac
	shift
done

if [ -z "${MC_BENCH_BIN:-}" ]; then
	bench_need || exit 1
	trap bench_unfreeze EXIT
fi
rows=$(mktemp)
echo "watchers: $WATCHERS per kind at $MOUNTS mounts, ${SECONDS_} s windows x $ROUNDS rounds, churn: $WATCH_CHURN; one system call $(syscall_cost) us"
"$B/mkmounts" -q -n "$MOUNTS" -- bash "$0" --inside "$MOUNTS" "$WATCHERS" "$SECONDS_" "$ROUNDS" "$rows" || { rm -f "$rows"; exit 1; }
report <"$rows"
if [ -s "$rows.pc" ]; then
	echo "  findmnt --poll, one watcher, $CHANGES changes each seen alone (CPU ms per change):"
	awk -F'\t' '$1 == "kernel" { k = $3; next }
		{ m[++n] = $2; f[n] = $3; d[n] = $4 }
		END {
			for (i = 1; i <= n; i++)
				printf "    %-12s findmnt %8.1f   daemon %6.1f\n", m[i], f[i], d[i]
			if (k != "" && f[1] > 0)
				printf "    one kernel read of the table: %.1f ms, %.1f%% of what findmnt spends per change (bare)\n", k, 100 * k / f[1]
		}' "$rows.pc"
fi
if [ -n "$SAVE" ]; then
	mkdir -p "$ROOT/bench/results"
	{ printf 'kind\tmode\tround\tseconds\twatcher_cpu_ms\tdaemon_cpu_ms\tpasses\tchurn_cycles\n'; cat "$rows"; } >"$ROOT/bench/results/watchers.tsv"
fi
rm -f "$rows" "$rows.pc"
