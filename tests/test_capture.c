/* test_capture.c: a validated capture is never torn, while the bare kernel
 * read under the same churn is (which shows the check can fail).
 *
 * And the check itself can fail: a bare kernel read across a change is torn.
 *
 * Run inside the fixture (build/mkmounts -n 5000 -- build/test_capture):
 * it starts build/churn, which cycles "mount late; umount late; early rw;
 * early ro" in bursts of 20 cycles (8 ms) with 30 ms pauses: bursty, as
 * real churn is, so that a capture can find a quiet window. No consistent state has late mounted while early is
 * read-write; a read that shows both mixed two states. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mc.h"

static const char *early, *late;
static pid_t churn_pid;

/* capture.c's pauses between tries, counted: this definition comes before
 * libc's for the engine linked into this program. */
static unsigned sleeps;
int nanosleep(const struct timespec *req, struct timespec *rem)
{
	sleeps++;
	int r = clock_nanosleep(CLOCK_REALTIME, 0, req, rem);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

/* 1 torn, 0 consistent, -1 unparsable or early missing. */
static int torn(const char *text, size_t len)
{
	struct mc_table t;
	struct mc_parse_error err;
	if (mc_table_parse(text, len, MC_MOUNTINFO, &t, &err) < 0)
		return -1;
	const struct mc_mount *e = mc_find_target(&t, early);
	const struct mc_mount *l = mc_find_target(&t, late);
	int r = -1;
	if (e)
		r = l && strncmp(mc_str(&t, e->vfs_opts), "rw", 2) == 0;
	mc_table_free(&t);
	return r;
}

static int setup(void **state)
{
	(void)state;
	early = getenv("MC_FIXTURE_EARLY");
	late = getenv("MC_FIXTURE_LATE");
	if (!early || !late) {
		fprintf(stderr, "test_capture: run me inside build/mkmounts\n");
		return -1;
	}
	const char *bin = getenv("MC_BUILD") ? getenv("MC_BUILD") : "build";
	char churn[4096];
	snprintf(churn, sizeof churn, "%s/churn", bin);
	churn_pid = fork();
	if (churn_pid == 0) {
		/* Each state is held 100 us: back to back, a state lasts ~3 us and
		 * almost no read can catch two (see tests/tools/churn.c). */
		execl(churn, churn, "--seconds", "120", "--hold-us", "100",
		      "--burst", "20", "--pause-us", "30000", (char *)NULL);
		_exit(127);
	}
	usleep(100000);
	return churn_pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (churn_pid > 0) {
		kill(churn_pid, SIGTERM);
		kill(churn_pid, SIGCONT);       /* a failed test may leave it stopped */
		waitpid(churn_pid, NULL, 0);
	}
	return 0;
}

/* Stop the churn and wait until it is stopped: kill() returns while a
 * mount call of its may still be under way (on a loaded machine, long
 * enough for its event to land after our next poll). A stopped process is
 * never inside one. */
static void stop_churn(void)
{
	int st;
	kill(churn_pid, SIGSTOP);
	waitpid(churn_pid, &st, WUNTRACED);
}

/* The bare kernel read tears, deterministically: read the first page (it
 * holds "early", read-write), then remount early read-only and mount late,
 * then read the rest (it holds late). The text shows "early rw" with "late
 * present": a state that never existed. This is what the check detects. */
static void test_kernel_read_tears(void **state)
{
	(void)state;
	struct mc_buf b = { 0 };
	stop_churn();
	assert_int_equal(mount(NULL, early, NULL, MS_REMOUNT | MS_BIND, NULL), 0);
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mc_buf_reserve(&b, 1 << 20), 0);
	ssize_t n = read(fd, b.data, 4096);            /* one page: early */
	assert_true(n > 0);
	b.len = (size_t)n;
	assert_int_equal(mount(NULL, early, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
	assert_int_equal(mount("late", late, "tmpfs", 0, NULL), 0);
	while ((n = read(fd, b.data + b.len, 65536)) > 0) {
		b.len += (size_t)n;
		assert_int_equal(mc_buf_reserve(&b, b.len + 65536), 0);
	}
	close(fd);
	int t = torn(b.data, b.len);
	assert_int_equal(umount(late), 0);
	kill(churn_pid, SIGCONT);
	print_message("kernel read across a change: %s\n", t == 1 ? "torn" : "not torn");
	mc_buf_free(&b);
	assert_int_equal(t, 1);
}

static void test_validated_capture_never_torn(void **state)
{
	(void)state;
	struct mc_buf b = { 0 };
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int validated = 0, unvalidated = 0, unvalidated_torn = 0;
	for (int i = 0; i < 150; i++) {
		sleeps = 0;
		int r = mc_capture_fd(fd, &b, NULL);
		assert_true(r == 0 || r == 1);
		/* a pause between two tries of the three, none after the last */
		if (r == 1)
			assert_int_equal(sleeps, 2);
		else
			assert_true(sleeps <= 2);
		int t = torn(b.data, b.len);
		assert_true(t >= 0);
		if (r == 0) {
			validated++;
			assert_int_equal(t, 0);
		} else {
			unvalidated++;
			unvalidated_torn += t;
		}
	}
	print_message("captures: %d validated (0 torn), %d unvalidated (%d torn)\n",
		      validated, unvalidated, unvalidated_torn);
	assert_true(validated > 0);
	close(fd);
	mc_buf_free(&b);
}

/* Captures with @opts under the churn until 5 tore (at most 200): none
 * may pause, each must return bytes, and at least one must tear. */
static void captures_never_pause(const struct mc_capture_opts *opts, const char *what)
{
	struct mc_buf b = { 0 };
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int unvalidated = 0, i;
	for (i = 0; i < 200 && unvalidated < 5; i++) {
		sleeps = 0;
		int r = mc_capture_fd(fd, &b, opts);
		assert_true(r == 0 || r == 1);
		assert_int_equal(sleeps, 0);
		assert_true(b.len > 0);
		unvalidated += r;
	}
	print_message("%s: %d captures, %d torn, none paused\n", what, i, unvalidated);
	assert_true(unvalidated > 0);
	close(fd);
	mc_buf_free(&b);
}

/* A capture that gives up returns as soon as its last try tore: it does
 * not pause for a try it will not make (with three tries at 50,000 mounts
 * that pause was a whole read's time). With one try, no pause at all. */
static void test_no_pause_after_last_try(void **state)
{
	(void)state;
	const struct mc_capture_opts one = { .max_tries = 1 };
	captures_never_pause(&one, "one try each");
}

/* A torn read longer than retry_max_us (default 20 ms: a read that does
 * not fit a quiet window) is not tried again: no pause, one read, its
 * bytes returned unvalidated. At 5,000 mounts a read takes a few ms, so a
 * bound of 1 us stands for a table whose read outlasts the quiet. */
static void test_long_read_not_retried(void **state)
{
	(void)state;
	const struct mc_capture_opts longer = { .retry_max_us = 1 };
	captures_never_pause(&longer, "reads longer than the bound, three tries allowed");
}

/* mc_changed: no event on a fresh fd, one after a change, consumed by the
 * poll that reports it. */
static void test_changed_reports_once(void **state)
{
	(void)state;
	stop_churn();
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mc_changed(fd), 0);
	kill(churn_pid, SIGCONT);
	usleep(50000);
	stop_churn();
	assert_int_equal(mc_changed(fd), 1);
	usleep(20000);
	assert_int_equal(mc_changed(fd), 0);
	kill(churn_pid, SIGCONT);
	close(fd);
	assert_true(mc_changed(fd) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changed_reports_once),
		cmocka_unit_test(test_validated_capture_never_torn),
		cmocka_unit_test(test_no_pause_after_last_try),
		cmocka_unit_test(test_long_read_not_retried),
		cmocka_unit_test(test_kernel_read_tears),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
