/* apibench: what the API's questions cost, against reading the whole table
 * the way programs do today, and against running mountpoint(1).
 *
 *   apibench [-t SECONDS] [-m MOUNTCACHE]      (inside build/mkmounts)
 *
 * Uses MC_FIXTURE_EARLY (a mount point), MC_FIXTURE_LATE (a plain
 * directory) and MC_FIXTURE_DIR/odd (a directory with 6 mounts below) of
 * build/mkmounts. Each line: the case, the backend, the mean time per
 * operation, the number of operations timed. "cold" is the first question
 * of a process (the snapshot must be read); "warm" repeats it in one process
 * (the snapshot is reused while the kernel reports no change). */
#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"
#include "apiP.h"

static double budget_s = 1.0;
static const char *early, *late, *fixdir, *mcbin = "build/mountcache";
static char odd[4096];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void);

/* Run @fn until the time budget is spent (at least 3 times) and print the
 * mean. A failing operation is reported and stops the case. */
static void bench(const char *name, const char *backend, op_fn fn)
{
	double t0 = now(), t;
	long n = 0;

	do {
		int r = fn();
		if (r < 0) {
			printf("%-44s %-9s error: %s\n", name, backend, strerror(-r));
			return;
		}
		n++;
		t = now() - t0;
	} while (t < budget_s || n < 3);
	if (t / n >= 1e-3)
		printf("%-44s %-9s %10.2f ms %8ld ops\n", name, backend, t / n * 1e3, n);
	else
		printf("%-44s %-9s %10.2f us %8ld ops\n", name, backend, t / n * 1e6, n);
	fflush(stdout);
}

/* ---- the table read whole, as programs do ------------------------------- */

static int read_parse_index(void)
{
	struct mc_buf buf = { 0 };
	struct mc_table t;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = mc_capture_fd(fd, &buf, NULL);
	close(fd);
	if (r >= 0)
		r = mc_table_parse(buf.data, buf.len, MC_MOUNTINFO, &t, NULL);
	if (r >= 0) {
		r = mc_table_index(&t);
		mc_table_free(&t);
	}
	mc_buf_free(&buf);
	return r;
}

static int read_only(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		;
	close(fd);
	return n < 0 ? -errno : 0;
}

static int libmount_table(void)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -EIO;
	mnt_unref_table(tb);
	return 0;
}

/* ---- the API -------------------------------------------------------------- */

static int expect(int r, int want)
{
	return r < 0 ? r : r == want ? 0 : -EPROTO;
}

static int mp_yes(void) { return expect(mountcache_is_mountpoint(early, 0), 1); }
static int mp_no(void) { return expect(mountcache_is_mountpoint(late, 0), 0); }
static int mp_nobind(void) { return expect(mountcache_is_mountpoint(early, MOUNTCACHE_NO_BIND), 1); }

static int under(const char *dir)
{
	struct mountcache_list *l;
	int r = mountcache_mounts_under(dir, &l);
	if (r == 0)
		mountcache_list_free(l);
	return r;
}
static int under_odd(void) { return under(odd); }
static int under_root(void) { return under("/"); }

static int info_path(void)
{
	struct mountcache_mount *m;
	int r = mountcache_info_path(early, &m);
	if (r == 0)
		mountcache_mount_free(m);
	return r;
}

static uint64_t early_id;
static int info_old_id(void)
{
	struct mountcache_mount *m;
	int r = mountcache_info_id(early_id, &m);
	if (r == 0)
		mountcache_mount_free(m);
	return r;
}

/* ---- whole processes -------------------------------------------------------- */

static int spawn(char *const argv[], int want)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == want ? 0 : -EPROTO;
}

static int proc_mountpoint_yes(void) { return spawn((char *[]){ "mountpoint", "-q", (char *)early, NULL }, 0); }
static int proc_mountpoint_no(void) { return spawn((char *[]){ "mountpoint", "-q", (char *)late, NULL }, 32); }
static int proc_mc_yes(void)
{
	return spawn((char *[]){ (char *)mcbin, "is-mountpoint", "-q", (char *)early, NULL }, 0);
}
static int proc_mc_no(void)
{
	return spawn((char *[]){ (char *)mcbin, "is-mountpoint", "-q", (char *)late, NULL }, 32);
}
static int proc_mc_nobind(void)
{
	return spawn((char *[]){ (char *)mcbin, "is-mountpoint", "--no-bind", "-q", (char *)early, NULL }, 0);
}
static int proc_mc_under(void)
{
	return spawn((char *[]){ (char *)mcbin, "list", "-n", "--under", odd, NULL }, 0);
}
static char early_id_str[32];
static int proc_mc_info_id(void)
{
	return spawn((char *[]){ (char *)mcbin, "info", early_id_str, NULL }, 0);
}
static int proc_mc_info_path(void)
{
	return spawn((char *[]){ (char *)mcbin, "info", (char *)early, NULL }, 0);
}
static int proc_true(void) { return spawn((char *[]){ "true", NULL }, 0); }

/* Every call captures anew: the cost of a process's first question. */
static void cold(bool on)
{
	mc_max_age_ns = on ? 0 : 1000000000u;
}

static void api_cases(const char *backend)
{
	mc_api_force_backend(strcmp(backend, "auto") == 0 ? NULL : backend);
	bench("is_mountpoint (yes)", backend, mp_yes);
	bench("is_mountpoint (no)", backend, mp_no);
	bench("is_mountpoint NO_BIND, warm", backend, mp_nobind);
	bench("mounts_under(odd: 6 mounts), warm", backend, under_odd);
	bench("mounts_under(/: all), warm", backend, under_root);
	bench("info_path, warm", backend, info_path);
	bench("info_id(mountinfo id), warm", backend, info_old_id);
	if (strcmp(backend, "statmount") != 0) {
		cold(true);
		bench("is_mountpoint NO_BIND, cold", backend, mp_nobind);
		bench("mounts_under(odd: 6 mounts), cold", backend, under_odd);
		bench("mounts_under(/: all), cold", backend, under_root);
		bench("info_id(mountinfo id), cold snapshot", backend, info_old_id);
		cold(false);
	}
}

int main(int argc, char **argv)
{
	struct mountcache_mount *m;
	int opt;

	while ((opt = getopt(argc, argv, "t:m:")) != -1) {
		if (opt == 't')
			budget_s = atof(optarg);
		else if (opt == 'm')
			mcbin = optarg;
		else {
			fputs("usage: apibench [-t SECONDS] [-m MOUNTCACHE]\n", stderr);
			return 2;
		}
	}
	early = getenv("MC_FIXTURE_EARLY");
	late = getenv("MC_FIXTURE_LATE");
	fixdir = getenv("MC_FIXTURE_DIR");
	if (!early || !late || !fixdir) {
		fputs("apibench: run me inside build/mkmounts\n", stderr);
		return 2;
	}
	snprintf(odd, sizeof odd, "%s/odd", fixdir);
	mc_config_init();
	if (mountcache_info_path(early, &m) < 0)
		return 1;
	early_id = m->id;
	snprintf(early_id_str, sizeof early_id_str, "%llu", (unsigned long long)early_id);
	mountcache_mount_free(m);

	printf("%s mounts\n", getenv("MC_FIXTURE_MOUNTS") ? getenv("MC_FIXTURE_MOUNTS") : "?");
	bench("read mountinfo", "-", read_only);
	bench("read + parse + index mountinfo (engine)", "-", read_parse_index);
	bench("parse mountinfo with libmount", "-", libmount_table);
	api_cases("auto");
	api_cases("snapshot");
	api_cases("statmount");
	bench("process: true (fork+exec floor)", "-", proc_true);
	bench("process: mountpoint -q (yes)", "-", proc_mountpoint_yes);
	bench("process: mountpoint -q (no)", "-", proc_mountpoint_no);
	bench("process: mountcache is-mountpoint (yes)", "-", proc_mc_yes);
	bench("process: mountcache is-mountpoint (no)", "-", proc_mc_no);
	bench("process: mountcache is-mountpoint --no-bind", "-", proc_mc_nobind);
	bench("process: mountcache list --under odd", "-", proc_mc_under);
	bench("process: mountcache info ID (mountinfo id)", "-", proc_mc_info_id);
	bench("process: mountcache info PATH", "-", proc_mc_info_path);
	return 0;
}
