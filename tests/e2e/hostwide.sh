#!/bin/bash
# The preload enabled host-wide, as `mountcache enable` enables it: inside
# a private namespace of 3,000 mounts (2,000 in the sanitizer pass), a file of ours is bound over
# /etc/ld.so.preload (on an overlay of /etc, as the host has none), so every
# process started there loads the library. Its content is switched between
# the library's path ("on") and nothing ("off") without touching the mount
# table, and each command's output, errors and exit code must be the same:
#   1. coreutils, util-linux, python3 with psutil and a dozen other system
#      programs, with the preload serving from its own snapshots
#      (MOUNTCACHE_SERVE_FIRST=1) and from a daemon (the socket unit's path
#      is not ours here, so MOUNTCACHE_SOCKET names a scratch one);
#   2. setuid-root programs (mount, umount, su, and a setuid copy of cat)
#      run by nobody with hostile MOUNTCACHE_* variables: a daemon of
#      nobody's own that forges the table, debug output, serve-first, a huge
#      maximum age. ld.so loads the preload into them in secure mode
#      (AT_SECURE), where it must ignore every variable: same output, no
#      debug line, no forged line. The same variables in a program that is
#      not setuid do take effect (the control that shows the test can fail).
# Proof the preload was loaded: /proc/self/maps of a preloaded cat, also of
# the setuid copy, and MOUNTCACHE_DEBUG output of a plain run.
set -u
. "$(dirname "$0")/lib.sh"
NOBODY=65534
N=3000; [ -n "${MC_SANITIZE:-}" ] && N=2000
export N

if [ "${1:-}" != --inside ]; then
	for t in setpriv unshare findmnt mount umount su /usr/bin/python3; do
		command -v $t >/dev/null || { echo "hostwide: $t missing"; exit 77; }
	done
	/usr/bin/python3 -c 'import psutil' 2>/dev/null || { echo "hostwide: python3-psutil missing"; exit 77; }
	# What is checked here is sameness, not scale (syscalls.sh and the
	# bench go to 10,000 and 50,000): 3,000 mounts send every read to the
	# daemon and build every index, and findmnt's quadratic tree costs
	# 0.1 s a run instead of 1.5 s (10,000 took 83 s of the suite's 15
	# minutes). The sanitizer pass, slower per program, takes 2,000.
	exec "$B/mkmounts" -q -n "$N" -- bash "$0" --inside
fi
[ -n "${MC_FIXTURE_DIR:-}" ] || { echo "hostwide: run me without --inside"; exit 2; }

# Our scratch space: a tmpfs of our own (setuid allowed on it), in this
# private namespace only.
tmp=$(mktemp -d /tmp/mc-hostwide.XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs "$tmp" || exit 2
pids=()
cleanup() {
	printf '' >"$tmp/preload" 2>/dev/null   # off before anything else runs
	for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null; done
	wait 2>/dev/null
	umount -l /etc 2>/dev/null
	umount -l "$tmp"; rmdir "$tmp"
}
trap cleanup EXIT
fails=0 cases=0
# What nobody loads or runs, copied where nobody can reach it: the build
# may sit under a directory of mode 0700 (a clone in a `mktemp -d`).
mkdir -m 0755 "$tmp/bin"
cp "$B/libmountcache-preload.so" "$B/fakedaemon" "$tmp/bin/" || exit 2

# /etc/ld.so.preload: an overlay gives /etc a place for it, then our file
# is bound over it. The mount table stays the same from here on.
mkdir "$tmp/u" "$tmp/w"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$tmp/u,workdir=$tmp/w" /etc || {
	echo "hostwide: no overlayfs for /etc"; exit 77; }
: >/etc/ld.so.preload
: >"$tmp/preload"
chmod 0644 "$tmp/preload"
mount --bind "$tmp/preload" /etc/ld.so.preload || exit 2
# What `mountcache enable` writes (its own checks included), made in a
# scratch root and copied in; in a sanitizer build the runtime goes first.
mkdir -p "$tmp/root/etc"
"$B/mountcache" enable --root "$tmp/root" --library "$tmp/bin/libmountcache-preload.so" >/dev/null || exit 2
{ [ -n "$PRE_RT" ] && echo "${PRE_RT% }"; cat "$tmp/root/etc/ld.so.preload"; } >"$tmp/on"
on()  { cat "$tmp/on" >"$tmp/preload"; }
off() { : >"$tmp/preload"; }
LIB=$tmp/bin/libmountcache-preload.so

# ---- proof it is loaded ---------------------------------------------------
on
check "on: a plain cat maps the preload" grep -q "$LIB" /proc/self/maps
check "on: MOUNTCACHE_DEBUG output of a plain run" \
	sh -c 'MOUNTCACHE_DEBUG=1 MOUNTCACHE_SERVE_FIRST=1 cat /proc/self/mountinfo 2>&1 >/dev/null | grep -q .'
off
check "off: cat does not map it" sh -c '! grep -q libmountcache-preload /proc/self/maps'
check "the table: $N mounts or more" test "$(wc -l </proc/self/mountinfo)" -ge "$N"
# The programs below are the system's (pyenv or other shims would run
# another python, without psutil).
PATH=/usr/sbin:/usr/bin:/sbin:/bin

# ---- 1. system programs, on and off -----------------------------------------
F=$MC_FIXTURE_DIR
cmds=(
	'cat /proc/self/mountinfo'
	'cat /proc/self/mounts /etc/mtab | md5sum'
	'head -n 7 /proc/self/mountinfo'
	'tail -n 7 /proc/1/mounts'
	'grep -c tmpfs /proc/self/mountinfo'
	'wc -l -c /proc/self/mountinfo /proc/self/mounts'
	"awk '{print \$9}' /proc/self/mountinfo | sort | uniq -c | sort -rn"
	"sort -k2 /proc/mounts | md5sum"
	"cut -d' ' -f2 /proc/self/mounts | tr / _ | tail -n 3"
	"sed -n '1p;5000p;\$p' /proc/self/mountinfo"
	'dd if=/proc/self/mountinfo bs=65536 status=none | md5sum'
	'tac /proc/self/mountinfo | head -n 2'
	'cp /proc/self/mountinfo /dev/stdout | md5sum'
	'od -c /proc/self/mounts | tail -n 2'
	'nl /proc/self/mounts | tail -n 1'
	'findmnt -l | md5sum'
	'findmnt | md5sum'
	'findmnt --json -o TARGET,SOURCE,FSTYPE | md5sum'
	"findmnt -n -o TARGET,FSTYPE --target $F"
	'! findmnt -n /nonexistent-mount'
	'mount | md5sum'
	"mount -l -t tmpfs | wc -l"
	'df -a --output=source,fstype,target | md5sum'
	"df --output=target $F"
	'lsblk -o NAME,MOUNTPOINTS'
	'mountpoint /'
	'mountpoint /proc'
	"mountpoint $F"
	"! mountpoint $F/nonexistent"
	'stat -c %m /etc/hostname'
	"/usr/bin/python3 -c 'import psutil; p = psutil.disk_partitions(all=True); print(len(p), p[0], p[-1])'"
	"/usr/bin/python3 -c 'print(sum(1 for _ in open(\"/proc/self/mountinfo\")))'"
	"perl -ne '\$n++ if / tmpfs /; END { print \"\$n\\n\" }' /proc/mounts"
	'n=0; while read -r l; do n=$((n + 1)); done </proc/self/mountinfo; echo $n'
	"dash -c 'while read -r a b c; do :; done </proc/mounts; echo \$b'"
	"$B/mtdump | md5sum"
)
# run_all DIR: every command's stdout, stderr and exit code in DIR/N.*
run_all() {
	mkdir -p "$1"
	for i in "${!cmds[@]}"; do
		bash -c "${cmds[$i]}" >"$1/$i.out" 2>"$1/$i.err"
		echo $? >"$1/$i.rc"
	done
}
same_runs() {    # same_runs DIR-A DIR-B: every command alike, names the ones that are not
	local bad=0
	for i in "${!cmds[@]}"; do
		for x in out err rc; do
			if ! cmp -s "$1/$i.$x" "$2/$i.$x"; then
				echo "  differs ($x): ${cmds[$i]}"; bad=1
			fi
		done
	done
	return $bad
}

all_ok() {       # every command worked (those that must fail are negated)
	local bad=0
	for i in "${!cmds[@]}"; do
		[ "$(cat "$1/$i.rc")" = 0 ] || { echo "  exit $(cat "$1/$i.rc"): ${cmds[$i]}"; bad=1; }
	done
	return $bad
}
off
run_all "$tmp/off"
check "${#cmds[@]} programs, without the preload: each works (exit 0)" all_ok "$tmp/off"
on
MOUNTCACHE_SERVE_FIRST=1 run_all "$tmp/on-own"
check "${#cmds[@]} programs, preloaded (own snapshots): outputs and exit codes as without" \
	same_runs "$tmp/off" "$tmp/on-own"
sock=$tmp/d.sock
"$B/mountcached" --socket "$sock" 2>"$tmp/daemon.log" & pids+=($!)
for _ in $(seq 150); do [ -S "$sock" ] && break; sleep 0.02; done
MOUNTCACHE_SOCKET=$sock run_all "$tmp/on-daemon"
check "${#cmds[@]} programs, preloaded (daemon): outputs and exit codes as without" \
	same_runs "$tmp/off" "$tmp/on-daemon"
# (the client gives up after 100 ms; a daemon busy capturing the table
# on a loaded machine may take longer: ask again)
for _ in 1 2 3 4 5; do
	MOUNTCACHE_SOCKET=$sock "$B/mountcache" stats >"$tmp/stats" 2>/dev/null && break
	sleep 0.5
done
# A program that reads only the first page of its table (head) does not
# ask the daemon (preload/first.c); one that reads it all asks once.
check "the daemon served them (requests > ${#cmds[@]} / 2)" \
	test "$(awk '$1 == "requests" {print $2}' "$tmp/stats")" -gt $((${#cmds[@]} / 2)) 2>/dev/null
check "a program that read its table twice read a snapshot (debug says served)" \
	sh -c 'MOUNTCACHE_DEBUG=1 MOUNTCACHE_SERVE_FIRST=1 /usr/bin/python3 -c "open(\"/proc/self/mountinfo\").read(); open(\"/proc/self/mountinfo\").read()" 2>&1 | grep -q "served from snapshots"'

# ---- 2. setuid programs, run by nobody, with hostile variables ----------------
ww=$tmp/ww
mkdir -m 1777 "$ww"
setsid setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
	"$tmp/bin/fakedaemon" --socket "$ww/evil.sock" --mode sealed & pids+=(-$!)
for _ in $(seq 150); do [ -S "$ww/evil.sock" ] && break; sleep 0.02; done
cp /bin/cat "$tmp/suidcat" && chmod 4755 "$tmp/suidcat"
hostile=(MOUNTCACHE_SOCKET="$ww/evil.sock" MOUNTCACHE_DEBUG=1 MOUNTCACHE_SERVE_FIRST=1
	 MOUNTCACHE_MAX_AGE_MS=99999999 MOUNTCACHE_DISABLE=0 MOUNTCACHE_NO_DAEMON=0)
# setsid: no controlling terminal, so su cannot ask for a password there.
# The variables are set by env, the last program before the setuid one:
# timeout, setsid and setpriv are preloaded too and are not setuid, so
# they would honour them (and print debug lines) themselves.
as_nobody() { timeout 20 setsid -w setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups env "${hostile[@]}" "$@" </dev/null; }
suid_cmds=(
	"mount"
	"mount -t tmpfs"
	"umount $F"
	"su -c true root"
	"$tmp/suidcat /proc/self/mountinfo"
	"$tmp/suidcat /proc/self/mounts"
)
if [ -n "$PRE_RT" ]; then
	# In a sanitizer build, su's libcap-ng calls open() from its
	# constructor before the ASan runtime has set itself up, and our
	# instrumented open() faults on the shadow memory: the runtime's
	# limit, not ours (the plain build runs su).
	echo "hostwide: su left out in a sanitizer build (ASan not yet initialised in libcap-ng's constructor)"
	unset 'suid_cmds[3]'
fi
suid_run() {     # suid_run DIR
	mkdir -p "$1"
	for i in "${!suid_cmds[@]}"; do
		# shellcheck disable=SC2086
		as_nobody ${suid_cmds[$i]} >"$1/$i.out" 2>"$1/$i.err"
		echo $? >"$1/$i.rc"
	done
}
suid_same() {
	local bad=0
	for i in "${!suid_cmds[@]}"; do
		for x in out err rc; do
			cmp -s "$1/$i.$x" "$2/$i.$x" || { echo "  differs ($x): ${suid_cmds[$i]}"; bad=1; }
		done
		grep -q forged "$2/$i.out" && { echo "  forged line: ${suid_cmds[$i]}"; bad=1; }
		grep -q -i mountcache "$2/$i.err" && { echo "  debug output: ${suid_cmds[$i]}"; bad=1; }
	done
	return $bad
}
off
suid_run "$tmp/suid-off"
on
suid_run "$tmp/suid-on"
check "setuid mount, umount, su, cat as nobody, hostile MOUNTCACHE_*: as without the preload" \
	suid_same "$tmp/suid-off" "$tmp/suid-on"
check "... and the setuid cat did load it (its own maps)" \
	sh -c 'setpriv --reuid=$1 --regid=$1 --clear-groups "$0" /proc/self/maps | grep -q libmountcache-preload' \
	"$tmp/suidcat" $NOBODY
check "... the same variables in a program that is not setuid take effect (debug output, forged table)" \
	sh -c '"$@" cat /proc/self/mountinfo >"$0.out" 2>"$0.err"; grep -q forged "$0.out" && grep -q . "$0.err"' \
	"$tmp/control" setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups env "${hostile[@]}"
off

echo "hostwide: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
