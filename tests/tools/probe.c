/* probe: a transcript of what a program sees of the mount table files.
 *
 *   probe [--change] [--no-fork] [-v] [SCENARIO...]     (no SCENARIO: all)
 *   probe --list
 *
 * Runs fixed scenarios against /proc/self/mountinfo, /proc/self/mounts,
 * /etc/mtab and the mntent API, and prints one line per observation:
 * return values, errno names, offsets, length and checksum of the bytes
 * read, struct fields. Nothing printed depends on the run (no pids, fd
 * addresses, times), so over one unchanged table
 *     probe > a; LD_PRELOAD=build/libmountcache-preload.so probe > b; diff a b
 * lists every way the preload can be told from the kernel.
 *
 * Every call is made with errno set to a sentinel; a success that changes
 * errno prints "errno=E..." after its result.
 *
 * Each scenario runs in a child process (unless --no-fork), so that a crash
 * under test costs one scenario ("...: killed by SIGSEGV"), not the
 * transcript. The parent first does one full read of each format through
 * the ordinary API: that is the program's first open, which the preload
 * leaves to the kernel unless MOUNTCACHE_SERVE_FIRST=1, so everything in
 * the scenarios is served in both modes.
 *
 * "change" modifies the table (tmpfs mounts, propagation flips); it runs
 * only with --change and only in a private mount namespace.
 *
 * Built with _FORTIFY_SOURCE=2 at -O2, as distributions build: read() and
 * pread() on buffers of known size become __read_chk/__pread_chk, and
 * open() with non-constant flags becomes __open_2. */
#if defined(__OPTIMIZE__) && !defined(_FORTIFY_SOURCE)
#define _FORTIFY_SOURCE 2
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <mntent.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x08
#endif

#define SENTINEL 12345                  /* errno before every observed call */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- output ----------------------------------------------------------- */

static const char *scen = "probe";      /* prefix of every line */
static bool verbose;

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	printf("%s.", scen);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Short-lived strings for one say(): a ring of buffers, each big enough
 * for an entry of four escaped fields. */
#define TMPSTR 8192
static char *tmpstr(void)
{
	static __thread char ring[16][TMPSTR];
	static __thread unsigned i;
	return ring[i++ % ARRAY_SIZE(ring)];
}

static const char *ename(int e)
{
	const char *n = e == SENTINEL ? "unchanged" : strerrorname_np(e);
	if (n)
		return n;
	char *s = tmpstr();
	snprintf(s, TMPSTR, "E%d", e);
	return s;
}

/* One observed call: its result and the errno it left. */
struct obs {
	long r;
	int e;
};
#define OBS(expr) ({ errno = SENTINEL; long r_ = (long)(expr); (struct obs){ r_, errno }; })

/* "5", "5 errno=EINTR" (a success that touched errno), "-1 ENOENT". */
static const char *res(struct obs o)
{
	char *s = tmpstr();
	if (o.r < 0)
		snprintf(s, TMPSTR, "%ld %s", o.r, ename(o.e));
	else if (o.e != SENTINEL)
		snprintf(s, TMPSTR, "%ld errno=%s", o.r, ename(o.e));
	else
		snprintf(s, TMPSTR, "%ld", o.r);
	return s;
}

/* A string with non-printables, blanks and backslashes as \ooo. */
static const char *esc(const char *in)
{
	char *s = tmpstr(), *w = s;
	for (const unsigned char *p = (const unsigned char *)in; *p && w < s + TMPSTR - 8; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '\\')
			w += sprintf(w, "\\%03o", *p);
		else
			*w++ = (char)*p;
	}
	*w = '\0';
	return s;
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

/* ---- texts and checksums ---------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
};

static void text_put(struct text *t, const void *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		t->p = realloc(t->p, cap);
		if (!t->p)
			abort();
		t->cap = cap;
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_free(struct text *t)
{
	free(t->p);
	*t = (struct text){ 0 };
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	for (const unsigned char *c = p; n--; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}
#define FNV0 2166136261u

static const char *digest(const void *p, size_t n)
{
	char *s = tmpstr();
	snprintf(s, TMPSTR, "len=%zu sum=%08" PRIx32, n, fnv(FNV0, p, n));
	return s;
}

static const char *tdigest(const struct text *t)
{
	return digest(t->p, t->len);
}

static bool same_at(const void *p, size_t n, const struct text *ref, size_t off)
{
	return off <= ref->len && n <= ref->len - off && memcmp(p, ref->p + off, n) == 0;
}

static const char *vs(const struct text *t, const struct text *ref)
{
	return t->len == ref->len && same_at(t->p, t->len, ref, 0) ? "same" : "diff";
}

/* ---- the tables ------------------------------------------------------- */

enum fmt { MI, MO };
static const char *const self_path[] = { "/proc/self/mountinfo", "/proc/self/mounts" };
static const char *const fmt_name[] = { "mountinfo", "mounts" };
static struct text kref[2];             /* the kernel's, by raw system calls */
static struct text first[2];            /* the program's first full read */

/* The kernel's text, bypassing libc (and so any interposer). */
static int kernel_text(const char *path, struct text *t)
{
	char buf[65536];
	long n;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	t->len = 0;
	while ((n = syscall(SYS_read, fd, buf, sizeof buf)) > 0)
		text_put(t, buf, (size_t)n);
	syscall(SYS_close, fd);
	return n < 0 ? EIO : 0;
}

struct rstat {
	unsigned calls;                 /* read() calls that returned data */
	size_t max;                     /* largest single return */
};

/* read() @fd to the end in @chunk-byte calls (at most 64 KiB), appending
 * to @t. Returns 0 or the errno of the failing read. No clamp on @chunk:
 * the compiler must not prove the size safe, so that the fortified read()
 * calls __read_chk as in distribution binaries. */
static int drain(int fd, size_t chunk, struct text *t, struct rstat *st)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, chunk)) > 0) {
		text_put(t, buf, (size_t)n);
		if (st) {
			st->calls++;
			if ((size_t)n > st->max)
				st->max = (size_t)n;
		}
	}
	return n < 0 ? errno : 0;
}

/* Open @path, read it all in 64 KiB calls, close. Returns 0 or errno. */
static int slurp(const char *path, struct text *t)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno;
	t->len = 0;
	int e = drain(fd, 65536, t, NULL);
	close(fd);
	return e;
}

static int open_fmt(enum fmt f)
{
	return open(self_path[f], O_RDONLY);
}

static long pos_of(int fd)
{
	return (long)lseek(fd, 0, SEEK_CUR);
}

/* read() @n (at most 64 KiB) bytes: "r=10 sum=... pos=10" (pos: lseek
 * SEEK_CUR after). */
static const char *rd(int fd, size_t n)
{
	char buf[65536];
	struct obs o = OBS(read(fd, buf, n));
	char *s = tmpstr();
	snprintf(s, TMPSTR, "r=%s %s pos=%ld", res(o), o.r > 0 ? digest(buf, (size_t)o.r) : "-",
		 pos_of(fd));
	return s;
}

/* ---- process helpers -------------------------------------------------- */

#define HUNG (-2)                       /* isolated(): killed by the watchdog */

static const char *status_str(int status)
{
	char *s = tmpstr();
	if (status == HUNG)
		snprintf(s, TMPSTR, "hung (killed by the watchdog)");
	else if (WIFSIGNALED(status))
		snprintf(s, TMPSTR, "killed by %s", sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		snprintf(s, TMPSTR, "exit %d", WEXITSTATUS(status));
	return s;
}

/* Run @fn in a child; its own output is its report. Returns the wait
 * status (0 when it returned normally), or HUNG when it did not finish
 * within @timeout_s seconds (a deadlock under test) and was killed. */
static int isolated(void (*fn)(void *), void *arg, unsigned timeout_s)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	unsigned long ticks = 0;
	int status;

	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("probe: fork");
		exit(2);
	}
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (++ticks > timeout_s * 100ul) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return HUNG;
		}
		nanosleep(&tick, NULL);
	}
}

/* ---- scenario: read ----------------------------------------------------
 * Read patterns on one open file: the bytes, where they come from, and how
 * many a single call returns (the kernel renders about a page per call). */

static void read_chunks(enum fmt f)
{
	static const size_t chunks[] = { 1, 7, 100, 4096, 65536 };

	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct text t = { 0 };
		struct rstat st = { 0 };
		int fd = open_fmt(f);
		int e = drain(fd, chunks[i], &t, &st);
		say("%s.chunk%zu: %s %s calls=%u max=%zu end=%s", fmt_name[f], chunks[i],
		    tdigest(&t), vs(&t, &first[f]), st.calls, st.max, ename(e ? e : SENTINEL));
		close(fd);
		text_free(&t);
	}
}

/* pread() of 64 bytes through __pread_chk: the size is hidden from the
 * compiler as in drain(). */
static ssize_t pread_some(int fd, char buf[64], long off)
{
	volatile size_t n = 64;
	return pread(fd, buf, n, off);
}

static void read_pread(enum fmt f)
{
	long len = (long)first[f].len;
	const struct { const char *name; long off; } at[] = {
		{ "0", 0 }, { "1", 1 }, { "100", 100 }, { "len-1", len - 1 },
		{ "len", len }, { "len+100", len + 100 }, { "-1", -1 },
	};
	char buf[64];
	int fd = open_fmt(f);

	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		struct obs o = OBS(pread_some(fd, buf, at[i].off));
		say("%s.pread@%s: %s %s", fmt_name[f], at[i].name, res(o),
		    o.r > 0 ? (same_at(buf, (size_t)o.r, &first[f], (size_t)at[i].off) ? "same" : "diff") : "-");
	}
	say("%s.pread.pos: %ld", fmt_name[f], pos_of(fd));
	/* A read, a pread elsewhere, a read: the second read continues. */
	say("%s.pread.mix1: %s", fmt_name[f], rd(fd, 30));
	struct obs o = OBS(pread(fd, buf, 30, 500));
	say("%s.pread.mix2: %s %s", fmt_name[f], res(o), o.r > 0 ? digest(buf, (size_t)o.r) : "-");
	say("%s.pread.mix3: %s", fmt_name[f], rd(fd, 30));
	close(fd);
}

/* Fill @iov with @n odd sizes carved from @buf. */
static void odd_iov(struct iovec *iov, const size_t *sizes, int n, char *buf)
{
	for (int i = 0; i < n; i++) {
		iov[i] = (struct iovec){ buf, sizes[i] };
		buf += sizes[i];
	}
}

static const char *vres(struct obs o, const char *buf)
{
	char *s = tmpstr();
	snprintf(s, TMPSTR, "%s %s", res(o), o.r > 0 ? digest(buf, (size_t)o.r) : "-");
	return s;
}

static void read_vectors(enum fmt f)
{
	static const size_t big[] = { 3, 17, 5000 }, small[] = { 3, 17, 50 };
	static char buf[8192];
	struct iovec iov[3];
	int fd = open_fmt(f);

	odd_iov(iov, big, 3, buf);
	for (int i = 0; i < 2; i++) {
		struct obs o = OBS(readv(fd, iov, 3));
		say("%s.readv%d: %s pos=%ld", fmt_name[f], i, vres(o, buf), pos_of(fd));
	}
	odd_iov(iov, small, 3, buf);
	struct obs o = OBS(preadv(fd, iov, 3, 5));
	say("%s.preadv@5: %s pos=%ld", fmt_name[f], vres(o, buf), pos_of(fd));
	o = OBS(readv(fd, iov, 0));
	say("%s.readv.cnt0: %s", fmt_name[f], res(o));
	volatile int minus1 = -1;
	o = OBS(readv(fd, iov, minus1));
	say("%s.readv.cnt-1: %s", fmt_name[f], res(o));
	close(fd);

	/* preadv2: -1 is the file position; flags are the kernel's to judge. */
	const struct { const char *name; long off; int flags; } calls[] = {
		{ "-1.0", -1, 0 }, { "-1.NOWAIT", -1, RWF_NOWAIT }, { "-1.HIPRI", -1, RWF_HIPRI },
		{ "-1.DSYNC", -1, RWF_DSYNC }, { "-1.APPEND", -1, RWF_APPEND },
		{ "-1.ATOMIC(0x40)", -1, 0x40 }, { "-1.DONTCACHE(0x80)", -1, 0x80 },
		{ "-1.0x10000", -1, 0x10000 }, { "7.0", 7, 0 }, { "7.NOWAIT", 7, RWF_NOWAIT },
		{ "7.0x40", 7, 0x40 }, { "-2.0", -2, 0 },
	};
	fd = open_fmt(f);
	say("%s.preadv2.start: %s", fmt_name[f], rd(fd, 10));
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		o = OBS(preadv2(fd, iov, 3, calls[i].off, calls[i].flags));
		say("%s.preadv2@%s: %s pos=%ld", fmt_name[f], calls[i].name, vres(o, buf), pos_of(fd));
	}
	close(fd);
}

static void read_seeks(enum fmt f)
{
	long len = (long)first[f].len;
	const struct { const char *name; long off; int whence; } seeks[] = {
		{ "SET.0", 0, SEEK_SET }, { "SET.50", 50, SEEK_SET }, { "CUR.0", 0, SEEK_CUR },
		{ "CUR.10", 10, SEEK_CUR }, { "CUR.-20", -20, SEEK_CUR },
		{ "CUR.-1000", -1000, SEEK_CUR }, { "SET.-1", -1, SEEK_SET },
		{ "END.0", 0, SEEK_END }, { "END.-10", -10, SEEK_END },
		{ "DATA.0", 0, SEEK_DATA }, { "HOLE.0", 0, SEEK_HOLE }, { "whence99", 0, 99 },
		{ "SET.LONG_MAX", LONG_MAX, SEEK_SET }, { "CUR.1", 1, SEEK_CUR },
		{ "SET.len+100", len + 100, SEEK_SET },
	};
	int fd = open_fmt(f);

	for (size_t i = 0; i < ARRAY_SIZE(seeks); i++) {
		struct obs o = OBS(lseek(fd, seeks[i].off, seeks[i].whence));
		say("%s.lseek.%s: %s pos=%ld", fmt_name[f], seeks[i].name, res(o), pos_of(fd));
	}
	say("%s.past_end.read: %s", fmt_name[f], rd(fd, 64));
	lseek(fd, len - 5, SEEK_SET);
	say("%s.len-5.read: %s", fmt_name[f], rd(fd, 64));
	say("%s.len-5.read2: %s", fmt_name[f], rd(fd, 64));
	lseek(fd, 123, SEEK_SET);
	say("%s.123.read: %s", fmt_name[f], rd(fd, 50));
	say("%s.read0: %s", fmt_name[f], rd(fd, 0));
	lseek(fd, 0, SEEK_SET);
	say("%s.0.read: %s", fmt_name[f], rd(fd, 50));
	close(fd);
}

static void scen_read(void)
{
	for (enum fmt f = MI; f <= MO; f++) {
		read_chunks(f);
		read_pread(f);
		read_vectors(f);
		read_seeks(f);
	}
}

/* ---- scenario: fstat ---------------------------------------------------- */

static void fstat_one(const char *label, const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags);
	struct obs o = OBS(fstat(fd, &st));

	say("%s.fstat: %s size=%lld mode=%o blksize=%ld nlink=%lu reg=%s", label, res(o),
	    (long long)st.st_size, st.st_mode, (long)st.st_blksize, (unsigned long)st.st_nlink,
	    yesno(S_ISREG(st.st_mode)));
	void *p;
	o = OBS((p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	say("%s.mmap: %s", label, res(o));
	o = OBS(write(fd, "x", 1));
	say("%s.write: %s", label, res(o));
	o = OBS(fcntl(fd, F_GETFL));
	say("%s.getfl: %s accmode=%ld flags=%#lx", label, res(o), o.r & O_ACCMODE, o.r);
	o = OBS(fcntl(fd, F_GETFD));
	say("%s.getfd: %s", label, res(o));
	say("%s.read: %s", label, rd(fd, 100));
	o = OBS(close(fd));
	say("%s.close: %s", label, res(o));
}

static void scen_fstat(void)
{
	fstat_one("mountinfo", self_path[MI], O_RDONLY);
	fstat_one("mountinfo.cloexec", self_path[MI], O_RDONLY | O_CLOEXEC);
	fstat_one("mounts", self_path[MO], O_RDONLY);
	fstat_one("mounts.cloexec", self_path[MO], O_RDONLY | O_CLOEXEC);
	fstat_one("mtab", "/etc/mtab", O_RDONLY);
	fstat_one("mounts.nonblock", self_path[MO], O_RDONLY | O_NONBLOCK);
}

/* ---- scenario: open ------------------------------------------------------
 * Errors are the kernel's; every spelling of the file reads the same text. */

/* Flags the compiler cannot see: open() then goes through __open_2. */
static int open_flags_unknown(const char *path, int flags)
{
	volatile int v = flags;
	return open(path, v);
}

static void open_case(const char *label, int dirfd, const char *path, int flags, enum fmt f)
{
	struct obs o = OBS(flags & O_CREAT ? openat(dirfd, path, flags, 0644) : openat(dirfd, path, flags));
	if (o.r < 0) {
		say("%s: %s", label, res(o));
		return;
	}
	struct text t = { 0 };
	int e = drain((int)o.r, 65536, &t, NULL);
	if (e)
		say("%s: ok read=%s", label, ename(e));
	else
		say("%s: ok %s", label, vs(&t, &first[f]));
	text_free(&t);
	close((int)o.r);
}

static void scen_open(void)
{
	static const struct { const char *path; int flags; enum fmt f; } cases[] = {
		{ "/proc/999999999/mountinfo", O_RDONLY, MI },
		{ "/proc/self/mountinfo/", O_RDONLY, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_DIRECTORY, MI },
		{ "/proc/self/mountinfo", O_WRONLY, MI },
		{ "/proc/self/mountinfo", O_RDWR, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_TRUNC, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_CREAT, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_CREAT | O_EXCL, MI },
		{ "/proc/self/mountinfo", O_PATH, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_NOFOLLOW, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_NONBLOCK, MI },
		{ "/proc/self/mountinfo", O_RDONLY | O_NOATIME, MI },
		{ "//proc//self/mountinfo", O_RDONLY, MI },
		{ "/proc/./self/./mountinfo", O_RDONLY, MI },
		{ "/proc/self/../self/mountinfo", O_RDONLY, MI },
		{ "/proc/self/root/proc/self/mountinfo", O_RDONLY, MI },
		{ "/proc/thread-self/mountinfo", O_RDONLY, MI },
		{ "/proc/mounts", O_RDONLY, MO },
		{ "/proc/self/mounts", O_RDONLY, MO },
		{ "/proc/thread-self/mounts", O_RDONLY, MO },
		{ "/etc/mtab", O_RDONLY, MO },
		{ "/etc/../proc/self/mounts", O_RDONLY, MO },
		{ "/proc/mountinfo", O_RDONLY, MI },
	};
	char label[PATH_MAX + 64], path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(label, sizeof label, "%s.%#x", cases[i].path, (unsigned)cases[i].flags);
		open_case(label, AT_FDCWD, cases[i].path, cases[i].flags, cases[i].f);
	}

	/* The process by number, and this thread by number: only the content. */
	snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)getpid());
	open_case("/proc/<pid>/mountinfo", AT_FDCWD, path, O_RDONLY, MI);
	snprintf(path, sizeof path, "/proc/%d/mounts", (int)getpid());
	open_case("/proc/<pid>/mounts", AT_FDCWD, path, O_RDONLY, MO);
	snprintf(path, sizeof path, "/proc/self/task/%d/mountinfo", (int)gettid());
	open_case("/proc/self/task/<tid>/mountinfo", AT_FDCWD, path, O_RDONLY, MI);
	snprintf(path, sizeof path, "/proc/%d/task/%d/mounts", (int)getpid(), (int)gettid());
	open_case("/proc/<pid>/task/<tid>/mounts", AT_FDCWD, path, O_RDONLY, MO);
	snprintf(path, sizeof path, "/proc/%d/../self/mountinfo", (int)getpid());
	open_case("/proc/<pid>/../self/mountinfo", AT_FDCWD, path, O_RDONLY, MI);

	/* Relative to a directory fd, and to the working directory. */
	int self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	open_case("openat(/proc/self, mountinfo)", self, "mountinfo", O_RDONLY, MI);
	open_case("openat(/proc, self/mounts)", proc, "self/mounts", O_RDONLY, MO);
	open_case("openat(/proc, ./self/../self/mountinfo)", proc, "./self/../self/mountinfo", O_RDONLY, MI);
	close(self);
	close(proc);
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (chdir("/proc/self") == 0) {
		open_case("chdir(/proc/self)+mountinfo", AT_FDCWD, "mountinfo", O_RDONLY, MI);
		open_case("chdir(/proc/self)+./mounts", AT_FDCWD, "./mounts", O_RDONLY, MO);
	}
	if (fchdir(cwd) < 0)
		say("fchdir: %s", ename(errno));
	close(cwd);

	/* A symlink of our own to the file. */
	char dir[] = "/tmp/probe.XXXXXX";
	if (mkdtemp(dir)) {
		snprintf(path, sizeof path, "%s/mi", dir);
		if (symlink("/proc/self/mountinfo", path) == 0)
			open_case("symlink->/proc/self/mountinfo", AT_FDCWD, path, O_RDONLY, MI);
		unlink(path);
		rmdir(dir);
	}

	/* __open_2 (fortified open with flags unknown at compile time). */
	struct obs o = OBS(open_flags_unknown(self_path[MI], O_RDONLY));
	say("__open_2: %s", o.r >= 0 ? "ok" : res(o));
	if (o.r >= 0) {
		say("__open_2.read: %s", rd((int)o.r, 50));
		close((int)o.r);
	}
}

/* ---- scenario: fds -------------------------------------------------------
 * The program's fd numbers, and which fds it can see, are the kernel's. */

/* Open fds other than 0-2 and the listing's own, as "3 4 7" or "none". */
static const char *visible_fds(void)
{
	char *s = tmpstr(), *w = s;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	*s = '\0';
	if (!d)
		return "opendir failed";
	int own = dirfd(d);
	while ((de = readdir(d)) && w < s + TMPSTR - 16) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd > 2 && fd != own)
			w += sprintf(w, " %d", fd);
	}
	closedir(d);
	return *s ? s + 1 : "none";
}

static void fds_rlimit(void *arg)
{
	(void)arg;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		say("rlimit64: setrlimit %s", ename(errno));
		return;
	}
	for (int fd = 0; fd >= 0 && fd < 40; )
		fd = open("/dev/null", O_RDONLY);
	int fd = open_fmt(MI);
	say("rlimit64.open: %d", fd);
	say("rlimit64.read: %s", rd(fd, 100));
	char *s = tmpstr(), *w = s;
	for (int i = 0; i < 5; i++)
		w += sprintf(w, " %d", open("/dev/null", O_RDONLY));
	say("rlimit64.next:%s", s);
	say("rlimit64.visible: %s", visible_fds());
}

/* Too few fds for the preload to keep one of its own. */
static void fds_rlimit32(void *arg)
{
	(void)arg;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 32;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		say("rlimit32: setrlimit %s", ename(errno));
		return;
	}
	for (enum fmt f = MI; f <= MO; f++) {
		struct text t = { 0 };
		struct rstat st = { 0 };
		int fd = open_fmt(f);
		int e = drain(fd, 65536, &t, &st);
		say("rlimit32.%s: %s %s calls=%u max=%zu end=%s", fmt_name[f], tdigest(&t),
		    vs(&t, &first[f]), st.calls, st.max, ename(e ? e : SENTINEL));
		close(fd);
		text_free(&t);
	}
	say("rlimit32.visible: %s", visible_fds());
}

static void scen_fds(void)
{
	say("start.visible: %s", visible_fds());
	int fds[5];
	fds[0] = open_fmt(MI);
	fds[1] = open("/dev/null", O_RDONLY);
	fds[2] = open_fmt(MO);
	fds[3] = open("/dev/null", O_RDONLY);
	fds[4] = open("/etc/mtab", O_RDONLY);
	say("interleave: %d %d %d %d %d", fds[0], fds[1], fds[2], fds[3], fds[4]);
	for (int i = 0; i < 5; i += 2)
		say("interleave.read%d: %s", i, rd(fds[i], 100));
	say("open.visible: %s", visible_fds());
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	say("closed.visible: %s", visible_fds());
	say("next: %d", open("/dev/null", O_RDONLY));

	int status = isolated(fds_rlimit, NULL, 60);
	if (status)
		say("rlimit64: %s", status_str(status));
	status = isolated(fds_rlimit32, NULL, 60);
	if (status)
		say("rlimit32: %s", status_str(status));
}

/* ---- scenario: offsets ---------------------------------------------------
 * One file position per open file description, shared by dup and fork. */

static int dup_dup(int fd) { return dup(fd); }
static int dup_dup2(int fd) { return dup2(fd, 50); }
static int dup_dup3(int fd) { return dup3(fd, 51, O_CLOEXEC); }
static int dup_fdupfd(int fd) { return fcntl(fd, F_DUPFD, 100); }
static int dup_fdupfd_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

static void offsets_dups(enum fmt f)
{
	static const struct { const char *name; int (*fn)(int); } dups[] = {
		{ "dup", dup_dup }, { "dup2", dup_dup2 }, { "dup3", dup_dup3 },
		{ "F_DUPFD", dup_fdupfd }, { "F_DUPFD_CLOEXEC", dup_fdupfd_cloexec },
	};
	for (size_t i = 0; i < ARRAY_SIZE(dups); i++) {
		int a = open_fmt(f);
		say("%s.%s.a: %s", fmt_name[f], dups[i].name, rd(a, 10));
		struct obs o = OBS(dups[i].fn(a));
		int b = (int)o.r;
		say("%s.%s: %s getfd=%d", fmt_name[f], dups[i].name, res(o), fcntl(b, F_GETFD));
		const char *r = rd(b, 10);
		say("%s.%s.b: %s apos=%ld", fmt_name[f], dups[i].name, r, pos_of(a));
		r = rd(a, 10);
		say("%s.%s.a2: %s bpos=%ld", fmt_name[f], dups[i].name, r, pos_of(b));
		close(a);
		say("%s.%s.b_after_close_a: %s", fmt_name[f], dups[i].name, rd(b, 10));
		close(b);
	}
}

struct fork_arg {
	int fd, pipe_w;
	bool rewind;
};

static void fork_child(void *p)
{
	struct fork_arg *a = p;
	char msg[512];
	if (a->rewind)
		lseek(a->fd, 0, SEEK_SET);
	int n = snprintf(msg, sizeof msg, "%s", rd(a->fd, 10));
	if (write(a->pipe_w, msg, (size_t)n) != n)
		_exit(3);
}

static void offsets_fork(enum fmt f, bool rewind)
{
	const char *tag = rewind ? "fork_rewind" : "fork";
	int fd = open_fmt(f), p[2];
	char msg[512] = "";

	say("%s.%s.parent1: %s", fmt_name[f], tag, rd(fd, 10));
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	struct fork_arg a = { fd, p[1], rewind };
	int status = isolated(fork_child, &a, 60);
	close(p[1]);
	ssize_t n = read(p[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	say("%s.%s.child: %s (%s)", fmt_name[f], tag, msg, status_str(status));
	say("%s.%s.parent2: %s", fmt_name[f], tag, rd(fd, 10));
	close(fd);
}

static void scen_offsets(void)
{
	for (enum fmt f = MI; f <= MO; f++) {
		offsets_dups(f);
		offsets_fork(f, false);
		offsets_fork(f, true);
	}
}

/* ---- scenario: kpos ------------------------------------------------------
 * The file position as seen by everything that is not read()/lseek() in
 * this process: /proc/self/fdinfo, sendfile, splice, an exec'd child. */

static const char *fdinfo_pos(int fd)
{
	char path[64], line[256];
	char *s = tmpstr();
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *fp = fopen(path, "re");
	strcpy(s, "?");
	while (fp && fgets(line, sizeof line, fp))
		if (strncmp(line, "pos:", 4) == 0)
			snprintf(s, TMPSTR, "%ld", strtol(line + 4, NULL, 10));
	if (fp)
		fclose(fp);
	return s;
}

static const char *pipe_out(int rfd, long r)
{
	char buf[4096];
	ssize_t n = r > 0 ? read(rfd, buf, (size_t)r < sizeof buf ? (size_t)r : sizeof buf) : 0;
	return n > 0 ? digest(buf, (size_t)n) : "-";
}

/* --child-read FD [SCENARIO]: what a program exec'd with the fd inherited
 * reads. */
static int child_read(const char *fdstr, const char *label)
{
	int fd = atoi(fdstr);
	scen = label ? label : "kpos";
	say("exec.child: %s", rd(fd, 10));
	return 0;
}

static void scen_kpos(void)
{
	for (enum fmt f = MI; f <= MO; f++) {
		int fd = open_fmt(f), p[2];
		const char *r = rd(fd, 100);
		say("%s.read100: %s fdinfo=%s", fmt_name[f], r, fdinfo_pos(fd));

		if (pipe2(p, O_CLOEXEC) == 0) {
			struct obs o = OBS(sendfile(p[1], fd, NULL, 50));
			say("%s.sendfile: %s %s pos=%ld", fmt_name[f], res(o), pipe_out(p[0], o.r), pos_of(fd));
			o = OBS(splice(fd, NULL, p[1], NULL, 50, 0));
			say("%s.splice: %s %s pos=%ld", fmt_name[f], res(o), pipe_out(p[0], o.r), pos_of(fd));
			close(p[0]);
			close(p[1]);
		}
		say("%s.read10: %s", fmt_name[f], rd(fd, 10));

		/* An exec'd child inherits the description, position included. */
		char fdstr[16];
		snprintf(fdstr, sizeof fdstr, "%d", fd);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", "probe", "--child-read", fdstr, (char *)NULL);
			_exit(127);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		if (status)
			say("exec.child: %s", status_str(status));
		say("%s.after_exec: %s", fmt_name[f], rd(fd, 10));
		close(fd);
	}
}

/* ---- scenario: close -----------------------------------------------------
 * Once the program closes or replaces an fd, it reads whatever the kernel
 * now has under that number. */

/* Closed and reused where no interposer sees it (inline system calls):
 * a read that continues the pass cannot tell, but one that starts a pass
 * (after a seek to 0) reads the file the number holds now. */
static void scen_close_unseen(void)
{
#if defined(__x86_64__)
	char path[] = "/dev/null";
	int fd = open_fmt(MI);
	say("unseen.read: %s", rd(fd, 10));
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_close), "D"((long)fd) : "rcx", "r11", "memory");
	long nfd;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile("syscall" : "=a"(nfd)
			 : "a"((long)SYS_openat), "D"((long)AT_FDCWD), "S"(path), "d"((long)O_RDONLY), "r"(r10)
			 : "rcx", "r11", "memory");
	lseek(fd, 0, SEEK_SET);
	say("unseen: close=%ld reuse=%s %s", r, yesno(nfd == fd), rd(fd, 10));
	close(fd);
#endif
}

static void scen_close(void)
{
	char buf[64];
	int fd = open_fmt(MI);
	say("close.read: %s", rd(fd, 10));
	struct obs o = OBS(close(fd));
	say("close: %s", res(o));
	o = OBS(read(fd, buf, 10));
	say("close.read_after: %s", res(o));
	o = OBS(lseek(fd, 0, SEEK_CUR));
	say("close.lseek_after: %s", res(o));
	o = OBS(close(fd));
	say("close.again: %s", res(o));

	fd = open_fmt(MI);
	say("close_range.read: %s", rd(fd, 10));
	o = OBS(close_range((unsigned)fd, (unsigned)fd, 0));
	say("close_range: %s", res(o));
	int null = open("/dev/null", O_RDONLY);
	say("close_range.reuse: %s %s", yesno(null == fd), rd(null, 10));
	close(null);

	fd = open_fmt(MO);
	say("close_range_cloexec.read: %s", rd(fd, 10));
	o = OBS(close_range((unsigned)fd, (unsigned)fd, CLOSE_RANGE_CLOEXEC));
	int getfd = fcntl(fd, F_GETFD);
	say("close_range_cloexec: %s getfd=%d %s", res(o), getfd, rd(fd, 10));
	close(fd);

	fd = open_fmt(MI);
	null = open("/dev/null", O_RDONLY);
	say("dup2_over.read: %s", rd(fd, 10));
	o = OBS(dup2(null, fd));
	say("dup2_over: %s %s", yesno(o.r == fd), rd(fd, 10));
	close(fd);
	close(null);

	fd = open_fmt(MO);
	int fd2 = open_fmt(MI);
	say("closefrom.read: %s", rd(fd, 10));
	closefrom(fd);
	null = open("/dev/null", O_RDONLY);
	int null2 = open("/dev/null", O_RDONLY);
	say("closefrom.reuse: %s %s", yesno(null == fd && null2 == fd2), rd(null, 10));
	close(null);
	close(null2);

	/* Closed inside libc (fclose of a plain FILE), then the number comes
	 * back for the same file reached by another path. */
	fd = open_fmt(MI);
	say("libc_close.read: %s", rd(fd, 100));
	FILE *fp = fdopen(fd, "rt");
	o = OBS(fp ? fclose(fp) : -1);
	say("libc_close.fclose: %s", res(o));
	int again = open("/proc/self/root/proc/self/mountinfo", O_RDONLY);
	say("libc_close.reopen: %s %s", yesno(again == fd), rd(again, 20));
	close(again);

	/* Freed or replaced through syscall(), then the number reused. */
	fd = open_fmt(MI);
	say("syscall_close.read: %s", rd(fd, 10));
	o = OBS(syscall(SYS_close, fd));
	null = open("/dev/null", O_RDONLY);
	say("syscall_close: %s reuse=%s %s", res(o), yesno(null == fd), rd(null, 10));
	close(null);

	fd = open_fmt(MO);
	null = open("/dev/null", O_RDONLY);
	say("syscall_dup3.read: %s", rd(fd, 10));
	o = OBS(syscall(SYS_dup3, null, fd, 0));
	say("syscall_dup3: %s %s", yesno(o.r == fd), rd(fd, 10));
	close(fd);
	close(null);

	int p[2];
	fd = open_fmt(MI);
	say("syscall_close_range.read: %s", rd(fd, 10));
	o = OBS(syscall(SYS_close_range, fd, fd, 0));
	if (pipe(p) == 0) {
		(void)!write(p[1], "a pipe\n", 7);
		say("syscall_close_range: %s reuse=%s %s", res(o), yesno(p[0] == fd), rd(p[0], 10));
		close(p[0]);
		close(p[1]);
	}
	scen_close_unseen();
}

/* ---- scenario: children ------------------------------------------------
 * Children the program makes without fork(): each shares (vfork) or copies
 * (_Fork, clone through syscall()) the parent's memory, and the parent's
 * pass on an inherited fd must go on where it was whatever the child does
 * with its own copy of the number. */

/* What a vfork() child does to its copy of @fd before _exit. */
static void vfork_op(const char *op, int fd)
{
	if (strcmp(op, "close") == 0) {
		close(fd);
	} else if (strcmp(op, "close_open") == 0) {
		close(fd);
		open("/dev/null", O_RDONLY);    /* the number again, another file */
	} else if (strcmp(op, "dup2") == 0) {
		dup2(0, fd);
	} else if (strcmp(op, "dup3") == 0) {
		dup3(0, fd, 0);
	} else if (strcmp(op, "close_range") == 0) {
		close_range((unsigned)fd, (unsigned)fd, 0);
	} else if (strcmp(op, "closefrom") == 0) {
		closefrom(fd);
	}
}

/* vfork(), the child does @op (NULL: exec a reader of @fd), the parent
 * waits. Nothing of this frame is used by the parent after vfork(). */
static __attribute__((noinline)) int vfork_run(const char *op, int fd)
{
	char fdstr[16];
	int status = 0;
	snprintf(fdstr, sizeof fdstr, "%d", fd);
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		if (op)
			vfork_op(op, fd);
		else
			execl("/proc/self/exe", "probe", "--child-read", fdstr, "children.vfork", (char *)NULL);
		_exit(op ? 0 : 127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

static void children_vfork(void)
{
	static const char *const ops[] = { "close", "close_open", "dup2", "dup3", "close_range", "closefrom" };
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		int fd = open_fmt(MI);
		say("vfork.%s.read: %s", ops[i], rd(fd, 10));
		int status = vfork_run(ops[i], fd);
		say("vfork.%s.parent: %s %s", ops[i], status_str(status), rd(fd, 10));
		close(fd);
	}
	/* The child execs with the fd: it reads on from the parent's offset. */
	int fd = open_fmt(MO);
	say("vfork.exec.read: %s", rd(fd, 10));
	int status = vfork_run(NULL, fd);
	say("vfork.exec.parent: %s %s", status_str(status), rd(fd, 10));
	close(fd);
}

/* clone() with CLONE_VM|CLONE_VFORK, as spawn libraries do: the child
 * runs on its own stack in the parent's memory, closes the fd (or execs a
 * reader of it) and exits. */
struct clone_arg {
	int fd;
	bool exec;
};

static int clone_vfork_child(void *p)
{
	struct clone_arg *a = p;
	char fdstr[16];
	if (!a->exec) {
		close(a->fd);
		return 0;               /* not _exit: ASan frowns on it on this stack */
	}
	snprintf(fdstr, sizeof fdstr, "%d", a->fd);
	execl("/proc/self/exe", "probe", "--child-read", fdstr, "children.clone_vfork", (char *)NULL);
	return 127;
}

static void children_clone_vfork(void)
{
	static char stack[256 * 1024] __attribute__((aligned(16)));
	for (int exec = 0; exec <= 1; exec++) {
		const char *tag = exec ? "exec" : "close";
		struct clone_arg a = { open_fmt(exec ? MO : MI), exec };
		int status = 0;
		say("clone_vfork.%s.read: %s", tag, rd(a.fd, 10));
		fflush(stdout);
		pid_t pid = clone(clone_vfork_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			status = -1;
		say("clone_vfork.%s.parent: %s %s", tag, status_str(status), rd(a.fd, 10));
		close(a.fd);
	}
}

static int clone_close_child(void *p)
{
	close(*(int *)p);
	return 0;
}

/* A child made without fork handlers closes the fd: the parent's pass
 * survives, also once the parent opens another table (whose description
 * must not take over the first one's). */
static int fork_by_fd;

static pid_t fork_by(const char *how)
{
	if (strcmp(how, "_Fork") == 0)
		return _Fork();
	if (strcmp(how, "clone") == 0)
		return (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	if (strcmp(how, "clone_fn") == 0) {        /* clone(): the child never returns here */
		static char stack[256 * 1024] __attribute__((aligned(16)));
		return clone(clone_close_child, stack + sizeof stack, SIGCHLD, &fork_by_fd);
	}
#ifdef SYS_clone3
	if (strcmp(how, "clone3") == 0) {
		uint64_t args[11] = { 0 };      /* struct clone_args: flags, ..., exit_signal */
		args[4] = SIGCHLD;
		pid_t r = (pid_t)syscall(SYS_clone3, args, sizeof args);
		if (!(r < 0 && errno == ENOSYS))
			return r;
		return (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	}
#endif
#ifdef SYS_fork
	if (strcmp(how, "fork_syscall") == 0)
		return (pid_t)syscall(SYS_fork);
#endif
	return -1;
}

static void children_nohandlers(void)
{
	static const char *const hows[] = { "_Fork", "clone", "clone3", "fork_syscall", "clone_fn" };
	for (size_t i = 0; i < ARRAY_SIZE(hows); i++) {
		int fd = open_fmt(MI), status = 0;
		fork_by_fd = fd;
		say("%s.read: %s", hows[i], rd(fd, 10));
		fflush(stdout);
		pid_t pid = fork_by(hows[i]);
		if (pid == 0) {
			close(fd);
			_exit(0);
		}
		if (pid < 0) {
			say("%s: %s", hows[i], ename(errno));
			close(fd);
			continue;
		}
		waitpid(pid, &status, 0);
		int other = open_fmt(MO);
		const char *r = rd(other, 100);
		say("%s.other: %s", hows[i], r);
		say("%s.parent: %s %s", hows[i], status_str(status), rd(fd, 10));
		close(other);
		close(fd);
	}
}

/* exec through syscall(): the exec'd program reads on from our offset. */
static void children_exec_syscall(void)
{
	extern char **environ;
	static const char *const hows[] = { "execve", "execveat" };
	for (size_t i = 0; i < ARRAY_SIZE(hows); i++) {
		int fd = open_fmt(i ? MO : MI), status = 0;
		char fdstr[16], label[64];
		snprintf(fdstr, sizeof fdstr, "%d", fd);
		snprintf(label, sizeof label, "children.syscall_%s", hows[i]);
		char *argv[] = { "probe", "--child-read", fdstr, label, NULL };
		say("syscall_%s.read: %s", hows[i], rd(fd, 10));
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			if (i == 0)
				syscall(SYS_execve, "/proc/self/exe", argv, environ);
			else
				syscall(SYS_execveat, AT_FDCWD, "/proc/self/exe", argv, environ, 0);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		say("syscall_%s.parent: %s %s", hows[i], status_str(status), rd(fd, 10));
		close(fd);
	}
}

/* fork() while a signal handler dups and closes a served fd: the handler
 * may run inside fork(), between the fork handlers (a signal that arrived
 * during the system call is handled before fork() returns). */
#define FORK_SIGNAL_FORKS 20
static int fork_signal_fd;
static volatile sig_atomic_t fork_signal_runs, fork_signal_stop;

static void fork_signal_handler(int sig)
{
	(void)sig;
	int e = errno;
	int d = dup(fork_signal_fd);
	if (d >= 0)
		close(d);
	fork_signal_runs++;
	errno = e;
}

static void *fork_signal_sender(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	struct timespec ts = { 0, 20 * 1000 };
	while (!fork_signal_stop) {
		pthread_kill(main_thread, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void fork_signal_run(void *arg)
{
	(void)arg;
	struct sigaction sa = { .sa_handler = fork_signal_handler, .sa_flags = SA_RESTART };
	sigaction(SIGUSR1, &sa, NULL);
	fork_signal_fd = open_fmt(MI);
	say("fork_signal.read: %s", rd(fork_signal_fd, 10));
	pthread_t self = pthread_self(), th;
	pthread_create(&th, NULL, fork_signal_sender, &self);
	unsigned forks = 0;
	for (int i = 0; i < FORK_SIGNAL_FORKS; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0 && waitpid(pid, NULL, 0) == pid)
			forks++;
	}
	fork_signal_stop = 1;
	pthread_join(th, NULL);
	say("fork_signal: forks=%u handler_ran=%s %s", forks, yesno(fork_signal_runs > 0), rd(fork_signal_fd, 10));
}

static void scen_children(void)
{
	children_vfork();
	children_clone_vfork();
	children_nohandlers();
	children_exec_syscall();
	int status = isolated(fork_signal_run, NULL, 60);
	if (status)
		say("fork_signal: %s", status_str(status));
}

/* ---- scenario: stdio ---------------------------------------------------- */

/* getline() to the end: "lines=N len=.. sum=.. same". */
static const char *getline_all(FILE *fp, enum fmt f)
{
	struct text t = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lines = 0;
	char *s = tmpstr();

	while ((n = getline(&line, &cap, fp)) > 0) {
		text_put(&t, line, (size_t)n);
		lines++;
	}
	snprintf(s, TMPSTR, "lines=%u %s %s feof=%d ferror=%d", lines, tdigest(&t), vs(&t, &first[f]),
		 feof(fp), ferror(fp));
	free(line);
	text_free(&t);
	return s;
}

static const char *fread_odd(FILE *fp, enum fmt f)
{
	static const size_t sizes[] = { 3, 17, 1000, 5000, 1 };
	static char buf[8192];
	struct text t = { 0 };
	size_t n;
	unsigned calls = 0;
	char *s = tmpstr();

	do {
		n = fread(buf, 1, sizes[calls++ % ARRAY_SIZE(sizes)], fp);
		text_put(&t, buf, n);
	} while (n > 0);
	snprintf(s, TMPSTR, "%s %s feof=%d", tdigest(&t), vs(&t, &first[f]), feof(fp));
	text_free(&t);
	return s;
}

/* fgets() observed: the line's length, or -1 and errno. */
static struct obs fgets_obs(FILE *fp, char *line, int size)
{
	return OBS(fgets(line, size, fp) ? (long)strlen(line) : -1);
}

/* fseek() to odd places: where ftell() says we are and what comes next. */
static void stdio_seeks(const char *label, FILE *fp, enum fmt f)
{
	const struct { const char *name; long off; int whence; } seeks[] = {
		{ "SET.100", 100, SEEK_SET }, { "CUR.-50", -50, SEEK_CUR }, { "CUR.7", 7, SEEK_CUR },
		{ "END.0", 0, SEEK_END }, { "END.-10", -10, SEEK_END },
		{ "SET.len+10", (long)first[f].len + 10, SEEK_SET }, { "SET.-1", -1, SEEK_SET },
	};
	for (size_t i = 0; i < ARRAY_SIZE(seeks); i++) {
		struct obs o = OBS(fseek(fp, seeks[i].off, seeks[i].whence));
		long at = ftell(fp);
		int c = fgetc(fp);
		say("%s.fseek.%s: %s ftell=%ld fgetc=%d feof=%d", label, seeks[i].name, res(o), at, c,
		    feof(fp));
	}
}

static void stdio_stream(const char *label, const char *path, const char *mode, enum fmt f)
{
	struct stat st;
	char line[256];
	struct obs o;
	FILE *fp;

	o = OBS((fp = fopen(path, mode)) ? 0 : -1);
	say("%s.fopen: %s", label, res(o));
	if (!fp)
		return;
	int fd = fileno(fp);
	o = OBS(fstat(fd, &st));
	say("%s.fileno: fstat=%s mode=%o getfd=%d", label, res(o), st.st_mode, fcntl(fd, F_GETFD));
	say("%s.getline: %s", label, getline_all(fp, f));

	rewind(fp);
	o = fgets_obs(fp, line, sizeof line);
	say("%s.fgets: %s %s ftell=%ld fdpos=%ld bufsize=%zu", label, res(o),
	    o.r > 0 ? digest(line, (size_t)o.r) : "-", ftell(fp), pos_of(fd), __fbufsize(fp));
	o = OBS(fflush(fp));
	say("%s.fflush: %s fdpos=%ld ftell=%ld", label, res(o), pos_of(fd), ftell(fp));
	const char *r = rd(fd, 50);
	say("%s.mix_read: %s ftell=%ld", label, r, ftell(fp));
	o = fgets_obs(fp, line, sizeof line);
	say("%s.mix_fgets: %s %s", label, res(o), o.r > 0 ? digest(line, (size_t)o.r) : "-");

	rewind(fp);
	say("%s.fread: %s", label, fread_odd(fp, f));

	stdio_seeks(label, fp, f);

	rewind(fp);
	char word[256] = "";
	o = OBS(fscanf(fp, "%255s", word));
	say("%s.fscanf: %s first=%s ftell=%ld", label, res(o), esc(word), ftell(fp));
	while (fgetc(fp) != EOF)
		;
	int eof = feof(fp), err = ferror(fp);
	say("%s.end: feof=%d ferror=%d fgetc=%d", label, eof, err, fgetc(fp));
	o = OBS(fclose(fp));
	say("%s.fclose: %s", label, res(o));
}

static void stdio_freopen(const char *label, const char *from, bool read_line, const char *to, enum fmt f)
{
	char line[256];
	FILE *fp = fopen(from, "r");
	if (read_line)
		say("%s.fgets: %s", label, res(fgets_obs(fp, line, sizeof line)));
	struct obs o = OBS(freopen(to, "r", fp) ? 0 : -1);
	say("%s: %s %s", label, res(o), o.r == 0 ? getline_all(fp, f) : "-");
	if (o.r == 0)
		fclose(fp);
}

static void scen_stdio(void)
{
	stdio_stream("mountinfo.r", self_path[MI], "r", MI);
	stdio_stream("mountinfo.re", self_path[MI], "re", MI);
	stdio_stream("mounts.r", self_path[MO], "r", MO);
	stdio_stream("mounts.re", self_path[MO], "re", MO);
	stdio_stream("mtab.r", "/etc/mtab", "r", MO);

	static const char *const bad_modes[] = { "r+", "w", "a" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_modes); i++) {
		FILE *fp;
		struct obs o = OBS((fp = fopen(self_path[MI], bad_modes[i])) ? 0 : -1);
		say("fopen.%s: %s", bad_modes[i], res(o));
		if (fp)
			fclose(fp);
	}

	/* fdopen of an fd already read from. */
	char line[256];
	int fd = open_fmt(MI);
	say("fdopen.read: %s", rd(fd, 10));
	FILE *fp = fdopen(fd, "r");
	struct obs o = fgets_obs(fp, line, sizeof line);
	say("fdopen.fgets: %s %s ftell=%ld", res(o), o.r > 0 ? digest(line, (size_t)o.r) : "-", ftell(fp));
	say("fdopen.getline: %s", getline_all(fp, MI));
	o = OBS(fclose(fp));
	say("fdopen.fclose: %s getfd=%s", res(o), res(OBS(fcntl(fd, F_GETFD))));

	/* read() on fileno() after fgets(): the bytes after stdio's buffer. */
	fp = fopen(self_path[MI], "r");
	o = fgets_obs(fp, line, sizeof line);
	const char *r = rd(fileno(fp), 50);
	say("mix_noflush: fgets=%s read=%s ftell=%ld", res(o), r, ftell(fp));
	fclose(fp);

	/* A FILE on a dup, closed after one line: where the fd is left. */
	fd = open_fmt(MI);
	fp = fdopen(dup(fd), "r");
	o = fgets_obs(fp, line, sizeof line);
	say("fdopen_dup.fgets: %s", res(o));
	o = OBS(fclose(fp));
	say("fdopen_dup.fclose: %s then %s", res(o), rd(fd, 50));
	close(fd);

	/* freopen of a plain stream, and of one on the table after a line
	 * (input buffered), onto mounts; and onto itself (NULL path). */
	stdio_freopen("freopen.devnull", "/dev/null", false, self_path[MO], MO);
	stdio_freopen("freopen.mountinfo", self_path[MI], true, self_path[MO], MO);
	stdio_freopen("freopen.null", self_path[MI], true, NULL, MI);
}

/* ---- scenario: getline -------------------------------------------------- */

/* Every line with a buffer of @start bytes (0: NULL), as glibc grows it:
 * the capacity a line leaves depends on where stdio's buffer edges cut it,
 * so the sequence of capacities is digested beside the bytes. */
static const char *getline_caps(FILE *fp, enum fmt f, size_t start)
{
	struct text t = { 0 };
	uint32_t h = FNV0;
	unsigned lines = 0;
	ssize_t n;
	char *s = tmpstr();

	for (;;) {
		size_t cap = start;
		char *line = start ? malloc(start) : NULL;
		n = getline(&line, &cap, fp);
		if (n > 0) {
			text_put(&t, line, (size_t)n);
			h = fnv(h, &cap, sizeof cap);
			if (strlen(line) != (size_t)n)
				h = fnv(h, "nul", 3);   /* not terminated where it says */
			lines++;
		}
		free(line);
		if (n <= 0)
			break;
	}
	snprintf(s, TMPSTR, "lines=%u %s %s caps=%08x feof=%d ferror=%d ftell=%ld", lines, tdigest(&t),
		 vs(&t, &first[f]), h, feof(fp), ferror(fp), ftell(fp));
	text_free(&t);
	return s;
}

static void getline_one(const char *label, FILE *fp, char **line, size_t *cap)
{
	struct obs o = OBS(getline(line, cap, fp));
	say("%s: %s %s cap=%zu ftell=%ld feof=%d", label, res(o), o.r > 0 ? digest(*line, (size_t)o.r) : "-",
	    *cap, ftell(fp), feof(fp));
}

static void scen_getline(void)
{
	for (int f = 0; f < 2; f++) {
		FILE *fp = fopen(self_path[f], "re");
		if (!fp) {
			say("%s.fopen: %s", fmt_name[f], res(OBS(-1)));
			continue;
		}
		static const size_t starts[] = { 0, 1, 7, 120, 4096 };
		for (size_t i = 0; i < ARRAY_SIZE(starts); i++) {
			rewind(fp);
			say("%s.caps.%zu: %s", fmt_name[f], starts[i], getline_caps(fp, (enum fmt)f, starts[i]));
		}
		/* at the end: stays there, also after clearerr() */
		char *line = NULL;
		size_t cap = 0;
		getline_one("end.again", fp, &line, &cap);
		clearerr(fp);
		getline_one("end.clearerr", fp, &line, &cap);

		/* mixed with fgets (stdio's buffer then holds the rest), ftell,
		 * fseek to odd places, ungetc, fread, getdelim */
		rewind(fp);
		getline_one("mix.first", fp, &line, &cap);
		char buf[64];
		say("mix.fgets20: %s ftell=%ld", fgets(buf, 20, fp) ? digest(buf, strlen(buf)) : "NULL", ftell(fp));
		getline_one("mix.after_fgets", fp, &line, &cap);
		getline_one("mix.next", fp, &line, &cap);
		for (int k = 0; k < 3; k++) {
			static const long offs[] = { 100, 1023, 1024 };
			say("mix.fseek.%ld: %d", offs[k], fseek(fp, offs[k], SEEK_SET));
			getline_one("mix.after_fseek", fp, &line, &cap);
			getline_one("mix.after_fseek.next", fp, &line, &cap);
		}
		say("mix.ungetc: %d", ungetc('X', fp));
		getline_one("mix.after_ungetc", fp, &line, &cap);
		getline_one("mix.after_ungetc.next", fp, &line, &cap);
		say("mix.fread: %zu ftell=%ld", fread(buf, 1, 33, fp), ftell(fp));
		getline_one("mix.after_fread", fp, &line, &cap);
		struct obs o = OBS(getdelim(&line, &cap, ' ', fp));
		say("mix.getdelim_space: %s %s ftell=%ld", res(o), o.r > 0 ? digest(line, (size_t)o.r) : "-",
		    ftell(fp));
		getline_one("mix.after_getdelim", fp, &line, &cap);
		say("mix.fwide: %d", fwide(fp, 0));
		say("mix.fdpos: %ld", pos_of(fileno(fp)));
		/* NULL arguments: glibc's EINVAL */
		say("null.lineptr: %s", res(OBS(getline(NULL, &cap, fp))));
		say("null.n: %s", res(OBS(getline(&line, NULL, fp))));
		free(line);
		fclose(fp);
	}

	/* line-buffered and unbuffered streams, and one set to 100 bytes */
	static const struct { const char *name; int mode; size_t size; } bufs[] = {
		{ "IOLBF", _IOLBF, 0 }, { "IONBF", _IONBF, 0 }, { "IOFBF.100", _IOFBF, 100 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bufs); i++) {
		FILE *fp = fopen(self_path[MI], "r");
		if (!fp)
			continue;
		setvbuf(fp, NULL, bufs[i].mode, bufs[i].size);
		say("setvbuf.%s: %s", bufs[i].name, getline_caps(fp, MI, 1));
		fclose(fp);
	}

	/* a child goes on from where the parent stopped (shared offset) */
	FILE *fp = fopen(self_path[MI], "r");
	char *line = NULL;
	size_t cap = 0;
	getline_one("fork.parent", fp, &line, &cap);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		getline_one("fork.child", fp, &line, &cap);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	getline_one("fork.parent_after", fp, &line, &cap);
	say("fork.fdpos: %ld", pos_of(fileno(fp)));
	free(line);
	fclose(fp);
}

/* ---- scenario: mntent --------------------------------------------------- */

static const char *opt_at(const struct mntent *m, const char *opt)
{
	char *p = hasmntopt(m, opt), *s = tmpstr();
	if (p)
		snprintf(s, TMPSTR, "@%td", p - m->mnt_opts);
	else
		strcpy(s, "-");
	return s;
}

/* Where @p sits in @buf (MNTENT_BUF bytes), or "-" when elsewhere (glibc
 * points an empty field at a static ""). */
#define MNTENT_BUF 4096
static const char *buf_off(const char *p, const char *buf)
{
	char *s = tmpstr();
	if ((uintptr_t)p >= (uintptr_t)buf && (uintptr_t)p < (uintptr_t)buf + MNTENT_BUF)
		snprintf(s, TMPSTR, "%td", p - buf);
	else
		strcpy(s, "-");
	return s;
}

/* Every field, decoded, and where each sits in the caller's buffer. */
static const char *ent_str(const struct mntent *m, const char *buf)
{
	char *s = tmpstr();
	snprintf(s, TMPSTR, "fsname=%s dir=%s type=%s opts=%s freq=%d passno=%d rw%s ro%s relatime%s",
		 esc(m->mnt_fsname), esc(m->mnt_dir), esc(m->mnt_type), esc(m->mnt_opts),
		 m->mnt_freq, m->mnt_passno, opt_at(m, "rw"), opt_at(m, "ro"), opt_at(m, "relatime"));
	if (buf) {
		size_t l = strlen(s);
		snprintf(s + l, TMPSTR - l, " at=%s,%s,%s,%s", buf_off(m->mnt_fsname, buf),
			 buf_off(m->mnt_dir, buf), buf_off(m->mnt_type, buf), buf_off(m->mnt_opts, buf));
	}
	return s;
}

struct ent_sum {
	unsigned n;
	uint32_t h;
};

static void ent_add(struct ent_sum *a, const char *line)
{
	a->n++;
	a->h = fnv(a->h, line, strlen(line) + 1);
}

static const char *ent_sum_str(const struct ent_sum *a)
{
	char *s = tmpstr();
	snprintf(s, TMPSTR, "entries=%u sum=%08" PRIx32, a->n, a->h);
	return s;
}

/* getmntent() over @path; @print: one line per entry. */
static struct ent_sum mntent_loop(const char *label, const char *path, bool print)
{
	struct ent_sum a = { 0, FNV0 };
	struct mntent *m;
	struct obs o;
	FILE *fp;

	o = OBS((fp = setmntent(path, "r")) ? 0 : -1);
	if (!fp) {
		say("%s.setmntent: %s", label, res(o));
		return a;
	}
	say("%s.setmntent: %s getfd=%d", label, res(o), fcntl(fileno(fp), F_GETFD));
	errno = SENTINEL;
	while ((m = getmntent(fp))) {
		const char *s = ent_str(m, NULL);
		if (print)
			say("%s.ent%u: %s", label, a.n, s);
		ent_add(&a, s);
	}
	int e = errno;
	say("%s.end: %s errno=%s feof=%d ferror=%d", label, ent_sum_str(&a), ename(e), feof(fp), ferror(fp));
	o = OBS(endmntent(fp));
	say("%s.endmntent: %s", label, res(o));
	return a;
}

static void mntent_sizes(void)
{
	static const int sizes[] = { 0, 8, 40, 200, 4096 };  /* 1: glibc loops forever at EOF */
	static char buf[MNTENT_BUF];

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct ent_sum a = { 0, FNV0 };
		struct mntent me, *m;
		FILE *fp = setmntent(self_path[MO], "r");
		while ((m = getmntent_r(fp, &me, buf, sizes[i]))) {
			const char *s = ent_str(m, buf);
			if (verbose || a.n < 3)
				say("r%d.ent%u: %s", sizes[i], a.n, s);
			ent_add(&a, s);
		}
		say("r%d.end: %s ftell=%ld", sizes[i], ent_sum_str(&a), ftell(fp));
		say("r%d.fclose: %s", sizes[i], res(OBS(fclose(fp))));
	}
}

static void mntent_interleave(void)
{
	FILE *a = setmntent(self_path[MO], "r"), *b = setmntent("/etc/mtab", "r");
	struct ent_sum sa = { 0, FNV0 }, sb = { 0, FNV0 };
	unsigned same_ptr = 0, steps = 0;
	struct mntent *ma, *mb;

	do {
		ma = getmntent(a);
		if (ma)
			ent_add(&sa, ent_str(ma, NULL));
		mb = getmntent(b);
		if (mb)
			ent_add(&sb, ent_str(mb, NULL));
		same_ptr += ma && ma == mb;
		steps++;
	} while (ma || mb);
	say("interleave.a: %s", ent_sum_str(&sa));
	say("interleave.b: %s", ent_sum_str(&sb));
	say("interleave.same_static: %u of %u", same_ptr, steps - 1);
	endmntent(a);
	endmntent(b);
}

/* getmntent() returns one static struct for all streams, served or not. */
static void mntent_static(void)
{
	char dir[] = "/tmp/probe.XXXXXX", path[PATH_MAX];
	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof path, "%s/fstab", dir);
	FILE *w = fopen(path, "we");
	if (w) {
		fputs("mine /my/dir ext4 rw,noatime 1 2\n", w);
		fclose(w);
	}
	FILE *plain = setmntent(path, "r"), *table = setmntent(self_path[MO], "r");
	struct mntent *a = plain ? getmntent(plain) : NULL;
	struct mntent *b = table ? getmntent(table) : NULL;
	say("static: same_ptr=%s plain_now=%s", yesno(a && a == b), a ? esc(a->mnt_dir) : "-");
	if (plain)
		endmntent(plain);
	if (table)
		endmntent(table);
	unlink(path);
	rmdir(dir);
}

/* fgets and getmntent on one stream, in both orders. */
static void mntent_mixed(void)
{
	char line[256];
	FILE *fp = setmntent(self_path[MO], "r");
	int fd = fileno(fp);
	struct mntent *m;

	m = getmntent(fp);
	say("mix.getmntent1: %s ftell=%ld fdpos=%ld", m ? ent_str(m, NULL) : "NULL", ftell(fp), pos_of(fd));
	char *l = fgets(line, sizeof line, fp);
	say("mix.fgets: %s ftell=%ld", l ? digest(line, strlen(line)) : "NULL", ftell(fp));
	l = fgets(line, 20, fp);
	say("mix.fgets20: %s ftell=%ld", l ? digest(line, strlen(line)) : "NULL", ftell(fp));
	m = getmntent(fp);
	say("mix.getmntent2: %s ftell=%ld", m ? ent_str(m, NULL) : "NULL", ftell(fp));
	m = getmntent(fp);
	say("mix.getmntent3: %s ftell=%ld", m ? ent_str(m, NULL) : "NULL", ftell(fp));
	rewind(fp);
	m = getmntent(fp);
	say("mix.rewind.getmntent: %s ftell=%ld", m ? ent_str(m, NULL) : "NULL", ftell(fp));
	lseek(fd, 0, SEEK_SET);
	m = getmntent(fp);
	say("mix.lseek0.getmntent: %s ftell=%ld", m ? ent_str(m, NULL) : "NULL", ftell(fp));
	while (getmntent(fp))
		;
	lseek(fd, 0, SEEK_SET);
	m = getmntent(fp);
	say("mix.eof_lseek0.getmntent: %s feof=%d", m ? ent_str(m, NULL) : "NULL", feof(fp));
	say("mix.fclose: %s", res(OBS(fclose(fp))));
}

static void scen_mntent(void)
{
	char path[PATH_MAX];
	struct ent_sum self = mntent_loop("mounts", self_path[MO], true);
	struct ent_sum mtab = mntent_loop("mtab", "/etc/mtab", false);
	snprintf(path, sizeof path, "/proc/%d/mounts", (int)getpid());
	struct ent_sum pid = mntent_loop("pid", path, false);
	say("mtab_vs_self: %s", yesno(mtab.n == self.n && mtab.h == self.h));
	say("pid_vs_self: %s", yesno(pid.n == self.n && pid.h == self.h));
	mntent_loop("mountinfo", self_path[MI], verbose);
	mntent_loop("missing", "/proc/999999999/mounts", false);

	FILE *fp;
	struct obs o = OBS((fp = setmntent(self_path[MO], "w")) ? 0 : -1);
	say("setmntent.w: %s", res(o));
	if (fp)
		endmntent(fp);

	mntent_sizes();
	mntent_interleave();
	mntent_static();
	mntent_mixed();
}

/* ---- scenario: threads -------------------------------------------------- */

#define THREADS 8
#define ROUNDS 200

static void *thread_reader(void *arg)
{
	enum fmt f = (enum fmt)(uintptr_t)arg % 2;
	struct text t = { 0 };
	uintptr_t bad = 0;

	for (int i = 0; i < ROUNDS; i++)
		if (slurp(self_path[f], &t) != 0 || strcmp(vs(&t, &first[f]), "same") != 0)
			bad++;
	text_free(&t);
	return (void *)bad;
}

static void scen_threads(void)
{
	pthread_t th[THREADS];
	uintptr_t bad = 0;

	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, thread_reader, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (uintptr_t)r;
	}
	if (bad)
		say("threads: %lu of %d reads differ", (unsigned long)bad, THREADS * ROUNDS);
	else
		say("threads: all same");
}

/* ---- scenario: efault ----------------------------------------------------
 * Bad buffers: the kernel answers EFAULT (or a short count); each case runs
 * in a child so a crash is reported, not fatal. */

/* Hide the object size from _FORTIFY_SOURCE: these calls are meant to be bad. */
static void *opaque(void *p)
{
	void *volatile v = p;
	return v;
}

/* A buffer whose last 10 bytes are followed by an inaccessible page. */
static char *edge_buffer(void)
{
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	mprotect(m + 4096, 4096, PROT_NONE);
	return m + 4096 - 10;
}

static void efault_case(void *arg)
{
	int which = (int)(intptr_t)arg;
	int fd = open_fmt(MI);
	char small[16];
	volatile size_t huge = SIZE_MAX;
	struct iovec iov = { small, sizeof small };
	struct obs o = { 0, 0 };
	const char *name = "?";

	switch (which) {
	case 0: name = "read.NULL"; o = OBS(read(fd, opaque(NULL), 100)); break;
	case 1: name = "read.edge"; o = OBS(read(fd, opaque(edge_buffer()), 100)); break;
	case 2: name = "read.SIZE_MAX"; o = OBS(read(fd, opaque(small), huge)); break;
	case 3: name = "readv.NULL_iov"; o = OBS(readv(fd, opaque(NULL), 1)); break;
	case 4: name = "pread.NULL"; o = OBS(pread(fd, opaque(NULL), 100, 0)); break;
	case 5: name = "readv.iov_len_SIZE_MAX"; iov.iov_len = SIZE_MAX; o = OBS(readv(fd, &iov, 1)); break;
	}
	say("%s: %s pos=%ld", name, res(o), pos_of(fd));
}

static void scen_efault(void)
{
	static const char *const names[] = { "read.NULL", "read.edge", "read.SIZE_MAX",
		"readv.NULL_iov", "pread.NULL", "readv.iov_len_SIZE_MAX" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int status = isolated(efault_case, (void *)(intptr_t)i, 60);
		if (status)
			say("%s: %s", names[i], status_str(status));
	}
}

/* ---- scenario: signal ----------------------------------------------------
 * read() is async-signal-safe: a signal handler may read a mount table
 * while the interrupted code is itself reading one. */

/* Handlers run up to SIG_RUNS times, for at most SIG_SECONDS: on a big
 * table the kernel's own reads slow down a lot (each pread of the shared
 * file makes the next read() traverse from the start), and the handler runs
 * only between syscalls, so the kernel run may see far fewer. The
 * transcript states SIG_RUNS_MIN, which both reach. */
#define SIG_RUNS 2000
#define SIG_RUNS_MIN 100
#define SIG_SECONDS 4
static volatile sig_atomic_t sig_runs, sig_bad;
static int sig_fd[2];                   /* the handler's own, the loop's */

/* Alternately on its own file and on the one the loop is reading. */
static void on_alarm(int sig)
{
	(void)sig;
	int e = errno, i = sig_runs % 2;
	char buf[64];
	if (pread(sig_fd[i], buf, sizeof buf, 0) != (ssize_t)sizeof buf ||
	    memcmp(buf, first[i == 0 ? MI : MO].p, sizeof buf) != 0)
		sig_bad++;
	sig_runs++;
	errno = e;
}

static void scen_signal(void)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, off = { 0 };
	struct text t = { 0 };
	unsigned bad = 0;

	sig_fd[0] = open_fmt(MI);
	int fd = sig_fd[1] = open_fmt(MO);
	sigaction(SIGALRM, &sa, NULL);
	time_t end = time(NULL) + SIG_SECONDS;
	setitimer(ITIMER_REAL, &it, NULL);
	for (unsigned i = 0; i < 100000 && sig_runs < SIG_RUNS && time(NULL) < end; i++) {
		t.len = 0;
		lseek(fd, 0, SEEK_SET);
		if (drain(fd, 4096, &t, NULL) || strcmp(vs(&t, &first[MO]), "same"))
			bad++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	say("signal: handler_runs>=%d=%s handler_bad=%d main_bad=%u", SIG_RUNS_MIN, yesno(sig_runs >= SIG_RUNS_MIN),
	    (int)sig_bad, bad);
	text_free(&t);
}

/* ---- scenario: cancel ----------------------------------------------------
 * read() is a cancellation point; a thread cancelled there must not take
 * anything down with it. */

static void *cancelled_reader(void *arg)
{
	char buf[100];
	pthread_cancel(pthread_self());         /* pending, deferred */
	return (void *)(intptr_t)read(*(int *)arg, buf, sizeof buf);
}

/* glibc's mntent stream never reads or closes at a cancellation point
 * (setmntent opens it "ce"): with a cancel pending, a whole setmntent +
 * getmntent loop + endmntent runs to the end. */
static void *cancelled_mntent(void *arg)
{
	(void)arg;
	FILE *f = setmntent("/proc/self/mounts", "r");
	long n = 0;
	if (!f)
		return (void *)-1L;
	pthread_cancel(pthread_self());         /* pending, deferred */
	while (getmntent(f))
		n++;
	return (void *)(endmntent(f) == 1 ? n : -2L);
}

static void scen_cancel(void)
{
	int fd = open_fmt(MI);
	say("warm: %s", rd(fd, 100));
	lseek(fd, 0, SEEK_SET);
	pthread_t th;
	void *ret;
	pthread_create(&th, NULL, cancelled_reader, &fd);
	pthread_join(th, &ret);
	if (ret == PTHREAD_CANCELED)
		say("thread: cancelled");
	else
		say("thread: returned %ld", (long)(intptr_t)ret);
	pthread_create(&th, NULL, cancelled_mntent, NULL);
	pthread_join(th, &ret);
	if (ret == PTHREAD_CANCELED)
		say("mntent_thread: cancelled");
	else
		say("mntent_thread: returned %ld", (long)(intptr_t)ret);
	lseek(fd, 0, SEEK_SET);
	say("after.same_fd: %s", rd(fd, 100));
	int fd2 = open_fmt(MI);
	say("after.new_fd: %s", rd(fd2, 100));
	close(fd2);
	close(fd);
}

/* ---- scenario: ns ----------------------------------------------------------
 * An open file keeps the namespace it was opened in, whatever the process
 * does afterwards. unshare() here affects only this scenario's process. */

/* The text of @fd as the kernel renders it, by raw pread. */
static void kernel_fd_text(int fd, struct text *t)
{
	char buf[65536];
	long n;
	t->len = 0;
	while ((n = syscall(SYS_pread64, fd, buf, sizeof buf, (long)t->len)) > 0)
		text_put(t, buf, (size_t)n);
}

static void scen_ns(void)
{
	int fd = open_fmt(MI);
	struct obs o = OBS(unshare(CLONE_NEWNS));
	say("unshare: %s", res(o));
	if (o.r < 0)
		return;
	struct text t = { 0 }, k = { 0 }, now = { 0 };
	drain(fd, 65536, &t, NULL);
	kernel_fd_text(fd, &k);
	say("old_fd: first=%s kernel_fd=%s", vs(&t, &first[MI]), vs(&t, &k));
	close(fd);
	kernel_text(self_path[MI], &k);
	slurp(self_path[MI], &now);
	say("new_open: kernel=%s first=%s", vs(&now, &k), vs(&now, &first[MI]));
	text_free(&t);
	text_free(&k);
	text_free(&now);
}

/* ---- scenario: change ----------------------------------------------------
 * The table changes under an open file: poll/epoll/select see the kernel's
 * events, and reads must show the new table. Only in a private namespace. */

static char chg_dir[PATH_MAX];
static const char chg_src[] = "probechg";

/* The mount namespace of process @pid ("self" or a number), or "". */
static const char *mnt_ns(const char *pid)
{
	char path[64], *s = tmpstr();
	snprintf(path, sizeof path, "/proc/%s/ns/mnt", pid);
	ssize_t n = readlink(path, s, TMPSTR - 1);
	s[n > 0 ? n : 0] = '\0';
	return s;
}

static int parent_of(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	const char *p = strrchr(buf, ')');      /* "pid (comm) state ppid" */
	int ppid = 0;
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : 0;
}

/* Are we in a mount namespace of our own? Compared with pid 1, or when
 * that cannot be read (a container), with our readable ancestors: any of
 * them in another namespace means ours was made below it. */
static bool private_namespace(void)
{
	char self[512], num[16];
	snprintf(self, sizeof self, "%s", mnt_ns("self"));
	const char *init = mnt_ns("1");
	if (!*self)
		return false;
	if (*init)
		return strcmp(self, init) != 0;
	for (int pid = parent_of(getpid()); pid > 1; pid = parent_of(pid)) {
		snprintf(num, sizeof num, "%d", pid);
		const char *ns = mnt_ns(num);
		if (*ns && strcmp(ns, self) != 0)
			return true;
	}
	return false;
}

static const char *revents_str(int rev)
{
	static const struct { int bit; const char *name; } bits[] = {
		{ POLLIN, "IN" }, { POLLPRI, "PRI" }, { POLLOUT, "OUT" }, { POLLERR, "ERR" },
		{ POLLHUP, "HUP" }, { POLLNVAL, "NVAL" }, { POLLRDNORM, "RDNORM" },
	};
	char *s = tmpstr(), *w = s;
	*s = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(bits); i++)
		if (rev & bits[i].bit)
			w += sprintf(w, "%s%s", w == s ? "" : "|", bits[i].name);
	return *s ? s : "0";
}

static const char *poll_str(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };
	int r = poll(&p, 1, 0);
	char *s = tmpstr();
	snprintf(s, TMPSTR, "r=%d revents=%s", r, revents_str(p.revents));
	return s;
}

/* The line of our test mount in @t, or NULL. */
static const char *chg_line(const struct text *t, char *out, size_t size)
{
	const char *p = t->p ? strstr(t->p, " probechg ") : NULL;
	if (!p)
		return NULL;
	const char *b = p, *e = strchr(p, '\n');
	while (b > t->p && b[-1] != '\n')
		b--;
	snprintf(out, size, "%.*s", (int)((e ? e : t->p + t->len) - b), b);
	return out;
}

/* lseek 0 and read everything: is the test mount there, is it shared,
 * and is the text what the kernel has right now. */
static const char *reread(int fd)
{
	struct text t = { 0 }, k = { 0 };
	char line[4096];
	char *s = tmpstr();

	lseek(fd, 0, SEEK_SET);
	drain(fd, 65536, &t, NULL);
	kernel_text(self_path[MI], &k);
	const char *l = chg_line(&t, line, sizeof line);
	snprintf(s, TMPSTR, "mounted=%s shared=%s kernel=%s", yesno(l), yesno(l && strstr(l, " shared:")),
		 vs(&t, &k));
	text_free(&t);
	text_free(&k);
	return s;
}

static void chg_mount(void)
{
	say("mount: %s", res(OBS(mount(chg_src, chg_dir, "tmpfs", 0, "size=1m"))));
}

static void chg_umount(void)
{
	say("umount: %s", res(OBS(umount(chg_dir))));
}

static void chg_poll(int fd)
{
	say("poll: %s", poll_str(fd));
	chg_mount();
	say("mount.poll: %s", poll_str(fd));
	say("mount.poll2: %s", poll_str(fd));
	say("mount.read: %s", reread(fd));
	chg_umount();
	say("umount.poll: %s", poll_str(fd));
	say("umount.read: %s", reread(fd));
}

static const char *epoll_str(int ep)
{
	struct epoll_event ev = { 0 };
	int r = epoll_wait(ep, &ev, 1, 0);
	char *s = tmpstr();
	snprintf(s, TMPSTR, "r=%d events=%s", r, r > 0 ? revents_str((int)ev.events) : "-");
	return s;
}

static void chg_epoll(int fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLPRI | EPOLLET, .data.fd = fd };
	say("epoll.add: %s", res(OBS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))));
	say("epoll.wait: %s", epoll_str(ep));
	chg_mount();
	say("mount.epoll: %s", epoll_str(ep));
	say("mount.epoll2: %s", epoll_str(ep));
	say("mount.epoll.read: %s", reread(fd));
	chg_umount();
	say("umount.epoll: %s", epoll_str(ep));
	say("umount.epoll.read: %s", reread(fd));
	close(ep);
}

static const char *select_str(int fd)
{
	fd_set ex;
	struct timeval tv = { 0, 0 };
	FD_ZERO(&ex);
	FD_SET(fd, &ex);
	int r = select(fd + 1, NULL, NULL, &ex, &tv);
	char *s = tmpstr();
	snprintf(s, TMPSTR, "r=%d except=%s", r, yesno(r > 0 && FD_ISSET(fd, &ex)));
	return s;
}

static void chg_select(int fd)
{
	say("select: %s", select_str(fd));
	chg_mount();
	say("mount.select: %s", select_str(fd));
	say("mount.select.read: %s", reread(fd));
	chg_umount();
	say("umount.select: %s", select_str(fd));
	say("umount.select.read: %s", reread(fd));
}

/* Propagation flips by this process: the text changes, no event comes. */
static void chg_propagation(int fd)
{
	chg_mount();
	say("private: %s", res(OBS(mount(NULL, chg_dir, NULL, MS_PRIVATE, NULL))));
	say("prop.poll: %s", poll_str(fd));
	say("prop.read: %s", reread(fd));
	say("shared: %s", res(OBS(mount(NULL, chg_dir, NULL, MS_SHARED, NULL))));
	say("shared.poll: %s", poll_str(fd));
	say("shared.read: %s", reread(fd));
	say("private2: %s", res(OBS(mount(NULL, chg_dir, NULL, MS_PRIVATE, NULL))));
	say("private2.poll: %s", poll_str(fd));
	say("private2.read: %s", reread(fd));
}

/* The same changes made by another process (a child): this process learns
 * only what the kernel announces. */
static void child_shared(void *arg)
{
	if (mount(NULL, chg_dir, NULL, (unsigned long)(uintptr_t)arg, NULL) < 0)
		_exit(1);
}

static void child_umount(void *arg)
{
	(void)arg;
	if (umount(chg_dir) < 0)
		_exit(1);
}

static void chg_foreign(int fd)
{
	say("foreign.read: %s", reread(fd));
	int st = isolated(child_shared, (void *)(uintptr_t)MS_SHARED, 60);
	say("foreign.shared: %s", status_str(st));
	say("foreign.shared.poll: %s", poll_str(fd));
	say("foreign.shared.read: %s", reread(fd));
	st = isolated(child_shared, (void *)(uintptr_t)MS_PRIVATE, 60);
	say("foreign.private: %s", status_str(st));
	say("foreign.private.read: %s", reread(fd));
	st = isolated(child_umount, NULL, 60);
	say("foreign.umount: %s", status_str(st));
	say("foreign.umount.poll: %s", poll_str(fd));
	say("foreign.umount.read: %s", reread(fd));
}

static void child_mount(void *arg)
{
	(void)arg;
	if (mount(chg_src, chg_dir, "tmpfs", 0, "size=1m") < 0)
		_exit(1);
}

/* _Fork() (no atfork handlers): the child reads after another process
 * changed the table; then the parent must still see the change. */
static void chg_fork_nohandlers(void)
{
	int fd = open_fmt(MI), go[2];
	say("_Fork.before: %s", reread(fd));
	if (pipe2(go, O_CLOEXEC) < 0)
		return;
	fflush(stdout);
	pid_t pid = _Fork();
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) == 1)
			reread(fd);
		_exit(0);
	}
	close(go[0]);
	int st = isolated(child_mount, NULL, 60);
	say("_Fork.foreign_mount: %s", status_str(st));
	if (write(go[1], "x", 1) != 1 || pid < 0)
		say("_Fork: %s", ename(errno));
	close(go[1]);
	waitpid(pid, &st, 0);
	say("_Fork.child: %s", status_str(st));
	say("_Fork.after: %s", reread(fd));
	close(fd);
	chg_umount();
}

/* A change between two reads of one pass, and after the end was reached. */
static void chg_midread(void)
{
	char line[4096];
	struct text t = { 0 };
	int fd = open_fmt(MI);
	char buf[100];

	ssize_t n = read(fd, buf, sizeof buf);
	text_put(&t, buf, n > 0 ? (size_t)n : 0);
	chg_mount();
	drain(fd, 65536, &t, NULL);
	say("midread: mounted=%s", yesno(chg_line(&t, line, sizeof line)));
	chg_umount();
	close(fd);

	t.len = 0;
	fd = open_fmt(MI);
	drain(fd, 65536, &t, NULL);
	chg_mount();
	t.len = 0;
	int e = drain(fd, 65536, &t, NULL);
	say("after_eof: %s %s mounted=%s", ename(e ? e : SENTINEL), t.len ? "data" : "empty",
	    yesno(chg_line(&t, line, sizeof line)));
	chg_umount();
	close(fd);
	text_free(&t);
}

/* getline on a stream whose buffer was dropped (fflush) right after the
 * line of chg_dir, once a remount has made that line longer: the next
 * line is the new text from that offset to its next '\n' (the remount's
 * two extra bytes), as the kernel renders it, not a line the old text's
 * index names (the new text's index is built first, by two passes of
 * another open, so that the index path is the one taken). */
static void chg_getline_refill(void)
{
	char sub[PATH_MAX + 8], key[PATH_MAX + 8], *line = NULL;
	size_t cap = 0;
	snprintf(sub, sizeof sub, "%s/sub", chg_dir);
	snprintf(key, sizeof key, " %s ", chg_dir);
	chg_mount();
	say("getline_refill.mkdir: %s", res(OBS(mkdir(sub, 0755))));
	say("getline_refill.mount_sub: %s", res(OBS(mount(chg_src, sub, "tmpfs", 0, "size=1m"))));
	FILE *fp = fopen(self_path[MO], "re");
	bool found = false;
	while (fp && !found && getline(&line, &cap, fp) > 0)
		found = strstr(line, key) != NULL;
	say("getline_refill.found: %s ftell=%s", yesno(found), fp && ftell(fp) > 0 ? "set" : "unset");
	say("getline_refill.remount: %s",
	    res(OBS(mount(NULL, chg_dir, NULL, MS_REMOUNT | MS_RELATIME, "size=100m"))));
	/* two passes of another open: the new text's line index is built */
	struct text t = { 0 };
	for (int i = 0; i < 2; i++) {
		t.len = 0;
		slurp(self_path[MO], &t);
	}
	text_free(&t);
	if (fp) {
		say("getline_refill.fflush: %d", fflush(fp));
		getline_one("getline_refill.line", fp, &line, &cap);
		getline_one("getline_refill.next", fp, &line, &cap);
		fclose(fp);
	}
	free(line);
	say("getline_refill.umount_sub: %s", res(OBS(umount(sub))));
	rmdir(sub);
	chg_umount();
}

/* chroot into a tmpfs with its own /proc, after opening the table. */
static void chroot_child(void *arg)
{
	int fd = *(int *)arg;
	struct text t = { 0 }, k = { 0 };
	struct obs o = OBS(chroot(chg_dir));
	say("chroot: %s", res(o));
	if (o.r < 0 || chdir("/") < 0)
		return;
	drain(fd, 65536, &t, NULL);
	kernel_fd_text(fd, &k);
	say("chroot.old_fd: first=%s kernel_fd=%s", vs(&t, &first[MI]), vs(&t, &k));
	slurp(self_path[MI], &t);
	kernel_text(self_path[MI], &k);
	say("chroot.new_open: kernel=%s", vs(&t, &k));
	text_free(&t);
	text_free(&k);
}

static void chg_chroot(void)
{
	char proc[PATH_MAX + 8];
	chg_mount();
	snprintf(proc, sizeof proc, "%s/proc", chg_dir);
	mkdir(proc, 0755);
	say("chroot.proc: %s", res(OBS(mount("proc", proc, "proc", 0, NULL))));
	int fd = open_fmt(MI);
	int st = isolated(chroot_child, &fd, 60);
	if (st)
		say("chroot: %s", status_str(st));
	close(fd);
	say("chroot.umount_proc: %s", res(OBS(umount(proc))));
	chg_umount();
}

/* The program dup2()s /dev/null over every fd it did not open itself
 * above 255 (where a preload keeps its own, whose change events tell it a
 * snapshot went stale): a change must still show at the next pass. */
static void chg_clobbered(void)
{
	int fd = open_fmt(MI);
	struct text t = { 0 };
	drain(fd, 65536, &t, NULL);
	text_free(&t);
	int null = open("/dev/null", O_RDONLY);
	bool clobbered[4096] = { false };
	for (int i = 256; i < 4096; i++)
		if (i != fd && i != null && fcntl(i, F_GETFD) >= 0)
			clobbered[i] = dup2(null, i) == i;
	chg_mount();
	say("clobbered.mount.read: %s", reread(fd));
	chg_umount();
	say("clobbered.umount.read: %s", reread(fd));
	for (int i = 256; i < 4096; i++)
		if (clobbered[i])
			close(i);
	close(null);
	close(fd);
}

static void scen_change(void)
{
	if (!private_namespace()) {
		say("refused: not in a private mount namespace");
		return;
	}
	const char *late = getenv("MC_FIXTURE_LATE");
	if (late && *late) {
		snprintf(chg_dir, sizeof chg_dir, "%s", late);
	} else {
		strcpy(chg_dir, "/tmp/probe.XXXXXX");
		if (!mkdtemp(chg_dir)) {
			say("mkdtemp: %s", ename(errno));
			return;
		}
	}
	int fd = open_fmt(MI);
	struct text t = { 0 };
	drain(fd, 65536, &t, NULL);
	say("start: %s", vs(&t, &first[MI]));
	text_free(&t);
	chg_poll(fd);
	chg_epoll(fd);
	chg_select(fd);
	chg_propagation(fd);
	chg_foreign(fd);
	close(fd);
	chg_midread();
	chg_getline_refill();
	chg_fork_nohandlers();
	chg_chroot();
	chg_clobbered();
	t.len = 0;
	say("end: %s", slurp(self_path[MI], &t) == 0 ? vs(&t, &first[MI]) : "error");
	text_free(&t);
	if (!late || !*late)
		rmdir(chg_dir);
}

/* ---- main --------------------------------------------------------------- */

struct scenario {
	const char *name;
	void (*fn)(void);
	bool change;                    /* modifies the table: needs --change */
	unsigned timeout_s;             /* watchdog */
};

static const struct scenario scenarios[] = {
	{ "read", scen_read, false, 600 },
	{ "fstat", scen_fstat, false, 60 },
	{ "open", scen_open, false, 60 },
	{ "fds", scen_fds, false, 120 },
	{ "offsets", scen_offsets, false, 120 },
	{ "kpos", scen_kpos, false, 60 },
	{ "close", scen_close, false, 60 },
	{ "children", scen_children, false, 60 },
	{ "stdio", scen_stdio, false, 120 },
	{ "mntent", scen_mntent, false, 300 },
	{ "getline", scen_getline, false, 120 },
	{ "threads", scen_threads, false, 600 },
	{ "efault", scen_efault, false, 120 },
	{ "signal", scen_signal, false, 20 },
	{ "cancel", scen_cancel, false, 20 },
	{ "ns", scen_ns, false, 60 },
	{ "change", scen_change, true, 300 },
};

static void run_scenario(void *arg)
{
	const struct scenario *s = arg;
	scen = s->name;
	s->fn();
}

/* The program's first full read of each format, and the kernel's text. */
static void reference(void)
{
	scen = "ref";
	for (enum fmt f = MI; f <= MO; f++) {
		int e = kernel_text(self_path[f], &kref[f]);
		if (e) {
			fprintf(stderr, "probe: %s: %s\n", self_path[f], strerror(e));
			exit(2);
		}
		e = slurp(self_path[f], &first[f]);
		say("%s: %s first_read=%s kernel=%s", fmt_name[f], tdigest(&kref[f]), ename(e ? e : SENTINEL),
		    vs(&first[f], &kref[f]));
	}
}

static void usage(void)
{
	fputs("usage: probe [--change] [--no-fork] [-v] [SCENARIO...] | --list\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	bool change = false, fork_each = true;
	bool want[ARRAY_SIZE(scenarios)] = { false }, any = false;

	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--child-read") == 0)
		return child_read(argv[2], argv[3]);
	for (int i = 1; i < argc; i++) {
		size_t j;
		if (strcmp(argv[i], "--list") == 0) {
			for (j = 0; j < ARRAY_SIZE(scenarios); j++)
				printf("%s%s\n", scenarios[j].name, scenarios[j].change ? " (--change)" : "");
			return 0;
		} else if (strcmp(argv[i], "--change") == 0) {
			change = true;
		} else if (strcmp(argv[i], "--no-fork") == 0) {
			fork_each = false;
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose = true;
		} else {
			for (j = 0; j < ARRAY_SIZE(scenarios); j++)
				if (strcmp(argv[i], scenarios[j].name) == 0)
					break;
			if (j == ARRAY_SIZE(scenarios)) {
				fprintf(stderr, "probe: unknown scenario %s\n", argv[i]);
				usage();
			}
			want[j] = any = true;
		}
	}

	/* Line by line: a scenario that crashes keeps what it printed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	reference();
	for (size_t j = 0; j < ARRAY_SIZE(scenarios); j++) {
		const struct scenario *s = &scenarios[j];
		if (any ? !want[j] : (s->change && !change))
			continue;
		if (s->change && !change) {
			printf("%s: skipped (needs --change)\n", s->name);
			continue;
		}
		if (!fork_each) {
			run_scenario((void *)s);
			continue;
		}
		int status = isolated(run_scenario, (void *)s, s->timeout_s);
		if (status)
			printf("%s: %s\n", s->name, status_str(status));
	}
	fflush(stdout);
	return 0;
}
