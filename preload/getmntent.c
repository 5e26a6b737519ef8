/* getmntent.c: getmntent_r answered from the parsed snapshot.
 *
 * The snapshot's table holds, per line, its place in the text and (when
 * glibc would decode the line exactly so) the entry's fields already
 * decoded: an entry costs one copy. The stream's position moves as glibc's
 * would, past the line's '\n', so a program may mix in fgets() or ftell(). */
#include <errno.h>
#include <string.h>

#include "ofd.h"

static size_t line_at(const struct mc_table *t, size_t hint, int64_t pos, bool *ret_found)
{
	if (hint < t->n && t->ents[hint].line_off == pos) {
		*ret_found = true;
		return hint;
	}
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ents[mid].line_off < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = lo == t->n || t->ents[lo].line_off == pos;
	return lo;
}

int mc_ofd_getmntent(struct mc_ofd *o, struct mntent *mp, char *buf, int bufsiz)
{
	struct mc_slot *s = o->slot;
	int r = -EAGAIN;

	if (o->fmt != MC_MOUNTS || bufsiz <= 0)
		return -EINVAL;
	mc_slot_lock(s);
	int64_t pos = s->pos;
	if (mc_ofd_settle(o, pos) < 0)
		goto out;
	const struct mc_snap *snap = o->snap;
	struct mc_table *t = mc_snap_table(o->snap);
	if (!t)
		goto out;
	if ((size_t)pos >= snap->len) {
		r = 0;
		goto out;
	}
	bool found;
	size_t i = line_at(t, o->line_hint, pos, &found);
	if (!found)                     /* mid-line: the program mixed in fgets */
		goto out;
	for (r = 0; i < t->n && r == 0; i++) {
		const struct mc_mount *m = &t->ents[i];
		const char *line = snap->text + m->line_off;
		bool nl = (size_t)m->line_off + m->line_len < snap->len;

		/* An autofs "ignore" line: glibc parses it into the caller's
		 * buffer and entry before it skips it (what it leaves there
		 * shows in the next entry's freq and passno when that line
		 * lacks them), and lists it when a short buffer cut "ignore"
		 * off: the full emulation, for these rare lines. */
		if (m->mntent_skip) {
			if (mc_mntent_from_line(line, m->line_len, nl, mp, buf, bufsiz))
				r = 1;
			pos = m->line_off + m->line_len + (nl ? 1 : 0);
			continue;
		}
		if (m->mntent_fast && (size_t)m->line_len + 2 <= (size_t)bufsiz) {
			/* The whole line fits: glibc would produce exactly the
			 * fields we decoded at parse time. One copy. */
			memcpy(buf, t->arena + m->mntent_off, m->mntent_len);
			mp->mnt_fsname = buf + (m->source - m->mntent_off);
			mp->mnt_dir = buf + (m->target - m->mntent_off);
			mp->mnt_type = buf + (m->fstype - m->mntent_off);
			mp->mnt_opts = buf + (m->vfs_opts - m->mntent_off);
			mp->mnt_freq = m->freq;
			mp->mnt_passno = m->passno;
			r = 1;
		} else if (mc_mntent_from_line(line, m->line_len, nl, mp, buf, bufsiz)) {
			r = 1;
		}
		pos = m->line_off + m->line_len + (nl ? 1 : 0);
	}
	o->line_hint = i;
	s->pos = s->read_pos = s->seq.kend = pos;
out:
	mc_slot_unlock(s);
	return r;
}
