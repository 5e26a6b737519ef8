/* ofd.c: reading a served description.
 *
 * Reads follow seq_file's rule for when the text is rendered anew: a read
 * that starts at offset 0, or anywhere other than where the previous read
 * ended, takes a fresh snapshot; a read that continues where the last one
 * ended continues the same snapshot, so no table is ever served torn. How
 * many bytes each read returns is seqfile.c's; where the description and
 * its shared offsets live, fdmap.c's and slot.c's. When no snapshot can be
 * had, the kernel's own bytes are read at our offset. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ofd.h"

int mc_ofd_settle(struct mc_ofd *o, int64_t pos)
{
	struct mc_slot *s = o->slot;

	if (mc_ofd_continues(o, pos))
		return 0;                       /* continuing a read */
	struct mc_snap *snap;
	int r = mc_view_snapshot(o->view, &snap);
	if (r < 0) {
		MC_DEBUG("read: no snapshot (%s), the kernel answers", strerrorname_np(-r));
		return r;
	}
	mc_snap_unref(o->snap);
	o->snap = snap;
	s->gen = snap->gen;
	o->ment = NULL;
	if (pos != 0 && pos == s->read_pos)
		s->read_pos = -1;               /* another text: find pos anew */
	return 0;
}

/* The kernel's own bytes at @pos, for when no snapshot can be had: pread on
 * a seq_file renders from the start up to @pos, exactly what a read would
 * have returned there. */
static ssize_t kernel_read(int fd, const struct iovec *iov, int iovcnt, int64_t pos)
{
	ssize_t n;
	do
		n = syscall(SYS_preadv, fd, iov, iovcnt, (long)pos, 0L);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* No snapshot to be had (churn, or no fd of our own): the kernel's own
 * bytes. Sequential reads go through the fd itself, moved once to our
 * offset: a pread at each offset would render the table from its start
 * every time. */
static ssize_t kernel_seq(struct mc_slot *s, int fd, const struct iovec *iov, int iovcnt,
			  int64_t pos, bool explicit_off)
{
	if (explicit_off)
		return kernel_read(fd, iov, iovcnt, pos);
	if (s->kpos != pos && mc_sys_lseek(fd, pos, SEEK_SET) != pos)
		return kernel_read(fd, iov, iovcnt, pos);
	ssize_t n;
	do
		n = syscall(SYS_readv, fd, iov, iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	s->kpos = pos + n;
	s->read_pos = -1;               /* our window is not the kernel's */
	return n;
}

/* With slot->lock held and o->snap settled: the seq_file piece at @pos,
 * copied into @iov. */
static size_t snap_read(struct mc_ofd *o, const struct iovec *iov, int iovcnt, int64_t pos, size_t total)
{
	struct mc_slot *s = o->slot;
	struct mc_snap *snap = o->snap;
	/* A pass from the start that is not the snapshot's first pays for its
	 * line index once; a one-off read walks the text. */
	if (pos == 0)
		__atomic_add_fetch(&snap->passes, 1, __ATOMIC_RELAXED);
	struct mc_seq_text t = {
		.text = snap->text,
		.len = snap->len,
		.lines = __atomic_load_n(&snap->passes, __ATOMIC_RELAXED) > 1 ? mc_snap_lines(snap)
									       : mc_snap_lines_built(snap),
	};
	size_t n = mc_seq_read(&s->seq, &t, pos, s->read_pos, total);
	size_t left = n, at = (size_t)pos;
	for (int i = 0; i < iovcnt && left; i++) {
		size_t c = left < iov[i].iov_len ? left : iov[i].iov_len;
		memcpy(iov[i].iov_base, snap->text + at, c);
		at += c;
		left -= c;
	}
	return n;
}

/* A read at 0, or anywhere but where the last one ended, starts a pass:
 * seq_file renders the text anew, and we look at what the fd holds. */
static bool starts_pass(const struct mc_slot *s, int64_t pos)
{
	return pos == 0 || pos != s->read_pos;
}

/* Once per pass, one fstat; none for the first pass after the open, which
 * checked the file itself. */
static bool identity_holds(struct mc_ofd *o, int fd)
{
	if (__atomic_exchange_n(&o->id_fresh, 0, __ATOMIC_ACQ_REL))
		return true;
	return mc_ofd_check_fd(o, fd);
}

ssize_t mc_ofd_read(struct mc_ofd *o, int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct mc_slot *s = o->slot;
	size_t total = 0;
	ssize_t n;
	bool from_kernel = false;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	mc_slot_lock(s);
	mc_slot_follow_kernel(s, fd);
	int64_t pos = off >= 0 ? off : s->pos;
	if (starts_pass(s, pos) && !identity_holds(o, fd)) {
		mc_slot_unlock(s);
		return MC_OFD_NOT_OURS;
	}
	if (total == 0) {
		n = 0;
	} else if ((off < 0 && mc_slot_in_kernel_pass(s, pos)) ||
		   mc_ofd_settle(o, pos) < 0) {
		/* No snapshot, or the rest of a pass the kernel began: one
		 * pass never mixes the kernel's bytes with a snapshot's. */
		n = kernel_seq(s, fd, iov, iovcnt, pos, off >= 0);
		from_kernel = true;
		s->kernel_pass = n > 0 && off < 0;
	} else {
		s->kernel_pass = 0;
		n = (ssize_t)snap_read(o, iov, iovcnt, pos, total);
	}
	if (n > 0) {
		s->read_pos = from_kernel ? -1 : pos + n;
		if (off < 0)
			s->pos = pos + n;
	}
	mc_slot_unlock(s);
	return n;
}

ssize_t mc_ofd_read_hit(struct mc_ofd *o, void *buf, size_t n, struct mc_snap **keep, int64_t *ret_pos)
{
	struct mc_slot *s = o->slot;
	struct mc_snap *old = NULL;
	ssize_t r = MC_OFD_BLOCKS;

	bool locked = mc_slot_lock_hot(s);
	int64_t pos = s->pos;
	/* mc_ofd_read()'s path for exactly this case: no kernel offset to
	 * follow, not a pass start (no identity check, no snapshot to take),
	 * not the kernel's pass. */
	if (n && s->kpos < 0 && !s->kernel_pass && mc_ofd_continues(o, pos)) {
		struct iovec iov = { buf, n };
		r = (ssize_t)snap_read(o, &iov, 1, pos, n);
		if (r > 0)
			s->pos = s->read_pos = pos + r;
		*ret_pos = pos;
		if (keep && *keep != o->snap) { /* a new pass's: one reference */
			old = *keep;
			*keep = mc_snap_ref(o->snap);
		}
	}
	mc_slot_unlock_hot(s, locked);
	mc_snap_unref(old);
	return r;
}

ssize_t mc_ofd_read_nested(struct mc_ofd *o, int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	struct mc_slot *s = o->slot;
	int64_t pos = off >= 0 ? off : __atomic_load_n(&s->pos, __ATOMIC_ACQUIRE);
	ssize_t n = kernel_read(fd, iov, iovcnt, pos);
	if (n > 0 && off < 0)
		__atomic_store_n(&s->pos, pos + n, __ATOMIC_RELEASE);
	/* Our window no longer matches what was read: find pos anew. */
	__atomic_store_n(&s->read_pos, -1, __ATOMIC_RELEASE);
	return n;
}

off_t mc_ofd_lseek(struct mc_ofd *o, off_t off, int whence)
{
	struct mc_slot *s = o->slot;
	off_t r;

	/* seq_lseek: SEEK_SET and SEEK_CUR only, never negative; anything
	 * past the end is allowed (reads there return 0). */
	mc_slot_lock(s);
	if (whence == SEEK_CUR) {
		if (__builtin_add_overflow(s->pos, off, &off))
			off = -1;
	} else if (whence != SEEK_SET) {
		off = -1;
	}
	if (off < 0) {
		r = -EINVAL;
	} else {
		s->pos = off;
		r = off;
	}
	mc_slot_unlock(s);
	return r;
}
