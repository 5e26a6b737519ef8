/* test_mntent.c: mc_mntent_from_line() against the real glibc getmntent_r.
 *
 * Lines are generated from a fixed seed out of the pieces glibc treats
 * specially (blank runs, the five escapes and near misses, comments, autofs
 * "ignore", missing or odd freq/passno, lines longer than the buffer), and
 * each is fed to both, for several buffer sizes, with and without its '\n'.
 * glibc reads through fmemopen(). MC_MNTENT_LINES overrides the line count. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc.h"
#include "proto.h"

/* glibc's getmntent_r(bufsiz 1) never returns: fgets(buf, 1) yields "" for
 * ever without reading. The emulation says "skip"; 1 is tested alone. */
static const int bufsizes[] = { 2, 3, 8, 17, 64, 256, 4096 };
#define NBUFSIZES (sizeof bufsizes / sizeof bufsizes[0])

/* Returned by glibc when it skips the line under test. Truncated to 16
 * bytes (bufsiz 17) it ends in blanks after four fields, where glibc's
 * sscanf finds nothing and freq/passno keep their previous values. */
static const char sentinel[] = "SENTINEL /s t o            5 6";

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void put_blanks(FILE *f, unsigned max)
{
	for (unsigned i = 1 + pick(max); i > 0; i--)
		fputc(pick(3) ? ' ' : '\t', f);
}

static void put_field(FILE *f, int col)
{
	static const char *atoms[] = {
		"a", "dev", "/", "/mnt", ",", "=", "rw", "ro", "#", "x#y", "\xc3\xbc", "\r",
		"\\040", "\\011", "\\012", "\\134", "\\\\", "\\134040", "\\\\040",
		"\\04", "\\0", "\\", "\\1", "\\13", "\\041", "\\043", "\\0400", "\\400",
	};
	static const char *types[] = { "autofs", "autofs", "tmpfs", "fuse.sshfs", "ext4" };
	static const char *opts[] = { "ignore", "rw,ignore", "ignore,rw", "ignore=1", "rw,ignore,x",
				      "ignored", "noignore", "rw,xignore", "rw", "ignore\\040" };
	static const char *nums[] = { "0", "1", "2", "-3", "+4", "007", "abc", "5x", "0x10",
				      "99999999999", "-", "", "2147483647" };

	if (col == 2 && pick(2))
		fputs(types[pick(5)], f);
	else if (col == 3 && pick(2))
		fputs(opts[pick(10)], f);
	else if (col >= 4 && pick(4))
		fputs(nums[pick(13)], f);
	else if (pick(40) == 0)                      /* longer than most buffers */
		for (unsigned i = 100 + pick(5000); i > 0; i--)
			fputc('a' + i % 26, f);
	else
		for (unsigned i = 1 + pick(4); i > 0; i--)
			fputs(atoms[pick(sizeof atoms / sizeof atoms[0])], f);
}

/* One line without '\n'; the caller frees. */
static char *gen_line(size_t *ret_len)
{
	char *s = NULL;
	FILE *f = open_memstream(&s, ret_len);
	unsigned kind = pick(20);

	if (pick(4) == 0)
		put_blanks(f, 3);
	if (kind == 0)
		;                                    /* empty or blank */
	else if (kind == 1)
		fputs("# a comment\\040 \t x", f);
	else {
		unsigned nfields = kind < 5 ? 1 + pick(4) : 4 + pick(4);
		for (unsigned c = 0; c < nfields; c++) {
			if (c)
				put_blanks(f, 3);
			put_field(f, (int)c);
		}
	}
	if (pick(4) == 0)
		put_blanks(f, 3);
	fclose(f);
	return s;
}

static void init_ent(struct mntent *m)
{
	memset(m, 0, sizeof *m);
	m->mnt_freq = -77;      /* kept by glibc when sscanf returns EOF */
	m->mnt_passno = -99;
}

static void expect_same(const struct mntent *g, const struct mntent *m,
			const char *line, size_t len, int bufsiz, bool nl)
{
	if (strcmp(g->mnt_fsname, m->mnt_fsname) || strcmp(g->mnt_dir, m->mnt_dir) ||
	    strcmp(g->mnt_type, m->mnt_type) || strcmp(g->mnt_opts, m->mnt_opts) ||
	    g->mnt_freq != m->mnt_freq || g->mnt_passno != m->mnt_passno)
		fail_msg("line [%.*s] bufsiz %d nl %d:\n  glibc [%s] [%s] [%s] [%s] %d %d\n"
			 "  ours  [%s] [%s] [%s] [%s] %d %d", (int)len, line, bufsiz, nl,
			 g->mnt_fsname, g->mnt_dir, g->mnt_type, g->mnt_opts, g->mnt_freq, g->mnt_passno,
			 m->mnt_fsname, m->mnt_dir, m->mnt_type, m->mnt_opts, m->mnt_freq, m->mnt_passno);
}

/* Feed @line to both. With its '\n' the line is followed by the sentinel:
 * when we skip the line, glibc must give the sentinel, as we do next. */
static void check_line(const char *line, size_t len, int bufsiz, bool nl)
{
	struct mntent g, m;
	char *gbuf = malloc(bufsiz), *mbuf = malloc(bufsiz);  /* exact: overflows show */
	char *text = NULL;
	size_t tlen = 0;
	FILE *t = open_memstream(&text, &tlen);

	fwrite(line, 1, len, t);
	if (nl)
		fprintf(t, "\n%s\n", sentinel);
	fclose(t);
	FILE *f = tlen ? fmemopen(text, tlen, "r") : fopen("/dev/null", "re");
	assert_non_null(f);

	init_ent(&g);
	init_ent(&m);
	struct mntent *gr = getmntent_r(f, &g, gbuf, bufsiz);
	bool mr = mc_mntent_from_line(line, len, nl, &m, mbuf, bufsiz);
	if (!mr && nl)
		mr = mc_mntent_from_line(sentinel, strlen(sentinel), true, &m, mbuf, bufsiz);
	if (!gr != !mr)
		fail_msg("line [%.*s] bufsiz %d nl %d: glibc %s, ours %s", (int)len, line, bufsiz, nl,
			 gr ? "entry" : "NULL", mr ? "entry" : "NULL");
	if (gr) {
		assert_ptr_equal(gr, &g);
		expect_same(&g, &m, line, len, bufsiz, nl);
	}
	fclose(f);
	free(text);
	free(gbuf);
	free(mbuf);
}

static void test_generated_lines(void **state)
{
	const char *env = getenv("MC_MNTENT_LINES");
	unsigned n = env ? (unsigned)atoi(env) : 20000, skipped = 0;

	(void)state;
	rng = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < n; i++) {
		size_t len;
		char *line = gen_line(&len);
		char one;
		struct mntent m;

		for (size_t b = 0; b < NBUFSIZES; b++) {
			check_line(line, len, bufsizes[b], true);
			check_line(line, len, bufsizes[b], false);
		}
		init_ent(&m);
		skipped += !mc_mntent_from_line(line, len, true, &m, &one, 1);
		free(line);
	}
	assert_int_equal(skipped, n);          /* bufsiz 1: always "skip" */
}

/* Lines whose length lands on each side of bufsiz-1, ending in blanks:
 * whether the '\n' fits decides if trailing blanks are chopped. */
static void test_buffer_edges(void **state)
{
	static const char *tails[] = { " ", "\t", " 1", " 1 ", "  ", "1 2 " };

	(void)state;
	for (size_t b = 0; b < NBUFSIZES; b++)
		for (int d = -4; d <= 2; d++)
			for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
				char line[8192];
				int want = bufsizes[b] + d;
				if (want < 12)
					continue;
				int n = snprintf(line, sizeof line, "a b c %-*s%s", want - 6 - (int)strlen(tails[k]), "d", tails[k]);
				check_line(line, (size_t)n, bufsizes[b], true);
				check_line(line, (size_t)n, bufsizes[b], false);
			}
}

/* A whole file read by glibc in one stream, and by us line by line with the
 * same struct and buffer: state carried from one call to the next (fields
 * glibc leaves alone) must match too. Returns the number of entries. */
static unsigned check_stream(const char *text, size_t tlen, int bufsiz)
{
	char *gbuf = malloc(bufsiz), *mbuf = malloc(bufsiz);
	FILE *f = fmemopen((void *)text, tlen, "r");
	const char *p = text, *end = text + tlen;
	struct mntent g, m;
	unsigned entries = 0;

	init_ent(&g);
	init_ent(&m);
	while (getmntent_r(f, &g, gbuf, bufsiz)) {
		const char *line = p;
		size_t len = 0;
		bool mr = false;

		while (!mr && p < end) {
			const char *nl = memchr(p, '\n', end - p);
			line = p;
			len = nl - p;
			mr = mc_mntent_from_line(line, len, true, &m, mbuf, bufsiz);
			p = nl + 1;
		}
		if (!mr)
			fail_msg("bufsiz %d: glibc has entry %u, we have none", bufsiz, entries);
		expect_same(&g, &m, line, len, bufsiz, true);
		entries++;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		assert_false(mc_mntent_from_line(p, nl - p, true, &m, mbuf, bufsiz));
		p = nl + 1;
	}
	fclose(f);
	free(gbuf);
	free(mbuf);
	return entries;
}

static void test_stream(void **state)
{
	char *text = NULL;
	size_t tlen = 0;
	FILE *t = open_memstream(&text, &tlen);

	(void)state;
	rng = 12345;
	for (int i = 0; i < 3000; i++) {
		size_t len;
		char *line = gen_line(&len);
		fwrite(line, 1, len, t);
		fputc('\n', t);
		free(line);
	}
	fclose(t);
	for (size_t b = 0; b < NBUFSIZES; b++)
		assert_true(check_stream(text, tlen, bufsizes[b]) > 1500);
	free(text);
}

/* Where @p points: an offset into @buf, or -1 (glibc's static ""). */
static long at(const char *p, const char *buf, int bufsiz)
{
	return p >= buf && p < buf + bufsiz ? p - buf : -1;
}

/* The getmntent image (what the preload answers from) against glibc's
 * getmntent_r over the whole text, entry by entry: the same entries, the
 * same pointers into the buffer, the same bytes in all of the buffer, the
 * same stream position after each. Returns how many entries took the fast
 * path (a line copy, no emulation). */
static unsigned check_image(const char *text, size_t tlen, int bufsiz)
{
	struct mc_mntimg *img;
	char *gbuf = malloc(bufsiz), *mbuf = malloc(bufsiz);   /* exact: overflows show */
	FILE *f = fmemopen((void *)text, tlen, "r");
	struct mntent g, m;
	size_t i = 0;
	unsigned fast = 0, k = 0;

	assert_int_equal(mc_mntimg_build(text, tlen, NULL, &img), 0);
	assert_non_null(f);
	memset(gbuf, 0xa5, bufsiz);
	memset(mbuf, 0xa5, bufsiz);
	init_ent(&g);
	init_ent(&m);
	for (;; k++) {
		struct mntent *gr = getmntent_r(f, &g, gbuf, bufsiz);
		bool mr = mc_mntimg_next(img, text, &i, &m, mbuf, bufsiz);
		if (!gr != !mr)
			fail_msg("bufsiz %d entry %u: glibc %s, image %s", bufsiz, k, gr ? "entry" : "NULL",
				 mr ? "entry" : "NULL");
		if (!gr)
			break;
		const struct mc_ment *e = &img->ents[i - 1];
		const char *line = text + e->line_off;
		expect_same(&g, &m, line, e->line_len, bufsiz, e->flags & MC_MENT_NL);
		assert_int_equal(at(g.mnt_fsname, gbuf, bufsiz), at(m.mnt_fsname, mbuf, bufsiz));
		assert_int_equal(at(g.mnt_dir, gbuf, bufsiz), at(m.mnt_dir, mbuf, bufsiz));
		assert_int_equal(at(g.mnt_type, gbuf, bufsiz), at(m.mnt_type, mbuf, bufsiz));
		assert_int_equal(at(g.mnt_opts, gbuf, bufsiz), at(m.mnt_opts, mbuf, bufsiz));
		if (memcmp(gbuf, mbuf, bufsiz) != 0)
			fail_msg("line [%.*s] bufsiz %d: the buffers differ", (int)e->line_len, line, bufsiz);
		assert_int_equal(ftell(f), i < img->n ? img->ents[i].line_off : tlen);
		fast += (e->flags & MC_MENT_FAST) && (size_t)e->line_len + 2 <= (size_t)bufsiz;
	}
	assert_int_equal(i, img->n);
	fclose(f);
	mc_mntimg_free(img);
	free(gbuf);
	free(mbuf);
	return fast;
}

static char *read_file(const char *path, size_t *ret_len)
{
	char *text = NULL, chunk[65536];
	size_t n;
	FILE *t = open_memstream(&text, ret_len);
	FILE *in = fopen(path, "re");

	assert_non_null(in);
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		fwrite(chunk, 1, n, t);
	fclose(in);
	fclose(t);
	return text;
}

static void test_image(void **state)
{
	static const int sizes[] = { 2, 3, 17, 64, 100, 256, 4096, 1 << 16 };
	char *text = NULL;
	size_t tlen = 0, len;
	FILE *t = open_memstream(&text, &tlen);
	unsigned fast;

	(void)state;
	/* generated lines, the last without '\n', and the odd golden table */
	rng = 4242;
	for (int i = 0; i < 3000; i++) {
		char *line = gen_line(&len);
		fwrite(line, 1, len, t);
		if (i < 2999)
			fputc('\n', t);
		free(line);
	}
	fclose(t);
	for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
		fast = check_image(text, tlen, sizes[b]);
		if (sizes[b] >= 256)            /* the generator is mostly odd lines */
			assert_true(fast > 50);
	}
	free(text);

	const char *src = getenv("MC_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/golden/odd.mounts", src ? src : ".");
	text = read_file(path, &tlen);
	for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++)
		check_image(text, tlen, sizes[b]);
	assert_true(check_image(text, tlen, 4096) >= 9);   /* the fast lines of .expected */
	free(text);

	/* the kernel's shape, "a b c d 0 0", and one change away from it:
	 * mntent.c's plain_line() answers the first without the emulation
	 * and must refuse every other (the random lines above rarely end in
	 * " 0 0") */
	static const char *const near[] = {
		"dev /m tmpfs rw,size=4k 0 0",            /* plain */
		"dev  /m tmpfs rw 0 0", "dev /m\ttmpfs rw 0 0", " dev /m tmpfs rw 0 0",
		"#dev /m tmpfs rw 0 0", "dev /m\\040x tmpfs rw 0 0", "dev /m tmpfs rw 0 0 ",
		"dev /m tmpfs rw  0 0", "dev /m tmpfs rw 1 0 0", "dev /m tmpfs 0 0",
		"dev /m tmpfs rw x 0 0", "dev /m autofs rw,ignore 0 0", "dev /m autofs rw 0 0",
		"dev /m autofsx rw,ignore 0 0", "dev /m tmpfs rw\\ 0 0", "dev /m tmpfs rw 00 0",
		"dev /m tmpfs rw 0  0", "x y z w 0 0", "dev /m tmpfs rw,a=b\\\\c 0 0",
		"abcdefghijklmnop /m tmpfs rw 0 0", "d /m\\011 tmpfs rw 0 0", "dev  /m tmpfs 0 0",
		" dev /m tmpfs 0 0", "dev /m tmpfs  0 0", "dev /m\ttmpfs 0 0", "dev /m tmpfs\\ 0 0",
		"dev /m\tx tmpfs rw 0 0", "device-name /mnt/some\tdir tmpfs rw,size=64k 0 0",
	};
	text = NULL;
	t = open_memstream(&text, &tlen);
	rng = 777;
	for (int i = 0; i < 2000; i++) {
		fputs(near[pick(sizeof near / sizeof near[0])], t);
		if (i < 1999)
			fputc('\n', t);
	}
	fclose(t);
	for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++)
		check_image(text, tlen, sizes[b]);
	assert_true(check_image(text, tlen, 4096) > 100);
	free(text);
	/* and the fast way is the one taken, for the plain lines only */
	for (size_t k = 0; k < sizeof near / sizeof near[0]; k++) {
		struct mc_ment e = { 0 };
		bool plain = k == 0 || strcmp(near[k], "x y z w 0 0") == 0 ||
			     strncmp(near[k], "abcdefghijklmnop ", 17) == 0 ||
			     strstr(near[k], "autofsx");       /* not autofs */
		if (mc_mntent_plain(near[k], strlen(near[k]), &e) != plain)
			fail_msg("[%s]: plain %d expected", near[k], plain);
	}
	struct mc_ment e = { .freq = 9, .passno = 9 };
	const char *line = "device-name /mnt/some/dir tmpfs rw,size=64k 0 0";
	assert_true(mc_mntent_plain(line, strlen(line), &e));
	static const uint16_t field[4] = { 0, 12, 26, 32 }, end[4] = { 11, 25, 31, 43 };
	assert_memory_equal(e.field, field, sizeof field);
	assert_memory_equal(e.end, end, sizeof end);
	assert_int_equal(e.freq, 0);
	assert_int_equal(e.passno, 0);

	/* a NUL byte: glibc splits the lines its own way; no image */
	static const char nul[] = "a /a tmpfs rw 0 0\nb /b\0x tmpfs rw 0 0\nc /c tmpfs rw 0 0\n";
	struct mc_mntimg *none = NULL;
	assert_int_equal(mc_mntimg_build(nul, sizeof nul - 1, NULL, &none), -EINVAL);
	assert_null(none);

	/* the live table: every line without an escape is fast (the kernel
	 * writes no trailing blanks, and always freq and passno) */
	text = read_file("/proc/self/mounts", &tlen);
	struct mc_mntimg *img;
	assert_int_equal(mc_mntimg_build(text, tlen, NULL, &img), 0);
	check_image(text, tlen, 4096);
	check_image(text, tlen, 64);
	for (size_t i = 0; i < img->n; i++) {
		const struct mc_ment *e = &img->ents[i];
		if (!memchr(text + e->line_off, '\\', e->line_len) && !(e->flags & MC_MENT_FAST))
			fail_msg("live line %zu [%.*s] is not fast", i, (int)e->line_len, text + e->line_off);
	}
	mc_mntimg_free(img);
	free(text);
}

/* The indexes a daemon ships after the text (proto.h): what the client
 * takes is what it would have built, and an index that points outside the
 * text or the memfd, or out of order, is refused. */
static void test_shipped(void **state)
{
	char *text = NULL;
	size_t tlen = 0, len;
	FILE *t = open_memstream(&text, &tlen);

	(void)state;
	rng = 777;
	for (int i = 0; i < 500; i++) {
		char *line = gen_line(&len);
		fwrite(line, 1, len, t);
		if (i < 499)
			fputc('\n', t);
		free(line);
	}
	fclose(t);
	struct mc_snap *s = mc_snap_new(MC_MOUNTS, strdup(text), tlen, true);
	assert_non_null(s);
	const uint32_t *lines = mc_snap_lines(s);
	const struct mc_mntimg *img = mc_snap_mntimg(s);
	assert_non_null(lines);
	assert_non_null(img);
	size_t lines_size = ((size_t)lines[0] + 1) * sizeof *lines;
	/* The snapshot's image came from its line index (the daemon's way):
	 * the same as one found with a search for each line's end. */
	struct mc_mntimg *searched;
	assert_int_equal(mc_mntimg_build(text, tlen, NULL, &searched), 0);
	assert_int_equal(searched->n, img->n);
	assert_memory_equal(searched, img, mc_mntimg_size(img->n));
	mc_mntimg_free(searched);

	int fd = memfd_create("test", 0);
	assert_true(fd >= 0);
	assert_int_equal(mc_shm_write(fd, text, tlen, lines, img), 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	size_t size = (size_t)st.st_size;
	char *map = malloc(size), *bad = malloc(size);
	assert_int_equal(pread(fd, map, size, 0), (ssize_t)size);
	close(fd);

	const uint32_t *got_lines;
	const struct mc_mntimg *got_img;
	assert_int_equal(mc_shm_check(map, size, tlen, &got_lines, &got_img), 0);
	assert_memory_equal(map, text, tlen);
	assert_non_null(got_lines);
	assert_memory_equal(got_lines, lines, lines_size);
	assert_non_null(got_img);
	assert_memory_equal(got_img, img, mc_mntimg_size(img->n));

	/* each corruption alone must be refused */
	struct mc_shm_tail tail;
	size_t tail_at = (tlen + 7) & ~(size_t)7;
	memcpy(&tail, map + tail_at, sizeof tail);
	size_t fast = SIZE_MAX;
	for (size_t i = 0; i < img->n && fast == SIZE_MAX; i++)
		if (img->ents[i].flags & MC_MENT_FAST)
			fast = i;
	assert_true(fast != SIZE_MAX);
	for (int c = 0; c < 12; c++) {
		memcpy(bad, map, size);
		uint32_t *bl = (uint32_t *)(bad + tail.lines_off);
		struct mc_mntimg *bi = (struct mc_mntimg *)(bad + tail.img_off);
		struct mc_shm_tail *bt = (struct mc_shm_tail *)(bad + tail_at);
		size_t bsize = size;
		switch (c) {
		case 0: bl[3] = (uint32_t)tlen + 1; break;              /* past the text */
		case 1: bl[3] = bl[2]; break;                           /* not in order */
		case 2: bl[0] = (uint32_t)(size / 4); break;            /* past the memfd */
		case 3: bl[bl[0]] = (uint32_t)tlen - 1; break;          /* text not covered */
		case 4: bi->ents[fast].end[2] = (uint16_t)(bi->ents[fast].line_len + 2); break;
		case 5: bi->ents[fast].field[1] = (uint16_t)(bi->ents[fast].line_len + 2); break;
		case 6: bi->n = SIZE_MAX / 2; break;                    /* past the memfd */
		case 7: bi->ents[1].line_off = (uint32_t)tlen; break;   /* past the text */
		case 8: bt->magic ^= 1; break;
		case 9: bt->lines_off += 2; break;                      /* misaligned */
		case 10: /* a field that would start past the NUL at line_len,
			  * with no second NUL after it (no '\n'): unterminated */
			bi->ents[fast].flags &= (uint8_t)~MC_MENT_NL;
			bi->ents[fast].field[3] = (uint16_t)(bi->ents[fast].line_len + 1);
			break;
		case 11: bi->ents[img->n - 1].flags |= MC_MENT_NL; break;  /* a '\n' past the text */
		}
		if (mc_shm_check(bad, bsize, tlen, &got_lines, &got_img) != -EBADMSG)
			fail_msg("corruption %d was believed", c);
	}
	/* cut short: inside the tail header, inside the image */
	assert_int_equal(mc_shm_check(map, tail_at + 4, tlen, &got_lines, &got_img), -EBADMSG);
	assert_int_equal(mc_shm_check(map, size - 1, tlen, &got_lines, &got_img), -EBADMSG);

	/* no indexes: a tail with none is fine, and gives none */
	fd = memfd_create("test", 0);
	assert_int_equal(mc_shm_write(fd, text, tlen, NULL, NULL), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pread(fd, bad, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	assert_int_equal(mc_shm_check(bad, (size_t)st.st_size, tlen, &got_lines, &got_img), 0);
	assert_null(got_lines);
	assert_null(got_img);

	free(bad);
	free(map);
	mc_snap_unref(s);
	free(text);
}

/* Where a stream position falls in the image: a line's start (whatever
 * the hint), the end, or neither (a program mixed in fgets). */
static void test_image_find(void **state)
{
	static const char text[] = "a /a t o 0 0\nbb /b t o\nc /c t o 1 2";
	const size_t len = sizeof text - 1, n = 3;
	struct mc_mntimg *img;

	(void)state;
	assert_int_equal(mc_mntimg_build(text, len, NULL, &img), 0);
	assert_int_equal(img->n, n);
	for (size_t hint = 0; hint <= n + 1; hint++) {
		assert_int_equal(mc_mntimg_find(img, hint, 0), 0);
		assert_int_equal(mc_mntimg_find(img, hint, 13), 1);
		assert_int_equal(mc_mntimg_find(img, hint, 23), 2);
		assert_int_equal(mc_mntimg_find(img, hint, len), n);
		assert_int_equal(mc_mntimg_find(img, hint, 5), SIZE_MAX);
		assert_int_equal(mc_mntimg_find(img, hint, len - 1), SIZE_MAX);
		assert_int_equal(mc_mntimg_find(img, hint, len + 1), SIZE_MAX);
	}
	mc_mntimg_free(img);
}

/* mc_table_parse(MC_MOUNTS) stores what getmntent_r with a big enough
 * buffer returns, line by line; freq/passno only where it says "fast". */
static void check_table(const char *text, size_t tlen)
{
	struct mc_parse_error err = { 0 };
	struct mc_table t;
	static char buf[1 << 20];
	struct mntent g;
	size_t i = 0;

	assert_int_equal(mc_table_parse(text, tlen, MC_MOUNTS, &t, &err), 0);
	FILE *f = fmemopen((void *)text, tlen, "r");
	while (getmntent_r(f, &g, buf, sizeof buf)) {
		while (i < t.n && t.ents[i].mntent_skip)
			i++;
		if (i == t.n)
			fail_msg("glibc has more entries than the table's %zu", t.n);
		const struct mc_mount *m = &t.ents[i++];
		assert_string_equal(g.mnt_fsname, mc_str(&t, m->source));
		assert_string_equal(g.mnt_dir, mc_str(&t, m->target));
		assert_string_equal(g.mnt_type, mc_str(&t, m->fstype));
		assert_string_equal(g.mnt_opts, mc_str(&t, m->vfs_opts));

	}
	while (i < t.n)
		assert_true(t.ents[i++].mntent_skip);
	fclose(f);
	mc_table_free(&t);
}

static void test_table(void **state)
{
	char *text = NULL, chunk[65536];
	size_t tlen = 0, n;
	FILE *t = open_memstream(&text, &tlen);

	(void)state;
	rng = 777;
	for (int i = 0; i < 3000; i++) {
		char *line = gen_line(&n);
		fwrite(line, 1, n, t);
		if (i < 2999)                       /* the last line has no '\n' */
			fputc('\n', t);
		free(line);
	}
	fclose(t);
	check_table(text, tlen);
	free(text);

	/* and the live table, read once */
	FILE *in = fopen("/proc/self/mounts", "re");
	assert_non_null(in);
	t = open_memstream(&text, &tlen);
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		fwrite(chunk, 1, n, t);
	fclose(in);
	fclose(t);
	check_table(text, tlen);
	free(text);
}

/* glibc skips an autofs "ignore" line after filling the struct, so a next
 * line whose sscanf finds nothing (blanks cut at bufsiz-1) inherits its
 * freq and passno. */
static void test_autofs_then_cut_line(void **state)
{
	(void)state;
	for (int bufsiz = 32; bufsiz <= 4096; bufsiz *= 2) {
		char text[8192];
		int n = snprintf(text, sizeof text, "a /m autofs ignore 5 6\nb /b t o%*s9 9\n",
				 bufsiz, "");
		assert_int_equal(check_stream(text, (size_t)n, bufsiz), 1);
	}
}

static void test_decode_glibc(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a\\040b", "a b" },
		{ "\\011\\012\\134\\\\", "\t\n\\\\" },
		{ "\\134040", "\\040" },           /* decoded once, not twice */
		{ "\\\\040", "\\040" },
		{ "\\0431\\041\\101", "\\0431\\041\\101" }, /* only five escapes */
		{ "x\\04", "x\\04" },
		{ "x\\0", "x\\0" },
		{ "x\\", "x\\" },
		{ "\\", "\\" },
		{ "", "" },
		{ "\\040\\040", "  " },
		{ "\\0400", " 0" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];
		strcpy(buf, cases[i].in);
		assert_ptr_equal(mc_decode_glibc(buf), buf);
		assert_string_equal(buf, cases[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_glibc),
		cmocka_unit_test(test_buffer_edges),
		cmocka_unit_test(test_autofs_then_cut_line),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_image),
		cmocka_unit_test(test_image_find),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_generated_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
