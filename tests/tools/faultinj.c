/* faultinj.so: a test-only preload that fails chosen calls made by
 * mountcache's own code (never installed; see tests/e2e/faults.sh).
 *
 *   LD_PRELOAD="build/libmountcache-preload.so build/faultinj.so" \
 *   FAULT=read:3:short,malloc:2+:ENOMEM  PROGRAM...
 *
 * FAULT is a comma-separated list of KIND:N:ACTION. The Nth call of KIND
 * (counted from 1) fails; "N+" fails the Nth and every later one. Only
 * calls made directly from the object named by FAULT_OBJECT (a substring
 * of its path, default "libmountcache-preload.so"; "mountcached" for the daemon,
 * whose engine is linked in) are counted or failed: the host program's own
 * calls always reach libc untouched.
 *
 * Kinds. The engine's raw system calls, caught through syscall(3) (see
 * cache/sys.h): openat read lseek close fcntl fstat preadv mount_setattr. libc calls:
 * poll statx fstatfs stat socket connect getsockopt send sendmsg recvmsg
 * mmap malloc calloc realloc memfd_create getrlimit getcwd readlink
 * nanosleep.
 *
 * Actions: an errno name (ENOMEM EINTR EAGAIN EMFILE ENFILE EBADF EIO
 * EINVAL EACCES EPERM ENOENT ETIMEDOUT ECONNRESET ECONNREFUSED), the call
 * returning -1 (NULL, MAP_FAILED) with it; "short": read, preadv and
 * recvmsg transfer at most half of what was asked (at least 1 byte; a
 * recvmsg then sees a truncated message); "zero": read/preadv/recvmsg
 * return 0 (end of file, or the peer closed mid-conversation); "event":
 * poll reports POLLPRI|POLLERR (a change) on every fd. close always closes
 * the fd first, as Linux does, and then reports the error.
 *
 * FAULT_GUARD=1: memory the watched object unmaps is never handed out
 * again: munmap() and a moving mremap() leave the old pages mapped
 * PROT_NONE, so that any use after free faults at once instead of reading
 * whatever the next mmap() put there (ASan does not watch mmap'd memory).
 *
 * FAULT_LOG=FILE: at exit, append one line per kind seen, "KIND CALLS",
 * and one "fired KIND N ACTION" per injected failure (also written as it
 * happens), so that a test can tell how far to count and whether the
 * fault was reached. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum kind {
	K_OPENAT, K_READ, K_LSEEK, K_CLOSE, K_FCNTL, K_FSTAT, K_PREADV,
	K_POLL, K_STATX, K_FSTATFS, K_STAT, K_SOCKET, K_CONNECT, K_GETSOCKOPT,
	K_SEND, K_SENDMSG, K_RECVMSG, K_MMAP, K_MALLOC, K_CALLOC, K_REALLOC,
	K_MEMFD, K_GETRLIMIT, K_GETCWD, K_READLINK, K_NANOSLEEP, K_SETATTR, K_NR
};
static const char *const kind_name[K_NR] = {
	"openat", "read", "lseek", "close", "fcntl", "fstat", "preadv",
	"poll", "statx", "fstatfs", "stat", "socket", "connect", "getsockopt",
	"send", "sendmsg", "recvmsg", "mmap", "malloc", "calloc", "realloc",
	"memfd_create", "getrlimit", "getcwd", "readlink", "nanosleep", "mount_setattr",
};

enum { A_ERRNO, A_SHORT, A_ZERO, A_EVENT };
struct rule {
	unsigned long n;
	bool and_later;
	int action, err;
};
#define MAX_RULES 4
static struct rule rules[K_NR][MAX_RULES];
static int nrules[K_NR];
static atomic_ulong calls[K_NR];
static uintptr_t obj_lo, obj_hi;        /* the watched object's mapping */
static const char *obj_name = "libmountcache-preload.so";
static const char *log_path;
static atomic_bool ready;
static bool guard;

static const struct { const char *name; int err; } errnos[] = {
	{ "ENOMEM", ENOMEM }, { "EINTR", EINTR }, { "EAGAIN", EAGAIN }, { "EMFILE", EMFILE },
	{ "ENFILE", ENFILE }, { "EBADF", EBADF }, { "EIO", EIO }, { "EINVAL", EINVAL },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "ENOENT", ENOENT },
	{ "ETIMEDOUT", ETIMEDOUT }, { "ECONNRESET", ECONNRESET }, { "ECONNREFUSED", ECONNREFUSED },
};

/* ---- the real functions ---------------------------------------------- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

#define NEXT(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static long (*raw_syscall)(long, ...);

/* The log is written with raw calls only: we may be inside malloc, and
 * the preload watches open/write/close. */
static void log_line(const char *s)
{
	if (!log_path || !raw_syscall)
		return;
	int saved = errno;
	long fd = raw_syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		raw_syscall(SYS_write, fd, s, strlen(s));
		raw_syscall(SYS_close, fd);
	}
	errno = saved;
}

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (!info->dlpi_name || !strstr(info->dlpi_name[0] ? info->dlpi_name : "", obj_name)) {
		/* the main program has an empty name: match it by /proc/self/exe */
		if (!info->dlpi_name || info->dlpi_name[0] || !strstr(program_invocation_name, obj_name))
			return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		obj_lo = info->dlpi_addr + ph->p_vaddr;
		obj_hi = obj_lo + ph->p_memsz;
		return 1;
	}
	return 0;
}

__attribute__((constructor)) static void faultinj_init(void)
{
	const char *spec = getenv("FAULT");
	const char *obj = getenv("FAULT_OBJECT");

	raw_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	const char *g = getenv("FAULT_GUARD");
	guard = g && *g == '1';
	log_path = getenv("FAULT_LOG");
	if (obj && *obj)
		obj_name = obj;
	dl_iterate_phdr(find_object, NULL);
	if (!obj_lo)
		return;
	for (const char *p = spec; p && *p; ) {
		char item[128];
		size_t l = strcspn(p, ",");
		snprintf(item, sizeof item, "%.*s", (int)l, p);
		p += l + (p[l] == ',');
		char *k = strtok(item, ":"), *n = strtok(NULL, ":"), *a = strtok(NULL, ":");
		if (!k || !n || !a)
			continue;
		for (int i = 0; i < K_NR; i++) {
			if (strcmp(k, kind_name[i]) || nrules[i] == MAX_RULES)
				continue;
			struct rule *r = &rules[i][nrules[i]];
			char *end;
			r->n = strtoul(n, &end, 10);
			r->and_later = *end == '+';
			r->action = !strcmp(a, "short") ? A_SHORT : !strcmp(a, "zero") ? A_ZERO :
				    !strcmp(a, "event") ? A_EVENT : A_ERRNO;
			r->err = EIO;
			for (size_t e = 0; e < sizeof errnos / sizeof errnos[0]; e++)
				if (!strcmp(a, errnos[e].name))
					r->err = errnos[e].err;
			nrules[i]++;
		}
	}
	atomic_store(&ready, true);
}

__attribute__((destructor)) static void faultinj_fini(void)
{
	char line[64];
	if (!log_path)
		return;
	for (int i = 0; i < K_NR; i++) {
		unsigned long c = atomic_load(&calls[i]);
		if (c) {
			snprintf(line, sizeof line, "%s %lu\n", kind_name[i], c);
			log_line(line);
		}
	}
}

/* Count a call from the watched object; return the rule to apply, if any. */
static const struct rule *hit(enum kind k, void *caller)
{
	if (!atomic_load_explicit(&ready, memory_order_relaxed) ||
	    (uintptr_t)caller < obj_lo || (uintptr_t)caller >= obj_hi)
		return NULL;
	unsigned long c = atomic_fetch_add(&calls[k], 1) + 1;
	for (int i = 0; i < nrules[k]; i++) {
		const struct rule *r = &rules[k][i];
		if (c == r->n || (r->and_later && c > r->n)) {
			char line[96];
			snprintf(line, sizeof line, "fired %s %lu %s\n", kind_name[k], c,
				 r->action == A_SHORT ? "short" : r->action == A_ZERO ? "zero" :
				 r->action == A_EVENT ? "event" : strerrorname_np(r->err));
			log_line(line);
			return r;
		}
	}
	return NULL;
}

#define CALLER __builtin_return_address(0)
#define FAIL(r, val) do { errno = (r)->err; return (val); } while (0)

/* ---- syscall(3): the engine's raw calls ------------------------------ */
EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	NEXT(syscall);

	enum kind k = K_NR;
	switch (nr) {
	case SYS_openat: k = K_OPENAT; break;
	case SYS_read: k = K_READ; break;
	case SYS_lseek: k = K_LSEEK; break;
	case SYS_close: k = K_CLOSE; break;
	case SYS_fcntl: k = K_FCNTL; break;
	case SYS_fstat: k = K_FSTAT; break;
	case SYS_preadv: k = K_PREADV; break;
	case 442: k = K_SETATTR; break;         /* mount_setattr: mtrack.c's barrier */
	}
	const struct rule *r = k == K_NR ? NULL : hit(k, CALLER);
	if (r && k == K_CLOSE) {
		real_syscall(nr, a[0]);
		FAIL(r, -1L);
	}
	if (r && r->action == A_ZERO && (k == K_READ || k == K_PREADV))
		return 0;
	if (r && r->action == A_SHORT && k == K_READ) {
		size_t n = (size_t)a[2];
		return real_syscall(nr, a[0], a[1], n > 1 ? n / 2 : n);
	}
	if (r && r->action == A_SHORT && k == K_PREADV) {
		const struct iovec *iov = (const struct iovec *)a[1];
		struct iovec one = { iov[0].iov_base, iov[0].iov_len > 1 ? iov[0].iov_len / 2 : iov[0].iov_len };
		return real_syscall(nr, a[0], &one, 1L, a[3], a[4]);
	}
	if (r && r->action == A_ERRNO)
		FAIL(r, -1L);
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- libc ------------------------------------------------------------- */
EXPORT void *malloc(size_t n)
{
	const struct rule *r = hit(K_MALLOC, CALLER);
	if (r)
		FAIL(r, NULL);
	return __libc_malloc(n);
}

EXPORT void *calloc(size_t n, size_t m)
{
	const struct rule *r = hit(K_CALLOC, CALLER);
	if (r)
		FAIL(r, NULL);
	return __libc_calloc(n, m);
}

EXPORT void *realloc(void *p, size_t n)
{
	const struct rule *r = hit(K_REALLOC, CALLER);
	if (r)
		FAIL(r, NULL);
	return __libc_realloc(p, n);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	NEXT(mmap);
	const struct rule *r = hit(K_MMAP, CALLER);
	if (r)
		FAIL(r, MAP_FAILED);
	return real_mmap(addr, len, prot, flags, fd, off);
}

/* FAULT_GUARD: unmapped pages stay reserved and inaccessible. */
static void retire(void *addr, size_t len)
{
	NEXT(mmap);
	real_mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

EXPORT int munmap(void *addr, size_t len)
{
	NEXT(munmap);
	if (guard && atomic_load(&ready) && (uintptr_t)CALLER >= obj_lo && (uintptr_t)CALLER < obj_hi) {
		retire(addr, len);
		return 0;
	}
	return real_munmap(addr, len);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	NEXT(mremap);
	va_list ap;
	va_start(ap, flags);
	void *fixed = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	if (guard && atomic_load(&ready) && (uintptr_t)CALLER >= obj_lo && (uintptr_t)CALLER < obj_hi &&
	    (flags & MREMAP_MAYMOVE) && !(flags & MREMAP_FIXED)) {
		/* grow in place if the kernel can; else copy and retire */
		void *p = real_mremap(old, old_len, new_len, 0);
		if (p != MAP_FAILED)
			return p;
		NEXT(mmap);
		p = real_mmap(NULL, new_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return p;
		memcpy(p, old, old_len < new_len ? old_len : new_len);
		retire(old, old_len);
		return p;
	}
	return (flags & MREMAP_FIXED) ? real_mremap(old, old_len, new_len, flags, fixed)
				      : real_mremap(old, old_len, new_len, flags);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	NEXT(poll);
	const struct rule *r = hit(K_POLL, CALLER);
	if (r && r->action == A_EVENT) {
		for (nfds_t i = 0; i < n; i++)
			fds[i].revents = POLLPRI | POLLERR;
		return (int)n;
	}
	if (r && r->action == A_ERRNO)
		FAIL(r, -1);
	return real_poll(fds, n, timeout);
}

#define SIMPLE(kind, ret, name, params, args)                      \
	EXPORT ret name params                                     \
	{                                                          \
		NEXT(name);                        \
		const struct rule *r = hit(kind, CALLER);          \
		if (r)                                             \
			FAIL(r, (ret)-1);                          \
		return real_##name args;                           \
	}

SIMPLE(K_STATX, int, statx, (int d, const char *p, int f, unsigned m, struct statx *s), (d, p, f, m, s))
SIMPLE(K_FSTATFS, int, fstatfs, (int fd, struct statfs *s), (fd, s))
SIMPLE(K_STAT, int, stat, (const char *p, struct stat *s), (p, s))
SIMPLE(K_SOCKET, int, socket, (int d, int t, int p), (d, t, p))
SIMPLE(K_CONNECT, int, connect, (int fd, __CONST_SOCKADDR_ARG a, socklen_t l), (fd, a, l))
SIMPLE(K_GETSOCKOPT, int, getsockopt, (int fd, int l, int o, void *v, socklen_t *len), (fd, l, o, v, len))
SIMPLE(K_SEND, ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f))
SIMPLE(K_SENDMSG, ssize_t, sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f))
SIMPLE(K_MEMFD, int, memfd_create, (const char *n, unsigned f), (n, f))
SIMPLE(K_GETRLIMIT, int, getrlimit, (__rlimit_resource_t res, struct rlimit *rl), (res, rl))
SIMPLE(K_READLINK, ssize_t, readlink, (const char *p, char *b, size_t n), (p, b, n))
SIMPLE(K_NANOSLEEP, int, nanosleep, (const struct timespec *a, struct timespec *b), (a, b))

EXPORT char *getcwd(char *buf, size_t n)
{
	NEXT(getcwd);
	const struct rule *r = hit(K_GETCWD, CALLER);
	if (r)
		FAIL(r, NULL);
	return real_getcwd(buf, n);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
	NEXT(recvmsg);
	const struct rule *r = hit(K_RECVMSG, CALLER);
	if (r && r->action == A_ZERO)
		return 0;
	if (r && r->action == A_SHORT && mh->msg_iovlen > 0) {
		/* a smaller buffer: the message arrives truncated (MSG_TRUNC) */
		struct iovec one = { mh->msg_iov[0].iov_base, mh->msg_iov[0].iov_len / 2 };
		struct iovec *saved = mh->msg_iov;
		size_t saved_len = mh->msg_iovlen;
		mh->msg_iov = &one;
		mh->msg_iovlen = 1;
		ssize_t n = real_recvmsg(fd, mh, flags);
		mh->msg_iov = saved;
		mh->msg_iovlen = saved_len;
		return n;
	}
	if (r && r->action == A_ERRNO)
		FAIL(r, -1);
	return real_recvmsg(fd, mh, flags);
}
