/* refresher.h: mountcached's views and the thread that keeps them fresh
 * (refresher.c), apart from the loop that answers clients (mountcached.c). */
#ifndef MCD_REFRESHER_H
#define MCD_REFRESHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc.h"

/* Start the refresher thread (after mcd_incr_init, if at all).
 * Returns 0 or -errno. */
int mcd_refresher_start(void);

/* What a request is answered with. */
struct mcd_answer {
	uint64_t gen, len;
	uint64_t captured_ns;   /* start of the read it came from: the age bound */
	int memfd;              /* a dup the caller sends and closes; -1 when the
				 * client already holds generation @have_gen */
	bool waited;            /* for a refresh: not a hit */
};

/* The answering loop's one entry: the newest snapshot of (@fmt, @key)
 * that reflects every change announced before @arrival_ns (and, with
 * @force or past the maximum age, read after it). @procdir is the client's
 * /proc/<pid>, to open a new view's fds. Waits for a refresh one kernel
 * read's time (the view's measured capture time, 2-80 ms), longer (up to
 * 80 ms) only until a capture has been tried since the request.
 * With @brief (MC_REQ_BRIEF) it waits only for a proof or for a capture
 * under way that should end within half a read: see brief_verdict().
 * Returns 0; -EAGAIN: no validated snapshot in that time ("churning", or
 * for @brief "declined"); -ENOSPC: too many views; other <0 errors. */
int mcd_answer(enum mc_format fmt, const struct mc_view_key *key, int procdir,
	       uint64_t arrival_ns, bool force, bool brief, uint64_t have_gen, struct mcd_answer *ret);

/* brief_verdict()'s rule for a capture under way (begun at @busy_ns,
 * expected to take @cost): until when a brief request that arrived at
 * @arrival_ns waits for it, judged at @now; 0: decline. It waits only for
 * a capture due within half a read of its arrival, and at most an eighth
 * of a read past that. Pure (tests/test_refresher.c). */
uint64_t mcd_brief_capture_until(uint64_t busy_ns, uint64_t cost, uint64_t arrival_ns, uint64_t now);

/* Let go of views nobody asked for in @idle_ns (the answering loop's timer). */
void mcd_views_expire(uint64_t idle_ns);

/* Statistics lines (views, captures, waits...), for the stats answer. */
void mcd_refresher_stats(char *buf, size_t size);

#endif
