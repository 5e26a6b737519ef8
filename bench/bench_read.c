/* bench_read: time one way of reading the mount table, inside one process.
 *
 *   bench_read MODE [--iters K] [--warmup W] [--min-ms T] [--file PATH]
 *
 * Runs W untimed iterations, then K timed ones, and more until T ms of timed
 * iterations have passed (a loop that must span bursts of churn, or the
 * snapshot's maximum age). Prints one line per run:
 *   mode=M iters=K median_us=.. min_us=.. max_us=.. bytes=.. mean_us=.. entries=.. rss_kb=..
 * mean_us is the amortised cost: it includes the rare iterations that had to
 * re-read the kernel (a change, an expired snapshot), which the median hides.
 * bytes is what one iteration read or produced (for libmount, getmntent and
 * listmount: the text size of the file they stand for, read once before
 * timing); rss_kb is VmRSS at the end.
 *
 * The binary is the same with and without LD_PRELOAD: that is the A/B. Only
 * `capture`, `parse` and `view` call the engine directly (through raw
 * syscalls, which no preload sees); they are the engine's own costs.
 *
 * Modes:
 *   raw        open + read(64 KiB) loop + close of /proc/self/mountinfo
 *   raw4k      the same with 4 KiB reads
 *   first      one raw read (iters 1, warmup 0): spawn fresh processes
 *   first4k    one open + one read(4 KiB) + close (iters 1, warmup 0): a
 *              fresh process that reads the first page and stops, as
 *              `head`, `grep -q` or `grep >/dev/null` do
 *   other      100 x (open + read to EOF + close) of another file
 *              (--file, default /etc/hostname): the hooks' cost to files
 *              that are not mount tables
 *   getline    fopen + getline loop + fclose
 *   getmntent  setmntent(/proc/self/mounts) + getmntent loop + endmntent
 *   libmount   mnt_table_parse_mtab() into a new table
 *   listmount  listmount(LSMT_ROOT) + statmount of each mount, the fields
 *              mountinfo shows (skipped with a message if ENOSYS)
 *   capture    the engine's mc_capture_fd() on a held fd
 *   parse      mc_table_parse() of a captured text
 *   view       the engine's per-process hit path: mc_view_snapshot()
 *   snapsize   memory of a parsed snapshot (not timed; see below)
 *   syscall    1,000 raw getppid() calls: the machine's cost of one system
 *              call is median_us / 1000 (bench/lib.sh syscall_cost)
 *   pagefault  first writes to 256 fresh anonymous pages (with their mmap
 *              and munmap, 2 calls): one page fault costs median_us / 256
 *              (bench/lib.sh fault_cost); a fresh process pays one per new
 *              stack, heap or data page it touches
 *
 * Exit: 0; 2 usage; 1 the mode failed; 77 the mode is not available here. */
#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <malloc.h>
#include <mntent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"

#define EXIT_SKIP 77

struct ctx {
	const char *file;       /* NULL: the mode's default */
	int fd;                 /* capture: held fd */
	struct mc_buf text;     /* parse: the captured text */
	enum mc_format fmt;
	struct mc_view *view;
	size_t entries;
	size_t text_bytes;      /* the file's size, read once */
};

static const char *file_or(const struct ctx *c, const char *dflt)
{
	return c->file ? c->file : dflt;
}

static enum mc_format format_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return strcmp(slash ? slash + 1 : path, "mountinfo") == 0 ? MC_MOUNTINFO : MC_MOUNTS;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- the ways of reading ---------------------------------------------- */

static int read_loop(const char *path, size_t bufsize, size_t *ret_bytes)
{
	static char buf[65536];
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, bufsize)) > 0)
		total += n;
	int r = n < 0 ? -errno : 0;
	close(fd);
	*ret_bytes = total;
	return r;
}

static int do_raw(struct ctx *c, size_t *ret_bytes)
{
	return read_loop(file_or(c, "/proc/self/mountinfo"), 65536, ret_bytes);
}

static int do_raw4k(struct ctx *c, size_t *ret_bytes)
{
	return read_loop(file_or(c, "/proc/self/mountinfo"), 4096, ret_bytes);
}

/* Not a mount table: OTHER_BATCH open + read to EOF + close of --file
 * (default /etc/hostname) per iteration, what the hooks cost every other
 * file a program reads (~1 us a cycle: one cycle alone is below the
 * timer's and the report's resolution). */
#define OTHER_BATCH 100
static int do_other(struct ctx *c, size_t *ret_bytes)
{
	size_t total = 0;
	for (int i = 0; i < OTHER_BATCH; i++) {
		int r = read_loop(file_or(c, "/etc/hostname"), 65536, &total);
		if (r < 0)
			return r;
	}
	*ret_bytes = total;
	return 0;
}

/* The first page only: what a process that stops early pays. */
static int do_first4k(struct ctx *c, size_t *ret_bytes)
{
	static char buf[4096];
	int fd = open(file_or(c, "/proc/self/mountinfo"), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf);
	int r = n < 0 ? -errno : 0;
	close(fd);
	*ret_bytes = n > 0 ? (size_t)n : 0;
	return r;
}

/* What one system call costs here: 1,000 raw getppid() calls per
 * iteration (the cheapest call there is; machines of one kind differ 4x in
 * it, so every ratio is printed beside it). */
#define SYSCALL_BATCH 1000
static int do_syscall(struct ctx *c, size_t *ret_bytes)
{
	(void)c;
	for (int i = 0; i < SYSCALL_BATCH; i++)
		syscall(SYS_getppid);
	*ret_bytes = 0;
	return 0;
}

/* What one page fault costs here: 256 first-touch writes per iteration.
 * On this project's machine kind it was ~12 us, ten system calls: for a
 * process that reads once, the pages the preload touches for the first
 * time weigh more than its system calls. */
#define FAULT_BATCH 256
static int do_pagefault(struct ctx *c, size_t *ret_bytes)
{
	(void)c;
	char *p = mmap(NULL, FAULT_BATCH * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (int i = 0; i < FAULT_BATCH; i++)
		((volatile char *)p)[i * 4096] = 1;
	munmap(p, FAULT_BATCH * 4096);
	*ret_bytes = 0;
	return 0;
}

static int do_getline(struct ctx *c, size_t *ret_bytes)
{
	static char *line;
	static size_t cap;
	size_t total = 0, lines = 0;
	ssize_t n;
	FILE *f = fopen(file_or(c, "/proc/self/mountinfo"), "re");

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		total += n;
		lines++;
	}
	fclose(f);
	c->entries = lines;
	*ret_bytes = total;
	return 0;
}

static volatile int sink;

static int do_getmntent(struct ctx *c, size_t *ret_bytes)
{
	struct mntent *m;
	size_t n = 0;
	FILE *f = setmntent(file_or(c, "/proc/self/mounts"), "r");

	if (!f)
		return -errno;
	/* Touch the fields, as a consumer would. */
	while ((m = getmntent(f))) {
		sink += m->mnt_fsname[0] + m->mnt_dir[0] + m->mnt_type[0] + m->mnt_opts[0];
		n++;
	}
	endmntent(f);
	c->entries = n;
	*ret_bytes = c->text_bytes;
	return 0;
}

static int do_libmount(struct ctx *c, size_t *ret_bytes)
{
	struct libmnt_table *tb = mnt_new_table();
	if (!tb)
		return -ENOMEM;
	int r = c->file ? mnt_table_parse_file(tb, c->file) : mnt_table_parse_mtab(tb, NULL);
	c->entries = mnt_table_get_nents(tb);
	mnt_unref_table(tb);
	*ret_bytes = c->text_bytes;
	return r < 0 ? r : 0;
}

/* ---- listmount + statmount (Linux 6.8+) --------------------------------
 * The engine's wrappers (cache/statmount.c): every id in one listmount,
 * then one statmount each with everything a mountinfo line shows. */
static int do_listmount(struct ctx *c, size_t *ret_bytes)
{
	static uint64_t *ids;
	static size_t ids_cap;
	static struct mc_sm_buf sm;
	size_t n = 0, total = 0;
	int r = mc_listmount_buf(&ids, &ids_cap, &n);

	if (r < 0)
		return r == -EOPNOTSUPP ? -ENOSYS : r;
	for (size_t i = 0; i < n; i++) {
		r = mc_statmount(&sm, ids[i], MC_SM_NEEDED);
		if (r == -ENOENT)               /* gone since listmount */
			continue;
		if (r < 0)
			return r;
		total += sm.sm->size;
	}
	c->entries = n;
	*ret_bytes = total;
	return 0;
}

/* ---- the engine's own costs ------------------------------------------- */

static int do_capture(struct ctx *c, size_t *ret_bytes)
{
	int r = mc_capture_fd(c->fd, &c->text, NULL);
	if (r < 0)
		return r;
	*ret_bytes = c->text.len;
	return 0;
}

static int do_parse(struct ctx *c, size_t *ret_bytes)
{
	struct mc_table t;
	struct mc_parse_error err;
	int r = mc_table_parse(c->text.data, c->text.len, c->fmt, &t, &err);
	if (r < 0)
		return r;
	c->entries = t.n;
	mc_table_free(&t);
	*ret_bytes = c->text.len;
	return 0;
}

static int do_view(struct ctx *c, size_t *ret_bytes)
{
	struct mc_snap *s;
	int r = mc_view_snapshot(c->view, &s);
	/* Stepped aside under churn (no quiet moment to capture in): the
	 * preload then lets the kernel answer, and so does this row, so that
	 * the churn rows say what a served read costs there. */
	if (r == -EBUSY)
		return do_raw(c, ret_bytes);
	if (r < 0)
		return r;
	*ret_bytes = s->len;
	mc_snap_unref(s);
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

/* The text of @path through raw syscalls (no preload sees them). */
static int slurp(const char *path, struct mc_buf *buf, int *ret_fd)
{
	int fd = mc_sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = mc_capture_fd(fd, buf, NULL);
	if (ret_fd && r >= 0)
		*ret_fd = fd;
	else
		mc_sys_close(fd);
	return r < 0 ? r : 0;
}

static long rss_kb(void)
{
	char buf[4096];
	int fd = mc_sys_openat(AT_FDCWD, "/proc/self/status", O_RDONLY, 0);
	if (fd < 0)
		return -1;
	ssize_t n = mc_sys_read(fd, buf, sizeof buf - 1);
	mc_sys_close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* Bytes in use on the heap, mmap'ed chunks included (big arrays). */
static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* snapsize: what one snapshot costs in memory. Heap growth measured with
 * mallinfo2 around the parse and the index, beside the text itself. */
static int snapsize(struct ctx *c)
{
	const char *paths[] = { "/proc/self/mountinfo", "/proc/self/mounts" };

	for (int i = 0; i < 2; i++) {
		const char *path = c->file && i == 0 ? c->file : paths[i];
		struct mc_buf text = { 0 };
		struct mc_table t;
		struct mc_parse_error err;

		if (slurp(path, &text, NULL) < 0)
			return 1;
		size_t h0 = heap_used();
		if (mc_table_parse(text.data, text.len, format_of(path), &t, &err) < 0)
			return 1;
		size_t h1 = heap_used();
		if (mc_table_index(&t) < 0)
			return 1;
		size_t h2 = heap_used();
		printf("mode=snapsize file=%s entries=%zu text_bytes=%zu table_bytes=%zu "
		       "index_bytes=%zu entry_struct=%zu\n", path, t.n, text.len, h1 - h0,
		       h2 - h1, sizeof(struct mc_mount));
		mc_table_free(&t);
		mc_buf_free(&text);
		if (c->file)
			break;
	}
	return 0;
}

struct mode {
	const char *name;
	int (*run)(struct ctx *c, size_t *ret_bytes);
	const char *text_of;    /* the file whose size is "bytes", if not read */
};

static const struct mode modes[] = {
	{ "raw", do_raw, NULL },
	{ "raw4k", do_raw4k, NULL },
	{ "first", do_raw, NULL },
	{ "first4k", do_first4k, NULL },
	{ "other", do_other, NULL },
	{ "getline", do_getline, NULL },
	{ "getmntent", do_getmntent, "/proc/self/mounts" },
	{ "libmount", do_libmount, "/proc/self/mountinfo" },
	{ "listmount", do_listmount, NULL },
	{ "capture", do_capture, NULL },
	{ "parse", do_parse, NULL },
	{ "view", do_view, NULL },
	{ "snapsize", NULL, NULL },
	{ "syscall", do_syscall, NULL },
	{ "pagefault", do_pagefault, NULL },
};

static int setup(const struct mode *m, struct ctx *c)
{
	const char *path = file_or(c, "/proc/self/mountinfo");
	int r = 0;

	c->fmt = format_of(path);
	if (m->text_of) {
		struct mc_buf b = { 0 };
		r = slurp(file_or(c, m->text_of), &b, NULL);
		c->text_bytes = b.len;
		mc_buf_free(&b);
	} else if (m->run == do_capture) {
		r = slurp(path, &c->text, &c->fd);
	} else if (m->run == do_parse) {
		r = slurp(path, &c->text, NULL);
	} else if (m->run == do_view) {
		struct mc_view_key key;
		mc_config_init();
		r = mc_view_key_self(&key);
		if (r == 0 && !(c->view = mc_view_get(c->fmt, &key)))
			r = -ENOMEM;
	}
	if (r < 0)
		fprintf(stderr, "bench_read %s: set-up: %s\n", m->name, strerror(-r));
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void __attribute__((noreturn)) usage(void)
{
	fputs("usage: bench_read MODE [--iters K] [--warmup W] [--min-ms T] [--file PATH]\n"
	      "modes: raw raw4k first first4k other getline getmntent libmount listmount capture parse view snapsize syscall pagefault\n",
	      stderr);
	exit(2);
}

static long number(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const struct mode *m = NULL;
	struct ctx c = { .fd = -1 };
	long iters = -1, warmup = -1, min_ms = 0;

	if (argc < 2)
		usage();
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			m = &modes[i];
	if (!m)
		usage();
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--iters") == 0)
			iters = number(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0)
			warmup = number(argv[++i]);
		else if (strcmp(argv[i], "--min-ms") == 0)
			min_ms = number(argv[++i]);
		else if (strcmp(argv[i], "--file") == 0)
			c.file = argv[++i];
		else
			usage();
	}
	if (!m->run)
		return snapsize(&c);
	/* first, first4k: the one read of a process that reads once; nothing
	 * before. */
	bool once = strncmp(m->name, "first", 5) == 0;
	if (iters < 0)
		iters = once ? 1 : 100;
	if (warmup < 0)
		warmup = once ? 0 : 2;
	if (iters < 1)
		usage();
	if (setup(m, &c) < 0)
		return 1;

	size_t cap = iters, bytes = 0;
	long done = 0;
	double *t = malloc(cap * sizeof *t), sum = 0, start = 0;
	if (!t)
		return 1;
	for (long i = 0; i < warmup + iters || now_us() - start < min_ms * 1e3; i++) {
		if (i == warmup)
			start = now_us();
		if (i - warmup >= (long)cap && !(t = realloc(t, (cap *= 2) * sizeof *t)))
			return 1;
		double t0 = now_us();
		int r = m->run(&c, &bytes);
		double t1 = now_us();
		if (r == -ENOSYS && m->run == do_listmount) {
			printf("mode=%s skipped: listmount/statmount not available (ENOSYS)\n", m->name);
			return EXIT_SKIP;
		}
		if (r < 0) {
			fprintf(stderr, "bench_read %s: %s\n", m->name, strerror(-r));
			return 1;
		}
		if (i >= warmup) {
			t[i - warmup] = t1 - t0;
			sum += t1 - t0;
			done++;
		}
	}
	iters = done;
	qsort(t, iters, sizeof *t, cmp_double);
	double median = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2;
	printf("mode=%s iters=%ld median_us=%.2f min_us=%.2f max_us=%.2f bytes=%zu mean_us=%.2f "
	       "entries=%zu rss_kb=%ld\n", m->name, iters, median, t[0], t[iters - 1], bytes,
	       sum / iters, c.entries, rss_kb());
	free(t);
	return 0;
}
