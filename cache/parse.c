/* parse.c: the one parser for mountinfo and mounts text.
 *
 * Output is compact: one array of struct mc_mount and one string arena for
 * the whole table, no allocation per field. Input is untrusted (it may come
 * from a shared segment or a fuzzer): every length is checked, any byte
 * sequence yields either a table or -EINVAL with the line number. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"

/* The kernel has no limit, but a mount point is at most PATH_MAX bytes
 * (x4 when escaped) and options rarely pass a few KiB (overlayfs with many
 * layers). Anything longer is not a table we want to serve. */
#define MC_LINE_MAX (256u << 10)
/* Strings a line contributes to the arena, each with its NUL. */
#define MC_STRS_PER_LINE 8

static bool is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

size_t mc_unescape_octal(char *s, size_t len)
{
	size_t r = 0, w = 0;

	while (r < len) {
		/* \ooo up to \377; anything else is kept as it is */
		if (s[r] == '\\' && r + 3 < len && s[r + 1] >= '0' && s[r + 1] <= '3' &&
		    is_odigit(s[r + 2]) && is_odigit(s[r + 3])) {
			s[w++] = (char)((s[r + 1] - '0') << 6 | (s[r + 2] - '0') << 3 | (s[r + 3] - '0'));
			r += 4;
		} else {
			s[w++] = s[r++];
		}
	}
	return w;
}

struct arena {
	char *p;
	size_t len, cap;
};

/* Append @n bytes and a NUL; the arena was sized for the worst case, the
 * check only guards against a sizing bug. */
static int put(struct arena *a, const char *s, size_t n, uint32_t *ret_off)
{
	if (n + 1 > a->cap - a->len || a->len > UINT32_MAX)
		return -EOVERFLOW;
	if (n)
		memcpy(a->p + a->len, s, n);
	a->p[a->len + n] = '\0';
	*ret_off = (uint32_t)a->len;
	a->len += n + 1;
	return 0;
}

static int put_unescaped(struct arena *a, const char *s, size_t n, uint32_t *ret_off)
{
	uint32_t off;
	int r = put(a, s, n, &off);
	if (r < 0)
		return r;
	size_t m = mc_unescape_octal(a->p + off, n);
	a->p[off + m] = '\0';
	a->len = off + m + 1;
	*ret_off = off;
	return 0;
}

/* Tokeniser over one line: fields are separated by single spaces, as the
 * kernel writes them (it escapes every space, tab and newline in names). */
struct tok {
	const char *p, *end;
	bool done;                        /* the last field was taken */
};

/* The first @c in [@p, @end), or NULL. Eight bytes a step, inline: the
 * fields and options it looks through are 2-40 bytes, where a memchr()
 * call's set-up was most of the time (next_field()'s memchr() was over
 * half of deriving a 10,000-line mounts text, ~1.9 ms). */
static inline const char *find_byte(const char *p, const char *end, unsigned char c)
{
	for (; end - p >= 8; p += 8) {
		uint64_t z = mc_bytes_eq(mc_word_at(p), c);
		if (z)
			return p + ((unsigned)__builtin_ctzll(z) >> 3);
	}
	for (; p < end; p++)
		if ((unsigned char)*p == c)
			return p;
	return NULL;
}

static bool next_field(struct tok *t, const char **ret_s, size_t *ret_n, bool may_be_empty)
{
	if (t->done || (t->p == t->end && !may_be_empty))
		return false;
	const char *sp = find_byte(t->p, t->end, ' ');
	const char *e = sp ? sp : t->end;
	if (e == t->p && !may_be_empty)
		return false;                     /* empty field */
	*ret_s = t->p;
	*ret_n = e - t->p;
	t->p = sp ? sp + 1 : t->end;
	t->done = !sp;
	return true;
}

static bool next_tok(struct tok *t, const char **ret_s, size_t *ret_n)
{
	return next_field(t, ret_s, ret_n, false);
}

static bool parse_uint(const char *s, size_t n, unsigned *ret)
{
	unsigned long v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > INT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool parse_int(const char *s, size_t n, int *ret)
{
	unsigned v;
	if (!parse_uint(s, n, &v))
		return false;
	*ret = (int)v;
	return true;
}

/* "shared:N", "master:N", "propagate_from:N", "unbindable" (7) */
static bool parse_optional(struct mc_mount *m, const char *s, size_t n)
{
	static const struct { const char *name; unsigned flag; size_t off; } tags[] = {
		{ "shared:",         MC_PROP_SHARED, offsetof(struct mc_mount, shared) },
		{ "master:",         MC_PROP_SLAVE,  offsetof(struct mc_mount, master) },
		{ "propagate_from:", MC_PROP_FROM,   offsetof(struct mc_mount, propagate_from) },
	};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		size_t l = strlen(tags[i].name);
		if (n > l && memcmp(s, tags[i].name, l) == 0) {
			m->prop |= tags[i].flag;
			return parse_int(s + l, n - l, (int *)((char *)m + tags[i].off));
		}
	}
	if (n == 10 && memcmp(s, "unbindable", 10) == 0)
		m->prop |= MC_PROP_UNBINDABLE;
	/* Unknown tags are legal: the format reserves them for the future. */
	return true;
}

static const char *parse_mountinfo_line(struct mc_mount *m, const char *line, size_t len,
					struct arena *a)
{
	struct tok t = { line, line + len, false };
	const char *s, *opt_start = NULL, *opt_end = NULL;
	size_t n;
	unsigned u;

	/* (1) id */
	if (!next_tok(&t, &s, &n) || !parse_int(s, n, &m->id))
		return "mount id";
	/* (2) parent id */
	if (!next_tok(&t, &s, &n) || !parse_int(s, n, &m->parent))
		return "parent id";
	/* (3) major:minor */
	if (!next_tok(&t, &s, &n))
		return "major:minor";
	const char *colon = memchr(s, ':', n);
	if (!colon || !parse_uint(s, colon - s, &m->major) ||
	    !parse_uint(colon + 1, s + n - colon - 1, &u))
		return "major:minor";
	m->minor = u;
	/* (4) root */
	if (!next_tok(&t, &s, &n) || put_unescaped(a, s, n, &m->root) < 0)
		return "root";
	/* (5) mount point */
	if (!next_tok(&t, &s, &n) || put_unescaped(a, s, n, &m->target) < 0)
		return "mount point";
	/* (6) mount options */
	if (!next_tok(&t, &s, &n) || put_unescaped(a, s, n, &m->vfs_opts) < 0)
		return "mount options";
	/* (7) optional fields, up to (8) the "-" separator */
	for (;;) {
		if (!next_tok(&t, &s, &n))
			return "separator";
		if (n == 1 && s[0] == '-')
			break;
		if (!parse_optional(m, s, n))
			return "optional field";
		if (!opt_start)
			opt_start = s;
		opt_end = s + n;
	}
	if (put(a, opt_start, opt_start ? (size_t)(opt_end - opt_start) : 0, &m->optional) < 0)
		return "optional field";
	/* (9) fs type */
	if (!next_tok(&t, &s, &n) || put_unescaped(a, s, n, &m->fstype) < 0)
		return "fs type";
	/* (10) source: the kernel writes an empty one as an empty field
	 * (mount -t tmpfs "" /mnt), so here two spaces are legal */
	if (!next_field(&t, &s, &n, true) || put_unescaped(a, s, n, &m->source) < 0)
		return "source";
	/* (11) super options; later fields, if a kernel ever adds any, are ignored */
	if (!next_tok(&t, &s, &n) || put_unescaped(a, s, n, &m->fs_opts) < 0)
		return "super options";
	return NULL;
}

/* The mounts format is what glibc's getmntent reads, so it is parsed by the
 * glibc emulation itself: what we store is exactly what getmntent returns. */
static const char *parse_mounts_line(struct mc_mount *m, const char *line, size_t len,
				     bool has_newline, struct arena *a, char *scratch)
{
	struct mntent me = { 0 };

	if (!mc_mntent_from_line(line, len, has_newline, &me, scratch, (int)len + 2)) {
		m->mntent_skip = true;
		m->source = m->target = m->fstype = m->vfs_opts = 0;
		return NULL;
	}
	/* The fields are decoded in place in the buffer, split by NULs: one
	 * copy of it holds all four. (The preload's getmntent answers from
	 * the snapshot's mc_mntimg, not from here.) */
	size_t take = len + (has_newline ? 1 : 0);
	uint32_t off;
	if (put(a, scratch, take, &off) < 0)
		return "arena";
	const char *f[4] = { me.mnt_fsname, me.mnt_dir, me.mnt_type, me.mnt_opts };
	uint32_t *dst[4] = { &m->source, &m->target, &m->fstype, &m->vfs_opts };
	for (int i = 0; i < 4; i++) {
		if (f[i] >= scratch && f[i] <= scratch + take)
			*dst[i] = off + (uint32_t)(f[i] - scratch);
		else                            /* glibc's static "" */
			*dst[i] = 0;
	}
	m->freq = me.mnt_freq;
	m->passno = me.mnt_passno;
	return NULL;
}

/* The number of lines, and the longest one's length (without its '\n'). */
static size_t count_lines(const char *text, size_t len, size_t *ret_longest)
{
	size_t n = 0, longest = 0;
	const char *p = text, *nl;

	for (; (nl = memchr(p, '\n', text + len - p)); p = nl + 1, n++)
		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
	if (p < text + len) {
		n++;
		if ((size_t)(text + len - p) > longest)
			longest = (size_t)(text + len - p);
	}
	*ret_longest = longest;
	return n;
}

int mc_table_parse(const char *text, size_t len, enum mc_format fmt,
		   struct mc_table *ret_table, struct mc_parse_error *err)
{
	struct mc_table t = { .fmt = fmt };
	struct arena a = { 0 };
	char *scratch = NULL;
	size_t line_no = 0;
	const char *what = NULL;
	int r = -EINVAL;

	if (len == 0) {
		what = "empty table";
		goto fail;
	}
	if (len > MC_CAPTURE_MAX) {
		r = -E2BIG;
		what = "table too large";
		goto fail;
	}
	size_t longest;
	t.n = count_lines(text, len, &longest);
	t.ents = calloc(t.n, sizeof *t.ents);
	/* Decoded fields never grow; each adds at most a NUL. Offset 0 is "". */
	a.cap = len + t.n * MC_STRS_PER_LINE + 1;
	a.p = malloc(a.cap);
	/* Sized to the longest line, not to MC_LINE_MAX: 256 KiB would be an
	 * mmap + munmap (and fresh page faults) on every parse. */
	if (fmt == MC_MOUNTS)
		scratch = malloc((longest < MC_LINE_MAX ? longest : MC_LINE_MAX) + 2);
	if (!t.ents || !a.p || (fmt == MC_MOUNTS && !scratch)) {
		r = -ENOMEM;
		what = "out of memory";
		goto fail;
	}
	a.p[0] = '\0';
	a.len = 1;

	for (const char *p = text, *end = text + len; p < end; ) {
		const char *nl = memchr(p, '\n', end - p);
		size_t l = (nl ? nl : end) - p;
		struct mc_mount *m = &t.ents[line_no];

		line_no++;
		if (l > MC_LINE_MAX) {
			r = -E2BIG;
			what = "line too long";
			goto fail;
		}
		if (memchr(p, '\0', l)) {
			what = "NUL byte";
			goto fail;
		}
		m->line_off = (uint32_t)(p - text);
		m->line_len = (uint32_t)l;
		m->idx = line_no - 1;
		if (fmt == MC_MOUNTINFO)
			what = parse_mountinfo_line(m, p, l, &a);
		else
			what = parse_mounts_line(m, p, l, nl != NULL, &a, scratch);
		if (what)
			goto fail;
		p += l + (nl ? 1 : 0);
	}
	free(scratch);
	t.arena = a.p;
	t.arena_len = a.len;
	*ret_table = t;
	return 0;
fail:
	if (err) {
		err->line = line_no;
		err->what = what;
	}
	MC_DEBUG("parse: line %zu: %s", line_no, what);
	free(scratch);
	free(a.p);
	free(t.ents);
	return r;
}

void mc_table_free(struct mc_table *t)
{
	if (!t)
		return;
	mc_index_free(t);
	free(t->ents);
	free(t->arena);
	memset(t, 0, sizeof *t);
}

/* ---- the mounts text from a mountinfo capture ----------------------------
 * One line of /proc/<pid>/mounts is made of fields its mountinfo line
 * already has (fs/proc_namespace.c, show_vfsmnt() beside show_mountinfo()):
 *
 *   mountinfo: ID PARENT MAJ:MIN ROOT POINT M_RW[,mnt] [optional] - TYPE SOURCE S_RW[,sb][,fs]
 *   mounts:    SOURCE POINT TYPE RW[,sb][,mnt][,fs] 0 0
 *
 * RW is "ro" when either the mount or its superblock is; the same
 * functions print every shared field, from the same dentries, with the
 * same escapes. The one thing the mountinfo text does not say is where
 * [,sb] (the superblock flags sync, dirsync, lazytime, once mand, and an
 * LSM's options such as SELinux's context=) ends and [,fs] (the
 * filesystem's own) begins. So a line whose superblock options hold any
 * token that could be one of those is not derived: -EOPNOTSUPP, and the
 * caller reads the kernel's mounts text. Otherwise [,sb] is empty and the
 * line is exact. Cost: one pass over the text, ~a copy. */
static bool maybe_sb_opt(const char *s, size_t n)
{
	/* Exactly these five, or starting with these five; by first letter
	 * (every option of every line comes here). */
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
#define STARTS(lit) (n >= sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
	switch (n ? s[0] : '\0') {
	case 's': return IS("sync") || IS("seclabel") || STARTS("smackfs");
	case 'd': return IS("dirsync") || STARTS("defcontext=");
	case 'm': return IS("mand");
	case 'l': return IS("lazytime");
	case 'c': return STARTS("context=");
	case 'f': return STARTS("fscontext=");
	case 'r': return STARTS("rootcontext=");
	default: return false;
	}
#undef IS
#undef STARTS
}

/* "rw" or "ro", then ",..." or nothing: the options after the first. */
static bool split_rw(const char *s, size_t n, bool *ret_ro, const char **ret_rest, size_t *ret_n)
{
	if (n < 2 || (n > 2 && s[2] != ',') || s[0] != 'r' || (s[1] != 'o' && s[1] != 'w'))
		return false;
	*ret_ro = s[1] == 'o';
	*ret_rest = s + 2;
	*ret_n = n - 2;
	return true;
}

static int mounts_line_from(const char *line, size_t len, struct mc_buf *out)
{
	struct tok t = { line, line + len, false };
	const char *point, *mnt, *type, *src, *sb, *s;
	size_t point_n, mnt_n, type_n, src_n, sb_n, n;
	bool mnt_ro, sb_ro;

	for (int i = 0; i < 4; i++)             /* id, parent, maj:min, root */
		if (!next_tok(&t, &s, &n))
			return -EINVAL;
	if (!next_tok(&t, &point, &point_n) || !next_tok(&t, &s, &n) ||
	    !split_rw(s, n, &mnt_ro, &mnt, &mnt_n))
		return -EINVAL;
	do {                                    /* optional fields, then "-" */
		if (!next_tok(&t, &s, &n))
			return -EINVAL;
	} while (n != 1 || s[0] != '-');
	if (!next_tok(&t, &type, &type_n) || !next_field(&t, &src, &src_n, true) ||
	    !next_tok(&t, &s, &n) || !t.done || !split_rw(s, n, &sb_ro, &sb, &sb_n))
		return -EINVAL;                 /* (a field more: a format we do not know) */
	for (const char *p = sb, *end = sb + sb_n; p < end;) {
		const char *c = find_byte(p + 1, end, ',');
		const char *e = c ? c : end;
		if (maybe_sb_opt(p + 1, (size_t)(e - p - 1)))
			return -EOPNOTSUPP;
		p = e;
	}
	size_t need = src_n + point_n + type_n + mnt_n + sb_n + 12;
	int r = mc_buf_reserve(out, out->len + need);
	if (r < 0)
		return r;
	char *w = out->data + out->len;
#define PUT(p, l) (memcpy(w, (p), (l)), w += (l))
	PUT(src, src_n);
	*w++ = ' ';
	PUT(point, point_n);
	*w++ = ' ';
	PUT(type, type_n);
	PUT(mnt_ro || sb_ro ? " ro" : " rw", 3);
	PUT(mnt, mnt_n);
	PUT(sb, sb_n);
	PUT(" 0 0\n", 5);
#undef PUT
	out->len = (size_t)(w - out->data);
	return 0;
}

int mc_mounts_from_mountinfo(const char *text, size_t len, struct mc_buf *out)
{
	out->len = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = find_byte(p, end, '\n');
		if (!nl)
			return -EINVAL;         /* the kernel ends every line */
		int r = mounts_line_from(p, (size_t)(nl - p), out);
		if (r < 0) {
			out->len = 0;
			return r;
		}
		p = nl + 1;
	}
	return 0;
}
