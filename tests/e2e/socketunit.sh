#!/bin/bash
# mountcached started by its socket, as mountcached.socket starts it:
# systemd-socket-activate passes a listening socket as fd 3 (LISTEN_FDS,
# LISTEN_PID), the daemon serves on it, and leaves the socket file to
# systemd when it stops. A socket of the wrong type is refused with a
# message. The unit files pass `systemd-analyze verify`.
set -u
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || { echo "no systemd-socket-activate"; exit 77; }

scratch socketunit
fails=0 cases=0
wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.02; done; return 1; }

# 1. A SOCK_SEQPACKET socket: served, and left in place on SIGTERM.
sock=$tmp/seq.sock
systemd-socket-activate --seqpacket -l "$sock" "$B/mountcached" 2>"$tmp/log1" &
act=$!
wait_sock "$sock"
served() { MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats >"$tmp/stats1" && grep -q '^requests [1-9]' "$tmp/stats1"; }
check "seqpacket socket passed: the daemon answers on it" served
check "the daemon says it took the passed socket" grep -q "listening on the socket systemd passed" "$tmp/log1"
kill "$act"; wait "$act" 2>/dev/null
check "stopped: the socket file stays (it is systemd's)" test -S "$sock"

# 2. A stream socket is refused, clearly, and the daemon exits non-zero.
sock2=$tmp/stream.sock
systemd-socket-activate -l "$sock2" "$B/mountcached" 2>"$tmp/log2" &
act=$!
wait_sock "$sock2"
/usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])' "$sock2"
wait "$act"; rc=$?
check "stream socket passed: exit status non-zero ($rc)" test "$rc" -ne 0
check "stream socket passed: the message names the problem" \
	grep -q "not a listening AF_UNIX SOCK_SEQPACKET socket" "$tmp/log2"

# 3. LISTEN_PID of another process: not ours, the daemon makes its own.
sock3=$tmp/own.sock
LISTEN_PID=1 LISTEN_FDS=1 "$B/mountcached" --socket "$sock3" 2>"$tmp/log3" &
d=$!
wait_sock "$sock3"
check "LISTEN_PID of another process: own socket created" \
	sh -c 'MOUNTCACHE_SOCKET=$0 "$1/mountcache" stats >/dev/null' "$sock3" "$B"
kill "$d"; wait "$d" 2>/dev/null
check "started by hand: its socket file removed on SIGTERM" test ! -e "$sock3"

# 4. The units, as systemd reads them.
if command -v systemd-analyze >/dev/null; then
	sed "s|@SBINDIR@|$B|" cache/daemon/mountcached.service.in >"$tmp/mountcached.service"
	cp cache/daemon/mountcached.socket "$tmp/"
	check "systemd-analyze verify: socket and service units" \
		sh -c 'cd "$0" && systemd-analyze verify --man=no ./mountcached.socket ./mountcached.service' "$tmp"
	check "the socket unit is SOCK_SEQPACKET on the default path" \
		grep -qx 'ListenSequentialPacket=/run/mountcache/mountcached.sock' cache/daemon/mountcached.socket
fi

echo "socketunit: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
