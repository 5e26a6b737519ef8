/* fdwatch.c: interposers that only watch fd numbers come and go.
 *
 * fdmap.c serves a read() that continues a pass without asking the kernel
 * what the fd holds; that is sound only if we see every way a number can
 * be freed or replaced (hooks.c: close, close_range, closefrom, dup2,
 * dup3, fcntl; here: fclose and freopen of a glibc FILE on our fd, and
 * syscall() itself). A number can be reused only after it was freed, so
 * those suffice; as a second line, every libc call here that hands out a
 * new number drops whatever we knew of it: if we had state for that
 * number, it was freed behind our back. Each costs, when the number is
 * not ours, one relaxed load. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "preload.h"

/* @fd is a number the kernel just handed out: anything we kept for it is
 * stale. Not from a nested call (our locks may be held): a stale entry is
 * then caught by the identity check at the next pass. */
int mc_fd_fresh(int fd)
{
	struct mc_guard g;
	if (fd >= 0)
		mc_host_fd_freed((unsigned)fd, (unsigned)fd);   /* a view's own number, freed unseen */
	if (likely(fd < 0 || !mc_fd_peek(fd)) || !mc_enter(&g))
		return fd;
	int saved = errno;
	mc_fd_forget(fd);
	errno = saved;
	mc_leave(&g);
	return fd;
}

static void fresh_pair(int r, const int fds[2])
{
	if (r == 0) {
		mc_fd_fresh(fds[0]);
		mc_fd_fresh(fds[1]);
	}
}

#define NEXT(f) ((__typeof__(&f))mc_next(&next_##f, #f))
static void *mc_next(void **cache, const char *name)
{
	void *p = __atomic_load_n(cache, __ATOMIC_RELAXED);
	if (unlikely(!p)) {
		p = mc_resolve(name);
		__atomic_store_n(cache, p, __ATOMIC_RELAXED);
	}
	return p;
}
#define NEXT_DECL(f) static void *next_##f

NEXT_DECL(socket); NEXT_DECL(socketpair); NEXT_DECL(accept); NEXT_DECL(accept4);
NEXT_DECL(pipe); NEXT_DECL(pipe2); NEXT_DECL(eventfd); NEXT_DECL(epoll_create);
NEXT_DECL(epoll_create1); NEXT_DECL(memfd_create); NEXT_DECL(timerfd_create);
NEXT_DECL(signalfd); NEXT_DECL(inotify_init); NEXT_DECL(inotify_init1);
NEXT_DECL(fanotify_init); NEXT_DECL(recvmsg); NEXT_DECL(recvmmsg); NEXT_DECL(creat);
NEXT_DECL(creat64); NEXT_DECL(pidfd_open); NEXT_DECL(pidfd_getfd); NEXT_DECL(fclose);

MC_EXPORT int socket(int domain, int type, int proto)
{
	return mc_fd_fresh(NEXT(socket)(domain, type, proto));
}

MC_EXPORT int socketpair(int domain, int type, int proto, int fds[2])
{
	int r = NEXT(socketpair)(domain, type, proto, fds);
	fresh_pair(r, fds);
	return r;
}

MC_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return mc_fd_fresh(NEXT(accept)(fd, addr, len));
}

MC_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return mc_fd_fresh(NEXT(accept4)(fd, addr, len, flags));
}

MC_EXPORT int pipe(int fds[2])
{
	int r = NEXT(pipe)(fds);
	fresh_pair(r, fds);
	return r;
}

MC_EXPORT int pipe2(int fds[2], int flags)
{
	int r = NEXT(pipe2)(fds, flags);
	fresh_pair(r, fds);
	return r;
}

MC_EXPORT int eventfd(unsigned count, int flags)
{
	return mc_fd_fresh(NEXT(eventfd)(count, flags));
}

MC_EXPORT int epoll_create(int size)
{
	return mc_fd_fresh(NEXT(epoll_create)(size));
}

MC_EXPORT int epoll_create1(int flags)
{
	return mc_fd_fresh(NEXT(epoll_create1)(flags));
}

MC_EXPORT int memfd_create(const char *name, unsigned flags)
{
	return mc_fd_fresh(NEXT(memfd_create)(name, flags));
}

MC_EXPORT int timerfd_create(int clock, int flags)
{
	return mc_fd_fresh(NEXT(timerfd_create)(clock, flags));
}

MC_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	int r = NEXT(signalfd)(fd, mask, flags);
	return fd == -1 ? mc_fd_fresh(r) : r;
}

MC_EXPORT int inotify_init(void)
{
	return mc_fd_fresh(NEXT(inotify_init)());
}

MC_EXPORT int inotify_init1(int flags)
{
	return mc_fd_fresh(NEXT(inotify_init1)(flags));
}

MC_EXPORT int fanotify_init(unsigned flags, unsigned event_flags)
{
	return mc_fd_fresh(NEXT(fanotify_init)(flags, event_flags));
}

MC_EXPORT int creat(const char *path, mode_t mode)
{
	return mc_fd_fresh(NEXT(creat)(path, mode));
}

MC_EXPORT int creat64(const char *path, mode_t mode)
{
	return mc_fd_fresh(NEXT(creat64)(path, mode));
}

MC_EXPORT int pidfd_open(pid_t pid, unsigned flags)
{
	return mc_fd_fresh(NEXT(pidfd_open)(pid, flags));
}

MC_EXPORT int pidfd_getfd(int pidfd, int fd, unsigned flags)
{
	return mc_fd_fresh(NEXT(pidfd_getfd)(pidfd, fd, flags));
}

/* fds received with SCM_RIGHTS are new numbers too. */
static void fresh_rights(const struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)msg); c;
	     c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			mc_fd_fresh(fd);
		}
	}
}

MC_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = NEXT(recvmsg)(fd, msg, flags);
	if (r >= 0 && msg->msg_controllen)
		fresh_rights(msg);
	return r;
}

MC_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned n, int flags, struct timespec *timeout)
{
	int r = NEXT(recvmmsg)(fd, vec, n, flags, timeout);
	for (int i = 0; i < r; i++)
		if (vec[i].msg_hdr.msg_controllen)
			fresh_rights(&vec[i].msg_hdr);
	return r;
}

/* A glibc FILE on a served fd (fdopen fell back to glibc's) closes it
 * inside libc, where close() is not seen: forget it first, as close()
 * does (after, another thread could already have the number anew). Our
 * own streams close through their cookie (stream.c). */
MC_EXPORT int fclose(FILE *fp)
{
	if (fp && !mc_stream_ofd(fp))
		mc_fd_fresh(fp->_fileno);
	return NEXT(fclose)(fp);
}

/* ---- syscall() --------------------------------------------------------
 * A program (or a library) may close or duplicate fds through syscall().
 * The engine's own raw calls (cache/sys.h) land here too. Each goes on to
 * the next syscall() (libc's, or a test's fault injector), looked up on
 * first use; a call made while that lookup runs (dlsym may open files) is
 * made raw, here. */
#if defined(__x86_64__)
static inline long raw_syscall(long n, const long a[6])
{
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	register long r9 __asm__("r9") = a[5];
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define HAVE_RAW_SYSCALL 1
#elif defined(__aarch64__)
static inline long raw_syscall(long n, const long a[6])
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a[0];
	register long x1 __asm__("x1") = a[1];
	register long x2 __asm__("x2") = a[2];
	register long x3 __asm__("x3") = a[3];
	register long x4 __asm__("x4") = a[4];
	register long x5 __asm__("x5") = a[5];
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#define HAVE_RAW_SYSCALL 1
#endif

#ifdef HAVE_RAW_SYSCALL
static __thread bool resolving;

static long next_syscall(long n, const long a[6])
{
	typedef long (*fn_t)(long, ...);
	static fn_t next;
	fn_t f = __atomic_load_n(&next, __ATOMIC_RELAXED);
	if (unlikely(!f) && !resolving) {
		resolving = true;
		f = (fn_t)mc_resolve("syscall");
		resolving = false;
		__atomic_store_n(&next, f, __ATOMIC_RELAXED);
	}
	if (likely(f))
		return f(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	long r = raw_syscall(n, a);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Before the call: a number about to be freed, or an exec. */
static void before(long n, const long a[6])
{
	struct mc_guard g;
	switch (n) {
	case SYS_execve:
	case SYS_execveat:
		mc_exec_prepare();
		break;
	case SYS_close:
		mc_host_fd_freed((unsigned)a[0], (unsigned)a[0]);
		if (mc_fd_peek((int)a[0]) && mc_enter(&g)) {
			mc_fd_forget((int)a[0]);
			mc_leave(&g);
		}
		break;
	case SYS_close_range:
		if ((unsigned)a[2] & CLOSE_RANGE_CLOEXEC)
			break;
		mc_host_fd_freed((unsigned)a[0], (unsigned)a[1]);
		if (mc_enter(&g)) {
			mc_fd_forget_range((unsigned)a[0], (unsigned)a[1]);
			mc_leave(&g);
		}
		break;
	}
}

/* @from duplicated to @to (both now share its offset), or @to replaced:
 * a noted first open stays the kernel's (first.c), the fd map follows. */
void mc_fd_dup_seen(int from, int to)
{
	struct mc_guard g;
	mc_first_used(from, false);
	if (to >= 0 && to != from)
		mc_first_forget((unsigned)to, (unsigned)to);
	if ((mc_fd_peek(from) || mc_fd_peek(to)) && mc_enter(&g)) {
		mc_fd_dup(from, to);
		mc_leave(&g);
	}
}

/* After a successful call: a number replaced, duplicated or handed out. */
static void after(long n, const long a[6], long r)
{
	switch (n) {
#ifdef SYS_dup2
	case SYS_dup2:
#endif
	case SYS_dup3:
		if (a[0] != a[1])
			mc_host_fd_freed((unsigned)a[1], (unsigned)a[1]);
		mc_fd_dup_seen((int)a[0], (int)a[1]);
		break;
	case SYS_chroot:
	case SYS_setns:
	case SYS_unshare:
	case SYS_pivot_root:
		mc_track_root_changed();
		mc_views_invalidate();
		break;
	case SYS_dup:
		mc_fd_dup_seen((int)a[0], (int)r);
		break;
	case SYS_fcntl:
		if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC)
			mc_fd_dup_seen((int)a[0], (int)r);
		break;
#ifdef SYS_open
	case SYS_open:
#endif
#ifdef SYS_creat
	case SYS_creat:
#endif
	case SYS_openat:
	case SYS_openat2:
	case SYS_open_by_handle_at:
	case SYS_socket:
	case SYS_accept:
	case SYS_accept4:
	case SYS_eventfd2:
	case SYS_epoll_create1:
	case SYS_memfd_create:
	case SYS_timerfd_create:
	case SYS_inotify_init1:
	case SYS_fanotify_init:
	case SYS_pidfd_open:
	case SYS_pidfd_getfd:
	case SYS_open_tree:
	case SYS_fsopen:
	case SYS_fsmount:
	case SYS_fspick:
		mc_fd_fresh((int)r);
		break;
	}
}

/* The flags of a clone or clone3 call; false for any other. clone3's are
 * read from the caller's struct before the kernel does (a bad pointer
 * faults here where the kernel would say EFAULT). */
static bool clone_flags(long n, const long a[6], uint64_t *ret)
{
	switch (n) {
	case SYS_clone:
		*ret = (uint64_t)a[0];
		return true;
#ifdef SYS_clone3
	case SYS_clone3:
		if (!a[0] || (size_t)a[1] < sizeof(uint64_t))
			return false;
		*ret = *(const uint64_t *)a[0];
		return true;
#endif
	}
	return false;
}

/* A new process with a copy of our memory (fork, or clone without
 * CLONE_VM): the steps of fork()'s handlers around it (real.c). A
 * CLONE_VM child is a thread (noted: mc_note_clone) or a vfork: left
 * alone. With CLONE_VFORK (and no CLONE_VM) the parent sleeps until the
 * child execs or exits, holding our locks: the program's other threads
 * wait for them as long. */
static bool fork_like(long n, const long a[6])
{
#ifdef SYS_fork
	if (n == SYS_fork)
		return true;
#endif
	uint64_t flags;
	if (!clone_flags(n, a, &flags))
		return false;
	mc_note_clone(flags);
	return !(flags & CLONE_VM);
}

static long fork_syscall(long n, const long a[6])
{
	bool locked = mc_fork_prepare();
	long r = next_syscall(n, a);
	int saved = errno;
	if (r == 0)
		mc_fork_child(locked);
	else
		mc_fork_parent(locked);
	errno = saved;
	return r;
}

MC_EXPORT long syscall(long n, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (unlikely(fork_like(n, a)))
		return fork_syscall(n, a);
	before(n, a);
	long r = next_syscall(n, a);
	if (r >= 0) {
		int saved = errno;
		after(n, a, r);
		errno = saved;
	}
	return r;
}
#endif
