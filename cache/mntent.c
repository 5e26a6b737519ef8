/* mntent.c: glibc 2.36's getmntent_r, on one line we already hold.
 *
 * The preload answers getmntent() from a snapshot; to be indistinguishable
 * it must reproduce glibc's quirks exactly: only bufsiz-1 bytes of a line
 * are used (fgets), trailing blanks are chopped only when the newline made it
 * into the buffer, fields split on runs of blanks, only five escapes are
 * decoded, freq/passno come from sscanf, and autofs entries carrying the
 * "ignore" option are skipped. tests/test_mntent.c checks every one of these
 * against the real glibc through fmemopen().
 *
 * The image below (mc_mntimg) is what the preload's getmntent answers from:
 * the emulation, run once per line and snapshot, tells which lines can be
 * answered with one copy. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mc.h"

char *mc_decode_glibc(char *buf)
{
	char *rp = buf, *wp = buf;

	do {
		if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '4' && rp[3] == '0') {
			*wp++ = ' ';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '1' && rp[3] == '1') {
			*wp++ = '\t';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '1' && rp[3] == '2') {
			*wp++ = '\n';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '\\') {
			*wp++ = '\\';
			rp += 1;
		} else if (rp[0] == '\\' && rp[1] == '1' && rp[2] == '3' && rp[3] == '4') {
			*wp++ = '\\';
			rp += 3;
		} else {
			*wp++ = *rp;
		}
	} while (*rp++ != '\0');
	return buf;
}

/* The next blank-separated field, decoded, or "" when none is left. */
static char *next_field(char **head)
{
	char *cp = strsep(head, " \t");

	if (*head)
		*head += strspn(*head, " \t");
	return cp ? mc_decode_glibc(cp) : (char *)"";
}

bool mc_mntent_from_line(const char *line, size_t len, bool has_newline,
			 struct mntent *mp, char *buffer, int bufsiz)
{
	/* (1) what fgets(buffer, bufsiz) would have put in the buffer */
	if (bufsiz <= 1) {
		if (bufsiz == 1)
			buffer[0] = '\0';
		return false;
	}
	size_t avail = (size_t)bufsiz - 1;
	size_t full = len + (has_newline ? 1 : 0);
	size_t take = full < avail ? full : avail;
	size_t copy = take < len ? take : len;

	memcpy(buffer, line, copy);
	if (take > len)
		buffer[len] = '\n';
	buffer[take] = '\0';

	/* (2) chop the newline and trailing blanks, only if the newline fit */
	char *end = strchr(buffer, '\n');
	if (end) {
		while (end != buffer && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
	}

	/* (3) skip empty and comment lines */
	char *head = buffer + strspn(buffer, " \t");
	if (head[0] == '\0' || head[0] == '#')
		return false;

	/* (4) fsname, dir, type, opts; (5) freq and passno */
	mp->mnt_fsname = next_field(&head);
	mp->mnt_dir = next_field(&head);
	mp->mnt_type = next_field(&head);
	mp->mnt_opts = next_field(&head);
	switch (head ? sscanf(head, " %d %d ", &mp->mnt_freq, &mp->mnt_passno) : 0) {
	case 0:
		mp->mnt_freq = 0;
		/* fall through */
	case 1:
		mp->mnt_passno = 0;
		/* fall through */
	default:
		break;
	}

	/* (6) glibc 2.35+: autofs mounts marked "ignore" are not listed */
	if (strcmp(mp->mnt_type, "autofs") == 0 && hasmntopt(mp, "ignore")) {
		memset(mp, 0, sizeof(*mp));
		return false;
	}
	return true;
}

/* ---- the getmntent image ------------------------------------------------
 * For almost every line, what glibc leaves in a big enough buffer is the
 * line itself with a NUL after each of the four fields and two at the end
 * (the '\n' and fgets' terminator). So an entry needs no copy of its own:
 * the text is the arena, and the image records where the NULs go. A line is
 * "fast" only if that rebuild equals, byte for byte, what the emulation
 * above leaves (checked here, once per snapshot); all others (escapes that
 * glibc decodes, trailing blanks, autofs "ignore", comments, fields glibc
 * fills from its static "", freq/passno sscanf left alone) are answered
 * through the emulation every time. */
/* The kernel's own line, "fsname dir type opts 0 0": six fields split by
 * single spaces, no tab, no backslash, no leading blank, no '#' first, no
 * trailing blank, not autofs. What glibc does to it follows from the
 * steps above without running them: strsep() puts a NUL on each of the
 * first four spaces, the '\n' (if any) becomes a NUL and fgets' NUL comes
 * after it, sscanf() reads 0 and 0. Cost: one pass over the line, eight
 * bytes a step. Building the image of 10,000 such lines took 2.5 ms
 * through the emulation (sscanf, strsep, strspn, the decode: half a
 * kernel read of the table, paid by mountcached per capture and by each
 * process that builds its own), and 0.5 ms this way. Any other line takes
 * the emulation. tests/test_mntent.c checks both against glibc itself. */
bool mc_mntent_plain(const char *line, size_t len, struct mc_ment *e)
{
	static const char tail[] = " 0 0";
	size_t k = 0, start = 0;

	if (len < sizeof tail - 1 + 7 || len + 2 > UINT16_MAX || line[0] == '#' ||
	    memcmp(line + len - (sizeof tail - 1), tail, sizeof tail - 1) != 0)
		return false;
	len -= sizeof tail - 1;
	/* Eight bytes a step; a byte at a time only in a word that holds a
	 * space, a tab or a backslash (five words of a line's ~9). */
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0 && len - i >= 8) {
			uint64_t w = mc_word_at(line + i);
			if (!(mc_bytes_eq(w, ' ') | mc_bytes_eq(w, '\t') | mc_bytes_eq(w, '\\'))) {
				i += 7;
				continue;
			}
		}
		char c = line[i];
		if (c == '\t' || c == '\\')
			return false;
		if (c != ' ')
			continue;
		if (i == start || k == 3)
			return false;           /* an empty field, or a fifth one */
		e->field[k] = (uint16_t)start;
		e->end[k++] = (uint16_t)i;
		start = i + 1;
	}
	if (k != 3 || start == len)
		return false;
	e->field[3] = (uint16_t)start;
	e->end[3] = (uint16_t)len;
	if (e->end[2] - e->field[2] == 6 && memcmp(line + e->field[2], "autofs", 6) == 0)
		return false;           /* glibc may skip it: "ignore" */
	e->freq = e->passno = 0;
	return true;
}

/* Mark @e (its line placed already) fast if it is; @scratch and @check
 * hold line_len + 2 bytes. */
static void classify(const char *text, struct mc_ment *e, char *scratch, char *check)
{
	if (mc_mntent_plain(text + e->line_off, e->line_len, e)) {
		e->flags |= MC_MENT_FAST;
		return;
	}
	/* INT_MIN marks fields glibc's sscanf did not set: such an entry
	 * shows the previous entry's values, so it is never fast. */
	struct mntent me = { .mnt_freq = INT_MIN, .mnt_passno = INT_MIN };
	const char *line = text + e->line_off;
	size_t len = e->line_len;
	bool nl = e->flags & MC_MENT_NL;
	size_t img = len + (nl ? 2 : 1);        /* bytes glibc writes */

	if (len + 2 > UINT16_MAX ||
	    !mc_mntent_from_line(line, len, nl, &me, scratch, (int)len + 2) ||
	    me.mnt_freq == INT_MIN || me.mnt_passno == INT_MIN)
		return;
	const char *f[4] = { me.mnt_fsname, me.mnt_dir, me.mnt_type, me.mnt_opts };
	for (int k = 0; k < 4; k++) {
		if (f[k] < scratch || f[k] >= scratch + img)
			return;                 /* glibc's static "" */
		e->field[k] = (uint16_t)(f[k] - scratch);
		e->end[k] = (uint16_t)(e->field[k] + strlen(f[k]));
	}
	struct mntent rebuilt;
	mc_ment_fill(e, text, &rebuilt, check);
	if (memcmp(check, scratch, img) != 0)
		return;
	e->freq = me.mnt_freq;
	e->passno = me.mnt_passno;
	e->flags |= MC_MENT_FAST;
}

void mc_ment_make(const char *line, size_t len, bool nl, struct mc_ment *e, char *scratch)
{
	memset(e, 0, sizeof *e);
	e->line_len = (uint32_t)len;
	e->flags = nl ? MC_MENT_NL : 0;
	size_t scratch_len = (len < UINT16_MAX ? len : UINT16_MAX) + 2;
	classify(line, e, scratch, scratch + scratch_len);
}

size_t mc_mntimg_size(size_t n)
{
	return offsetof(struct mc_mntimg, ents) + n * sizeof(struct mc_ment);
}

/* The end of line @i, which starts at @p: past its '\n', or @end. From
 * the line index if there is one (mc_snap_lines(): the daemon makes it for
 * every snapshot it ships), else a memchr(): a 10,000-line image was ~100
 * us (a sixth) faster from the index, and making an index only for this
 * (a memory map and a walk of its own) was slower than the memchr()s. */
static const char *line_end(const char *text, const char *p, const char *end, const uint32_t *lines, size_t i)
{
	if (lines)
		return text + lines[i + 1];
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

int mc_mntimg_build(const char *text, size_t len, const uint32_t *lines, struct mc_mntimg **ret)
{
	size_t n = 0, longest = 0;
	const char *p, *q, *end = text + len;

	if (len > UINT32_MAX)
		return -E2BIG;
	/* A NUL byte: glibc's fgets keeps it but its strchr stops there, so
	 * it splits the text into lines its own way (a line's tail can
	 * swallow the next line). No mount table has one: glibc reads it. */
	if (memchr(text, '\0', len))
		return -EINVAL;
	for (p = text; p < end; p = q, n++) {
		q = line_end(text, p, end, lines, n);
		if ((size_t)(q - p) > longest)
			longest = (size_t)(q - p);
	}
	/* Lines too long for a fast entry need no scratch of their size. */
	size_t scratch_len = (longest < UINT16_MAX ? longest : UINT16_MAX) + 2;
	struct mc_mntimg *img = mc_zalloc(mc_mntimg_size(n));
	char *scratch = mc_zalloc(2 * scratch_len);
	if (!img || !scratch) {
		mc_zfree(img, mc_mntimg_size(n));
		mc_zfree(scratch, 2 * scratch_len);
		return -ENOMEM;
	}
	img->n = n;
	size_t i = 0;
	for (p = text; p < end; p = q, i++) {
		struct mc_ment *e = &img->ents[i];
		q = line_end(text, p, end, lines, i);
		bool nl = q[-1] == '\n';
		mc_ment_make(p, (size_t)(q - p) - nl, nl, e, scratch);
		e->line_off = (uint32_t)(p - text);
	}
	mc_zfree(scratch, 2 * scratch_len);
	*ret = img;
	return 0;
}

void mc_mntimg_free(struct mc_mntimg *img)
{
	if (img)
		mc_zfree(img, mc_mntimg_size(img->n));
}

size_t mc_mntimg_find(const struct mc_mntimg *img, size_t hint, uint64_t pos)
{
	if (hint < img->n && img->ents[hint].line_off == pos)
		return hint;
	size_t lo = 0, hi = img->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (img->ents[mid].line_off < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->n)
		return img->ents[lo].line_off == pos ? lo : SIZE_MAX;
	/* past the last line's start: its end, or inside it */
	const struct mc_ment *last = img->n ? &img->ents[img->n - 1] : NULL;
	uint64_t end = last ? (uint64_t)last->line_off + last->line_len + (last->flags & MC_MENT_NL ? 1 : 0) : 0;
	return pos == end ? img->n : SIZE_MAX;
}

bool mc_mntimg_next(const struct mc_mntimg *img, const char *text, size_t *io_i,
		    struct mntent *mp, char *buf, int bufsiz)
{
	size_t i = *io_i;
	bool r = false;

	for (; !r && i < img->n; i++) {
		const struct mc_ment *e = &img->ents[i];
		const char *line = text + e->line_off;
		if (likely((e->flags & MC_MENT_FAST) && (size_t)e->line_len + 2 <= (size_t)bufsiz)) {
			mc_ment_fill(e, text, mp, buf);
			r = true;
		} else {
			/* A short buffer, or a line glibc treats its own way
			 * (an autofs "ignore" line is parsed into the caller's
			 * buffer and entry before it is skipped: that shows). */
			r = mc_mntent_from_line(line, e->line_len, e->flags & MC_MENT_NL, mp, buf, bufsiz);
		}
	}
	*io_i = i;
	return r;
}
