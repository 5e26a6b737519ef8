/* refresher.c: mountcached's views, kept fresh by a thread of their own, so
 * that the loop answering clients never reads the kernel's table.
 *
 * Two fds per view. poll() on a mountinfo/mounts fd consumes the change
 * event of its open file, so each thread has its own: the refresher polls
 * rfd (and captures through it), the answering loop polls mfd. Neither
 * ever polls the other's.
 *
 * Why an answer is never stale. The refresher keeps, per view, fresh_ns:
 * every change completed before fresh_ns is in the published snapshot.
 * A capture sets it to the time it began (its first poll consumes what came
 * before, its read then shows all of it); a later quiet poll() of rfd, with
 * nothing between it and the capture, moves it to the time just before
 * that poll. The answering loop keeps m_since: the time just after the
 * last poll() of mfd that showed a change, so a quiet poll() of mfd proves
 * no change completed between m_since and that poll. A request arriving at
 * A polls mfd (at or after A) and is answered with the snapshot if
 * fresh_ns >= m_since: the snapshot has every change before m_since, and
 * none came between m_since and the poll. Otherwise the request asks the
 * refresher for a proof or a capture (want_ns) and waits for it.
 *
 * Propagation flips (MS_SHARED...) are announced by nobody: a client that
 * made one asks with MC_REQ_REVALIDATE, and then, like any request finding
 * a snapshot older than the maximum age, is answered only from a read
 * begun after it arrived (want_read_ns).
 *
 * Churn. The refresher tries one capture per wake-up and pauses a quarter
 * of a capture's time after a torn one, twice as long after each further
 * torn one in a row, up to 8 captures' time (at least PAUSE_MIN_NS, at
 * most PAUSE_MAX_NS): a table that takes longer to read than the quiet
 * between its changes (50,000 mounts under bursty churn) would otherwise
 * be read over and over for nobody, taking a core from the clients that
 * read the kernel meanwhile. The price: when such churn stops, clients
 * read the kernel for up to about 9 captures' time more (the pause, and
 * the capture after it). A request waits
 * one kernel read's time (the view's last refresh time, 2-80 ms); with no
 * validated snapshot by then, and a capture that ended after it arrived
 * torn, it is answered "churning" and the client reads the kernel: it
 * paid at most two reads' time. Never more than 80 ms in all. After
 * TORN_STREAK torn captures in a row (a table that takes longer to read
 * than the quiet between changes), "churning" comes at once: one read.
 *
 * Ownership. The view list and the fields marked "shared" are under mu.
 * mfd and m_since belong to the answering loop; rfd, dirty, proves,
 * retry_ns, changed_ns, dirty_ns, size_hint and the buffers cbuf and pbuf
 * to the refresher. Only the refresher frees a view (one the
 * answering loop marked drop), so its pointer stays valid while it
 * captures without the lock. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "incremental.h"
#include "proto.h"
#include "refresher.h"

#define MAX_VIEWS 256
#define ACTIVE_NS (10ull * 1000000000u)     /* a view used this recently is kept ahead */
#define WAIT_MIN_NS (2u * 1000000u)
#define WAIT_MAX_NS (80u * 1000000u)
#define PAUSE_MIN_NS (1u * 1000000u)
#define PAUSE_MAX_NS (1000u * 1000000u)
#define PAUSE_DOUBLINGS 5                       /* dt/4 << 5: 8 captures' time */
/* A change comes in a burst (a container's start mounts 10-30 things back
 * to back): a capture begun at its first event is torn by the next one and
 * costs a whole kernel read for nothing. So a view made dirty by its own
 * poll() is captured only once it has been quiet for SETTLE_NS (or one
 * capture's time, if that is shorter, but at least SETTLE_MIN_NS), or once
 * one capture's time (at least WAIT_MIN_NS, at most SETTLE_MAX_NS) has
 * passed since the burst's first change, whichever comes first: a request
 * then waits at most about two reads, as before. After a torn capture the
 * view is retried as before (retry_ns), with no settling. */
#define SETTLE_NS (1u * 1000000u)
#define SETTLE_MIN_NS (100u * 1000u)
#define SETTLE_MAX_NS (WAIT_MAX_NS / 4)
/* After this many torn captures in a row a request is told "churning" at
 * once: one more kernel read's wait would most likely end the same way,
 * and the client would pay two reads' time instead of one. */
#define TORN_STREAK 3
/* A brief request waits at least this long for a proof (brief_verdict):
 * one takes the refresher two rounds of its loop when its poll() began
 * before the request came, microseconds on an idle machine, more when it
 * is scheduled late; and an incremental view's cost (a snapshot's copy,
 * ~1 ms at 10,000 mounts) is no measure of it. */
#define BRIEF_PROOF_MIN_NS (1u * 1000000u)

struct view {
	struct view *next;                      /* shared */
	enum mc_format fmt;
	struct mc_view_key key;
	bool incr;                              /* served by incremental.c */
	/* the answering loop's */
	int mfd;
	uint64_t m_since;
	/* the refresher's */
	int rfd;
	bool dirty;                             /* rfd showed a change not yet captured */
	uint64_t changed_ns, dirty_ns;          /* rfd's last change, the first since clean */
	uint64_t born_ns, seen_ns;              /* rfd opened; its last change seen (never reset) */
	uint64_t declined_gen;                  /* derive(): the sibling's text that could not be */
	bool proves;                            /* a quiet poll of rfd proves the snapshot */
	uint64_t retry_ns;                      /* no capture before this (after a torn one) */
	size_t size_hint;
	struct mc_buf cbuf;                     /* capture_once()'s, reused */
	struct mc_buf pbuf;                     /* the published text, if pbuf_valid */
	bool pbuf_valid;                        /* the published memfd came from a text capture */
	/* shared */
	int memfd;
	uint64_t gen, len;
	uint64_t read_ns;                       /* the published read began then */
	uint64_t fresh_ns;                      /* see the top of the file */
	uint64_t cost_ns;                       /* the last refresh took this long */
	uint64_t used_ns;                       /* the last request */
	uint64_t want_ns, want_read_ns;         /* a request waits for fresh_ns, read_ns */
	uint64_t torn_ns;                       /* the last torn capture ended then */
	uint64_t busy_ns;                       /* a refresh under way began then; 0: none */
	unsigned torn_streak;                   /* captures torn since the last validated one */
	bool gone, drop;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static struct view *views;                      /* shared */
static unsigned nviews;                         /* shared */
static int efd = -1;                            /* wakes the refresher */
static struct {                                 /* shared */
	unsigned long captures, unchanged, ahead, waited, churning, declined, unvalidated, proofs, derived,
		derive_declined;
	unsigned long brief_waited;
	unsigned brief_wait_max_pct;    /* a brief request's longest wait, % of its view's read */
	uint64_t refresh_ns_total, refresh_ns_max, unvalidated_ns;
} rst;
static char incr_text[1024];                    /* shared: incremental.c's stats */
/* The refresher's: the incremental table's last wake-up left a text read
 * to come (a remount in the burst). One table serves every incremental
 * view, so one flag, not a copy in each: it is set at each wake-up, the
 * only place an incremental view's changed_ns is set, and due_at() reads
 * it only for a view whose changed_ns is set. */
static bool incr_text_due;
/* shared: the refresher has polled every text view's fd at or after this
 * time and acted on what it saw (marked it dirty, or proved its snapshot) */
static uint64_t refresher_seen_ns;

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A time for MOUNTCACHE_DEBUG lines, in ms on a 100 s dial: the
 * refresher's and the answering loop's lines side by side. */
static double debug_ms(uint64_t ns)
{
	return (double)(ns % (100000ull * 1000000u)) / 1e6;
}

static void wake_refresher(void)
{
	uint64_t one = 1;
	if (write(efd, &one, sizeof one) < 0) {
		/* EAGAIN: the counter is full, a wake-up is pending anyway. */
	}
}

/* ---- the answering loop's side ----------------------------------------- */

static int open_at(int procdir, enum mc_format fmt)
{
	int fd = openat(procdir, fmt == MC_MOUNTINFO ? "mountinfo" : "mounts", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Called with mu held. The view's fds are opened through the client's
 * /proc/<pid>: they show its namespace and root for as long as we hold
 * them, whatever becomes of the process. */
static int new_view(enum mc_format fmt, const struct mc_view_key *key, int procdir, struct view **ret)
{
	if (nviews >= MAX_VIEWS)
		return -ENOSPC;
	struct view *v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	v->mfd = open_at(procdir, fmt);
	v->rfd = v->mfd < 0 ? v->mfd : open_at(procdir, fmt);
	if (v->rfd < 0) {
		int r = v->rfd;
		if (v->mfd >= 0)
			close(v->mfd);
		free(v);
		return r;
	}
	v->m_since = v->born_ns = mc_now_ns();  /* a new fd's baseline is its open */
	v->fmt = fmt;
	v->key = *key;
	v->incr = mcd_incr_serves(key);
	v->dirty = true;
	v->memfd = -1;
	v->next = views;
	views = v;
	nviews++;
	*ret = v;
	return 0;
}

/* Called with mu held: hand @v to the refresher to free. */
static void drop_view(struct view *v)
{
	close(v->mfd);
	v->mfd = -1;
	v->drop = true;
	wake_refresher();
}

static int find_view(enum mc_format fmt, const struct mc_view_key *key, int procdir, struct view **ret)
{
	for (struct view *v = views; v; v = v->next) {
		if (v->drop || v->fmt != fmt || memcmp(&v->key, key, sizeof *key) != 0)
			continue;
		if (!v->gone) {
			*ret = v;
			return 0;
		}
		drop_view(v);                   /* its reads fail: start anew */
	}
	return new_view(fmt, key, procdir, ret);
}

/* Called with mu held: a revalidation, or a snapshot past the maximum
 * age, is answered only from a read begun after the request. */
static bool needs_read(const struct view *v, bool force, uint64_t now)
{
	return force || now - v->read_ns > mc_max_age_ns;
}

/* Called with mu held. */
static bool answerable(const struct view *v, uint64_t arrival_ns, bool force, uint64_t now)
{
	if (v->memfd < 0 || v->fresh_ns < v->m_since)
		return false;
	return !needs_read(v, force, now) || v->read_ns >= arrival_ns;
}

uint64_t mcd_brief_capture_until(uint64_t busy_ns, uint64_t cost, uint64_t arrival_ns, uint64_t now)
{
	/* From the arrival, not from now: judged again at each wake-up from
	 * then on, a capture begun after the request came was waited for up
	 * to a whole read, and one that then tore cost the client two reads
	 * (waits of 92% of a read were seen). */
	uint64_t end = busy_ns + cost;
	return end <= arrival_ns + cost / 2 && now < end + cost / 8 ? end + cost / 8 : 0;
}

/* Called with mu held, for a brief request @v cannot answer yet: 0 to
 * decline now, else until when to wait. Its client goes on with the
 * kernel's pass when declined, which costs about one read (cost_ns) more,
 * so a wait pays only for what is nearly done:
 *  - a proof: the refresher has not yet polled its fd since the change
 *    the request's own poll saw (seen_ns < m_since): its next poll (a few
 *    microseconds) proves the snapshot or shows the change; waited for
 *    half a read, at least BRIEF_PROOF_MIN_NS;
 *  - a capture under way that should end within half a read of the
 *    request's arrival (waited for up to an eighth of a read more).
 * Anything else is a read away (a capture settling after a burst's last
 * change, paused after a torn one, begun after the request, or not
 * begun), or needs a read begun after the request (a revalidation, the
 * maximum age): decline. The client pays at most about 1.6 reads: 5/8 of
 * a read's wait, then the kernel's, when the capture it waited for is
 * torn or late (stats: brief_wait_max_pct; on a table
 * read in under 2 ms, at most BRIEF_PROOF_MIN_NS and a read). A view not
 * yet captured (cost unknown) is not judged here: its first capture,
 * begun for this request, costs about what the kernel's pass would, and
 * the client gets a table no churn has torn. */
static uint64_t brief_verdict(const struct view *v, uint64_t arrival_ns, bool force, uint64_t now)
{
	uint64_t cost = v->cost_ns, limit = arrival_ns + max_u64(cost / 2, BRIEF_PROOF_MIN_NS);
	if (v->torn_ns >= arrival_ns || v->torn_streak)
		return 0;                       /* churn */
	if (needs_read(v, force, now))
		return 0;                       /* only a read begun after it would do: a read away */
	/* An incremental view's table follows each change; what the request
	 * waits for is a snapshot made from it (its last refresh's cost,
	 * ~1 ms at 10,000 mounts), worth it against the kernel's pass: waited
	 * for up to that, at most half a kernel read (a refresh that must
	 * read a remount's text first is a read away), at least
	 * BRIEF_PROOF_MIN_NS. */
	if (v->incr) {
		uint64_t read = mcd_incr_read_ns(), wait = !read ? 0 : cost > read / 2 ? read / 2 : cost;
		limit = arrival_ns + max_u64(wait, BRIEF_PROOF_MIN_NS);
		return now < limit ? limit : 0;
	}
	if (v->busy_ns)
		return mcd_brief_capture_until(v->busy_ns, cost, arrival_ns, now);
	return refresher_seen_ns < v->m_since && now < limit ? limit : 0;
}

int mcd_answer(enum mc_format fmt, const struct mc_view_key *key, int procdir,
	       uint64_t arrival_ns, bool force, bool brief, uint64_t have_gen, struct mcd_answer *ret)
{
	struct view *v;
	pthread_mutex_lock(&mu);
	int r = find_view(fmt, key, procdir, &v);
	if (r == 0)
		v->used_ns = arrival_ns;
	pthread_mutex_unlock(&mu);
	if (r < 0)
		return r;

	/* Cost of an answer from a fresh snapshot: this poll(), two
	 * uncontended lock round trips, and a dup() when the client does not
	 * hold the generation yet. */
	r = mc_changed(v->mfd);
	if (r > 0)
		v->m_since = mc_now_ns();

	pthread_mutex_lock(&mu);
	if (r < 0) {
		drop_view(v);
		pthread_mutex_unlock(&mu);
		return r;
	}
	uint64_t wait = v->cost_ns ? v->cost_ns : WAIT_MAX_NS;
	wait = wait < WAIT_MIN_NS ? WAIT_MIN_NS : wait > WAIT_MAX_NS ? WAIT_MAX_NS : wait;
	uint64_t deadline = arrival_ns + wait, brief_cost = v->cost_ns;
	bool waited = false;
	for (;;) {
		uint64_t now = mc_now_ns();
		if (v->gone) {
			r = -ESRCH;
			break;
		}
		if (answerable(v, arrival_ns, force, now)) {
			ret->gen = v->gen;
			ret->len = v->len;
			ret->captured_ns = v->read_ns;
			ret->memfd = -1;
			r = 0;
			if (have_gen != v->gen && (ret->memfd = fcntl(v->memfd, F_DUPFD_CLOEXEC, 0)) < 0)
				r = -errno;
			break;
		}
		/* "Churning" only once a capture that ended after the request
		 * came was torn: a refresher merely slow to be scheduled (a
		 * loaded machine) is waited for, up to WAIT_MAX_NS, within
		 * the client's own timeout (100 ms). A streak of torn captures
		 * answers at once: the refresher keeps trying unasked (a torn
		 * capture leaves its view dirty), and its next validated
		 * capture ends the streak. */
		if (v->torn_streak >= TORN_STREAK || (now >= deadline && v->torn_ns >= arrival_ns) ||
		    now >= arrival_ns + WAIT_MAX_NS) {
			rst.churning++;
			r = -EAGAIN;
			/* A view left idle (ACTIVE_NS) in a streak is tried
			 * again only once the refresher sees it in use. */
			wake_refresher();
			break;
		}
		v->want_ns = max_u64(v->want_ns, v->m_since);
		if (needs_read(v, force, now))
			v->want_read_ns = max_u64(v->want_read_ns, arrival_ns);
		wake_refresher();
		uint64_t until = now >= deadline ? arrival_ns + WAIT_MAX_NS : deadline;
		if (brief && v->cost_ns && !(until = brief_verdict(v, arrival_ns, force, now))) {
			rst.declined++;
			r = -EAGAIN;
			break;
		}
		waited = true;
		struct timespec ts = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	rst.waited += waited;
	rst.brief_waited += brief && waited;
	if (brief && waited && brief_cost) {
		uint64_t pct = (mc_now_ns() - arrival_ns) * 100 / brief_cost;
		if (pct > rst.brief_wait_max_pct)
			rst.brief_wait_max_pct = pct > 100000 ? 100000 : (unsigned)pct;
	}
	pthread_mutex_unlock(&mu);
	MC_DEBUG("answer: arrived %.3f ms, %s after %.1f ms%s", debug_ms(arrival_ns),
		 r == 0 ? "served" : r == -EAGAIN ? "declined" : "failed", (mc_now_ns() - arrival_ns) / 1e6,
		 brief ? " (brief)" : "");
	ret->waited = waited;
	return r;
}

void mcd_views_expire(uint64_t idle_ns)
{
	uint64_t now = mc_now_ns();
	pthread_mutex_lock(&mu);
	for (struct view *v = views; v; v = v->next)
		if (!v->drop && now - v->used_ns > idle_ns)
			drop_view(v);
	pthread_mutex_unlock(&mu);
}

void mcd_refresher_stats(char *buf, size_t size)
{
	pthread_mutex_lock(&mu);
	double avg = rst.captures ? rst.refresh_ns_total / 1e3 / rst.captures : 0;
	snprintf(buf, size,
		 "views %u\ncaptures %lu\nunchanged %lu\nahead %lu\nrefresh_avg_us %.1f\nrefresh_max_us %.1f\n"
		 "waited %lu\nchurning %lu\ndeclined %lu\nunvalidated %lu\nunvalidated_ms %.1f\nproofs %lu\n"
		 "derived %lu\nderive_declined %lu\nbrief_waited %lu\nbrief_wait_max_pct %u\n%s",
		 nviews, rst.captures, rst.unchanged, rst.ahead, avg, rst.refresh_ns_max / 1e3, rst.waited,
		 rst.churning, rst.declined, rst.unvalidated, rst.unvalidated_ns / 1e6, rst.proofs,
		 rst.derived, rst.derive_declined, rst.brief_waited, rst.brief_wait_max_pct, incr_text);
	pthread_mutex_unlock(&mu);
}

/* ---- the refresher's side ---------------------------------------------- */

/* One full read from offset 0 (capture.c's, without its retries: the
 * refresher's loop is the retry, and must keep proving other views). */
static int read_all(int fd, struct mc_buf *buf)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	buf->len = 0;
	for (;;) {
		if (buf->cap - buf->len < 4096) {
			if (buf->len + 4096 > MC_CAPTURE_MAX)
				return -EFBIG;
			int r = mc_buf_reserve(buf, buf->len + 65536);
			if (r < 0)
				return r;
		}
		ssize_t n = read(fd, buf->data + buf->len, buf->cap - buf->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		buf->len += (size_t)n;
	}
}

/* One try: 0 validated (no change between the polls around the read), 1
 * torn, <0 the fd fails. */
static int capture_once(struct view *v, struct mc_snap **ret_snap)
{
	/* Into the view's own buffer, kept from one capture to the next: a
	 * fresh one took a page fault per 4 KiB as the kernel filled it (8%
	 * of the daemon's time under churn, ~9 us a fault on this project's
	 * machine kind). The snapshot only borrows it: publish() copies it
	 * into a memfd, and the snapshot is gone before the next capture. */
	struct mc_buf *buf = &v->cbuf;
	if (buf->cap > (1u << 20) && buf->cap / 4 > v->size_hint + 65536)
		mc_buf_free(buf);               /* the table shrank a lot */
	int r = mc_buf_reserve(buf, v->size_hint + 65536);
	if (r == 0 && (r = mc_changed(v->rfd)) > 0)
		v->seen_ns = mc_now_ns();       /* (derive() must not go back before it) */
	if (r >= 0)
		r = read_all(v->rfd, buf);
	if (r >= 0 && (r = mc_changed(v->rfd)) > 0)
		v->seen_ns = mc_now_ns();
	if (r != 0)
		return r;
	v->size_hint = buf->len;
	*ret_snap = mc_snap_borrow(v->fmt, buf->data, buf->len, true);
	return *ret_snap ? 0 : -ENOMEM;
}

/* A sealed memfd holding @s and its indexes (proto.h): once sent, nobody
 * can change it. The indexes are built here once, instead of in every
 * client: the line index costs a walk of the text, the getmntent image
 * (mounts only: the format getmntent reads) ~0.3 us a line. */
static int seal(struct mc_snap *s)
{
	int fd = memfd_create("mountcache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	const uint32_t *lines = mc_snap_lines(s);
	const struct mc_mntimg *img = s->fmt == MC_MOUNTS ? mc_snap_mntimg(s) : NULL;
	int r = mc_shm_write(fd, s->text, s->len, lines, img);
	if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Returns whether @s went out in a new memfd. @same: a text capture that
 * found the published bytes (s->gen is the published one's). @derived:
 * made from a sibling's capture, not a read of its own. */
static bool publish(struct view *v, struct mc_snap *s, uint64_t t0, uint64_t dt, bool ahead, bool same,
		    bool derived)
{
	pthread_mutex_lock(&mu);
	uint64_t gen = v->gen;
	pthread_mutex_unlock(&mu);
	int fd = s->gen == gen ? -1 : seal(s);          /* outside the lock: a copy */
	if (fd < 0 && s->gen != gen) {
		pthread_mutex_lock(&mu);
		v->gone = true;                         /* no memory: the clients read the kernel */
		v->busy_ns = 0;
		pthread_mutex_unlock(&mu);
		return false;
	}
	pthread_mutex_lock(&mu);
	int old = -1;
	if (fd >= 0) {
		old = v->memfd;
		v->memfd = fd;
		v->gen = s->gen;
		v->len = s->len;
	}
	/* incremental.c's snapshot is right as of its last full check for
	 * the changes nobody announces; a text read as of its start. */
	v->read_ns = v->incr && s->captured_ns < t0 ? s->captured_ns : t0;
	if (v->fresh_ns < v->want_ns && t0 >= v->want_ns && fd < 0)
		rst.proofs++;
	v->fresh_ns = max_u64(v->fresh_ns, t0);
	v->cost_ns = dt;
	v->torn_streak = 0;
	v->busy_ns = 0;
	if (derived) {
		rst.derived++;
	} else if (fd >= 0 || same) {
		rst.captures++;
		rst.unchanged += same;
		rst.refresh_ns_total += dt;
		if (dt > rst.refresh_ns_max)
			rst.refresh_ns_max = dt;
	}
	rst.ahead += ahead;
	pthread_mutex_unlock(&mu);
	if (old >= 0)
		close(old);
	return fd >= 0;
}

static void refresh(struct view *v, bool force, bool ahead);

/* A mounts view's text made from the capture of its mountinfo sibling
 * (the same namespace and root; parse.c, mc_mounts_from_mountinfo()):
 * one kernel read for both views, where two were read before, and the
 * mounts text is the same moment's as the mountinfo text. The sibling's
 * read must have begun after everything this view must show: its own fd's
 * baseline (born_ns), the last change its poll() saw (seen_ns), and @need
 * (refresh()'s: what a request or a re-read ahead asks for); the sibling
 * is captured now when it has none such.
 * The snapshot is then stamped with the sibling's read, so fresh_ns and
 * the proofs by this view's quiet poll() mean what they mean for a
 * capture begun then. Returns 0 (*ret_t0: the stamp), 1 the sibling's
 * capture, made now, was torn (this view's too: *ret_cost is what one
 * more try costs), 2 the sibling is paused after torn ones (this view
 * takes its pause and its streak), <0 nothing to derive from: capture.
 *
 * A text that cannot be derived (a line with superblock flags; on a
 * SELinux host nearly every line has "seclabel") is remembered by its
 * generation, and while it is so, the sibling is captured for us only
 * when it has a change of its own to read anyway: never two reads where
 * one did before. */
static int derive(struct view *v, uint64_t need, struct mc_snap **ret_snap, uint64_t *ret_t0,
		  uint64_t *ret_cost)
{
	uint64_t start = mc_now_ns();
	struct view *src = NULL;

	pthread_mutex_lock(&mu);
	for (struct view *w = views; w && !src; w = w->next)
		if (w->fmt == MC_MOUNTINFO && !w->incr && !w->gone && !w->drop &&
		    memcmp(&w->key, &v->key, sizeof v->key) == 0)
			src = w;
	need = max_u64(need, max_u64(v->born_ns, v->seen_ns));
	uint64_t src_read = src ? src->read_ns : 0, src_cost = src ? src->cost_ns : 0;
	uint64_t src_gen = src ? src->gen : 0;
	/* (a sibling nobody asks for keeps no buffers: a read of our own) */
	bool idle = !src || (start > src->used_ns && start - src->used_ns >= ACTIVE_NS);
	pthread_mutex_unlock(&mu);
	if (idle)
		return -ENOENT;
	bool captured = false;
	if (!src->pbuf_valid || src->dirty || src_read < need) {
		if (v->declined_gen && !src->dirty)
			return -ENOENT;         /* it would not read now but for us */
		if (src->retry_ns > start) {            /* paused after torn ones */
			pthread_mutex_lock(&mu);
			v->torn_ns = max_u64(v->torn_ns, src->torn_ns);
			v->torn_streak = src->torn_streak;
			pthread_mutex_unlock(&mu);
			v->retry_ns = src->retry_ns;
			return 2;
		}
		refresh(src, false, false);             /* a text capture, now */
		captured = true;
		pthread_mutex_lock(&mu);
		pthread_cond_broadcast(&cv);            /* its own waiters */
		src_read = src->read_ns;
		src_cost = src->cost_ns;
		src_gen = src->gen;
		pthread_mutex_unlock(&mu);
		if (!src->pbuf_valid || src->dirty || src_read < need) {
			*ret_cost = src_cost;
			return 1;
		}
	}
	if (v->declined_gen && v->declined_gen == src_gen)
		return -ENOENT;
	int r = mc_buf_reserve(&v->cbuf, src->pbuf.len + 65536);
	if (r == 0)
		r = mc_mounts_from_mountinfo(src->pbuf.data, src->pbuf.len, &v->cbuf);
	v->declined_gen = r == -EOPNOTSUPP ? src_gen : 0;
	if (r == -EOPNOTSUPP) {
		pthread_mutex_lock(&mu);
		rst.derive_declined++;
		pthread_mutex_unlock(&mu);
	}
	if (r < 0) {
		MC_DEBUG("refresher: mounts not derived from mountinfo (%s): read", strerror(-r));
		return -ENOENT;
	}
	*ret_snap = mc_snap_borrow(MC_MOUNTS, v->cbuf.data, v->cbuf.len, true);
	if (!*ret_snap)
		return -ENOMEM;
	v->size_hint = v->cbuf.len;
	*ret_t0 = src_read;
	*ret_cost = mc_now_ns() - start + (captured ? 0 : src_cost);
	return 0;
}

/* Bring @v up to date: incremental.c where it serves, else the mountinfo
 * sibling's capture (derive()), else one text capture. */
static void refresh(struct view *v, bool force, bool ahead)
{
	uint64_t t0 = mc_now_ns(), start = t0, cost = 0;
	struct mc_snap *s = NULL;
	pthread_mutex_lock(&mu);
	v->busy_ns = t0;                        /* for brief_verdict() */
	/* What an incremental view's table must have been checked against
	 * the kernel since, or a derived view's sibling read after: a
	 * request's arrival, or for a re-read ahead anything newer than this
	 * view has (the other format's view of the same table may have just
	 * had one: one read serves both). */
	uint64_t need = !force ? 0 : ahead ? v->read_ns + 1 : max_u64(v->want_read_ns, 1);
	pthread_mutex_unlock(&mu);
	bool text = false, same = false, derived = false;
	int r = v->incr ? mcd_incr_snapshot(v->fmt, need, &s) : -EOPNOTSUPP;
	/* An incremental view under churn (its text read or check torn, or
	 * changes still coming): torn, retried after the pause; a capture of
	 * our own now would most likely tear as well. */
	if (r == -EAGAIN && v->incr)
		r = 1;
	if (r < 0 && !v->incr && v->fmt == MC_MOUNTS) {
		r = derive(v, need, &s, &t0, &cost);
		if (r == 2) {                           /* the sibling's pause is ours */
			MC_DEBUG("refresher: mounts paused with its mountinfo sibling");
			v->dirty = true;
			v->proves = false;
			v->changed_ns = 0;
			pthread_mutex_lock(&mu);
			v->busy_ns = 0;
			pthread_mutex_unlock(&mu);
			return;
		}
		derived = r >= 0;
		text = r == 0;
		if (r < 0)                              /* our own read begins now */
			t0 = start = mc_now_ns();
	}
	if (r < 0) {
		r = capture_once(v, &s);
		text = true;
	}
	uint64_t now = mc_now_ns(), dt = derived ? cost : now - start;
	MC_DEBUG("refresher: %s %s %s at %.3f ms, %.1f ms", v->fmt == MC_MOUNTS ? "mounts" : "mountinfo",
		 derived ? "derived" : v->incr ? "incremental" : "read", r == 0 ? "validated" : r > 0 ? "torn" : "failed",
		 debug_ms(start), dt / 1e6);
	if (r == 0) {
		v->dirty = false;
		v->changed_ns = v->dirty_ns = 0;
		v->proves = !v->incr;   /* incremental views are proved by incremental.c */
		/* The same bytes as the published snapshot (a re-read ahead of
		 * expiry, a burst that ended where it began): the capture is
		 * a proof, and clients keep the mapping they hold instead of
		 * mapping (and later unmapping) a new copy of it. pbuf holds
		 * the published text exactly when it came from a capture; a
		 * memcmp() is ~1% of the read it follows. */
		if (text && v->pbuf_valid && v->pbuf.len == s->len && memcmp(v->pbuf.data, s->text, s->len) == 0) {
			pthread_mutex_lock(&mu);
			same = v->memfd >= 0;
			if (same)
				s->gen = v->gen;
			pthread_mutex_unlock(&mu);
		}
		if (publish(v, s, t0, dt, ahead, same, derived)) {
			v->pbuf_valid = text;
			if (text) {             /* the published text is now pbuf's */
				struct mc_buf t = v->pbuf;
				v->pbuf = v->cbuf;
				v->cbuf = t;
			}
		}
		mc_snap_unref(s);
		return;
	}
	unsigned streak = 0;                    /* torn captures in a row, this one included */
	pthread_mutex_lock(&mu);
	v->busy_ns = 0;
	if (r < 0) {
		v->gone = true;         /* the answering loop makes a new view */
	} else {
		if (!derived) {                 /* (the sibling's capture counted it) */
			rst.unvalidated++;
			rst.unvalidated_ns += dt;
		}
		v->cost_ns = dt;
		v->torn_ns = now;
		streak = ++v->torn_streak;
	}
	pthread_mutex_unlock(&mu);
	/* dt/4, doubled for each further torn capture in a row; the floor
	 * after the doubling (8 reads on a small table, not 32 ms) */
	uint64_t pause = dt / 4;
	if (streak)
		pause = min_u64(pause << min_u64(streak - 1, PAUSE_DOUBLINGS), PAUSE_MAX_NS);
	v->dirty = true;
	v->proves = false;
	v->retry_ns = now + max_u64(pause, PAUSE_MIN_NS);
	if (r > 0)              /* torn: retried at retry_ns, not settled again */
		v->changed_ns = 0;
}

/* When @v next needs work (UINT64_MAX: not until something happens);
 * *ret_force: a read begun now is needed, not a proof. Called with mu. */
static uint64_t due_at(const struct view *v, uint64_t now, bool *ret_force, bool *ret_ahead)
{
	bool active = now - v->used_ns < ACTIVE_NS;
	bool want_read = v->want_read_ns > v->read_ns;
	bool want_proof = v->want_ns > v->fresh_ns;
	*ret_force = want_read;
	*ret_ahead = false;
	/* Nobody waits on a view unused for ACTIVE_NS: under churn, its
	 * captures would be tried (and torn) for nobody. */
	if (v->gone || v->drop || !active)
		return UINT64_MAX;
	/* A poll(0) of rfd is the proof of a text view: the loop's next. */
	if (want_proof && !want_read && !v->incr && v->proves && !v->dirty)
		return now;
	/* An incremental view's table follows every change as it comes
	 * (mcd_incr_event(): in proportion to the change); its snapshot, a
	 * full copy of the text and its indexes in a sealed memfd, is made
	 * only when a request wants it, not for every change. */
	if (want_read || want_proof || (v->dirty && !v->incr) || v->memfd < 0) {
		uint64_t at = max_u64(now, v->retry_ns);
		if (v->dirty && v->changed_ns && v->memfd >= 0) {       /* settle */
			/* (an incremental view with a text read to come
			 * settles for a read: its own refreshes are mostly a
			 * snapshot's copy) */
			uint64_t cost = v->incr && incr_text_due ? max_u64(v->cost_ns, mcd_incr_read_ns()) : v->cost_ns;
			uint64_t most = v->dirty_ns + min_u64(max_u64(cost, WAIT_MIN_NS), SETTLE_MAX_NS);
			uint64_t quiet = v->changed_ns + min_u64(max_u64(cost, SETTLE_MIN_NS), SETTLE_NS);
			at = max_u64(at, min_u64(quiet, most));
		}
		return at;
	}
	/* Re-read a view in use before its snapshot expires, so that requests
	 * rarely wait for it: at 3/4 of the maximum age, and no more often
	 * than every 8 of its own capture times (a huge table, or churn). The
	 * price: one capture per 0.75 s per active view (3% of a core at
	 * 10,000 mounts), for 10 s after the last request. */
	if (mc_max_age_ns) {
		uint64_t every = max_u64(mc_max_age_ns / 4 * 3, 8 * v->cost_ns);
		*ret_force = *ret_ahead = true;
		return max_u64(v->read_ns + every, v->retry_ns);
	}
	return UINT64_MAX;
}

/* The refresher's capture buffers of @v (two tables' worth), if any. */
static void free_buffers(struct view *v)
{
	mc_buf_free(&v->cbuf);
	mc_buf_free(&v->pbuf);
	v->pbuf_valid = false;
}

/* Called with mu held: free the views the answering loop let go of. */
static void reap(void)
{
	for (struct view **pp = &views; *pp;) {
		struct view *v = *pp;
		if (!v->drop) {
			pp = &v->next;
			continue;
		}
		*pp = v->next;
		close(v->rfd);
		if (v->memfd >= 0)
			close(v->memfd);
		free_buffers(v);
		free(v);
		nviews--;
	}
}

static void *run(void *arg)
{
	(void)arg;
	struct pollfd pf[3 + MAX_VIEWS];
	struct view *all[MAX_VIEWS], *pv[3 + MAX_VIEWS];
	int incr_pfd, incr_ffd;
	uint64_t tick = mc_max_age_ns / 8;

	tick = tick < 20000000u ? 20000000u : tick > 10000000000u ? 10000000000u : tick;
	mcd_incr_fds(&incr_pfd, &incr_ffd);
	for (;;) {
		unsigned n = 0, nall = 0;
		pf[n++] = (struct pollfd){ .fd = efd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = incr_pfd, .events = POLLPRI };
		pf[n++] = (struct pollfd){ .fd = incr_ffd, .events = POLLIN };
		uint64_t now = mc_now_ns(), wake = now + tick;
		bool force, ahead;

		pthread_mutex_lock(&mu);
		reap();
		for (struct view *v = views; v; v = v->next) {
			all[nall++] = v;
			if (!v->incr && !v->gone) {
				pv[n] = v;
				pf[n++] = (struct pollfd){ .fd = v->rfd, .events = POLLPRI };
			}
			uint64_t due = due_at(v, now, &force, &ahead);
			if (due < wake)
				wake = due;
		}
		pthread_mutex_unlock(&mu);

		uint64_t t_b = mc_now_ns();
		uint64_t left = wake > t_b ? wake - t_b : 0;
		struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };
		/* A failed ppoll() (ENOMEM, say) may not have looked at the
		 * fds: nothing learnt, and no quiet to prove freshness by. */
		bool polled = ppoll(pf, n, &ts, NULL) >= 0;
		if (!polled)
			for (unsigned i = 0; i < n; i++)
				pf[i].revents = 0;
		if (pf[0].revents & POLLIN) {
			uint64_t count;
			if (read(efd, &count, sizeof count) < 0) {
				/* EAGAIN: another read took it */
			}
		}
		/* Our incremental table's fds: poll() consumed a mountinfo
		 * change event, so it is told it was woken. */
		bool incr_woke = (pf[1].revents | pf[2].revents) != 0;
		if (incr_woke)
			incr_text_due = mcd_incr_event() == -EAGAIN;
		pthread_mutex_lock(&mu);
		for (unsigned i = 3; i < n; i++) {
			struct view *v = pv[i];
			if (pf[i].revents) {
				v->changed_ns = v->seen_ns = mc_now_ns();
				if (!v->dirty || !v->dirty_ns)
					v->dirty_ns = v->changed_ns;
				v->dirty = true;        /* the event is consumed: capture */
				v->proves = false;
			} else if (polled && v->proves && v->fresh_ns < t_b) {
				/* Quiet since the snapshot's own capture. */
				if (v->want_ns > v->fresh_ns)
					rst.proofs++;
				v->fresh_ns = t_b;
			}
		}
		/* An incremental view is settled as a text view is (due_at()):
		 * its snapshot is a full copy, and every client maps each new
		 * one (one a burst, not one a wake-up: the watchers' CPU was
		 * twice the text path's without), and one whose update left a
		 * text read to come (a remount in a burst) settles against a
		 * read's time, since a read begun in the burst would tear. */
		for (unsigned i = 0; i < nall && incr_woke; i++) {
			struct view *v = all[i];
			if (!v->incr)
				continue;
			uint64_t now_c = mc_now_ns();
			/* a burst's first change: not one of an earlier burst
			 * no request came for */
			if (!v->changed_ns || now_c - v->changed_ns > SETTLE_MAX_NS)
				v->dirty_ns = now_c;
			v->changed_ns = now_c;
			v->dirty = true;
		}
		if (polled)
			refresher_seen_ns = t_b;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);

		for (unsigned i = 0; i < nall; i++) {
			struct view *v = all[i];
			now = mc_now_ns();
			pthread_mutex_lock(&mu);
			uint64_t due = due_at(v, now, &force, &ahead);
			bool proof_only = due == now && !force && !v->incr && v->proves && !v->dirty;
			/* (used_ns may be a request's arrival after our now) */
			bool idle = v->gone || v->drop || (now > v->used_ns && now - v->used_ns >= ACTIVE_NS);
			pthread_mutex_unlock(&mu);
			/* A view nobody asks for keeps no capture buffers (two
			 * tables' worth): its next capture starts afresh. */
			if (idle && (v->cbuf.cap || v->pbuf.cap))
				free_buffers(v);
			if (due > now || proof_only)
				continue;
			refresh(v, force, ahead);
			pthread_mutex_lock(&mu);
			pthread_cond_broadcast(&cv);
			pthread_mutex_unlock(&mu);
		}
		if (incr_woke || incr_pfd >= 0) {
			char text[sizeof incr_text];
			mcd_incr_stats(text, sizeof text);
			pthread_mutex_lock(&mu);
			memcpy(incr_text, text, sizeof text);
			pthread_mutex_unlock(&mu);
		}
	}
	return NULL;
}

int mcd_refresher_start(void)
{
	pthread_condattr_t ca;
	pthread_t t;

	mcd_incr_stats(incr_text, sizeof incr_text);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return -errno;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	int r = pthread_create(&t, NULL, run, NULL);
	if (r != 0)
		return -r;
	pthread_detach(t);
	return 0;
}
