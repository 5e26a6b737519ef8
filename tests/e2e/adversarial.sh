#!/bin/bash
# Adversarial cases: a non-root user (uid 65534) tries to make a root
# process read forged data or to turn the daemon against the system; and
# the limits: huge tables, a mount path near PATH_MAX, 16 fds, readers
# SIGKILLed mid-request. Every reading is compared with the kernel's own.
#
#   1. the user's own daemon at the root process's MOUNTCACHE_SOCKET path
#      (a world-writable directory), directly and through a symlink;
#   2. a symlink race: the user swaps the socket path between the real
#      daemon and its own, while root reads 200 times;
#   3. the user's files in /dev/shm and /tmp named like ours; the preload
#      must open nothing but /proc files and the socket (strace);
#   4. the daemon's socket in a directory the user can write (or owns): it
#      must never chmod/chown anything but its socket (a symlink swapped in
#      between bind() and chmod() would redirect the chmod);
#   5. the user fills the daemon with idle connections: root still reads
#      the kernel's table;
#   6. 100,000 mounts: cat, getmntent and python served correctly (or
#      passed to the kernel), with and without the daemon;
#   7. a mount point near PATH_MAX (and its escaped form longer still);
#   8. RLIMIT_NOFILE 16: cat, findmnt, getmntent under the preload;
#   9. readers SIGKILLed mid-request: the daemon keeps serving the others;
#  10. a thread in its own mount namespace, with the daemon running: its
#      /proc/thread-self/mountinfo is its own table, not the process's.
# Exit: 0; 1 on any failure; 77 if setpriv or a namespace is missing.
set -u
. "$(dirname "$0")/lib.sh"
USER_ID=65534

for t in setpriv strace; do
	command -v $t >/dev/null || { echo "adversarial: $t missing"; exit 77; }
done
for f in libmountcache-preload.so mountcached fakedaemon mkmounts mtdump threadns; do
	[ -e "$B/$f" ] || { echo "adversarial: $B/$f missing (make all)"; exit 77; }
done

if [ "${1:-}" != --inside ]; then
	rc=0
	"$B/mkmounts" -q -n 500 -- bash "$0" --inside small || rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 1 ] || exit $rc
	"$B/mkmounts" -q -n 100000 -- bash "$0" --inside huge || rc=1
	exit $rc
fi

# Only ever inside mkmounts' private namespace: the cases mount things.
[ -n "${MC_FIXTURE_DIR:-}" ] || { echo "adversarial: run me without --inside"; exit 2; }
tmp=$(mktemp -d /tmp/mc-adv.XXXXXX)
chmod 0755 "$tmp"
pids=()          # process groups (negative) and pids to end at exit
cleanup() {
	for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp" /dev/shm/mountcache-adv.* 2>/dev/null
}
trap cleanup EXIT
fails=0 cases=0
as_user() { setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups "$@"; }
# bg_user CMD...: in the background, in its own process group (the
# fakedaemon forks a child per connection: all end with the group)
bg_user() { setsid setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups "$@" & pids+=(-$!); bg=$!; }
export MOUNTCACHE_SERVE_FIRST=1
unset MOUNTCACHE_SOCKET

wait_sock() { for _ in $(seq 150); do [ -S "$1" ] && return 0; sleep 0.02; done; return 1; }
start_daemon() {   # start_daemon SOCKET: the real one, as root
	"$B/mountcached" --socket "$1" 2>>"$tmp/daemon.log" & dpid=$!
	pids+=($dpid)
	wait_sock "$1"
}

# kernel_same LABEL ENV... -- CMD...: CMD's output under the preload (with
# ENV) equals its output without, and shows no forged line
kernel_same() {
	local label=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
	"$@" >"$tmp/k" 2>/dev/null; local rk=$?
	env "${envs[@]}" LD_PRELOAD="$PRE" "$@" >"$tmp/p" 2>"$tmp/p.err"; local rp=$?
	if [ $rk -ne $rp ] || ! cmp -s "$tmp/k" "$tmp/p" || grep -q forged "$tmp/p"; then
		echo "  $label: exit $rk vs $rp; $(diff "$tmp/k" "$tmp/p" | head -3)"
		return 1
	fi
}

small() {
	# ---- 1. the user's daemon at our socket path --------------------------
	local ww=$tmp/ww
	mkdir -m 1777 "$ww"
	bg_user "$B/fakedaemon" --socket "$ww/mc.sock" --mode sealed
	wait_sock "$ww/mc.sock"
	check "user's daemon at MOUNTCACHE_SOCKET: refused, kernel's table read" \
		kernel_same cat MOUNTCACHE_SOCKET="$ww/mc.sock" -- cat /proc/self/mountinfo
	check "... and through getmntent" \
		kernel_same mtdump MOUNTCACHE_SOCKET="$ww/mc.sock" -- "$B/mtdump"
	as_user ln -s "$ww/mc.sock" "$ww/link.sock"
	check "user's daemon behind a symlink: refused" \
		kernel_same cat MOUNTCACHE_SOCKET="$ww/link.sock" -- cat /proc/self/mountinfo

	# ---- 2. symlink race between the real daemon and the user's -------------
	local real=$tmp/real.sock
	start_daemon "$real"
	mkdir -m 0777 "$tmp/race"
	bg_user /usr/bin/python3 -c '
import os, sys, time
d, good, bad = sys.argv[1:4]
end = time.time() + 20
n = 0
while time.time() < end:
    for target in (good, bad):
        tmp = os.path.join(d, ".t"); path = os.path.join(d, "s.sock")
        try:
            os.symlink(target, tmp); os.rename(tmp, path)
        except OSError:
            pass' "$tmp/race" "$real" "$ww/mc.sock"
	local swapper=$bg
	race() {
		local bad=0 forged=0 i
		cat /proc/self/mountinfo >"$tmp/ref"
		for i in $(seq 200); do
			MOUNTCACHE_SOCKET=$tmp/race/s.sock LD_PRELOAD=$PRE cat /proc/self/mountinfo >"$tmp/r" 2>/dev/null
			cmp -s "$tmp/ref" "$tmp/r" || bad=$((bad + 1))
			grep -q forged "$tmp/r" && forged=$((forged + 1))
		done
		echo "  200 reads during the swap race: $bad differ, $forged forged"
		[ $bad -eq 0 ]
	}
	check "symlink race on the socket path: every read the kernel's" race
	kill $swapper 2>/dev/null

	# ---- 3. look-alike files; what the preload opens -------------------------
	for n in mountcache-adv.snap mountcache-adv.sock; do
		as_user sh -c "echo '999 1 0:1 / / rw - forged forged rw' > /dev/shm/$n"
	done
	as_user mkdir -p "$tmp/ww/mountcache"
	check "look-alike files in /dev/shm: kernel's table read" \
		kernel_same shm MOUNTCACHE_SOCKET="$real" -- "$B/mtdump"
	opens() {   # every path the preload's process opens, beyond the program's own
		MOUNTCACHE_SOCKET=$real LD_PRELOAD=$PRE strace -f -qq -e trace=open,openat,connect,stat,newfstatat \
			-o "$tmp/strace" cat /proc/self/mountinfo >/dev/null
		grep -oE '"[^"]*"' "$tmp/strace" | tr -d '"' | sort -u |
			grep -vE '^$|^(/proc/|/etc/ld\.so|/lib|/usr/lib|/usr/share/locale|/usr/lib/locale|'"$B"'|'"$real"'$|/$)' \
			>"$tmp/opened"
		[ ! -s "$tmp/opened" ] || { echo "  opened: $(tr '\n' ' ' < "$tmp/opened")"; return 1; }
	}
	check "the preload opens only /proc files and the socket" opens

	# ---- 4. the daemon's socket in a directory the user controls ------------
	# A symlink swapped in between bind() and chmod() makes the root daemon
	# chmod its target 0666. Racy: several hundred starts find it when the
	# bug is there; none can when the daemon never follows the path.
	chmod_race() {
		local d=$tmp/sockdir victim=$tmp/victim i mode started=0
		mkdir -m 0777 "$d"
		echo secret >"$victim"; chmod 0600 "$victim"
		cat >"$tmp/swap.c" <<-'EOF'
		#include <stdio.h>
		#include <stdlib.h>
		#include <time.h>
		#include <unistd.h>
		int main(int argc, char **argv)
		{
			char tmp[4096], path[4096];
			snprintf(tmp, sizeof tmp, "%s/.x", argv[1]);
			snprintf(path, sizeof path, "%s/mc.sock", argv[1]);
			for (time_t end = time(NULL) + atoi(argv[3]); time(NULL) < end; )
				if (symlink(argv[2], tmp) == 0 && rename(tmp, path) != 0)
					unlink(tmp);
			return 0;
		}
		EOF
		cc -O2 -o "$tmp/swap" "$tmp/swap.c" || return 1
		bg_user "$tmp/swap" "$d" "$victim" 40
		local sw=$bg
		for i in $(seq 600); do
			timeout 0.03 "$B/mountcached" --socket "$d/mc.sock" 2>/dev/null
			[ $? -eq 124 ] && started=$((started + 1))
			mode=$(stat -c %a "$victim")
			if [ "$mode" != 600 ]; then
				echo "  victim file chmod'ed to $mode by the root daemon after $i starts"
				kill $sw; return 1
			fi
		done
		kill $sw
		echo "  $i daemon starts ($started came up), victim untouched"
	}
	check "daemon socket in a user-writable directory: no chmod through a symlink" chmod_race

	# ---- 5. the user holds many idle connections ------------------------------
	idle() {
		bg_user /usr/bin/python3 -c '
import resource, socket, sys, time
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(1100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(sys.argv[1]); socks.append(s)
    except OSError:
        break
print(len(socks), flush=True)
time.sleep(8)' "$real" >"$tmp/idle"
		local holder=$bg
		for _ in $(seq 100); do [ -s "$tmp/idle" ] && break; sleep 0.05; done
		echo "  user holds $(cat "$tmp/idle") idle connections"
		kernel_same idle MOUNTCACHE_SOCKET="$real" -- cat /proc/self/mountinfo || return 1
		served() { MOUNTCACHE_DEBUG=1 MOUNTCACHE_SOCKET=$real LD_PRELOAD=$PRE cat /proc/self/mountinfo 2>&1 >/dev/null |
			grep -q "daemon: generation"; }
		# The daemon bounds each user's connections: root is still served.
		local r=0
		served || { echo "  the daemon refused root's connection"; r=1; }
		MOUNTCACHE_SOCKET=$real "$B/mountcache" stats 2>/dev/null | grep -q "^refused [1-9]" ||
			{ echo "  the daemon refused none of the user's connections"; r=1; }
		# It holds at most 128 of them (MAX_CLIENTS_PER_UID), beside
		# this stats request's own connection.
		local held
		held=$(MOUNTCACHE_SOCKET=$real "$B/mountcache" stats 2>/dev/null | awk '$1 == "clients" { print $2 }')
		echo "  the daemon holds ${held:-?} connections"
		[ -n "$held" ] && [ "$held" -le 129 ] || { echo "  more than 128 of the user's connections held"; r=1; }
		kill $holder; wait $holder 2>/dev/null
		return $r
	}
	check "1,100 idle connections from a user: root is still served by the daemon" idle

	# ---- 7. a mount point near PATH_MAX ----------------------------------------
	long_path() {
		local d=$MC_FIXTURE_DIR/long seg
		seg=$(printf 'd%.0s' $(seq 250))
		mkdir -p "$d" && cd "$d" || return 1
		# 16 components of 251 bytes and one with blanks: about 4,060
		# bytes, a mounts line over glibc getmntent()'s 4 KiB buffer
		local i target
		for i in $(seq 16); do mkdir "$seg" && cd "$seg" || return 1; done
		mkdir "a b	c" && cd "a b	c" || return 1
		target=$PWD
		mount -t tmpfs "long src" . || return 1
		cd /
		echo "  mount point of ${#target} bytes"
		local ok=0
		kernel_same "cat" -- cat /proc/self/mountinfo &&
		kernel_same "mtdump" -- "$B/mtdump" &&
		kernel_same "findmnt" -- findmnt -l &&
		kernel_same "df" -- df -a --output=target && ok=1
		(cd "$target/.." && umount -l "a b	c")
		[ $ok -eq 1 ]
	}
	check "a mount point near PATH_MAX (escaped line over 4 KiB)" long_path

	# ---- 8. RLIMIT_NOFILE 16 ---------------------------------------------------
	for c in "cat /proc/self/mountinfo" "findmnt -l" "$B/mtdump"; do
		check "ulimit -n 16: $c" kernel_same "$c" -- sh -c "ulimit -n 16; exec $c"
		check "ulimit -n 16, daemon: $c" kernel_same "$c" MOUNTCACHE_SOCKET="$real" -- sh -c "ulimit -n 16; exec $c"
	done
	# and with the low fds nearly used up
	check "ulimit -n 16, 12 fds taken: cat" kernel_same tight -- sh -c \
		'ulimit -n 16; exec 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null 9</dev/null; exec cat /proc/self/mountinfo'

	# ---- 9. readers SIGKILLed mid-request ----------------------------------------
	killed_readers() {
		local i
		for i in $(seq 60); do
			MOUNTCACHE_SOCKET=$real LD_PRELOAD=$PRE /usr/bin/python3 -c '
while True: open("/proc/self/mountinfo").read()' & local r=$!
			sleep 0.0$((i % 5 + 1))
			kill -KILL $r; wait $r 2>/dev/null
		done 2>/dev/null
		# a client that asks and dies without reading the answer
		for i in $(seq 20); do
			/usr/bin/python3 -c '
import socket, struct, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
s.send(struct.pack("<IHBBIIQ", 0x6d63706b, 1, 1, 0, 0, 1, 0))
os.kill(os.getpid(), 9)' "$real"
		done 2>/dev/null
		kill -0 $dpid || { echo "  the daemon died"; return 1; }
		kernel_same after MOUNTCACHE_SOCKET="$real" -- cat /proc/self/mountinfo || return 1
		MOUNTCACHE_DEBUG=1 MOUNTCACHE_SOCKET=$real LD_PRELOAD=$PRE cat /proc/self/mountinfo 2>"$tmp/dbg" >/dev/null
		grep -q "daemon: generation" "$tmp/dbg" || {
			echo "  the daemon no longer serves: $(grep daemon "$tmp/dbg" | head -3)"
			[ -x "$B/mountcache" ] && MOUNTCACHE_SOCKET=$real "$B/mountcache" stats 2>&1 | tr '\n' ' '
			return 1; }
	}
	check "readers SIGKILLed mid-request: the daemon keeps serving" killed_readers

	# ---- 10. a thread in its own namespace -------------------------------------
	thread_ns() {
		MOUNTCACHE_SOCKET=$real LD_PRELOAD=$PRE "$B/threadns" >"$tmp/tn" 2>&1; local rc=$?
		[ $rc -eq 0 ] || sed 's/^/  /' "$tmp/tn"
		[ $rc -eq 0 ]
	}
	check "a thread in its own mount namespace, daemon running: its own table" thread_ns
}

huge() {
	echo "  table: $MC_FIXTURE_MOUNTS mounts, $(wc -c < /proc/self/mountinfo) bytes"
	check "100k mounts: cat" kernel_same cat -- cat /proc/self/mountinfo
	check "100k mounts: mounts, getmntent, getline" kernel_same mtdump -- "$B/mtdump"
	check "100k mounts: python, twice" kernel_same python -- /usr/bin/python3 -c '
import sys
a = open("/proc/self/mountinfo").read(); b = open("/proc/self/mountinfo").read()
sys.stdout.write(b + str(a == b))'
	start_daemon "$tmp/huge.sock"
	check "100k mounts through the daemon: cat" kernel_same cat MOUNTCACHE_SOCKET="$tmp/huge.sock" -- cat /proc/self/mountinfo
	check "100k mounts through the daemon: mtdump" kernel_same mtdump MOUNTCACHE_SOCKET="$tmp/huge.sock" -- "$B/mtdump"
}

case $2 in
small) small ;;
huge) huge ;;
esac
echo "adversarial [$2]: $cases cases, $fails failed"
[ $fails -eq 0 ]
