/* hooks.c: the interposed functions. Each is a thin wrapper: decide "ours or
 * not" as cheaply as possible, hand ours to ofd.c/stream.c, and call the
 * real function for everything else, or whenever in doubt.
 *
 * Errors: the engine returns -errno; here it becomes -1 and errno. On
 * success errno is left as the caller had it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio_ext.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* Returned by serve() when the fd turned out not to be ours after all. */
#define PASS ((ssize_t)INT_MIN)

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

#define OPEN_WRAPPER(name, has_dirfd, dirfd_expr)                                 \
	{                                                                         \
		va_list ap;                                                       \
		va_start(ap, flags);                                              \
		mode_t mode = open_mode(flags, ap);                               \
		va_end(ap);                                                       \
		struct mc_track_plan plan;                                        \
		bool serve = mc_track_plan(dirfd_expr, path, flags, &plan);       \
		int fd = real_openat((int (*)())REAL(name), has_dirfd, dirfd_expr, \
				     path, flags, mode);                          \
		if (serve)                                                        \
			mc_track_commit(&plan, fd, false);                        \
		return fd;                                                        \
	}

MC_EXPORT int open(const char *path, int flags, ...) OPEN_WRAPPER(open, false, AT_FDCWD)
MC_EXPORT int open64(const char *path, int flags, ...) OPEN_WRAPPER(open64, false, AT_FDCWD)
MC_EXPORT int openat(int dirfd, const char *path, int flags, ...) OPEN_WRAPPER(openat, true, dirfd)
MC_EXPORT int openat64(int dirfd, const char *path, int flags, ...) OPEN_WRAPPER(openat64, true, dirfd)

/* The _FORTIFY_SOURCE variants abort on O_CREAT without a mode: the real
 * ones do that check, we only watch what they return. */
#define OPEN2_WRAPPER(name, dirfd, ...)                                            \
	{                                                                          \
		struct mc_track_plan plan;                                         \
		bool serve = mc_track_plan(dirfd, path, flags, &plan);             \
		int fd = REAL(name) ? mc_real.name(__VA_ARGS__)                    \
				    : (int)syscall(SYS_openat, dirfd, path, flags, 0); \
		if (serve)                                                         \
			mc_track_commit(&plan, fd, false);                         \
		return fd;                                                         \
	}

MC_EXPORT int __open_2(const char *path, int flags) OPEN2_WRAPPER(__open_2, AT_FDCWD, path, flags)
MC_EXPORT int __open64_2(const char *path, int flags) OPEN2_WRAPPER(__open64_2, AT_FDCWD, path, flags)
MC_EXPORT int __openat_2(int dirfd, const char *path, int flags) OPEN2_WRAPPER(__openat_2, dirfd, dirfd, path, flags)
MC_EXPORT int __openat64_2(int dirfd, const char *path, int flags) OPEN2_WRAPPER(__openat64_2, dirfd, dirfd, path, flags)

/* ---- stdio and mntent ------------------------------------------------- */

/* fopen/setmntent on a path we serve: open it ourselves and wrap the fd.
 * Returns NULL with *ret_handled false when the caller should use glibc. */
static FILE *open_stream(const char *path, const char *mode, bool *ret_handled)
{
	struct mc_track_plan plan;
	int flags;

	*ret_handled = false;
	if (!mc_stream_mode(mode, &flags) || !mc_track_plan(AT_FDCWD, path, flags, &plan))
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

MC_EXPORT FILE *fopen(const char *path, const char *mode)
{
	bool handled;
	FILE *fp = open_stream(path, mode, &handled);
	return handled ? fp : REAL(fopen)(path, mode);
}

MC_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	bool handled;
	FILE *fp = open_stream(path, mode, &handled);
	return handled ? fp : REAL(fopen64)(path, mode);
}

/* freopen keeps the FILE but reopens it: ours becomes a plain glibc FILE
 * reading the kernel (fail open). */
MC_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	mc_stream_forget(fp);
	return REAL(freopen)(path, mode, fp);
}

MC_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	mc_stream_forget(fp);
	return REAL(freopen64)(path, mode, fp);
}

MC_EXPORT FILE *fdopen(int fd, const char *mode)
{
	int flags;
	struct mc_ofd *o = mc_fd_get(fd);
	if (o) {
		FILE *fp = mc_stream_mode(mode, &flags) && mc_ofd_check_fd(o, fd) ? mc_stream_open(fd, o) : NULL;
		if (fp)
			return fp;
		mc_ofd_put(o);
	}
	return REAL(fdopen)(fd, mode);
}

MC_EXPORT FILE *setmntent(const char *path, const char *mode)
{
	bool handled;
	FILE *fp = open_stream(path, mode, &handled);
	if (!handled)
		return REAL(setmntent)(path, mode);
	if (fp)         /* as glibc: the caller does the locking */
		__fsetlocking(fp, FSETLOCKING_BYCALLER);
	return fp;
}

MC_EXPORT int endmntent(FILE *fp)
{
	return REAL(endmntent)(fp);
}

static struct mntent *mntent_r(struct mc_ofd *o, FILE *fp, struct mntent *mp, char *buf, int size,
			       struct mntent *(*real)(FILE *, struct mntent *, char *, int))
{
	/* Ours and nothing buffered in the FILE (a program may mix in fgets):
	 * answer from the parsed snapshot. At the end, or on any doubt, glibc
	 * reads the stream itself, which sets EOF exactly as it would. */
	if (o && fp->_IO_read_ptr == fp->_IO_read_end && size > 0) {
		int saved = errno;
		int r = mc_ofd_getmntent(o, mp, buf, size);
		errno = saved;
		if (r == 1)
			return mp;
	}
	return real(fp, mp, buf, size);
}

MC_EXPORT struct mntent *getmntent_r(FILE *fp, struct mntent *mp, char *buf, int size)
{
	return mntent_r(mc_stream_ofd(fp), fp, mp, buf, size, REAL(getmntent_r));
}

MC_EXPORT struct mntent *__getmntent_r(FILE *fp, struct mntent *mp, char *buf, int size)
{
	return mntent_r(mc_stream_ofd(fp), fp, mp, buf, size, REAL(__getmntent_r));
}

MC_EXPORT struct mntent *getmntent(FILE *fp)
{
	/* glibc's getmntent is getmntent_r into one static 4 KiB buffer. */
	static struct mntent m;
	static char buf[4096];
	struct mc_ofd *o = mc_stream_ofd(fp);
	if (!o)
		return REAL(getmntent)(fp);
	return mntent_r(o, fp, &m, buf, sizeof buf, REAL(getmntent_r));
}

/* ---- read ------------------------------------------------------------- */

/* Serve a read on @fd (a description of ours, referenced): -1/errno, bytes,
 * or PASS when the fd number no longer holds our file (closed behind our
 * back and reused). */
static ssize_t serve(struct mc_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off)
{
	int saved = errno;
	ssize_t r;

	if (!mc_ofd_check_fd(o, fd)) {
		mc_ofd_put(o);
		mc_fd_forget(fd);
		errno = saved;
		return PASS;
	}
	r = mc_ofd_read(o, fd, iov, cnt, off);
	mc_ofd_put(o);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return r;
}

#define SERVE(fd, iov, cnt, off, real_call)                       \
	do {                                                      \
		struct mc_ofd *o_ = mc_fd_get(fd);                \
		if (likely(!o_))                                  \
			return real_call;                         \
		ssize_t r_ = serve(o_, fd, iov, cnt, off);        \
		return r_ == PASS ? real_call : r_;               \
	} while (0)

static ssize_t bad_offset(struct mc_ofd *o)
{
	mc_ofd_put(o);
	errno = EINVAL;
	return -1;
}

/* Offsets given explicitly must not be negative (the kernel's EINVAL). */
#define SERVE_AT(fd, iov, cnt, off, real_call)                         \
	do {                                                           \
		if (unlikely((off) < 0)) {                             \
			struct mc_ofd *o_ = mc_fd_get(fd);             \
			if (o_)                                        \
				return bad_offset(o_);                 \
		}                                                      \
		SERVE(fd, iov, cnt, off, real_call);                   \
	} while (0)

MC_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct iovec iov = { buf, n };
	SERVE(fd, &iov, 1, -1, REAL(read) ? mc_real.read(fd, buf, n) : syscall(SYS_read, fd, buf, n));
}

MC_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)                         /* the real one aborts */
		return REAL(__read_chk)(fd, buf, n, buflen);
	SERVE(fd, &iov, 1, -1, REAL(__read_chk)(fd, buf, n, buflen));
}

MC_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct iovec iov = { buf, n };
	SERVE_AT(fd, &iov, 1, off, REAL(pread)(fd, buf, n, off));
}

MC_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct iovec iov = { buf, n };
	SERVE_AT(fd, &iov, 1, off, REAL(pread64)(fd, buf, n, off));
}

MC_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)
		return REAL(__pread_chk)(fd, buf, n, off, buflen);
	SERVE_AT(fd, &iov, 1, off, REAL(__pread_chk)(fd, buf, n, off, buflen));
}

MC_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	struct iovec iov = { buf, n };
	if (n > buflen)
		return REAL(__pread64_chk)(fd, buf, n, off, buflen);
	SERVE_AT(fd, &iov, 1, off, REAL(__pread64_chk)(fd, buf, n, off, buflen));
}

MC_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	SERVE(fd, iov, cnt, -1, REAL(readv)(fd, iov, cnt));
}

MC_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	SERVE_AT(fd, iov, cnt, off, REAL(preadv)(fd, iov, cnt, off));
}

MC_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	SERVE_AT(fd, iov, cnt, off, REAL(preadv64)(fd, iov, cnt, off));
}

/* preadv2: offset -1 means the file position. RWF_NOWAIT is refused on
 * seq_file (EOPNOTSUPP); the kernel checks the other flags and ignores them
 * for a read, so do we, after letting it judge them on a zero-length read. */
static ssize_t preadv2_common(int fd, const struct iovec *iov, int cnt, off64_t off, int flags,
			      ssize_t (*real)(int, const struct iovec *, int, off64_t, int))
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (likely(!o))
		return real(fd, iov, cnt, off, flags);
	if (off < -1)
		return bad_offset(o);
	if (flags) {
		mc_ofd_put(o);
		if (flags & RWF_NOWAIT) {
			errno = EOPNOTSUPP;
			return -1;
		}
		o = mc_fd_get(fd);
		if (!o)
			return real(fd, iov, cnt, off, flags);
	}
	ssize_t r = serve(o, fd, iov, cnt, off);
	return r == PASS ? real(fd, iov, cnt, off, flags) : r;
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
	struct mc_ofd *o = mc_fd_get(fd);
	if (likely(!o))
		return real(fd, off, whence);
	if (!mc_ofd_check_fd(o, fd)) {
		mc_ofd_put(o);
		mc_fd_forget(fd);
		return real(fd, off, whence);
	}
	off_t r = mc_ofd_lseek(o, off, whence);
	mc_ofd_put(o);
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

MC_EXPORT int close(int fd)
{
	mc_fd_forget(fd);
	return REAL(close) ? mc_real.close(fd) : (int)syscall(SYS_close, fd);
}

MC_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		mc_fd_forget_range(first, last);
	return REAL(close_range)(first, last, flags);
}

MC_EXPORT void closefrom(int lowfd)
{
	if (lowfd >= 0)
		mc_fd_forget_range((unsigned)lowfd, UINT_MAX);
	REAL(closefrom)(lowfd);
}

MC_EXPORT int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0)
		mc_fd_dup(fd, r);
	return r;
}

MC_EXPORT int dup2(int fd, int fd2)
{
	int r = REAL(dup2)(fd, fd2);
	if (r >= 0)
		mc_fd_dup(fd, fd2);
	return r;
}

MC_EXPORT int dup3(int fd, int fd2, int flags)
{
	int r = REAL(dup3)(fd, fd2, flags);
	if (r >= 0)
		mc_fd_dup(fd, fd2);
	return r;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		mc_fd_dup(fd, r);
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
	mc_views_invalidate();
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
	if (r == 0)
		note_thread_change(nstype);
	return invalidated(r);
}

MC_EXPORT int unshare(int flags)
{
	int r = REAL(unshare)(flags);
	if (r == 0)
		note_thread_change(flags);
	return invalidated(r);
}

MC_EXPORT int chroot(const char *path)
{
	int r = REAL(chroot)(path);
	if (r == 0 && gettid() != getpid())
		mc_threads_diverged = true;
	return invalidated(r);
}
