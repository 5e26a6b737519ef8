/* capture.c: a consistent copy of a mountinfo or mounts file.
 *
 * Why this is needed: the kernel renders these files one page per read()
 * call and re-takes the namespace lock for each page, so a read that spans a
 * mount change can mix two states (a torn table). It also offers a cheap
 * change signal: poll() on an open mountinfo/mounts fd reports
 * POLLPRI|POLLERR once after each change of its mount namespace, counted from
 * the open (POLLIN is always set and useless).
 *
 * So: consume any pending event, read everything, poll again. If no event
 * came, no announced change happened between the two polls, and since the
 * kernel bumps the namespace event counter while it holds the namespace lock
 * that every page read also takes, the text is one state. Otherwise retry,
 * with a growing pause, and give up after a bounded number of tries (one,
 * for a read longer than a quiet window: RETRY_MAX_US), returning the last
 * read marked unvalidated (never worse than the kernel).
 *
 * The gap: mount(2) with MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE
 * changes the text (the optional fields) but raises no event: the kernel's
 * do_change_type() never touches the namespace event counter, and fanotify
 * is silent too (mount_setattr() does raise one). A validated capture is
 * therefore consistent for every change except those propagation flips,
 * which the callers cover: the preload invalidates on its own mount() calls
 * and bounds the age of any snapshot it serves (see preload/view.c). */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"

/* A torn read that took longer than the quiet windows between bursts of
 * container churn (the daemon waits at most this long for one to settle:
 * refresher.c's SETTLE_MAX_NS) is not tried again: a retry would pause a
 * read's time and read again, and under churn tear again (at 50,000
 * mounts, ~45-75 ms a read, three torn tries cost five reads' time before
 * the caller stepped aside, loops 0.18-0.27x of the kernel). Its bytes go
 * out as they are, what a read of the kernel gives (as torn as it), and
 * the caller steps aside for 20 reads' time; a table changed now and then
 * is captured at its next try. Smaller tables keep three tries, which
 * under bursty churn mostly find a quiet window. */
#define RETRY_MAX_US 20000u

int mc_changed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };

	for (;;) {
		int r = poll(&p, 1, 0);
		if (r >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	if (p.revents & POLLNVAL)
		return -EBADF;
	return (p.revents & (POLLPRI | POLLERR)) ? 1 : 0;
}

/* One full read from offset 0. The kernel ignores the buffer size beyond a
 * page, so the loop is what costs; we only make sure the buffer never forces
 * an extra grow-and-retry. */
static int read_all(int fd, struct mc_buf *buf)
{
	if (mc_sys_lseek(fd, 0, SEEK_SET) < 0)
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
		ssize_t n = mc_sys_read(fd, buf->data + buf->len, buf->cap - buf->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		buf->len += n;
	}
}

int mc_capture_fd(int fd, struct mc_buf *buf, const struct mc_capture_opts *opts)
{
	unsigned tries = opts && opts->max_tries ? opts->max_tries : 3;
	unsigned pause_us = opts && opts->backoff_us ? opts->backoff_us : 50;
	unsigned retry_max_us = opts && opts->retry_max_us ? opts->retry_max_us : RETRY_MAX_US;
	int r;

	if (opts && opts->size_hint) {
		r = mc_buf_reserve(buf, opts->size_hint + 65536);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < tries; i++) {
		r = mc_changed(fd);            /* (1) consume what came before */
		if (r < 0)
			goto fail;
		uint64_t t0 = mc_now_ns();
		r = read_all(fd, buf);         /* (2) one full read */
		if (r < 0)
			goto fail;
		r = mc_changed(fd);            /* (3) quiet during the read? */
		if (r < 0)
			goto fail;
		if (r == 0)
			return 0;
		unsigned read_us = (unsigned)((mc_now_ns() - t0) / 1000);
		if (i + 1 == tries)
			break;                 /* no pause for a try we will not make */
		if (read_us > retry_max_us) {
			MC_DEBUG("capture: change during a read of %u us: not tried again", read_us);
			break;
		}
		MC_DEBUG("capture: change during read %u, retrying", i + 1);
		/* Churn comes in bursts; waiting lets a burst finish. Wait at
		 * least as long as one read took: three tries then span about
		 * five reads' time (three reads, two pauses), enough to
		 * outlast a burst, and no more. */
		if (pause_us < read_us)
			pause_us = read_us;
		else if (pause_us < 20000)
			pause_us *= 2;
		struct timespec ts = { .tv_sec = pause_us / 1000000,
				       .tv_nsec = (long)(pause_us % 1000000) * 1000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	MC_DEBUG("capture: no quiet window in %u tries, unvalidated", tries);
	return 1;
fail:
	buf->len = 0;
	return r;
}
