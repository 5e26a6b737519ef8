#!/bin/bash
# fdreuse.sh: the program frees the numbers of the preload's own fds (a
# close loop, as daemons do at start-up) and reuses them: the preload must
# neither serve a snapshot its old fd vouched for, nor send, read or close
# anything on the program's new file (tests/tools/fdreuse.c).
set -u
. "$(dirname "$0")/lib.sh"
for f in fdreuse mountcached mkmounts; do
	[ -e "$B/$f" ] || { echo "fdreuse: $B/$f missing (make all)"; exit 77; }
done
if [ "${1:-}" != --inside ]; then
	exec "$B/mkmounts" -q -n 300 -- bash "$0" --inside
fi
scratch fdreuse
fails=0
mkdir -p "$tmp/mnt"
env MOUNTCACHE_NO_DAEMON=1 MOUNTCACHE_SERVE_FIRST=1 LD_PRELOAD="$PRE" "$B/fdreuse" view "$tmp/mnt" || fails=$((fails + 1))
sock=$tmp/d.sock
"$B/mountcached" --socket "$sock" 2>"$tmp/daemon.log" & dpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
# A first open(2) keeps no connection (preload/first.c): the first open
# is served at once here, so that the daemon connection is a kept one.
env -u MOUNTCACHE_NO_DAEMON MOUNTCACHE_SERVE_FIRST=1 MOUNTCACHE_SOCKET="$sock" LD_PRELOAD="$PRE" \
	"$B/fdreuse" conn || fails=$((fails + 1))
kill "$dpid"; wait "$dpid" 2>/dev/null
echo "fdreuse: 2 cases, $fails failed"
[ $fails -eq 0 ]
