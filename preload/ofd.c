/* ofd.c: the open file descriptions we serve from snapshots.
 *
 * The kernel keeps one file position per open file description, shared by
 * every fd that dup() made and by parent and child after fork(). We do the
 * same: each description has a slot in MAP_SHARED memory holding the
 * position, the end of the last read (seq_file's read_pos) and the
 * generation of the snapshot those offsets refer to. Descriptions are
 * reference-counted per fd in this process; slots per process.
 *
 * Reads follow seq_file's rule for when the text is rendered anew: a read
 * that starts at offset 0, or anywhere other than where the previous read
 * ended, takes a fresh snapshot; a read that continues where the last one
 * ended continues the same snapshot, so no table is ever served torn.
 *
 * The fd map is two-level and never shrinks; an fd that is not ours is one
 * relaxed load away from the real read(). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

/* ---- shared slots ----------------------------------------------------- */
#define SEQ_PAGE 4096
struct mc_slot {
	int owner;                      /* lock: 0 free, else the holder's pid */
	int64_t pos;
	int64_t read_pos;
	int64_t kend;                   /* seq_file: end of the rendered window */
	int64_t kpos;                   /* kernel offset we set for exec, or -1 */
	uint32_t bufsize;               /* seq_file: its buffer size */
	int32_t kernel_pass;            /* the last read was the kernel's */
	uint64_t gen;
	int refs;                       /* processes holding it, atomic */
} __attribute__((aligned(128)));

#define SLOTS_PER_PAGE 31
struct slot_page {
	uint32_t used;                  /* bitmap, atomic, shared */
	struct slot_page *next;         /* private list (same value in a child) */
	struct mc_slot slots[SLOTS_PER_PAGE];
};

_Static_assert(sizeof(struct slot_page) <= 4096, "slot page fits a page");
static struct slot_page *pages;        /* guarded by fd_lock */

static struct mc_slot *slot_alloc(void)
{
	for (struct slot_page *p = pages; ; p = p->next) {
		if (!p) {
			p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return NULL;
			p->next = pages;
			pages = p;
		}
		uint32_t used = __atomic_load_n(&p->used, __ATOMIC_ACQUIRE);
		while (used != (1u << SLOTS_PER_PAGE) - 1) {
			int i = __builtin_ctz(~used);
			if (__atomic_compare_exchange_n(&p->used, &used, used | 1u << i, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				struct mc_slot *s = &p->slots[i];
				s->owner = 0;
				s->pos = s->read_pos = s->kend = 0;
				s->kpos = -1;
				s->bufsize = SEQ_PAGE;
				s->kernel_pass = 0;
				s->gen = 0;
				s->refs = 1;
				return s;
			}
		}
	}
}

static void slot_put(struct mc_slot *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	struct slot_page *p = (struct slot_page *)((uintptr_t)s & ~(uintptr_t)4095);
	int i = (int)(s - p->slots);
	__atomic_and_fetch(&p->used, ~(1u << i), __ATOMIC_RELEASE);
}

/* The slot lock is one word in the shared page: a compare-and-swap when
 * free (the getmntent hit path takes it once per entry, so a robust pthread
 * mutex, ~35 ns, would cost more than the rest of the entry). Held only
 * while copying from memory. A holder that died (SIGKILL mid-read) is
 * recognised by its pid and its lock taken over: it left the offsets as
 * they were after its last complete update, still coherent. */
static int my_pid;

static __attribute__((noinline)) void slot_lock_slow(struct mc_slot *s, int me)
{
	for (unsigned spins = 1; ; spins++) {
		int owner = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
		if (owner == 0) {
			if (__atomic_compare_exchange_n(&s->owner, &owner, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
		} else if (spins % 64 == 0 && owner != me && kill(owner, 0) < 0 && errno == ESRCH) {
			if (__atomic_compare_exchange_n(&s->owner, &owner, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
		}
		sched_yield();
	}
}

static inline void slot_lock(struct mc_slot *s)
{
	int me = __atomic_load_n(&my_pid, __ATOMIC_RELAXED);
	if (unlikely(me == 0))
		__atomic_store_n(&my_pid, me = getpid(), __ATOMIC_RELAXED);
	int free_ = 0;
	if (likely(__atomic_compare_exchange_n(&s->owner, &free_, me, false,
					       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
		return;
	slot_lock_slow(s, me);
}

static inline void slot_unlock(struct mc_slot *s)
{
	__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}

/* ---- descriptions and the fd map -------------------------------------- */
struct mc_ofd {
	int refs;                       /* fds and FILEs here; under fd_lock */
	struct mc_slot *slot;
	struct mc_view *view;
	enum mc_format fmt;
	dev_t dev;
	ino_t ino;
	struct mc_snap *snap;           /* under slot->lock */
	size_t line_hint;               /* getmntent: next line, under slot->lock */
	FILE *fp;
	struct mc_ofd *all_next;        /* every live description, for fork */
};

#define L2_BITS 10
#define L2_SIZE (1u << L2_BITS)
#define L1_SIZE 1024                    /* fds up to 1M are tracked */
static struct mc_ofd **fd_map[L1_SIZE];
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mc_ofd *all_ofds;

static struct mc_ofd **map_slot(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= L1_SIZE * L2_SIZE)
		return NULL;
	struct mc_ofd **l2 = __atomic_load_n(&fd_map[fd >> L2_BITS], __ATOMIC_ACQUIRE);
	if (!l2 && create) {
		l2 = mc_zalloc(L2_SIZE * sizeof *l2);
		if (!l2)
			return NULL;
		__atomic_store_n(&fd_map[fd >> L2_BITS], l2, __ATOMIC_RELEASE);
	}
	return l2 ? &l2[fd & (L2_SIZE - 1)] : NULL;
}

static void ofd_unref_locked(struct mc_ofd *o)
{
	if (--o->refs > 0)
		return;
	for (struct mc_ofd **pp = &all_ofds; *pp; pp = &(*pp)->all_next)
		if (*pp == o) {
			*pp = o->all_next;
			break;
		}
	slot_put(o->slot);
	mc_snap_unref(o->snap);
	mc_zfree(o, sizeof *o);
}

int mc_fd_track(int fd, struct mc_view *v, enum mc_format fmt)
{
	struct stat st;
	if (mc_sys_fstat(fd, &st) < 0)
		return -errno;
	struct mc_ofd *o = mc_zalloc(sizeof *o);
	if (!o)
		return -ENOMEM;
	o->refs = 1;
	o->view = v;
	o->fmt = fmt;
	o->dev = st.st_dev;
	o->ino = st.st_ino;

	pthread_mutex_lock(&fd_lock);
	struct mc_ofd **e = map_slot(fd, true);
	o->slot = e ? slot_alloc() : NULL;
	if (!o->slot) {
		pthread_mutex_unlock(&fd_lock);
		mc_zfree(o, sizeof *o);
		return -ENOMEM;
	}
	if (*e)                         /* a stale entry: the fd was reused */
		ofd_unref_locked(*e);
	o->all_next = all_ofds;
	all_ofds = o;
	__atomic_store_n(e, o, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fd_lock);
	return 0;
}

struct mc_ofd *mc_fd_peek(int fd)
{
	struct mc_ofd **e = map_slot(fd, false);
	return e ? __atomic_load_n(e, __ATOMIC_ACQUIRE) : NULL;
}

struct mc_ofd *mc_fd_get(int fd)
{
	struct mc_ofd **e = map_slot(fd, false);
	if (likely(!e || !__atomic_load_n(e, __ATOMIC_RELAXED)))
		return NULL;
	pthread_mutex_lock(&fd_lock);
	struct mc_ofd *o = *e;
	if (o)
		o->refs++;
	pthread_mutex_unlock(&fd_lock);
	return o;
}

struct mc_ofd *mc_fd_get_checked(int fd)
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (o && mc_ofd_check_fd(o, fd))
		return o;
	/* closed behind our back (a raw syscall) and the number reused */
	if (o)
		mc_ofd_put(o);
	mc_fd_forget(fd);
	return NULL;
}

void mc_ofd_put(struct mc_ofd *o)
{
	pthread_mutex_lock(&fd_lock);
	ofd_unref_locked(o);
	pthread_mutex_unlock(&fd_lock);
}

bool mc_ofd_check_fd(struct mc_ofd *o, int fd)
{
	struct stat st;
	/* Only proof counts: another file behind the number, or no file at
	 * all. A transient failure (ENOMEM, EINTR...) is no reason to leave
	 * the program's reads to a kernel offset we never moved. */
	if (mc_sys_fstat(fd, &st) < 0)
		return errno != EBADF;
	return st.st_dev == o->dev && st.st_ino == o->ino;
}

static void forget_locked(int fd)
{
	struct mc_ofd **e = map_slot(fd, false);
	if (e && *e) {
		struct mc_ofd *o = *e;
		__atomic_store_n(e, NULL, __ATOMIC_RELEASE);
		ofd_unref_locked(o);
	}
}

void mc_fd_forget(int fd)
{
	struct mc_ofd **e = map_slot(fd, false);
	if (likely(!e || !__atomic_load_n(e, __ATOMIC_RELAXED)))
		return;
	pthread_mutex_lock(&fd_lock);
	forget_locked(fd);
	pthread_mutex_unlock(&fd_lock);
}

void mc_fd_forget_range(unsigned first, unsigned last)
{
	pthread_mutex_lock(&fd_lock);
	/* Walk the live descriptions, not the (possibly huge) range. */
	for (unsigned l1 = first >> L2_BITS; l1 < L1_SIZE && l1 <= (last >> L2_BITS); l1++) {
		if (!fd_map[l1])
			continue;
		for (unsigned i = 0; i < L2_SIZE; i++) {
			unsigned fd = l1 << L2_BITS | i;
			if (fd >= first && fd <= last && fd_map[l1][i])
				forget_locked((int)fd);
		}
	}
	pthread_mutex_unlock(&fd_lock);
}

void mc_fd_dup(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	pthread_mutex_lock(&fd_lock);
	forget_locked(newfd);
	struct mc_ofd **from = map_slot(oldfd, false);
	struct mc_ofd **to = from && *from ? map_slot(newfd, true) : NULL;
	if (to) {
		(*from)->refs++;
		__atomic_store_n(to, *from, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fd_lock);
}

void mc_ofd_set_stream(struct mc_ofd *o, FILE *fp)
{
	__atomic_store_n(&o->fp, fp, __ATOMIC_RELEASE);
}

/* ---- reading ---------------------------------------------------------- */

/* With slot->lock held: make o->snap the snapshot a read at @pos must see.
 * Returns 0, or <0 when no snapshot can be had. */
static int settle_snapshot(struct mc_ofd *o, int64_t pos)
{
	struct mc_slot *s = o->slot;
	bool same_gen = o->snap && s->gen == o->snap->gen;

	if (same_gen && pos != 0 && pos == s->read_pos)
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
	o->line_hint = 0;
	if (pos != 0 && pos == s->read_pos)
		s->read_pos = -1;               /* another text: find pos anew */
	return 0;
}

/* ---- seq_file's read, emulated -----------------------------------------
 * The kernel renders whole records (lines) into a buffer of one page
 * (doubled for a record that does not fit: a line fits only if shorter than
 * the buffer) and copies from it; what a read() returns per call is part of
 * what a program can observe, so we reproduce it from the snapshot text:
 * the same bytes in the same pieces. State per description: kend, the end
 * of the rendered window (bytes in [pos, kend) are rendered, not yet
 * copied), and bufsize. See fs/seq_file.c: seq_read_iter(), traverse(). */

static size_t line_end(const struct mc_snap *snap, size_t from)
{
	const char *nl = memchr(snap->text + from, '\n', snap->len - from);
	return nl ? (size_t)(nl - snap->text) + 1 : snap->len;
}

/* Walks the lines of a snapshot from a line start: through the snapshot's
 * line index when it has one (a memchr per line cost more than the copy:
 * ~40 per page), else through the text. */
struct cursor {
	const struct mc_snap *snap;
	const uint32_t *lines;          /* mc_snap_lines(), or NULL */
	size_t i;                       /* with lines: the next line */
};

static void cursor_at(struct cursor *c, const struct mc_snap *snap, const uint32_t *lines, size_t from)
{
	c->snap = snap;
	c->lines = lines;
	c->i = 1;
	if (lines) {                    /* the first line that ends past @from */
		size_t lo = 1, hi = (size_t)lines[0] + 1;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (lines[mid] <= from)
				lo = mid + 1;
			else
				hi = mid;
		}
		c->i = lo;
	}
}

/* The end of the line that starts at @from, the cursor's next line. */
static size_t cursor_next(struct cursor *c, size_t from)
{
	if (!c->lines)
		return line_end(c->snap, from);
	return c->i <= c->lines[0] ? c->lines[c->i++] : c->snap->len;
}

static void fit(struct mc_slot *s, size_t record)
{
	while (record >= s->bufsize && s->bufsize < (1u << 30))
		s->bufsize <<= 1;
}

/* traverse(): render from the start up to @pos, which leaves the window
 * ending with the record that contains @pos. */
static void seq_traverse(struct mc_slot *s, const struct mc_snap *snap, const uint32_t *lines, int64_t pos)
{
	struct cursor c;
	size_t at = 0;

	s->kend = 0;
	if (pos == 0)
		return;
	cursor_at(&c, snap, lines, 0);
	while (at < snap->len) {
		size_t e = cursor_next(&c, at);
		fit(s, e - at);
		s->kend = (int64_t)e;
		if ((int64_t)e >= pos)
			return;
		at = e;
	}
}

/* How many bytes from @pos one read of @want bytes returns. */
static size_t seq_read(struct mc_slot *s, const struct mc_snap *snap, const uint32_t *lines,
		       int64_t pos, size_t want)
{
	struct cursor c;
	size_t copied = 0;

	if (pos == 0)
		s->kend = 0;
	if (pos != s->read_pos)
		seq_traverse(s, snap, lines, pos);
	if (s->kend > pos) {                    /* the rest of the window first */
		size_t left = (size_t)(s->kend - pos);
		copied = left < want ? left : want;
		if (copied < left)
			return copied;
	}
	size_t at = (size_t)s->kend, remaining = want - copied;
	if (s->kend < pos || at >= snap->len)
		return copied;                  /* end of file */
	cursor_at(&c, snap, lines, at);
	size_t end = cursor_next(&c, at);       /* one record, whatever its size */
	fit(s, end - at);
	size_t count = end - at;
	while (end < snap->len && count < remaining) {
		size_t e = cursor_next(&c, end);
		if (count + (e - end) >= s->bufsize)
			break;
		count += e - end;
		end = e;
	}
	s->kend = (int64_t)end;
	return copied + (count < remaining ? count : remaining);
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

static void follow_kernel(struct mc_slot *s, int fd);

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
	slot_lock(s);
	follow_kernel(s, fd);
	int64_t pos = off >= 0 ? off : s->pos;
	if (total == 0) {
		n = 0;
	} else if ((s->kernel_pass && off < 0 && pos != 0 && pos == s->kpos) ||
		   settle_snapshot(o, pos) < 0) {
		/* No snapshot, or the rest of a pass the kernel began: one
		 * pass never mixes the kernel's bytes with a snapshot's. */
		n = kernel_seq(s, fd, iov, iovcnt, pos, off >= 0);
		from_kernel = true;
		s->kernel_pass = n > 0 && off < 0;
	} else {
		s->kernel_pass = 0;
		struct mc_snap *snap = o->snap;
		/* A pass from the start that is not the snapshot's first pays
		 * for its line index once; a one-off read walks the text. */
		if (pos == 0)
			__atomic_add_fetch(&snap->passes, 1, __ATOMIC_RELAXED);
		const uint32_t *lines = __atomic_load_n(&snap->passes, __ATOMIC_RELAXED) > 1
						? mc_snap_lines(snap)
						: mc_snap_lines_built(snap);
		size_t left = seq_read(s, snap, lines, pos, total);
		size_t at = (size_t)pos;
		n = (ssize_t)left;
		for (int i = 0; i < iovcnt && left; i++) {
			size_t c = left < iov[i].iov_len ? left : iov[i].iov_len;
			memcpy(iov[i].iov_base, snap->text + at, c);
			at += c;
			left -= c;
		}
	}
	if (n > 0) {
		s->read_pos = from_kernel ? -1 : pos + n;
		if (off < 0)
			s->pos = pos + n;
	}
	slot_unlock(s);
	return n;
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
	slot_lock(s);
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
	slot_unlock(s);
	return r;
}

/* ---- the kernel's own file position ------------------------------------
 * We never read through the program's fd, so the kernel's offset stays at
 * 0. Nothing shows that (the program reads through us) except: a program
 * exec'd with the fd, sendfile/splice/copy_file_range (the kernel reads it
 * directly), and /proc/self/fdinfo. Before the first two we move the
 * kernel's offset to ours (seq_lseek renders up to it: a read's cost, but
 * only then); after sendfile & co. we take the kernel's offset back. */

static void sync_one(struct mc_ofd *o, int fd)
{
	int64_t pos = __atomic_load_n(&o->slot->pos, __ATOMIC_ACQUIRE);
	if (mc_ofd_check_fd(o, fd) && mc_sys_lseek(fd, pos, SEEK_SET) == pos)
		__atomic_store_n(&o->slot->kpos, pos, __ATOMIC_RELEASE);
}

/* With slot->lock held, for descriptions another program may now share
 * (we set the kernel offset for an exec): if that program moved the
 * kernel's offset, the shared offset is the kernel's. */
static void follow_kernel(struct mc_slot *s, int fd)
{
	if (likely(s->kpos < 0))
		return;
	off_t k = mc_sys_lseek(fd, 0, SEEK_CUR);
	if (k >= 0 && k != s->kpos) {
		s->pos = s->kpos = k;
		s->read_pos = -1;
	}
}

void mc_fd_sync_kernel(int fd)
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (o) {
		sync_one(o, fd);
		mc_ofd_put(o);
	}
}

void mc_fd_adopt_kernel(int fd)
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (!o)
		return;
	off_t k = mc_sys_lseek(fd, 0, SEEK_CUR);
	if (k >= 0 && mc_ofd_check_fd(o, fd)) {
		slot_lock(o->slot);
		o->slot->pos = k;
		o->slot->read_pos = -1;         /* our window is not the kernel's */
		slot_unlock(o->slot);
	}
	mc_ofd_put(o);
}

void mc_fd_sync_kernel_inherited(void)
{
	pthread_mutex_lock(&fd_lock);
	for (unsigned l1 = 0; l1 < L1_SIZE; l1++) {
		if (!fd_map[l1])
			continue;
		for (unsigned i = 0; i < L2_SIZE; i++) {
			int fd = (int)(l1 << L2_BITS | i);
			struct mc_ofd *o = fd_map[l1][i];
			if (o && !(mc_sys_fcntl(fd, F_GETFD, 0) & FD_CLOEXEC))
				sync_one(o, fd);
		}
	}
	pthread_mutex_unlock(&fd_lock);
}

/* ---- getmntent -------------------------------------------------------- */

static size_t line_at(const struct mc_table *t, size_t hint, int64_t pos, bool *ret_found)
{
	if (hint < t->n && t->ents[hint].line_off == pos) {
		*ret_found = true;
		return hint;
	}
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ents[mid].line_off < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = lo == t->n || t->ents[lo].line_off == pos;
	return lo;
}

int mc_ofd_getmntent(struct mc_ofd *o, struct mntent *mp, char *buf, int bufsiz)
{
	struct mc_slot *s = o->slot;
	int r = -EAGAIN;

	if (o->fmt != MC_MOUNTS || bufsiz <= 0)
		return -EINVAL;
	slot_lock(s);
	int64_t pos = s->pos;
	if (settle_snapshot(o, pos) < 0)
		goto out;
	const struct mc_snap *snap = o->snap;
	struct mc_table *t = mc_snap_table(o->snap);
	if (!t)
		goto out;
	if ((size_t)pos >= snap->len) {
		r = 0;
		goto out;
	}
	bool found;
	size_t i = line_at(t, o->line_hint, pos, &found);
	if (!found)                     /* mid-line: the program mixed in fgets */
		goto out;
	for (r = 0; i < t->n && r == 0; i++) {
		const struct mc_mount *m = &t->ents[i];
		const char *line = snap->text + m->line_off;
		bool nl = (size_t)m->line_off + m->line_len < snap->len;

		/* An autofs "ignore" line: glibc parses it into the caller's
		 * buffer and entry before it skips it (what it leaves there
		 * shows in the next entry's freq and passno when that line
		 * lacks them), and lists it when a short buffer cut "ignore"
		 * off: the full emulation, for these rare lines. */
		if (m->mntent_skip) {
			if (mc_mntent_from_line(line, m->line_len, nl, mp, buf, bufsiz))
				r = 1;
			pos = m->line_off + m->line_len + (nl ? 1 : 0);
			continue;
		}
		if (m->mntent_fast && (size_t)m->line_len + 2 <= (size_t)bufsiz) {
			/* The whole line fits: glibc would produce exactly the
			 * fields we decoded at parse time. One copy. */
			memcpy(buf, t->arena + m->mntent_off, m->mntent_len);
			mp->mnt_fsname = buf + (m->source - m->mntent_off);
			mp->mnt_dir = buf + (m->target - m->mntent_off);
			mp->mnt_type = buf + (m->fstype - m->mntent_off);
			mp->mnt_opts = buf + (m->vfs_opts - m->mntent_off);
			mp->mnt_freq = m->freq;
			mp->mnt_passno = m->passno;
			r = 1;
		} else if (mc_mntent_from_line(line, m->line_len, nl, mp, buf, bufsiz)) {
			r = 1;
		}
		pos = m->line_off + m->line_len + (nl ? 1 : 0);
	}
	o->line_hint = i;
	s->pos = s->read_pos = s->kend = pos;
out:
	slot_unlock(s);
	return r;
}

/* ---- fork ------------------------------------------------------------- */
/* Lock order everywhere: view locks, then fd_lock, then the parse lock
 * (nothing holds it while taking another). A slot lock may be held
 * by another thread at fork time; it lives in shared memory, so the child
 * sees it released when that thread releases it in the parent. */
void mc_ofd_atfork_prepare(void)
{
	mc_views_lock_all();
	pthread_mutex_lock(&fd_lock);
	mc_snap_atfork_prepare();
}

void mc_ofd_atfork_parent(void)
{
	mc_snap_atfork_release();
	pthread_mutex_unlock(&fd_lock);
	mc_views_unlock_all();
}

void mc_ofd_atfork_child(void)
{
	my_pid = getpid();
	mc_snap_atfork_release();
	/* Every description now has one more process holding its slot. */
	for (struct mc_ofd *o = all_ofds; o; o = o->all_next)
		__atomic_add_fetch(&o->slot->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&fd_lock);
	mc_views_atfork_child();
}
