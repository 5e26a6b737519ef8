/* enable.c: `mountcache enable | disable | status`: turn the preload on for
 * the whole host (a line in /etc/ld.so.preload) or for chosen systemd
 * services (a drop-in that sets LD_PRELOAD), and off again.
 *
 * The invariant: a library that cannot load is never written anywhere.
 * ld.so loads /etc/ld.so.preload into every process, setuid ones included;
 * a missing or foreign library there costs each of them an error line on
 * stderr, so enable proves the library first (an ELF of our own class,
 * byte order and machine, that dlopen(3) accepts in a child process) and
 * refuses, changing nothing, if it is not.
 *
 * Every file is replaced whole: written beside itself under a temporary
 * name, with the old file's mode and owner, synced, then renamed over it.
 * A crash leaves the old file or the new one, never half of one. Lines
 * that are not ours are kept as they are, in their order.
 *
 * Ours: in ld.so.preload, a path token (ld.so splits lines at blanks and
 * colons, and a '#' starts a comment) that ends in /LIB_NAME; a mark cannot
 * go in the file, ld.so would take it for a path. A drop-in is ours when it
 * is DROPIN_NAME and starts with DROPIN_MARK. disable removes exactly
 * those, keeping every other token, comment and line. --root DIR (or MOUNTCACHE_ROOT) edits DIR/etc instead of
 * /etc, for tests and for images. */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define LIB_NAME "libmountcache-preload.so"
#define PRELOAD_FILE "/etc/ld.so.preload"
#define UNIT_DIR "/etc/systemd/system"
#define DROPIN_NAME "mountcache-preload.conf"
#define DROPIN_MARK "# Written by `mountcache enable"
#define MAX_UNITS 64

struct opts {
	const char *root;               /* "" for / */
	const char *library;            /* NULL: find_preload() */
	const char *units[MAX_UNITS];
	int nunits;
};

/* ---- files ---------------------------------------------------------------- */

static char *path_join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", a, b, c);
	return p;
}

/* The whole file in a malloc'd, NUL-terminated buffer. Returns: -ENOENT if
 * it does not exist, other -errno, 0 with *ret_buf set. */
static int read_all(const char *path, char **ret_buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	for (;;) {
		ssize_t n;
		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (cap - len < 2) {
			char *b = realloc(buf, cap *= 2);
			if (!b)
				free(buf);
			buf = b;
		}
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	return 0;
}

/* Under --root, whether path (root + rest) stays inside root: no
 * component after root may be a symbolic link, since one naming an
 * absolute path would lead to the host's file (an image whose
 * etc/ld.so.preload links to /etc/ld.so.preload). Refusing is simpler and
 * safer than resolving links as a chroot would. Costs one lstat(2) per
 * component. Returns: 0 inside (or no root, or a component missing);
 * -ELOOP a component is a link. */
static int inside_root(const char *root, const char *path)
{
	char buf[PATH_MAX];
	size_t skip = strlen(root);
	struct stat st;

	if (skip == 0)
		return 0;
	if (strlen(path) >= sizeof buf)
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + skip + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (lstat(buf, &st) < 0)
			return 0;       /* nothing further exists to follow */
		if (S_ISLNK(st.st_mode))
			return -ELOOP;
		*p = c;
		if (!c)
			return 0;
	}
}

/* inside_root(), said on stderr for cmd. Returns 0, or -1 refused. */
static int refuse_link(const char *cmd, const char *root, const char *path)
{
	int r = inside_root(root, path);

	if (r == -ELOOP)
		warnx("%s: %s: a symbolic link under --root %s could lead outside it; "
		      "refused, nothing changed", cmd, path, root);
	else if (r < 0)
		warnx("%s: %s: %s", cmd, path, strerror(-r));
	return r < 0 ? -1 : 0;
}

/* Replace path with data, atomically. A symlink is followed (its target is
 * replaced, the link stays); a new file gets mode 0644, root's. Returns:
 * <0 -errno, nothing changed; 0 done. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char real[PATH_MAX], *tmp, *slash;
	struct stat st = { .st_mode = 0644, .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
	int fd, r = 0;

	if (realpath(path, real) == NULL) {
		if (errno != ENOENT || strlen(path) >= sizeof real)
			return -errno;
		strcpy(real, path);
	} else if (stat(real, &st) < 0) {
		return -errno;
	}
	slash = strrchr(real, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	tmp = path_join(real, "/.mountcache.", "XXXXXX");
	*slash = '/';
	if (!tmp)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	if (fchmod(fd, st.st_mode & 07777) < 0 ||
	    (st.st_uid != (uid_t)-1 && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM))
		r = -errno;
	for (size_t off = 0; r == 0 && off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, real) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ---- the library ------------------------------------------------------------ */

static int read_ehdr(const char *path, Elf64_Ehdr *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	memset(ret, 0, sizeof *ret);
	n = read(fd, ret, sizeof *ret);
	close(fd);
	if (n < 0)
		return -errno;
	/* e_ident and e_type/e_machine sit at the same offsets in both classes */
	if (n < 20 || memcmp(ret->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	return 0;
}

static const char *elf_class_name(unsigned char c)
{
	return c == ELFCLASS32 ? "32-bit" : c == ELFCLASS64 ? "64-bit" : "unknown class";
}

/* Load lib in a child, as ld.so would load it into every process, and say
 * why not. The child runs the library's constructors, so it ends with
 * _exit() and touches nothing of ours. Returns: 0 loads; -1 with why. */
static int try_dlopen(const char *lib, char *why, size_t size)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, size, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(why, size, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* A truncated library faults inside dlopen (SIGBUS past its
		 * end): the fault is the answer, so the child dies of it as any
		 * process would, without a core file or a sanitizer's report. */
		struct rlimit no_core = { 0, 0 };
		void *h;
		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		close(p[0]);
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			ssize_t w = write(p[1], e ? e : "dlopen failed", e ? strlen(e) : 13);
			_exit(w < 0 ? 2 : 1);
		}
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], why, size - 1);
	why[n > 0 ? n : 0] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!*why && WIFSIGNALED(status))
		snprintf(why, size, "loading it killed a test process (%s)", strsignal(WTERMSIG(status)));
	else if (!*why)
		snprintf(why, size, "loading it in a test process failed (status %d)", status);
	return -1;
}

/* Whether lib may go where ld.so reads it. Returns: 0 yes; -1, with the
 * reason written to stderr. */
static int check_library(const char *cmd, const char *lib)
{
	Elf64_Ehdr mine, its;
	char why[512];
	struct stat st;
	int r;

	if (lib[0] != '/') {
		warnx("%s: %s: the library must be named by an absolute path", cmd, lib);
		return -1;
	}
	if (strpbrk(lib, " \t\n:")) {
		/* ld.so splits LD_PRELOAD and ld.so.preload at these */
		warnx("%s: %s: a path with a space or colon cannot be preloaded", cmd, lib);
		return -1;
	}
	if (stat(lib, &st) < 0) {
		warnx("%s: %s: library missing: %s", cmd, lib, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		warnx("%s: %s: not a regular file", cmd, lib);
		return -1;
	}
	r = read_ehdr(lib, &its);
	if (r < 0) {
		warnx("%s: %s: not loadable: %s", cmd, lib,
		      r == -ENOEXEC ? "not an ELF file" : strerror(-r));
		return -1;
	}
	if (read_ehdr("/proc/self/exe", &mine) < 0) {
		warnx("%s: cannot read this program's own ELF header", cmd);
		return -1;
	}
	if (its.e_ident[EI_CLASS] != mine.e_ident[EI_CLASS] ||
	    its.e_ident[EI_DATA] != mine.e_ident[EI_DATA] || its.e_machine != mine.e_machine) {
		warnx("%s: %s: wrong architecture: %s machine %u, this host runs %s machine %u",
		      cmd, lib, elf_class_name(its.e_ident[EI_CLASS]), its.e_machine,
		      elf_class_name(mine.e_ident[EI_CLASS]), mine.e_machine);
		return -1;
	}
	if (its.e_type != ET_DYN) {
		warnx("%s: %s: not loadable: not a shared library", cmd, lib);
		return -1;
	}
	if (try_dlopen(lib, why, sizeof why) < 0) {
		warnx("%s: %s: not loadable: %s", cmd, lib, why);
		return -1;
	}
	return 0;
}

/* ---- /etc/ld.so.preload -------------------------------------------------------- */

/* ld.so reads ld.so.preload as paths separated by blanks or colons, a '#'
 * starting a comment to the end of the line (glibc elf/rtld.c; checked:
 * "LIB # x" loads LIB). A path token is ours when it ends in /LIB_NAME. */
#define PRELOAD_SEPS " \t\r:"

static bool token_is_ours(const char *t, size_t n)
{
	size_t l = strlen("/" LIB_NAME);
	return n >= l && memcmp(t + n - l, "/" LIB_NAME, l) == 0;
}

/* The line [s, e) with our path tokens taken out, appended at *w; each
 * one (NUL-terminated) to seen(). Another token, the comment and a line
 * without ours stay as they were; a line left without a path goes.
 * Returns the count of our tokens. */
static int strip_line(const char *s, const char *e, char **w, void (*seen)(const char *))
{
	const char *hash = memchr(s, '#', (size_t)(e - s)), *end = hash ? hash : e;
	char *start = *w, tok[PATH_MAX];
	int n = 0, kept = 0;

	for (const char *t = s; t < end;) {
		size_t len;
		t += strspn(t, PRELOAD_SEPS);
		if (t >= end)
			break;
		len = strcspn(t, PRELOAD_SEPS "#\n");
		if (t + len > end)
			len = (size_t)(end - t);
		if (token_is_ours(t, len)) {
			n++;
			if (seen) {
				size_t c = len < sizeof tok - 1 ? len : sizeof tok - 1;
				memcpy(tok, t, c);
				tok[c] = '\0';
				seen(tok);
			}
		} else {
			if (kept++)
				*(*w)++ = ' ';
			memcpy(*w, t, len);
			*w += len;
		}
		t += len;
	}
	if (n == 0) {                   /* untouched, byte for byte */
		memcpy(start, s, (size_t)(e - s));
		*w = start + (e - s);
	} else if (kept == 0) {
		*w = start;             /* no path left: the line goes */
		return n;
	} else if (hash) {
		*(*w)++ = ' ';
		memcpy(*w, hash, (size_t)(e - hash));
		*w += e - hash;
	}
	*(*w)++ = '\n';
	return n;
}

/* text without our path tokens, into a malloc'd buffer; each token of ours
 * is passed to seen() (may be NULL). Returns the count of them, or -1. */
static int strip_ours(const char *text, char **ret_out, void (*seen)(const char *))
{
	char *out = malloc(strlen(text) + 2), *w = out;
	int n = 0;

	if (!out)
		return -1;
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');
		const char *next = e ? e + 1 : s + strlen(s);

		n += strip_line(s, e ? e : next, &w, seen);
		s = next;
	}
	*w = '\0';
	*ret_out = out;
	return n;
}

/* Whether a path token of text is lib. */
static bool preloads(const char *text, const char *lib)
{
	size_t l = strlen(lib);

	for (const char *s = text; *s;) {
		const char *e = s + strcspn(s, "\n"), *hash = memchr(s, '#', (size_t)(e - s));
		const char *end = hash ? hash : e;
		for (const char *t = s; t < end;) {
			size_t len;
			t += strspn(t, PRELOAD_SEPS);
			len = strcspn(t, PRELOAD_SEPS "#\n");
			if (t + len > end)
				len = (size_t)(end - t);
			if (len == l && memcmp(t, lib, l) == 0)
				return true;
			t += len ? len : 1;
		}
		s = *e ? e + 1 : e;
	}
	return false;
}

static int preload_enable(const struct opts *o, const char *lib)
{
	char *path = path_join(o->root, PRELOAD_FILE, ""), *text = NULL, *kept = NULL, *out = NULL;
	int r = path ? read_all(path, &text) : -ENOMEM, rc = EXIT_FAILURE;

	if (r == -ENOENT)
		text = strdup(""), r = text ? 0 : -ENOMEM;
	if (r < 0) {
		warnx("enable: %s: %s", path ? path : PRELOAD_FILE, strerror(-r));
		goto out;
	}
	if (refuse_link("enable", o->root, path) < 0)
		goto out;
	if (preloads(text, lib)) {      /* already there: nothing to do */
		printf("enable: %s already preloads %s\n", path, lib);
		rc = EXIT_SUCCESS;
		goto out;
	}
	/* Another of ours (an older path) goes: one preload, the proven one. */
	if (strip_ours(text, &kept, NULL) < 0 || !(out = path_join(kept, lib, "\n"))) {
		warnx("enable: %s", strerror(ENOMEM));
		goto out;
	}
	r = write_atomic(path, out, strlen(out));
	if (r < 0) {
		warnx("enable: %s: %s (nothing changed)", path, strerror(-r));
		goto out;
	}
	printf("enable: %s: every process started from now on preloads %s\n", path, lib);
	rc = EXIT_SUCCESS;
out:
	free(path);
	free(text);
	free(kept);
	free(out);
	return rc;
}

/* The root, for messages of the callbacks of strip_ours(). */
static const char *status_root = "";

static void print_removed(const char *line)
{
	printf("disable: removed %s from %s" PRELOAD_FILE "\n", line, status_root);
}

/* Returns: <0 failed (said why); 0 nothing of ours; 1 removed. */
static int preload_disable(const struct opts *o)
{
	char *path = path_join(o->root, PRELOAD_FILE, ""), *text = NULL, *kept = NULL;
	int r = path ? read_all(path, &text) : -ENOMEM, n = 0;

	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r == 0 && refuse_link("disable", o->root, path) < 0) {
		r = -1;
		goto out;
	}
	if (r < 0 || (n = strip_ours(text, &kept, print_removed)) < 0) {
		warnx("disable: %s: %s", path ? path : PRELOAD_FILE, strerror(r < 0 ? -r : ENOMEM));
		r = -1;
		goto out;
	}
	if (n == 0)
		goto out;
	/* Nothing else left: the file goes, as it was before enable made it.
	 * Not a symbolic link: enable never makes one, so the admin did, and
	 * it stays (its target is emptied, as write_atomic writes through). */
	struct stat st;
	if (kept[strspn(kept, " \t\r\n")] == '\0' &&
	    lstat(path, &st) == 0 && !S_ISLNK(st.st_mode))
		r = unlink(path) < 0 ? -errno : 0;
	else
		r = write_atomic(path, kept, strlen(kept));
	if (r < 0) {
		warnx("disable: %s: %s", path, strerror(-r));
		goto out;
	}
	r = 1;
out:
	free(path);
	free(text);
	free(kept);
	return r;
}

/* ---- systemd drop-ins ---------------------------------------------------------- */

/* NAME, or NAME.service when it has no unit type; NULL if not a unit name. */
static char *unit_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 240 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@") != n || name[0] == '.')
		return NULL;
	return path_join(name, strchr(name, '.') ? "" : ".service", "");
}

static char *dropin_dir(const struct opts *o, const char *unit)
{
	char *u = path_join(UNIT_DIR "/", unit, ".d");
	char *d = u ? path_join(o->root, u, "") : NULL;
	free(u);
	return d;
}

/* mkdir -p for the part of path after its first skip bytes (the root,
 * which must exist). Returns: <0 -errno; 0 the directory is there. */
static int mkdir_parents(const char *path, size_t skip)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof buf)
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + skip + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

static bool dropin_is_ours(const char *path)
{
	char *text;
	bool ours;

	if (read_all(path, &text) < 0)
		return false;
	ours = strncmp(text, DROPIN_MARK, strlen(DROPIN_MARK)) == 0;
	free(text);
	return ours;
}

static int dropin_enable(const struct opts *o, const char *unit, const char *lib)
{
	char *dir = dropin_dir(o, unit), *path = dir ? path_join(dir, "/", DROPIN_NAME) : NULL;
	char text[PATH_MAX + 512];
	int r;

	if (!path) {
		free(dir);
		warnx("enable: %s", strerror(ENOMEM));
		return EXIT_FAILURE;
	}
	if (refuse_link("enable", o->root, path) < 0) {
		r = -ELOOP;
		goto out;
	}
	if (access(path, F_OK) == 0 && !dropin_is_ours(path)) {
		warnx("enable: %s exists and was not written by mountcache; not replaced", path);
		r = -EEXIST;
		goto out;
	}
	/* Drop-ins are read after the unit file, and the last Environment=
	 * of a variable wins: this replaces an LD_PRELOAD the unit sets with
	 * Environment= (one from an EnvironmentFile= wins over it). */
	snprintf(text, sizeof text,
		 DROPIN_MARK " --unit %s`; `mountcache disable` removes it.\n"
		 "[Service]\n"
		 "Environment=LD_PRELOAD=%s\n", unit, lib);
	r = mkdir_parents(dir, strlen(o->root));
	if (r < 0) {
		warnx("enable: %s: %s", dir, strerror(-r));
		goto out;
	}
	r = write_atomic(path, text, strlen(text));
	if (r < 0)
		warnx("enable: %s: %s", path, strerror(-r));
	else
		printf("enable: %s written; `systemctl daemon-reload` and restart %s to apply\n",
		       path, unit);
out:
	free(dir);
	free(path);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Returns: <0 failed; 0 none there; 1 removed. */
static int dropin_disable(const struct opts *o, const char *unit)
{
	char *dir = dropin_dir(o, unit), *path = dir ? path_join(dir, "/", DROPIN_NAME) : NULL;
	int r = 0;

	if (!path) {
		r = -ENOMEM;
	} else if (refuse_link("disable", o->root, path) < 0) {
		r = -ELOOP;
	} else if (access(path, F_OK) == 0) {
		if (!dropin_is_ours(path)) {
			warnx("disable: %s was not written by mountcache; left alone", path);
		} else if (unlink(path) < 0) {
			r = -errno;
			warnx("disable: %s: %s", path, strerror(errno));
		} else {
			rmdir(dir);     /* only if we left it empty */
			printf("disable: removed %s\n", path);
			r = 1;
		}
	}
	free(dir);
	free(path);
	return r;
}

/* Each unit with a drop-in of ours, to fn. Returns the count, or -errno. */
static int for_each_dropin(const struct opts *o, int (*fn)(const struct opts *, const char *))
{
	char *base = path_join(o->root, UNIT_DIR, "");
	DIR *d = base ? opendir(base) : NULL;
	struct dirent *de;
	int n = 0, r;

	if (!d) {
		r = base && errno == ENOENT ? 0 : -errno;
		free(base);
		return r;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char unit[256], *path;

		if (len < 3 || len >= sizeof unit || strcmp(de->d_name + len - 2, ".d") != 0)
			continue;
		memcpy(unit, de->d_name, len - 2);
		unit[len - 2] = '\0';
		path = dropin_dir(o, unit);
		char *file = path ? path_join(path, "/", DROPIN_NAME) : NULL;
		if (file && dropin_is_ours(file)) {
			r = fn(o, unit);
			if (r < 0)
				n = r;
			else if (n >= 0)
				n++;
		}
		free(path);
		free(file);
	}
	closedir(d);
	free(base);
	return n;
}

/* ---- the commands --------------------------------------------------------------- */

static int parse_opts(const char *cmd, int argc, char **argv, bool units, bool library,
		      struct opts *ret)
{
	static const struct option lopts[] = {
		{ "unit", required_argument, NULL, 'u' },
		{ "library", required_argument, NULL, 'l' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct opts o = { .root = getenv("MOUNTCACHE_ROOT") };
	int c;

	while ((c = getopt_long(argc, argv, "+u:l:r:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (!units)
				return usage_error("%s: --unit: not an option of this command", cmd);
			if (o.nunits == MAX_UNITS)
				return usage_error("%s: too many --unit", cmd);
			o.units[o.nunits++] = optarg;
			break;
		case 'l':
			if (!library)
				return usage_error("%s: --library: not an option of this command", cmd);
			o.library = optarg;
			break;
		case 'r': o.root = optarg; break;
		case 'h': return usage_error("%s", "see mountcache --help");
		default: return usage_error("%s: bad option", cmd);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o.root || strcmp(o.root, "/") == 0)
		o.root = "";
	status_root = o.root;
	*ret = o;
	return -1;
}

int cmd_enable(int argc, char **argv)
{
	struct opts o;
	char *lib, *units[MAX_UNITS];
	int rc = parse_opts("enable", argc, argv, true, true, &o);

	if (rc >= 0)
		return rc;
	for (int i = 0; i < o.nunits; i++)
		if (!(units[i] = unit_name(o.units[i]))) {
			for (int j = 0; j < i; j++)
				free(units[j]);
			warnx("enable: --unit %s: not a systemd unit name", o.units[i]);
			return EXIT_FAILURE;
		}
	/* A relative --library is named by its real path: ld.so needs one
	 * that does not depend on the current directory. */
	lib = o.library ? realpath(o.library, NULL) : find_preload();
	if (!lib && o.library)
		lib = strdup(o.library);        /* check_library says why not */
	if (!lib) {
		warnx("enable: library missing: cannot find %s (installed or beside this program)",
		      LIB_NAME);
		rc = EXIT_FAILURE;
	} else if (check_library("enable", lib) < 0) {
		rc = EXIT_FAILURE;
	} else if (o.nunits == 0) {
		rc = preload_enable(&o, lib);
	} else {
		rc = EXIT_SUCCESS;
		for (int i = 0; i < o.nunits && rc == EXIT_SUCCESS; i++)
			rc = dropin_enable(&o, units[i], lib);
	}
	for (int i = 0; i < o.nunits; i++)
		free(units[i]);
	free(lib);
	return rc;
}

int cmd_disable(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts("disable", argc, argv, true, false, &o), r, done = 0;

	if (rc >= 0)
		return rc;
	rc = EXIT_SUCCESS;
	if (o.nunits) {
		for (int i = 0; i < o.nunits; i++) {
			char *u = unit_name(o.units[i]);
			r = u ? dropin_disable(&o, u) : -EINVAL;
			if (!u)
				warnx("disable: --unit %s: not a systemd unit name", o.units[i]);
			if (r < 0)
				rc = EXIT_FAILURE;
			else if (r == 0)
				printf("disable: %s: no preload drop-in\n", u);
			free(u);
		}
		return rc;
	}
	/* Everywhere: the host-wide line first, the one that reaches most. */
	r = preload_disable(&o);
	if (r < 0)
		rc = EXIT_FAILURE;
	done += r > 0;
	r = for_each_dropin(&o, dropin_disable);
	if (r < 0) {
		warnx("disable: " UNIT_DIR ": %s", strerror(-r));
		rc = EXIT_FAILURE;
	}
	done += r > 0;
	if (rc == EXIT_SUCCESS && !done)
		printf("disable: the preload was not enabled anywhere\n");
	return rc;
}

static void status_line(const char *line)
{
	char why[512];
	bool ok = access(line, F_OK) == 0 && try_dlopen(line, why, sizeof why) == 0;
	printf("host-wide: on, %s" PRELOAD_FILE " preloads %s%s\n", status_root, line,
	       ok ? "" : " (WARNING: it does not load; run `mountcache disable`)");
}

static int status_unit(const struct opts *o, const char *unit)
{
	(void)o;
	printf("unit: on for %s\n", unit);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts("status", argc, argv, false, false, &o), n = 0, r;
	char *path, *text = NULL, *kept = NULL, *lib;

	if (rc >= 0)
		return rc;
	lib = find_preload();
	printf("library: %s\n", lib ? lib : "not found");
	free(lib);
	path = path_join(o.root, PRELOAD_FILE, "");
	if (path && read_all(path, &text) == 0)
		n = strip_ours(text, &kept, status_line);
	if (n <= 0)
		printf("host-wide: off\n");
	free(path);
	free(text);
	free(kept);
	r = for_each_dropin(&o, status_unit);
	if (r == 0)
		printf("units: none\n");
	/* The same socket the preload asks (MOUNTCACHE_SOCKET, else the
	 * default), through the same client code. */
	const char *sock = getenv("MOUNTCACHE_SOCKET");
	sock = sock && *sock ? sock : "/run/mountcache/mountcached.sock";
	fflush(stdout);
	r = print_daemon_stats(NULL);
	if (r < 0) {
		printf("daemon: not answering on %s: %s\n", sock, strerror(-r));
	} else {
		printf("daemon: answers on %s\n", sock);
		print_daemon_stats(stdout);
	}
	return EXIT_SUCCESS;
}
