/* incremental.c: mountcached serves the views of its own namespace and root
 * from a table kept up to date in proportion to the change (cache/mtrack.c:
 * fanotify mount events made complete by a barrier, statmount() of what
 * changed), instead of re-reading the whole text after every change. Its
 * snapshots are put together from the entries' lines, line ends and
 * getmntent entries, in buffers kept from one snapshot to the next: when a
 * request wants one (refresher.c, due_at()), not after every change, as a
 * snapshot is a full copy of the text and its indexes (~1 ms at 10,000
 * mounts) where the table's update is ~0.1 ms.
 *
 * Freshness is the text path's: the table's mountinfo fd and fanotify fd
 * are in the daemon's epoll set and handled before requests; a request
 * first polls both (one poll(0)) and brings the table up to date if
 * anything is pending, so an answer reflects every change announced before
 * the request. Changes nobody announces (propagation flips with mount(2),
 * a remount in the same wake-up as a topology change, a master lost in
 * another namespace) are caught the way the text path catches them: a
 * client's MC_REQ_REVALIDATE and the maximum age make us compare the table
 * with one kernel read, and rebuild it when they differ.
 *
 * Why it is off by default (`mountcached --incremental` or
 * MOUNTCACHE_INCREMENTAL=1 turn it on): a remount raises a poll() wake-up
 * but no fanotify event, and one wake-up stands for every change since the
 * last. A remount that falls in the same wake-up as a mount or unmount is
 * therefore invisible until the next check (--max-age-ms), and meanwhile
 * the answer mixes the new topology with the old flags: tests/e2e/daemon.sh
 * (churn: mount, umount, remount rw, remount ro) sees such reads as torn.
 * Where remounts of the daemon's namespace do not come in bursts with
 * other changes, the answers are exact (tests/e2e/statmount.sh). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "incremental.h"

static struct mc_mtrack *mt;
static struct mc_view_key self;
static int check_fd = -1;               /* our own mountinfo fd for checks */
static uint64_t checked_ns;             /* the last full check or rebuild: right as of this */
static struct mc_snap *snaps[2];        /* per format, of snap_version */
static uint64_t snap_version[2];
static struct mc_buf text, kernel;
static int last_r;                      /* of the last update */
static uint64_t read_ns;                /* atomic: mcd_incr_read_ns() */

static struct {
	unsigned long events, updates, checks, check_retries, check_diffs, failures;
	uint64_t ns_total, ns_max;
} ist;

int mcd_incr_init(const struct mc_view_key *key)
{
	int r = mc_mtrack_open(true, &mt);
	if (r < 0)
		return r;
	if (mc_mtrack_fan_fd(mt) < 0) {         /* no incremental here */
		mc_mtrack_free(mt);
		mt = NULL;
		return -EOPNOTSUPP;
	}
	check_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	r = check_fd < 0 ? -errno : mc_mtrack_update(mt, MC_MTRACK_FULL);
	if (r == -EAGAIN) {                     /* whole: the next update goes on */
		last_r = r;
		r = 0;
	}
	if (r < 0) {
		if (check_fd >= 0)
			close(check_fd);
		mc_mtrack_free(mt);
		mt = NULL;
		return r;
	}
	checked_ns = mc_now_ns();
	/* A read's time, for the refresher's settle and brief waits before
	 * the first text read (one try: a torn one is timed as well). */
	static const struct mc_capture_opts once = { .max_tries = 1 };
	uint64_t t0 = mc_now_ns();
	(void)mc_capture_fd(check_fd, &kernel, &once);
	__atomic_store_n(&read_ns, mc_now_ns() - t0, __ATOMIC_RELAXED);
	self = *key;
	return 0;
}

bool mcd_incr_serves(const struct mc_view_key *key)
{
	return mt && memcmp(key, &self, sizeof self) == 0;
}

static int update(unsigned flags)
{
	uint64_t t0 = mc_now_ns();
	unsigned long waits = mc_mtrack_stats(mt)->text_waits;
	uint64_t reads = mc_mtrack_stats(mt)->text_reads;
	int r = mc_mtrack_update(mt, flags);
	uint64_t dt = mc_now_ns() - t0;
	if (mc_mtrack_stats(mt)->text_reads != reads)
		__atomic_store_n(&read_ns, mc_mtrack_stats(mt)->text_read_ns, __ATOMIC_RELAXED);

	ist.updates++;
	ist.ns_total += dt;
	if (dt > ist.ns_max)
		ist.ns_max = dt;
	/* An incremental update is right for every announced change, not for
	 * a remount or flip nobody announced: those stay bounded by the last
	 * full check (a rebuild, check(), or a wake-up settled by a text
	 * read, which compared the whole table with the kernel's as check()
	 * does), which must come even while changes keep coming. */
	if (r < 0) {
		if (mc_mtrack_stats(mt)->text_waits == waits)
			ist.failures++; /* (not a text read or round left for later) */
	} else if (flags & MC_MTRACK_FULL) {
		checked_ns = t0;        /* rebuilt from scratch: nothing unannounced left */
	}
	if (r == 0 && mc_mtrack_stats(mt)->text_ns > checked_ns)
		checked_ns = mc_mtrack_stats(mt)->text_ns;
	last_r = r;
	return r;
}

static int pending_update(void)
{
	int p = mc_mtrack_pending(mt);
	if (p < 0)
		return p;
	if (p == 0 && last_r == 0)
		return 0;                       /* nothing pending: one poll() */
	return update((unsigned)p & MC_MTRACK_WOKE);
}

/* The table against one validated kernel read (the cost of the text
 * path's recapture); a difference means a change nobody announced:
 * rebuild. Our mountinfo fd is not the table's, so its poll events stay
 * for the table's own updates. */
static int check(void)
{
	int r = pending_update();
	for (int tries = 0;; tries++) {
		if (r < 0)
			return r;
		uint64_t t0 = mc_now_ns();
		r = mc_capture_fd(check_fd, &kernel, NULL);
		if (r != 0)
			return r < 0 ? r : -EAGAIN;
		ist.checks++;
		r = mc_mtrack_text(mt, MC_MOUNTINFO, &text, NULL, NULL);
		if (r < 0)
			return r;
		if (text.len == kernel.len && memcmp(text.data, kernel.data, text.len) == 0) {
			checked_ns = t0;
			return 0;
		}
		/* A change announced after pending_update() and before the
		 * read differs too, and is no reason for a rebuild (~3 us a
		 * mount: 25-45 ms at 10,000, seen under churn in bench/
		 * incr.sh): bring the table up to date and compare again.
		 * Only a difference with nothing pending was never announced.
		 * Still changing after three reads, or a read torn: no
		 * verdict (-EAGAIN), and the caller counts a torn capture. */
		int p = mc_mtrack_pending(mt);
		if (p < 0)
			return p;
		if (p == 0)
			break;
		if (tries == 2)
			return -EAGAIN;
		ist.check_retries++;
		r = update((unsigned)p & MC_MTRACK_WOKE);
	}
	ist.check_diffs++;
	MC_DEBUG("incremental: the table differs from the kernel's with no change pending: rebuild");
	return update(MC_MTRACK_FULL);
}

/* A snapshot's buffers (its text, its line index, for mounts its
 * getmntent image), kept for the next one when the snapshot goes: fresh
 * ones cost a page fault per 4 KiB as they were filled and an munmap()
 * after, with a TLB shootdown across the daemon's threads (at 10,000
 * mounts a third of the daemon's CPU per change once the refresh itself
 * no longer lists every mount). The indexes come from the entries
 * (mc_mtrack_text()), not a walk and a parse of the
 * text (the image alone ~3 ms at 10,000 mounts); the snapshot only
 * borrows them (MC_SNAP_SHIPPED_*: not its to free). One set kept per
 * format; snapshots are released on the refresher thread or the thread
 * answering requests, hence the lock. */
struct bufs {
	struct mc_buf text, lines, img;
};
static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bufs *spare[2];

static void bufs_free(struct bufs *b)
{
	if (!b)
		return;
	mc_buf_free(&b->text);
	mc_buf_free(&b->lines);
	mc_buf_free(&b->img);
	free(b);
}

static void give_spare(struct mc_snap *s)
{
	struct bufs *b = s->owner;
	pthread_mutex_lock(&spare_mu);
	if (!spare[s->fmt]) {
		spare[s->fmt] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&spare_mu);
	bufs_free(b);
}

/* A snapshot of the table in @fmt, in kept buffers when there are. */
static struct mc_snap *snap_make(enum mc_format fmt, int *ret)
{
	pthread_mutex_lock(&spare_mu);
	struct bufs *b = spare[fmt];
	spare[fmt] = NULL;
	pthread_mutex_unlock(&spare_mu);
	if (!b && !(b = calloc(1, sizeof *b))) {
		*ret = -ENOMEM;
		return NULL;
	}
	int r = mc_mtrack_text(mt, fmt, &b->text, &b->lines, fmt == MC_MOUNTS ? &b->img : NULL);
	struct mc_snap *s = r < 0 ? NULL : mc_snap_borrow(fmt, b->text.data, b->text.len, true);
	if (!s) {
		bufs_free(b);
		*ret = r < 0 ? r : -ENOMEM;
		return NULL;
	}
	s->owner = b;
	s->release = give_spare;
	s->lines = (uint32_t *)(void *)b->lines.data;          /* not yet shared */
	s->shipped |= MC_SNAP_SHIPPED_LINES;
	if (fmt == MC_MOUNTS) {
		s->mntimg = (struct mc_mntimg *)(void *)b->img.data;
		s->shipped |= MC_SNAP_SHIPPED_IMG;
	}
	return s;
}

int mcd_incr_snapshot(enum mc_format fmt, uint64_t need_ns, struct mc_snap **ret_snap)
{
	int r;

	if (!mt)
		return -EOPNOTSUPP;
	if (checked_ns < need_ns || (mc_max_age_ns && mc_now_ns() - checked_ns > mc_max_age_ns))
		r = check();
	else
		r = pending_update();
	if (r < 0)
		return r;
	uint64_t version = mc_mtrack_stats(mt)->version;
	if (!snaps[fmt] || snap_version[fmt] != version) {
		struct mc_snap *s = snap_make(fmt, &r);
		if (!s)
			return r;
		mc_snap_unref(snaps[fmt]);
		snaps[fmt] = s;
		snap_version[fmt] = version;
	}
	/* Unchanged since it was made, and known right as of checked_ns. */
	snaps[fmt]->captured_ns = checked_ns;
	*ret_snap = mc_snap_ref(snaps[fmt]);
	return 0;
}

uint64_t mcd_incr_read_ns(void)
{
	return __atomic_load_n(&read_ns, __ATOMIC_RELAXED);
}

void mcd_incr_fds(int *ret_poll_fd, int *ret_fan_fd)
{
	*ret_poll_fd = mt ? mc_mtrack_poll_fd(mt) : -1;
	*ret_fan_fd = mt ? mc_mtrack_fan_fd(mt) : -1;
}

/* epoll reported one of our fds: its readiness check consumed a mountinfo
 * change event, so the update is told it was woken. */
int mcd_incr_event(void)
{
	ist.events++;
	/* A wake-up with nothing to explain it (a remount) is settled by a
	 * text read, which in a burst would tear: left to the update for the
	 * next request, which the refresher holds until the burst is quiet
	 * (this update's -EAGAIN). */
	return update(MC_MTRACK_WOKE | MC_MTRACK_NO_TEXT);
}

void mcd_incr_stats(char *buf, size_t size)
{
	if (!mt) {
		snprintf(buf, size, "incremental off\n");
		return;
	}
	const struct mc_mtrack_stats *s = mc_mtrack_stats(mt);
	snprintf(buf, size,
		 "incremental on\nincr_updates %lu\nincr_events %lu\nincr_refreshes %lu\n"
		 "incr_rebuilds %lu\nincr_in_place %lu\nincr_fallbacks %lu\nincr_by_text %lu\nincr_text_waits %lu\nincr_failures %lu\nincr_statmounts %lu\n"
		 "incr_checks %lu\nincr_check_retries %lu\nincr_check_diffs %lu\nincr_avg_us %.1f\nincr_max_us %.1f\n",
		 ist.updates, ist.events, s->incremental, s->full, s->in_place, s->fallbacks, s->by_text, s->text_waits, ist.failures,
		 s->statmounts, ist.checks, ist.check_retries, ist.check_diffs,
		 ist.updates ? ist.ns_total / 1e3 / ist.updates : 0, ist.ns_max / 1e3);
}
