/* getmntent.c: getmntent_r answered from the snapshot's getmntent image.
 *
 * The image (cache/mntent.c) holds per line what glibc would leave in the
 * caller's buffer: an entry costs one copy of its line. The stream's
 * position moves as glibc's would, past the line's '\n', so a program may
 * mix in fgets() or ftell(). */
#include <errno.h>
#include <string.h>

#include "ofd.h"

int mc_ofd_getmntent(struct mc_ofd *o, struct mntent *mp, char *buf, int bufsiz, bool may_block)
{
	struct mc_slot *s = o->slot;
	int r = -EAGAIN;

	if (o->fmt != MC_MOUNTS || bufsiz <= 0)
		return -EINVAL;
	mc_slot_lock(s);
	int64_t pos = s->pos;
	if (!mc_ofd_continues(o, pos)) {
		/* A new pass takes a snapshot: that may read the kernel
		 * (a cancellation point) and build the image. */
		if (!may_block) {
			r = -EWOULDBLOCK;
			goto out;
		}
		if (mc_ofd_settle(o, pos) < 0)
			goto out;
	}
	const struct mc_snap *snap = o->snap;
	const struct mc_mntimg *img = mc_snap_mntimg(o->snap);
	if (!img)
		goto out;
	if ((size_t)pos >= snap->len) {
		r = 0;
		goto out;
	}
	size_t i = mc_mntimg_find(img, o->line_hint, (uint64_t)pos);
	if (i == SIZE_MAX)              /* mid-line: the program mixed in fgets */
		goto out;
	r = mc_mntimg_next(img, snap->text, &i, mp, buf, bufsiz);
	o->line_hint = i;
	pos = i < img->n ? img->ents[i].line_off : snap->len;
	s->pos = s->read_pos = s->seq.kend = pos;
out:
	mc_slot_unlock(s);
	return r;
}
