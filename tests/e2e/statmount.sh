#!/bin/bash
# The table rendered from listmount+statmount (cache/render.c, kept by
# cache/mtrack.c) is byte for byte the kernel's /proc/self/mountinfo and
# /proc/self/mounts (tests/tools/smdiff.c):
#   1. once, on a fixture of 1,000 mounts plus unusual filesystems and
#      options;
#   2. after every one of SMDIFF_OPS (5000) seeded random operations on 100
#      mounts, the incremental path and the full rebuild (--full);
#   3. on 2,000 mounts: SMDIFF_OPS operations in bursts of 10, and
#      SMDIFF_OPS_BIG (1000) single ones; the full rebuild for 200;
#   4. through mountcached (what its clients get), --incremental and
#      --no-incremental (the text capture, the default): SMDIFF_OPS_DAEMON (1000) single
#      operations on 100 mounts, and as many in bursts of 10 on 2,000;
#   5. at every comparison: each mounts line made from its mountinfo line
#      (parse.c, mc_mounts_from_mountinfo(), what the daemon serves when
#      it can) is the kernel's, or declined (superblock flags).
# (The issue asks for 5,000 operations per run everywhere; the single
# operations on 2,000 mounts and through the daemon are fewer to keep this
# near a minute and a half. Raise them with the variables.)
# Seeds: SMDIFF_SEED (default: the date's day number, printed; a failure
# prints its seed and operations). Skipped (77) without statmount or
# fanotify mount events (Linux < 6.15) or without a mount namespace.
set -u
. "$(dirname "$0")/lib.sh"
# The sanitizer pass runs the same cases with fewer operations (it looks
# for memory errors; the plain pass is the differential proof).
OPS=${SMDIFF_OPS:-5000}; [ -n "${MC_SANITIZE:-}" ] && OPS=${SMDIFF_OPS:-2000}
BIG=${SMDIFF_OPS_BIG:-1000}
DOPS=${SMDIFF_OPS_DAEMON:-1000}
SEED=${SMDIFF_SEED:-$(( $(date +%j | sed 's/^0*//') ))}
fails=0 skips=0

if [ "${1:-}" = --unusual ]; then
	# Inside mkmounts: filesystems and options the fixture lacks.
	d=$MC_FIXTURE_DIR/unusual
	mkdir -p "$d" && mount -t tmpfs -o size=4m un "$d" || exit 2
	mkdir -p "$d"/{proc,sys,mq,pts,cg,ov,ovl,ovu,ovw,ram,opts,rosync,lazy,nosym,robind,unb,"src dir"}
	touch "$d/file"
	mount -t proc -o hidepid=2 proc "$d/proc"
	mount -t sysfs sysfs "$d/sys"
	mount -t mqueue mqueue "$d/mq"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$d/pts"
	mount -t cgroup2 cgroup2 "$d/cg" 2>/dev/null
	mount -t overlay -o lowerdir="$d/ovl",upperdir="$d/ovu",workdir="$d/ovw" overlay "$d/ov"
	mount -t ramfs ramfs "$d/ram"
	mount -t tmpfs -o size=1m,mode=0711,uid=1,gid=2,nr_inodes=100 'my src\x' "$d/opts"
	mount -t tmpfs -o ro,sync,dirsync rosync "$d/rosync"
	mount -t tmpfs -o lazytime lazy "$d/lazy"
	mount -t tmpfs -o nosymfollow,noexec,nodev nosym "$d/nosym"
	mount --bind /etc/hostname "$d/file"
	mount --bind -o ro "$d/ram" "$d/robind"
	mount -t tmpfs unb "$d/unb" && mount --make-unbindable "$d/unb"
	mount -t tmpfs 'a b' "$d/src dir"
	made=$(grep -c " $d/" /proc/self/mountinfo)
	[ "$made" -ge 15 ] || { echo "only $made unusual mounts made"; exit 1; }
	exec "$B/smdiff"
fi
if [ "${1:-}" = --daemon ]; then
	# Inside mkmounts: mountcached (options in $2), then smdiff through it.
	opt=$2; shift 2
	sock=$(mktemp -u /tmp/mc-smdiff.XXXXXX.sock)
	"$B/mountcached" --socket "$sock" $opt 2>/dev/null & d=$!
	for _ in $(seq 250); do [ -S "$sock" ] && break; sleep 0.02; done
	"$B/smdiff" --daemon "$sock" "$@"; rc=$?
	MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null |
		grep -E "^(incr_(refreshes|rebuilds|fallbacks|avg_us)|captures|derived|derive_declined)" | tr '\n' ' '; echo
	kill $d; wait $d 2>/dev/null
	exit $rc
fi

if [ "${1:-}" = --proportion ]; then
	# Inside mkmounts: mountcached --incremental with both views in use
	# (no re-read ahead in this window: a maximum age of a minute), then
	# 20 mounts and their 20 umounts, each alone, read by nobody.
	sock=$(mktemp -u /tmp/mc-smdiff.XXXXXX.sock) tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$B/mountcached" --socket "$sock" --incremental --max-age-ms 60000 2>/dev/null & d=$!
	for _ in $(seq 250); do [ -S "$sock" ] && break; sleep 0.02; done
	st() { MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
	both() { MOUNTCACHE_SOCKET=$sock MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD=$PRE \
			 cat /proc/self/mountinfo /proc/self/mounts; }
	both >/dev/null; sleep 0.3
	p0=$(st incr_in_place) s0=$(st incr_statmounts) c0=$(st captures) r0=$(st incr_rebuilds) b0=$(st incr_by_text)
	for i in $(seq 20); do
		mount -t tmpfs prop "$MC_FIXTURE_LATE"; sleep 0.02
		umount "$MC_FIXTURE_LATE"; sleep 0.02
	done
	sleep 0.2
	p1=$(st incr_in_place) s1=$(st incr_statmounts) c1=$(st captures) r1=$(st incr_rebuilds) b1=$(st incr_by_text)
	n1=$(( $(st declined) + $(st churning) ))
	both >"$tmp/ours"; cat /proc/self/mountinfo /proc/self/mounts >"$tmp/kernel"
	c2=$(st captures) n2=$(( $(st declined) + $(st churning) ))
	kill $d; wait $d 2>/dev/null
	echo "incr: in place $((p1 - p0)), statmounts $((s1 - s0)), rebuilds $((r1 - r0)), text reads $((b1 - b0)), snapshots made: $((c1 - c0)) for the 40 changes, $((c2 - c1)) for the read after (declined or churning: $((n2 - n1)))"
	[ $((p1 - p0)) -ge 40 ] && [ $((s1 - s0)) -le 60 ] && [ $((r1 - r0)) -eq 0 ] && [ $((b1 - b0)) -eq 0 ] &&
		[ $((c1 - c0)) -eq 0 ] &&
		[ $((c2 - c1)) -ge 1 ] && [ $((n2 - n1)) -eq 0 ] && cmp -s "$tmp/ours" "$tmp/kernel"
	exit
fi

run() {   # run LABEL N ARGS...
	local label=$1 n=$2 t0=$SECONDS; shift 2
	"$B/mkmounts" -q -n "$n" -- "$@" >"$tmp/out" 2>&1
	local rc=$?
	case $rc in
	0) echo "ok: $label ($((SECONDS - t0)) s): $(grep -E '^(smdiff|incr)' "$tmp/out" | tr '\n' ' ')" ;;
	77) echo "skip: $label: $(tail -n 1 "$tmp/out")"; skips=$((skips + 1)) ;;
	*) echo "FAIL: $label (exit $rc)"; head -c 6000 "$tmp/out"; fails=$((fails + 1)) ;;
	esac
}

scratch statmount
echo "seed $SEED (SMDIFF_SEED), $OPS operations (SMDIFF_OPS)"
run "1,000 mounts and unusual ones, rendered once" 1000 bash "$0" --unusual
[ $skips -gt 0 ] && exit 77
run "100 mounts, $OPS operations, incremental" 100 "$B/smdiff" --ops "$OPS" --seed "$SEED"
# Remounts wake poll() with no fanotify event: the tracked table finds the
# changed lines with one text read (mtrack.c by_text()), not a statmount of
# every mount; the comparisons above include each of them.
bt=$(grep -o '[0-9]* by text' "$tmp/out" | cut -d' ' -f1)
if [ "${bt:-0}" -gt 0 ]; then
	echo "ok: wake-ups without an event settled by one text read: $bt"
elif ! grep -q '^smdiff' "$tmp/out"; then
	:       # the run itself failed or was skipped: said above
else
	echo "FAIL: no wake-up without an event was settled by a text read"; fails=$((fails + 1))
fi
# Most rounds are mounts that came or went, changed in place (mtrack.c
# round_fast()); moves and mounts attached with older ids take the
# general round: both must be among the comparisons above.
inplace() {     # $1: the case's name
	local n g
	n=$(grep -o '[0-9]* incremental ([0-9]* in place)' "$tmp/out" | head -1)
	g=$(echo "$n" | cut -d' ' -f1); n=$(echo "$n" | sed 's/.*(\([0-9]*\) in place)/\1/')
	if [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$g" -gt "$n" ]; then
		echo "ok: $1: $n of $g incremental rounds in place, the others general"
	elif grep -q '^smdiff' "$tmp/out"; then
		echo "FAIL: $1: in place ${n:-?} of ${g:-?} incremental rounds (both kinds expected)"
		fails=$((fails + 1))
	fi
}
inplace "100 mounts"
run "100 mounts, $OPS operations, full rebuilds" 100 "$B/smdiff" --ops "$OPS" --seed "$SEED" --full
run "100 mounts, $OPS operations in bursts of 10" 100 "$B/smdiff" --ops "$OPS" --seed "$((SEED + 1))" --burst 10
run "2,000 mounts, $OPS operations in bursts of 10" 2000 "$B/smdiff" --ops "$OPS" --seed "$SEED" --burst 10 --max 600
run "2,000 mounts, $BIG operations, incremental" 2000 "$B/smdiff" --ops "$BIG" --seed "$((SEED + 2))" --max 600
inplace "2,000 mounts"
# The refresh rounds take the id set from the events, made complete by a
# barrier (mtrack.c barrier()), not from a listmount() of the whole table:
# only the full rebuilds list every mount. One listmount a round crept
# back in would make listmounts exceed the rebuilds by ~900 here.
listings() {    # listings on|off: $lm and $full from the last run's line
	lm=$(grep -o "[0-9]* listmounts, barrier $1" "$tmp/out" | cut -d' ' -f1)
	full=$(grep -o '[0-9]* full' "$tmp/out" | cut -d' ' -f1)
}
listings on
if [ -n "$lm" ] && [ "$lm" -eq "${full:-x}" ]; then
	echo "ok: $lm listmount() calls for $full full rebuilds, none for the incremental rounds"
elif grep -q '^smdiff' "$tmp/out"; then
	echo "FAIL: listmount() calls beyond the full rebuilds: $(grep -o '[0-9]* listmounts, barrier o[nf]*' "$tmp/out") for ${full:-?} full"
	fails=$((fails + 1))
fi
# The same operations with the barrier off: each round checks the id set
# with one listmount() (kernels or policies where a detached tmpfs cannot
# be made). Both must agree with the kernel.
# (Not in the sanitizer pass, like the next case: differential proofs,
# no new code for it to watch; the suite's time is near its bound.)
if [ -z "${MC_SANITIZE:-}" ]; then
MOUNTCACHE_NO_BARRIER=1 run "2,000 mounts, $BIG operations, incremental, no barrier (listmount)" 2000 \
	"$B/smdiff" --ops "$BIG" --seed "$((SEED + 2))" --max 600
grep -q 'barrier off' "$tmp/out" || { echo "FAIL: MOUNTCACHE_NO_BARRIER=1 left the barrier on"; fails=$((fails + 1)); }
# A barrier refused at run time (the 5th call and every later one; the
# first is the check at open): the table goes on with a listmount() a
# round, not a rebuild a round, and every comparison stays equal.
FAULT_OBJECT=smdiff FAULT=mount_setattr:5+:EPERM LD_PRELOAD="$B/faultinj.so" \
	run "2,000 mounts, 300 operations, the barrier refused from the 5th call" 2000 \
	"$B/smdiff" --ops 300 --seed "$((SEED + 5))" --max 600
if grep -q '^smdiff' "$tmp/out"; then
	listings off
	if [ -n "$lm" ] && [ "$lm" -gt "$((${full:-0} + 100))" ]; then
		echo "ok: the refused barrier gave way to listmount() (${lm} calls, ${full} full rebuilds)"
	else
		echo "FAIL: a refused barrier: $(grep -o '[0-9]* full.*barrier o[nf]*' "$tmp/out")"; fails=$((fails + 1))
	fi
fi
fi
run "2,000 mounts, 200 operations, full rebuilds" 2000 "$B/smdiff" --ops 200 --seed "$((SEED + 2))" --max 600 --full
# With the text capture, the daemon makes its mounts text from its
# mountinfo capture where no line's superblock options are ambiguous
# (refresher.c derive()): smdiff compared what it served; the daemon must
# have made some mounts snapshots so (its derived count), and, where the
# operations remount with sync or lazytime, declined to for some
# (derive_declined: it read the kernel's mounts text instead).
derived() {
	local d n
	d=$(grep -o 'derived [0-9][0-9]*' "$tmp/out" | tail -n 1 | cut -d' ' -f2)
	n=$(grep -o 'derive_declined [0-9][0-9]*' "$tmp/out" | tail -n 1 | cut -d' ' -f2)
	if ! grep -q '^smdiff' "$tmp/out"; then
		:       # the run itself failed or was skipped: said above
	elif [ -z "$d" ] || [ -z "$n" ]; then
		echo "FAIL: the daemon's stats lines derived/derive_declined are missing"; fails=$((fails + 1))
	elif [ "$d" -gt 0 ] && { [ "${1:-}" != declines ] || [ "$n" -gt 0 ]; }; then
		echo "ok: mounts snapshots made from the mountinfo capture: $d; not made (a line with sync or lazytime): $n"
	else
		echo "FAIL: mounts snapshots made from the mountinfo capture: $d, not made: $n"; fails=$((fails + 1))
	fi
}
# In proportion to the change: at 10,000 mounts each mount or umount is
# one round in place, with a statmount() of the event's mount (is it
# there?) and for a new one another (its lines): 60 for 40 changes; no
# rebuild and no text read; and no snapshot is
# made for changes nobody reads (a full copy of the table each), one for
# the read that follows, which is the kernel's text.
run "daemon --incremental: 10,000 mounts, 40 changes nobody reads" 10000 bash "$0" --proportion
for opt in --incremental --no-incremental; do
	run "daemon $opt: 100 mounts, $DOPS operations" 100 \
		bash "$0" --daemon "$opt" --ops "$DOPS" --seed "$((SEED + 3))"
	[ $opt = --no-incremental ] && derived declines      # (its remounts set sync and lazytime)
	run "daemon $opt: 2,000 mounts, $DOPS operations in bursts of 10" 2000 \
		bash "$0" --daemon "$opt" --ops "$DOPS" --seed "$((SEED + 4))" --burst 10 --max 600
	[ $opt = --no-incremental ] && derived
done
echo "statmount: $fails failed"
[ $fails -eq 0 ]
