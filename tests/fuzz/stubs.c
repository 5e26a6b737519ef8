/* stubs.c: the few engine functions the fuzz targets replace.
 *
 * preload/ofd.c asks its view for a snapshot (mc_view_snapshot); here the
 * "view" hands out whatever snapshot the target installed with
 * fuzz_set_snapshot(), exactly as a daemon snapshot would be handed out:
 * bytes nobody checked. Everything else in ofd.c, stream.c, parse.c,
 * index.c, mntent.c and snapshot.c is the real code. */
#include <errno.h>
#include <limits.h>

#include "preload.h"
#include "fuzz.h"

static struct mc_snap *current;

void fuzz_set_snapshot(struct mc_snap *s)
{
	current = s;
}

int mc_view_snapshot(struct mc_view *v, struct mc_snap **ret_snap)
{
	(void)v;
	if (!current)
		return -EAGAIN;
	*ret_snap = mc_snap_ref(current);
	return 0;
}

void mc_views_lock_all(void) {}
void mc_views_unlock_all(void) {}
void mc_views_atfork_child(void) {}
void mc_config_init(void) {}
/* view.c's watch on its own fds: the fuzz targets hold none (the
 * watermark itself is util.c's). */
void mc_views_fd_freed(unsigned first, unsigned last)
{
	(void)first;
	(void)last;
}
