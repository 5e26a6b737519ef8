#!/bin/sh
# probe.sh: the preload must be indistinguishable from the kernel.
#
# For each table size, inside one private mount namespace with that many
# mounts (build/mkmounts), build/probe --change runs three times over the
# same table:
#   kernel       no preload
#   serve_first  LD_PRELOAD + MOUNTCACHE_SERVE_FIRST=1 (every open served)
#   default      LD_PRELOAD, the process's first open left to the kernel
#   disabled     LD_PRELOAD + MOUNTCACHE_DISABLE=1 (a control: the library
#                merely loaded must change nothing)
# and each preload transcript is diffed against the kernel's.
#
# Environment: PROBE_SIZES (default "200 10000"), PROBE_PRELOAD (default
# build/libmountcache-preload.so), PROBE_ARGS (default "--change"), PROBE_KEEP=1
# keeps the transcripts even when they agree.
# Exit: 0 no difference, 1 differences (printed), 2 setup error, 77 no
# mount namespace can be made (skip).
set -u
. "$(dirname "$0")/lib.sh"
root=$SRC
sizes=${PROBE_SIZES:-"200 10000"}
preload=${PROBE_PRELOAD:-$PRE}
args=${PROBE_ARGS:---change}
max_diff_lines=150

for f in "$B/probe" "${preload##* }"; do
	[ -e "$f" ] || { echo "probe.sh: $f is missing (run make)" >&2; exit 2; }
done
case $preload in /*) ;; *) preload=$root/$preload ;; esac
# A bad buffer faults in our memcpy where the kernel says EFAULT (a known
# difference, probe.known): under ASan that fault is a report, so the
# scenario is left out there.
if [ -z "${PROBE_ARGS:-}" ] && [ -n "$PRE_RT" ]; then
	args="--change $("$B/probe" --list | grep -v '^efault' | cut -d' ' -f1 | tr '\n' ' ')"
fi

out=$(mktemp -d /tmp/probe-e2e.XXXXXX) || exit 2

# run_in_namespace N SCRIPT: SCRIPT (sh) inside a private mount namespace
# with about N mounts. Without mkmounts, a few odd tmpfs mounts made here.
run_in_namespace() {
	if [ -x "$B/mkmounts" ]; then
		"$B/mkmounts" -q -n "$1" -- sh -c "$2"
		return
	fi
	unshare -m --propagation private true 2>/dev/null || return 77
	unshare -m --propagation private sh -c '
		d=$(mktemp -d /tmp/probe-fix.XXXXXX) || exit 125
		mount -t tmpfs probefix "$d" || exit 125
		for n in "with space" "$(printf "with\ttab")" "back\\slash" late; do
			mkdir "$d/$n" && mount -t tmpfs "my src" "$d/$n" || exit 125
		done
		umount "$d/late"
		MC_FIXTURE_LATE=$d/late sh -c "$1"; rc=$?
		umount -R "$d"; rmdir "$d"; exit $rc' sh "$2"
}

# The three runs, in one namespace so that they see one table.
runs='
set -u
p='\'"$B"\''/probe
o='"$out"'/$N
"$p" '"$args"' > $o.kernel 2> $o.kernel.err
LD_PRELOAD='\'"$preload"\'' MOUNTCACHE_SERVE_FIRST=1 "$p" '"$args"' > $o.serve_first 2> $o.serve_first.err
LD_PRELOAD='\'"$preload"\'' "$p" '"$args"' > $o.default 2> $o.default.err
LD_PRELOAD='\'"$preload"\'' MOUNTCACHE_DISABLE=1 "$p" '"$args"' > $o.disabled 2> $o.disabled.err
LD_PRELOAD='\'"$preload"\'' MOUNTCACHE_SERVE_FIRST=1 MOUNTCACHE_DEBUG=1 cat /proc/self/mountinfo 2> $o.proof >/dev/null
'

total=0
failed=0
for n in $sizes; do
	run_in_namespace "$n" "N=$n; $runs"
	rc=$?
	if [ $rc -eq 77 ]; then
		echo "probe: cannot make a mount namespace; skipped"
		rm -rf "$out"
		exit 77
	fi
	if [ $rc -ne 0 ] || [ ! -s "$out/$n.kernel" ]; then
		echo "probe: N=$n: runs failed (status $rc)" >&2
		cat "$out/$n".*.err >&2 2>/dev/null
		failed=1
		continue
	fi
	# proof that the preload was there at all (a wrong LD_PRELOAD is only
	# a warning from ld.so, and then every transcript agrees)
	if ! grep -q "served from snapshots" "$out/$n.proof"; then
		echo "probe: N=$n: the preload served nothing: $(head -c 300 "$out/$n.proof")" >&2
		failed=1
	fi
	known=tests/e2e/probe.known
	sed -f "$known" "$out/$n.kernel" > "$out/$n.kernel.cmp"
	for mode in serve_first default disabled; do
		d=$out/$n.$mode.diff
		# known differences (probe.known) are taken out of both sides
		sed -f "$known" "$out/$n.$mode" > "$out/$n.$mode.cmp"
		diff "$out/$n.kernel.cmp" "$out/$n.$mode.cmp" > "$d"
		lines=$(grep -c '^[<>]' "$d")
		total=$((total + lines))
		[ "$lines" -eq 0 ] && continue
		echo "=== N=$n $mode: $lines differing lines; by scenario:"
		grep '^[<>]' "$d" | sed 's/^[<>] \([a-z0-9_]*\).*/\1/' | sort | uniq -c
		echo "--- diff kernel $mode (first $max_diff_lines lines)"
		head -n "$max_diff_lines" "$d"
		if [ -s "$out/$n.$mode.err" ]; then
			echo "--- stderr of the $mode run"
			head -n 20 "$out/$n.$mode.err"
		fi
	done
done

scenarios=$("$B/probe" --list | wc -l)
echo "probe: $scenarios scenarios, $total differences"
if [ "$total" -ne 0 ] || [ "$failed" -ne 0 ] || [ "${PROBE_KEEP:-0}" = 1 ]; then
	echo "probe: transcripts kept in $out"
	[ "$total" -ne 0 ] || [ "$failed" -ne 0 ] && exit 1
	exit 0
fi
rm -rf "$out"
exit 0
