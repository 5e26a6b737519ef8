/* churn: bursty mount churn for tear and freshness tests.  Run it inside
 * mkmounts' namespace; it changes mounts and must never touch the host.
 *
 *   churn [--early P] [--late Q] [--burst K] [--pause-us U] [--seconds S]
 *         [--count C] [--hold-us H] [--net]
 *
 * P and Q default to $MC_FIXTURE_EARLY and $MC_FIXTURE_LATE; K=50, U=2000,
 * S=5 (0: no time limit), C=0 (no cycle limit), H=0.  One cycle:
 *
 *   mount tmpfs on Q;  umount Q;  remount P rw;  remount P ro
 *
 * so no consistent table ever has "Q mounted and P rw": a reader that sees
 * both in one read of mountinfo read a torn table (see tearcheck).
 * K cycles run back to back, then churn sleeps U microseconds.
 *
 * H sleeps H microseconds after each step.  Back to back, "Q mounted" and
 * "P rw" each last only a few microseconds (until the next mount call takes
 * the namespace lock), so one read seeing both is very rare (0 torn of
 * 1,500 kernel reads at 5,000 mounts); sleeping between steps lets every
 * state live long enough to be seen (H=100: 6-9% of reads torn).
 * --net: every other burst ends by mounting one more tmpfs on Q, and the
 * next by unmounting it, as a container's start and stop leave the table
 * changed; without it every burst ends where it began (for the benches,
 * whose watchers would otherwise see the same table after every burst).
 * Not for tearcheck: Q stays mounted through every other burst, and its
 * rule ("Q mounted and P rw" is torn) would then flag whole tables.
 * Stops after S seconds, C cycles or SIGTERM/SIGINT, always between cycles,
 * leaving P read-only and Q unmounted; prints "churn: N cycles" to stderr.
 * Exit: 0 done; 1 a mount call failed; 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "churn: %s %s: %s\n", what, path, strerror(errno));
	return -1;
}

/* MS_REMOUNT|MS_BIND changes only the per-mount flags of P, not its
 * superblock, so it is cheap and shows as the first option in mountinfo. */
static int set_early(const char *p, int rdonly)
{
	unsigned long flags = MS_REMOUNT | MS_BIND | (rdonly ? MS_RDONLY : 0);

	if (mount(NULL, p, NULL, flags, NULL) < 0)
		return fail("remount", p);
	return 0;
}

/* Unmount everything stacked on Q, e.g. left by an earlier killed run. */
static int clear_late(const char *q)
{
	while (umount2(q, 0) == 0)
		;
	return errno == EINVAL ? 0 : fail("umount", q);
}

static void hold(long us)
{
	if (us > 0)
		usleep(us);
}

static int cycle(const char *p, const char *q, long hold_us)
{
	if (mount("churn", q, "tmpfs", 0, "size=64k") < 0)
		return fail("mount tmpfs on", q);
	hold(hold_us);
	if (umount2(q, 0) < 0)
		return fail("umount", q);
	hold(hold_us);
	if (set_early(p, 0) < 0)
		return -1;
	hold(hold_us);
	if (set_early(p, 1) < 0)
		return -1;
	hold(hold_us);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) usage(void)
{
	fputs("usage: churn [--early P] [--late Q] [--burst K] [--pause-us U] "
	      "[--seconds S] [--count C] [--hold-us H] [--net]\n", stderr);
	exit(2);
}

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "early", required_argument, NULL, 'e' },
		{ "late", required_argument, NULL, 'l' },
		{ "burst", required_argument, NULL, 'b' },
		{ "pause-us", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "hold-us", required_argument, NULL, 'h' },
		{ "net", no_argument, NULL, 'n' },
		{ 0 }
	};
	const char *p = getenv("MC_FIXTURE_EARLY"), *q = getenv("MC_FIXTURE_LATE");
	long burst = 50, pause_us = 2000, seconds = 5, count = 0, hold_us = 0;
	long cycles = 0;
	int net = 0, stacked = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	double end;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': p = optarg; break;
		case 'l': q = optarg; break;
		case 'b': burst = number(optarg); break;
		case 'p': pause_us = number(optarg); break;
		case 's': seconds = number(optarg); break;
		case 'c': count = number(optarg); break;
		case 'h': hold_us = number(optarg); break;
		case 'n': net = 1; break;
		default: usage();
		}
	}
	if (optind != argc || !p || !q || burst < 1)
		usage();

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (set_early(p, 1) < 0 || clear_late(q) < 0)
		return 1;

	end = now() + seconds;
	while (!stop && rc == 0) {
		for (long k = 0; k < burst && !stop; k++) {
			if (cycle(p, q, hold_us) < 0) {
				rc = 1;
				break;
			}
			if (++cycles == count || (seconds && now() >= end))
				stop = 1;
		}
		if (net && rc == 0) {
			if (!stacked && mount("churn-net", q, "tmpfs", 0, "size=64k") < 0)
				rc = 1, fail("mount tmpfs on", q);
			else if (stacked && umount2(q, 0) < 0)
				rc = 1, fail("umount", q);
			else
				stacked = !stacked;
		}
		if (!stop && rc == 0)
			usleep(pause_us);	/* EINTR on a signal: fine */
	}

	/* After a failure mid-cycle, put things back the way readers expect;
	 * --net's last mount, if any, goes too. */
	if ((rc || stacked) && (clear_late(q) < 0 || set_early(p, 1) < 0))
		rc = 1;
	fprintf(stderr, "churn: %ld cycles\n", cycles);
	return rc;
}
