/* snapshot.c: immutable, reference-counted mount table texts. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"

uint64_t mc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* Unique across fork: the pid is part of it, so a parent and a child that
 * share an open file can tell whose snapshot a shared offset refers to. */
static uint64_t next_gen(void)
{
	static unsigned counter;
	unsigned c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	return (uint64_t)getpid() << 32 | c;
}

static void release_owned(struct mc_snap *s)
{
	free((void *)s->text);
}

static void release_buf(struct mc_snap *s)
{
	mc_zfree((void *)s->text, s->text_cap);
}

/* Snapshot headers: a process holds few at once (one per view, a pass of
 * first.c's, a stream's), so they come from a small static pool, and only
 * past it from mmap: a daemon-served first read made an mmap and a munmap
 * for its 144 bytes, two system calls of ~20. Claimed and released with
 * one atomic each, so still safe in a signal handler; a fork() copies the
 * pool with the snapshots in it. */
#define SNAP_POOL 16
static struct mc_snap snap_pool[SNAP_POOL];
static int snap_pool_used[SNAP_POOL];  /* atomic */

static struct mc_snap *snap_zalloc(void)
{
	for (int i = 0; i < SNAP_POOL; i++) {
		int none = 0;
		if (!__atomic_load_n(&snap_pool_used[i], __ATOMIC_RELAXED) &&
		    __atomic_compare_exchange_n(&snap_pool_used[i], &none, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			memset(&snap_pool[i], 0, sizeof snap_pool[i]);
			return &snap_pool[i];
		}
	}
	return mc_zalloc(sizeof(struct mc_snap));
}

static void snap_zfree(struct mc_snap *s)
{
	if (s >= snap_pool && s < snap_pool + SNAP_POOL)
		__atomic_store_n(&snap_pool_used[s - snap_pool], 0, __ATOMIC_RELEASE);
	else
		mc_zfree(s, sizeof *s);
}

static struct mc_snap *snap_alloc(enum mc_format fmt, const char *text, size_t len, bool validated)
{
	struct mc_snap *s = snap_zalloc();
	if (!s)
		return NULL;
	s->refs = 1;
	s->fmt = fmt;
	s->text = text;
	s->len = len;
	s->gen = next_gen();
	s->captured_ns = mc_now_ns();
	s->validated = validated;
	return s;
}

struct mc_snap *mc_snap_new(enum mc_format fmt, char *text, size_t len, bool validated)
{
	struct mc_snap *s = snap_alloc(fmt, text, len, validated);
	if (!s) {
		free(text);
		return NULL;
	}
	s->release = release_owned;
	return s;
}

struct mc_snap *mc_snap_from_buf(enum mc_format fmt, struct mc_buf *b, bool validated)
{
	struct mc_snap *s = snap_alloc(fmt, b->data, b->len, validated);
	if (!s) {
		mc_buf_free(b);
		return NULL;
	}
	s->text_cap = b->cap;
	s->release = release_buf;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

struct mc_snap *mc_snap_borrow(enum mc_format fmt, const char *text, size_t len, bool validated)
{
	return snap_alloc(fmt, text, len, validated);
}

struct mc_snap *mc_snap_alloc(void)
{
	return snap_zalloc();
}

struct mc_snap *mc_snap_ref(struct mc_snap *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

/* The count, then one end per line: lines[0] + 1 entries. */
#define LINES_NONE ((uint32_t *)1)
#define MNTIMG_NONE ((struct mc_mntimg *)1)

static size_t lines_size(const uint32_t *lines)
{
	return ((size_t)lines[0] + 1) * sizeof(uint32_t);
}

void mc_snap_unref(struct mc_snap *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	mc_table_free(&s->table);
	if (s->mntimg && s->mntimg != MNTIMG_NONE && !(s->shipped & MC_SNAP_SHIPPED_IMG))
		mc_mntimg_free(s->mntimg);
	if (s->lines && s->lines != LINES_NONE && !(s->shipped & MC_SNAP_SHIPPED_LINES))
		mc_zfree(s->lines, lines_size(s->lines));
	if (s->release)
		s->release(s);
	snap_zfree(s);
}

/* Built without a lock (reads may come from signal handlers) and
 * published with a CAS; a thread that loses the race unmaps its copy. A
 * failure is remembered (LINES_NONE): the text is walked instead. */
const uint32_t *mc_snap_lines(struct mc_snap *s)
{
	uint32_t *l = __atomic_load_n(&s->lines, __ATOMIC_ACQUIRE);
	if (l)
		return l == LINES_NONE ? NULL : l;
	/* A last line without '\n' ends at the text's end. */
	bool open_end = s->len && s->text[s->len - 1] != '\n';
	size_t n = mc_newlines(s->text, s->len, NULL) + open_end;
	uint32_t *fresh = s->len <= UINT32_MAX && n < SIZE_MAX / sizeof *l - 1
				  ? mc_zalloc((n + 1) * sizeof *l) : NULL;
	if (fresh) {
		mc_newlines(s->text, s->len, fresh);
		if (open_end)
			fresh[n] = (uint32_t)s->len;
		fresh[0] = (uint32_t)n;
	}
	l = fresh ? fresh : LINES_NONE;
	uint32_t *none = NULL;
	if (!__atomic_compare_exchange_n(&s->lines, &none, l, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (fresh)
			mc_zfree(fresh, lines_size(fresh));
		l = none;
	}
	return l == LINES_NONE ? NULL : l;
}

const uint32_t *mc_snap_lines_built(struct mc_snap *s)
{
	uint32_t *l = __atomic_load_n(&s->lines, __ATOMIC_ACQUIRE);
	return l == LINES_NONE ? NULL : l;
}

/* As the line index: built without a lock, published with a CAS. A
 * failure (no memory) is remembered: getmntent then goes to glibc. */
const struct mc_mntimg *mc_snap_mntimg(struct mc_snap *s)
{
	struct mc_mntimg *img = __atomic_load_n(&s->mntimg, __ATOMIC_ACQUIRE);
	if (likely(img))
		return img == MNTIMG_NONE ? NULL : img;
	struct mc_mntimg *fresh = NULL;
	if (mc_mntimg_build(s->text, s->len, mc_snap_lines_built(s), &fresh) < 0)
		fresh = NULL;
	img = fresh ? fresh : MNTIMG_NONE;
	struct mc_mntimg *none = NULL;
	if (!__atomic_compare_exchange_n(&s->mntimg, &none, img, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		mc_mntimg_free(fresh);
		img = none;
	}
	return img == MNTIMG_NONE ? NULL : img;
}

static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

struct mc_table *mc_snap_table(struct mc_snap *s)
{
	int st = __atomic_load_n(&s->parsed, __ATOMIC_ACQUIRE);
	if (likely(st == 1))
		return &s->table;
	if (st < 0)
		return NULL;
	/* One parse per snapshot; parsing is rare (once per table change), so
	 * one lock for all snapshots is enough. */
	pthread_mutex_lock(&parse_lock);
	st = s->parsed;
	if (st == 0) {
		struct mc_parse_error err;
		int r = mc_table_parse(s->text, s->len, s->fmt, &s->table, &err);
		if (r == 0)
			r = mc_table_index(&s->table);
		st = r < 0 ? r : 1;
		__atomic_store_n(&s->parsed, st, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&parse_lock);
	return st == 1 ? &s->table : NULL;
}

/* fork(): a thread parsing in the parent must not leave the child's copy of
 * the lock taken (see preload/ofd.c for the order of the fork locks). */
void mc_snap_atfork_prepare(void)
{
	pthread_mutex_lock(&parse_lock);
}

void mc_snap_atfork_release(void)
{
	pthread_mutex_unlock(&parse_lock);
}
