/* fdmap.c: the descriptions we serve, and which fd numbers hold them.
 *
 * A description (struct mc_ofd) is what one open() of a mount table made:
 * the view it is served from, the file's identity (device and inode), its
 * shared slot. It is reference-counted by the fds (dup) and FILEs of this
 * process that hold it.
 *
 * Why an entry can be trusted without a system call per read(). An entry
 * for fd N says "N holds the file we opened". That stops being true only
 * if N is freed (and then perhaps handed out again) or replaced. Every
 * libc entry that frees or replaces a number is interposed and updates the
 * map first: close, close_range, closefrom, dup2, dup3, fcntl(F_DUPFD*)
 * and dup (hooks.c); fclose and freopen of a glibc FILE on the fd, and
 * syscall() called with close, close_range, dup2, dup3 (fdwatch.c); our
 * own streams close through their cookie (stream.c). As a second line,
 * every interposed entry that returns a new number (the open family,
 * socket, accept, pipe, eventfd, epoll, memfd, timerfd, signalfd, inotify,
 * fanotify, pidfd, SCM_RIGHTS...) drops what we knew of that number. What
 * remains unseen: inline system calls that bypass libc, io_uring, libc's
 * internal closes of fds it opened itself (never ours), a nested call from
 * a signal handler while we hold our locks. For those, a read that starts
 * a pass (at offset 0, or after a seek) checks the identity once with
 * fstat(); a read that continues a pass does not look. The open itself
 * checked it, so the first pass after an open costs nothing more.
 *
 * The fd map is two-level and never shrinks; an fd that is not ours is one
 * relaxed load away from the real read(). fd_lock guards the map's
 * entries, the references and the slot pages. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "ofd.h"

struct mc_ofd **mc_fd_map[MC_FD_L1_SIZE];      /* preload.h's mc_fd_peek() reads it */
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mc_ofd *all_ofds;

static struct mc_ofd **map_slot(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= MC_FD_L1_SIZE * MC_FD_L2_SIZE)
		return NULL;
	struct mc_ofd **l2 = __atomic_load_n(&mc_fd_map[fd >> MC_FD_L2_BITS], __ATOMIC_ACQUIRE);
	if (!l2 && create) {
		l2 = mc_zalloc(MC_FD_L2_SIZE * sizeof *l2);
		if (!l2)
			return NULL;
		__atomic_store_n(&mc_fd_map[fd >> MC_FD_L2_BITS], l2, __ATOMIC_RELEASE);
	}
	return l2 ? &l2[fd & (MC_FD_L2_SIZE - 1)] : NULL;
}

/* Descriptions come from a pool of pages and go back to it: an mmap and a
 * munmap per open cost two system calls. Under fd_lock. */
static struct mc_ofd *pool;

static struct mc_ofd *ofd_alloc_locked(void)
{
	if (!pool) {
		struct mc_ofd *page = mc_zalloc(4096);
		if (!page)
			return NULL;
		for (size_t i = 0; i < 4096 / sizeof *page; i++) {
			page[i].all_next = pool;
			pool = &page[i];
		}
	}
	struct mc_ofd *o = pool;
	pool = o->all_next;
	memset(o, 0, sizeof *o);
	return o;
}

static void ofd_free_locked(struct mc_ofd *o)
{
	o->all_next = pool;
	pool = o;
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
	mc_slot_put(o->slot);
	mc_snap_unref(o->snap);
	ofd_free_locked(o);
}

int mc_fd_track(int fd, struct mc_view *v, enum mc_format fmt, const struct stat *st)
{
	bool locked = mc_lock_shared(&fd_lock);
	struct mc_ofd **e = map_slot(fd, true);
	struct mc_ofd *o = e ? ofd_alloc_locked() : NULL;
	if (o)
		o->slot = mc_slot_alloc();
	if (!o || !o->slot) {
		if (o)
			ofd_free_locked(o);
		mc_unlock_shared(&fd_lock, locked);
		return -ENOMEM;
	}
	o->refs = 1;
	o->view = v;
	o->fmt = fmt;
	o->dev = st->st_dev;
	o->ino = st->st_ino;
	o->blksize = st->st_blksize;
	o->id_fresh = 1;
	if (*e)                         /* a stale entry: the fd was reused */
		ofd_unref_locked(*e);
	o->all_next = all_ofds;
	all_ofds = o;
	__atomic_store_n(e, o, __ATOMIC_RELEASE);
	mc_unlock_shared(&fd_lock, locked);
	return 0;
}

struct mc_ofd *mc_fd_get(int fd)
{
	struct mc_ofd **e = map_slot(fd, false);
	if (likely(!e || !__atomic_load_n(e, __ATOMIC_RELAXED)))
		return NULL;
	bool locked = mc_lock_shared(&fd_lock);
	struct mc_ofd *o = *e;
	if (o)
		o->refs++;
	mc_unlock_shared(&fd_lock, locked);
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
	bool locked = mc_lock_shared(&fd_lock);
	ofd_unref_locked(o);
	mc_unlock_shared(&fd_lock, locked);
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
	bool locked = mc_lock_shared(&fd_lock);
	forget_locked(fd);
	mc_unlock_shared(&fd_lock, locked);
}

void mc_fd_forget_range(unsigned first, unsigned last)
{
	bool locked = mc_lock_shared(&fd_lock);
	/* Walk the live descriptions, not the (possibly huge) range. */
	for (unsigned l1 = first >> MC_FD_L2_BITS; l1 < MC_FD_L1_SIZE && l1 <= (last >> MC_FD_L2_BITS); l1++) {
		if (!mc_fd_map[l1])
			continue;
		for (unsigned i = 0; i < MC_FD_L2_SIZE; i++) {
			unsigned fd = l1 << MC_FD_L2_BITS | i;
			if (fd >= first && fd <= last && mc_fd_map[l1][i])
				forget_locked((int)fd);
		}
	}
	mc_unlock_shared(&fd_lock, locked);
}

void mc_fd_dup(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	bool locked = mc_lock_shared(&fd_lock);
	forget_locked(newfd);
	struct mc_ofd **from = map_slot(oldfd, false);
	struct mc_ofd **to = from && *from ? map_slot(newfd, true) : NULL;
	if (to) {
		(*from)->refs++;
		__atomic_store_n(to, *from, __ATOMIC_RELEASE);
	}
	mc_unlock_shared(&fd_lock, locked);
}

void mc_fd_each(void (*fn)(int fd, struct mc_ofd *o))
{
	bool locked = mc_lock_shared(&fd_lock);
	for (unsigned l1 = 0; l1 < MC_FD_L1_SIZE; l1++) {
		if (!mc_fd_map[l1])
			continue;
		for (unsigned i = 0; i < MC_FD_L2_SIZE; i++) {
			struct mc_ofd *o = mc_fd_map[l1][i];
			if (o)
				fn((int)(l1 << MC_FD_L2_BITS | i), o);
		}
	}
	mc_unlock_shared(&fd_lock, locked);
}

blksize_t mc_ofd_blksize(const struct mc_ofd *o)
{
	return o->blksize;
}

void mc_ofd_set_stream(struct mc_ofd *o, FILE *fp)
{
	__atomic_store_n(&o->fp, fp, __ATOMIC_RELEASE);
}

/* ---- fork --------------------------------------------------------------
 * Lock order everywhere: view locks, then fd_lock, then the parse lock
 * (nothing holds it while taking another). A slot lock may be held
 * by another thread at fork time; it lives in shared memory, so the child
 * sees it released when that thread releases it in the parent. */
void mc_ofd_atfork_prepare(void)
{
	mc_views_lock_all();
	pthread_mutex_lock(&fd_lock);
	/* The child will share every slot: their hit paths lock from now on
	 * (mc_slot_lock_hot). Never undone: a fork that fails costs locks. */
	for (struct mc_ofd *o = all_ofds; o; o = o->all_next)
		__atomic_store_n(&o->slot->forked, 1, __ATOMIC_RELAXED);
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
	mc_snap_atfork_release();
	/* Every description now has one more process holding its slot. */
	for (struct mc_ofd *o = all_ofds; o; o = o->all_next)
		__atomic_add_fetch(&o->slot->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&fd_lock);
	mc_views_atfork_child();
}
