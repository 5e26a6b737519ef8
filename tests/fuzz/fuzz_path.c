/* fuzz_path: the preload's path classifier (preload/path.c) on any string.
 *
 * Oracle: the kernel. Whenever mc_path_classify() says a path names a mount
 * table, the path must resolve (realpath(3), i.e. the kernel's own walk of
 * /proc's links) to that very table: /proc/<pid>/<file> or
 * /proc/<pid>/task/<tid>/<file> with the pid, tid and format the classifier
 * claims, or /etc/mtab for MC_WHO_MTAB; or not resolve at all (then the
 * program's own open fails and nothing is served). A path that resolves to
 * another file is a finding: the preload would serve a table for it.
 * mc_path_maybe() (the hooks' cheap pre-filter) must pass every such path
 * that resolves.
 *
 * The fuzzer is single-threaded, so "/proc/self", "/proc/thread-self" and
 * "/proc/<getpid()>" all name the same table; <pid> may be any process. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "fuzz.h"

/* Parse "/proc/P/F" or "/proc/P/task/T/F" (canonical, from realpath). */
static bool canonical_table(const char *p, long *pid, long *tid, const char **file)
{
	char *end;

	if (strncmp(p, "/proc/", 6) != 0)
		return false;
	*pid = strtol(p + 6, &end, 10);
	if (end == p + 6 || *end != '/')
		return false;
	*tid = -1;
	if (!strncmp(end, "/task/", 6)) {
		const char *t = end + 6;
		*tid = strtol(t, &end, 10);
		if (end == t || *end != '/')
			return false;
	}
	*file = end + 1;
	return !strchr(*file, '/');
}

static void check(const char *path)
{
	struct mc_path p;
	char real[PATH_MAX];

	bool maybe = mc_path_maybe(path);
	memset(&p, 0x5a, sizeof p);
	if (!mc_path_classify(path, &p))
		return;
	FUZZ_CHECK(p.who <= MC_WHO_MTAB && (p.fmt == MC_MOUNTINFO || p.fmt == MC_MOUNTS), "fields");
	if (!realpath(path, real)) {
		/* the program's open fails the same way: nothing served */
		return;
	}
	/* The hooks' pre-filter must let through every spelling that opens
	 * a table: else that open is never served. */
	FUZZ_CHECK(maybe, "[%s] is a table the pre-filter turns away", path);
	if (p.who == MC_WHO_MTAB) {
		/* track.c resolves the link itself (resolve_mtab) */
		return;
	}
	long pid, tid;
	const char *file;
	FUZZ_CHECK(canonical_table(real, &pid, &tid, &file),
		   "[%s] classified as a table but resolves to [%s]", path, real);
	const char *want_file = p.fmt == MC_MOUNTINFO ? "mountinfo" : "mounts";
	FUZZ_CHECK(!strcmp(file, want_file), "[%s] classified as %s but resolves to [%s]", path, want_file, real);
	long me = getpid();
	switch (p.who) {
	case MC_WHO_SELF:
	case MC_WHO_THREAD:
		FUZZ_CHECK(pid == me, "[%s] classified as ours but resolves to [%s]", path, real);
		break;
	case MC_WHO_PID:
		FUZZ_CHECK(pid == p.pid || (pid == me && tid == p.pid),
			   "[%s] classified as pid %d but resolves to [%s]", path, p.pid, real);
		break;
	case MC_WHO_TASK:
		FUZZ_CHECK((p.pid == 0 ? pid == me : pid == p.pid) && tid == p.tid,
			   "[%s] classified as task %d/%d but resolves to [%s]", path, p.pid, p.tid, real);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX + 64];
	size_t n = size < sizeof path - 1 ? size : sizeof path - 1;

	memcpy(path, data, n);
	path[n] = '\0';                 /* a C string ends at its first NUL */
	check(path);
	/* the same with a few real pids in place of a placeholder digit run */
	char *d = strchr(path, '#');
	if (d) {
		char alt[PATH_MAX + 96];
		snprintf(alt, sizeof alt, "%.*s%d%s", (int)(d - path), path, (int)getpid(), d + 1);
		check(alt);
		snprintf(alt, sizeof alt, "%.*s1%s", (int)(d - path), path, d + 1);
		check(alt);
	}
	return 0;
}
