#!/bin/bash
# The mountcache library and CLI against findmnt, mountpoint(1) and
# libmount, on a generated table of 1,000 mounts (build/mkmounts: odd names,
# stacked, bind, shared, slave and unbindable mounts), with each backend
# (auto, MOUNTCACHE_BACKEND=snapshot, =statmount); then self-binds, a chroot,
# a second mount namespace, bad input, `run`, `stats`, and `make install`.
# Exit 0 pass, 77 skip, 1 fail; the last line is a summary.
set -u
. "$(dirname "$0")/lib.sh"
MC=$B/mountcache
PY=/usr/bin/python3

if [ "${1:-}" != --inside ]; then
	for f in "$MC" "$B/mkmounts" "$B/test_api" "$B/libmountcache-preload.so"; do
		[ -x "$f" ] || { echo "api: $f is not built"; echo "api: 0 passed, 1 failed"; exit 1; }
	done
	for c in findmnt mountpoint unshare chroot "$PY"; do
		command -v "$c" >/dev/null || { echo "api: no $c; skipped"; exit 77; }
	done
	"$B/mkmounts" -q -n 1000 -- bash "$0" --inside
	exit $?
fi

D=$MC_FIXTURE_DIR
scratch api
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect NAME RC CMD...: CMD exits with RC
expect() {
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "$name: exit $rc, want $want"; head -3 "$tmp/err"; fi
}
# same NAME CMD1 ::: CMD2: same stdout and exit status
same() {
	local name=$1; shift
	local a=() b=()
	while [ "$1" != ::: ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	"${a[@]}" >"$tmp/a" 2>"$tmp/a.err"; local ra=$?
	"${b[@]}" >"$tmp/b" 2>"$tmp/b.err"; local rb=$?
	if [ $ra -eq $rb ] && cmp -s "$tmp/a" "$tmp/b"; then
		ok
	else
		bad "$name: exit $ra vs $rb"
		diff "$tmp/a" "$tmp/b" | head -5
		head -2 "$tmp/a.err" "$tmp/b.err"
	fi
}
BACKENDS=(auto snapshot statmount)
mc() { local b=$1; shift; if [ "$b" = auto ]; then "$MC" "$@"; else MOUNTCACHE_BACKEND=$b "$MC" "$@"; fi; }

# ---- the unit tests, on this table --------------------------------------
expect "test_api ($MC_FIXTURE_MOUNTS mounts)" 0 "$B/test_api"
[ "$fail" -eq 0 ] || cat "$tmp/out" "$tmp/err" | grep -v '^\[ *\(RUN\|OK\) ' | head -20

# ---- a few more shapes: component prefixes, self-binds, binds of roots --
mkdir -p "$D/comp/a" "$D/comp/abc" "$D/comp/a b" "$D/selfbind" "$D/rootbind" \
	"$D/earlybind" "$D/sub/dir" "$D/prop"
mount -t tmpfs comp-a "$D/comp/a" && mkdir -p "$D/comp/a/b" &&
	mount -t tmpfs comp-a-b "$D/comp/a/b" &&
	mount -t tmpfs comp-abc "$D/comp/abc" &&
	mount -t tmpfs comp-a-space "$D/comp/a b" &&
	mount --bind "$D/selfbind" "$D/selfbind" &&
	mount --bind "$D" "$D/rootbind" &&
	mount --bind "$MC_FIXTURE_EARLY" "$D/earlybind" &&
	mount -t tmpfs prop "$D/prop" && mount --make-shared "$D/prop" &&
	mkdir "$D/prop/s" && mount -t tmpfs prop-s "$D/prop/s" ||
	bad "cannot build the extra mounts"
ln -s "$MC_FIXTURE_EARLY" "$D/link-early"
ln -s "$D/comp" "$D/link-comp"

# ---- list: byte for byte what findmnt --list prints ---------------------
for b in "${BACKENDS[@]}"; do
	same "list [$b]" mc "$b" list ::: findmnt -l -o TARGET,SOURCE,FSTYPE,OPTIONS
	same "list --json [$b]" mc "$b" list --json ::: findmnt -J -l -o TARGET,SOURCE,FSTYPE,OPTIONS
	same "list -n [$b]" mc "$b" list -n ::: findmnt -n -l -o TARGET,SOURCE,FSTYPE,OPTIONS
done

# ---- info, is-mountpoint, list --under: against findmnt and mountpoint --
cat >"$tmp/cmp.py" <<'EOF'
# Compares `mountcache` with findmnt and mountpoint(1) for a sample of the
# table; prints one line per difference and "checked N" at the end.
import json, os, subprocess, sys

mc, backend, fixdir = sys.argv[1], sys.argv[2], sys.argv[3]
env = dict(os.environ)
if backend != "auto":
    env["MOUNTCACHE_BACKEND"] = backend
COLS = "ID,PARENT,MAJ:MIN,FSROOT,TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,OPT-FIELDS,PROPAGATION"
fm = json.loads(subprocess.run(["findmnt", "-J", "-l", "-o", COLS], capture_output=True,
                               check=True).stdout)["filesystems"]
by_id = {f["id"]: f for f in fm}
top = {}
for f in fm:
    top[f["target"]] = f          # the last in table order is the top
diffs = checked = 0

def diff(msg):
    global diffs
    diffs += 1
    if diffs <= 20:
        print(f"[{backend}] {msg}")

def run(args):
    p = subprocess.run([mc] + args, capture_output=True, env=env)
    return p.returncode, p.stdout

def info(arg):
    rc, out = run(["info", "--json", arg])
    if rc != 0:
        return None
    return json.loads(out)["filesystems"][0]

def strip(d):
    return {k: v for k, v in d.items() if k not in ("uniq-id", "uniq-parent", "mntns-id")}

# The sample: every 20th mount, every odd name and special, every kind of
# propagation, every bind (fsroot != /).
sample, kinds = [], {}
for i, f in enumerate(fm):
    t, fix = f["target"], fixdir + "/"
    special = t.startswith(fix) and not t.startswith(fix + "m/")
    first_of_kind = kinds.setdefault((f["propagation"], f["fsroot"] != "/"), f) is f
    if i % 20 == 0 or special or first_of_kind:
        sample.append(f)

for f in sample:
    checked += 1
    got = info(str(f["id"]))
    if got is None or strip(got) != f:
        diff(f"info {f['id']}: {got} != {f}")
        continue
    if ("uniq-id" in got) != (backend != "snapshot"):
        diff(f"info {f['id']}: uniq-id present: {'uniq-id' in got}")
    if "uniq-id" in got:
        u = info(str(got["uniq-id"]))
        if u != got:
            diff(f"info {got['uniq-id']} (unique) != info {f['id']}")
    t = f["target"]
    if not os.path.exists(t):
        continue
    want = top[t]
    got = info(t)
    if got is None or strip(got) != want:
        diff(f"info {t!r}: {got} != {want}")

# is-mountpoint against mountpoint(1): mount points, their parents,
# symlinks, trailing slashes, files, "/", paths that do not exist.
paths = ["/", "/proc", "/proc/", "//proc", "/proc/1", "/nonexistent", "/etc/passwd",
         "/etc/passwd/", fixdir, fixdir + "/", fixdir + "/m", fixdir + "/m/0",
         os.environ["MC_FIXTURE_LATE"], fixdir + "/link-early", fixdir + "/link-early/",
         fixdir + "/link-comp/a", fixdir + "/comp", fixdir + "/comp/a b", fixdir + "/src/dir/file",
         fixdir + "/odd/with space/", fixdir + "/odd/nope", "relative/nope", "."]
for f in sample:
    paths.append(f["target"])
    paths.append(os.path.dirname(f["target"]))
for p in paths:
    checked += 1
    a = subprocess.run([mc, "is-mountpoint", p], capture_output=True, env=env)
    b = subprocess.run(["mountpoint", p], capture_output=True)
    if a.returncode != b.returncode or a.stdout != b.stdout:
        diff(f"is-mountpoint {p!r}: {a.returncode} {a.stdout!r} vs mountpoint {b.returncode} {b.stdout!r}")

# --no-bind: the rule of mountcache.h from findmnt's columns.
def is_bind(f):
    p = by_id.get(f["parent"])
    return f["fsroot"] != "/" or (p is not None and p is not f and p["maj:min"] == f["maj:min"])

for t in sorted({f["target"] for f in sample}) + [fixdir + "/selfbind", fixdir + "/rootbind",
                                                   fixdir + "/earlybind", fixdir + "/comp/a"]:
    if not os.path.exists(t):
        continue
    checked += 1
    want = 32 if is_bind(top[t]) else 0
    rc, _ = run(["is-mountpoint", "-q", "--no-bind", t])
    if rc != want:
        diff(f"is-mountpoint --no-bind {t!r}: {rc}, want {want} ({top[t]})")

# list --under: every mount at or below, by whole components, in order.
def under(t, d):
    return d == "/" or t == d or t.startswith(d + "/")

for d in ["/", "/proc", fixdir, fixdir + "/odd", fixdir + "/m/0", fixdir + "/stacked",
          fixdir + "/comp/a", fixdir + "/comp", fixdir + "/prop", fixdir + "/link-comp/a"]:
    checked += 1
    real = os.path.realpath(d)
    want = [{k: f[k] for k in ("target", "source", "fstype", "options")}
            for f in fm if under(f["target"], real)]
    rc, out = run(["list", "--json", "--under", d])
    got = json.loads(out)["filesystems"] if rc == 0 else None
    if got != want:
        diff(f"list --under {d!r}: {len(got or [])} mounts, want {len(want)}")

print(f"checked {checked}")
sys.exit(1 if diffs else 0)
EOF
for b in "${BACKENDS[@]}"; do
	if "$PY" "$tmp/cmp.py" "$MC" "$b" "$D" >"$tmp/cmp.out" 2>&1; then
		ok
	else
		bad "info/is-mountpoint/--under vs findmnt, mountpoint [$b]"
		head -12 "$tmp/cmp.out"
	fi
done

# The shapes above, spelled out.
expect "a/b is under /comp/a" 0 bash -c "'$MC' list -n --under '$D/comp/a' | grep -q '^$D/comp/a/b '"
expect "/comp/abc is not under /comp/a" 1 bash -c "'$MC' list -n --under '$D/comp/a' | grep -q abc"
expect "'/comp/a b' is not under /comp/a" 1 bash -c "'$MC' list -n --under '$D/comp/a' | grep -q 'a b'"
expect "stacked: both listed" 0 bash -c "[ \$('$MC' list -n --under '$D/stacked' | wc -l) -eq 2 ]"
expect "stacked: info is the upper" 0 bash -c "'$MC' info '$D/stacked' | grep -q '^SOURCE  *upper$'"
for b in "${BACKENDS[@]}"; do
	expect "self-bind is a mount point [$b]" 0 mc "$b" is-mountpoint "$D/selfbind"
	expect "self-bind is a bind mount [$b]" 32 mc "$b" is-mountpoint --no-bind "$D/selfbind"
	expect "bind of a same-fs root is a bind mount [$b]" 32 mc "$b" is-mountpoint --no-bind "$D/rootbind"
	expect "bind of another fs's root counts [$b]" 0 mc "$b" is-mountpoint --no-bind "$D/earlybind"
	expect "a tmpfs is not a bind mount [$b]" 0 mc "$b" is-mountpoint --no-bind "$D/comp/a"
	expect "shared mount [$b]" 0 bash -c "MOUNTCACHE_BACKEND=${b/auto/} '$MC' info '$D/prop' | grep -q '^PROPAGATION  *shared$'"
done

# ---- a chroot: the table as the chrooted process sees it ----------------
R=$D/chroot
mkdir -p "$R/usr" "$R/proc" "$R/data" "$R$B"
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
if mount --bind /usr "$R/usr" && mount -t proc proc "$R/proc" &&
   mount --bind "$B" "$R$B" && mount -t tmpfs data "$R/data" &&
   mkdir "$R/data/d" && mount --bind "$R/data/d" "$R/data/d"; then
	outside=$(findmnt -n -o ID "$MC_FIXTURE_EARLY")
	outside_uniq=$("$MC" info "$MC_FIXTURE_EARLY" | awk '$1 == "UNIQ-ID" { print $2 }')
	for round in plain-dir mount-root; do
		for b in "${BACKENDS[@]}"; do
			export MOUNTCACHE_BACKEND=${b/auto/}
			same "chroot ($round): list [$b]" chroot "$R" "$MC" list ::: \
				chroot "$R" findmnt -l -o TARGET,SOURCE,FSTYPE,OPTIONS
			same "chroot ($round): is-mountpoint / [$b]" chroot "$R" "$MC" is-mountpoint / ::: \
				chroot "$R" mountpoint /
			same "chroot ($round): is-mountpoint /data/d [$b]" chroot "$R" "$MC" is-mountpoint /data/d ::: \
				chroot "$R" mountpoint /data/d
			same "chroot ($round): info --json /proc [$b]" \
				bash -c "chroot '$R' '$MC' info --json /proc | grep -v -e uniq- -e mntns- | sed -z 's/,\n      }/\n      }/'" ::: \
				bash -c "chroot '$R' findmnt -J -o ID,PARENT,MAJ:MIN,FSROOT,TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,OPT-FIELDS,PROPAGATION /proc"
			expect "chroot ($round): a mount outside is not there [$b]" 1 \
				chroot "$R" "$MC" info "$outside"
			expect "chroot ($round): nor by its unique id [$b]" 1 \
				chroot "$R" "$MC" info "$outside_uniq"
			unset MOUNTCACHE_BACKEND
		done
		# Round two: the chroot directory is itself a mount (a bind).
		[ $round = plain-dir ] && { mount --rbind "$R" "$R" || bad "rbind chroot"; }
	done
	expect "chroot: / is a bind mount there" 32 chroot "$R" "$MC" is-mountpoint --no-bind /
else
	bad "cannot build the chroot"
fi

# A chroot without /proc: only statmount() can answer there.
R2=$D/chroot-noproc
mkdir -p "$R2/usr" "$R2$B"
ln -s usr/bin "$R2/bin"; ln -s usr/lib "$R2/lib"; ln -s usr/lib64 "$R2/lib64"
if [ -n "$PRE_RT" ]; then
	echo "api: chroot without /proc: skipped in an ASan build (its runtime needs /proc)"
elif mount --bind /usr "$R2/usr" && mount --bind "$B" "$R2$B"; then
	expect "chroot without /proc: list" 0 bash -c "chroot '$R2' '$MC' list -n | awk '{ print \$1 }' | tr '\n' ' ' | grep -qx '/usr $B '"
	expect "chroot without /proc: info" 0 bash -c "chroot '$R2' '$MC' info /usr | grep -q '^FSROOT  */usr$'"
	expect "chroot without /proc: is-mountpoint --no-bind" 32 chroot "$R2" "$MC" is-mountpoint --no-bind /usr
	expect "chroot without /proc: the snapshot cannot" 1 \
		chroot "$R2" env MOUNTCACHE_BACKEND=snapshot "$MC" list
else
	bad "cannot build the chroot without /proc"
fi

# ---- a second mount namespace -------------------------------------------
L=$MC_FIXTURE_LATE
cat >"$tmp/ns.sh" <<EOF
set -u
mount -t tmpfs ns2 "$L" && mkdir "$L/x" && mount -t tmpfs ns2x "$L/x" || exit 9
rc=0
for b in auto snapshot statmount; do
	[ \$b = auto ] && unset MOUNTCACHE_BACKEND || export MOUNTCACHE_BACKEND=\$b
	"$MC" is-mountpoint -q "$L" || rc=1
	[ "\$("$MC" list -n --under "$L" | wc -l)" = 2 ] || rc=2
	cmp -s <("$MC" list) <(findmnt -l -o TARGET,SOURCE,FSTYPE,OPTIONS) || rc=3
done
exit \$rc
EOF
expect "second namespace: its own mounts" 0 unshare -m --propagation private bash "$tmp/ns.sh"
expect "first namespace: untouched" 32 "$MC" is-mountpoint "$L"
# Propagation across namespaces: a slave copy of the shared mount.
expect "second namespace (slave): info vs findmnt" 0 unshare -m --propagation slave bash -c "
	a=\$('$MC' info --json '$D/prop' | grep -e opt-fields -e '\"propagation')
	b=\$(findmnt -J -o OPT-FIELDS,PROPAGATION '$D/prop' | grep -e opt-fields -e propagation)
	[ \"\${a//,/}\" = \"\${b//,/}\" ] && [[ \$a == *master:* ]]"

# ---- bad input ------------------------------------------------------------
long=/$(printf 'a%.0s' $(seq 5000))
expect "is-mountpoint ''" 1 "$MC" is-mountpoint ""
expect "is-mountpoint (too long)" 1 "$MC" is-mountpoint "$long"
expect "mountpoint (too long) agrees" 1 mountpoint -q "$long"
expect "is-mountpoint nonexistent" 1 "$MC" is-mountpoint /nonexistent/x
expect "is-mountpoint two paths" 1 "$MC" is-mountpoint / /proc
expect "is-mountpoint --bogus" 1 "$MC" is-mountpoint --bogus /
expect "list --under ''" 1 "$MC" list --under ""
expect "list --under relative" 1 "$MC" list --under tmp
expect "list --under (too long)" 1 "$MC" list --under "$long"
expect "list --under nonexistent" 1 "$MC" list --under /nonexistent/x
expect "info ''" 1 "$MC" info ""
expect "info relative" 1 "$MC" info proc
expect "info (too long)" 1 "$MC" info "$long"
expect "info nonexistent path" 1 "$MC" info /nonexistent/x
expect "info no argument" 1 "$MC" info
for id in 0 2147483647 2147483648 4294967295 18446744073709551615 18446744073709551616 -1 12abc; do
	expect "info $id" 1 "$MC" info "$id"
done
grep -q "no such mount" <("$MC" info 4294967295 2>&1) && ok || bad "info: no 'no such mount' message"
# A NUL cannot reach argv at all: execve(2) takes C strings, and callers
# refuse to build such an argument.
expect "NUL in argv is refused before exec" 0 "$PY" -c "
import subprocess, sys
try:
    subprocess.run(['$MC', 'is-mountpoint', '/proc\\0x'])
except ValueError:
    sys.exit(0)
sys.exit(1)"
expect "unknown command" 1 "$MC" frobnicate
expect "no command" 1 "$MC"
expect "--help" 0 "$MC" --help
grep -q "is-mountpoint" "$tmp/out" && ok || bad "--help text"
expect "--version" 0 "$MC" --version

# ---- run and stats ----------------------------------------------------------
# In an ASan build `run` puts the instrumented preload into programs that do
# not carry the runtime: let it start late there (these cases check what
# `run` does; memory errors are the rest of the suite's job).
[ -n "$PRE_RT" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
pre=$(readlink -f "$B/libmountcache-preload.so")
expect "run: LD_PRELOAD" 0 bash -c "[ \"\$('$MC' run -- sh -c 'printf %s \"\$LD_PRELOAD\"')\" = '$pre' ]"
expect "run: LD_PRELOAD kept" 0 bash -c "[ \"\$(LD_PRELOAD='${PRE_RT}libc.so.6' '$MC' run sh -c 'printf %s \"\$LD_PRELOAD\"')\" = '$pre:${PRE_RT}libc.so.6' ]"
same "run: cat mountinfo" "$MC" run -- cat /proc/self/mountinfo ::: cat /proc/self/mountinfo
# findmnt does not start with the ASan runtime loaded after libc.
[ -z "$PRE_RT" ] && same "run: findmnt" "$MC" run -- findmnt -l ::: findmnt -l
expect "run: exit status" 3 "$MC" run -- sh -c 'exit 3'
expect "run: no such command" 127 "$MC" run -- /nonexistent/cmd
expect "run: no command" 1 "$MC" run --
# no daemon: a clear error; with one: its counters
MOUNTCACHE_SOCKET=$tmp/none.sock expect "stats" 1 "$MC" stats
grep -q "^mountcache: stats: daemon not reachable: " "$tmp/err" && ok || bad "stats message"
"$B/mountcached" --socket "$tmp/d.sock" 2>/dev/null & dpid=$!
for _ in $(seq 50); do [ -S "$tmp/d.sock" ] && break; sleep 0.02; done
MOUNTCACHE_SOCKET=$tmp/d.sock LD_PRELOAD=$PRE cat /proc/self/mountinfo >/dev/null
MOUNTCACHE_SOCKET=$tmp/d.sock expect "stats, daemon up" 0 "$MC" stats
grep -q "^requests [1-9]" "$tmp/out" && ok || bad "stats counts the request"
kill $dpid; wait $dpid 2>/dev/null

# ---- make install --------------------------------------------------------
inst=$tmp/inst
if make -s -C "$SRC" install B="$B" SANITIZE="${MC_SANITIZE:-}" DESTDIR="$inst" PREFIX=/usr >"$tmp/make" 2>&1; then
	for f in bin/mountcache include/mountcache.h lib/libmountcache.so.1 lib/libmountcache.so \
		 lib/libmountcache.a lib/pkgconfig/mountcache.pc share/man/man1/mountcache.1 \
		 lib/mountcache/libmountcache-preload.so; do
		[ -e "$inst/usr/$f" ] && ok || bad "install: no /usr/$f"
	done
	exports=$(nm -D --defined-only "$inst/usr/lib/libmountcache.so.1" | awk '$2 == "T" { print $3 }' | sort | tr '\n' ' ')
	[ "$exports" = "mountcache_daemon_stats@@LIBMOUNTCACHE_1 mountcache_info_id@@LIBMOUNTCACHE_1 mountcache_info_path@@LIBMOUNTCACHE_1 mountcache_is_mountpoint@@LIBMOUNTCACHE_1 mountcache_list_free@@LIBMOUNTCACHE_1 mountcache_mount_free@@LIBMOUNTCACHE_1 mountcache_mounts_under@@LIBMOUNTCACHE_1 " ] &&
		ok || bad "install: exports: $exports"
	cat >"$tmp/user.c" <<'EOF'
#include <stdio.h>
#include <mountcache.h>
int main(void)
{
	struct mountcache_list *l;
	if (mountcache_is_mountpoint("/proc", 0) != 1 || mountcache_mounts_under("/proc", &l) < 0)
		return 1;
	printf("%zu\n", l->n);
	mountcache_list_free(l);
	return 0;
}
EOF
	flags=$(PKG_CONFIG_SYSROOT_DIR=$inst PKG_CONFIG_LIBDIR=$inst/usr/lib/pkgconfig \
		pkg-config --cflags --libs mountcache)
	san=${MC_SANITIZE:+-fsanitize=$MC_SANITIZE}
	if cc $san -o "$tmp/user" "$tmp/user.c" $flags && LD_LIBRARY_PATH=$inst/usr/lib "$tmp/user" >/dev/null; then
		ok
	else
		bad "install: a program built with pkg-config"
	fi
	static=$(PKG_CONFIG_SYSROOT_DIR=$inst PKG_CONFIG_LIBDIR=$inst/usr/lib/pkgconfig \
		pkg-config --static --cflags mountcache)
	if cc $san -o "$tmp/user-static" "$tmp/user.c" $static "$inst/usr/lib/libmountcache.a" -lpthread &&
	   "$tmp/user-static" >/dev/null && ! nm "$tmp/user-static" | grep -q ' [TDB] mc_'; then
		ok
	else
		bad "install: a static program (or engine names leak from the archive)"
	fi
	[ "$("$inst/usr/bin/mountcache" run -- sh -c 'printf %s "$LD_PRELOAD"')" = "$inst/usr/lib/mountcache/libmountcache-preload.so" ] &&
		ok || bad "install: run finds the installed preload"
else
	bad "make install"; head -5 "$tmp/make"
fi

echo "api: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
