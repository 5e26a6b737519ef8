/* bench_incr: what one mount change costs the daemon's refresh, at the
 * table size of the mkmounts namespace it runs in:
 *
 *   mkmounts -q -n 10000 -- build/bench_incr [--changes N]
 *
 * For each of N changes (a tmpfs mounted on $MC_FIXTURE_LATE, then
 * unmounted: 2N refreshes) it times, side by side, the CPU (this thread's)
 * of: (a) one validated kernel read of /proc/self/mountinfo, what the text
 * path does per change; (b) the incremental refresh (cache/mtrack.c:
 * fanotify, listmount, statmount of what changed) plus assembling the new
 * mountinfo text; (c) a full rebuild from statmount. Prints medians and
 * the ratio b/a; times are never asserted (they depend on the machine). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_us(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp);
	return v[n / 2] / 1e3;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "changes", required_argument, NULL, 'n' }, { 0 } };
	unsigned changes = 50;
	const char *late = getenv("MC_FIXTURE_LATE");
	struct mc_mtrack *mt;
	struct mc_buf text = { 0 }, kernel = { 0 };
	int o, fd;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (o == 'n')
			changes = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	if (!late || !changes) {
		fprintf(stderr, "bench_incr: run me inside mkmounts\n");
		return 2;
	}
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mc_mtrack_open(true, &mt) < 0 || mc_mtrack_fan_fd(mt) < 0 ||
	    mc_mtrack_update(mt, MC_MTRACK_FULL) < 0) {
		fprintf(stderr, "bench_incr: no statmount/fanotify mount events here\n");
		return 77;
	}
	size_t n = 2 * changes;
	uint64_t *rd = calloc(n, 8), *inc = calloc(n, 8), *full = calloc(n, 8);
	for (size_t i = 0; i < n; i++) {
		int r = (i % 2 == 0) ? mount("bench", late, "tmpfs", 0, "size=1m") : umount2(late, 0);
		if (r < 0) {
			perror("bench_incr: mount");
			return 1;
		}
		uint64_t t0 = cpu_ns();
		int p = mc_mtrack_pending(mt);
		r = mc_mtrack_update(mt, p > 0 ? ((unsigned)p & MC_MTRACK_WOKE) : 0);
		if (r == 0)
			r = mc_mtrack_text(mt, MC_MOUNTINFO, &text, NULL, NULL);
		uint64_t t1 = cpu_ns();
		if (r == 0)
			r = mc_capture_fd(fd, &kernel, NULL);
		uint64_t t2 = cpu_ns();
		if (r != 0 || text.len != kernel.len || memcmp(text.data, kernel.data, text.len)) {
			fprintf(stderr, "bench_incr: refresh %zu: %s\n", i, r ? strerror(-r) : "differs");
			return 1;
		}
		inc[i] = t1 - t0;
		rd[i] = t2 - t1;
		if (i < 10) {                   /* a full rebuild is slow: a few */
			t0 = cpu_ns();
			mc_mtrack_update(mt, MC_MTRACK_FULL);
			mc_mtrack_text(mt, MC_MOUNTINFO, &text, NULL, NULL);
			full[i] = cpu_ns() - t0;
		}
	}
	const struct mc_mtrack_stats *s = mc_mtrack_stats(mt);
	double a = median_us(rd, n), b = median_us(inc, n), c = median_us(full, n < 10 ? n : 10);
	printf("bench_incr: %s mounts, %zu refreshes (CPU, medians): kernel read %.0f us, "
	       "incremental %.0f us (%.1f%% of a read), full rebuild %.0f us; "
	       "%lu incremental, %lu rebuilds\n", getenv("MC_FIXTURE_MOUNTS"), n, a, b, 100 * b / a, c,
	       s->incremental, s->full);
	return 0;
}
