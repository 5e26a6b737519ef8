/* track.c: is the fd the host program just opened a mount table we serve?
 *
 * The program's own open always happens first, through the real function:
 * its fd number, its errors (ENOENT for a dead pid, ENOTDIR, EACCES, the
 * O_DIRECTORY and O_PATH cases) and what fstat(), poll() and epoll report on
 * it are then the kernel's own. Only the bytes it reads come from us.
 *
 * We serve an fd only when all of these hold, and otherwise leave it alone:
 * read-only open of a path that names this process's mountinfo or mounts
 * file; the file really is on procfs (a chroot may have a plain file there);
 * a view (namespace and root) key can be taken; and this is not the
 * process's first open of that format: a process that reads the table once
 * gains nothing from a copy and would pay for our own extra open and read,
 * so the first open passes straight to the kernel. With mountcached
 * running, a first open(2) is noted (first.c: its second read may continue
 * in the daemon's snapshot), and a first fopen or setmntent is served at
 * once unless the table is small (mc_client_worth). MOUNTCACHE_SERVE_FIRST=1
 * serves every first open, with or without a daemon (the tests use that
 * for the served path). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "path.h"
#include "preload.h"

bool mc_track_wanted(const char *path, int flags)
{
	if (!path || (flags & O_ACCMODE) != O_RDONLY || (flags & O_PATH))
		return false;
	return mc_path_maybe(path);
}

/* Threads that left the process's namespace or root (unshare(CLONE_FS) then
 * setns or chroot) see another table than /proc/self shows; once any thread
 * did that, /proc/self from other threads is left to the kernel. */
bool mc_threads_diverged;

/* @path made absolute against @dirfd into @out. */
static int absolute(int dirfd, const char *path, char *out, size_t size)
{
	char base[PATH_MAX];

	if (dirfd == AT_FDCWD) {
		if (!getcwd(base, sizeof base))
			return -errno;
	} else {
		char link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		ssize_t n = readlink(link, base, sizeof base - 1);
		if (n < 0)
			return -errno;
		base[n] = '\0';
	}
	if ((size_t)snprintf(out, size, "%s/%s", base, path) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Classify @path, made absolute against @dirfd if it is relative.
 *
 * Cost: an absolute path (the usual spelling) is classified in place, with
 * no copy and no buffer on the stack. The buffers a relative path needs
 * (8 KiB) live in a function of their own: every open() of the process
 * passes mc_track_plan, and a 12 KiB frame there made a fresh process's
 * first open fault in new stack pages (~10-20 us each on a machine where a
 * fault is that dear), a cost the kernel's own open does not have. */
static __attribute__((noinline)) bool classify_relative(int dirfd, const char *path,
							 struct mc_path *p)
{
	char abs[PATH_MAX];
	return absolute(dirfd, path, abs, sizeof abs) == 0 && mc_path_classify(abs, p);
}

/* The last absolute table path this thread classified, and what it is: a
 * program opens the same spelling again and again, and the split into
 * components cost ~320 instructions an open (8% of a served pass at 20
 * mounts). The answer depends on the string alone. Initial-exec TLS, as
 * mc_busy. */
#define CLASSIFIED_MAX 48
static __thread struct {
	char path[CLASSIFIED_MAX];
	struct mc_path p;
} classified __attribute__((tls_model("initial-exec")));

static bool classify(int dirfd, const char *path, struct mc_path *p)
{
	if (path[0] != '/')
		return classify_relative(dirfd, path, p);
	/* One pass, no library call: strnlen and memcmp cost a lazy binding
	 * each (~800 instructions) in the first open of a process. */
	size_t n = 0;
	while (n < CLASSIFIED_MAX && path[n] && path[n] == classified.path[n])
		n++;
	if (n < CLASSIFIED_MAX && path[n] == classified.path[n]) {      /* both end */
		*p = classified.p;
		return true;
	}
	if (!mc_path_classify(path, p))
		return false;
	while (n < CLASSIFIED_MAX && path[n])
		n++;
	if (n < CLASSIFIED_MAX) {
		classified.p = *p;
		for (size_t i = 0; i <= n; i++)
			classified.path[i] = path[i];
	}
	return true;
}

/* /etc/mtab is usually a link to ../proc/self/mounts, but it may be a plain
 * file (then it is not ours) or point anywhere: follow it, once. Not
 * inlined: its 8 KiB of buffers stay off the stack of other opens. */
static __attribute__((noinline)) bool resolve_mtab(struct mc_path *p)
{
	char target[PATH_MAX], abs[PATH_MAX];
	ssize_t n = readlink("/etc/mtab", target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	if (target[0] == '/')
		snprintf(abs, sizeof abs, "%s", target);
	else if ((size_t)snprintf(abs, sizeof abs, "/etc/%s", target) >= sizeof abs)
		return false;
	return mc_path_classify(abs, p) && p->who != MC_WHO_MTAB;
}

/* Is /proc/<pid> this process? getpid() says which pid we are in our own
 * pid namespace, but /proc may belong to another one; /proc/self tells. */
static bool pid_is_self(int pid)
{
	static int cached_pid, cached_proc_pid;
	int me = getpid();

	if (pid != me)
		return false;
	if (__atomic_load_n(&cached_pid, __ATOMIC_ACQUIRE) != me) {
		char buf[32];
		ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		__atomic_store_n(&cached_proc_pid, atoi(buf), __ATOMIC_RELAXED);
		__atomic_store_n(&cached_pid, me, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&cached_proc_pid, __ATOMIC_RELAXED) == pid;
}

/* Costs no system call while no thread has diverged. */
static bool is_leader(void)
{
	return gettid() == getpid();
}

static bool serves_self(const struct mc_path *p)
{
	switch (p->who) {
	case MC_WHO_SELF:
		return !mc_threads_diverged || is_leader();
	case MC_WHO_THREAD:
		return true;
	case MC_WHO_PID:
		return pid_is_self(p->pid) && (!mc_threads_diverged || is_leader());
	case MC_WHO_TASK:
		/* A task of ours: the calling thread, or any thread while
		 * none has diverged. */
		if (p->pid && !pid_is_self(p->pid))
			return false;
		return p->tid == gettid() || !mc_threads_diverged;
	case MC_WHO_MTAB:
		return false;
	}
	return false;
}

/* The view for this process's root, kept until the root may have changed:
 * a statx("/") per open cost a system call for an answer that changes only
 * with chroot, setns, unshare or pivot_root, which we see (hooks.c, and
 * syscall() in fdwatch.c). A thread that left the process's root asks
 * each time. Records are immutable once published, and few (one per root
 * change and format): they are never freed. */
struct kept_view {
	struct mc_view *view;
	unsigned gen;
};
static struct kept_view *kept[2];
/* The count of root changes lives in first.c, whose notes need it too. */
void mc_track_root_changed(void)
{
	mc_first_root_changed();
}

static struct mc_view *view_self(enum mc_format fmt)
{
	struct mc_view_key key;
	unsigned gen = mc_first_root_gen();
	struct kept_view *k = __atomic_load_n(&kept[fmt], __ATOMIC_ACQUIRE);

	if (k && k->gen == gen && !mc_threads_diverged)
		return k->view;
	if (mc_view_key_self(&key) < 0)
		return NULL;
	struct mc_view *v = mc_view_get(fmt, &key);
	if (v && !mc_threads_diverged && (k = mc_zalloc(sizeof *k))) {
		*k = (struct kept_view){ v, gen };
		__atomic_store_n(&kept[fmt], k, __ATOMIC_RELEASE);
	}
	return v;
}

/* What mc_track_plan() holds while it may block, take a lock or set
 * errno: cancellation off and errno kept, taken at the first such step.
 * The first open of a table by its usual name (what a program that reads
 * once does) takes none of it: each library function's first call binds
 * it (~800 instructions), and those were most of what the preload added
 * to such a process's open and read. */
struct held {
	bool on;
	int cancel, saved_errno;
};

static void hold(struct held *h)
{
	if (h->on)
		return;
	h->on = true;
	h->saved_errno = errno;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &h->cancel);
}

static void release_held(struct held *h)
{
	if (!h->on)
		return;
	pthread_setcancelstate(h->cancel, NULL);
	errno = h->saved_errno;
}

/* Does serves_self() need a system call for @p? */
static bool serves_self_quick(const struct mc_path *p)
{
	return !mc_threads_diverged && (p->who == MC_WHO_SELF || p->who == MC_WHO_THREAD);
}

MC_HOT bool mc_track_plan(int dirfd, const char *path, struct mc_track_plan *ret)
{
	struct mc_path p;
	struct held h = { .on = false };
	bool serve = false;

	mc_preload_init();                      /* the configuration */
	if (mc_disabled)
		return false;
	if (path[0] != '/')
		hold(&h);
	if (!classify(dirfd, path, &p))
		goto out;
	if (p.who == MC_WHO_MTAB) {
		hold(&h);
		if (!resolve_mtab(&p))
			goto out;
	}
	if (!serves_self_quick(&p))
		hold(&h);
	if (!serves_self(&p))
		goto out;
	ret->note = false;
	if (mc_first_opened(p.fmt) == 1 && !mc_serve_first) {
		/* open(2): first.c decides at the second read, if there is
		 * one. A stream is read a buffer at a time: with a daemon
		 * that serves more than a small table, it is served now. */
		if (ret->stream)
			hold(&h);
		if (!ret->stream || !mc_client_worth()) {
			MC_DEBUG("open %s: first open, left to the kernel", path);
			ret->note = !ret->stream;
			ret->fmt = p.fmt;
			goto out;
		}
	}
	hold(&h);
	ret->view = view_self(p.fmt);
	ret->fmt = p.fmt;
	serve = ret->view != NULL;
out:
	release_held(&h);
	return serve;
}

/* Is @fd (whose fstat is @st) on procfs? The same device as our own fd on
 * the view says so at no cost; anything else asks fstatfs(). */
static bool on_proc(int fd, const struct stat *st, struct mc_view *v)
{
	struct statfs sfs;
	dev_t dev = mc_view_proc_dev(v);
	if (dev && st->st_dev == dev)
		return true;
	return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

/* Cost, when the view's fd is open and kept: one fstat(). */
struct mc_ofd *mc_track_commit(const struct mc_track_plan *plan, int fd, bool want_ofd)
{
	struct stat st;
	struct mc_ofd *o = NULL;
	int saved = errno;

	/* Our own fd on this view must be opened now, while the process is
	 * still in the namespace and root the program's fd was opened in:
	 * the program may unshare() or chroot() before it reads. */
	if (fd < 0 || mc_view_prepare(plan->view) < 0 || mc_sys_fstat(fd, &st) < 0 ||
	    !on_proc(fd, &st, plan->view) || mc_fd_track(fd, plan->view, plan->fmt, &st) < 0)
		goto out;
	MC_DEBUG("fd %d served from snapshots", fd);
	if (want_ofd)
		o = mc_fd_get(fd);
out:
	errno = saved;
	return o;
}

void mc_track_done(const struct mc_track_plan *plan, int fd)
{
	if (fd < 0)
		return;
	if (plan)
		mc_track_commit(plan, fd, false);
	else
		mc_fd_forget(fd);
}
