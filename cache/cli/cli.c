/* cli.c: the mountcache command, the public API (mountcache.h) from the
 * shell. Output follows findmnt's habits: the columns of `findmnt --list`,
 * its escaping of unprintable characters, its JSON layout and key names.
 * Exit codes of is-mountpoint are mountpoint(1)'s. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "mountcache.h"
#include "cli.h"

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

#define EXIT_NOT_MOUNTPOINT 32   /* mountpoint(1) */

static const char usage_text[] =
	"Usage:\n"
	"  mountcache is-mountpoint [--no-bind] [-q] PATH\n"
	"  mountcache list [--under PATH] [--json] [-n]\n"
	"  mountcache info PATH|ID [--json]\n"
	"  mountcache run [--] COMMAND [ARG...]\n"
	"  mountcache stats\n"
	"  mountcache enable [--unit NAME]... [--library PATH] [--root DIR]\n"
	"  mountcache disable [--unit NAME]... [--root DIR]\n"
	"  mountcache status [--root DIR]\n"
	"\n"
	"Answer questions about the mount table of this mount namespace.\n"
	"\n"
	"Commands:\n"
	"  is-mountpoint   exit 0 if PATH is a mount point, 32 if not, 1 on error\n"
	"    --no-bind       do not count bind mounts\n"
	"    -q, --quiet     print nothing\n"
	"  list            the mounts at or below PATH (default /), in table order\n"
	"    --under PATH    absolute path; /a covers /a and /a/b, not /ab\n"
	"    -J, --json      JSON output, as findmnt --json --list\n"
	"    -n, --noheadings\n"
	"  info            every field of one mount: the mount that contains PATH\n"
	"                  (absolute), or the mount with ID (a mountinfo id, or a\n"
	"                  64-bit unique id)\n"
	"    -J, --json\n"
	"  run             run COMMAND with the mountcache preload library\n"
	"  stats           statistics from the mountcache daemon\n"
	"  enable          preload the library host-wide (/etc/ld.so.preload), or\n"
	"                  for each --unit NAME only (a systemd drop-in); refused\n"
	"                  if the library cannot load in this architecture\n"
	"    --library PATH  this preload, not the one that goes with the CLI\n"
	"    --root DIR      edit DIR/etc/..., not /etc (also MOUNTCACHE_ROOT)\n"
	"  disable         undo enable: for each --unit NAME, or everywhere\n"
	"  status          where the preload is on, and the daemon's counters\n"
	"\n"
	"  -h, --help      this text\n"
	"  -V, --version\n"
	"\n"
	"Environment: MOUNTCACHE_BACKEND=snapshot|statmount, MOUNTCACHE_DEBUG=1.\n"
	"See mountcache(1).\n";

/* Flush stdout and report a write error (a full disk, a closed pipe). */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx("write error: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	return rc;
}

/* ---- text cells ----------------------------------------------------------
 * As libsmartcols prints a cell: control characters, bytes that are not
 * printable in the locale, and the backslash of a literal "\x" become \xHH;
 * the width is the display width. */

struct cell {
	char *s;
	size_t width;
};

static char *xstrdup(const char *s)
{
	char *c = strdup(s);
	if (!c) {
		warnx("%s", strerror(ENOMEM));
		exit(EXIT_FAILURE);
	}
	return c;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		warnx("%s", strerror(ENOMEM));
		exit(EXIT_FAILURE);
	}
	return p;
}

static struct cell cell_encode(const char *s)
{
	char *out = xmalloc(strlen(s) * 4 + 1), *w = out;
	size_t width = 0;
	mbstate_t st;

	memset(&st, 0, sizeof st);
	while (*s) {
		wchar_t wc;
		size_t len;

		if ((*s == '\\' && s[1] == 'x') || iscntrl((unsigned char)*s)) {
			w += sprintf(w, "\\x%02x", (unsigned char)*s++);
			width += 4;
			continue;
		}
		len = mbrtowc(&wc, s, MB_CUR_MAX, &st);
		if (len == (size_t)-1 || len == (size_t)-2) {
			memset(&st, 0, sizeof st);
			w += sprintf(w, "\\x%02x", (unsigned char)*s++);
			width += 4;
		} else if (!iswprint(wc)) {
			for (size_t i = 0; i < len; i++)
				w += sprintf(w, "\\x%02x", (unsigned char)*s++);
			width += 4 * len;
		} else {
			int cw = wcwidth(wc);
			memcpy(w, s, len);
			w += len;
			s += len;
			width += cw > 0 ? (size_t)cw : 0;
		}
	}
	*w = '\0';
	return (struct cell){ out, width };
}

/* ---- findmnt's derived columns ------------------------------------------ */

/* SOURCE: "dev[/dir]" when the mount shows a subdirectory of its fs. */
static char *col_source(const struct mountcache_mount *m)
{
	char *s;

	if (!*m->source || strcmp(m->root, "/") == 0)
		return xstrdup(m->source);
	s = xmalloc(strlen(m->source) + strlen(m->root) + 3);
	sprintf(s, "%s[%s]", m->source, m->root);
	return s;
}

/* Drop the first option of a kernel option string ("rw" or "ro"). */
static const char *after_first(const char *opts, bool *ro)
{
	const char *comma = strchr(opts, ',');

	if (strncmp(opts, "ro", 2) == 0 && (opts[2] == ',' || opts[2] == '\0'))
		*ro = true;
	return comma ? comma + 1 : "";
}

/* OPTIONS: the per-mount and per-filesystem options in one string, as
 * libmount merges them: one "ro" or "rw" (ro if either says ro) first. */
static char *col_options(const struct mountcache_mount *m)
{
	bool ro = false;
	const char *v = after_first(m->vfs_options, &ro);
	const char *f = after_first(m->super_options, &ro);
	char *s = xmalloc(strlen(v) + strlen(f) + 5);

	sprintf(s, "%s%s%s%s%s", ro ? "ro" : "rw", *v ? "," : "", v, *f ? "," : "", f);
	return s;
}

/* PROPAGATION: "shared" or "private", then ",slave", ",unbindable". */
static const char *col_propagation(const struct mountcache_mount *m)
{
	static const char *names[8] = {
		"private", "shared", "private,slave", "shared,slave",
		"private,unbindable", "shared,unbindable",
		"private,slave,unbindable", "shared,slave,unbindable",
	};
	return names[m->propagation & 7];
}

/* ---- JSON, laid out as libsmartcols lays it out ------------------------- */

static void json_string(const char *s)
{
	if (!*s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			putchar('\\');
			putchar(c);
		} else if (c >= 0x20) {
			putchar(c);
		} else {
			switch (c) {
			case '\b': fputs("\\b", stdout); break;
			case '\t': fputs("\\t", stdout); break;
			case '\n': fputs("\\n", stdout); break;
			case '\f': fputs("\\f", stdout); break;
			case '\r': fputs("\\r", stdout); break;
			default: printf("\\u00%02x", c); break;
			}
		}
	}
	putchar('"');
}

struct json_obj {
	bool first;
};

static void json_key(struct json_obj *o, const char *key)
{
	printf("%s         \"%s\": ", o->first ? "" : ",\n", key);
	o->first = false;
}

static void json_str(struct json_obj *o, const char *key, const char *val)
{
	json_key(o, key);
	json_string(val);
}

static void json_num(struct json_obj *o, const char *key, uint64_t val)
{
	json_key(o, key);
	printf("%" PRIu64, val);
}

static void json_begin(void)
{
	fputs("{\n   \"filesystems\": [\n", stdout);
}

static void json_item(size_t i)
{
	fputs(i ? "\n      },{\n" : "      {\n", stdout);
}

static void json_end(size_t n)
{
	fputs(n ? "\n      }\n   ]\n}\n" : "   ]\n}\n", stdout);
}

/* ---- list ----------------------------------------------------------------- */

#define NCOLS 4
static const char *const list_header[NCOLS] = { "TARGET", "SOURCE", "FSTYPE", "OPTIONS" };

static void list_row(const struct mountcache_mount *m, char *cols[NCOLS])
{
	cols[0] = xstrdup(m->target);
	cols[1] = col_source(m);
	cols[2] = xstrdup(m->fstype);
	cols[3] = col_options(m);
}

static void print_table(const struct mountcache_list *l, bool headings)
{
	size_t width[NCOLS];
	struct cell *cells = xmalloc(l->n * NCOLS * sizeof *cells);

	for (int c = 0; c < NCOLS; c++)
		width[c] = headings ? strlen(list_header[c]) : 0;
	for (size_t i = 0; i < l->n; i++) {
		char *cols[NCOLS];
		list_row(l->mounts[i], cols);
		for (int c = 0; c < NCOLS; c++) {
			struct cell *x = &cells[i * NCOLS + c];
			*x = cell_encode(cols[c]);
			free(cols[c]);
			if (x->width > width[c])
				width[c] = x->width;
		}
	}
	if (headings) {
		for (int c = 0; c < NCOLS - 1; c++)
			printf("%-*s ", (int)width[c], list_header[c]);
		printf("%s\n", list_header[NCOLS - 1]);
	}
	for (size_t i = 0; i < l->n; i++) {
		for (int c = 0; c < NCOLS; c++) {
			struct cell *x = &cells[i * NCOLS + c];
			fputs(x->s, stdout);
			if (c < NCOLS - 1)
				printf("%*s", (int)(width[c] - x->width + 1), "");
			free(x->s);
		}
		putchar('\n');
	}
	free(cells);
}

static void print_list_json(const struct mountcache_list *l)
{
	json_begin();
	for (size_t i = 0; i < l->n; i++) {
		static const char *const keys[NCOLS] = { "target", "source", "fstype", "options" };
		struct json_obj o = { true };
		char *cols[NCOLS];

		json_item(i);
		list_row(l->mounts[i], cols);
		for (int c = 0; c < NCOLS; c++) {
			json_str(&o, keys[c], cols[c]);
			free(cols[c]);
		}
	}
	json_end(l->n);
}

/* A path the API must get: absolute, not empty. Messages name the problem
 * rather than echo EINVAL. */
static bool path_ok(const char *cmd, const char *path)
{
	if (!*path) {
		warnx("%s: empty path", cmd);
		return false;
	}
	if (path[0] != '/') {
		warnx("%s: %s: not an absolute path", cmd, path);
		return false;
	}
	return true;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "under", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'J' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *under = "/";
	bool json = false, headings = true;
	struct mountcache_list *l;
	int c, r;

	while ((c = getopt_long(argc, argv, "+u:Jnh", opts, NULL)) != -1) {
		switch (c) {
		case 'u': under = optarg; break;
		case 'J': json = true; break;
		case 'n': headings = false; break;
		case 'h': fputs(usage_text, stdout); return finish(EXIT_SUCCESS);
		default: return usage_error("list: %s", "bad option");
		}
	}
	if (optind < argc)
		return usage_error("list: unexpected argument '%s'", argv[optind]);
	if (!path_ok("list", under))
		return EXIT_FAILURE;
	r = mountcache_mounts_under(under, &l);
	if (r < 0) {
		warnx("list: %s: %s", under, strerror(-r));
		return EXIT_FAILURE;
	}
	if (json)
		print_list_json(l);
	else
		print_table(l, headings);
	mountcache_list_free(l);
	return finish(EXIT_SUCCESS);
}

/* ---- info ----------------------------------------------------------------- */

static void print_info_json(const struct mountcache_mount *m)
{
	struct json_obj o = { true };
	char majmin[32];
	char *source = col_source(m), *options = col_options(m);

	snprintf(majmin, sizeof majmin, "%u:%u", m->major, m->minor);
	json_begin();
	json_item(0);
	json_num(&o, "id", m->id);
	json_num(&o, "parent", m->parent_id);
	json_str(&o, "maj:min", majmin);
	json_str(&o, "fsroot", m->root);
	json_str(&o, "target", m->target);
	json_str(&o, "source", source);
	json_str(&o, "fstype", m->fstype);
	json_str(&o, "options", options);
	json_str(&o, "vfs-options", m->vfs_options);
	json_str(&o, "fs-options", m->super_options);
	json_str(&o, "opt-fields", m->optional);
	json_str(&o, "propagation", col_propagation(m));
	if (m->have & MOUNTCACHE_HAVE_UNIQUE_ID) {
		json_num(&o, "uniq-id", m->unique_id);
		json_num(&o, "uniq-parent", m->parent_unique_id);
	}
	if (m->have & MOUNTCACHE_HAVE_MNT_NS_ID)
		json_num(&o, "mntns-id", m->mnt_ns_id);
	json_end(1);
	free(source);
	free(options);
}

static void info_line(const char *name, const char *value)
{
	struct cell c = cell_encode(value);
	if (*c.s)
		printf("%-12s %s\n", name, c.s);
	else
		printf("%s\n", name);
	free(c.s);
}

static void info_num(const char *name, uint64_t value)
{
	printf("%-12s %" PRIu64 "\n", name, value);
}

static void print_info(const struct mountcache_mount *m)
{
	char majmin[32], *source = col_source(m), *options = col_options(m);

	snprintf(majmin, sizeof majmin, "%u:%u", m->major, m->minor);
	info_num("ID", m->id);
	info_num("PARENT", m->parent_id);
	info_line("MAJ:MIN", majmin);
	info_line("FSROOT", m->root);
	info_line("TARGET", m->target);
	info_line("SOURCE", source);
	info_line("FSTYPE", m->fstype);
	info_line("OPTIONS", options);
	info_line("VFS-OPTIONS", m->vfs_options);
	info_line("FS-OPTIONS", m->super_options);
	info_line("OPT-FIELDS", m->optional);
	info_line("PROPAGATION", col_propagation(m));
	if (m->have & MOUNTCACHE_HAVE_UNIQUE_ID) {
		info_num("UNIQ-ID", m->unique_id);
		info_num("UNIQ-PARENT", m->parent_unique_id);
	}
	if (m->have & MOUNTCACHE_HAVE_MNT_NS_ID)
		info_num("MNTNS-ID", m->mnt_ns_id);
	free(source);
	free(options);
}

/* A mount id: decimal digits only, no sign, no overflow. */
static bool parse_id(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct mountcache_mount *m;
	bool json = false;
	const char *arg;
	uint64_t id;
	int c, r;

	while ((c = getopt_long(argc, argv, "Jh", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json = true; break;
		case 'h': fputs(usage_text, stdout); return finish(EXIT_SUCCESS);
		default: return usage_error("info: %s", "bad option");
		}
	}
	if (argc - optind != 1)
		return usage_error("info: %s", "expects one PATH or ID");
	arg = argv[optind];
	if (parse_id(arg, &id)) {
		r = mountcache_info_id(id, &m);
	} else {
		if (*arg && *arg != '/' && strspn(arg, "0123456789") == strlen(arg)) {
			warnx("info: %s: mount id out of range", arg);
			return EXIT_FAILURE;
		}
		if (!path_ok("info", arg))
			return EXIT_FAILURE;
		r = mountcache_info_path(arg, &m);
	}
	if (r < 0) {
		if (r == -ENOENT && parse_id(arg, &id))
			warnx("info: %s: no such mount", arg);
		else
			warnx("info: %s: %s", arg, strerror(-r));
		return EXIT_FAILURE;
	}
	if (json)
		print_info_json(m);
	else
		print_info(m);
	mountcache_mount_free(m);
	return finish(EXIT_SUCCESS);
}

/* ---- is-mountpoint --------------------------------------------------------- */

static int cmd_is_mountpoint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-bind", no_argument, NULL, 'b' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned flags = 0;
	bool quiet = false;
	const char *path;
	int c, r;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': flags |= MOUNTCACHE_NO_BIND; break;
		case 'q': quiet = true; break;
		case 'h': fputs(usage_text, stdout); return finish(EXIT_SUCCESS);
		default: return usage_error("is-mountpoint: %s", "bad option");
		}
	}
	if (argc - optind != 1)
		return usage_error("is-mountpoint: %s", "expects one PATH");
	path = argv[optind];
	if (!*path) {
		if (!quiet)
			warnx("is-mountpoint: empty path");
		return EXIT_FAILURE;
	}
	r = mountcache_is_mountpoint(path, flags);
	if (r < 0) {
		if (!quiet)
			warnx("%s: %s", path, strerror(-r));
		return EXIT_FAILURE;
	}
	if (!quiet)
		printf("%s %s a mountpoint\n", path, r ? "is" : "is not");
	return finish(r ? EXIT_SUCCESS : EXIT_NOT_MOUNTPOINT);
}

/* ---- run ------------------------------------------------------------------- */

static int cmd_run(int argc, char **argv)
{
	const char *old;
	char *lib, *val;
	int first = 1;

	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc)
		return usage_error("run: %s", "expects a COMMAND");
	lib = find_preload();
	if (!lib) {
		warnx("run: cannot find the preload library libmountcache-preload.so");
		return 127;
	}
	if (strpbrk(lib, " :")) {
		/* the dynamic loader splits LD_PRELOAD at spaces and colons */
		warnx("run: %s: a path with a space or colon cannot go in LD_PRELOAD", lib);
		return 127;
	}
	old = getenv("LD_PRELOAD");
	val = xmalloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
	sprintf(val, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
	if (setenv("LD_PRELOAD", val, 1) < 0) {
		warnx("run: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	free(lib);
	free(val);
	fflush(NULL);
	execvp(argv[first], argv + first);
	warnx("run: %s: %s", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/* ---- main ------------------------------------------------------------------ */

static int cmd_stats(int argc __attribute__((unused)), char **argv __attribute__((unused)))
{
	int r = print_daemon_stats(stdout);
	if (r < 0) {
		warnx("stats: daemon not reachable: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	return finish(EXIT_SUCCESS);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "is-mountpoint", cmd_is_mountpoint },
		{ "list", cmd_list },
		{ "info", cmd_info },
		{ "run", cmd_run },
		{ "stats", cmd_stats },
		{ "enable", cmd_enable },
		{ "disable", cmd_disable },
		{ "status", cmd_status },
	};

	setlocale(LC_CTYPE, "");
	if (argc < 2)
		return usage_error("%s", "no command given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return finish(EXIT_SUCCESS);
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("mountcache %s\n", MC_VERSION);
		return finish(EXIT_SUCCESS);
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			/* getopt sees the command's arguments with the command
			 * as argv[0]. */
			optind = 1;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	return usage_error("unknown command '%s'", argv[1]);
}
