/* path.c: recognising the spellings of a mount table path.
 *
 * Lexical normalisation is only sound where no component before a ".." is a
 * symlink to somewhere else. In /proc the symlinks (self, thread-self) point
 * at siblings, so "x/.." is the same directory either way; outside /proc we
 * accept ".." only right after "etc" and "proc" themselves. Anything else
 * is left to the kernel: a false "no" costs speed, a false "yes" would serve
 * the wrong bytes. Callers still open the real file first and check it is on
 * procfs before serving. */
#include <limits.h>
#include <string.h>

#include "path.h"

#define MAX_COMPONENTS 16

/* Inline, with @n a constant: memcmp() of a few bytes compiles to loads. */
static inline __attribute__((always_inline)) bool tail_is(const char *path, size_t len, const char *name,
							   size_t n)
{
	return len >= n && memcmp(path + len - n, name, n) == 0 && (len == n || path[len - n - 1] == '/');
}
#define TAIL_IS(path, len, name) tail_is(path, len, name, sizeof(name) - 1)

/* Every open() of the process asks this first: the last byte tells the
 * three names apart from nearly every other path, with no call but
 * strlen(). */
MC_HOT bool mc_path_maybe(const char *path)
{
	size_t len = strlen(path);
	switch (len ? path[len - 1] : '\0') {
	case 'o':
		return TAIL_IS(path, len, "mountinfo");
	case 's':
		return TAIL_IS(path, len, "mounts");
	case 'b':
		return TAIL_IS(path, len, "mtab");
	default:
		return false;
	}
}

static bool parse_id(const char *s, size_t n, int *ret)
{
	long v = 0;
	if (n == 0 || n > 9 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = (int)v;
	return true;
}

struct comp {
	const char *s;
	size_t n;
};

static bool is(const struct comp *c, const char *name)
{
	return c->n == strlen(name) && memcmp(c->s, name, c->n) == 0;
}

/* Components a ".." may follow: those whose parent is the lexical one. */
static bool dotdot_safe(const struct comp *c, size_t depth)
{
	int id;
	if (depth == 1)
		return is(c, "proc") || is(c, "etc");
	/* inside /proc: self, thread-self, <pid>, task, <tid> */
	return is(c, "self") || is(c, "thread-self") || is(c, "task") || parse_id(c->s, c->n, &id);
}

static bool split(const char *path, struct comp *out, size_t *ret_n)
{
	size_t n = 0;
	bool in_proc = false;

	if (path[0] != '/' || strnlen(path, PATH_MAX) >= PATH_MAX)
		return false;
	for (const char *p = path; *p; ) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != '/')         /* not strchrnul(): a first-time */
			e++;                    /* lookup (~0.3-1.5 us) per process */
		struct comp c = { p, (size_t)(e - p) };
		p = e;
		if (is(&c, "."))
			continue;
		if (is(&c, "..")) {
			if (n == 0)
				continue;          /* "/.." is "/" */
			if (!dotdot_safe(&out[n - 1], n) || (n > 1 && !in_proc))
				return false;
			n--;
			if (n == 0)
				in_proc = false;
			continue;
		}
		if (n == MAX_COMPONENTS)
			return false;
		out[n++] = c;
		if (n == 1)
			in_proc = is(&c, "proc");
	}
	*ret_n = n;
	return true;
}

static bool file_format(const struct comp *c, enum mc_format *ret)
{
	if (is(c, "mountinfo"))
		*ret = MC_MOUNTINFO;
	else if (is(c, "mounts"))
		*ret = MC_MOUNTS;
	else
		return false;
	return true;
}

MC_HOT bool mc_path_classify(const char *path, struct mc_path *ret)
{
	struct comp c[MAX_COMPONENTS];
	struct mc_path r = { 0 };
	size_t n;

	/* A trailing slash ("mountinfo/") is the kernel's ENOTDIR: not ours. */
	size_t len = strlen(path);
	if (len && path[len - 1] == '/')
		return false;
	/* The spellings nearly every program uses, told at once: a few word
	 * compares against ~300 instructions of the split below, which in
	 * a process's first open run from cold cache lines (~0.5 us). */
	if ((len == 20 && memcmp(path, "/proc/self/mountinfo", 20) == 0) ||
	    (len == 17 && memcmp(path, "/proc/self/mounts", 17) == 0) ||
	    (len == 12 && memcmp(path, "/proc/mounts", 12) == 0)) {
		*ret = (struct mc_path){ .who = MC_WHO_SELF, .fmt = len == 20 ? MC_MOUNTINFO : MC_MOUNTS };
		return true;
	}
	if (!split(path, c, &n))
		return false;
	if (n == 2 && is(&c[0], "etc") && is(&c[1], "mtab")) {
		r.who = MC_WHO_MTAB;
		r.fmt = MC_MOUNTS;
		*ret = r;
		return true;
	}
	if (n < 2 || !is(&c[0], "proc") || !file_format(&c[n - 1], &r.fmt))
		return false;
	if (n == 2) {                               /* /proc/mounts */
		if (r.fmt != MC_MOUNTS)
			return false;
		r.who = MC_WHO_SELF;
	} else if (n == 3) {                        /* /proc/X/file */
		if (is(&c[1], "self"))
			r.who = MC_WHO_SELF;
		else if (is(&c[1], "thread-self"))
			r.who = MC_WHO_THREAD;
		else if (parse_id(c[1].s, c[1].n, &r.pid))
			r.who = MC_WHO_PID;
		else
			return false;
	} else if (n == 5 && is(&c[2], "task")) {   /* /proc/X/task/T/file */
		if (!is(&c[1], "self") && !parse_id(c[1].s, c[1].n, &r.pid))
			return false;
		if (!parse_id(c[3].s, c[3].n, &r.tid))
			return false;
		r.who = MC_WHO_TASK;
	} else {
		return false;
	}
	*ret = r;
	return true;
}
