/* bench_watch: a process that watches the mount table the way systemd,
 * udisks2 and GLib's mount monitor do: it waits until poll() reports a
 * change on a mountinfo fd it keeps for that alone, then reads the whole
 * table again from a fresh open, and so on until SIGTERM or SIGINT.
 *
 *   bench_watch read|getmntent
 *
 * read       open + read(64 KiB) to EOF + close of /proc/self/mountinfo
 *            (what libmount's mnt_table_parse_mtab() reads per change)
 * getmntent  setmntent(/proc/self/mounts) + getmntent loop + endmntent
 *
 * It reads once at start, as watchers do. On the signal it prints
 *   passes=N entries=M
 * (whole-table passes made, entries or bytes seen in the last one) and
 * exits 0; 1 if the table cannot be opened; 2 usage. The binary is the same
 * with and without LD_PRELOAD: that is the A/B (bench/watchers.sh). */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long pass_read(void)
{
	static char buf[65536];
	long bytes = 0;
	ssize_t n;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		bytes += n;
	close(fd);
	return n < 0 ? -1 : bytes;
}

static long pass_getmntent(void)
{
	long entries = 0;
	FILE *f = setmntent("/proc/self/mounts", "re");

	if (!f)
		return -1;
	while (getmntent(f))
		entries++;
	endmntent(f);
	return entries;
}

int main(int argc, char **argv)
{
	long (*pass)(void);

	if (argc != 2)
		goto usage;
	if (strcmp(argv[1], "read") == 0)
		pass = pass_read;
	else if (strcmp(argv[1], "getmntent") == 0)
		pass = pass_getmntent;
	else
		goto usage;

	/* No SA_RESTART: the signal must end a blocking poll(). */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int pfd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (pfd < 0) {
		perror("bench_watch: /proc/self/mountinfo");
		return 1;
	}
	unsigned long passes = 0;
	long seen = pass();
	if (seen < 0) {
		perror("bench_watch: first pass");
		return 1;
	}
	passes++;
	while (!stop) {
		struct pollfd p = { .fd = pfd, .events = POLLPRI };
		int r = poll(&p, 1, -1);
		if (r < 0 && errno != EINTR) {
			perror("bench_watch: poll");
			return 1;
		}
		if (r <= 0 || stop || !(p.revents & (POLLPRI | POLLERR)))
			continue;
		long n = pass();
		if (n >= 0) {
			seen = n;
			passes++;
		}
	}
	printf("passes=%lu entries=%ld\n", passes, seen);
	return 0;
usage:
	fprintf(stderr, "usage: bench_watch read|getmntent\n");
	return 2;
}
