/* api_statmount.c: the API backend that asks the kernel about one mount at
 * a time with listmount(2) and statmount(2) (Linux 6.8+).
 *
 * statmount() of one mount costs ~3.5 us whatever the table size, where a
 * snapshot costs a read of the whole table (~1.5 us per mount): this is the
 * backend for questions about single mounts. For whole-table questions it is
 * about twice as slow as the text, and not atomic (each mount is consistent
 * in itself; a mount that goes away between listmount() and statmount() is
 * skipped), so the API uses it there only where the snapshot cannot work.
 *
 * Usable only where statmount() reports in its supported_mask (itself a
 * later addition than the call) every field that mountinfo shows; an older
 * kernel is left to the snapshot.
 *
 * The kernel hands out numbers and raw strings where mountinfo has text:
 * fields (6), (7), (9) and (11) are rebuilt here exactly as the kernel's
 * show_mountinfo() writes them, so both backends give the same answers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mc.h"
#include "apiP.h"

/* The system calls, the ABI and the rendering of fields (6) and (7) are
 * the engine's (statmount.c, render.c), shared with the daemon. */

/* ---- probing ------------------------------------------------------------- */

static uint64_t sm_supported;   /* set once the probe succeeded */
static int probe_state;         /* atomic: 0 not yet, 1 usable, -1 never here */

bool mc_api_statmount_mask_ok(uint64_t supported_mask)
{
	return (supported_mask & MC_SM_NEEDED) == MC_SM_NEEDED;
}

/* Ask statmount() about our own root mount. Kernel properties (no system
 * call, no unique ids, too few fields) are final; anything else (our root
 * gone in a lazy unmount, say) is answered for this call only. */
static int sm_probe(void)
{
	int st = __atomic_load_n(&probe_state, __ATOMIC_ACQUIRE);
	struct mc_sm_buf b = { 0 };
	struct statx sx;
	int r;

	if (st)
		return st > 0 ? 0 : -EOPNOTSUPP;
	if (statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &sx) < 0)
		return -EOPNOTSUPP;
	if (!(sx.stx_mask & STATX_MNT_ID_UNIQUE)) {
		st = -1;
		goto out;
	}
	r = mc_statmount(&b, sx.stx_mnt_id, MC_SM_SUPPORTED_MASK);
	if (r == -EOPNOTSUPP || r == -EINVAL) {
		st = -1;
	} else if (r < 0) {
		mc_sm_buf_free(&b);
		return -EOPNOTSUPP;
	} else {
		uint64_t mask = (b.sm->mask & MC_SM_SUPPORTED_MASK) ? b.sm->supported_mask : 0;
		st = mc_api_statmount_mask_ok(mask) ? 1 : -1;
		__atomic_store_n(&sm_supported, mask, __ATOMIC_RELAXED);
		MC_DEBUG("api: statmount supported_mask %#llx: %s", (unsigned long long)mask,
			 st > 0 ? "usable" : "too old, using the snapshot");
	}
	mc_sm_buf_free(&b);
out:
	__atomic_store_n(&probe_state, st, __ATOMIC_RELEASE);
	return st > 0 ? 0 : -EOPNOTSUPP;
}

static uint64_t full_mask(void)
{
	return MC_SM_NEEDED | (__atomic_load_n(&sm_supported, __ATOMIC_RELAXED) & MC_SM_MNT_NS_ID);
}

/* ---- mountinfo text from statmount numbers -------------------------------- */

struct sm_text {
	char vfs[128];               /* (6) */
	char optional[128];          /* (7) */
	char *heap;                  /* (9) and (11) */
};

/* (9) "type[.subtype]" and (11) "rw[,sync][,dirsync][,lazytime][,<opts>]"
 * (show_sb_opts(), then the security and filesystem options statmount()
 * gives as mnt_opts, escaped as mountinfo escapes them). */
static int type_and_super(const struct mc_statmount *sm, struct sm_text *x,
			  const char **ret_type, const char **ret_super)
{
	const char *type = mc_sm_str(sm, MC_SM_FS_TYPE, sm->fs_type);
	const char *sub = mc_sm_str(sm, MC_SM_FS_SUBTYPE, sm->fs_subtype);
	const char *opts = mc_sm_str(sm, MC_SM_MNT_OPTS, sm->mnt_opts);
	size_t tl = strlen(type) + 1 + strlen(sub) + 1;
	char *s;

	x->heap = malloc(tl + 32 + strlen(opts) + 1);
	if (!x->heap)
		return -ENOMEM;
	snprintf(x->heap, tl, "%s%s%s", type, *sub ? "." : "", sub);
	s = x->heap + tl;
	strcpy(s, (sm->sb_flags & MC_SB_RDONLY) ? "ro" : "rw");
	if (sm->sb_flags & MC_SB_SYNCHRONOUS)
		strcat(s, ",sync");
	if (sm->sb_flags & MC_SB_DIRSYNC)
		strcat(s, ",dirsync");
	if (sm->sb_flags & MC_SB_LAZYTIME)
		strcat(s, ",lazytime");
	if (*opts) {
		size_t l = strlen(s);
		s[l] = ',';
		strcpy(s + l + 1, opts);
		s[l + 1 + mc_unescape_octal(s + l + 1, strlen(opts))] = '\0';
	}
	*ret_type = x->heap;
	*ret_super = s;
	return 0;
}

/* @sm as a public mount whose strings point into @sm and @x. -ENOENT if
 * the mount has no mount point from here (mountinfo would not show it). */
static int to_public(const struct mc_statmount *sm, struct sm_text *x, struct mountcache_mount *out)
{
	const char *type, *super;
	int r;

	if (!(sm->mask & MC_SM_MNT_POINT))
		return -ENOENT;
	r = type_and_super(sm, x, &type, &super);
	if (r < 0)
		return r;
	mc_render_vfs_opts(sm->mnt_attr, x->vfs, sizeof x->vfs);
	mc_render_optional(sm, x->optional, sizeof x->optional);
	*out = (struct mountcache_mount){
		.id = sm->mnt_id_old,
		.parent_id = sm->mnt_parent_id_old,
		.major = sm->sb_dev_major,
		.minor = sm->sb_dev_minor,
		.root = mc_sm_str(sm, MC_SM_MNT_ROOT, sm->mnt_root),
		.target = mc_sm_str(sm, MC_SM_MNT_POINT, sm->mnt_point),
		.vfs_options = x->vfs,
		.optional = x->optional,
		.fstype = type,
		.source = mc_sm_str(sm, MC_SM_SB_SOURCE, sm->sb_source),
		.super_options = super,
		.have = MOUNTCACHE_HAVE_UNIQUE_ID,
		.unique_id = sm->mnt_id,
		.parent_unique_id = sm->mnt_parent_id,
	};
	if (sm->mnt_propagation & MC_MS_SHARED) {
		out->propagation |= MOUNTCACHE_PROP_SHARED;
		out->peer_group = sm->mnt_peer_group;
	}
	if (sm->mnt_propagation & MC_MS_SLAVE) {
		out->propagation |= MOUNTCACHE_PROP_SLAVE;
		out->master = sm->mnt_master;
		if (sm->propagate_from != sm->mnt_master)
			out->propagate_from = sm->propagate_from;
	}
	if (sm->mnt_propagation & MC_MS_UNBINDABLE)
		out->propagation |= MOUNTCACHE_PROP_UNBINDABLE;
	if (sm->mask & MC_SM_MNT_NS_ID) {
		out->have |= MOUNTCACHE_HAVE_MNT_NS_ID;
		out->mnt_ns_id = sm->mnt_ns_id;
	}
	return 0;
}

/* statmount() of @unique_id with every field, as a public mount. */
static int stat_full(struct mc_sm_buf *b, uint64_t unique_id, struct mountcache_mount **ret)
{
	struct sm_text x = { .heap = NULL };
	struct mountcache_mount pub;
	int r = mc_statmount(b, unique_id, full_mask());

	if (r == 0)
		r = to_public(b->sm, &x, &pub);
	if (r == 0)
		r = mc_api_mount_dup(&pub, ret);
	free(x.heap);
	return r;
}

/* ---- the backend --------------------------------------------------------- */

/* The unique id of the mount mountinfo calls @old_id: statmount() knows
 * only unique ids, so this is a scan (~1 us per mount). */
static int unique_of_old(struct mc_sm_buf *b, uint64_t old_id, uint64_t *ret)
{
	uint64_t *ids;
	size_t n;
	int r = mc_listmount_all(&ids, &n);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		int k = mc_statmount(b, ids[i], MC_SM_MNT_BASIC);
		if (k == -ENOENT)
			continue;
		if (k < 0) {
			r = k;
			break;
		}
		if (b->sm->mnt_id_old == old_id) {
			*ret = ids[i];
			r = 0;
			break;
		}
	}
	free(ids);
	return r;
}

static int resolve(struct mc_sm_buf *b, uint64_t id, uint64_t *ret_unique)
{
	if (mc_api_id_is_unique(id)) {
		*ret_unique = id;
		return 0;
	}
	return unique_of_old(b, id, ret_unique);
}

static int sm_by_id(uint64_t id, struct mountcache_mount **ret)
{
	struct mc_sm_buf b = { 0 };
	int r = resolve(&b, id, &id);

	if (r == 0)
		r = stat_full(&b, id, ret);
	mc_sm_buf_free(&b);
	/* the kernel's word for an id below its unique range */
	return r == -EINVAL ? -ENOENT : r;
}

/* statx() already finds the mount of any path (Linux 5.8+, long before
 * statmount()): nothing to do here. */
static int sm_by_path(const char *path _mc_unused_, bool exact _mc_unused_,
		      struct mountcache_mount **ret _mc_unused_)
{
	return -EOPNOTSUPP;
}

/* Every mount, filtered by its mount point. A subtree cannot be had
 * cheaper: listmount() of the mount containing @path misses mounts hidden
 * under a mount on one of @path's ancestors, which mountinfo lists. */
static int sm_under(const char *path, struct mountcache_list **ret)
{
	struct mc_api_listb lb = { 0 };
	struct mc_sm_buf b = { 0 };
	bool all = strcmp(path, "/") == 0;
	uint64_t *ids;
	size_t n;
	int r = mc_listmount_all(&ids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct mountcache_mount *m;

		if (!all) {
			r = mc_statmount(&b, ids[i], MC_SM_MNT_POINT);
			if (r == -ENOENT) {
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			if (!mc_api_path_under(mc_sm_str(b.sm, MC_SM_MNT_POINT, b.sm->mnt_point), path))
				continue;
		}
		r = stat_full(&b, ids[i], &m);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r == 0)
			r = mc_api_listb_take(&lb, m);
	}
	free(ids);
	mc_sm_buf_free(&b);
	if (r == 0)
		r = mc_api_listb_finish(&lb, ret);
	mc_api_listb_free(&lb);
	return r;
}

/* @id names a mount we can see (from statx() or the table). Its parent may
 * be one that mountinfo would not list (above our root: the namespace's
 * rootfs, or the mount a chroot directory lives on): such a parent has no
 * mount point from here, and the mount counts as having no parent, as in
 * the snapshot. */
static int sm_is_bind(uint64_t id)
{
	struct mc_sm_buf b = { 0 }, pb = { 0 };
	bool has_parent = false;
	int r = resolve(&b, id, &id);

	if (r == 0)
		r = mc_statmount(&b, id, MC_SM_SB_BASIC | MC_SM_MNT_BASIC | MC_SM_MNT_ROOT);
	if (r == 0 && b.sm->mnt_parent_id != b.sm->mnt_id) {
		int k = mc_statmount(&pb, b.sm->mnt_parent_id, MC_SM_SB_BASIC | MC_SM_MNT_POINT);
		if (k < 0 && k != -ENOENT)
			r = k;
		has_parent = k == 0 && (pb.sm->mask & MC_SM_MNT_POINT);
	}
	if (r == 0)
		r = mc_api_is_bind(mc_sm_str(b.sm, MC_SM_MNT_ROOT, b.sm->mnt_root),
				   b.sm->sb_dev_major, b.sm->sb_dev_minor, has_parent,
				   has_parent ? pb.sm->sb_dev_major : 0,
				   has_parent ? pb.sm->sb_dev_minor : 0);
	mc_sm_buf_free(&b);
	mc_sm_buf_free(&pb);
	return r == -EINVAL ? -ENOENT : r;
}

int mc_api_statmount_old_id(uint64_t unique_id, uint64_t *ret_old)
{
	struct mc_sm_buf b = { 0 };
	int r = mc_statmount(&b, unique_id, MC_SM_MNT_BASIC | MC_SM_MNT_POINT);

	if (r == -EINVAL)
		r = -EOPNOTSUPP;
	else if (r == 0 && !(b.sm->mask & MC_SM_MNT_POINT))
		r = -ENOENT;
	if (r == 0)
		*ret_old = b.sm->mnt_id_old;
	mc_sm_buf_free(&b);
	return r;
}

const struct mc_api_ops mc_api_statmount = {
	.name = "statmount",
	.unique_ids = true,
	.probe = sm_probe,
	.by_id = sm_by_id,
	.by_path = sm_by_path,
	.under = sm_under,
	.is_bind = sm_is_bind,
};
