/* tearcheck: is a mountinfo text a state the kernel could have been in?
 *
 *   tearcheck [--early P] [--late Q] [--mounts] [FILE|-]
 *   tearcheck [--early P] [--late Q] [--mounts] --kernel-reads R
 *
 * churn never lets "P read-write" and "Q mounted" hold at once, so a text
 * with a line for P whose first mount option is "rw" and a line for Q is
 * torn.  P and Q default to $MC_FIXTURE_EARLY and $MC_FIXTURE_LATE; they
 * have no characters the kernel escapes, so the raw 5th field is compared.
 *
 * First form: exit 0 consistent, 1 torn, 2 usage or parse error.
 * --kernel-reads: R times read /proc/self/mountinfo with plain 64 KiB
 * read() calls and check each; print "kernel reads: R, torn: T", exit 0.
 * --gap-us G: sleep G microseconds between two of those reads (so that
 * they span the bursts of a churn).
 * --mounts: the text is /proc/self/mounts (mount point and options are
 * its fields 2 and 4; "ro" there when the mount or its superblock is).
 * On stderr, "tearcheck: pass" before each read and "tearcheck: torn"
 * after a torn one, to be matched with a preload's debug lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool mounts_format;
static long gap_us;

struct text {
	char *buf;
	size_t len, size;
};

/* Read all of fd.  Returns 0 or -errno. */
static int read_all(int fd, struct text *t)
{
	t->len = 0;
	for (;;) {
		ssize_t n;

		if (t->size - t->len < 65536) {
			char *nb = realloc(t->buf, t->size * 2 + 65536);

			if (!nb)
				return -ENOMEM;
			t->buf = nb;
			t->size = t->size * 2 + 65536;
		}
		n = read(fd, t->buf + t->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		t->len += (size_t)n;
	}
}

/* Does field (of length n) equal the string s? */
static bool field_is(const char *field, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(field, s, n) == 0;
}

/* Check one line.  Fields are separated by single spaces (the kernel
 * escapes spaces inside them).  Returns 0, or -EINVAL if it is short. */
static int check_line(const char *line, size_t len, const char *p,
		      const char *q, bool *p_rw, bool *q_seen)
{
	const char *f[6], *end = line + len;
	const char *s = line;
	/* mountinfo: (1) id (2) parent (3) major:minor (4) root (5) mount
	 * point (6) mount options; mounts: (1) source (2) mount point (3)
	 * type (4) options; each ends at the next space */
	int mp = mounts_format ? 1 : 4, nf = mounts_format ? 4 : 6;

	for (int i = 0; i < nf; i++) {
		f[i] = s;
		s = memchr(s, ' ', (size_t)(end - s));
		if (!s)
			return -EINVAL;
		s++;
	}
	size_t mp_len = (size_t)(f[mp + 1] - 1 - f[mp]);
	const char *opts = f[nf - 1];
	size_t opts_len = (size_t)(s - 1 - opts);

	if (field_is(f[mp], mp_len, q))
		*q_seen = true;
	if (field_is(f[mp], mp_len, p) && opts_len >= 2 &&
	    memcmp(opts, "rw", 2) == 0 && (opts_len == 2 || opts[2] == ','))
		*p_rw = true;
	return 0;
}

/* Returns 1 torn, 0 consistent, -EINVAL on a malformed line. */
static int check(const struct text *t, const char *p, const char *q)
{
	const char *s = t->buf, *end = t->buf + t->len;
	bool p_rw = false, q_seen = false;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);

		if (check_line(s, len, p, q, &p_rw, &q_seen) < 0)
			return -EINVAL;
		s += len + 1;
	}
	return p_rw && q_seen;
}

static int check_input(const char *path, const char *p, const char *q)
{
	const char *name = path ? path : "-";
	struct text t = { 0 };
	int fd = 0, r = 0;

	if (path && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		r = -errno;
	if (r == 0)
		r = read_all(fd, &t);
	if (fd > 0)
		close(fd);
	if (r == 0 && (r = check(&t, p, q)) < 0)
		fprintf(stderr, "tearcheck: %s: malformed line\n", name);
	else if (r < 0)
		fprintf(stderr, "tearcheck: %s: %s\n", name, strerror(-r));
	free(t.buf);
	return r < 0 ? 2 : r;
}

static int kernel_reads(long reads, const char *p, const char *q)
{
	struct text t = { 0 };
	long torn = 0;

	for (long i = 0; i < reads; i++) {
		if (i && gap_us)
			usleep((useconds_t)gap_us);
		fputs("tearcheck: pass\n", stderr);
		int fd = open(mounts_format ? "/proc/self/mounts" : "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		int r = fd < 0 ? -errno : read_all(fd, &t);

		if (fd >= 0)
			close(fd);
		if (r == 0)
			r = check(&t, p, q);
		if (r < 0) {
			fprintf(stderr, "tearcheck: /proc/self/%s: %s\n",
				mounts_format ? "mounts" : "mountinfo", strerror(-r));
			return 2;
		}
		if (r)
			fputs("tearcheck: torn\n", stderr);
		torn += r;
	}
	printf("kernel reads: %ld, torn: %ld\n", reads, torn);
	free(t.buf);
	return 0;
}

static void __attribute__((noreturn)) usage(void)
{
	fputs("usage: tearcheck [--early P] [--late Q] [--mounts] [FILE|-]\n"
	      "       tearcheck [--early P] [--late Q] [--mounts] [--gap-us G] --kernel-reads R\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "early", required_argument, NULL, 'e' },
		{ "late", required_argument, NULL, 'l' },
		{ "kernel-reads", required_argument, NULL, 'k' },
		{ "mounts", no_argument, NULL, 'm' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ 0 }
	};
	const char *p = getenv("MC_FIXTURE_EARLY"), *q = getenv("MC_FIXTURE_LATE");
	long reads = -1;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': p = optarg; break;
		case 'l': q = optarg; break;
		case 'm': mounts_format = true; break;
		case 'g':
			errno = 0;
			gap_us = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || gap_us < 0 || gap_us > 1000000)
				usage();
			break;
		case 'k':
			errno = 0;
			reads = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || reads < 1)
				usage();
			break;
		default: usage();
		}
	}
	if (!p || !q || !*p || !*q || argc - optind > (reads < 0 ? 1 : 0))
		usage();
	if (reads > 0)
		return kernel_reads(reads, p, q);
	return check_input(optind < argc ? argv[optind] : NULL, p, q);
}
