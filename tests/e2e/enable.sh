#!/bin/bash
# `mountcache enable | disable | status` on scratch copies of the files
# (--root and MOUNTCACHE_ROOT): round trips keep every other line and end
# byte for byte where they began; every refusal (missing library, text
# file, truncated library, another architecture, an executable) exits
# non-zero with a message and changes nothing (checksums of the whole
# scratch root before and after).
set -u
. "$(dirname "$0")/lib.sh"

scratch enable
M=$B/mountcache
LIB=$(realpath "$B/libmountcache-preload.so")
fails=0 cases=0
R=$tmp/root
mkdir -p "$R/etc/systemd/system/other.service.d"
printf '/usr/lib/libother.so\n# a comment to ld.so, kept\n/lib/x86_64-linux-gnu/libtwo.so\n' >"$R/etc/ld.so.preload"
chmod 0640 "$R/etc/ld.so.preload"
printf '[Service]\nNice=5\n' >"$R/etc/systemd/system/other.service.d/override.conf"
sums() { (cd "$R" && find . -print0 | sort -z | xargs -0 stat -c '%n %a %s' && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
sums >"$tmp/before"

# 1. Host-wide round trip.
"$M" enable --root "$R" >"$tmp/out" 2>&1
check "enable: exit 0" test $? -eq 0
check "enable: the library's line appended" test "$(tail -n 1 "$R/etc/ld.so.preload")" = "$LIB"
check "enable: the other three lines kept, in order" \
	sh -c 'head -n 3 "$0/etc/ld.so.preload" | cmp -s - "$1"' "$R" <(printf '/usr/lib/libother.so\n# a comment to ld.so, kept\n/lib/x86_64-linux-gnu/libtwo.so\n')
check "enable: mode kept (0640)" test "$(stat -c %a "$R/etc/ld.so.preload")" = 640
check "enable: no temporary file left" test -z "$(find "$R/etc" -name '.mountcache.*')"
"$M" enable --root "$R" >/dev/null 2>&1
check "enable twice: one line" test "$(grep -c -x "$LIB" "$R/etc/ld.so.preload")" = 1
MOUNTCACHE_ROOT=$R "$M" status >"$tmp/status"
check "status: host-wide on, naming the library" grep -q "^host-wide: on, .*preloads $LIB\$" "$tmp/status"
check "status: says whether the daemon answers" grep -q '^daemon: \(answers\|not answering\)' "$tmp/status"

# 2. Per unit.
"$M" enable --root "$R" --unit udisks2 --unit collectd.service >/dev/null
f=$R/etc/systemd/system/udisks2.service.d/mountcache-preload.conf
check "enable --unit: drop-in for udisks2.service" grep -qx "Environment=LD_PRELOAD=$LIB" "$f"
check "enable --unit: drop-in for collectd.service" test -f "$R/etc/systemd/system/collectd.service.d/mountcache-preload.conf"
MOUNTCACHE_ROOT=$R "$M" status >"$tmp/status"
check "status: both units listed" sh -c 'grep -q "unit: on for udisks2.service" "$0" && grep -q "unit: on for collectd.service" "$0"' "$tmp/status"
"$M" disable --root "$R" --unit collectd >/dev/null
check "disable --unit: that drop-in only" sh -c '! test -e "$0/etc/systemd/system/collectd.service.d" && test -f "$1"' "$R" "$f"
printf '[Service]\nEnvironment=FOO=1\n' >"$R/etc/systemd/system/other.service.d/mountcache-preload.conf"
"$M" enable --root "$R" --unit other >"$tmp/out" 2>&1
check "enable --unit: a same-named file not ours is refused" sh -c 'test $0 -ne 0 && grep -q "not written by mountcache" "$1"' $? "$tmp/out"
"$M" disable --root "$R" >"$tmp/out" 2>&1
check "disable: exit 0" test $? -eq 0
check "disable: a drop-in not ours is left alone" grep -q FOO=1 "$R/etc/systemd/system/other.service.d/mountcache-preload.conf"
rm "$R/etc/systemd/system/other.service.d/mountcache-preload.conf"
sums >"$tmp/after"
check "round trip: the scratch root as it was (lines, modes, other drop-ins)" cmp -s "$tmp/before" "$tmp/after"
"$M" disable --root "$R" >"$tmp/out" 2>&1
check "disable again: nothing to do, exit 0" sh -c 'test $0 -eq 0 && grep -q "not enabled anywhere" "$1"' $? "$tmp/out"

# 3. No ld.so.preload yet: enable makes it, disable takes it away again.
R2=$tmp/root2; mkdir -p "$R2/etc"
"$M" enable --root "$R2" >/dev/null && "$M" disable --root "$R2" >/dev/null
check "no file before: none after the round trip" test ! -e "$R2/etc/ld.so.preload"

# 4. Refusals: non-zero, a message, nothing changed.
printf 'just text\n' >"$tmp/text.so"
head -c 4096 "$LIB" >"$tmp/trunc.so"
cp "$LIB" "$tmp/aarch64.so"     # e_machine (offset 18) = 183, EM_AARCH64
printf '\267\000' | dd of="$tmp/aarch64.so" bs=1 seek=18 conv=notrunc status=none
cp "$LIB" "$tmp/i386.so"        # EI_CLASS = ELFCLASS32, e_machine = 3, EM_386
printf '\001' | dd of="$tmp/i386.so" bs=1 seek=4 conv=notrunc status=none
printf '\003\000' | dd of="$tmp/i386.so" bs=1 seek=18 conv=notrunc status=none
refuse() {      # refuse NAME LIBRARY MESSAGE [--unit U]
	local name=$1 lib=$2 msg=$3; shift 3
	sums >"$tmp/b"
	"$M" enable --root "$R" --library "$lib" "$@" >"$tmp/out" 2>&1
	local rc=$?
	sums >"$tmp/a"
	check "refused, $name: exit $rc, says '$msg'" sh -c 'test $0 -ne 0 && grep -q "$1" "$2"' $rc "$msg" "$tmp/out"
	check "refused, $name: nothing changed" cmp -s "$tmp/b" "$tmp/a"
}
refuse "missing library" "$tmp/none.so" "library missing"
refuse "a text file" "$tmp/text.so" "not loadable: not an ELF file"
refuse "a truncated library" "$tmp/trunc.so" "not loadable"
refuse "an aarch64 ELF" "$tmp/aarch64.so" "wrong architecture: 64-bit machine 183"
refuse "an i386 ELF" "$tmp/i386.so" "wrong architecture: 32-bit machine 3"
refuse "an executable" "$M" "not loadable"
refuse "a directory" "$tmp" "not a regular file"
refuse "an aarch64 ELF, --unit" "$tmp/aarch64.so" "wrong architecture" --unit udisks2
refuse "a bad unit name" "$LIB" "not a systemd unit name" --unit "../x"

# 5. A line of ours that no longer loads (the library moved away) is
# replaced by the proven one, not kept beside it.
printf '/gone/mountcache/libmountcache-preload.so\n/usr/lib/libother.so\n' >"$R/etc/ld.so.preload"
"$M" enable --root "$R" >/dev/null
check "enable: a stale line of ours replaced" sh -c '! grep -q /gone/ "$0" && grep -qx "$1" "$0" && grep -qx /usr/lib/libother.so "$0"' "$R/etc/ld.so.preload" "$LIB"

# 6. ld.so reads blank- or colon-separated paths and '#' comments: a token
# of ours anywhere is ours (status on, disable takes just it, enable adds
# no second one); every other token, comment and line stays.
R4=$tmp/root4; mkdir -p "$R4/etc"
printf '%s # x\n/a.so %s\n/a.so:%s:/b.so # c\n# %s only named in a comment\n' "$LIB" "$LIB" "$LIB" "$LIB" >"$R4/etc/ld.so.preload"
cp "$R4/etc/ld.so.preload" "$tmp/tokens"
MOUNTCACHE_ROOT=$R4 "$M" status >"$tmp/status"
check "status: 'LIB # x' is on" grep -q "^host-wide: on, .*preloads $LIB\$" "$tmp/status"
printf '/a.so\n/a.so /b.so # c\n# %s only named in a comment\n' "$LIB" >"$tmp/tokens.want"
"$M" enable --root "$R4" >"$tmp/out" 2>&1
check "enable: a token of ours already there, file unchanged" cmp -s "$tmp/tokens" "$R4/etc/ld.so.preload"
"$M" disable --root "$R4" >"$tmp/out" 2>&1
check "disable: our tokens out, other tokens, comments, lines kept" cmp -s "$tmp/tokens.want" "$R4/etc/ld.so.preload"
MOUNTCACHE_ROOT=$R4 "$M" status >"$tmp/status"
check "status: off after disable" grep -qx "host-wide: off" "$tmp/status"

# 7. The maintainer scripts (DPKG_ROOT as the root) do the same, and write
# through a symlinked ld.so.preload, keeping the link.
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
PLIB=/usr/lib/$MA/mountcache/libmountcache-preload.so
for s in prerm postrm; do
	sed -e "s/#DEB_HOST_MULTIARCH#/$MA/" -e '/^#DEBHELPER#$/d' "$(dirname "$0")/../../debian/mountcache.$s" >"$tmp/$s"
	# one that ignores DPKG_ROOT would edit the host's file: not run
	if ! grep -q 'DPKG_ROOT' "$tmp/$s"; then check "$s: honours DPKG_ROOT" false; continue; fi
	R5=$tmp/root5-$s; mkdir -p "$R5/etc" "$R5/real"
	printf '%s # x\n/a.so %s\n/a.so:%s:/b.so # c\n# a comment\n/other/libmountcache-preload.so\n%s\n' "$PLIB" "$PLIB" "$PLIB" "$PLIB" >"$R5/real/preload"
	printf '/a.so\n/a.so /b.so # c\n# a comment\n/other/libmountcache-preload.so\n' >"$tmp/$s.want"
	chmod 0640 "$R5/real/preload"
	ln -s ../real/preload "$R5/etc/ld.so.preload"
	DPKG_ROOT=$R5 sh "$tmp/$s" remove >"$tmp/out" 2>&1
	check "$s: exit 0" test $? -eq 0
	check "$s: only the package's library tokens removed" cmp -s "$tmp/$s.want" "$R5/real/preload"
	check "$s: the symlink kept, mode kept" sh -c 'test -L "$0/etc/ld.so.preload" && test "$(stat -c %a "$0/real/preload")" = 640' "$R5"
done

# 8. Under --root a symlink never leads outside the root: refused, nothing
# changed, the outside target untouched.
X=$tmp/outside; mkdir -p "$X/units"; printf '/usr/lib/libother.so\n' >"$X/target"
R6=$tmp/root6; mkdir -p "$R6/etc/systemd"
ln -s "$X/target" "$R6/etc/ld.so.preload"
ln -s "$X/units" "$R6/etc/systemd/system"
sum6() { (cd "$tmp" && find outside root6 -print0 | sort -z | xargs -0 stat -c '%n %a %s %N' && cat outside/target); }
sum6 >"$tmp/b6"
"$M" enable --root "$R6" --library "$LIB" >"$tmp/out" 2>&1
check "--root, ld.so.preload links outside: enable refused" sh -c 'test $0 -ne 0 && grep -q "symbolic link under --root" "$1"' $? "$tmp/out"
"$M" enable --root "$R6" --unit udisks2 >"$tmp/out" 2>&1
check "--root, unit directory links outside: enable --unit refused" sh -c 'test $0 -ne 0 && grep -q "symbolic link under --root" "$1"' $? "$tmp/out"
sum6 >"$tmp/a6"
check "--root, links outside: enable changed nothing inside or outside" cmp -s "$tmp/b6" "$tmp/a6"
printf '/usr/lib/libother.so\n%s\n' "$LIB" >"$X/target"
mkdir -p "$X/units/cron.service.d"
printf '# Written by `mountcache enable --unit cron.service`\n[Service]\nEnvironment=LD_PRELOAD=%s\n' "$LIB" >"$X/units/cron.service.d/mountcache-preload.conf"
sum6 >"$tmp/b6"
MOUNTCACHE_ROOT=$R6 "$M" disable >"$tmp/out" 2>&1
check "--root, links outside: disable refused" sh -c 'test $0 -ne 0 && grep -q "symbolic link under --root" "$1"' $? "$tmp/out"
sum6 >"$tmp/a6"
check "--root, links outside: nothing changed inside or outside" cmp -s "$tmp/b6" "$tmp/a6"

# 9. On the host's own path (no root), in a private namespace over a copy of
# /etc: a symlinked /etc/ld.so.preload that held only our line keeps its
# link after disable; its target is emptied of our line.
if unshare -m --propagation private true 2>/dev/null; then
	E=$tmp/etc9; mkdir -p "$E" "$tmp/real9"
	cp -a /etc/ld.so.cache "$E/" 2>/dev/null
	: >"$tmp/real9/preload"
	ln -s "$tmp/real9/preload" "$E/ld.so.preload"
	# Between enable and disable every process there preloads $LIB: in an
	# ASan build the ASan runtime must come first (PRE_RT, empty otherwise).
	env ${PRE_RT:+LD_PRELOAD=$PRE_RT} unshare -m --propagation private \
		sh -c 'mount --bind "$0" /etc && "$1" enable --library "$2" && "$1" disable' \
		"$E" "$M" "$LIB" >"$tmp/out" 2>&1
	check "host path, symlinked ld.so.preload: enable and disable exit 0" test $? -eq 0
	check "host path, symlinked ld.so.preload: the link kept" test -L "$E/ld.so.preload"
	check "host path, symlinked ld.so.preload: our line gone from its target" sh -c '! grep -q mountcache "$0"' "$tmp/real9/preload"
fi

echo "enable: $cases cases, $fails failed"
[ "$fails" -eq 0 ]
