#!/bin/bash
# System calls of each served loop, counted with strace: the one cost that
# is the same on every machine. In private namespaces of 20, 1,000 and
# 10,000 mounts, build/sccount runs each loop (tests/tools/sccount.c) with
# every cycle framed by two getppid() calls; we count what lies between.
#   - served cycles (a process's later opens, MOUNTCACHE_SERVE_FIRST=1):
#     open+read(64 KiB) to EOF+close, fopen+getline+fclose,
#     setmntent+getmntent+endmntent, open+read(4 KiB)+close: exact counts,
#     so one more call per read() fails at 1,000 mounts already (22 reads);
#   - a pass-through first read: at most EXTRA_FIRST calls beyond the
#     same cycle without the preload (the daemon socket's stat, asked at
#     the second read), with or without a daemon on a small table;
#   - a fresh process that reads the first 4 KiB and stops (head): exactly
#     the kernel's calls, with or without a daemon, and no connection;
#   - a daemon-served first read (1,000 and more mounts): exactly
#     DAEMON_FIRST calls in all, and PER_READ per read().
#   - the first 4 KiB binds no library function of ours (LD_DEBUG=bindings
#     around build/firstbind's open+read+close): each one's first call
#     costs a symbol lookup, ~800 instructions, and five of them were most
#     of what the preload added to that read. The one allowed: getauxval,
#     for the process's hash key, when the read filled the page (then
#     first.c hashes it, once per process).
#   - stack: how deep open()+read()+close() reach (build/stackdepth), with
#     the preload at most STACK_EXTRA bytes deeper than bare, for a table
#     passed through, a served one and another file: in a fresh process
#     every new stack page is a page fault, which costs ten system calls
#     on this project's machine kind (a 12 KiB frame on every open() once
#     cost two of them per process).
# Counts must not drift with the machine: snapshots never expire during a
# run (MOUNTCACHE_MAX_AGE_MS), and no mount changes while it runs.
set -u
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "skip: no strace"; exit 77; }
# A sanitizer's runtime makes calls of its own: the counts are the plain
# build's.
[ -z "${MC_SANITIZE:-}" ] || { echo "skip: counted on the plain build only"; exit 77; }

# A served cycle makes SERVED[mode] calls, plus PER_READ for each read()
# the program makes on the fd: none, a read that continues a pass makes no
# system call (the identity check is once per pass, see preload/fdmap.c).
declare -A SERVED=([read]=4 [head]=4 [getline]=4 [getmntent]=4)
PER_READ=0
EXTRA_FIRST=1
SMALL=128                       # cache/client.c SMALL_TABLE
# A daemon-served first read: the program's open, first read (the
# kernel's) and close, and at its second read: stat (the socket),
# listmount (not a small table), lseek (the kernel's offset), statx (the
# root's key), socket, connect, getsockopt, sendmsg, poll, recvmsg, close,
# fcntl (seals), fstat, mmap (the text), close (the memfd), fstatfs (the
# program's fd is on procfs); at its close, munmap (the text). The
# snapshot's header comes from a static pool (cache/snapshot.c): no mmap,
# no munmap of its own.
DAEMON_FIRST=20
STACK_EXTRA=4096                # one page

case ${1:-} in
--inside) ;;
*)	rc=0
	for n in 20 1000 10000; do
		"$B/mkmounts" -q -n "$n" -- bash "$0" --inside "$n" || rc=1
	done
	exit $rc ;;
esac
n=$2
scratch syscalls
fails=0

# counts TRACE: the number of system calls in each framed cycle.
counts() {
	awk '/^getppid\(/ { if (inw) { printf "%s%d", c++ ? " " : "", k; inw = 0 } else { inw = 1; k = 0 }; next }
	     inw && !/resumed>/ && !/^(\+\+\+|---)/ { k++ }
	     END { print "" }' "$1"
}
# calls TRACE CYCLE: which calls that cycle made, for a failure report.
calls() {
	awk -v want="$2" '/^getppid\(/ { if (inw) { c++; inw = 0 } else inw = 1; next }
	     inw && c + 1 == want { sub(/\(.*/, ""); h[$0]++ }
	     END { for (k in h) printf " %s:%d", k, h[k]; print "" }' "$1"
}
trace() {       # trace NAME [-E VAR=VALUE]... -- MODE CYCLES
	local name=$1; shift
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	strace -o "$tmp/$name" "${env[@]}" -E MOUNTCACHE_MAX_AGE_MS=600000 "$B/sccount" "$@" >"$tmp/$name.out"
}
# reads NAME CYCLE: the read() calls the program made in that cycle (the
# last one returns 0), for the read modes.
reads() {
	local k
	k=$(cut -d' ' -f"$2" "$tmp/$1.out")
	case $1 in read|first|daemon) echo $((k + 1)) ;; head) echo 1 ;; *) echo 0 ;; esac
}
verdict() {     # verdict NAME OK DETAIL
	if [ "$2" = 1 ]; then echo "ok: $n mounts: $1: $3"
	else echo "FAIL: $n mounts: $1: $3"; fails=$((fails + 1)); fi
}

# Served loops: cycle 1 is the process's first open and sets up the view;
# cycles 3 to 6 are the steady state, each exactly SERVED[mode].
for mode in read head getline getmntent; do
	trace "$mode" -E LD_PRELOAD="$PRE" -E MOUNTCACHE_SERVE_FIRST=1 -- "$mode" 6
	read -r -a c <<<"$(counts "$tmp/$mode")"
	per=$(cut -d' ' -f3 "$tmp/$mode.out")
	want=$((SERVED[$mode] + PER_READ * $(reads "$mode" 3)))
	ok=1
	for i in 2 3 4 5; do [ "${c[$i]:-x}" = "$want" ] || ok=0; done
	verdict "served $mode" $ok "cycles ${c[*]} (want $want from the 3rd; $per reads/lines per cycle)"
	[ $ok = 1 ] || echo "   cycle 3:$(calls "$tmp/$mode" 3)"
done

# A pass-through first read: the kernel's own calls, and at most
# EXTRA_FIRST more (with a daemon, on a small table: one more). The socket
# is looked at before the table is counted: a stat() costs ~2 us, a
# process's first listmount() 15-30 us (cold), a first read at 20 mounts
# ~130 us.
sock=$tmp/d.sock
first_read() {  # first_read NAME [SOCKET]
	trace "$1" -E LD_PRELOAD="$PRE" -E MOUNTCACHE_SOCKET="${2:-$tmp/none}" -- read 1
	local first extra=$EXTRA_FIRST
	first=$(counts "$tmp/$1")
	verdict "$1" $((first - bare <= extra)) "$first calls, the kernel's $bare (at most $extra more)"
	[ $((first - bare <= extra)) = 1 ] || echo "   calls:$(calls "$tmp/$1" 1)"
}
# The first page only: exactly the kernel's calls, and the daemon (if one
# runs) is not asked.
first_page() {  # first_page NAME [SOCKET]
	trace "$1" -E LD_PRELOAD="$PRE" -E MOUNTCACHE_SOCKET="${2:-$tmp/none}" -- head 1
	local got asked
	got=$(counts "$tmp/$1")
	asked=$(grep -c '^connect(' "$tmp/$1" || true)
	verdict "$1" $((got == bare_head && asked == 0)) "$got calls, the kernel's $bare_head; connections: $asked"
	[ $((got == bare_head)) = 1 ] || echo "   calls:$(calls "$tmp/$1" 1)"
}
trace bare -- read 1
bare=$(counts "$tmp/bare")
trace bare_head -- head 1
bare_head=$(counts "$tmp/bare_head")
first_read "pass-through first read"
first_page "first 4 KiB, no daemon"
binds=$(LD_DEBUG=bindings LD_PRELOAD="$PRE" MOUNTCACHE_SOCKET="$tmp/none" "$B/firstbind" 2>&1 >/dev/null |
	sed -n '/^firstbind: begin/,/^firstbind: end/p' |
	grep "binding file [^ ]*libmountcache-preload.so \[0\] to" | sed 's/.*symbol //' | tr -d "\`'" |
	grep -v '^getauxval ' | tr '\n' ' ')
verdict "first 4 KiB, library functions of ours bound" "$([ -z "$binds" ] && echo 1)" "${binds:-none}"
"$B/mountcached" --socket "$sock" 2>"$tmp/daemon.log" &
dpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
[ "$n" -lt $SMALL ] && first_read "pass-through first read, daemon running" "$sock"
first_page "first 4 KiB, daemon running" "$sock"
kill "$dpid"; wait "$dpid" 2>/dev/null
rm -f "$sock"

# Stack depth, bare and preloaded (the depth depends on the build, not on
# the machine; bare is measured in the same run).
depth() {       # depth PATH [VAR=VALUE]...: bytes below the caller's frame
	local path=$1; shift
	env "$@" "$B/stackdepth" "$path" | sed -n 's/^depth=//p'
}
for what in "pass-through first read:/proc/self/mountinfo:MOUNTCACHE_SOCKET=$tmp/none" \
	    "served first read:/proc/self/mountinfo:MOUNTCACHE_SERVE_FIRST=1" \
	    "another file:/etc/hostname:MOUNTCACHE_SOCKET=$tmp/none"; do
	IFS=: read -r name path var <<<"$what"
	b=$(depth "$path")
	p=$(depth "$path" LD_PRELOAD="$PRE" "$var")
	ok=0; [ -n "$b" ] && [ -n "$p" ] && [ $((p - b)) -le $STACK_EXTRA ] && ok=1
	verdict "stack, $name" $ok "${p:-?} bytes deep, bare ${b:-?} (at most $STACK_EXTRA more)"
done

# A daemon-served first read: connect, ask, map, close, and the program's
# own open and close.
if [ "$n" -ge 1000 ]; then
	"$B/mountcached" --socket "$sock" 2>"$tmp/daemon.log" &
	dpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
	MOUNTCACHE_SOCKET=$sock LD_PRELOAD=$PRE cat /proc/self/mountinfo >/dev/null  # the daemon's first capture
	trace daemon -E LD_PRELOAD="$PRE" -E MOUNTCACHE_SOCKET="$sock" -- read 1
	d=$(counts "$tmp/daemon")
	want=$((DAEMON_FIRST + PER_READ * $(reads daemon 1)))
	asked=$(grep -c '^connect(.*d.sock' "$tmp/daemon" || true)
	verdict "daemon first read" $((d == want && asked == 1)) \
		"$d calls (want $want), connections to the daemon: $asked"
	[ $((d == want)) = 1 ] || echo "   calls:$(calls "$tmp/daemon" 1)"
	kill "$dpid"; wait "$dpid" 2>/dev/null
fi
[ $fails -eq 0 ]
