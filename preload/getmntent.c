/* getmntent.c: getmntent_r answered from the snapshot's getmntent image.
 *
 * The image (cache/mntent.c) holds per line what glibc would leave in the
 * caller's buffer: an entry costs one copy of its line. The stream's
 * position moves as glibc's would, past the line's '\n', so a program may
 * mix in fgets() or ftell(). The hooks (hooks.c) come straight here: an
 * entry that continues a pass runs in mc_getmntent_r() alone. */
#include <errno.h>
#include <string.h>

#include "ofd.h"

/* How far ahead getmntent's hit asks for the text and the image: a few
 * entries (at 10,000 mounts: 3-4% of a pass, measured against 0). */
#define MC_PREFETCH_AHEAD 256
/* ofd_getmntent(): ask again with may_block, cancellation disabled. */
#define MC_GETMNTENT_BLOCKS 2

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
	size_t i = mc_mntimg_find(img, o->ment ? (size_t)(o->ment - img->ents) : 0, (uint64_t)pos);
	if (i == SIZE_MAX)              /* mid-line: the program mixed in fgets */
		return -EAGAIN;
	int r = mc_mntimg_next(img, snap->text, &i, mp, buf, bufsiz);
	o->ment = &img->ents[i];
	o->ment_end = &img->ents[img->n];
	o->ment_text = snap->text;
	o->ment_gen = snap->gen;
	pos = i < img->n ? img->ents[i].line_off : snap->len;
	s->pos = s->read_pos = s->seq.kend = pos;
	return r;
}

/* The entry at the slot's position. The hit: the pass goes on at the line
 * the last entry ended before, a fast line that fits. Cost: the slot lock
 * (none with one thread), ~12 loads and compares, a line copy. Inlined
 * into the hooks below: the call and its six saved registers were a
 * tenth of an entry. */
static inline __attribute__((always_inline)) int ofd_getmntent(struct mc_ofd *o, struct mntent *mp, char *buf,
								int bufsiz, bool may_block)
{
	struct mc_slot *s = o->slot;
	int r;

	if (o->fmt != MC_MOUNTS || bufsiz <= 0)
		return -EINVAL;
	bool locked = mc_slot_lock_hot(s);
	int64_t pos = s->pos;
	/* The cursor's snapshot is o->snap (it is cleared when that
	 * changes): the gen compare is mc_ofd_continues()'s. */
	const struct mc_ment *e = o->ment;
	if (likely(e && e < o->ment_end && s->gen == o->ment_gen && pos != 0 && pos == s->read_pos &&
		   e->line_off == pos && (e->flags & MC_MENT_FAST) && (size_t)e->line_len + 2 <= (size_t)bufsiz)) {
		mc_ment_fill(e, o->ment_text, mp, buf);
		o->ment = ++e;
		pos = e < o->ment_end ? e->line_off : o->snap->len;
		s->pos = s->read_pos = s->seq.kend = pos;
		/* A pass walks the text and the image in order, but one entry
		 * is too little work for the hardware to fetch ahead: ask for
		 * the lines a few entries on (a prefetch never faults). */
		__builtin_prefetch(o->ment_text + pos + MC_PREFETCH_AHEAD);
		__builtin_prefetch((const char *)e + MC_PREFETCH_AHEAD);
		r = 1;
	} else {
		r = getmntent_slow(o, pos, mp, buf, bufsiz, may_block);
	}
	mc_slot_unlock_hot(s, locked);
	return r;
}

/* A new pass (which may read the kernel: cancellation disabled), or
 * glibc's own answer. @r is what the hit path said. */
static __attribute__((noinline)) struct mntent *mntent_miss(struct mc_ofd *o, FILE *fp, struct mntent *mp,
							     char *buf, int size, enum mc_mntent_fn fn, int r)
{
	struct mc_guard g;
	if (r == MC_GETMNTENT_BLOCKS && mc_enter(&g)) {
		int saved = errno;
		r = ofd_getmntent(o, mp, buf, size, true);
		errno = saved;
		mc_leave(&g);
		if (r == 1)
			return mp;
	}
	return fn == MC_FN_GETMNTENT_R ? REAL(getmntent_r)(fp, mp, buf, size)
				       : REAL(__getmntent_r)(fp, mp, buf, size);
}

struct mntent *mc_getmntent_r(struct mc_ofd *o, FILE *fp, struct mntent *mp, char *buf, int size,
			      enum mc_mntent_fn fn)
{
	/* Ours and nothing buffered in the FILE (a program may mix in fgets):
	 * answer from the snapshot's getmntent image. At the end, or on any
	 * doubt, glibc reads the stream itself, which sets EOF exactly as it
	 * would. No sticky end-of-file or error either: those are glibc's
	 * to report. */
	int r = -EINVAL;
	if (o && fp->_IO_read_ptr == fp->_IO_read_end && !(fp->_flags & (_IO_EOF_SEEN | _IO_ERR_SEEN)) &&
	    size > 0 && mc_enter_light()) {
		/* An entry that continues the pass reaches no cancellation
		 * point and no system call (a memory copy under the slot
		 * lock), so it leaves the cancel state and errno alone: two
		 * pthread_setcancelstate() were 7.5% of an entry. */
		r = ofd_getmntent(o, mp, buf, size, false);
		mc_leave_light();
		if (likely(r == 1))
			return mp;
	}
	return mntent_miss(o, fp, mp, buf, size, fn, r);
}
