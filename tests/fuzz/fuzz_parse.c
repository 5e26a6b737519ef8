/* fuzz_parse: mc_table_parse() on any bytes, in both formats, then every
 * index lookup checked against a brute-force scan of the parsed table.
 *
 * Oracles: the parser returns 0 or one of its documented errors; a table
 * covers the text line by line; every string offset lies inside the arena
 * and is NUL-terminated there; the indexes answer exactly what a linear
 * scan answers (top and bottom of a stack, children and devices in table
 * order, counts); for the mounts format, the stored fields are what glibc's
 * getmntent_r returns for the same text (mc.h: "what we store is exactly
 * what getmntent returns"). */
#include <errno.h>
#include <mntent.h>
#include <stdbool.h>
#include <string.h>

#include "mc.h"
#include "fuzz.h"

/* Brute-force cross-checks are quadratic: keep them to tables this big. */
#define BRUTE_MAX 3000

static void check_str(const struct mc_table *t, uint32_t off, const char *what, size_t i)
{
	FUZZ_CHECK(off < t->arena_len, "line %zu: %s offset %u past arena %zu", i, what, off, t->arena_len);
	FUZZ_CHECK(memchr(t->arena + off, '\0', t->arena_len - off), "line %zu: %s not terminated", i, what);
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len && s[len - 1] != '\n');
}

static void check_layout(const struct mc_table *t, const char *text, size_t len)
{
	size_t expect_off = 0;

	FUZZ_CHECK(t->n == count_lines(text, len), "n %zu", t->n);
	FUZZ_CHECK(t->arena_len >= 1 && t->arena[0] == '\0', "offset 0 is not \"\"");
	for (size_t i = 0; i < t->n; i++) {
		const struct mc_mount *m = &t->ents[i];
		FUZZ_CHECK(m->idx == i, "idx %zu at %zu", m->idx, i);
		FUZZ_CHECK(m->line_off == expect_off, "line %zu at %u, expected %zu", i, m->line_off, expect_off);
		FUZZ_CHECK((size_t)m->line_off + m->line_len <= len, "line %zu past the text", i);
		FUZZ_CHECK(!memchr(text + m->line_off, '\n', m->line_len), "line %zu holds a newline", i);
		size_t end = (size_t)m->line_off + m->line_len;
		FUZZ_CHECK(end == len || text[end] == '\n', "line %zu does not end at a newline", i);
		expect_off = end + 1;
		check_str(t, m->root, "root", i);
		check_str(t, m->target, "target", i);
		check_str(t, m->vfs_opts, "vfs_opts", i);
		check_str(t, m->optional, "optional", i);
		check_str(t, m->fstype, "fstype", i);
		check_str(t, m->source, "source", i);
		check_str(t, m->fs_opts, "fs_opts", i);
		if (t->fmt == MC_MOUNTINFO) {
			FUZZ_CHECK(m->id >= 0 && m->parent >= 0, "line %zu: negative id", i);
			FUZZ_CHECK(!m->mntent_skip, "line %zu: mountinfo line skipped", i);
			/* decoding never lengthens a field */
			FUZZ_CHECK(strlen(mc_str(t, m->target)) < m->line_len, "line %zu: target longer than line", i);
		}
	}
}

/* The mounts format against glibc itself, through fmemopen. */
static void check_mounts_vs_glibc(const struct mc_table *t, const char *text, size_t len)
{
	if (len == 0 || len > (1u << 20))
		return;
	int bufsiz = (int)len + 2;
	char *gbuf = malloc(bufsiz);
	FILE *f = fmemopen((void *)text, len, "r");
	struct mntent g;
	size_t i = 0;

	FUZZ_CHECK(f && gbuf, "fmemopen");
	memset(&g, 0, sizeof g);
	g.mnt_freq = g.mnt_passno = -77;
	while (getmntent_r(f, &g, gbuf, bufsiz)) {
		while (i < t->n && t->ents[i].mntent_skip)
			i++;
		FUZZ_CHECK(i < t->n, "glibc has more entries than the table's %zu", t->n);
		const struct mc_mount *m = &t->ents[i++];
		FUZZ_CHECK(!strcmp(g.mnt_fsname, mc_str(t, m->source)), "line %zu fsname [%s] vs [%s]",
			   i - 1, g.mnt_fsname, mc_str(t, m->source));
		FUZZ_CHECK(!strcmp(g.mnt_dir, mc_str(t, m->target)), "line %zu dir", i - 1);
		FUZZ_CHECK(!strcmp(g.mnt_type, mc_str(t, m->fstype)), "line %zu type", i - 1);
		FUZZ_CHECK(!strcmp(g.mnt_opts, mc_str(t, m->vfs_opts)), "line %zu opts", i - 1);
	}
	while (i < t->n)
		FUZZ_CHECK(t->ents[i++].mntent_skip, "line %zu: we list it, glibc does not", i - 1);
	fclose(f);
	free(gbuf);
}

/* ---- index lookups against linear scans ---------------------------------- */

static bool listed(const struct mc_table *t, const struct mc_mount *m)
{
	(void)t;
	return !m->mntent_skip;
}

static void check_target(struct mc_table *t, const char *target)
{
	const struct mc_mount *first = NULL, *last = NULL;
	size_t count = 0;

	for (size_t i = 0; i < t->n; i++)
		if (listed(t, &t->ents[i]) && !strcmp(mc_str(t, t->ents[i].target), target)) {
			if (!first)
				first = &t->ents[i];
			last = &t->ents[i];
			count++;
		}
	FUZZ_CHECK(mc_find_target(t, target) == last, "top of [%s]", target);
	FUZZ_CHECK(mc_find_target_first(t, target) == first, "bottom of [%s]", target);
	size_t walked = 0;
	const struct mc_mount *prev = NULL;
	for (const struct mc_mount *m = first; m; m = m->next_same_target) {
		FUZZ_CHECK(!strcmp(mc_str(t, m->target), target), "stack of [%s] holds [%s]", target,
			   mc_str(t, m->target));
		FUZZ_CHECK(!prev || prev->idx < m->idx, "stack of [%s] out of order", target);
		prev = m;
		FUZZ_CHECK(++walked <= count, "stack of [%s] too long", target);
	}
	FUZZ_CHECK(walked == count, "stack of [%s]: %zu of %zu", target, walked, count);
}

static void check_id(struct mc_table *t, int id)
{
	const struct mc_mount *want = NULL;
	for (size_t i = 0; i < t->n && !want; i++)
		if (t->ents[i].id == id)
			want = &t->ents[i];
	FUZZ_CHECK(mc_find_id(t, id) == want, "id %d", id);
}

static void check_children(struct mc_table *t, int parent)
{
	const struct mc_mount *out[8];
	size_t want = 0;
	size_t got = mc_find_children(t, parent, out, 8);
	for (size_t i = 0; i < t->n; i++)
		if (t->ents[i].parent == parent) {
			if (want < 8)
				FUZZ_CHECK(out[want] == &t->ents[i], "child %zu of %d", want, parent);
			want++;
		}
	FUZZ_CHECK(got == want, "children of %d: %zu vs %zu", parent, got, want);
}

static void check_devno(struct mc_table *t, unsigned major, unsigned minor)
{
	const struct mc_mount *out[8];
	size_t want = 0;
	size_t got = mc_find_devno(t, major, minor, out, 8);
	for (size_t i = 0; i < t->n; i++)
		if (t->ents[i].major == major && t->ents[i].minor == minor) {
			if (want < 8)
				FUZZ_CHECK(out[want] == &t->ents[i], "devno %u:%u #%zu", major, minor, want);
			want++;
		}
	FUZZ_CHECK(got == want, "devno %u:%u: %zu vs %zu", major, minor, got, want);
}

static void check_index(struct mc_table *t, const char *text, size_t len)
{
	int r = mc_table_index(t);
	FUZZ_CHECK(r == 0 || r == -ENOMEM, "mc_table_index %d", r);
	if (r < 0 || t->n > BRUTE_MAX)
		return;
	FUZZ_CHECK(mc_table_index(t) == 0, "index not idempotent");
	for (size_t i = 0; i < t->n; i++) {
		const struct mc_mount *m = &t->ents[i];
		check_target(t, mc_str(t, m->target));
		if (t->fmt == MC_MOUNTINFO) {
			check_id(t, m->id);
			check_children(t, m->parent);
			check_children(t, m->id);
			check_devno(t, m->major, m->minor);
		}
	}
	/* keys nobody has */
	check_target(t, "");
	check_target(t, "/");
	if (t->fmt == MC_MOUNTINFO) {     /* ids and devices: mountinfo only */
		check_id(t, -1);
		check_id(t, 0);
		check_children(t, -1);
		check_devno(t, 0, 0);
		check_devno(t, 4095, 0xffffffffu);
	}
	/* a key taken from the raw text (it may or may not name a mount) */
	if (len) {
		size_t a = len / 3, l = len - a < 64 ? len - a : 64;
		char key[65];
		memcpy(key, text + a, l);
		key[l] = '\0';
		check_target(t, key);
	}
	/* rebuilding after a free gives the same answers */
	mc_index_free(t);
	if (t->n)
		check_target(t, mc_str(t, t->ents[t->n - 1].target));
}

static void parse_one(const char *text, size_t len, enum mc_format fmt)
{
	struct mc_table t;
	struct mc_parse_error err = { 0, NULL };

	memset(&t, 0xa5, sizeof t);
	int r = mc_table_parse(text, len, fmt, &t, &err);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "error %d", r);
		FUZZ_CHECK(err.what != NULL, "no reason given");
		FUZZ_CHECK(((unsigned char *)&t)[0] == 0xa5, "ret_table touched on failure");
		return;
	}
	FUZZ_CHECK(len > 0, "empty text parsed");
	FUZZ_CHECK(!memchr(text, '\0', len), "text with a NUL parsed");
	FUZZ_CHECK(t.fmt == fmt && t.index == NULL, "header");
	check_layout(&t, text, len);
	if (fmt == MC_MOUNTS)
		check_mounts_vs_glibc(&t, text, len);
	check_index(&t, text, len);
	mc_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy: a read past the end is an ASan report. */
	char *text = malloc(size ? size : 1);
	if (size)
		memcpy(text, data, size);
	parse_one(text, size, MC_MOUNTINFO);
	parse_one(text, size, MC_MOUNTS);
	free(text);
	return 0;
}
