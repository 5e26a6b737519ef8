/* mtreader: many threads reading the mount table at once, for the
 * ThreadSanitizer and fault-injection runs (tests/e2e/sanitize.sh,
 * tests/e2e/faults.sh).
 *
 *   mtreader [--threads N] [--seconds S] [--iterations I] [--no-fork]
 *
 * Each thread cycles through the ways programs read the table: open + read
 * in 1 KiB chunks + close; setmntent + getmntent_r + endmntent; fopen +
 * getline; open + dup + read through both + lseek + pread. Thread 0 also
 * forks a child now and then that reads once and exits. Every read must be
 * a well-formed table: it ends in a newline, and every mountinfo line has
 * its " - " separator (a served table is never torn or truncated).
 * Exit 0, or 1 with a message on the first malformed read. */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int seconds = 3, nthreads = 8;
static long iterations;                 /* 0: run for the time */
static bool do_fork = true;
static atomic_long reads;
static atomic_bool failed;

static void bad(const char *what, const char *detail)
{
	if (!atomic_exchange(&failed, true))
		fprintf(stderr, "mtreader: %s: %s\n", what, detail);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A whole mountinfo text: newline-terminated lines with " - ". */
static void check_mountinfo(const char *s, size_t n, const char *how)
{
	if (n == 0 || s[n - 1] != '\n') {
		bad(how, "empty or not newline-terminated");
		return;
	}
	for (const char *p = s, *end = s + n; p < end; ) {
		const char *nl = memchr(p, '\n', end - p);
		if (!memmem(p, nl - p, " - ", 3)) {
			bad(how, "line without separator");
			return;
		}
		p = nl + 1;
	}
}

static char *read_fd(int fd, size_t *ret_n)
{
	size_t n = 0, cap = 1 << 16;
	char *s = malloc(cap);
	for (;;) {
		if (cap - n < 1024)
			s = realloc(s, cap *= 2);
		ssize_t r = read(fd, s + n, 1024);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				bad("read", strerror(errno));
			break;
		}
		n += r;
	}
	*ret_n = n;
	return s;
}

static void by_read(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bad("open", strerror(errno));
		return;
	}
	size_t n;
	char *s = read_fd(fd, &n);
	check_mountinfo(s, n, "open+read");
	free(s);
	close(fd);
}

static void by_mntent(void)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent m;
	char buf[4096];
	unsigned count = 0;

	if (!f) {
		bad("setmntent", strerror(errno));
		return;
	}
	while (getmntent_r(f, &m, buf, sizeof buf)) {
		if (m.mnt_dir[0] != '/')
			bad("getmntent_r", m.mnt_dir);
		count++;
	}
	endmntent(f);
	if (count == 0)
		bad("getmntent_r", "no entry");
}

static void by_getline(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t l;

	if (!f) {
		bad("fopen", strerror(errno));
		return;
	}
	while ((l = getline(&line, &cap, f)) > 0) {
		if (line[l - 1] != '\n' || !strstr(line, " - "))
			bad("getline", line);
		n++;
	}
	free(line);
	fclose(f);
	if (n == 0)
		bad("getline", "no line");
}

static void by_dup(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bad("open", strerror(errno));
		return;
	}
	int fd2 = dup(fd);
	char a[512], b[512];
	ssize_t n = read(fd, a, sizeof a);
	ssize_t m = read(fd2, b, sizeof b);     /* the shared position moved */
	if (n <= 0 || m < 0)
		bad("dup read", "short");
	if (lseek(fd2, 0, SEEK_SET) != 0)
		bad("lseek", strerror(errno));
	ssize_t p = pread(fd, b, sizeof b, 0);
	if (p <= 0)             /* contents may differ: the table may change */
		bad("pread", "nothing at offset 0");
	close(fd2);
	close(fd);
}

static void forked_read(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		by_read();
		by_mntent();
		_exit(atomic_load(&failed) ? 1 : 0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bad("fork", "child failed");
}

static void *worker(void *arg)
{
	long id = (long)arg;
	double end = now() + seconds;
	for (long i = 0; !atomic_load(&failed); i++) {
		if (iterations ? i >= iterations : now() > end)
			break;
		switch ((i + id) % 4) {
		case 0: by_read(); break;
		case 1: by_mntent(); break;
		case 2: by_getline(); break;
		case 3: by_dup(); break;
		}
		if (id == 0 && do_fork && i % 16 == 15)
			forked_read();
		atomic_fetch_add(&reads, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iterations = atol(argv[++i]);
		else if (!strcmp(argv[i], "--no-fork"))
			do_fork = false;
		else {
			fprintf(stderr, "usage: mtreader [--threads N] [--seconds S] [--iterations I] [--no-fork]\n");
			return 2;
		}
	}
	/* the process's first open, so the threads' opens are all served */
	by_read();
	by_mntent();
	pthread_t t[256];
	if (nthreads < 1 || nthreads > 256)
		nthreads = 8;
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	printf("mtreader: %d threads, %ld reads, %s\n", nthreads, (long)atomic_load(&reads),
	       atomic_load(&failed) ? "FAILED" : "ok");
	return atomic_load(&failed) ? 1 : 0;
}
