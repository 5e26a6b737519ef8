/* common.c: what the CLI's commands share: messages, finding the preload,
 * the daemon's counters. Used by cli.c and enable.c, and using neither. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountcache.h"
#include "cli.h"

/* Where `make install` puts the preload (PRELOADDIR in the top Makefile). */
#ifndef MC_PRELOAD_INSTALLED
#define MC_PRELOAD_INSTALLED "/usr/local/lib/mountcache/libmountcache-preload.so"
#endif

void warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("mountcache: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const char *fmt, const char *arg)
{
	fputs("mountcache: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'mountcache --help' for more information.\n", stderr);
	return EXIT_FAILURE;
}

/* The preload beside this binary (the build tree: build/mountcache and
 * build/libmountcache-preload.so), else the installed one, found from this binary
 * first (PREFIX/bin/../lib/mountcache) so that a moved tree still works. */
char *find_preload(void)
{
	static const char *const rel[] = { "libmountcache-preload.so", "../lib/mountcache/libmountcache-preload.so" };
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			slash[1] = '\0';
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			snprintf(path, sizeof path, "%s%s", exe, rel[i]);
			if (access(path, R_OK) == 0)
				return realpath(path, NULL);
		}
	}
	if (access(MC_PRELOAD_INSTALLED, R_OK) == 0)
		return strdup(MC_PRELOAD_INSTALLED);
	return NULL;
}

int print_daemon_stats(FILE *f)
{
	char buf[4096];
	int r = mountcache_daemon_stats(buf, sizeof buf);
	if (r < 0)
		return r;
	if (f)
		fputs(buf, f);
	return 0;
}
