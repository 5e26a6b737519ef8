/* fuzz_mntent: mc_mntent_from_line() (cache/mntent.c) against glibc's own
 * getmntent_r, which reads the same bytes through fmemopen().
 *
 * The input is a mounts text. glibc reads it as one stream; we walk it
 * line by line with one struct and one buffer, as the preload does, so
 * state carried between calls (fields glibc leaves alone) is compared too.
 * Every buffer size in the list is tried. Left out, as in
 * tests/test_mntent.c: inputs with a NUL byte (glibc's fgets keeps them,
 * strchr stops at them: a different line split no mount table has) and
 * buffer size 1 (glibc never returns). */
#include <mntent.h>
#include <stdbool.h>
#include <string.h>

#include "mc.h"
#include "fuzz.h"

static void init_ent(struct mntent *m)
{
	memset(m, 0, sizeof *m);
	m->mnt_freq = -77;
	m->mnt_passno = -99;
}

static void stream_diff(const char *text, size_t len, int bufsiz)
{
	char *gbuf = malloc(bufsiz), *mbuf = malloc(bufsiz);   /* exact: overflows show */
	FILE *f = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "re");
	const char *p = text, *end = text + len;
	struct mntent g, m;
	unsigned k = 0;

	FUZZ_CHECK(f && gbuf && mbuf, "setup");
	init_ent(&g);
	init_ent(&m);
	while (getmntent_r(f, &g, gbuf, bufsiz)) {
		const char *line = p;
		size_t l = 0;
		bool mr = false;

		while (!mr && p < end) {
			const char *nl = memchr(p, '\n', end - p);
			line = p;
			l = (nl ? nl : end) - p;
			mr = mc_mntent_from_line(line, l, nl != NULL, &m, mbuf, bufsiz);
			p = nl ? nl + 1 : end;
		}
		FUZZ_CHECK(mr, "bufsiz %d: glibc has entry %u, we have none", bufsiz, k);
		FUZZ_CHECK(!strcmp(g.mnt_fsname, m.mnt_fsname) && !strcmp(g.mnt_dir, m.mnt_dir) &&
			   !strcmp(g.mnt_type, m.mnt_type) && !strcmp(g.mnt_opts, m.mnt_opts) &&
			   g.mnt_freq == m.mnt_freq && g.mnt_passno == m.mnt_passno,
			   "line [%.*s] bufsiz %d:\n  glibc [%s] [%s] [%s] [%s] %d %d\n  ours  [%s] [%s] [%s] [%s] %d %d",
			   (int)l, line, bufsiz, g.mnt_fsname, g.mnt_dir, g.mnt_type, g.mnt_opts, g.mnt_freq,
			   g.mnt_passno, m.mnt_fsname, m.mnt_dir, m.mnt_type, m.mnt_opts, m.mnt_freq, m.mnt_passno);
		k++;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t l = (nl ? nl : end) - p;
		FUZZ_CHECK(!mc_mntent_from_line(p, l, nl != NULL, &m, mbuf, bufsiz),
			   "bufsiz %d: we list [%.*s], glibc does not", bufsiz, (int)l, p);
		p = nl ? nl + 1 : end;
	}
	fclose(f);
	free(gbuf);
	free(mbuf);
}

/* The getmntent image (what the preload answers from) against glibc over
 * the same stream: the same entries, pointers, buffer bytes and position. */
static long at(const char *p, const char *buf, int bufsiz)
{
	return p >= buf && p < buf + bufsiz ? p - buf : -1;
}

static void image_diff(const struct mc_mntimg *img, const char *text, size_t len, int bufsiz)
{
	char *gbuf = malloc(bufsiz), *mbuf = malloc(bufsiz);
	FILE *f = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "re");
	struct mntent g, m;
	size_t i = 0;

	FUZZ_CHECK(f && gbuf && mbuf, "setup");
	memset(gbuf, 0x5a, bufsiz);
	memset(mbuf, 0x5a, bufsiz);
	init_ent(&g);
	init_ent(&m);
	for (unsigned k = 0;; k++) {
		struct mntent *gr = getmntent_r(f, &g, gbuf, bufsiz);
		bool mr = mc_mntimg_next(img, text, &i, &m, mbuf, bufsiz);
		FUZZ_CHECK(!gr == !mr, "bufsiz %d entry %u: glibc %d image %d", bufsiz, k, !!gr, mr);
		if (!gr)
			break;
		const struct mc_ment *e = &img->ents[i - 1];
		FUZZ_CHECK(at(g.mnt_fsname, gbuf, bufsiz) == at(m.mnt_fsname, mbuf, bufsiz) &&
			   at(g.mnt_dir, gbuf, bufsiz) == at(m.mnt_dir, mbuf, bufsiz) &&
			   at(g.mnt_type, gbuf, bufsiz) == at(m.mnt_type, mbuf, bufsiz) &&
			   at(g.mnt_opts, gbuf, bufsiz) == at(m.mnt_opts, mbuf, bufsiz) &&
			   !strcmp(g.mnt_fsname, m.mnt_fsname) && !strcmp(g.mnt_dir, m.mnt_dir) &&
			   !strcmp(g.mnt_type, m.mnt_type) && !strcmp(g.mnt_opts, m.mnt_opts) &&
			   g.mnt_freq == m.mnt_freq && g.mnt_passno == m.mnt_passno,
			   "line [%.*s] bufsiz %d fast %d: image entry differs", (int)e->line_len,
			   text + e->line_off, bufsiz, e->flags & MC_MENT_FAST);
		FUZZ_CHECK(!memcmp(gbuf, mbuf, bufsiz), "line [%.*s] bufsiz %d fast %d: buffers differ",
			   (int)e->line_len, text + e->line_off, bufsiz, e->flags & MC_MENT_FAST);
		FUZZ_CHECK(ftell(f) == (long)(i < img->n ? img->ents[i].line_off : len),
			   "bufsiz %d entry %u: position", bufsiz, k);
	}
	FUZZ_CHECK(i == img->n, "image has lines left");
	fclose(f);
	free(gbuf);
	free(mbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int bufsizes[] = { 2, 3, 4, 5, 8, 13, 17, 32, 64, 256, 4096 };

	if (memchr(data, '\0', size) || size > (1u << 20))
		return 0;
	char *text = malloc(size ? size : 1);
	if (size)
		memcpy(text, data, size);
	for (size_t i = 0; i < sizeof bufsizes / sizeof bufsizes[0]; i++)
		stream_diff(text, size, bufsizes[i]);
	/* and one size picked by the input itself */
	stream_diff(text, size, 2 + (int)(size ? (unsigned char)text[0] * 7u % 300u : 0));
	struct mc_mntimg *img;
	FUZZ_CHECK(mc_mntimg_build(text, size, NULL, &img) == 0, "image");   /* no NUL here */
	for (size_t i = 0; i < sizeof bufsizes / sizeof bufsizes[0]; i++)
		image_diff(img, text, size, bufsizes[i]);
	image_diff(img, text, size, (int)size + 2);             /* every line fits */
	/* The daemon's way: a snapshot's image, built from its line index
	 * (mc_snap_lines() first, as the daemon's seal() does): the same. */
	struct mc_snap *s = mc_snap_borrow(MC_MOUNTS, text, size, true);
	FUZZ_CHECK(s && mc_snap_lines(s), "a snapshot and its line index");
	const struct mc_mntimg *from_lines = mc_snap_mntimg(s);
	FUZZ_CHECK(from_lines, "image from the line index");
	FUZZ_CHECK(from_lines->n == img->n && memcmp(from_lines, img, mc_mntimg_size(img->n)) == 0,
		   "the image from the line index differs");
	mc_snap_unref(s);
	mc_mntimg_free(img);
	free(text);
	return 0;
}
