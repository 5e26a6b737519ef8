/* getmntent.c: getmntent_r answered from the snapshot's getmntent image.
 *
 * The image (cache/mntent.c) holds per line what glibc would leave in the
 * caller's buffer: an entry costs one copy of its line. The stream's
 * position moves as glibc's would, past the line's '\n', so a program may
 * mix in fgets() or ftell(). */
#include <errno.h>
#include <string.h>

#include "ofd.h"

/* With the slot locked: the entry at @pos and on, past a new pass's
 * snapshot, a line the hint does not name, or one glibc treats its own
 * way. */
static __attribute__((noinline)) int getmntent_slow(struct mc_ofd *o, int64_t pos, struct mntent *mp,
						    char *buf, int bufsiz, bool may_block)
{
	struct mc_slot *s = o->slot;

	if (!mc_ofd_continues(o, pos)) {
		/* as mc_ofd_read(): glibc reads on through our read() */
		if (mc_slot_in_kernel_pass(s, pos))
			return -EAGAIN;
		/* A new pass takes a snapshot: that may read the kernel
		 * (a cancellation point) and build the image. */
		if (!may_block)
			return MC_GETMNTENT_BLOCKS;
		if (mc_ofd_settle(o, pos) < 0)
			return -EAGAIN;
	}
	const struct mc_snap *snap = o->snap;
	const struct mc_mntimg *img = mc_snap_mntimg(o->snap);
	if (!img)
		return -EAGAIN;
	if ((size_t)pos >= snap->len)
		return 0;
	size_t i = mc_mntimg_find(img, o->line_hint, (uint64_t)pos);
	if (i == SIZE_MAX)              /* mid-line: the program mixed in fgets */
		return -EAGAIN;
	int r = mc_mntimg_next(img, snap->text, &i, mp, buf, bufsiz);
	o->line_hint = i;
	pos = i < img->n ? img->ents[i].line_off : snap->len;
	s->pos = s->read_pos = s->seq.kend = pos;
	return r;
}

int mc_ofd_getmntent(struct mc_ofd *o, struct mntent *mp, char *buf, int bufsiz, bool may_block)
{
	struct mc_slot *s = o->slot;
	int r;

	if (o->fmt != MC_MOUNTS || bufsiz <= 0)
		return -EINVAL;
	bool locked = mc_slot_lock_hot(s);
	int64_t pos = s->pos;
	const struct mc_mntimg *img;
	const struct mc_ment *e;
	/* The hit: the pass goes on at the line the last entry ended
	 * before, a fast line that fits. Cost: the slot lock, a line copy. */
	if (likely(mc_ofd_continues(o, pos) && (img = mc_snap_mntimg_built(o->snap)) &&
		   o->line_hint < img->n && (e = &img->ents[o->line_hint])->line_off == pos &&
		   (e->flags & MC_MENT_FAST) && (size_t)e->line_len + 2 <= (size_t)bufsiz)) {
		mc_ment_fill(e, o->snap->text, mp, buf);
		size_t i = ++o->line_hint;
		pos = i < img->n ? img->ents[i].line_off : o->snap->len;
		s->pos = s->read_pos = s->seq.kend = pos;
		r = 1;
	} else {
		r = getmntent_slow(o, pos, mp, buf, bufsiz, may_block);
	}
	mc_slot_unlock_hot(s, locked);
	return r;
}
