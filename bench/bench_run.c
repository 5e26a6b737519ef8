/* bench_run: run one command under several environments, alternately, and
 * time each run: the A/B(/C) engine behind bench/ab, demo.sh and bench.sh.
 *
 *   bench_run [--runs K] [--warmup W] [--from-output | --metric KEY] [--quiet]
 *             [--jitter-ms J]
 *             --mode NAME [--env VAR=VALUE | --unset VAR]...
 *             [--mode NAME ...]... -- CMD [ARGS...]
 *
 * Rounds go A B C A B C ..., so that drift of the machine (frequency, other
 * load, a churn burst) spreads over every mode alike. W rounds first are run
 * and thrown away (page cache, dentries, the dynamic loader's files).
 *
 * --jitter-ms J sleeps a random time in [0, J) ms before each run (not
 * timed), so that runs do not keep one phase of a periodic load. Under the
 * bench's bursty churn they did: a kernel read holds mount operations back
 * (at 10,000 mounts ~8% of them waited a whole read), so each burst came
 * right after a bare run's read, and the daemon's run after it always found
 * the daemon re-reading: 4 of 20 first reads served by it, 13 of 20 with
 * 10-60 ms of random sleep between the runs.
 *
 * A sample is the wall time from fork() to the child's exit, or with
 * --from-output the child's own `median_us=` (bench_read's output): the cost
 * inside the process, without exec and loading; --metric mean_us takes
 * another of its `KEY=` values (in microseconds) instead.
 *
 * Prints one line per mode:
 *   mode=NAME runs=K median_ms=.. min_ms=.. max_ms=.. maxrss_kb=.. status=S samples=a,b,..
 * maxrss_kb is the largest peak RSS of a run (getrusage). status is the exit
 * status of the runs; `status=mixed` if it varied (a failure to look at).
 * CMD's stdout goes to /dev/null (or is parsed with --from-output); its
 * stderr is kept, unless --quiet.
 *
 * Exit: 0; 1 a run could not be started or was killed by a signal; 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MODES 8
#define MAX_ENV 16

struct mode {
	const char *name;
	const char *set[MAX_ENV];       /* VAR=VALUE */
	const char *unset[MAX_ENV];
	int nset, nunset;
	double *samples;
	long maxrss_kb;
	int status;                     /* -1 none yet, -2 mixed */
};

static void __attribute__((noreturn)) usage(void)
{
	fputs("usage: bench_run [--runs K] [--warmup W] [--from-output | --metric KEY] [--quiet]\n"
	      "                 [--jitter-ms J] --mode NAME [--env VAR=VALUE | --unset VAR]... [--mode ...]... -- CMD [ARGS...]\n",
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

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void __attribute__((noreturn)) child(const struct mode *m, int out_fd, bool quiet, char **cmd)
{
	for (int i = 0; i < m->nunset; i++)
		unsetenv(m->unset[i]);
	for (int i = 0; i < m->nset; i++)
		putenv((char *)m->set[i]);
	dup2(out_fd, STDOUT_FILENO);
	if (quiet)
		dup2(out_fd, STDERR_FILENO);
	execvp(cmd[0], cmd);
	fprintf(stderr, "bench_run: %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

static const char *metric;             /* NULL: wall time */

/* The value of " <metric>=" in @text (microseconds), in ms, or -1. */
static double parse_metric(const char *text)
{
	char key[64];
	snprintf(key, sizeof key, " %s=", metric);
	const char *p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) / 1e3 : -1;
}

/* One run of @cmd in mode @m. Returns the sample in ms, or -1. */
static double run_once(struct mode *m, bool from_output, bool quiet, char **cmd)
{
	static char out[65536];
	int pipefd[2] = { -1, -1 };
	int out_fd;

	if (from_output) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return -1;
		out_fd = pipefd[1];
	} else {
		out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out_fd < 0)
			return -1;
	}
	fflush(NULL);
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child(m, out_fd, quiet, cmd);
	close(out_fd);

	size_t len = 0;
	if (from_output) {
		ssize_t n;
		while ((n = read(pipefd[0], out + len, sizeof out - 1 - len)) > 0 ||
		       (n < 0 && errno == EINTR))
			if (n > 0)
				len += n;
		close(pipefd[0]);
	}
	out[len] = '\0';

	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
	double t1 = now_ms();
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "bench_run: mode %s: %s killed by signal %d\n", m->name, cmd[0],
			WTERMSIG(status));
		return -1;
	}
	int code = WEXITSTATUS(status);
	if (m->status == -1)
		m->status = code;
	else if (m->status != code)
		m->status = -2;
	if (ru.ru_maxrss > m->maxrss_kb)
		m->maxrss_kb = ru.ru_maxrss;
	if (!from_output)
		return t1 - t0;
	double v = parse_metric(out);
	if (v < 0)
		fprintf(stderr, "bench_run: mode %s: no %s= in the output of %s (exit %d)\n",
			m->name, metric, cmd[0], code);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const struct mode *m, long runs)
{
	double *s = malloc(runs * sizeof *s);
	if (!s)
		return;
	memcpy(s, m->samples, runs * sizeof *s);
	qsort(s, runs, sizeof *s, cmp_double);
	double median = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2;
	printf("mode=%s runs=%ld median_ms=%.4f min_ms=%.4f max_ms=%.4f maxrss_kb=%ld ",
	       m->name, runs, median, s[0], s[runs - 1], m->maxrss_kb);
	if (m->status == -2)
		printf("status=mixed samples=");
	else
		printf("status=%d samples=", m->status);
	for (long i = 0; i < runs; i++)
		printf("%s%.4f", i ? "," : "", m->samples[i]);
	putchar('\n');
	free(s);
}

/* Sleep a random time in [0, @ms) milliseconds (xorshift64*, seeded
 * once from the clock and the pid: no two runs of the bench alike). */
static void jitter(long ms)
{
	static uint64_t x;
	if (!x) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		x = ((uint64_t)t.tv_nsec << 20) ^ (uint64_t)t.tv_sec ^ ((uint64_t)getpid() << 40) ^ 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	uint64_t us = (x * 0x2545f4914f6cdd1dull >> 11) % ((uint64_t)ms * 1000);
	struct timespec d = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct mode modes[MAX_MODES];
	int nmodes = 0;
	long runs = 10, warmup = 1, jitter_ms = 0;
	bool quiet = false;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		bool has_arg = i + 1 < argc;
		struct mode *m = nmodes ? &modes[nmodes - 1] : NULL;

		if (strcmp(a, "--runs") == 0 && has_arg)
			runs = number(argv[++i]);
		else if (strcmp(a, "--warmup") == 0 && has_arg)
			warmup = number(argv[++i]);
		else if (strcmp(a, "--from-output") == 0)
			metric = "median_us";
		else if (strcmp(a, "--metric") == 0 && has_arg)
			metric = argv[++i];
		else if (strcmp(a, "--quiet") == 0)
			quiet = true;
		else if (strcmp(a, "--jitter-ms") == 0 && has_arg)
			jitter_ms = number(argv[++i]);
		else if (strcmp(a, "--mode") == 0 && has_arg && nmodes < MAX_MODES)
			modes[nmodes++] = (struct mode){ .name = argv[++i], .status = -1 };
		else if (strcmp(a, "--env") == 0 && has_arg && m && m->nset < MAX_ENV &&
			 strchr(argv[i + 1], '='))
			m->set[m->nset++] = argv[++i];
		else if (strcmp(a, "--unset") == 0 && has_arg && m && m->nunset < MAX_ENV)
			m->unset[m->nunset++] = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc || nmodes == 0 || runs < 1 || jitter_ms < 0)
		usage();
	char **cmd = &argv[i + 1];

	for (int k = 0; k < nmodes; k++)
		if (!(modes[k].samples = calloc(runs, sizeof(double))))
			return 1;
	bool from_output = metric != NULL;
	signal(SIGPIPE, SIG_IGN);
	for (long r = 0; r < warmup + runs; r++) {
		for (int k = 0; k < nmodes; k++) {
			if (jitter_ms)
				jitter(jitter_ms);
			double v = run_once(&modes[k], from_output, quiet, cmd);
			if (v < 0)
				return 1;
			if (r >= warmup)
				modes[k].samples[r - warmup] = v;
		}
	}
	for (int k = 0; k < nmodes; k++)
		report(&modes[k], runs);
	return 0;
}
