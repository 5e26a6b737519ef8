#!/bin/bash
# `make deb`, then the packages installed, used and purged on an overlay of
# the host's root (upper layer on a tmpfs, in a private mount namespace):
# dpkg --root works on the overlay's copy of the package database, the
# maintainer scripts run chrooted there, and the host's /var/lib/dpkg and
# /etc are untouched (checksums before and after). Checks: lintian clean,
# each package's file list, the units enabled, `mountcache enable` and
# `enable --unit` with the installed CLI, their lines and drop-ins gone
# after `dpkg -r` (prerm) and nothing of the packages left after purge.
set -u
. "$(dirname "$0")/lib.sh"

# The packages are always built plain (debian/rules), whatever the build
# under test: the sanitizer pass would only repeat the plain pass's run.
if [ -n "${MC_SANITIZE:-}" ] && [ "${1:-}" != --inside ]; then
	echo "packaging: the packages are built without sanitizers; the plain pass runs this"
	exit 77
fi

case ${1:-} in
--inside) ;;
*)
	for t in dpkg-buildpackage dh lintian fakeroot unshare chroot; do
		command -v "$t" >/dev/null || { echo "packaging: $t missing"; exit 77; }
	done
	scratch packaging
	sum() { for f in /var/lib/dpkg/status /etc/ld.so.preload; do
		[ -e "$f" ] && sha256sum "$f" || echo "absent $f"; done; ls /etc/systemd/system; }
	sum >"$tmp/host-before"
	# The packages are built without sanitizers (debian/rules), whatever
	# the build under test; so each pass builds them alike.
	# run.sh may run under `make check SANITIZE=...`: none of its flags.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE nice make -s deb DEB_DIR="$tmp/deb" >"$tmp/deb.log" 2>&1
	rc=$?
	fails=0
	if [ $rc -ne 0 ]; then
		tail -n 30 "$tmp/deb.log"; echo "FAIL: make deb ($rc)"; exit 1
	fi
	echo "ok: make deb"
	if grep -E '^(E|W): ' "$tmp/deb.log"; then
		echo "FAIL: lintian errors or warnings"; fails=1
	else
		echo "ok: lintian: no error or warning (the remaining tags are overridden, with reasons)"
	fi
	unshare -m --propagation private bash "$0" --inside "$tmp" || fails=1
	sum >"$tmp/host-after"
	if cmp -s "$tmp/host-before" "$tmp/host-after"; then
		echo "ok: the host's dpkg status, ld.so.preload and unit directory untouched"
	else
		echo "FAIL: the host changed"; diff "$tmp/host-before" "$tmp/host-after"; fails=1
	fi
	exit $fails ;;
esac

tmp=$2
fails=0 cases=0
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
V=$(dpkg-parsechangelog -S Version)
A=$(dpkg --print-architecture)
D=$tmp/deb
LIB=/usr/lib/$MA/mountcache/libmountcache-preload.so

# 1. What each package holds (regular files and links).
contents() { dpkg-deb -c "$D/$1_${V}_$A.deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | LC_ALL=C sort | tr '\n' ' '; }
want_mc="/usr/bin/mountcache /usr/lib/systemd/system/mountcached.service /usr/lib/systemd/system/mountcached.socket /usr/lib/$MA/mountcache/libmountcache-preload.so /usr/sbin/mountcached /usr/share/doc/mountcache/changelog.gz /usr/share/doc/mountcache/copyright /usr/share/lintian/overrides/mountcache /usr/share/man/man1/mountcache.1.gz /usr/share/man/man7/mountcache-preload.7.gz /usr/share/man/man8/mountcached.8.gz "
want_lib="/usr/lib/$MA/libmountcache.so.1 /usr/share/doc/libmountcache1/changelog.gz /usr/share/doc/libmountcache1/copyright /usr/share/lintian/overrides/libmountcache1 "
want_dev="/usr/include/mountcache.h /usr/lib/$MA/libmountcache.a /usr/lib/$MA/libmountcache.so /usr/lib/$MA/pkgconfig/mountcache.pc /usr/share/doc/libmountcache-dev/changelog.gz /usr/share/doc/libmountcache-dev/copyright "
check "mountcache: daemon, CLI, preload, units, man pages" test "$(contents mountcache)" = "$want_mc" ||
	echo "  has: $(contents mountcache)"
check "libmountcache1: the shared library" test "$(contents libmountcache1)" = "$want_lib"
check "libmountcache-dev: header, static library, .so link, pkg-config" test "$(contents libmountcache-dev)" = "$want_dev"

# 2. A root to install into: the host's, under a throw-away upper layer.
O=$tmp/ov
mkdir -p "$O" && mount -t tmpfs tmpfs "$O" && mkdir "$O/u" "$O/w" "$O/m" || exit 2
R=$O/m
mount -t overlay overlay -o "lowerdir=/,upperdir=$O/u,workdir=$O/w" "$R" || { echo "no overlayfs"; exit 77; }
mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" || exit 2
cp "$R/var/lib/dpkg/status" "$tmp/status-before"
# Another library in ld.so.preload, harmless in every process: it must stay.
OTHER=/usr/lib/$MA/libdl.so.2
printf '%s\n' "$OTHER" >"$R/etc/ld.so.preload"
chmod 0600 "$R/etc/ld.so.preload"

debs=("$D/mountcache_${V}_$A.deb" "$D/libmountcache1_${V}_$A.deb" "$D/libmountcache-dev_${V}_$A.deb")
dpkg --root="$R" -i "${debs[@]}" >"$tmp/install.log" 2>&1
check "dpkg -i of the three packages: exit 0" test $? -eq 0
check "installed: dpkg -L lists the daemon and the preload" \
	sh -c 'dpkg --root="$0" -L mountcache | grep -qx /usr/sbin/mountcached && dpkg --root="$0" -L mountcache | grep -qx "$1"' "$R" "$LIB"
check "installed: every listed file is there" \
	sh -c 'for f in $(dpkg --root="$0" -L mountcache libmountcache1 libmountcache-dev); do [ -e "$0$f" ] || exit 1; done' "$R"
check "the unit starts /usr/sbin/mountcached" grep -qx 'ExecStart=/usr/sbin/mountcached' "$R/usr/lib/systemd/system/mountcached.service"
check "the socket unit is enabled (sockets.target.wants)" test -L "$R/etc/systemd/system/sockets.target.wants/mountcached.socket"
check "pkg-config finds the installed library" \
	sh -c 'chroot "$0" pkg-config --libs mountcache | grep -q -- -lmountcache' "$R"
check "the installed CLI answers (mountcache list)" sh -c 'chroot "$0" mountcache list -n | grep -q "^/ "' "$R"

# 3. Enabled with the installed CLI, then the package removed.
chroot "$R" mountcache enable >/dev/null && chroot "$R" mountcache enable --unit cron >/dev/null
check "enable: the installed preload line added, the other kept" \
	test "$(cat "$R/etc/ld.so.preload")" = "$OTHER"$'\n'"$LIB"
check "enable --unit cron: drop-in written" test -f "$R/etc/systemd/system/cron.service.d/mountcache-preload.conf"
chroot "$R" mountcache status >"$tmp/status.out"
check "status: host-wide on, the unit on" \
	sh -c 'grep -q "^host-wide: on" "$0" && grep -q "unit: on for cron.service" "$0"' "$tmp/status.out"
check "a preloaded program in the root runs (the preload loads)" \
	sh -c 'chroot "$0" cat /proc/self/maps | grep -q libmountcache-preload.so' "$R"
dpkg --root="$R" -r mountcache >"$tmp/remove.log" 2>&1
check "dpkg -r mountcache: exit 0" test $? -eq 0
check "removed: ld.so.preload keeps only the other line" test "$(cat "$R/etc/ld.so.preload")" = "$OTHER"
check "removed: its mode kept (0600)" test "$(stat -c %a "$R/etc/ld.so.preload")" = 600
check "removed: the drop-in gone" test ! -e "$R/etc/systemd/system/cron.service.d"
check "removed: no process told of a missing library (no ld.so error)" \
	sh -c '! grep -q "cannot be preloaded" "$0" && ! chroot "$1" true 2>&1 | grep -q .' "$tmp/remove.log" "$R"

# 4. Purged: nothing of ours left, the database as before.
dpkg --root="$R" -P mountcache libmountcache1 libmountcache-dev >"$tmp/purge.log" 2>&1
check "dpkg -P: exit 0" test $? -eq 0
printf '%s\n' "$OTHER" | cmp -s - "$R/etc/ld.so.preload"
check "purged: ld.so.preload as it was before install" test $? -eq 0
rm "$R/etc/ld.so.preload"
umount -l "$R/dev"; umount "$R/proc"
# What the whole install/enable/remove/purge cycle left in the upper
# layer, besides dpkg's own database and the caches ldconfig and man-db
# rebuild: nothing.
(cd "$O/u" && find . ! -type d | sed 's|^\./||' |
	grep -Ev '^(var/lib/dpkg/(status|status-old|lock|lock-frontend|triggers/Lock)|etc/ld\.so\.cache|var/cache/(ldconfig|man)/.*)$') >"$tmp/left"
check "purged: no file left behind (upper layer: $(wc -l <"$tmp/left") files)" test ! -s "$tmp/left"
[ -s "$tmp/left" ] && head "$tmp/left"
check "purged: no mountcache file, link or unit state anywhere" \
	sh -c '! find "$0/u" -name "*mountcache*" | grep -q .' "$O"
check "purged: the package database as before" cmp -s "$tmp/status-before" "$R/var/lib/dpkg/status"
umount "$R"; umount "$O"

echo "packaging: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
