/* view.c: per-process views of the mount table, each with its own kernel fd
 * (for the change events) and its latest validated snapshot.
 *
 * Freshness. A kept snapshot is served only if (a) one poll() on the view's
 * fd shows no change since the snapshot was validated, (b) this process has
 * not changed the table since (mount() and friends call
 * mc_views_invalidate()), and (c) it is younger than mc_max_age_ns. (c) is
 * the bound for the one kind of change the kernel never announces: a
 * propagation flip (MS_SHARED/MS_PRIVATE/MS_SLAVE/MS_UNBINDABLE through
 * mount(2)) made by another process. See capture.c.
 *
 * Why (a) is enough for everything else: the kernel bumps the namespace's
 * event counter before the mount syscall returns, so a read that begins
 * after a change completed polls after the bump and sees the event.
 *
 * Our fd is ours alone: polling the host program's fd would consume the
 * event its own poll()/epoll is waiting for. It lives high in the fd space
 * (so the program's fd numbers do not change) and is checked by device and
 * inode before each use, because the program may close_range() or dup2()
 * over it without us seeing. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "mc.h"


uint64_t mc_max_age_ns = 1000000000u;
bool mc_serve_first;

struct mc_view {
	struct mc_view *next;
	enum mc_format fmt;
	struct mc_view_key key;
	pthread_mutex_t lock;
	int fd;                         /* ours, -1 when not open */
	pid_t owner;                    /* the process that opened it */
	dev_t fd_dev;
	ino_t fd_ino;
	bool fd_on_proc;                /* checked with fstatfs at open */
	int fd_lost;                    /* atomic: its number was freed */
	struct mc_snap *snap;           /* latest validated, or NULL */
	unsigned inval_gen;             /* mc_inval_gen when snap was taken */
	size_t size_hint;
	bool remote;                    /* another process's (the daemon's views) */
	uint64_t churn_until;           /* no quiet window lately: use the kernel */
};

/* When captures find no quiet window (mounts change faster than one read
 * of the table), retrying only multiplies the kernel's cost: for a while,
 * readers go to the kernel directly, as if we were not there. */
#define CHURN_NS (100u * 1000000u)


static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mc_view *views;
static unsigned mc_inval_gen;           /* atomic */

void mc_config_init(void)
{
	const char *v = secure_getenv("MOUNTCACHE_MAX_AGE_MS");
	if (v && *v) {
		char *end;
		unsigned long ms = strtoul(v, &end, 10);
		if (*end == '\0' && ms < 3600u * 1000u)
			mc_max_age_ns = (uint64_t)ms * 1000000u;
	}
	v = secure_getenv("MOUNTCACHE_SERVE_FIRST");
	mc_serve_first = v && strcmp(v, "1") == 0;
}

int mc_view_key_self(struct mc_view_key *ret)
{
	struct statx sx;

	if (statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)))
		return -EOPNOTSUPP;
	/* The whole key: views are compared with memcmp. */
	*ret = (struct mc_view_key){ .root_mnt = sx.stx_mnt_id, .root_ino = sx.stx_ino,
				     .root_dev = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor };
	return 0;
}

struct mc_view *mc_view_get(enum mc_format fmt, const struct mc_view_key *key)
{
	struct mc_view *v;

	pthread_mutex_lock(&views_lock);
	for (v = views; v; v = v->next)
		if (v->fmt == fmt && memcmp(&v->key, key, sizeof *key) == 0)
			goto out;
	v = mc_zalloc(sizeof *v);
	if (!v)
		goto out;
	v->fmt = fmt;
	v->key = *key;
	v->fd = -1;
	pthread_mutex_init(&v->lock, NULL);
	v->next = views;
	__atomic_store_n(&views, v, __ATOMIC_RELEASE);  /* mc_views_fd_freed() walks without the lock */
out:
	pthread_mutex_unlock(&views_lock);
	return v;
}

void mc_views_invalidate(void)
{
	__atomic_add_fetch(&mc_inval_gen, 1, __ATOMIC_RELEASE);
}

bool mc_views_ever_invalidated(void)
{
	return __atomic_load_n(&mc_inval_gen, __ATOMIC_ACQUIRE) != 0;
}

/* Lock-free: a host thread may call it while another holds a view lock.
 * Marking a view whose number was not freed costs one fstat() later. */
void mc_views_fd_freed(unsigned first, unsigned last)
{
	for (struct mc_view *v = __atomic_load_n(&views, __ATOMIC_ACQUIRE); v; v = v->next) {
		int fd = __atomic_load_n(&v->fd, __ATOMIC_RELAXED);
		if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last)
			__atomic_store_n(&v->fd_lost, 1, __ATOMIC_RELEASE);
	}
	mc_client_fd_freed(first, last);        /* the daemon connection too */
}

/* Cost: none when the host watches fds (mc_fds_watched) and our number was
 * not freed; else one fstat(). */
static bool fd_still_ours(struct mc_view *v)
{
	struct stat st;
	if (v->fd < 0)
		return false;
	/* A child made without fork handlers (_Fork, vfork, clone) shares the
	 * fd's open file description with its parent: polling it would eat
	 * the parent's change events. Drop our copy and open our own. */
	if (v->owner != mc_pid()) {
		mc_sys_close(v->fd);
		v->fd = -1;
		mc_snap_unref(v->snap);
		v->snap = NULL;
		return false;
	}
	if (mc_fds_watched && !__atomic_load_n(&v->fd_lost, __ATOMIC_ACQUIRE))
		return true;
	if (mc_sys_fstat(v->fd, &st) < 0)
		return false;
	bool same = st.st_dev == v->fd_dev && st.st_ino == v->fd_ino;
	if (same)
		__atomic_store_n(&v->fd_lost, 0, __ATOMIC_RELEASE);
	return same;
}

dev_t mc_view_proc_dev(struct mc_view *v)
{
	return v->fd >= 0 && v->fd_on_proc ? v->fd_dev : 0;
}

static void drop_fd(struct mc_view *v)
{
	/* Close only what is still ours: a clobbered number now belongs to
	 * the host program. */
	if (fd_still_ours(v))
		mc_sys_close(v->fd);
	v->fd = -1;
}

/* @procdir: a /proc/<pid> directory (the daemon, for a client), or -1 for
 * /proc/thread-self: the calling thread's namespace and root, which is what
 * the key was taken from. */
static int open_fd(struct mc_view *v, int procdir)
{
	const char *name = v->fmt == MC_MOUNTINFO ? "mountinfo" : "mounts";
	char path[64];
	struct stat st;
	int floor = mc_fd_floor();
	if (floor < 0)
		return floor;
	if (procdir < 0)
		snprintf(path, sizeof path, "/proc/thread-self/%s", name);
	int fd = procdir < 0 ? mc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0)
			     : mc_sys_openat(procdir, name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int high = mc_sys_fcntl(fd, F_DUPFD_CLOEXEC, floor);
	int saved = errno;
	mc_sys_close(fd);
	if (high < 0)
		return -saved;
	if (mc_sys_fstat(high, &st) < 0) {
		saved = errno;
		mc_sys_close(high);
		return -saved;
	}
	struct statfs sfs;
	v->fd_on_proc = fstatfs(high, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
	v->owner = mc_pid();
	v->fd_dev = st.st_dev;
	v->fd_ino = st.st_ino;
	__atomic_store_n(&v->fd_lost, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&v->fd, high, __ATOMIC_RELEASE);
	/* A new fd's change baseline is now: a quiet poll() on it says
	 * nothing about a snapshot taken before (the program may have closed
	 * our old fd, a change may have come in between). */
	mc_snap_unref(v->snap);
	v->snap = NULL;
	mc_own_fd_note(high);
	return 0;
}

/* Called with v->lock held. Returns 0 if v->snap may be served as it is. */
static int still_fresh(struct mc_view *v)
{
	if (!v->snap || v->inval_gen != __atomic_load_n(&mc_inval_gen, __ATOMIC_ACQUIRE))
		return -ESTALE;
	if (mc_now_ns() - v->snap->captured_ns > mc_max_age_ns)
		return -ESTALE;
	if (!fd_still_ours(v))
		return -EBADF;
	return mc_changed(v->fd) == 0 ? 0 : -ESTALE;
}

/* Keep @s as the view's snapshot when it may be served again. */
static void keep(struct mc_view *v, struct mc_snap *s, unsigned gen)
{
	mc_snap_unref(v->snap);
	v->snap = NULL;
	if (s->validated) {
		v->snap = mc_snap_ref(s);
		v->inval_gen = gen;
	}
}

static int ensure_fd(struct mc_view *v, int procdir)
{
	if (fd_still_ours(v))
		return 0;
	v->fd = -1;
	/* A view of another process can only be reopened through its
	 * /proc/<pid>: thread-self would be our own table. */
	if (v->remote && procdir < 0)
		return -EBADF;
	/* /proc/thread-self shows the namespace and root we are in now: only
	 * the view's own if we are still there (a child may have moved after
	 * a fork; its reads then fall back to the kernel's own bytes). */
	struct mc_view_key now;
	if (procdir < 0 && (mc_view_key_self(&now) < 0 || now.root_mnt != v->key.root_mnt ||
			    now.root_ino != v->key.root_ino || now.root_dev != v->key.root_dev))
		return -EXDEV;
	v->remote = procdir >= 0;
	return open_fd(v, procdir);
}

/* Ask mountcached. Our fd is open (its change baseline set) before the
 * question, and pending events were consumed by still_fresh(): the answer
 * reflects a moment after both, so a later quiet poll() on our fd proves
 * the answer still current. */
static int from_daemon(struct mc_view *v, unsigned gen, struct mc_snap **ret_snap)
{
	struct mc_snap *s;
	uint64_t captured_ns;
	int r = ensure_fd(v, -1);               /* may drop v->snap (a new fd) */
	if (r < 0)
		return r;
	uint64_t have = v->snap ? v->snap->gen : 0;
	/* This process changed propagation (no event tells the daemon) since
	 * our snapshot, or ever, for a view that has none yet. */
	bool force = v->snap ? v->inval_gen != gen : gen != 0;
	r = mc_client_fetch(v->fmt, &v->key, have, force, &s, &captured_ns);
	if (r < 0)
		return r;
	if (!s) {                               /* "you already have it" */
		s = mc_snap_ref(v->snap);
		s->captured_ns = captured_ns;
	}
	keep(v, s, gen);
	*ret_snap = s;
	return 0;
}

static int capture(struct mc_view *v, int procdir, struct mc_snap **ret_snap)
{
	struct mc_capture_opts opts = { .size_hint = v->size_hint };
	struct mc_buf buf = { 0 };
	unsigned gen = __atomic_load_n(&mc_inval_gen, __ATOMIC_ACQUIRE);
	int r;

	if (procdir < 0 && mc_client_worth()) {
		r = from_daemon(v, gen, ret_snap);
		if (r == 0)
			return 0;
		/* The daemon sees churn, or is too busy to answer in time (it
		 * is capturing): capturing ourselves would cost more than the
		 * kernel's own read. */
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			v->churn_until = mc_now_ns() + CHURN_NS;
			return -EBUSY;
		}
	}
	r = ensure_fd(v, procdir);
	if (r < 0)
		return r;
	uint64_t t0 = mc_now_ns();
	r = mc_capture_fd(v->fd, &buf, &opts);
	if (r < 0) {
		mc_buf_free(&buf);
		drop_fd(v);
		return r;
	}
	size_t len = buf.len;
	struct mc_snap *s = mc_snap_from_buf(v->fmt, &buf, r == 0);
	if (!s)
		return -ENOMEM;
	v->size_hint = len;
	keep(v, s, gen);
	if (!s->validated) {
		/* The longer a capture takes, the longer we stay away: at most
		 * about 5% of the time goes to failed attempts. */
		uint64_t spent = mc_now_ns() - t0;
		v->churn_until = mc_now_ns() + (spent * 20 > CHURN_NS ? spent * 20 : CHURN_NS);
	}
	MC_DEBUG("view: captured %zu bytes (%s)", len, s->validated ? "validated" : "unvalidated");
	*ret_snap = s;
	return 0;
}

int mc_view_snapshot_at(struct mc_view *v, int procdir, bool force, struct mc_snap **ret_snap)
{
	int r;

	pthread_mutex_lock(&v->lock);
	if (!force && mc_max_age_ns && still_fresh(v) == 0) {
		*ret_snap = mc_snap_ref(v->snap);
		r = 0;
	} else if (!force && procdir < 0 && v->churn_until > mc_now_ns()) {
		r = -EBUSY;
	} else {
		if (force) {
			mc_snap_unref(v->snap);
			v->snap = NULL;
		}
		r = capture(v, procdir, ret_snap);
	}
	/* Whenever v->snap was not served, still_fresh() may have consumed
	 * the change event that condemned it (or our fd was reopened, with a
	 * new baseline): if nothing replaced it, a later quiet poll() would
	 * prove nothing about it. It must never be served again. */
	if (r < 0 && v->snap) {
		mc_snap_unref(v->snap);
		v->snap = NULL;
	}
	pthread_mutex_unlock(&v->lock);
	return r;
}

int mc_view_prepare(struct mc_view *v)
{
	pthread_mutex_lock(&v->lock);
	int r = ensure_fd(v, -1);
	pthread_mutex_unlock(&v->lock);
	return r;
}

int mc_view_snapshot(struct mc_view *v, struct mc_snap **ret_snap)
{
	return mc_view_snapshot_at(v, -1, false, ret_snap);
}

int mc_view_fd(struct mc_view *v)
{
	return v->fd;
}

void mc_view_drop(struct mc_view *v)
{
	pthread_mutex_lock(&views_lock);
	for (struct mc_view **pp = &views; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	pthread_mutex_unlock(&views_lock);
	drop_fd(v);
	mc_snap_unref(v->snap);
	pthread_mutex_destroy(&v->lock);
	mc_zfree(v, sizeof *v);
}

void mc_views_lock_all(void)
{
	pthread_mutex_lock(&views_lock);
	for (struct mc_view *v = views; v; v = v->next)
		pthread_mutex_lock(&v->lock);
}

void mc_views_unlock_all(void)
{
	for (struct mc_view *v = views; v; v = v->next)
		pthread_mutex_unlock(&v->lock);
	pthread_mutex_unlock(&views_lock);
}

/* After fork the child shares our view fds' open file descriptions with the
 * parent: a poll() in one would consume the change event the other needs.
 * The child lets go of its copies and their snapshots, and reopens on use. */
void mc_views_atfork_child(void)
{
	for (struct mc_view *v = views; v; v = v->next) {
		if (v->fd >= 0)
			mc_sys_close(v->fd);
		v->fd = -1;
		mc_snap_unref(v->snap);
		v->snap = NULL;
	}
	mc_client_atfork_child();
	mc_views_unlock_all();
}
