#!/bin/bash
# Fault injection: every call mountcache's own code makes may fail, and the
# program above must still see exactly the kernel's table, or the kernel's
# own error; never a crash, a hang or a wrong byte.
#
# Inside a private namespace of 300 mounts (the table does not change):
#   1. in-process: build/faultinj.so (tests/tools/faultinj.c) fails the Nth
#      call of each kind the preload makes (counted in a first clean run),
#      for several N and several errors, under build/mtdump (read, pread,
#      getline, getmntent_r with two buffer sizes, getmntent); a few kinds
#      also under cat and findmnt;
#   2. the same for the client's calls, with mountcached running;
#   3. the daemon's own calls failing (FAULT_OBJECT=mountcached);
#   4. a daemon that breaks the protocol (build/faultinj_daemon): closes
#      mid-message, hangs, truncates, sends extra fds, ...; the reader's
#      output must be the kernel's and no fd may stay behind in it;
#   5. many threads (build/mtreader) with every allocation of ours failing.
# Exit: 0; 1 on any failure (each printed); 77 if a tool is missing.
set -u
. "$(dirname "$0")/lib.sh"
# The injector replaces malloc/calloc, which the ASan runtime owns in an
# ASan build (its own come first, ours would never be called): the faults
# run in the plain build only.
case ${MC_SANITIZE:-} in
*address*) echo "faults: skipped in an ASan build (the plain build runs them)"; exit 77 ;;
esac

for f in faultinj.so faultinj_daemon mtdump mtreader freshcheck mountcached mkmounts libmountcache-preload.so; do
	[ -e "$B/$f" ] || { echo "faults: $B/$f missing (make all)"; exit 77; }
done
if [ "${1:-}" != --inside ]; then
	exec "$B/mkmounts" -q -n 300 -- bash "$0" --inside
fi

scratch faults
dpid= fpid=
export MOUNTCACHE_SERVE_FIRST=1 MOUNTCACHE_NO_DAEMON=1
PRE="$B/libmountcache-preload.so $B/faultinj.so"
fails=0 runs=0 fired=0
declare -A fired_kind

"$B/mtdump" > "$tmp/expect" || { echo "faults: mtdump failed bare"; exit 1; }
cat /proc/self/mountinfo > "$tmp/expect.cat"
findmnt -l > "$tmp/expect.findmnt"

# Errors tried for each kind (see faultinj.c). EINTR is never persistent
# (the kernel returns it only once per signal); "zero" is left out for the
# table reads (a seq_file never ends early).
actions_for() {
	case $1 in
	read) echo "short EINTR EAGAIN ENOMEM EIO" ;;
	preadv) echo "short EINTR ENOMEM" ;;
	openat) echo "EMFILE ENFILE ENOMEM EACCES" ;;
	fcntl) echo "EMFILE EINVAL" ;;
	fstat|lseek|statx|fstatfs|stat) echo "ENOMEM EIO" ;;
	close) echo "EINTR EIO" ;;
	poll) echo "EINTR ENOMEM event" ;;
	malloc|calloc|realloc|mmap) echo "ENOMEM" ;;
	socket) echo "EMFILE ENOMEM" ;;
	connect) echo "EAGAIN EINTR ECONNREFUSED" ;;
	send|sendmsg) echo "EAGAIN EINTR ECONNRESET" ;;
	recvmsg) echo "EINTR EAGAIN short zero" ;;
	getsockopt|getrlimit|getcwd|readlink) echo "ENOMEM EACCES" ;;
	memfd_create) echo "EMFILE ENOMEM" ;;
	nanosleep) echo "EINTR" ;;
	*) echo "ENOMEM" ;;
	esac
}

# Which Ns: the first few, then spread up to the count.
ns_for() {
	local c=$1 n out=""
	for n in 1 2 3 4 5 6 8 12 $((c / 3)) $((c / 2)) $((c * 2 / 3)) $((c - 1)) $c; do
		[ "$n" -ge 1 ] && [ "$n" -le "$c" ] && out="$out $n"
	done
	printf '%s\n' $out | sort -nu | tr '\n' ' '
}

# The calls a reading only stands in for the program's own kernel call:
# their failure may show as the kernel's error (mtdump's "ERROR call ERRNO").
passthrough() { [ "$1" = preadv ]; }

fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# check LABEL KIND ACTION RC GOT EXPECT
check() {
	local label=$1 kind=$2 action=$3 rc=$4 got=$5 expect=$6
	runs=$((runs + 1))
	if grep -q fired "$tmp/log" 2>/dev/null; then
		fired=$((fired + 1))
		fired_kind[$kind]=1
	fi
	if [ "$rc" -ge 124 ]; then
		fail "$label: exit $rc (crash or hang)"
	elif [ "$rc" -eq 0 ] && cmp -s "$got" "$expect"; then
		:
	elif passthrough "$kind" && [ "$rc" -eq 3 ] &&
		tail -n1 "$got" | grep -qx "ERROR [a-z_]* $action" &&
		cmp -s <(head -n -1 "$got") <(head -c "$(head -n -1 "$got" | wc -c)" "$expect"); then
		:       # the kernel's own error, after correct bytes only
	else
		fail "$label: exit $rc, output differs from the kernel's"
		diff "$expect" "$got" | head -4
	fi
}

# sweep LABEL COUNTS-FILE ENV... -- CMD...: every kind in the counts file,
# its Ns and actions, CMD's output compared with $tmp/expect
sweep() {
	local label=$1 counts=$2; shift 2
	local kind c n a
	while read -r kind c; do
		[ "$kind" = fired ] && continue
		for n in $(ns_for "$c"); do
			for a in $(actions_for "$kind"); do
				rm -f "$tmp/log"
				env FAULT="$kind:$n:$a" FAULT_LOG="$tmp/log" "$@" > "$tmp/got" 2>/dev/null
				check "$label $kind:$n:$a" "$kind" "$a" $? "$tmp/got" "$tmp/expect"
			done
		done
	done < "$counts"
}

# ---- 1. in-process -------------------------------------------------------
rm -f "$tmp/log"
FAULT_LOG="$tmp/counts1" LD_PRELOAD="$PRE" "$B/mtdump" > "$tmp/got"
check "clean run" none none $? "$tmp/got" "$tmp/expect"
sort -u "$tmp/counts1" | grep -v '^fired' > "$tmp/c1"
echo "in-process calls per mtdump run: $(tr '\n' ' ' < "$tmp/c1")"
sweep in-process "$tmp/c1" LD_PRELOAD="$PRE" "$B/mtdump"

# every allocation of ours failing from the Nth on: we fall back for good
for k in malloc calloc realloc mmap; do
	for n in 1 3 10; do
		rm -f "$tmp/log"
		FAULT="$k:$n+:ENOMEM" FAULT_LOG="$tmp/log" LD_PRELOAD="$PRE" "$B/mtdump" > "$tmp/got" 2>/dev/null
		check "in-process $k:$n+:ENOMEM" "$k" ENOMEM $? "$tmp/got" "$tmp/expect"
	done
done

# real consumers, a few kinds
for f in read:1:short read:2:EINTR poll:1:EINTR poll:2:event calloc:2:ENOMEM malloc:1+:ENOMEM \
	 openat:1:EMFILE fcntl:1:EMFILE statx:1:ENOMEM fstatfs:1:EIO mmap:1:ENOMEM; do
	rm -f "$tmp/log"
	FAULT=$f FAULT_LOG="$tmp/log" LD_PRELOAD="$PRE" cat /proc/self/mountinfo > "$tmp/got" 2>/dev/null
	check "cat $f" "${f%%:*}" x $? "$tmp/got" "$tmp/expect.cat"
	rm -f "$tmp/log"
	FAULT=$f FAULT_LOG="$tmp/log" LD_PRELOAD="$PRE" findmnt -l > "$tmp/got" 2>/dev/null
	check "findmnt $f" "${f%%:*}" x $? "$tmp/got" "$tmp/expect.findmnt"
done

# ---- 2. the client, with mountcached -------------------------------------
sock=$tmp/d.sock
start_daemon() {   # start_daemon [ENV...]
	env "$@" "$B/mountcached" --socket "$sock" 2>>"$tmp/daemon.log" &
	dpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.02; done
	echo "faults: mountcached did not start"; rm -f "$sock"; return 1
}
stop_daemon() { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; dpid=; rm -f "$sock"; }

start_daemon || exit 1
CL=(env -u MOUNTCACHE_NO_DAEMON MOUNTCACHE_SOCKET="$sock" LD_PRELOAD="$PRE")
rm -f "$tmp/log"
"${CL[@]}" FAULT_LOG="$tmp/counts2" "$B/mtdump" > "$tmp/got"
check "client clean run" none none $? "$tmp/got" "$tmp/expect"
# only what the daemon path adds
sort -u "$tmp/counts2" | grep -E '^(socket|connect|getsockopt|send|sendmsg|recvmsg|poll|mmap|fcntl|fstat|stat) ' > "$tmp/c2"
echo "client calls per mtdump run: $(tr '\n' ' ' < "$tmp/c2")"
sweep client "$tmp/c2" "${CL[@]}" "$B/mtdump"
stop_daemon

# ---- 3. the daemon's own calls -------------------------------------------
# Its engine is linked in: FAULT_OBJECT names the executable. Each case
# starts a fresh daemon (the counts start over) and runs one mtdump. A
# daemon that dies of its fault (at start: its listening socket) is fine:
# the reader must then manage alone.
start_daemon FAULT_OBJECT=mountcached FAULT_LOG="$tmp/counts3" LD_PRELOAD="$B/faultinj.so" || exit 1
"${CL[@]}" LD_PRELOAD="$B/libmountcache-preload.so" "$B/mtdump" > /dev/null
stop_daemon
sort -u "$tmp/counts3" | grep -v '^fired' > "$tmp/c3"
echo "daemon calls for one mtdump run: $(tr '\n' ' ' < "$tmp/c3")"
while read -r kind c; do
	for n in $(ns_for "$c" | cut -d' ' -f1-4); do
		for a in $(actions_for "$kind" | cut -d' ' -f1-2); do
			rm -f "$tmp/log"
			start_daemon FAULT="$kind:$n:$a" FAULT_OBJECT=mountcached FAULT_LOG="$tmp/log" \
				LD_PRELOAD="$B/faultinj.so" >/dev/null
			"${CL[@]}" LD_PRELOAD="$B/libmountcache-preload.so" timeout 20 "$B/mtdump" > "$tmp/got" 2>/dev/null
			check "daemon $kind:$n:$a" "$kind" "$a" $? "$tmp/got" "$tmp/expect"
			kill -0 "$dpid" 2>/dev/null || echo "note: daemon $kind:$n:$a: the daemon exited"
			stop_daemon
		done
	done
done < "$tmp/c3"

# ---- 4. a daemon that breaks the protocol ---------------------------------
start_daemon || exit 1
fsock=$tmp/f.sock
# fds the reader holds at exit beyond 0-2 and our own view fd: none may be
# a memfd or a socket of the daemon's
fd_probe='import os
for i in range(3): open("/proc/self/mountinfo").read()
bad = []
for x in os.listdir("/proc/self/fd"):
    try: t = os.readlink("/proc/self/fd/" + x)
    except OSError: continue
    if "memfd:" in t or t.startswith("/tmp/faultinj"): bad.append(x + " " + t)
print(" ".join(bad))'
for m in close half hang trunc badseq nofd twofd notmemfd oversize wrongfmt status flaky relay; do
	"$B/faultinj_daemon" --socket "$fsock" --mode "$m" --upstream "$sock" & fpid=$!
	for _ in $(seq 100); do [ -S "$fsock" ] && break; sleep 0.02; done
	rm -f "$tmp/log"
	env -u MOUNTCACHE_NO_DAEMON MOUNTCACHE_SOCKET="$fsock" LD_PRELOAD="$B/libmountcache-preload.so" \
		timeout 20 "$B/mtdump" > "$tmp/got" 2>/dev/null
	check "hostile daemon $m" "$m" x $? "$tmp/got" "$tmp/expect"
	left=$(env -u MOUNTCACHE_NO_DAEMON MOUNTCACHE_SOCKET="$fsock" LD_PRELOAD="$B/libmountcache-preload.so" \
		/usr/bin/python3 -c "$fd_probe" 2>&1)
	runs=$((runs + 1))
	[ -z "$left" ] || fail "hostile daemon $m: fds left in the reader: $left"
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=; rm -f "$fsock"
done
# A daemon that answers once per connection, then times out (relayhang) or
# answers "churning" (relaychurn): a change the client's poll() saw before
# its request failed must still show in the next read, through whichever
# fd (never the snapshot it held before).
for m in relayhang relaychurn; do
	"$B/faultinj_daemon" --socket "$fsock" --mode $m --upstream "$sock" & fpid=$!
	for _ in $(seq 100); do [ -S "$fsock" ] && break; sleep 0.02; done
	env -u MOUNTCACHE_NO_DAEMON -u MOUNTCACHE_SERVE_FIRST MOUNTCACHE_SOCKET="$fsock" \
		LD_PRELOAD="$B/libmountcache-preload.so" timeout 60 "$B/freshcheck" --rounds 8 > "$tmp/fresh" 2>&1
	rc=$?
	runs=$((runs + 1))
	[ $rc -eq 0 ] || fail "fresh after a daemon's $m: exit $rc: $(tail -n 3 "$tmp/fresh")"
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=; rm -f "$fsock"
done
stop_daemon

# ---- 5. threads, with our allocations failing ------------------------------
for f in malloc:20+:ENOMEM calloc:5+:ENOMEM read:7:short poll:3:event,poll:9:EINTR mmap:2+:ENOMEM; do
	rm -f "$tmp/log"
	FAULT=$f FAULT_LOG="$tmp/log" LD_PRELOAD="$PRE" timeout 60 "$B/mtreader" --threads 6 --seconds 2 \
		> "$tmp/got" 2>&1
	rc=$?
	runs=$((runs + 1))
	[ $rc -eq 0 ] || { fail "mtreader $f: exit $rc"; cat "$tmp/got"; }
done

# A kind the clean runs made but no sweep's fault reached was not tested:
# its faults went to calls that never came (the code path moved).
for k in $(cat "$tmp/c1" "$tmp/c2" "$tmp/c3" 2>/dev/null | awk '{ print $1 }' | sort -u); do
	[ -n "${fired_kind[$k]:-}" ] || fail "kind $k: made in a clean run, no fault of it fired in a sweep"
done
echo "faults: $runs runs, $fired with a fault injected (kinds reached: ${!fired_kind[*]}), $fails failed"
[ $fails -eq 0 ]
