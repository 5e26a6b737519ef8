/* mtrack.c: the mount table of our own namespace, kept up to date in
 * proportion to the change (the daemon's incremental refresh).
 *
 * State: one entry per mount of the namespace (shown from our root or
 * not), by unique id ascending,
 * with its mountinfo and mounts lines rendered from statmount() (render.c)
 * and what the implications below need (parent, peer group, master, the
 * escaped mount point). The texts are the shown entries' lines in that
 * order: the kernel keeps a namespace's mounts in a tree sorted by unique
 * id (Linux 6.8+) and prints mountinfo and mounts by walking it, so the
 * order is the ids' (checked by tests/tools/smdiff; ids are never reused,
 * a new mount sorts last, a moved one keeps its place).
 *
 * A refresh: a barrier (see barrier(): after it every change that woke
 * us has queued its events), drain fanotify (FAN_REPORT_MNT, a
 * FAN_MARK_MNTNS mark: one ATTACH per new mount, one DETACH per gone one,
 * one ATTACH|DETACH for a moved one), take the new id set from our ids and
 * a statmount() of each id an event names (ids_from_events()), and
 * statmount() only
 *   - the ids the events name;
 *   - the descendants of a moved mount (their mount points change with no
 *     event of their own);
 *   - the children of a gone mount, and the mounts on the same mount point
 *     as a new one (propagation tucks an existing mount under a new copy,
 *     or back, changing its parent without an event);
 *   - every slave, when a mount that is shared or a slave came or went
 *     (re-mastering and propagate_from depend on peer groups elsewhere).
 * Without the barrier (MOUNTCACHE_NO_BARRIER=1, or no fsmount() here) the
 * id set comes from listmount() (one call, one state), drained around
 * twice, and every id it says came or went must have its event. A
 * wake-up with no event and no id change (a remount, a propagation
 * change) is settled by one validated read of the kernel's text: the
 * lines that differ are read again with statmount() (by_text()); anything
 * else not explained is a full rebuild. After the
 * work one poll() on our mountinfo fd says whether the table changed
 * meanwhile: then another round, as the result may mix two states. Under
 * churn that text read tears: the table keeps every announced change and
 * waits for the read (text_pending), or the rounds go on changing: it
 * waits for the next update's round (woke_carry); it is not served
 * meanwhile (mc_mtrack_text() says -ESTALE), instead of rebuilt from every
 * mount, which would tear as well at five reads' cost.
 *
 * Not seen: a remount that comes in the same wake-up as a topology change
 * (the poll() event is one bit), and propagation flips with mount(2)
 * MS_SHARED... (no event of any kind): both are bounded by the callers'
 * maximum age, as for the text capture. Measured with churn.c (mount,
 * umount, remount rw, remount ro in bursts) at 5,000 mounts through the
 * daemon: 21 of 200 reads torn, hence mountcached's --incremental is
 * opt-in. MOVE_MOUNT_BENEATH reparents the top mount without an event: the
 * same-mount-point rule above should cover it (not in the tests).
 *
 * Cost per refresh: the barrier (~1.5 us), a fanotify read or two, 1 us
 * plus 3-6 us per statmount of a named mount, and for the common change
 * (mounts that came or went: round_fast()) a pass or two over the
 * entries' links (24 bytes each), no copy: ~0.1 ms at 10,000 mounts,
 * ~0.3 ms at 50,000, about 1% of a kernel read (bench/incr.sh,
 * incr_avg_us; the general round, which copies every entry to a new
 * array and walks it, took 0.7 and 4.2 ms).
 * The text assembly, line index and getmntent image (from the entries'
 * own: a copy, no parsing) are O(table), per snapshot made, not per
 * change. The listmount() round added ~1.1 ms at 10,000. A full rebuild
 * is a statmount of every mount (~50 ms of CPU at 10k, 5x a kernel read).
 * Daemon only: not on the preload's path (malloc, fanotify). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>

#include "mc.h"

/* Linux 6.15 uapi, missing from Debian 12's headers. */
#define MC_FAN_REPORT_MNT       0x00004000u
#define MC_FAN_MARK_MNTNS       0x00000110u
#define MC_FAN_MNT_ATTACH       0x01000000u
#define MC_FAN_MNT_DETACH       0x02000000u
#define MC_FAN_INFO_TYPE_MNT    7
/* Linux 5.2 / 5.12 uapi (linux/mount.h clashes with glibc's sys/mount.h). */
#define MC_NR_fsopen            430
#define MC_NR_fsconfig          431
#define MC_NR_fsmount           432
#define MC_NR_mount_setattr     442
#define MC_FSCONFIG_CMD_CREATE  6
struct mc_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct ent {
	uint64_t id, parent;
	uint64_t peer, master;          /* 0: none */
	char *mi, *mo;                  /* lines with '\n'; NULL when not shown */
	uint32_t mi_len, mo_len;
	uint32_t mp_off, mp_len;        /* escaped mount point inside mi */
	uint64_t at;                    /* parent and mount point hashed: at_key() */
	struct mc_ment ment;            /* mo's getmntent entry, at line_off 0 */
	uint8_t mark;                   /* per refresh: see enum */
};
enum { M_KEEP, M_STAT, M_NEW, M_DONE, M_DONE_NEW };
/* What round_fast()'s passes look at, 24 bytes an entry beside the
 * entries' ~110: at 10,000 mounts a pass reads 240 KB, not 1.1 MB, and
 * a mount's many siblings (a container host's thousands of mounts under
 * one directory) are told apart from one on the same mount point as a new
 * mount by the hash, not by their lines. */
struct link {
	uint64_t parent, master, at;
};

struct mc_mtrack {
	int poll_fd, fan_fd;
	int barrier_fd;                 /* a detached tmpfs of ours: see barrier() */
	bool incremental;
	bool synced;
	struct ent *ents;
	size_t n;
	size_t n_cap;                   /* capacity of ents */
	struct ent *spare;              /* the previous array, reused: a fresh */
	size_t spare_cap, last_cap;     /* one costs its page faults */
	uint64_t *ev;                   /* event ids of this refresh */
	size_t nev, evcap;
	uint64_t *ids;                  /* listmount()'s, kept for its pages */
	size_t idcap;
	uint64_t *gone;                 /* ids gone in this round, ascending */
	size_t ngone, gonecap;
	uint64_t *came;                 /* round_fast(): ids new to the table, then at_key()s */
	size_t ncame, camecap;
	uint64_t *touched;              /* round_fast(): indexes (of the gone, then to read again) */
	size_t ntouched, touchedcap;
	struct link *links;             /* round_fast(): ents[i]'s parent, master, at, if links_ok */
	size_t links_cap;
	bool links_ok;
	bool gone_prop;                 /* one of them was shared or a slave */
	bool text_pending;              /* a wake-up to settle by a text read: see by_text() */
	bool woke_carry;                /* a wake-up consumed, its round still to come */
	bool overflow;
	struct mc_sm_buf sm;
	struct mc_buf scratch;
	int text_fd;                    /* by_text()'s own, opened on first use */
	struct mc_buf text;
	struct mc_mtrack_stats stats;
};

/* ---- fanotify --------------------------------------------------------- */

static int fan_open(void)
{
	int fd = fanotify_init(FAN_CLASS_NOTIF | MC_FAN_REPORT_MNT | FAN_CLOEXEC | FAN_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (fanotify_mark(fd, FAN_MARK_ADD | MC_FAN_MARK_MNTNS, MC_FAN_MNT_ATTACH | MC_FAN_MNT_DETACH,
			  AT_FDCWD, "/proc/self/ns/mnt") < 0) {
		int r = -errno;
		mc_sys_close(fd);
		return r;
	}
	return fd;
}

/* The barrier. The kernel wakes poll() while it still holds the namespace
 * lock for writing, and queues the fanotify events only as it releases
 * it, holding it for reading meanwhile (namespace_unlock()): a refresher
 * that drains the queue right after its wake-up can find it short (59-776
 * of 4,000 wake-ups here, polling without a pause). Every
 * change to a mount's propagation takes that lock for writing, so one such
 * change, on a detached tmpfs nobody else sees, waits until every change
 * that woke us has queued its events: after it, the queue is complete for
 * them (0 of 8,000 short), with no listmount() of the whole table to tell
 * which ids came or went (1.1 ms at 10,000 mounts; the barrier ~1.5 us).
 * It changes nothing anyone sees: the mount is in no namespace but its own
 * anonymous one, and a propagation change raises no event of any kind. */
static int barrier_open(void)
{
	int fs = (int)syscall(MC_NR_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
	if (fs < 0)
		return -errno;
	int fd = -1;
	if (syscall(MC_NR_fsconfig, fs, MC_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		fd = (int)syscall(MC_NR_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
	int r = fd < 0 ? -errno : 0;
	mc_sys_close(fs);
	return fd < 0 ? r : fd;
}

static int barrier(int fd)
{
	struct mc_mount_attr a = { .propagation = MC_MS_PRIVATE };
	for (;;) {
		if (syscall(MC_NR_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int ids_add(uint64_t **v, size_t *n, size_t *cap, uint64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		uint64_t *p = realloc(*v, c * sizeof *p);
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = id;
	return 0;
}

static int ev_add(struct mc_mtrack *t, uint64_t id)
{
	return ids_add(&t->ev, &t->nev, &t->evcap, id);
}

/* Every queued event's mount id into t->ev; an overflow sets t->overflow. */
static int fan_drain(struct mc_mtrack *t)
{
	char buf[16384] __attribute__((aligned(8)));

	for (;;) {
		ssize_t len = mc_sys_read(t->fan_fd, buf, sizeof buf);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (char *p = buf; p + sizeof(struct fanotify_event_metadata) <= buf + len; ) {
			struct fanotify_event_metadata *m = (void *)p;
			if (m->event_len < sizeof *m || p + m->event_len > buf + len)
				return -EIO;
			if (m->mask & FAN_Q_OVERFLOW)
				t->overflow = true;
			for (char *q = p + m->metadata_len; q + 4 <= p + m->event_len; ) {
				struct fanotify_event_info_header *h = (void *)q;
				if (h->len < 4 || q + h->len > p + m->event_len)
					return -EIO;
				/* struct fanotify_event_info_mnt: the header, 4
				 * bytes of padding, the __u64 id at offset 8 */
				if (h->info_type == MC_FAN_INFO_TYPE_MNT && h->len >= 16) {
					uint64_t id;
					memcpy(&id, q + 8, sizeof id);
					int r = ev_add(t, id);
					if (r < 0)
						return r;
				}
				q += h->len;
			}
			p += m->event_len;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool ev_has(const struct mc_mtrack *t, uint64_t id)
{
	return t->nev && bsearch(&id, t->ev, t->nev, sizeof id, cmp_u64) != NULL;
}

/* ---- entries ---------------------------------------------------------- */

static void ent_clear(struct ent *e)
{
	free(e->mi);
	free(e->mo);
	e->mi = e->mo = NULL;
	e->mi_len = e->mo_len = 0;
	e->at = 0;
}

static void ents_free(struct ent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ent_clear(&ents[i]);
	free(ents);
}

/* An entry array for @n, zeroed: the spare one when it is big enough.
 * Its capacity is left in t->last_cap. NULL on ENOMEM. */
static struct ent *take_spare(struct mc_mtrack *t, size_t n)
{
	struct ent *e = t->spare;
	size_t cap = t->spare_cap;

	t->spare = NULL;
	t->spare_cap = 0;
	if (!e || cap < n) {
		free(e);
		cap = n + n / 8 + 64;
		e = malloc(cap * sizeof *e);
		if (!e)
			return NULL;
	}
	memset(e, 0, n * sizeof *e);
	t->last_cap = cap;
	return e;
}

/* Keep @e (its lines already moved out or freed) for the next round. */
static void give_spare(struct mc_mtrack *t, struct ent *e, size_t cap)
{
	free(t->spare);
	t->spare = e;
	t->spare_cap = e ? cap : 0;
}

static struct ent *ent_find(struct ent *ents, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ents[mid].id < id)
			lo = mid + 1;
		else if (ents[mid].id > id)
			hi = mid;
		else
			return &ents[mid];
	}
	return NULL;
}

static char *dup_mem(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* The offset and length of mountinfo's (5) in a rendered line. */
static void locate_mp(struct ent *e)
{
	const char *p = e->mi, *end = e->mi + e->mi_len;
	for (int field = 0; field < 4 && p < end; field++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		p = sp ? sp + 1 : end;
	}
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	e->mp_off = (uint32_t)(p - e->mi);
	e->mp_len = (uint32_t)((sp ? sp : end) - p);
}

/* @e's parent and mount point in 64 bits (FNV-1a, the parent mixed in):
 * equal for two mounts on the same point of the same parent. */
static uint64_t at_key(const struct ent *e)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (e->parent * 0x9e3779b97f4a7c15ull);
	for (uint32_t i = 0; i < e->mp_len; i++)
		h = (h ^ (unsigned char)e->mi[e->mp_off + i]) * 0x100000001b3ull;
	return h;
}

/* statmount() @e->id and render both lines into @e (replacing its old
 * ones). Returns 0, -ENOENT (gone), -EOPNOTSUPP (cannot render), <0. */
static int ent_fill(struct mc_mtrack *t, struct ent *e)
{
	int r = mc_statmount(&t->sm, e->id, MC_SM_RENDER);
	if (r < 0)
		return r;
	const struct mc_statmount *sm = t->sm.sm;
	t->stats.statmounts++;
	ent_clear(e);
	e->parent = sm->mnt_parent_id;
	e->peer = (sm->mnt_propagation & MC_MS_SHARED) ? sm->mnt_peer_group : 0;
	e->master = (sm->mnt_propagation & MC_MS_SLAVE) ? sm->mnt_master : 0;
	t->scratch.len = 0;
	r = mc_render_line(MC_MOUNTINFO, sm, &t->scratch);
	if (r == -ENOENT)
		return 0;                       /* not shown from our root */
	if (r < 0)
		return r;
	e->mi_len = (uint32_t)t->scratch.len;
	e->mi = dup_mem(t->scratch.data, t->scratch.len);
	t->scratch.len = 0;
	r = mc_render_line(MC_MOUNTS, sm, &t->scratch);
	if (r < 0)
		return r;
	e->mo_len = (uint32_t)t->scratch.len;
	e->mo = dup_mem(t->scratch.data, t->scratch.len);
	if (!e->mi || !e->mo)
		return -ENOMEM;
	/* Its getmntent entry now, once, not in every snapshot's image
	 * (~0.3 us a line: 3 ms at 10,000 mounts for each new version). */
	size_t l = e->mo_len - 1;               /* rendered lines end in '\n' */
	r = mc_buf_reserve(&t->scratch, 2 * ((l < UINT16_MAX ? l : UINT16_MAX) + 2));
	if (r < 0)
		return r;
	mc_ment_make(e->mo, l, true, &e->ment, t->scratch.data);
	locate_mp(e);
	e->at = at_key(e);
	return 0;
}

/* ---- full rebuild ----------------------------------------------------- */

/* Every mount anew, from one listmount() (a mount gone since then keeps
 * no line: its unmount is announced, and handled next). Returns 0 or <0. */
static int rebuild_once(struct mc_mtrack *t)
{
	uint64_t *ids;
	size_t n;
	int r;

	t->nev = 0;
	t->overflow = false;
	if (t->fan_fd >= 0 && (r = fan_drain(t)) < 0)   /* what came before */
		return r;
	t->nev = 0;
	r = mc_listmount_all(&ids, &n);
	if (r < 0)
		return r;
	t->stats.listmounts++;
	struct ent *ents = calloc(n ? n : 1, sizeof *ents);
	if (!ents) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		ents[i].id = ids[i];
		r = ent_fill(t, &ents[i]);
		if (r == -ENOENT) {
			ent_clear(&ents[i]);
			r = 0;
		}
	}
	free(ids);
	if (r < 0) {
		ents_free(ents, n);
		return r;
	}
	ents_free(t->ents, t->n);
	t->ents = ents;
	t->n = n;
	t->n_cap = n ? n : 1;
	t->synced = true;
	t->text_pending = false;
	t->woke_carry = false;
	t->links_ok = false;
	t->stats.full++;
	t->stats.version++;
	return 0;
}

/* incremental(): the table has every announced change, a text read is
 * still to come (t->text_pending), or a wake-up's events (t->woke_carry). */
#define TEXT_WAIT 5
/* round_once(): an id came or went without its event (listmount() only) */
#define ROUND_UNEXPLAINED 6
static int incremental(struct mc_mtrack *t, bool woke, bool text);

/* Consistent when no change event came meanwhile. With fanotify, a change
 * during the rebuild (~3-5 us per mount: 50 ms at 10,000) is caught up
 * incrementally from its events, as after any refresh; without, or when
 * that cannot explain it, the rebuild is tried again. Under churn at
 * 10,000 mounts a rebuild alone would almost never see a quiet window.
 * Returns 0, -EAGAIN (whole, a text read or round to come), -EBUSY (no
 * quiet window: not whole), <0 (not whole). */
static int rebuild(struct mc_mtrack *t, bool text)
{
	t->synced = false;                      /* until rebuild_once() makes it so */
	for (int tries = 0; tries < 3; tries++) {
		int r = mc_changed(t->poll_fd);
		if (r < 0)
			return r;
		r = rebuild_once(t);
		if (r < 0)
			return r;
		r = t->incremental ? incremental(t, false, text) : mc_changed(t->poll_fd) ? 1 : 0;
		if (r == TEXT_WAIT) {
			t->stats.text_waits++;
			return -EAGAIN;         /* whole, but a read or round to come */
		}
		if (r <= 0)
			return r;
		t->synced = false;
	}
	t->synced = false;
	return -EBUSY;
}

/* ---- incremental ------------------------------------------------------ */

/* Entries of the new id set: kept ones moved over from t->ents, marked for
 * a statmount when an event names them; new ones marked M_NEW. Gone ones
 * are counted in @ret_gone and their events checked. Returns 0, 1 when the
 * change is not explained (fall back), <0. */
static int merge(struct mc_mtrack *t, const uint64_t *ids, size_t n, struct ent **ret)
{
	struct ent *ne = take_spare(t, n);
	size_t i = 0, j = 0;
	bool unexplained = false;

	if (!ne)
		return -ENOMEM;
	t->ngone = 0;
	t->gone_prop = false;
	while (i < n || j < t->n) {
		if (j < t->n && (i == n || t->ents[j].id < ids[i])) {
			const struct ent *g = &t->ents[j++];   /* gone: needs its DETACH */
			if (!ev_has(t, g->id)) {
				MC_DEBUG("mtrack: %llu went without an event", (unsigned long long)g->id);
				unexplained = true;
			}
			t->gone_prop |= g->peer || g->master;
			if (ids_add(&t->gone, &t->ngone, &t->gonecap, g->id) < 0)
				unexplained = true;
		} else if (j < t->n && t->ents[j].id == ids[i]) {
			ne[i] = t->ents[j];
			t->ents[j].mi = t->ents[j].mo = NULL;
			ne[i].mark = ev_has(t, ids[i]) ? M_STAT : M_KEEP;
			i++, j++;
		} else {
			ne[i].id = ids[i];               /* new: needs its ATTACH */
			ne[i].mark = M_NEW;
			if (!ev_has(t, ids[i])) {
				MC_DEBUG("mtrack: %llu came without an event", (unsigned long long)ids[i]);
				unexplained = true;
			}
			i++;
		}
	}
	if (unexplained) {
		/* give the kept lines back: t->ents stays as it was */
		for (i = 0, j = 0; i < n && j < t->n; ) {
			if (t->ents[j].id < ne[i].id)
				j++;
			else if (t->ents[j].id > ne[i].id)
				i++;
			else {
				t->ents[j] = ne[i++];
				t->ents[j++].mark = M_KEEP;
			}
		}
		for (i = 0; i < n; i++)
			if (ne[i].mark == M_NEW)
				ent_clear(&ne[i]);
		give_spare(t, ne, n);
		return 1;
	}
	*ret = ne;
	return 0;
}

static bool is_gone(const struct mc_mtrack *t, uint64_t id)
{
	return t->ngone && bsearch(&id, t->gone, t->ngone, sizeof id, cmp_u64);
}

/* Mark what the events imply beyond their own mounts (before statmount:
 * from the old parent links): descendants of moved mounts, children of
 * gone ones. Returns whether a mount involved in propagation came, went
 * or moved. One pass; the ancestor walk only when something moved. */
static bool imply_tree(struct mc_mtrack *t, struct ent *ne, size_t n)
{
	bool prop = t->gone_prop, moved = false;

	for (size_t i = 0; i < n; i++)
		if (ne[i].mark == M_STAT) {     /* kept, named by an event: moved */
			moved = true;
			prop |= ne[i].peer || ne[i].master;
		}
	if (!moved && !t->ngone)
		return prop;
	for (size_t i = 0; i < n; i++) {
		struct ent *e = &ne[i];
		if (e->mark != M_KEEP)
			continue;
		if (is_gone(t, e->parent)) {
			e->mark = M_STAT;
			continue;
		}
		if (!moved)
			continue;
		struct ent *a = e;
		for (int depth = 0; depth < 4096 && a->parent != a->id; depth++) {
			a = ent_find(ne, n, a->parent);
			if (!a)
				break;
			if (a->mark == M_STAT && ev_has(t, a->id)) {
				e->mark = M_STAT;
				break;
			}
		}
	}
	return prop;
}

static int fill_marked(struct mc_mtrack *t, struct ent *ne, size_t n, uint8_t which)
{
	for (size_t i = 0; i < n; i++) {
		if (ne[i].mark != which)
			continue;
		int r = ent_fill(t, &ne[i]);
		if (r == -ENOENT) {
			/* gone since listmount(): its unmount woke our poll
			 * fd, so another round follows before any use */
			ent_clear(&ne[i]);
			r = 0;
		}
		if (r < 0)
			return r;
		ne[i].mark = which == M_NEW ? M_DONE_NEW : M_DONE;
	}
	return 0;
}

/* After statmount: mounts that share a new mount's parent and mount point
 * (tucked under it), and every slave when propagation was involved. The
 * new ones are few; each kept entry is compared with them by parent first. */
static int imply_after(struct ent *ne, size_t n, bool prop)
{
	size_t *fresh = NULL, nfresh = 0;

	for (size_t i = 0; i < n; i++) {
		struct ent *e = &ne[i];
		if (e->mark != M_DONE_NEW && e->mark != M_DONE)
			continue;
		prop |= e->peer || e->master;
		if (e->mark == M_DONE_NEW && e->mi) {
			size_t *p = realloc(fresh, (nfresh + 1) * sizeof *p);
			if (!p) {
				free(fresh);
				return -ENOMEM;
			}
			fresh = p;
			fresh[nfresh++] = i;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ent *e = &ne[i];
		if (e->mark != M_KEEP)
			continue;
		if (prop && e->master) {
			e->mark = M_STAT;
			continue;
		}
		for (size_t k = 0; k < nfresh && e->mi; k++) {
			const struct ent *x = &ne[fresh[k]];
			if (x->parent == e->parent && x->mp_len == e->mp_len &&
			    memcmp(x->mi + x->mp_off, e->mi + e->mp_off, e->mp_len) == 0) {
				e->mark = M_STAT;
				break;
			}
		}
	}
	free(fresh);
	return 0;
}

/* The id set after the events, without a listmount(): our ids, where an
 * event names one, as statmount() finds it now (gone from our namespace:
 * -ENOENT), plus the event ids we did not have that statmount() finds.
 * Into t->ids, ascending like listmount()'s. One statmount() of the mount
 * basics per event id (~1 us), a walk of the ids. Returns 0 or <0. */
static int ids_from_events(struct mc_mtrack *t, size_t *ret_n)
{
	size_t n = 0, j = 0;
	uint64_t last = 0;

	for (size_t k = 0; k <= t->nev; k++) {
		uint64_t id = k < t->nev ? t->ev[k] : UINT64_MAX;
		if (k < t->nev && k && id == last)
			continue;               /* sorted: one id, several events */
		last = id;
		for (; j < t->n && t->ents[j].id < id; j++)
			if (ids_add(&t->ids, &n, &t->idcap, t->ents[j].id) < 0)
				return -ENOMEM;
		if (k == t->nev)
			break;
		if (j < t->n && t->ents[j].id == id)
			j++;
		int r = mc_statmount(&t->sm, id, MC_SM_MNT_BASIC);
		t->stats.statmounts++;
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (ids_add(&t->ids, &n, &t->idcap, id) < 0)
			return -ENOMEM;
	}
	*ret_n = n;
	return 0;
}

/* ---- the common change, in place --------------------------------------
 * Mounts that came and mounts that went, nothing moved: a container's
 * start or stop. Unique mount ids only grow, so a mount new to the table
 * sorts after every entry we have (one made earlier and attached now, with
 * an older id, does not: the general round takes it, as it takes a move).
 * The entries change where they are: the gone ones cut out (a memmove per
 * run of kept ones), the new ones appended, and only what the change
 * implies read again, as round_once() would (children of a gone mount;
 * mounts on a new one's mount point; every slave when propagation was
 * involved). Beyond the statmount()s it costs a memmove of the entries
 * after a gone one, a pass over the links (struct link) when a mount went,
 * and one when a new one is shown or propagation was involved: no copy of
 * the array, where the general round copies every entry into a new array
 * and walks it six times (~0.7 ms at 10,000 mounts).
 * Between rounds every entry's mark is M_KEEP; those it sets are reset
 * before it returns. Returns 0 done, ROUND_GENERAL (not this case: nothing
 * changed yet), <0 (before any change, or after one with t->synced
 * cleared: the caller rebuilds). */
#define ROUND_GENERAL 3

static int touch(struct mc_mtrack *t, size_t i, uint8_t mark)
{
	t->ents[i].mark = mark;
	return ids_add(&t->touched, &t->ntouched, &t->touchedcap, i);
}

/* statmount() and render the touched entries from @from on. */
static int fill_touched(struct mc_mtrack *t, size_t from)
{
	for (size_t k = from; k < t->ntouched; k++) {
		struct ent *e = &t->ents[t->touched[k]];
		int r = ent_fill(t, e);
		if (r == -ENOENT) {
			/* gone since its event: its unmount woke our poll fd,
			 * so another round follows before any use */
			ent_clear(e);
			r = 0;
		}
		if (r < 0)
			return r;
		t->links[t->touched[k]] = (struct link){ e->parent, e->master, e->at };
	}
	return 0;
}

/* t->links for the entries and @more to come, from the entries when the
 * last round was not in place. */
static int links_sync(struct mc_mtrack *t, size_t more)
{
	if (t->n + more > t->links_cap) {
		size_t cap = t->n + more + (t->n + more) / 8 + 64;
		struct link *l = realloc(t->links, cap * sizeof *l);
		if (!l)
			return -ENOMEM;
		t->links = l;
		t->links_cap = cap;
	}
	for (size_t i = 0; !t->links_ok && i < t->n; i++)
		t->links[i] = (struct link){ t->ents[i].parent, t->ents[i].master, t->ents[i].at };
	t->links_ok = true;
	return 0;
}

static bool has_u64(const uint64_t *v, size_t n, uint64_t x)
{
	return n && x >= v[0] && x <= v[n - 1] && bsearch(&x, v, n, sizeof x, cmp_u64);
}

static int round_fast(struct mc_mtrack *t)
{
	uint64_t top = t->n ? t->ents[t->n - 1].id : 0;
	size_t i, kept;
	int r;

	t->ngone = t->ncame = t->ntouched = 0;
	t->gone_prop = false;
	/* t->ev is sorted: t->gone and t->came come out ascending */
	for (size_t k = 0; k < t->nev; k++) {
		uint64_t id = t->ev[k];
		if (k && id == t->ev[k - 1])
			continue;
		const struct ent *e = ent_find(t->ents, t->n, id);
		r = mc_statmount(&t->sm, id, MC_SM_MNT_BASIC);
		t->stats.statmounts++;
		if (r == -ENOENT) {             /* gone, or came and went */
			if (e) {                /* (its index into touched, for now) */
				t->gone_prop |= e->peer || e->master;
				if ((r = ids_add(&t->gone, &t->ngone, &t->gonecap, id)) < 0 ||
				    (r = ids_add(&t->touched, &t->ntouched, &t->touchedcap,
						 (uint64_t)(e - t->ents))) < 0)
					return r;
			}
			continue;
		}
		if (r < 0)
			return r;
		if (e || id <= top) {
			MC_DEBUG("mtrack: %llu %s: the general round", (unsigned long long)id,
				 e ? "moved" : "older than our newest");
			return ROUND_GENERAL;   /* moved, or older than our newest */
		}
		if ((r = ids_add(&t->came, &t->ncame, &t->camecap, id)) < 0)
			return r;
	}
	if (!t->ngone && !t->ncame)
		return 0;
	if (t->n + t->ncame > t->n_cap) {
		size_t cap = t->n + t->ncame + (t->n + t->ncame) / 8 + 64;
		struct ent *ne = realloc(t->ents, cap * sizeof *ne);
		if (!ne)
			return -ENOMEM;         /* nothing changed yet */
		t->ents = ne;
		t->n_cap = cap;
	}
	if ((r = links_sync(t, t->ncame)) < 0)
		return r;                       /* nothing changed yet */
	/* From here on the entries change: a failure rebuilds. Cut the gone
	 * ones out (their indexes, ascending, in touched): each run of kept
	 * entries moves down by the number of gone ones before it. */
	for (size_t g = 0, from = 0, to = 0;; g++) {
		size_t at = g < t->ngone ? (size_t)t->touched[g] : t->n;
		if (g < t->ngone)
			ent_clear(&t->ents[at]);
		if (to != from && at > from) {
			memmove(&t->ents[to], &t->ents[from], (at - from) * sizeof *t->ents);
			memmove(&t->links[to], &t->links[from], (at - from) * sizeof *t->links);
		}
		to += at - from;
		if (g == t->ngone) {
			t->n = to;
			break;
		}
		from = at + 1;
	}
	t->ntouched = 0;
	for (i = 0; t->ngone && i < t->n; i++)
		if (has_u64(t->gone, t->ngone, t->links[i].parent) && (r = touch(t, i, M_STAT)) < 0)
			goto fail;
	kept = t->n;
	for (size_t k = 0; k < t->ncame; k++) {
		struct ent *e = &t->ents[t->n];
		memset(e, 0, sizeof *e);
		e->id = t->came[k];
		if ((r = touch(t, t->n++, M_NEW)) < 0)
			goto fail;
	}
	if ((r = fill_touched(t, 0)) < 0)
		goto fail;
	/* What the filled ones imply: t->came now holds the at_key()s of the
	 * new mounts that are shown, sorted, for a first test. */
	bool prop = t->gone_prop;
	size_t filled = t->ntouched, nats = 0;
	for (size_t k = 0; k < filled; k++) {
		const struct ent *e = &t->ents[t->touched[k]];
		prop |= e->peer || e->master;
		if (e->mark == M_NEW && e->mi)
			t->came[nats++] = e->at;
	}
	qsort(t->came, nats, sizeof *t->came, cmp_u64);
	for (i = 0; (prop || nats) && i < kept; i++) {
		if (!(prop && t->links[i].master) && !has_u64(t->came, nats, t->links[i].at))
			continue;               /* (the pass: 24 bytes an entry) */
		const struct ent *e = &t->ents[i];
		if (e->mark != M_KEEP)
			continue;
		bool stat = prop && e->master;
		for (size_t k = 0; !stat && e->mi && k < filled; k++) {
			const struct ent *x = &t->ents[t->touched[k]];
			stat = x->mark == M_NEW && x->mi && x->parent == e->parent && x->mp_len == e->mp_len &&
			       memcmp(x->mi + x->mp_off, e->mi + e->mp_off, e->mp_len) == 0;
		}
		if (stat && (r = touch(t, i, M_STAT)) < 0)
			goto fail;
	}
	if ((r = fill_touched(t, filled)) < 0)
		goto fail;
	for (size_t k = 0; k < t->ntouched; k++)
		t->ents[t->touched[k]].mark = M_KEEP;
	MC_DEBUG("mtrack: in place: %zu came, %zu went, %zu read again", t->ncame, t->ngone,
		 t->ntouched - t->ncame);
	t->stats.version++;
	t->stats.in_place++;
	return 0;
fail:
	MC_DEBUG("mtrack: in place: %s", strerror(-r));
	t->synced = false;
	t->links_ok = false;
	return r;
}

/* One round. Returns 0 done, 1 not explained (rebuild), 2 woken with
 * nothing come, gone or moved (a remount?), ROUND_UNEXPLAINED, <0. */
static int round_once(struct mc_mtrack *t, bool woke)
{
	uint64_t *ids;
	size_t n;
	struct ent *ne;
	int r;

	if (t->barrier_fd >= 0 && (r = barrier(t->barrier_fd)) < 0) {
		/* refused now (a policy loaded since?): list every mount from
		 * now on, rather than rebuild every refresh */
		MC_DEBUG("mtrack: barrier: %s: a listmount() a refresh from now on", strerror(-r));
		mc_sys_close(t->barrier_fd);
		t->barrier_fd = -1;
		t->stats.barrier = false;
	}
	/* with the barrier: every change that woke us has queued its events */
	if ((r = fan_drain(t)) < 0)
		return r;
	if (t->barrier_fd < 0) {
		r = mc_listmount_buf(&t->ids, &t->idcap, &n);
		if (r < 0)
			return r;
		t->stats.listmounts++;
		if ((r = fan_drain(t)) < 0)         /* events of changes just completed */
			return r;
	}
	if (t->overflow) {
		MC_DEBUG("mtrack: fanotify queue overflow");
		return 1;
	}
	if (t->barrier_fd >= 0 && !t->nev && !woke)
		return 0;                       /* nothing announced, nothing woke us */
	if (t->nev)
		qsort(t->ev, t->nev, sizeof *t->ev, cmp_u64);
	if (t->barrier_fd >= 0 && t->nev && (r = round_fast(t)) != ROUND_GENERAL)
		return r;
	if (t->barrier_fd >= 0 && (r = ids_from_events(t, &n)) < 0)
		return r;
	ids = t->ids;
	MC_DEBUG("mtrack: round: %zu events (first %llu), %zu -> %zu mounts%s", t->nev,
		 t->nev ? (unsigned long long)t->ev[0] : 0ull, t->n, n, woke ? ", woken" : "");
	r = merge(t, ids, n, &ne);
	if (r > 0)
		MC_DEBUG("mtrack: an id came or went without its event");
	if (r != 0)
		return r > 0 ? ROUND_UNEXPLAINED : r;  /* its event may still come */
	if (woke && t->nev == 0 && t->ngone == 0 && n == t->n) {
		/* woken, yet nothing came, went or moved: a remount, or an
		 * event still to come (see incremental()) */
		r = 2;
		goto undo;
	}
	bool prop = imply_tree(t, ne, n);
	r = fill_marked(t, ne, n, M_STAT);
	if (r == 0)
		r = fill_marked(t, ne, n, M_NEW);
	if (r == 0)
		r = imply_after(ne, n, prop);
	if (r == 0)
		r = fill_marked(t, ne, n, M_STAT);
	if (r != 0) {
		MC_DEBUG("mtrack: statmount: %s", strerror(-r));
		goto undo;
	}
	if (t->nev || t->ngone || n != t->n)
		t->stats.version++;
	for (size_t i = 0; i < n; i++)          /* between rounds every mark is M_KEEP */
		ne[i].mark = M_KEEP;
	t->links_ok = false;
	/* the kept entries' lines moved to ne: what is left is the gone */
	for (size_t j = 0; j < t->n; j++)
		ent_clear(&t->ents[j]);
	give_spare(t, t->ents, t->n_cap);
	t->ents = ne;
	t->n = n;
	t->n_cap = t->last_cap;
	return 0;
undo:
	/* t->ents lost the lines merge() moved over: rebuild from scratch,
	 * unless nothing was taken (r == 2: the id sets are the same) */
	if (r == 2) {
		for (size_t i = 0; i < n; i++)
			t->ents[i] = ne[i];
		give_spare(t, ne, t->last_cap);
		return 2;
	}
	ents_free(ne, n);
	t->synced = false;
	return r < 0 ? r : 1;
}

/* Walks the kernel's mountinfo @text beside the shown entries (the same
 * order): with @mark, marks M_STAT each entry whose line differs, else
 * counts them. Returns the count, or -1 when the lines do not pair up. */
static ssize_t text_diff(struct mc_mtrack *t, const struct mc_buf *text, bool mark)
{
	const char *p = text->data, *end = p + text->len;
	ssize_t differ = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct ent *e = &t->ents[i];
		if (mark)
			e->mark = M_KEEP;
		if (!e->mi)
			continue;
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		if (!nl)
			return -1;
		size_t l = (size_t)(nl + 1 - p);
		if (l != e->mi_len || memcmp(p, e->mi, l) != 0) {
			differ++;
			if (mark)
				e->mark = M_STAT;
		}
		p = nl + 1;
	}
	return p == end ? differ : -1;
}

/* Events are queued when the namespace lock is released, after the
 * change that wakes poll(): a wake-up with nothing to show may be followed
 * by its events within microseconds. Wait for them once, briefly (a
 * rebuild costs ~3 us per mount), before calling it unexplained. */
#define EVENT_LAG_MS 2

static bool events_come(struct mc_mtrack *t, int ms)
{
	struct pollfd p = { .fd = t->fan_fd, .events = POLLIN };
	return poll(&p, 1, ms) > 0;
}

/* A wake-up nothing explains (no event): a remount, or a propagation
 * change. Instead of a statmount() of every mount (~3 us
 * each: 30-70 ms at 10,000 mounts, 3-8 kernel reads), one validated read
 * of the kernel's text on an fd of our own (not poll_fd: its change event
 * is incremental()'s) says which lines changed, and only those are read
 * again; then the text must match, line for line (a mount that came or
 * went unannounced cannot: rebuild). Until then t->text_pending holds:
 * the table has every announced change but is not served (a remount may
 * be missing). A read torn by a change that came meanwhile is not a
 * reason to rebuild (a statmount of every mount, 5 kernel reads' time,
 * which under bursts tore as well): the change woke poll_fd, and the next
 * update reads the text again after its own rounds. Returns 0 done, 1 not
 * explained (rebuild), TEXT_TORN, <0 an error. */
#define TEXT_TORN 4
static int by_text(struct mc_mtrack *t)
{
	if (t->text_fd < 0)
		t->text_fd = mc_sys_openat(AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC, 0);
	if (t->text_fd < 0)
		return 1;
	/* One try: torn, it is made again after the next round, not in a
	 * loop of its own that holds the refresher up for reads' time. */
	static const struct mc_capture_opts once = { .max_tries = 1 };
	uint64_t t0 = mc_now_ns();
	int r = mc_capture_fd(t->text_fd, &t->text, &once);
	t->stats.text_read_ns = mc_now_ns() - t0;
	t->stats.text_reads++;
	if (r > 0)
		return TEXT_TORN;
	if (r < 0)
		return 1;
	ssize_t differ = text_diff(t, &t->text, true);
	r = differ < 0 ? 1 : fill_marked(t, t->ents, t->n, M_STAT);
	if (differ > 0)
		t->stats.version++;             /* lines read again, whatever follows */
	if (r == 0 && text_diff(t, &t->text, false) != 0)
		r = 1;                          /* statmount renders it otherwise */
	for (size_t i = 0; i < t->n; i++)
		t->ents[i].mark = M_KEEP;
	t->links_ok = false;                    /* (statmount may have moved some) */
	/* Lines that do not pair up, or differ still, because a mount came
	 * or went after our round and before the read (its events queued:
	 * the barrier, then one poll): read again after the next round. */
	if (r > 0 && (t->barrier_fd < 0 || barrier(t->barrier_fd) == 0) && events_come(t, 0))
		return TEXT_TORN;
	if (r != 0) {
		t->synced = false;              /* entries may have lost their lines */
		return r < 0 ? r : 1;
	}
	MC_DEBUG("mtrack: unexplained wake-up: %zd lines changed, read again", differ);
	t->text_pending = false;
	t->stats.text_ns = t0;
	t->stats.by_text++;
	return 0;
}


static int incremental(struct mc_mtrack *t, bool woke, bool text)
{
	bool waited = false;
	/* Take the change event now, before the work: the check after it
	 * must see only the changes made meanwhile. */
	int c = mc_changed(t->poll_fd);

	if (c < 0)
		return c;
	woke |= c > 0;
	t->nev = 0;
	t->overflow = false;
	woke |= t->woke_carry;
	t->woke_carry = false;
	for (int rounds = 0; rounds < 4; rounds++) {
		/* With the barrier, a round applies every event it drains: the
		 * next one starts afresh (an id of the last round's would look
		 * moved, and take the general round). Its wake-up may be that
		 * of a change whose events the last round drained already (it
		 * completed between our poll() and that round's barrier): not
		 * one nothing explains, like a remount in the same wake-up as
		 * an announced change (above: not seen). */
		bool drained = rounds && t->barrier_fd >= 0 && t->nev;
		if (rounds && t->barrier_fd >= 0)
			t->nev = 0;
		int r = round_once(t, woke && !drained);
		if ((r == 2 || r == ROUND_UNEXPLAINED) && !waited && t->barrier_fd < 0) {
			/* try again, with the events drained so far */
			waited = true;
			if (events_come(t, EVENT_LAG_MS)) {
				rounds--;
				continue;
			}
		}
		if (r == 2) {                   /* woken, nothing came, went or moved */
			t->text_pending = true;
			r = 0;
		}
		if (r == ROUND_UNEXPLAINED)
			return 1;
		if (r != 0)
			return r > 0 ? 1 : r;
		if (t->text_pending && !text)
			return TEXT_WAIT;
		if (t->text_pending && (r = by_text(t)) != 0)
			return r == TEXT_TORN ? TEXT_WAIT : r > 0 ? 1 : r;
		r = mc_changed(t->poll_fd);
		if (r <= 0)
			return r;
		/* Changed meanwhile: again. Without the barrier the events
		 * drained so far stay: the second drain may have taken the
		 * event of a change that listmount() did not see yet
		 * (re-stating the others is harmless). */
		woke = true;
	}
	/* Still changing: every round was consistent, and the last wake-up,
	 * consumed, is the next update's to explain. */
	t->woke_carry = true;
	return TEXT_WAIT;
}

/* ---- interface -------------------------------------------------------- */

int mc_mtrack_open(bool incremental, struct mc_mtrack **ret)
{
	struct mc_mtrack *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->fan_fd = -1;
	t->text_fd = -1;
	t->poll_fd = mc_sys_openat(AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC, 0);
	if (t->poll_fd < 0) {
		free(t);
		return -errno;
	}
	if (incremental) {
		t->fan_fd = fan_open();
		if (t->fan_fd < 0)
			MC_DEBUG("mtrack: no fanotify mount events (%s): full rebuilds only",
				 strerror(-t->fan_fd));
	}
	t->incremental = t->fan_fd >= 0;
	t->barrier_fd = -1;
	if (t->incremental && !getenv("MOUNTCACHE_NO_BARRIER")) {
		t->barrier_fd = barrier_open();
		if (t->barrier_fd >= 0 && barrier(t->barrier_fd) < 0) {
			mc_sys_close(t->barrier_fd);
			t->barrier_fd = -1;
		}
		t->stats.barrier = t->barrier_fd >= 0;
		if (t->barrier_fd < 0)
			MC_DEBUG("mtrack: no barrier (%s): a listmount() a refresh",
				 strerror(errno));
	}
	*ret = t;
	return 0;
}

void mc_mtrack_free(struct mc_mtrack *t)
{
	if (!t)
		return;
	ents_free(t->ents, t->n);
	free(t->spare);
	free(t->ev);
	free(t->ids);
	free(t->gone);
	free(t->came);
	free(t->touched);
	free(t->links);
	mc_sm_buf_free(&t->sm);
	mc_buf_free(&t->scratch);
	mc_buf_free(&t->text);
	if (t->text_fd >= 0)
		mc_sys_close(t->text_fd);
	if (t->fan_fd >= 0)
		mc_sys_close(t->fan_fd);
	if (t->barrier_fd >= 0)
		mc_sys_close(t->barrier_fd);
	mc_sys_close(t->poll_fd);
	free(t);
}

int mc_mtrack_poll_fd(const struct mc_mtrack *t)
{
	return t->poll_fd;
}

int mc_mtrack_fan_fd(const struct mc_mtrack *t)
{
	return t->fan_fd;
}

int mc_mtrack_pending(struct mc_mtrack *t)
{
	struct pollfd p[2] = { { .fd = t->poll_fd, .events = POLLPRI },
			       { .fd = t->fan_fd, .events = POLLIN } };
	for (;;) {
		int r = poll(p, t->fan_fd >= 0 ? 2 : 1, 0);
		if (r >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	return ((p[0].revents & (POLLPRI | POLLERR)) ? MC_MTRACK_WOKE : 0) |
	       ((p[1].revents & POLLIN) ? MC_MTRACK_EVENTS : 0);
}

int mc_mtrack_update(struct mc_mtrack *t, unsigned flags)
{
	uint64_t t0 = mc_now_ns();
	int r = 1;

	if (t->synced && t->incremental && !(flags & MC_MTRACK_FULL)) {
		r = incremental(t, flags & MC_MTRACK_WOKE, !(flags & MC_MTRACK_NO_TEXT));
		if (r == TEXT_WAIT) {           /* churn: not served until read */
			t->stats.text_waits++;
			t->stats.last_ns = mc_now_ns() - t0;
			return -EAGAIN;
		}
		if (r == 0)
			t->stats.incremental++;
		else if (r > 0)
			t->stats.fallbacks++;
		if (r != 0)
			MC_DEBUG("mtrack: incremental: %s: rebuild", r > 0 ? "not explained" : strerror(-r));
	}
	if (r != 0)
		r = rebuild(t, !(flags & MC_MTRACK_NO_TEXT));
	uint64_t dt = mc_now_ns() - t0;
	t->stats.last_ns = dt;
	return r;
}

/* @e's line in @fmt and its length, NULL when not shown from our root. */
static const char *ent_line(const struct ent *e, enum mc_format fmt, size_t *ret_len)
{
	*ret_len = fmt == MC_MOUNTINFO ? e->mi_len : e->mo_len;
	return fmt == MC_MOUNTINFO ? e->mi : e->mo;
}

int mc_mtrack_text(const struct mc_mtrack *t, enum mc_format fmt, struct mc_buf *out,
		   struct mc_buf *lines, struct mc_buf *img)
{
	size_t len = 0, n = 0, l;

	if (!t->synced || t->text_pending || t->woke_carry)
		return -ESTALE;
	if (img && fmt != MC_MOUNTS)
		return -EINVAL;                 /* only mounts lines carry an entry */
	for (size_t i = 0; i < t->n; i++)
		if (ent_line(&t->ents[i], fmt, &l)) {
			len += l;
			n++;
		}
	if (len > MC_CAPTURE_MAX)               /* (under 4 GiB: offsets fit 32 bits) */
		return -EFBIG;
	int r = mc_buf_reserve(out, len + 1);
	if (r == 0 && lines)
		r = mc_buf_reserve(lines, (n + 1) * sizeof(uint32_t));
	if (r == 0 && img)
		r = mc_buf_reserve(img, mc_mntimg_size(n));
	if (r < 0)
		return r;
	uint32_t *ends = lines ? (uint32_t *)(void *)lines->data : NULL;       /* mmap'ed: aligned */
	struct mc_mntimg *im = img ? (struct mc_mntimg *)(void *)img->data : NULL;
	if (ends)
		ends[0] = (uint32_t)n;
	if (im)
		im->n = n;
	out->len = 0;
	n = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct ent *e = &t->ents[i];
		const char *s = ent_line(e, fmt, &l);
		if (!s)
			continue;
		if (im) {
			memcpy(&im->ents[n], &e->ment, sizeof e->ment);  /* padding too: as built */
			im->ents[n].line_off = (uint32_t)out->len;
		}
		memcpy(out->data + out->len, s, l);
		out->len += l;
		if (ends)
			ends[n + 1] = (uint32_t)out->len;
		n++;
	}
	if (lines)
		lines->len = (n + 1) * sizeof(uint32_t);
	if (img)
		img->len = mc_mntimg_size(n);
	return 0;
}

const struct mc_mtrack_stats *mc_mtrack_stats(const struct mc_mtrack *t)
{
	return &t->stats;
}
