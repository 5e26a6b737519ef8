/* util.c: the growable buffer, the debug switch and the fd floor shared by
 * every layer. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mc.h"

int mc_debug_enabled;

/* Read straight from environ: this runs from a preload constructor, or even
 * before it, where getenv() is fine but nothing else may be initialised. */
void mc_debug_init(void)
{
	const char *v = secure_getenv("MOUNTCACHE_DEBUG");
	mc_debug_enabled = v && *v && strcmp(v, "0") != 0;
}

/* One write(2) per message so that concurrent threads do not interleave, and
 * no stdio: the host program's stderr buffering is not ours to touch. */
void mc_debug(const char *fmt, ...)
{
	char msg[512];
	int saved = errno;
	int n = snprintf(msg, sizeof msg, "mountcache[%d]: ", (int)getpid());
	va_list ap;

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof msg)
		n += vsnprintf(msg + n, sizeof msg - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof msg - 2)
		n = sizeof msg - 2;
	if (n > 0) {
		msg[n++] = '\n';
		ssize_t _mc_unused_ w = write(STDERR_FILENO, msg, n);
	}
	errno = saved;
}

/* Memory for everything open() and read() may allocate comes from mmap:
 * those two are async-signal-safe in the kernel, so a signal handler may
 * call them while the interrupted code is inside malloc(); malloc is not
 * async-signal-safe, mmap is. */
void *mc_zalloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void mc_zfree(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int mc_buf_reserve(struct mc_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	void *p = b->data ? mremap(b->data, b->cap, cap, MREMAP_MAYMOVE)
			  : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void mc_buf_free(struct mc_buf *b)
{
	mc_zfree(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Where our fds go: the top of the soft RLIMIT_NOFILE (capped at 4096, so
 * that a huge limit does not make the kernel grow a huge fd table), where
 * the host program's lowest-free-number allocation does not reach. Below a
 * limit of 256 we hold no fd at all (the table is then read from the
 * kernel), rather than take a number the program would get. */
int mc_fd_floor(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -EMFILE;
	rlim_t top = rl.rlim_cur < 4096 ? rl.rlim_cur : 4096;
	if (top < 256)
		return -EMFILE;
	return (int)top - 8;
}

/* This process's pid without a system call once known: it is kept in a page
 * the kernel zeroes in every child (MADV_WIPEONFORK, Linux 4.14+), so a
 * child made without fork handlers (_Fork, clone) asks anew. A vfork()
 * child shares our memory and sees our pid: it may only exec or _exit.
 * Where the page cannot be had, every call is a getpid(). */
pid_t *mc_pid_page;
#define pid_page mc_pid_page

pid_t mc_pid_slow(void)
{
	pid_t *p = __atomic_load_n(&pid_page, __ATOMIC_ACQUIRE);
	if (!p) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return getpid();
		if (madvise(m, 4096, MADV_WIPEONFORK) < 0) {
			munmap(m, 4096);
			return getpid();
		}
		pid_t *none = NULL;
		if (__atomic_compare_exchange_n(&pid_page, &none, (pid_t *)m, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			p = m;
		} else {
			munmap(m, 4096);
			p = none;
		}
	}
	pid_t me = getpid();
	__atomic_store_n(p, me, __ATOMIC_RELAXED);
	return me;
}


bool mc_fds_watched;
unsigned mc_view_fd_low = UINT_MAX;

/* Lower the watermark under which a freed number cannot be ours. */
void mc_own_fd_note(int fd)
{
	unsigned low = __atomic_load_n(&mc_view_fd_low, __ATOMIC_RELAXED);
	while ((unsigned)fd < low && !__atomic_compare_exchange_n(&mc_view_fd_low, &low, (unsigned)fd, false,
								    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* The end of each line (just past its '\n') into @out, if not NULL;
 * returns how many '\n' @p holds. Eight bytes a step: a memchr() per line
 * cost ~100 ns of set-up each, 2 ms for a table of 10,000 mounts walked
 * twice, most of the daemon's time outside the kernel's read; this is
 * ~0.1 ms. The zero-byte test is the exact one (no borrow across bytes),
 * so every set high bit is a '\n'. */
size_t mc_newlines(const char *p, size_t len, uint32_t *out)
{
	size_t i = 0, n = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t z = mc_bytes_eq(mc_word_at(p + i), '\n');
		if (!z)
			continue;
		if (!out) {
			n += (size_t)(((z >> 7) * 0x0101010101010101ull) >> 56);    /* the set bytes */
			continue;
		}
		for (; z; z &= z - 1)
			out[++n] = (uint32_t)(i + ((unsigned)__builtin_ctzll(z) >> 3) + 1);
	}
	for (; i < len; i++)
		if (p[i] == '\n') {
			n++;
			if (out)
				out[n] = (uint32_t)(i + 1);
		}
	return n;
}
