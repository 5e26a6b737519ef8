/* incremental.h: mountcached's incremental refresh (incremental.c). */
#ifndef MCD_INCREMENTAL_H
#define MCD_INCREMENTAL_H

#include <stdbool.h>
#include <stddef.h>

#include "mc.h"

/* Track the daemon's own namespace and root (@self) with cache/mtrack.c.
 * Returns 0, or <0 when it cannot (disabled, no statmount or fanotify
 * mount events, no CAP_SYS_ADMIN): every view then uses the text capture. */
int mcd_incr_init(const struct mc_view_key *self);
/* Whether a view of @key is served from the tracked table: the same
 * namespace and root as the daemon's (only those can be rendered from our
 * statmount()). */
bool mcd_incr_serves(const struct mc_view_key *key);
/* A snapshot of @fmt reflecting every change announced before the call,
 * and checked against a kernel read begun at or after @need_ns (a
 * client's MC_REQ_REVALIDATE, the maximum age; 0: none needed), one read
 * made only when the last check is older: the two formats' views share
 * it. Returns 0; -EAGAIN under churn (a text read or check torn, changes
 * still coming: the caller takes it as a torn capture and tries again
 * after its pause); other <0: the caller uses the text capture (a change
 * it could not render). */
int mcd_incr_snapshot(enum mc_format fmt, uint64_t need_ns, struct mc_snap **ret_snap);
/* The fds to watch (EPOLLPRI, EPOLLIN; -1 for none), and what to do
 * when one fires: bring the table up to date now, leaving a text read
 * for later (-EAGAIN: the views settle before their next snapshot). */
void mcd_incr_fds(int *ret_poll_fd, int *ret_fan_fd);
int mcd_incr_event(void);
/* What one read of the kernel's text took, the last time one was made
 * (0: none yet): the refresher settles a burst against it, and bounds a
 * brief request's wait by it. Any thread. */
uint64_t mcd_incr_read_ns(void);
/* Statistics lines for the daemon's stats text. */
void mcd_incr_stats(char *buf, size_t size);

#endif
