#!/bin/bash
# The one change the kernel never announces: a propagation flip made with
# mount(2) MS_SHARED/MS_PRIVATE (no poll event, no fanotify event).
# - made by the preloaded process itself: seen at once;
# - made by another process: seen within MOUNTCACHE_MAX_AGE_MS (here 300 ms),
#   in-process and through the daemon.
set -u
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" != --inside ]; then
	exec "$B/mkmounts" -q -n 500 -- bash "$0" --inside
fi
scratch propagation
T=$MC_FIXTURE_EARLY
fails=0

# A long-lived preloaded reader: on each line from stdin it sleeps the given
# seconds, reads the table, and prints the propagation of $T ("shared" or
# "private").
reader() {
	LD_PRELOAD=$PRE MOUNTCACHE_MAX_AGE_MS=300 /usr/bin/python3 -u -c '
import sys, time, ctypes
target = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
MS_SHARED, MS_PRIVATE = 1 << 20, 1 << 18
def state():
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        if f[4] == target:
            last = "shared" if any(x.startswith("shared:") for x in f[6:f.index("-")]) else "private"
    return last
state(); state()     # warm: the second read is served from a snapshot
for cmd in sys.stdin:
    op, arg = cmd.split()
    if op == "self":   # flip it ourselves, through the preloaded mount()
        flag = MS_SHARED if arg == "shared" else MS_PRIVATE
        libc.mount(None, target.encode(), None, flag, None)
        print(state())
    else:
        time.sleep(float(arg)); print(state())
' "$T"
}

run_case() {   # run_case LABEL [env...]
	local label=$1; shift
	coproc R { env "$@" bash -c "$(declare -f reader); B=$B T=$T reader" ; }
	local got
	mount --make-private "$T"
	echo "wait 0" >&"${R[1]}"; read -r got <&"${R[0]}"
	# another process flips it: within the bound the reader must see it
	mount --make-shared "$T"
	echo "wait 0.5" >&"${R[1]}"; read -r got <&"${R[0]}"
	if [ "$got" = shared ]; then echo "ok: $label: another process's MS_SHARED seen within the bound"
	else echo "FAIL: $label: another process's MS_SHARED not seen after 0.5 s (got $got)"; fails=$((fails + 1)); fi
	# the reader flips it itself: seen at once
	echo "self private" >&"${R[1]}"; read -r got <&"${R[0]}"
	if [ "$got" = private ]; then echo "ok: $label: own MS_PRIVATE seen at once"
	else echo "FAIL: $label: own MS_PRIVATE not seen at once (got $got)"; fails=$((fails + 1)); fi
	exec {R[1]}>&-
	wait $R_PID 2>/dev/null
}

run_case "in-process" MOUNTCACHE_SERVE_FIRST=1 MOUNTCACHE_NO_DAEMON=1
"$B/mountcached" --socket "$tmp/d.sock" --max-age-ms 300 2>/dev/null & d=$!
for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.02; done
run_case "daemon" MOUNTCACHE_SOCKET="$tmp/d.sock"
kill $d; wait $d 2>/dev/null
echo "propagation: 4 cases, $fails failed"
[ $fails -eq 0 ]
