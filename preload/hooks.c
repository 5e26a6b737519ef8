/* hooks.c: the interposed functions. Each is a thin wrapper: decide "ours or
 * not" as cheaply as possible, hand ours to ofd.c/stream.c, and call the
 * real function for everything else, or whenever in doubt.
 *
 * Errors: the engine returns -errno; here it becomes -1 and errno. On
 * success errno is left as the caller had it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <stdarg.h>
#include <stdio_ext.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

static mode_t open_mode(int flags, va_list ap)
{
	return __OPEN_NEEDS_MODE(flags) ? va_arg(ap, mode_t) : 0;
}

/* ---- open ------------------------------------------------------------- */

/* The real open, or the raw system call while dlsym is still running. */
static int real_openat(int (*fn)(), bool has_dirfd, int dirfd, const char *path, int flags, mode_t mode)
{
	if (fn)
		return has_dirfd ? fn(dirfd, path, flags, mode) : fn(path, flags, mode);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* Plan before the real open, commit (or forget a stale number) after it;
 * neither when this thread is already inside our code. */
static bool open_plan(int dirfd, const char *path, int flags, struct mc_track_plan *plan)
{
	/* Almost every open is of another file: told apart by its name
	 * alone, with no guard (two pthread_setcancelstate() calls). A
	 * table's takes the recursion guard only: mc_track_plan() turns
	 * cancellation off where it needs to. */
	if (!mc_track_wanted(path, flags) || !mc_enter_light())
		return false;
	bool serve = mc_track_plan(dirfd, path, plan);
	mc_leave_light();
	return serve;
}

MC_HOT static int open_done(bool serve, const struct mc_track_plan *plan, int fd)
{
	struct mc_guard g;
	if (fd >= 0)
		mc_host_fd_freed((unsigned)fd, (unsigned)fd);   /* if it was ours, it was freed unseen */
	/* A first open, only noted, on a number we know nothing of: the note
	 * takes no lock in a one-thread process and calls nothing that can
	 * block or set errno, so no guard but the recursion one. */
	if (fd >= 0 && plan->note && !serve && !mc_fd_peek(fd)) {
		if (mc_enter_light()) {
			mc_first_note(fd, plan->fmt);
			mc_leave_light();
		}
		return fd;
	}
	/* Nothing to commit and nothing known of the number (what
	 * mc_fd_forget() would find): no guard. */
	if (fd >= 0 && (serve || plan->note || mc_fd_peek(fd)) && mc_enter(&g)) {
		int saved = errno;
		mc_track_done(serve ? plan : NULL, fd);
		if (plan->note)
			mc_first_note(fd, plan->fmt);
		errno = saved;
		mc_leave(&g);
	}
	return fd;
}

#define OPEN_WRAPPER(name, has_dirfd, dirfd_expr)                                 \
	{                                                                         \
		va_list ap;                                                       \
		va_start(ap, flags);                                              \
		mode_t mode = open_mode(flags, ap);                               \
		va_end(ap);                                                       \
		struct mc_track_plan plan = { .stream = false };                  \
		bool serve = open_plan(dirfd_expr, path, flags, &plan);           \
		return open_done(serve, &plan,                                    \
				 real_openat((int (*)())REAL(name), has_dirfd,    \
					     dirfd_expr, path, flags, mode));     \
	}

MC_EXPORT MC_HOT int open(const char *path, int flags, ...) OPEN_WRAPPER(open, false, AT_FDCWD)
MC_EXPORT int open64(const char *path, int flags, ...) OPEN_WRAPPER(open64, false, AT_FDCWD)
MC_EXPORT int openat(int dirfd, const char *path, int flags, ...) OPEN_WRAPPER(openat, true, dirfd)
MC_EXPORT int openat64(int dirfd, const char *path, int flags, ...) OPEN_WRAPPER(openat64, true, dirfd)

/* The _FORTIFY_SOURCE variants abort on O_CREAT without a mode: the real
 * ones do that check, we only watch what they return. */
#define OPEN2_WRAPPER(name, dirfd, ...)                                            \
	{                                                                          \
		struct mc_track_plan plan = { .stream = false };                   \
		bool serve = open_plan(dirfd, path, flags, &plan);                 \
		return open_done(serve, &plan,                                     \
				 REAL(name) ? mc_real.name(__VA_ARGS__)            \
					    : (int)syscall(SYS_openat, dirfd, path, flags, 0)); \
	}

MC_EXPORT int __open_2(const char *path, int flags) OPEN2_WRAPPER(__open_2, AT_FDCWD, path, flags)
MC_EXPORT int __open64_2(const char *path, int flags) OPEN2_WRAPPER(__open64_2, AT_FDCWD, path, flags)
MC_EXPORT int __openat_2(int dirfd, const char *path, int flags) OPEN2_WRAPPER(__openat_2, dirfd, dirfd, path, flags)
MC_EXPORT int __openat64_2(int dirfd, const char *path, int flags) OPEN2_WRAPPER(__openat64_2, dirfd, dirfd, path, flags)

/* ---- stdio and mntent ------------------------------------------------- */

/* fopen/setmntent on a path we serve: open it ourselves and wrap the fd.
 * Returns NULL with *ret_handled false when the caller should use glibc. */
static FILE *open_stream_locked(const char *path, const char *mode, int extra_flags, bool *ret_handled)
{
	struct mc_track_plan plan = { .stream = true };
	int flags;

	*ret_handled = false;
	if (!mc_stream_mode(mode, &flags))
		return NULL;
	flags |= extra_flags;
	if (!mc_track_plan(AT_FDCWD, path, &plan))
		return NULL;
	int fd = real_openat((int (*)())REAL(open), false, AT_FDCWD, path, flags, 0);
	*ret_handled = true;
	if (fd < 0)
		return NULL;                    /* the kernel's errno, as fopen */
	int saved = errno;
	struct mc_ofd *o = mc_track_commit(&plan, fd, true);
	FILE *fp = o ? mc_stream_open(fd, o) : NULL;
	if (!fp) {
		if (o)
			mc_ofd_put(o);
		mc_fd_forget(fd);
		/* A plain glibc FILE on the same fd: what fopen would give. */
		fp = REAL(fdopen)(fd, "r");
		if (!fp) {
			saved = errno;
			REAL(close)(fd);
		}
	}
	errno = saved;
	return fp;
}

static FILE *open_stream(const char *path, const char *mode, int extra_flags, bool *ret_handled)
{
	struct mc_guard g;
	*ret_handled = false;
	if (!mc_track_wanted(path, O_RDONLY) || !mc_enter(&g))
		return NULL;            /* another file (as open_plan): no guard */
	FILE *fp = open_stream_locked(path, mode, extra_flags, ret_handled);
	mc_leave(&g);
	return fp;
}

/* glibc's own FILE on a new number: what we knew of the number goes, as
 * for every call that hands one out (fdwatch.c). */
static FILE *fresh_stream(FILE *fp)
{
	if (fp)
		mc_fd_fresh(fp->_fileno);
	return fp;
}

MC_EXPORT FILE *fopen(const char *path, const char *mode)
{
	bool handled;
	FILE *fp = open_stream(path, mode, 0, &handled);
	return handled ? fp : fresh_stream(REAL(fopen)(path, mode));
}

MC_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	bool handled;
	FILE *fp = open_stream(path, mode, 0, &handled);
	return handled ? fp : fresh_stream(REAL(fopen64)(path, mode));
}

/* freopen keeps the FILE but reopens it: ours becomes a plain glibc FILE
 * reading the kernel (fail open). */
static FILE *reopen(const char *path, const char *mode, FILE *fp,
		    FILE *(*real)(const char *, const char *, FILE *))
{
	struct mc_guard g;
	void *ours = NULL;
	int old = fp ? fp->_fileno : -1;
	if (mc_enter(&g)) {
		ours = mc_stream_freopen_begin(fp);
		mc_leave(&g);
	}
	if (!ours)                      /* libc closes it unseen: as close() */
		mc_fd_fresh(old);
	FILE *r = real(path, mode, fp);
	if (ours && mc_enter(&g)) {
		int saved = errno;
		mc_stream_freopen_end(ours);
		errno = saved;
		mc_leave(&g);
	} else if (!ours && r && r->_fileno != old) {
		mc_fd_fresh(r->_fileno);        /* a new number */
	}
	return r;
}

MC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return reopen(path, mode, fp, REAL(freopen));
}

MC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return reopen(path, mode, fp, REAL(freopen64));
}

MC_EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct mc_guard g;
	int flags;
	if (fd >= 0)
		mc_first_used(fd, false);       /* stdio reads it now */
	if (mc_fd_peek(fd) && mc_enter(&g)) {
		FILE *fp = NULL;
		struct mc_ofd *o = mc_fd_get_checked(fd);
		if (o && mc_stream_mode(mode, &flags))
			fp = mc_stream_open(fd, o);
		if (o && !fp)
			mc_ofd_put(o);
		mc_leave(&g);
		if (fp)
			return fp;
	}
	return REAL(fdopen)(fd, mode);
}

MC_EXPORT FILE *setmntent(const char *path, const char *mode)
{
	bool handled;
	/* glibc opens with mode + "ce": close-on-exec, no cancellation */
	FILE *fp = open_stream(path, mode, O_CLOEXEC, &handled);
	if (!handled)
		return fresh_stream(REAL(setmntent)(path, mode));
	if (fp)         /* as glibc: the caller does the locking */
		__fsetlocking(fp, FSETLOCKING_BYCALLER);
	return fp;
}

/* glibc's endmntent() is fclose() and "return 1", its fclose() a call
 * inside libc that no interposer sees: the fd's end went unseen by our
 * fclose() (which notes a freed number) and by a sanitizer's (TSan then
 * took the number's reuse by another thread for a race: a clean-clone CI
 * run's mtreader, setmntent/endmntent in one thread, dup() in another).
 * The same two steps, through the public fclose(). */
MC_EXPORT int endmntent(FILE *fp)
{
	if (fp)
		fclose(fp);
	return 1;
}

MC_EXPORT struct mntent *getmntent_r(FILE *fp, struct mntent *mp, char *buf, int size)
{
	return mc_getmntent_r(mc_stream_ofd(fp), fp, mp, buf, size, MC_FN_GETMNTENT_R);
}

MC_EXPORT struct mntent *__getmntent_r(FILE *fp, struct mntent *mp, char *buf, int size)
{
	return mc_getmntent_r(mc_stream_ofd(fp), fp, mp, buf, size, MC_FN___GETMNTENT_R);
}

/* glibc's getmntent is getmntent_r into one static struct and one 4 KiB
 * buffer shared by every stream: a program may rely on the pointer it got
 * from one stream being overwritten by a call on another. So we fill
 * glibc's own, learning where they are from one call on a memory stream
 * (the name field starts the buffer); ours only if that fails. */
static struct mntent *glibc_m;
static char *glibc_buf;
static pthread_once_t glibc_once = PTHREAD_ONCE_INIT;

static void learn_glibc_static(void)
{
	static char line[] = "mountcache / none rw 0 0\n";
	static struct mntent own_m;
	static char own_buf[4096];
	FILE *f = fmemopen(line, sizeof line - 1, "r");
	struct mntent *m = f ? REAL(getmntent)(f) : NULL;

	char *buf = own_buf;

	glibc_m = &own_m;
	if (m && m->mnt_fsname && strcmp(m->mnt_fsname, "mountcache") == 0) {
		glibc_m = m;
		buf = m->mnt_fsname;
	}
	/* Published last: getmntent() skips pthread_once() once it is set. */
	__atomic_store_n(&glibc_buf, buf, __ATOMIC_RELEASE);
	if (f)
		fclose(f);
}

MC_EXPORT struct mntent *getmntent(FILE *fp)
{
	struct mc_ofd *o = mc_stream_ofd(fp);
	if (!o)
		return REAL(getmntent)(fp);
	if (unlikely(!__atomic_load_n(&glibc_buf, __ATOMIC_ACQUIRE)))
		pthread_once(&glibc_once, learn_glibc_static);
	return mc_getmntent_r(o, fp, glibc_m, glibc_buf, 4096, MC_FN_GETMNTENT_R);
}

/* ---- getline ----------------------------------------------------------
 * glibc's getline and getdelim are its __getdelim (getline with '\n'):
 * stream.c answers on our streams and calls glibc's for the rest. */

MC_EXPORT ssize_t getline(char **lineptr, size_t *n, FILE *fp)
{
	return mc_stream_getdelim(lineptr, n, '\n', fp);
}

MC_EXPORT ssize_t getdelim(char **lineptr, size_t *n, int delim, FILE *fp)
{
	return mc_stream_getdelim(lineptr, n, delim, fp);
}

MC_EXPORT ssize_t __getdelim(char **lineptr, size_t *n, int delim, FILE *fp)
{
	return mc_stream_getdelim(lineptr, n, delim, fp);
}

/* ---- read ------------------------------------------------------------- */

/* Serve a read on @fd if it is ours. Returns true (with *ret, and errno on
 * -1) when handled; false: call the real function. Not ours costs one
 * lock-free load. A read is a cancellation point, so it is tested before we
 * take anything. A nested call (a signal handler) reads the kernel at our
 * offset, without our locks. */
static bool serve(int fd, const struct iovec *iov, int cnt, off_t off, bool explicit_off, ssize_t *ret)
{
	struct mc_guard g;
	ssize_t r;

	if (likely(!mc_fd_peek(fd))) {
		/* A noted fd read otherwise than by read(): the kernel's
		 * for good, from our position (first.c). */
		mc_first_used(fd, false);
		return false;
	}
	if (explicit_off && off < 0) {
		errno = EINVAL;                 /* as the kernel, for pread et al. */
		*ret = -1;
		return true;
	}
	pthread_testcancel();
	/* The hit: read() or readv() of one buffer that continues a served
	 * pass, in a process with one thread. A copy from the snapshot: no
	 * system call, nothing that can block or be cancelled, errno left
	 * alone, so the recursion guard alone (the full guard's two
	 * pthread_setcancelstate() were ~5% of a pass at 1,000 mounts), and
	 * no reference on the description (no other thread can close it). */
	if (!explicit_off && cnt == 1 && iov[0].iov_len <= SSIZE_MAX && mc_one_thread() && mc_enter_light()) {
		struct mc_ofd *o = mc_fd_peek(fd);
		int64_t at;
		r = o ? mc_ofd_read_hit(o, iov[0].iov_base, iov[0].iov_len, NULL, &at) : MC_OFD_BLOCKS;
		mc_leave_light();
		if (r != MC_OFD_BLOCKS) {
			*ret = r;
			return true;
		}
	}
	int saved = errno;
	if (!mc_enter(&g)) {
		struct mc_ofd *o = mc_fd_peek(fd);
		/* A vfork() child's closes leave our map alone: the number
		 * may hold another file now. One fstat() per read there. */
		if (!o || ((mc_busy & MC_BUSY_VFORK) && !mc_ofd_check_fd(o, fd)))
			return false;
		r = mc_ofd_read_nested(o, fd, iov, cnt, off);
	} else {
		/* No identity check here: mc_ofd_read() checks once per pass. */
		struct mc_ofd *o = mc_fd_get(fd);
		if (!o) {
			mc_leave(&g);
			errno = saved;
			return false;
		}
		r = mc_ofd_read(o, fd, iov, cnt, off);
		mc_ofd_put(o);
		if (r == MC_OFD_NOT_OURS)
			mc_fd_forget(fd);
		mc_leave(&g);
		if (r == MC_OFD_NOT_OURS) {
			errno = saved;
			return false;
		}
	}
	if (r < 0) {
		errno = (int)-r;
		*ret = -1;
	} else {
		errno = saved;
		*ret = r;
	}
	return true;
}

/* An fd that is not ours, in a process with no first open noted (nearly
 * every read of every process): two loads, inline, then the real call. */
#define SERVE(fd, iov, cnt, off, explicit_off, real_call)                        \
	do {                                                                     \
		ssize_t r_;                                                      \
		if (unlikely(mc_fd_peek(fd) || __atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)) && \
		    serve(fd, iov, cnt, off, explicit_off, &r_))                 \
			return r_;                                               \
		return real_call;                                                \
	} while (0)

/* A noted first open's reads: first.c. One load when there is none. */
#define FIRST_READ(fd, buf, n)                                                   \
	do {                                                                     \
		ssize_t r_;                                                      \
		if (unlikely(__atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)) &&  \
		    !mc_fd_peek(fd) && mc_first_read(fd, buf, n, REAL(read), &r_)) \
			return r_;                                               \
	} while (0)

MC_EXPORT MC_HOT ssize_t read(int fd, void *buf, size_t n)
{
	struct iovec iov = { buf, n };
	FIRST_READ(fd, buf, n);
	SERVE(fd, &iov, 1, -1, false, REAL(read) ? mc_real.read(fd, buf, n) : syscall(SYS_read, fd, buf, n));
}

MC_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)                         /* the real one aborts */
		return REAL(__read_chk)(fd, buf, n, buflen);
	FIRST_READ(fd, buf, n);
	SERVE(fd, &iov, 1, -1, false, REAL(__read_chk)(fd, buf, n, buflen));
}

MC_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct iovec iov = { buf, n };
	SERVE(fd, &iov, 1, off, true, REAL(pread)(fd, buf, n, off));
}

MC_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct iovec iov = { buf, n };
	SERVE(fd, &iov, 1, off, true, REAL(pread64)(fd, buf, n, off));
}

MC_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)
		return REAL(__pread_chk)(fd, buf, n, off, buflen);
	SERVE(fd, &iov, 1, off, true, REAL(__pread_chk)(fd, buf, n, off, buflen));
}

MC_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)
		return REAL(__pread64_chk)(fd, buf, n, off, buflen);
	SERVE(fd, &iov, 1, off, true, REAL(__pread64_chk)(fd, buf, n, off, buflen));
}

MC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	SERVE(fd, iov, cnt, -1, false, REAL(readv)(fd, iov, cnt));
}

MC_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	SERVE(fd, iov, cnt, off, true, REAL(preadv)(fd, iov, cnt, off));
}

MC_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	SERVE(fd, iov, cnt, off, true, REAL(preadv64)(fd, iov, cnt, off));
}

/* preadv2: offset -1 means the file position. Which RWF_ flags a read may
 * carry is the kernel's to say, and differs between versions (RWF_NOWAIT,
 * RWF_ATOMIC, RWF_DONTCACHE and unknown flags are refused on a seq_file
 * here): ask it with a 1-byte read at offset 0 of the real fd, which moves
 * nothing we serve from, and pass on its verdict. */
static ssize_t preadv2_common(int fd, const struct iovec *iov, int cnt, off64_t off, int flags,
			      ssize_t (*real)(int, const struct iovec *, int, off64_t, int))
{
	ssize_t r;
	if (likely(!mc_fd_peek(fd))) {
		mc_first_used(fd, false);
		return real(fd, iov, cnt, off, flags);
	}
	if (off < -1) {
		errno = EINVAL;
		return -1;
	}
	if (flags) {
		char c;
		struct iovec one = { &c, 1 };
		if (real(fd, &one, 1, 0, flags) < 0)
			return -1;
	}
	if (serve(fd, iov, cnt, off, false, &r))
		return r;
	return real(fd, iov, cnt, off, flags);
}

MC_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return preadv2_common(fd, iov, cnt, off, flags, REAL(preadv2));
}

MC_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	return preadv2_common(fd, iov, cnt, off, flags, REAL(preadv64v2));
}

/* ---- position, close, dup --------------------------------------------- */

static off_t seek(int fd, off_t off, int whence, off_t (*real)(int, off_t, int))
{
	struct mc_guard g;
	if (unlikely(__atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)) && !mc_fd_peek(fd)) {
		mc_first_used(fd, true);        /* SEEK_CUR counts from our position */
		off_t r = real(fd, off, whence);
		int e = errno;
		mc_first_seeked(fd, r);
		errno = e;
		return r;
	}
	if (likely(!mc_fd_peek(fd)) || !mc_enter(&g))
		return real(fd, off, whence);
	/* No identity check: the read after a seek starts a pass, and checks. */
	struct mc_ofd *o = mc_fd_get(fd);
	if (!o) {
		mc_leave(&g);
		return real(fd, off, whence);
	}
	off_t r = mc_ofd_lseek(o, off, whence);
	mc_ofd_put(o);
	mc_leave(&g);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

MC_EXPORT off_t lseek(int fd, off_t off, int whence)
{
	return seek(fd, off, whence, REAL(lseek));
}

MC_EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	return seek(fd, off, whence, REAL(lseek64));
}

/* Map updates for fds the program closes or duplicates; skipped in a
 * nested call (a stale entry is caught later by the device/inode check). */
static void forget(int fd)
{
	struct mc_guard g;
	if (mc_fd_peek(fd) && mc_enter(&g)) {
		mc_fd_forget(fd);
		mc_leave(&g);
	}
}

static void forget_range(unsigned first, unsigned last)
{
	struct mc_guard g;
	if (mc_enter(&g)) {
		mc_fd_forget_range(first, last);
		mc_leave(&g);
	}
}

/* Numbers freed or replaced: the fd map (forget) and the views' own fds
 * (mc_host_fd_freed, lock-free, also from a nested call) are told first. */
MC_EXPORT MC_HOT int close(int fd)
{
	if (fd >= 0)
		mc_host_fd_freed((unsigned)fd, (unsigned)fd);
	forget(fd);
	return REAL(close) ? mc_real.close(fd) : (int)syscall(SYS_close, fd);
}

MC_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		mc_host_fd_freed(first, last);
		forget_range(first, last);
	}
	return REAL(close_range)(first, last, flags);
}

MC_EXPORT void closefrom(int lowfd)
{
	if (lowfd >= 0) {
		mc_host_fd_freed((unsigned)lowfd, UINT_MAX);
		forget_range((unsigned)lowfd, UINT_MAX);
	}
	REAL(closefrom)(lowfd);
}

MC_EXPORT int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0)
		mc_fd_dup_seen(fd, r);
	return r;
}

MC_EXPORT int dup2(int fd, int fd2)
{
	if (fd2 >= 0 && fd2 != fd)
		mc_host_fd_freed((unsigned)fd2, (unsigned)fd2);
	int r = REAL(dup2)(fd, fd2);
	if (r >= 0)
		mc_fd_dup_seen(fd, fd2);
	return r;
}

MC_EXPORT int dup3(int fd, int fd2, int flags)
{
	if (fd2 >= 0)
		mc_host_fd_freed((unsigned)fd2, (unsigned)fd2);
	int r = REAL(dup3)(fd, fd2, flags);
	if (r >= 0)
		mc_fd_dup_seen(fd, fd2);
	return r;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		mc_fd_dup_seen(fd, r);
	return r;
}

/* fcntl's third argument is an int, a long or a pointer, depending on cmd;
 * all travel in one register on the ABIs we build for. */
MC_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

MC_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL(fcntl64), fd, cmd, arg);
}

/* ---- changes this process makes --------------------------------------- */
/* Each may change the table in a way the kernel does not announce (the
 * propagation flags), or move us to another namespace or root: forget every
 * kept snapshot. Invalidating after a failed call costs one re-read. */

static int invalidated(int r)
{
	int saved = errno;
	mc_views_invalidate();          /* one atomic increment: no lock */
	errno = saved;
	return r;
}

MC_EXPORT int mount(const char *src, const char *target, const char *type,
		    unsigned long flags, const void *data)
{
	return invalidated(REAL(mount)(src, target, type, flags, data));
}

MC_EXPORT int umount(const char *target)
{
	return invalidated(REAL(umount)(target));
}

MC_EXPORT int umount2(const char *target, int flags)
{
	return invalidated(REAL(umount2)(target, flags));
}

MC_EXPORT int mount_setattr(int dirfd, const char *path, unsigned flags, struct mount_attr *attr, size_t size)
{
	int r = REAL(mount_setattr) ? mc_real.mount_setattr(dirfd, path, flags, attr, size)
				    : (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, size);
	return invalidated(r);
}

MC_EXPORT int move_mount(int from_dirfd, const char *from, int to_dirfd, const char *to, unsigned flags)
{
	int r = REAL(move_mount) ? mc_real.move_mount(from_dirfd, from, to_dirfd, to, flags)
				 : (int)syscall(SYS_move_mount, from_dirfd, from, to_dirfd, to, flags);
	return invalidated(r);
}

static void note_thread_change(int nstype)
{
	if ((nstype == 0 || (nstype & (CLONE_NEWNS | CLONE_FS))) && gettid() != getpid())
		mc_threads_diverged = true;
}

MC_EXPORT int setns(int fd, int nstype)
{
	int r = REAL(setns)(fd, nstype);
	if (r == 0) {
		note_thread_change(nstype);
		mc_track_root_changed();
	}
	return invalidated(r);
}

MC_EXPORT int unshare(int flags)
{
	int r = REAL(unshare)(flags);
	if (r == 0) {
		note_thread_change(flags);
		mc_track_root_changed();
	}
	return invalidated(r);
}

MC_EXPORT int chroot(const char *path)
{
	int r = REAL(chroot)(path);
	if (r == 0)
		mc_track_root_changed();
	if (r == 0 && gettid() != getpid())
		mc_threads_diverged = true;
	return invalidated(r);
}

/* ---- exec, spawn, and the kernel reading the fd itself ------------------ */

MC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	mc_exec_prepare();
	return REAL(execve)(path, argv, envp);
}

MC_EXPORT int execv(const char *path, char *const argv[])
{
	mc_exec_prepare();
	return REAL(execv)(path, argv);
}

MC_EXPORT int execvp(const char *file, char *const argv[])
{
	mc_exec_prepare();
	return REAL(execvp)(file, argv);
}

MC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	mc_exec_prepare();
	return REAL(execvpe)(file, argv, envp);
}

MC_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	mc_exec_prepare();
	return REAL(fexecve)(fd, argv, envp);
}

/* execl, execlp, execle: glibc builds the argument vector and calls its
 * internal execve, which we cannot see; so do we, and call ours. */
#define EXECL_ARGV(first, ap, argv)                                          \
	size_t n_ = 1;                                                        \
	va_start(ap, first);                                                  \
	while (va_arg(ap, char *))                                            \
		n_++;                                                         \
	va_end(ap);                                                           \
	char *argv[n_ + 1];                                                   \
	argv[0] = (char *)(first);                                            \
	va_start(ap, first);                                                  \
	for (size_t i_ = 1; i_ <= n_; i_++)                                   \
		argv[i_] = va_arg(ap, char *);

MC_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv)
	va_end(ap);
	return execv(path, argv);
}

MC_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv)
	va_end(ap);
	return execvp(file, argv);
}

MC_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	EXECL_ARGV(arg, ap, argv)
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

MC_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	mc_exec_prepare();
	return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
}

MC_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	mc_exec_prepare();
	return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

MC_EXPORT int system(const char *cmd)
{
	mc_exec_prepare();
	return REAL(system)(cmd);
}

MC_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	mc_exec_prepare();
	return REAL(popen)(cmd, mode);
}

/* The kernel reads @in itself: give it our offset, take back its own. */
#define KERNEL_READS(in, call)                                           \
	do {                                                             \
		struct mc_guard g_;                                      \
		mc_first_used(in, true);                                 \
		if (!mc_fd_peek(in) || !mc_enter(&g_)) {                 \
			ssize_t k_ = call;                               \
			/* a noted fd the kernel read from (cat tries    \
			 * copy_file_range first: EXDEV, nothing read) */ \
			if (k_ > 0) {                                    \
				int e_ = errno;                          \
				mc_first_forget((unsigned)(in), (unsigned)(in)); \
				errno = e_;                              \
			}                                                \
			return k_;                                       \
		}                                                        \
		mc_fd_sync_kernel(in);                                   \
		mc_leave(&g_);                                           \
		ssize_t r_ = call;                                       \
		int e_ = errno;                                          \
		if (mc_enter(&g_)) {                                     \
			mc_fd_adopt_kernel(in);                          \
			mc_leave(&g_);                                   \
		}                                                        \
		errno = e_;                                              \
		return r_;                                               \
	} while (0)

MC_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	KERNEL_READS(in, REAL(sendfile)(out, in, off, n));
}

MC_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	KERNEL_READS(in, REAL(sendfile64)(out, in, off, n));
}

MC_EXPORT ssize_t splice(int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned flags)
{
	KERNEL_READS(in, REAL(splice)(in, off_in, out, off_out, n, flags));
}

MC_EXPORT ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned flags)
{
	KERNEL_READS(in, REAL(copy_file_range)(in, off_in, out, off_out, n, flags));
}
