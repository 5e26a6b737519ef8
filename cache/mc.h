/* mc.h: the snapshot engine's private interface (capture, parse, index,
 * getmntent emulation). Everything here returns negative errno on failure,
 * never logs unless MOUNTCACHE_DEBUG asks, and never exits. */
#ifndef MC_H
#define MC_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <mntent.h>
#include <sys/types.h>

#define _mc_unused_ __attribute__((unused))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* The code a process's first open, read and close of a table run, placed
 * together (.text.hot): in a fresh process each code page it touches costs
 * a TLB walk and each line a cache miss. */
#define MC_HOT __attribute__((hot))

/* ---- util.c: debug output ---------------------------------------------- */
/* Silent unless MOUNTCACHE_DEBUG is set in the environment. */
extern int mc_debug_enabled;
void mc_debug_init(void);
void mc_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define MC_DEBUG(...) do { if (unlikely(mc_debug_enabled)) mc_debug(__VA_ARGS__); } while (0)

/* ---- util.c: buffer, fd floor ------------------------------------------ */
struct mc_buf {
	char *data;
	size_t len, cap;
};
/* Memory from mmap (async-signal-safe, see util.c); zeroed. */
void *mc_zalloc(size_t size);
/* getpid(), with no system call after the first in each process. */
/* Inline: the slot lock takes it on every getmntent entry. */
extern pid_t *mc_pid_page;
pid_t mc_pid_slow(void);
static inline pid_t mc_pid(void)
{
	pid_t *p = __atomic_load_n(&mc_pid_page, __ATOMIC_ACQUIRE);
	pid_t me = p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
	return likely(me) ? me : mc_pid_slow();
}
void mc_zfree(void *p, size_t size);
/* Eight bytes of text at @p as one word, the first byte lowest. */
static inline uint64_t mc_word_at(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof w);
	return le64toh(w);
}
/* 0x80 in each byte of @w that equals @c, nothing elsewhere: the exact
 * zero-byte test (no borrow from one byte into the next), so every set
 * bit, the lowest and the highest included, names a byte. */
static inline uint64_t mc_bytes_eq(uint64_t w, unsigned char c)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	w ^= 0x0101010101010101ull * c;
	return ~(((w & low7) + low7) | w | low7);
}
/* The end of each line of @p (just past its '\n') into @out[1..], if @out
 * is not NULL; returns how many '\n' @p holds (util.c). */
size_t mc_newlines(const char *p, size_t len, uint32_t *out);
int mc_buf_reserve(struct mc_buf *b, size_t need);
void mc_buf_free(struct mc_buf *b);
/* The lowest fd number we may take for ourselves (views, the daemon
 * connection), or <0: take none. */
int mc_fd_floor(void);

/* ---- capture.c -------------------------------------------------------- */
/* Upper bound on a table we are willing to hold (the kernel has none; a
 * bigger table simply passes through to the kernel). */
#define MC_CAPTURE_MAX (256u << 20)

enum {
	MC_CAPTURE_VALIDATED = 1 << 0,  /* no change event between start and end */
};

/* Tunables for the consistent capture; zero fields take the defaults. */
struct mc_capture_opts {
	unsigned max_tries;   /* full reads before giving up validation (3) */
	unsigned backoff_us;  /* first sleep between tries, doubled each time (50) */
	unsigned retry_max_us;/* a torn read longer than this is not tried again (20000) */
	size_t size_hint;     /* expected bytes, to size the first read */
};

/* Read the whole mount table from @fd (an open mountinfo or mounts file that
 * belongs to the caller, never the host program's fd) into @buf.
 * Returns 0 on a validated capture, 1 when no quiet window came and @buf holds
 * the last (possibly torn) read, <0 on error (@buf then holds nothing). */
int mc_capture_fd(int fd, struct mc_buf *buf, const struct mc_capture_opts *opts);

/* One poll(POLLPRI, 0) on @fd. Returns 1 if the mount namespace changed since
 * the previous poll (or open), 0 if not, <0 on error. Consumes the event. */
int mc_changed(int fd);

/* ---- parse.c ---------------------------------------------------------- */
enum mc_format {
	MC_MOUNTINFO = 0,   /* /proc/<pid>/mountinfo */
	MC_MOUNTS    = 1,   /* /proc/<pid>/mounts, /etc/mtab */
};

enum {
	MC_PROP_SHARED         = 1 << 0,
	MC_PROP_SLAVE          = 1 << 1,  /* has master:N */
	MC_PROP_FROM           = 1 << 2,  /* has propagate_from:N */
	MC_PROP_UNBINDABLE     = 1 << 3,
};

/* One mount. Strings are offsets into the table's arena, decoded and
 * NUL-terminated; for MC_MOUNTS the numeric ids are 0 and root/optional/
 * fs_opts are empty. */
struct mc_mount {
	uint32_t line_off, line_len;   /* raw line in the text, without '\n' */
	int id, parent;                /* (1) (2) */
	unsigned major, minor;         /* (3) */
	uint32_t root;                 /* (4) */
	uint32_t target;               /* (5) */
	uint32_t vfs_opts;             /* (6) */
	uint32_t optional;             /* (7) raw optional fields, space-joined */
	uint32_t fstype;               /* (9) */
	uint32_t source;               /* (10) */
	uint32_t fs_opts;              /* (11) */
	int shared, master, propagate_from;
	unsigned prop;                 /* MC_PROP_* */
	int freq, passno;              /* mounts format only */
	bool mntent_skip;              /* glibc's getmntent does not list it */
	/* index.c: next in table order with the same target, parent, device */
	struct mc_mount *next_same_target, *next_sibling, *next_same_dev;
	size_t idx;
};

struct mc_index;

struct mc_table {
	enum mc_format fmt;
	struct mc_mount *ents;
	size_t n;
	char *arena;
	size_t arena_len;
	struct mc_index *index;        /* mc_table_index(): mc_snap_table() builds all four
	                                * with the parse, whether or not they are used */
};

/* Where parsing failed: 1-based line number. */
struct mc_parse_error {
	size_t line;
	const char *what;
};

/* The mounts text of the table whose mountinfo text is @text (a whole
 * capture, every line ending in '\n'), into @out. Returns 0; -EOPNOTSUPP
 * when a line's superblock options could hold superblock flags or security
 * options, whose place in the mounts line the mountinfo text does not say
 * (read the kernel's mounts text then); -EINVAL for text not in the
 * kernel's format; -ENOMEM. @out->len is 0 on failure. */
int mc_mounts_from_mountinfo(const char *text, size_t len, struct mc_buf *out);

/* Parse @len bytes of @text in @fmt into @ret_table (untouched on failure).
 * Returns 0, or -EINVAL (malformed; @err says where), -ENOMEM, -E2BIG. */
int mc_table_parse(const char *text, size_t len, enum mc_format fmt,
		   struct mc_table *ret_table, struct mc_parse_error *err);
void mc_table_free(struct mc_table *t);

static inline const char *mc_str(const struct mc_table *t, uint32_t off)
{
	return t->arena + off;
}

/* Decode the kernel's mount-table escapes, in place, the way libmount does
 * (any backslash followed by three octal digits). Returns the new length. */
size_t mc_unescape_octal(char *s, size_t len);

/* ---- index.c ---------------------------------------------------------- */
/* Build the indexes (by id, by target, by parent, by device); idempotent. */
int mc_table_index(struct mc_table *t);
void mc_index_free(struct mc_table *t);
/* The topmost mount on @target (last in table order), or NULL. */
const struct mc_mount *mc_find_target(struct mc_table *t, const char *target);
/* The bottom of the stack on @target (first in table order); follow
 * ->next_same_target for the rest, in table order. */
const struct mc_mount *mc_find_target_first(struct mc_table *t, const char *target);
const struct mc_mount *mc_find_id(struct mc_table *t, int id);
/* Children of @parent in table order: fills up to @max into @out; returns the
 * total count. */
size_t mc_find_children(struct mc_table *t, int parent, const struct mc_mount **out, size_t max);
/* Mounts of major:minor in table order; same contract as mc_find_children. */
size_t mc_find_devno(struct mc_table *t, unsigned major, unsigned minor,
		     const struct mc_mount **out, size_t max);

/* ---- mntent.c --------------------------------------------------------- */
/* Emulation of glibc 2.36 getmntent_r on one line of a mounts file.
 * @line/@len is the raw line without its '\n'. @buffer/@bufsiz are the
 * caller's: exactly as glibc, only bufsiz-1 bytes of the line are used and
 * the rest is dropped. Returns true when @mp was filled, false when glibc
 * would skip the line (empty, comment, or an autofs "ignore" entry). */
bool mc_mntent_from_line(const char *line, size_t len, bool has_newline,
			 struct mntent *mp, char *buffer, int bufsiz);
/* glibc's decode_name: only \040 \011 \012 \134 and \\ are decoded. */
char *mc_decode_glibc(char *buf);

/* The getmntent image of a mounts text: per line, where it is and, for a
 * "fast" line, what glibc's getmntent_r leaves in a big enough buffer: the
 * line with a NUL at end[0..3] and after it, fields at field[0..3]. 36
 * bytes a line; the text itself is the arena. */
enum {
	MC_MENT_NL   = 1 << 0,          /* the line ends with '\n' */
	MC_MENT_FAST = 1 << 1,          /* answered by rebuild, not emulation */
};
struct mc_ment {
	uint32_t line_off, line_len;    /* raw line in the text, without '\n' */
	uint16_t field[4];              /* fsname, dir, type, opts */
	uint16_t end[4];                /* the NUL glibc puts after each */
	int32_t freq, passno;
	uint8_t flags;                  /* MC_MENT_* */
};
struct mc_mntimg {
	size_t n;
	struct mc_ment ents[];
};
/* A fast line's entry into the caller's buffer, which holds at least
 * line_len + 2 bytes: the bytes glibc writes, and its pointers. Cost: one
 * copy of the line, six byte stores. */
static inline __attribute__((always_inline)) void
mc_ment_fill(const struct mc_ment *e, const char *text, struct mntent *mp, char *buf)
{
	uint32_t len = e->line_len;
	memcpy(buf, text + e->line_off, len);
	buf[len] = '\0';
	if (e->flags & MC_MENT_NL)
		buf[len + 1] = '\0';
	buf[e->end[0]] = '\0';
	buf[e->end[1]] = '\0';
	buf[e->end[2]] = '\0';
	buf[e->end[3]] = '\0';
	mp->mnt_fsname = buf + e->field[0];
	mp->mnt_dir = buf + e->field[1];
	mp->mnt_type = buf + e->field[2];
	mp->mnt_opts = buf + e->field[3];
	mp->mnt_freq = e->freq;
	mp->mnt_passno = e->passno;
}
/* Is @line (@len bytes, no '\n') the kernel's plain "a b c d 0 0", whose
 * entry follows without glibc's steps? Then @e's fields, ends, freq and
 * passno are set. (mc_mntimg_build's fast way; exposed for its tests.) */
bool mc_mntent_plain(const char *line, size_t len, struct mc_ment *e);
/* Build the image of @len bytes of @text (mmap'ed: see mc_zalloc), from
 * its line index @lines (mc_snap_lines()) if not NULL, which must be
 * @text's. Returns 0, -ENOMEM, -E2BIG (over 4 GiB) or -EINVAL (a NUL byte: glibc
 * splits such a text into lines its own way). */
int mc_mntimg_build(const char *text, size_t len, const uint32_t *lines, struct mc_mntimg **ret);
void mc_mntimg_free(struct mc_mntimg *img);
/* One line's entry (@len bytes without its '\n'; @nl: one follows), at
 * line_off 0: mc_mntimg_build() makes each of its entries this way, and an
 * image can be put together from its lines' entries (mtrack.c). @scratch
 * holds 2 * (min(@len, 65535) + 2) bytes. */
void mc_ment_make(const char *line, size_t len, bool nl, struct mc_ment *e, char *scratch);
/* The bytes of an image of @n lines. */
size_t mc_mntimg_size(size_t n);
/* The line that starts at @pos (tried first: @hint), n at the end of the
 * text, or SIZE_MAX when @pos is inside a line or past the end. */
size_t mc_mntimg_find(const struct mc_mntimg *img, size_t hint, uint64_t pos);
/* glibc's getmntent_r from line *@io_i of @text on: true with @mp filled,
 * false when no line is left to list; *@io_i is then the line after the
 * last one read. Exactly the bytes, pointers and fields glibc leaves. */
bool mc_mntimg_next(const struct mc_mntimg *img, const char *text, size_t *io_i,
		    struct mntent *mp, char *buf, int bufsiz);


/* ---- sys.h: raw system calls ------------------------------------------
 * The engine is linked into the preload, whose exported open/read/close/...
 * would otherwise catch the engine's own calls. Raw syscalls also skip any
 * other interposer in the process. */
#include "sys.h"

/* ---- snapshot.c ------------------------------------------------------- */
/* An immutable copy of one mount table text, shared by reference. The parsed
 * table is built on first use (getmntent, the API) and then immutable too. */
struct mc_snap {
	int refs;                       /* atomic */
	enum mc_format fmt;
	const char *text;
	size_t len;
	size_t text_cap;                /* mapping size, for mc_snap_from_buf */
	uint64_t gen;                   /* unique per snapshot, across fork */
	uint64_t captured_ns;           /* CLOCK_MONOTONIC of its validation */
	bool validated;
	int parsed;                     /* atomic: 0 not yet, 1 ok, <0 -errno */
	struct mc_table table;
	uint32_t *lines;                /* atomic: see mc_snap_lines() */
	struct mc_mntimg *mntimg;       /* atomic: see mc_snap_mntimg() */
	uint8_t shipped;                /* MC_SNAP_SHIPPED_*: lives in the mapping, not ours to free */
	unsigned passes;                /* atomic: reads from offset 0 */
	void *owner;                    /* backend data released with the snap */
	void (*release)(struct mc_snap *s);
};

enum {
	MC_SNAP_SHIPPED_LINES = 1 << 0,
	MC_SNAP_SHIPPED_IMG = 1 << 1,
};

/* Take ownership of a malloc'ed @text. Returns NULL on ENOMEM (text freed). */
struct mc_snap *mc_snap_new(enum mc_format fmt, char *text, size_t len, bool validated);
/* The same for a buffer's text (mmap'ed: no malloc on the read path);
 * @b is left empty either way. */
struct mc_snap *mc_snap_from_buf(enum mc_format fmt, struct mc_buf *b, bool validated);
/* A snapshot of @text that stays the caller's: it must outlive the
 * snapshot's last reference, unchanged (mountcached's capture buffer). */
struct mc_snap *mc_snap_borrow(enum mc_format fmt, const char *text, size_t len, bool validated);
/* A zeroed snapshot header for a backend that fills it itself. */
struct mc_snap *mc_snap_alloc(void);
struct mc_snap *mc_snap_ref(struct mc_snap *s);
void mc_snap_unref(struct mc_snap *s);
/* The parsed table, or NULL if the text does not parse (callers fall back). */
struct mc_table *mc_snap_table(struct mc_snap *s);
/* The end offset of each line of the text (just past its '\n'; the text's
 * end for a last line without one), built on first call; lines[0] holds
 * the count n, lines[1..n] the ends. NULL when memory is short or the text
 * is over 4 GiB: the caller then walks the text itself. */
const uint32_t *mc_snap_lines(struct mc_snap *s);
/* The same if already built, else NULL: nothing is built. */
const uint32_t *mc_snap_lines_built(struct mc_snap *s);
/* The getmntent image of a mounts snapshot, built on first call; NULL when
 * memory is short (the caller then uses glibc). */
const struct mc_mntimg *mc_snap_mntimg(struct mc_snap *s);
/* The same if already built (one load), else NULL: nothing is built. */
static inline const struct mc_mntimg *mc_snap_mntimg_built(const struct mc_snap *s)
{
	const struct mc_mntimg *img = __atomic_load_n(&s->mntimg, __ATOMIC_ACQUIRE);
	return (uintptr_t)img > 1 ? img : NULL;         /* 1: the build failed */
}
uint64_t mc_now_ns(void);
/* fork handlers: the parse lock, taken last and released first. */
void mc_snap_atfork_prepare(void);
void mc_snap_atfork_release(void);

/* ---- client.c: asking mountcached ------------------------------------ */
/* Is a daemon there (socket present, not refused recently)? */
bool mc_client_enabled(void);
/* ... and is asking it cheaper than reading the kernel (not a small table)? */
bool mc_client_worth(void);
/* A snapshot of this process's table from the daemon. *ret_snap is NULL
 * when the daemon says we already hold generation @have_gen. @revalidate
 * asks for a fresh capture. Returns 0 or <0 (the caller captures itself). */
struct mc_view_key;
int mc_client_fetch(enum mc_format fmt, const struct mc_view_key *key, uint64_t have_gen,
		    bool revalidate, struct mc_snap **ret_snap, uint64_t *ret_captured_ns);
/* One snapshot from the daemon for one pass (no previous generation, not
 * kept), on a connection opened and closed here. Brief (MC_REQ_BRIEF):
 * for a caller that can go on with the kernel, so the daemon waits only
 * for what is nearly done. Returns 0 or <0 (-EAGAIN: declined or
 * churning). */
int mc_client_fetch_once(enum mc_format fmt, const struct mc_view_key *key, struct mc_snap **ret_snap);
/* The daemon's statistics as text, into @buf. */
int mc_client_stats(char *buf, size_t size);
void mc_client_atfork_child(void);
/* The host freed or replaced numbers @first..@last (see mc_fd_freed): if
 * the daemon connection was one of them, it is forgotten, not closed. */
void mc_client_fd_freed(unsigned first, unsigned last);

/* ---- view.c ----------------------------------------------------------- */
/* What a mount table file shows depends on the mount namespace and the root
 * of the process that opened it. A view is one such (format, ns, root) as
 * seen by this process, with our own open fd on it and its last snapshot.
 *
 * The key is the root's mount (unique id where the kernel has it) and inode:
 * a mount belongs to exactly one namespace, so the root mount also names the
 * namespace; unshare(CLONE_NEWNS) and setns() move the root to another mount,
 * chroot() and pivot_root() to another mount or inode. statx("/") costs
 * ~1.4 us here; /proc/self/ns/mnt would cost ~8 us. */
struct mc_view_key {
	uint64_t ns;                    /* the daemon's key only; 0 in-process */
	uint64_t root_mnt;
	uint64_t root_ino;
	uint64_t root_dev;
};
int mc_view_key_self(struct mc_view_key *ret);

struct mc_view;
/* Find or create the view of @fmt for @key. NULL on ENOMEM. Views live as long
 * as the process. */
struct mc_view *mc_view_get(enum mc_format fmt, const struct mc_view_key *key);
/* A snapshot that reflects every announced change that completed before this
 * call. Captures when needed; many threads asking at once share one capture.
 * Returns 0 and a reference in @ret_snap, or <0 (callers use the kernel).
 * The snapshot may be unvalidated (s->validated false) when churn never left
 * a quiet window: it is then as good as one kernel read, and is not kept. */
int mc_view_snapshot(struct mc_view *v, struct mc_snap **ret_snap);
/* Open the view's own fd now (in the calling thread's namespace and root),
 * if it has none. */
int mc_view_prepare(struct mc_view *v);
/* The same for a view of another process (the daemon): its fd is opened
 * relative to @procdir, a /proc/<pid> directory; @force captures anew. */
int mc_view_snapshot_at(struct mc_view *v, int procdir, bool force, struct mc_snap **ret_snap);
/* The view's own kernel fd (-1 if none), for a daemon's event loop. */
int mc_view_fd(struct mc_view *v);
/* Forget a view entirely (the daemon, for namespaces nobody asks for). */
void mc_view_drop(struct mc_view *v);
/* Forget every kept snapshot: this process changed the mount table, possibly
 * in a way the kernel does not announce (propagation flags). */
void mc_views_invalidate(void);
/* Whether this process ever did (its reads then ask the daemon to check). */
bool mc_views_ever_invalidated(void);
/* A host that sees every close and dup of this process (the preload) sets
 * mc_fds_watched and calls mc_views_fd_freed() for each number freed or
 * replaced at or above mc_view_fd_low: the views then trust their fds
 * without an fstat() per use. */
extern bool mc_fds_watched;
extern unsigned mc_view_fd_low;         /* util.c: the lowest fd we ever held */
void mc_own_fd_note(int fd);            /* util.c: note one we now hold */
void mc_views_fd_freed(unsigned first, unsigned last);
static inline void mc_fd_freed(unsigned first, unsigned last)
{
	if (__builtin_expect(last >= __atomic_load_n(&mc_view_fd_low, __ATOMIC_RELAXED), 0))
		mc_views_fd_freed(first, last);
}
/* procfs's device when the view's fd is open and on procfs, else 0: an fd
 * with that st_dev is on the same procfs. */
dev_t mc_view_proc_dev(struct mc_view *v);
/* fork() support: take and release every view lock. */
void mc_views_lock_all(void);
void mc_views_unlock_all(void);
/* In the child: drop what is shared with the parent, then unlock all. */
void mc_views_atfork_child(void);
/* Tunables (MOUNTCACHE_MAX_AGE_MS): how old a snapshot may be before it is
 * re-read even though the kernel announced nothing; 0 disables the cache. */
extern uint64_t mc_max_age_ns;
/* MOUNTCACHE_SERVE_FIRST=1: serve even a process's first open of a view
 * (normally left to the kernel: see preload/track.c). */
extern bool mc_serve_first;
void mc_config_init(void);

/* ---- statmount.c: one mount at a time from the kernel ------------------
 * listmount(2) and statmount(2) (Linux 6.8+; every field mountinfo shows
 * since 6.11). No glibc wrappers and, in Debian 12's headers, no uapi
 * definitions: the ABI, from include/uapi/linux/mount.h (Linux 6.18). Not
 * <linux/mount.h>: it clashes with <sys/mount.h> under glibc 2.36. */
#define MC_SM_SB_BASIC        0x0001u
#define MC_SM_MNT_BASIC       0x0002u
#define MC_SM_PROPAGATE_FROM  0x0004u
#define MC_SM_MNT_ROOT        0x0008u
#define MC_SM_MNT_POINT       0x0010u
#define MC_SM_FS_TYPE         0x0020u
#define MC_SM_MNT_NS_ID       0x0040u
#define MC_SM_MNT_OPTS        0x0080u
#define MC_SM_FS_SUBTYPE      0x0100u
#define MC_SM_SB_SOURCE       0x0200u
#define MC_SM_OPT_SEC_ARRAY   0x0800u
#define MC_SM_SUPPORTED_MASK  0x1000u

/* Everything a mountinfo line shows. */
#define MC_SM_NEEDED (MC_SM_SB_BASIC | MC_SM_MNT_BASIC | MC_SM_PROPAGATE_FROM | \
		      MC_SM_MNT_ROOT | MC_SM_MNT_POINT | MC_SM_FS_TYPE | MC_SM_MNT_OPTS | \
		      MC_SM_FS_SUBTYPE | MC_SM_SB_SOURCE)
/* What mc_render_*() asks for: that, and whether security options are
 * mixed into mnt_opts (they are placed differently in the mounts file). */
#define MC_SM_RENDER (MC_SM_NEEDED | MC_SM_OPT_SEC_ARRAY)

/* MOUNT_ATTR_*, MS_* propagation and SB_* values statmount() reports. */
#define MC_ATTR_RDONLY      0x00000001u
#define MC_ATTR_NOSUID      0x00000002u
#define MC_ATTR_NODEV       0x00000004u
#define MC_ATTR_NOEXEC      0x00000008u
#define MC_ATTR__ATIME      0x00000070u
#define MC_ATTR_RELATIME    0x00000000u
#define MC_ATTR_NOATIME     0x00000010u
#define MC_ATTR_NODIRATIME  0x00000080u
#define MC_ATTR_IDMAP       0x00100000u
#define MC_ATTR_NOSYMFOLLOW 0x00200000u
#define MC_MS_UNBINDABLE    (1u << 17)
#define MC_MS_PRIVATE       (1u << 18)
#define MC_MS_SLAVE         (1u << 19)
#define MC_MS_SHARED        (1u << 20)
#define MC_SB_RDONLY        0x00000001u
#define MC_SB_SYNCHRONOUS   0x00000010u
#define MC_SB_DIRSYNC       0x00000080u
#define MC_SB_LAZYTIME      (1u << 25)

struct mc_statmount {
	uint32_t size;
	uint32_t mnt_opts;           /* [str] escaped, comma separated */
	uint64_t mask;
	uint32_t sb_dev_major;
	uint32_t sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;            /* [str] */
	uint64_t mnt_id;             /* unique */
	uint64_t mnt_parent_id;
	uint32_t mnt_id_old;         /* what mountinfo prints */
	uint32_t mnt_parent_id_old;
	uint64_t mnt_attr;
	uint64_t mnt_propagation;
	uint64_t mnt_peer_group;
	uint64_t mnt_master;
	uint64_t propagate_from;
	uint32_t mnt_root;           /* [str] */
	uint32_t mnt_point;          /* [str] raw, relative to our root */
	uint64_t mnt_ns_id;
	uint32_t fs_subtype;         /* [str] */
	uint32_t sb_source;          /* [str] */
	uint32_t opt_num;
	uint32_t opt_array;
	uint32_t opt_sec_num;
	uint32_t opt_sec_array;
	uint64_t supported_mask;
	uint32_t mnt_uidmap_num;
	uint32_t mnt_uidmap;
	uint32_t mnt_gidmap_num;
	uint32_t mnt_gidmap;
	uint64_t spare2[43];
	char str[];
};
_Static_assert(sizeof(struct mc_statmount) == 512, "struct statmount is 512 bytes");

/* A statmount() result buffer, grown on EOVERFLOW (long option strings:
 * overlayfs with many layers). Start it zeroed; malloc'ed. */
struct mc_sm_buf {
	struct mc_statmount *sm;
	size_t size;
};
void mc_sm_buf_free(struct mc_sm_buf *b);
/* statmount() of the mount with unique id @id into @b. Returns 0, -ENOENT
 * when no such mount is visible to us (gone, or outside our root without
 * the privilege to see it), -EOPNOTSUPP without the system call, or
 * -errno. */
int mc_statmount(struct mc_sm_buf *b, uint64_t id, uint64_t mask);
/* A string field, or "" when the kernel left its @bit out of the mask. */
static inline const char *mc_sm_str(const struct mc_statmount *sm, uint64_t bit, uint32_t off)
{
	return (sm->mask & bit) ? sm->str + off : "";
}
/* Every mount id visible from our root, by unique id ascending, in one
 * call where it fits (so one consistent set). *ret_ids is malloc'ed.
 * Returns 0, -EOPNOTSUPP (no listmount), -ENOMEM or -errno. */
int mc_listmount_all(uint64_t **ret_ids, size_t *ret_n);
/* The same into a buffer the caller keeps (*ids, *cap: malloc'ed, grown
 * here; start them NULL, 0): a fresh 128 KiB buffer per call costs its
 * page faults, more than the call itself at 10,000 mounts. */
int mc_listmount_buf(uint64_t **ids, size_t *cap, size_t *ret_n);

/* ---- render.c: kernel text from statmount ------------------------------
 * The lines the kernel's show_mountinfo() and show_vfsmnt() write for one
 * mount, byte for byte, from a statmount() with MC_SM_RENDER, on a kernel
 * whose supported_mask has all of MC_SM_RENDER (the caller checks once:
 * string fields come back unflagged both when empty and when unknown). */
/* (6) of mountinfo: "ro|rw" and the per-mount flags, in the kernel's order. */
void mc_render_vfs_opts(uint64_t attr, char *buf, size_t size);
/* (7) of mountinfo: "shared:N master:N propagate_from:N unbindable". */
void mc_render_optional(const struct mc_statmount *sm, char *buf, size_t size);
/* Append the line (with its '\n') to @out. Returns 0; -ENOENT when the
 * kernel would not list the mount (no mount point from our root);
 * -EOPNOTSUPP when the kernel left out a field we need, or the line
 * cannot be rebuilt exactly (security options in the mounts format);
 * -ENOMEM, -EFBIG. @out is left as it was on failure. */
int mc_render_line(enum mc_format fmt, const struct mc_statmount *sm, struct mc_buf *out);

/* ---- mtrack.c: our namespace's table, refreshed in proportion ---------- */
struct mc_mtrack;
struct mc_mtrack_stats {
	unsigned long incremental;      /* refreshes done from the change alone */
	unsigned long full;             /* rebuilds from every mount */
	unsigned long fallbacks;        /* incremental refreshes that could not explain */
	unsigned long by_text;          /* unexplained wake-ups settled by one text read */
	unsigned long in_place;         /* incremental ones done in place (round_fast()) */
	unsigned long text_waits;       /* updates that left a text read or a round for later */
	unsigned long statmounts;
	unsigned long listmounts;       /* of the whole table */
	bool barrier;                   /* events complete after a barrier: no listmount a refresh */
	uint64_t last_ns;               /* the last mc_mtrack_update() */
	uint64_t version;               /* bumped whenever the table changed */
	uint64_t text_ns;               /* the table was the kernel's text read from then */
	uint64_t text_read_ns;          /* the last text read took this long (torn or not) */
	unsigned long text_reads;       /* text reads made (by_text()) */
};
enum {
	MC_MTRACK_WOKE = 1 << 0,        /* poll() on mountinfo said: changed */
	MC_MTRACK_EVENTS = 1 << 1,      /* fanotify has events */
	MC_MTRACK_FULL = 1 << 2,        /* rebuild from every mount */
	MC_MTRACK_NO_TEXT = 1 << 3,     /* no text read now: leave it to the next update */
};
/* Track the calling thread's mount namespace (and root). @incremental
 * false, or no fanotify mount events here (Linux < 6.15, no
 * CAP_SYS_ADMIN): every update is a full rebuild. Nothing is read yet. */
int mc_mtrack_open(bool incremental, struct mc_mtrack **ret);
void mc_mtrack_free(struct mc_mtrack *t);
/* The fds to watch: POLLPRI on the first, POLLIN on the second (-1: none). */
int mc_mtrack_poll_fd(const struct mc_mtrack *t);
int mc_mtrack_fan_fd(const struct mc_mtrack *t);
/* One poll(0) of both: MC_MTRACK_WOKE | MC_MTRACK_EVENTS, 0, or <0.
 * Consumes the mountinfo change event: pass it on to mc_mtrack_update(). */
int mc_mtrack_pending(struct mc_mtrack *t);
/* Bring the table up to date: incrementally when the change is explained
 * (see mtrack.c), else by a full rebuild. @flags: MC_MTRACK_WOKE when a
 * change event was consumed for us, MC_MTRACK_FULL to force a rebuild,
 * MC_MTRACK_NO_TEXT to leave a wake-up's text read to a later update.
 * Returns 0 (consistent as of the call), -EAGAIN (churn: the table has
 * every announced change but a text read or a round is still to come; not
 * served until then), -EBUSY (churn: a rebuild found no quiet window, the
 * table is not whole), -EOPNOTSUPP (a mount this kernel's statmount
 * cannot render), <0. */
int mc_mtrack_update(struct mc_mtrack *t, unsigned flags);
/* The table's text in @fmt into @out (replacing its content), and in the
 * same walk of the entries, when not NULL: its line index into @lines
 * (mc_snap_lines()'s format, from the entries' lengths) and, for mounts
 * only, its getmntent image into @img (mc_mntimg_build()'s, from the
 * entries' own, made once per mount): neither walks nor parses the text.
 * Returns 0, -ESTALE when the last update failed or left a text read or
 * round to come, <0. */
int mc_mtrack_text(const struct mc_mtrack *t, enum mc_format fmt, struct mc_buf *out,
		   struct mc_buf *lines, struct mc_buf *img);
const struct mc_mtrack_stats *mc_mtrack_stats(const struct mc_mtrack *t);

#endif
