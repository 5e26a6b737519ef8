/* test_parse.c: golden tests for mc_table_parse() and the indexes.
 *
 * tests/golden/NAME.{mountinfo,mounts} is the input; NAME.<fmt>.expected has
 * one line per table entry, fields separated by one tab, every byte outside
 * '!'..'~' and every backslash shown as \ooo, an empty string as nothing:
 *
 *   mountinfo: id parent maj:min root target vfs_opts optional fstype source
 *              fs_opts prop shared master propagate_from
 *              (prop: "-" or a comma list of shared,slave,from,unbindable)
 *   mounts:    source target fstype vfs_opts freq passno kind
 *              (kind: fast | slow | skip; freq and passno are "-" unless fast)
 *
 * Data files are found under $MC_SRCDIR (default "."), the repository root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mc.h"

static char *read_golden(const char *name, size_t *ret_len)
{
	const char *dir = getenv("MC_SRCDIR");
	char path[4096];
	char *text = NULL;
	size_t cap = 0;

	snprintf(path, sizeof path, "%s/tests/golden/%s", dir ? dir : ".", name);
	FILE *in = fopen(path, "re");
	if (!in)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	FILE *out = open_memstream(&text, &cap);
	assert_non_null(out);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(in);
	fclose(out);
	*ret_len = cap;
	return text;
}

static void put_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < '!' || *p > '~' || *p == '\\')
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
}

static void put_fields(FILE *f, const struct mc_table *t, const uint32_t *offs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put_escaped(f, mc_str(t, offs[i]));
		fputc('\t', f);
	}
}

static void put_prop(FILE *f, unsigned prop)
{
	static const char *names[] = { "shared", "slave", "from", "unbindable" };
	const char *sep = "";

	if (!prop)
		fputc('-', f);
	for (unsigned i = 0; i < 4; i++)
		if (prop & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = ",";
		}
}

/* One entry in the .expected syntax; the caller frees. */
static char *render(const struct mc_table *t, const struct mc_mount *m, const struct mc_ment *e)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (t->fmt == MC_MOUNTINFO) {
		const uint32_t a[] = { m->root, m->target, m->vfs_opts, m->optional,
				       m->fstype, m->source, m->fs_opts };
		fprintf(f, "%d\t%d\t%u:%u\t", m->id, m->parent, m->major, m->minor);
		put_fields(f, t, a, 7);
		put_prop(f, m->prop);
		fprintf(f, "\t%d\t%d\t%d", m->shared, m->master, m->propagate_from);
	} else {
		const uint32_t a[] = { m->source, m->target, m->fstype, m->vfs_opts };
		put_fields(f, t, a, 4);
		if (m->mntent_skip)
			fputs("-\t-\tskip", f);
		else if (!(e->flags & MC_MENT_FAST))
			fputs("-\t-\tslow", f);          /* the getmntent image emulates it */
		else
			fprintf(f, "%d\t%d\tfast", e->freq, e->passno);
	}
	fclose(f);
	return s;
}

static void parse_golden(const char *name, enum mc_format fmt, struct mc_table *ret)
{
	struct mc_parse_error err = { 0 };
	size_t len;
	char *text = read_golden(name, &len);
	int r = mc_table_parse(text, len, fmt, ret, &err);

	if (r < 0)
		fail_msg("%s: error %d at line %zu (%s)", name, r, err.line, err.what);
	free(text);
}

static void check_golden(const char *name, enum mc_format fmt)
{
	char exp_name[256];
	struct mc_table t;
	size_t len, i = 0;

	struct mc_mntimg *img = NULL;
	parse_golden(name, fmt, &t);
	if (fmt == MC_MOUNTS) {
		char *text = read_golden(name, &len);
		assert_int_equal(mc_mntimg_build(text, len, NULL, &img), 0);
		assert_int_equal(img->n, t.n);
		free(text);
	}
	snprintf(exp_name, sizeof exp_name, "%s.expected", name);
	char *exp = read_golden(exp_name, &len);
	for (char *line = exp, *nl; (nl = strchr(line, '\n')); line = nl + 1, i++) {
		*nl = '\0';
		if (i >= t.n)
			fail_msg("%s: %zu entries, expected more", name, t.n);
		char *got = render(&t, &t.ents[i], img ? &img->ents[i] : NULL);
		if (strcmp(got, line) != 0)
			fail_msg("%s line %zu:\n  expected: %s\n  got:      %s", name, i + 1, line, got);
		free(got);
	}
	assert_int_equal(t.n, i);
	free(exp);
	mc_mntimg_free(img);
	mc_table_free(&t);
}

static void test_golden_mountinfo(void **state)
{
	(void)state;
	check_golden("odd.mountinfo", MC_MOUNTINFO);
}

static void test_golden_mounts(void **state)
{
	struct mc_table t;

	(void)state;
	check_golden("odd.mounts", MC_MOUNTS);
	/* the mounts format has no ids, root, optional fields or super options */
	parse_golden("odd.mounts", MC_MOUNTS, &t);
	for (size_t i = 0; i < t.n; i++) {
		const struct mc_mount *m = &t.ents[i];
		assert_int_equal(m->id | m->parent | (int)m->major | (int)m->minor, 0);
		assert_string_equal(mc_str(&t, m->root), "");
		assert_string_equal(mc_str(&t, m->optional), "");
		assert_string_equal(mc_str(&t, m->fs_opts), "");
	}
	mc_table_free(&t);
}

/* The same facts as the golden file, spelled out once in C. */
static void test_decoded_names(void **state)
{
	struct mc_table t;

	(void)state;
	parse_golden("odd.mountinfo", MC_MOUNTINFO, &t);
	assert_string_equal(mc_str(&t, t.ents[4].target), "/tmp/sp ace");
	assert_string_equal(mc_str(&t, t.ents[4].source), "src#1");
	assert_string_equal(mc_str(&t, t.ents[5].target), "/tmp/t\tab");
	assert_string_equal(mc_str(&t, t.ents[6].target), "/tmp/new\nline");
	assert_string_equal(mc_str(&t, t.ents[7].target), "/tmp/back\\slash");
	assert_string_equal(mc_str(&t, t.ents[8].target), "/tmp/\xc3\xbctf8");
	assert_string_equal(mc_str(&t, t.ents[9].target), "/tmp/lit\\040");
	assert_int_equal(strlen(mc_str(&t, t.ents[13].target)), 9 + 11 * 20 + 6);
	/* line_off/line_len point at the raw line */
	assert_int_equal(t.ents[1].line_len, strlen("22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw"));
	assert_int_equal(t.ents[1].line_off, t.ents[0].line_len + 1);
	mc_table_free(&t);
}

static void test_index_mountinfo(void **state)
{
	const struct mc_mount *out[16], *m;
	struct mc_table t;

	(void)state;
	parse_golden("odd.mountinfo", MC_MOUNTINFO, &t);
	assert_int_equal(mc_table_index(&t), 0);
	assert_int_equal(mc_table_index(&t), 0);               /* idempotent */
	/* a stack of three on one path: top is the last, walk is table order */
	assert_int_equal(mc_find_target(&t, "/tmp/lit\\040")->id, 32);
	m = mc_find_target_first(&t, "/tmp/lit\\040");
	assert_int_equal(m->id, 30);
	assert_int_equal(m->next_same_target->id, 31);
	assert_int_equal(m->next_same_target->next_same_target->id, 32);
	assert_null(m->next_same_target->next_same_target->next_same_target);
	assert_int_equal(mc_find_target(&t, "/tmp/new\nline")->id, 27);
	assert_null(mc_find_target(&t, "/tmp/new\\012line"));  /* keys are decoded */
	assert_null(mc_find_target(&t, "/nowhere"));
	assert_null(mc_find_target_first(&t, "/nowhere"));
	/* ids */
	assert_int_equal(mc_find_id(&t, 29)->id, 29);
	assert_string_equal(mc_str(&t, mc_find_id(&t, 2147483647)->target), "/max");
	assert_null(mc_find_id(&t, 2));
	/* children in table order, with a short output array */
	static const int kids[] = { 22, 23, 25, 26, 27, 28, 29, 30, 33, 34, 35, 36, 2147483647 };
	assert_int_equal(mc_find_children(&t, 1, out, 16), 13);
	for (size_t i = 0; i < 13; i++)
		assert_int_equal(out[i]->id, kids[i]);
	assert_int_equal(mc_find_children(&t, 1, out, 2), 13);
	assert_int_equal(out[1]->id, 23);
	assert_int_equal(mc_find_children(&t, 23, out, 16), 1);
	assert_int_equal(out[0]->id, 24);
	assert_int_equal(mc_find_children(&t, 31, out, 16), 1);
	assert_int_equal(mc_find_children(&t, 24, out, 16), 0);
	/* devices: a bind mount shares its source's device */
	assert_int_equal(mc_find_devno(&t, 0, 30, out, 16), 2);
	assert_int_equal(out[0]->id, 25);
	assert_int_equal(out[1]->id, 35);
	assert_int_equal(mc_find_devno(&t, 259, 1048575, out, 16), 1);
	assert_int_equal(out[0]->id, 36);
	assert_int_equal(mc_find_devno(&t, 4095, 0, out, 16), 1);
	assert_int_equal(mc_find_devno(&t, 0, 29, out, 16), 0);
	mc_table_free(&t);
}

static void test_index_mounts(void **state)
{
	struct mc_table t;

	(void)state;
	parse_golden("odd.mounts", MC_MOUNTS, &t);
	const struct mc_mount *m = mc_find_target(&t, "/tmp/lit\\040");
	assert_string_equal(mc_str(&t, m->source), "s2");
	m = mc_find_target_first(&t, "/tmp/lit\\040");
	assert_string_equal(mc_str(&t, m->source), "lit\\040");
	assert_string_equal(mc_str(&t, m->next_same_target->source), "s1");
	assert_ptr_equal(m->next_same_target->next_same_target, mc_find_target(&t, "/tmp/lit\\040"));
	assert_null(mc_find_target(&t, "/misc"));    /* autofs "ignore": getmntent skips it */
	assert_non_null(mc_find_target(&t, "/net"));
	assert_null(mc_find_target(&t, ""));         /* skipped lines are not indexed */
	mc_table_free(&t);
}

/* The kernel writes an empty source as an empty field ("tmpfs  rw"), as
 * `mount -t tmpfs "" /mnt` shows; libmount 2.38 reads it as "". */
static void test_empty_source(void **state)
{
	static const char text[] = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "2 1 0:50 / /mnt rw,relatime - tmpfs  rw\n";
	struct mc_parse_error err = { 0 };
	struct mc_table t;

	(void)state;
	int r = mc_table_parse(text, sizeof text - 1, MC_MOUNTINFO, &t, &err);
	if (r < 0)
		fail_msg("error %d at line %zu (%s)", r, err.line, err.what);
	assert_string_equal(mc_str(&t, t.ents[1].source), "");
	assert_string_equal(mc_str(&t, t.ents[1].fs_opts), "rw");
	mc_table_free(&t);
}

#define GOOD "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n22 1 0:21 / /proc rw - proc proc rw\n"

static const struct bad {
	const char *text;
	size_t line;
} bad_mountinfo[] = {
	{ GOOD "23 1 0:5 / /dev rw - devtmpfs\n", 3 },                 /* truncated */
	{ GOOD "23 1 0:5 / /dev rw - devtmpfs udev\n", 3 },            /* no super options */
	{ GOOD "23 1 0:5 / /dev\n24 1 0:6 / /x rw - tmpfs a rw\n", 3 },
	{ GOOD "23 1 0:5 / /dev rw shared:2 devtmpfs udev rw\n", 3 }, /* no "-" */
	{ GOOD "23 1 0:5 / /dev rw -- devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 0x5 / /dev rw - devtmpfs udev rw\n", 3 },        /* major:minor */
	{ GOOD "23 1 0: / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 :5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 05 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 0:5:1 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 a:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ "x 0 8:1 / / rw - ext4 /dev/sda1 rw\n", 1 },                 /* ids */
	{ GOOD "23x 1 0:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 y 0:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "-3 1 0:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "99999999999 1 0:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23  1 0:5 / /dev rw - devtmpfs udev rw\n", 3 },       /* empty fields */
	{ GOOD "23 1 0:5 /  /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 0:5 / /dev rw  - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 0:5 / /dev rw -  devtmpfs udev rw\n", 3 },
	{ " 1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", 1 },
	{ GOOD "\n", 3 },                                              /* empty line */
	{ GOOD "\n23 1 0:5 / /dev rw - devtmpfs udev rw\n", 3 },
	{ GOOD "23 1 0:5 / /dev rw shared:x - devtmpfs udev rw\n", 3 },
};

static void expect_error(const char *text, size_t len, enum mc_format fmt, size_t line)
{
	struct mc_table t = { .n = 12345 };
	struct mc_parse_error err = { 0 };
	int r = mc_table_parse(text, len, fmt, &t, &err);

	if (r >= 0)
		fail_msg("accepted: %.*s", (int)(len > 200 ? 200 : len), text);
	assert_int_equal(err.line, line);
	assert_non_null(err.what);
	assert_int_equal(t.n, 12345);         /* untouched on failure */
	assert_null(t.ents);
}

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_mountinfo / sizeof bad_mountinfo[0]; i++) {
		const struct bad *b = &bad_mountinfo[i];
		char *copy = malloc(strlen(b->text));  /* exact size: no NUL to lean on */
		memcpy(copy, b->text, strlen(b->text));
		expect_error(copy, strlen(b->text), MC_MOUNTINFO, b->line);
		free(copy);
	}
}

static void test_nul_byte(void **state)
{
	static const char mi[] = GOOD "23 1 0:5 / /d\0ev rw - devtmpfs udev rw\n";
	static const char mo[] = "a /a tmpfs rw 0 0\nb /b\0 tmpfs rw 0 0\n";

	(void)state;
	expect_error(mi, sizeof mi - 1, MC_MOUNTINFO, 3);
	expect_error(mo, sizeof mo - 1, MC_MOUNTS, 2);
	expect_error("\0", 1, MC_MOUNTS, 1);
}

static void test_huge_line(void **state)
{
	const size_t big = 1u << 20;
	const char *heads[] = { "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:5 / /",
				"/dev/sda1 / ext4 rw 0 0\nx /" };
	const char *tails[] = { " rw - tmpfs none rw\n", " tmpfs rw 0 0\n" };

	(void)state;
	for (int fmt = MC_MOUNTINFO; fmt <= MC_MOUNTS; fmt++) {
		size_t h = strlen(heads[fmt]), tl = strlen(tails[fmt]);
		char *text = malloc(h + big + tl);
		memcpy(text, heads[fmt], h);
		memset(text + h, 'a', big);
		memcpy(text + h + big, tails[fmt], tl);
		expect_error(text, h + big + tl, fmt, 2);
		free(text);
	}
}

static void test_empty_input(void **state)
{
	struct mc_table t = { .n = 12345 };
	struct mc_parse_error err = { 0 };

	(void)state;
	/* no line at all: an error, and no line to blame beyond the first */
	assert_true(mc_table_parse("", 0, MC_MOUNTINFO, &t, &err) < 0);
	assert_true(err.line <= 1);
	assert_true(mc_table_parse("", 0, MC_MOUNTS, &t, NULL) < 0);
	assert_int_equal(t.n, 12345);
}

/* Every prefix of the golden text, in an exact-size buffer (so that ASan or
 * valgrind see any overread): a table of all lines so far, or an error on
 * the cut line. */
static void test_every_prefix(void **state)
{
	size_t len;
	char *text = read_golden("odd.mountinfo", &len);

	(void)state;
	for (size_t n = 1; n <= len; n++) {
		struct mc_parse_error err = { 0 };
		struct mc_table t;
		size_t lines = 0;
		char *p = malloc(n);

		memcpy(p, text, n);
		for (size_t i = 0; i < n; i++)
			lines += p[i] == '\n';
		if (p[n - 1] != '\n')
			lines++;
		if (mc_table_parse(p, n, MC_MOUNTINFO, &t, &err) == 0) {
			assert_int_equal(t.n, lines);
			assert_int_equal(mc_table_index(&t), 0);
			mc_table_free(&t);
		} else {
			assert_int_equal(err.line, lines);
			assert_true(p[n - 1] != '\n');
		}
		free(p);
	}
	free(text);
}

/* The line index (snapshot.c reads eight bytes a step) against a byte loop,
 * on random texts of every length up to 300 whose bytes are drawn from all
 * 256 values (newlines made common), so that a '\n' falls at every place
 * in a word and next to every other byte, with and without a final '\n'. */
static void test_line_index(void **state)
{
	(void)state;
	srand(7);
	for (int round = 0; round < 3000; round++) {
		size_t len = (size_t)round % 301;
		char *text = malloc(len + 1);
		assert_non_null(text);
		for (size_t i = 0; i < len; i++)
			text[i] = (char)(rand() % 4 == 0 ? '\n' : rand() % 256);
		struct mc_snap *s = mc_snap_new(MC_MOUNTINFO, text, len, true);
		assert_non_null(s);
		const uint32_t *l = mc_snap_lines(s);
		assert_non_null(l);
		size_t n = 0, start = 0;
		for (size_t i = 0; i < len; i++)
			if (text[i] == '\n') {
				n++;
				assert_true(n <= l[0]);
				assert_int_equal(l[n], i + 1);
				start = i + 1;
			}
		if (start < len) {
			n++;
			assert_true(n <= l[0]);
			assert_int_equal(l[n], len);
		}
		assert_int_equal(l[0], n);
		mc_snap_unref(s);
	}
}

/* mc_mounts_from_mountinfo(): the mounts lines the kernel writes for these
 * mountinfo lines (fs/proc_namespace.c; the same derivation is compared
 * with the kernel's own text at every step of tests/e2e/statmount.sh). */
static void test_mounts_from_mountinfo(void **state)
{
	(void)state;
	static const char *const pairs[][2] = {
		{ "36 25 0:40 / /a rw,nosuid,relatime shared:3 - tmpfs src rw,size=1024k\n",
		  "src /a tmpfs rw,nosuid,relatime,size=1024k 0 0\n" },
		/* ro: the mount's or the superblock's */
		{ "37 25 0:40 / /b ro,relatime - tmpfs s rw\n", "s /b tmpfs ro,relatime 0 0\n" },
		{ "38 25 0:41 /sub /c rw,noexec,relatime master:4 propagate_from:2 unbindable - ext4 /dev/x ro,errors=remount-ro\n",
		  "/dev/x /c ext4 ro,noexec,relatime,errors=remount-ro 0 0\n" },
		/* an empty source stays an empty field */
		{ "39 25 0:42 / /d rw,relatime - tmpfs  rw\n", " /d tmpfs rw,relatime 0 0\n" },
		{ "40 25 0:43 / /sp\\040ace rw - tmpfs a\\011b rw\n", "a\\011b /sp\\040ace tmpfs rw 0 0\n" },
		{ "41 25 0:44 / /e rw,nosuid,nodev,relatime - fuse.sshfs u@h:/ rw,user_id=0,async\n",
		  "u@h:/ /e fuse.sshfs rw,nosuid,nodev,relatime,user_id=0,async 0 0\n" },
	};
	struct mc_buf out = { 0 };
	char all_mi[2048] = "", all_mo[2048] = "";

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		assert_int_equal(mc_mounts_from_mountinfo(pairs[i][0], strlen(pairs[i][0]), &out), 0);
		assert_int_equal(out.len, strlen(pairs[i][1]));
		assert_memory_equal(out.data, pairs[i][1], out.len);
		strcat(all_mi, pairs[i][0]);
		strcat(all_mo, pairs[i][1]);
	}
	assert_int_equal(mc_mounts_from_mountinfo(all_mi, strlen(all_mi), &out), 0);
	assert_int_equal(out.len, strlen(all_mo));
	assert_memory_equal(out.data, all_mo, out.len);

	/* superblock flags and security options go between "rw" and the
	 * mount's flags in a mounts line: not derived, whichever line */
	static const char *const sb[] = { "rw,sync", "ro,dirsync,size=1k", "rw,size=1k,lazytime", "rw,mand",
					  "rw,seclabel", "rw,context=\"system_u:object_r:tmp_t:s0\"",
					  "rw,rootcontext=x", "rw,smackfsdef=_", "rw,fscontext=y", "rw,defcontext=z" };
	for (size_t i = 0; i < sizeof sb / sizeof sb[0]; i++) {
		char text[4096];
		snprintf(text, sizeof text, "%s50 25 0:45 / /f rw,relatime - tmpfs t %s\n", all_mi, sb[i]);
		assert_int_equal(mc_mounts_from_mountinfo(text, strlen(text), &out), -EOPNOTSUPP);
		assert_int_equal(out.len, 0);
	}
	/* names that only look like those: an option of the filesystem's,
	 * derived (the five names are exact, the five prefixes whole) */
	static const char *const near[] = { "syncs", "dirsyncx", "mandatory", "lazy", "seclabels",
					    "contextx", "fscontext", "rootcontexts=1", "smack", "s", "d" };
	for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
		char text[256], want[256];
		snprintf(text, sizeof text, "50 25 0:45 / /f rw,relatime - tmpfs t rw,%s\n", near[i]);
		snprintf(want, sizeof want, "t /f tmpfs rw,relatime,%s 0 0\n", near[i]);
		assert_int_equal(mc_mounts_from_mountinfo(text, strlen(text), &out), 0);
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.data, want, out.len);
	}
	/* not the kernel's format */
	static const char *const bad[] = {
		"1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw",          /* no newline */
		"1 0 8:1 / / rw,relatime ext4 /dev/sda1 rw\n",          /* no separator */
		"1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw more\n",   /* a field more */
		"1 0 8:1 / / rw,relatime - ext4 /dev/sda1\n",           /* a field less */
		"1 0 8:1 / / rwx,relatime - ext4 /dev/sda1 rw\n",
		"1 0 8:1 / / rw,relatime - ext4 /dev/sda1 r\n",
		"1 0 8:1 / /\n",
		"\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(mc_mounts_from_mountinfo(bad[i], strlen(bad[i]), &out), -EINVAL);
		assert_int_equal(out.len, 0);
	}
	mc_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_mountinfo),
		cmocka_unit_test(test_golden_mounts),
		cmocka_unit_test(test_decoded_names),
		cmocka_unit_test(test_index_mountinfo),
		cmocka_unit_test(test_index_mounts),
		cmocka_unit_test(test_empty_source),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_line_index),
		cmocka_unit_test(test_mounts_from_mountinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
