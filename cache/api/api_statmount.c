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

/* No glibc wrappers and, in Debian 12's headers, no uapi definitions: the
 * ABI, from include/uapi/linux/mount.h (Linux 6.18). Not <linux/mount.h>:
 * it clashes with <sys/mount.h> under glibc 2.36. */
#define MC_NR_statmount 457

#define SM_SB_BASIC        0x0001u
#define SM_MNT_BASIC       0x0002u
#define SM_PROPAGATE_FROM  0x0004u
#define SM_MNT_ROOT        0x0008u
#define SM_MNT_POINT       0x0010u
#define SM_FS_TYPE         0x0020u
#define SM_MNT_NS_ID       0x0040u
#define SM_MNT_OPTS        0x0080u
#define SM_FS_SUBTYPE      0x0100u
#define SM_SB_SOURCE       0x0200u
#define SM_SUPPORTED_MASK  0x1000u

/* Everything a mountinfo line shows. */
#define SM_NEEDED (SM_SB_BASIC | SM_MNT_BASIC | SM_PROPAGATE_FROM | SM_MNT_ROOT | \
		   SM_MNT_POINT | SM_FS_TYPE | SM_MNT_OPTS | SM_FS_SUBTYPE | SM_SB_SOURCE)

/* MOUNT_ATTR_*, MS_* propagation and SB_* values statmount() reports. */
#define MC_ATTR_RDONLY      0x00000001u
#define MC_ATTR_NOSUID      0x00000002u
#define MC_ATTR_NODEV       0x00000004u
#define MC_ATTR_NOEXEC      0x00000008u
#define MC_ATTR__ATIME      0x00000070u
#define MC_ATTR_RELATIME    0x00000000u
#define MC_ATTR_NOATIME     0x00000010u
#define MC_ATTR_NODIRATIME  0x00000080u
#define MC_ATTR_IDMAP       0x00100000u
#define MC_ATTR_NOSYMFOLLOW 0x00200000u
#define MC_MS_UNBINDABLE    (1u << 17)
#define MC_MS_SLAVE         (1u << 19)
#define MC_MS_SHARED        (1u << 20)
#define MC_SB_RDONLY        0x00000001u
#define MC_SB_SYNCHRONOUS   0x00000010u
#define MC_SB_DIRSYNC       0x00000080u
#define MC_SB_LAZYTIME      (1u << 25)

struct mc_statmount {
	uint32_t size;
	uint32_t mnt_opts;           /* [str] escaped, comma separated */
	uint64_t mask;
	uint32_t sb_dev_major;
	uint32_t sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;            /* [str] */
	uint64_t mnt_id;             /* unique */
	uint64_t mnt_parent_id;
	uint32_t mnt_id_old;         /* what mountinfo prints */
	uint32_t mnt_parent_id_old;
	uint64_t mnt_attr;
	uint64_t mnt_propagation;
	uint64_t mnt_peer_group;
	uint64_t mnt_master;
	uint64_t propagate_from;
	uint32_t mnt_root;           /* [str] */
	uint32_t mnt_point;          /* [str] raw, relative to our root */
	uint64_t mnt_ns_id;
	uint32_t fs_subtype;         /* [str] */
	uint32_t sb_source;          /* [str] */
	uint32_t opt_num;
	uint32_t opt_array;
	uint32_t opt_sec_num;
	uint32_t opt_sec_array;
	uint64_t supported_mask;
	uint32_t mnt_uidmap_num;
	uint32_t mnt_uidmap;
	uint32_t mnt_gidmap_num;
	uint32_t mnt_gidmap;
	uint64_t spare2[43];
	char str[];
};
_Static_assert(sizeof(struct mc_statmount) == 512, "struct statmount is 512 bytes");


/* ---- system calls -------------------------------------------------------- */

/* A statmount() result buffer that grows on EOVERFLOW (long option strings:
 * overlayfs with many layers). */
struct sm_buf {
	struct mc_statmount *sm;
	size_t size;
};
#define SM_BUF_FIRST 8192u
#define SM_BUF_MAX (16u << 20)

static void sm_buf_free(struct sm_buf *b)
{
	free(b->sm);
	b->sm = NULL;
	b->size = 0;
}

/* Returns 0, or -ENOENT when no such mount is visible to us (gone, or
 * outside our root without the privilege to see it), or -errno. */
static int sm_call(struct sm_buf *b, uint64_t id, uint64_t mask)
{
	struct mc_mnt_id_req req = { .size = MC_MNT_ID_REQ_SIZE_VER0, .mnt_id = id, .param = mask };

	for (;;) {
		if (!b->sm) {
			size_t size = b->size ? b->size : SM_BUF_FIRST;
			b->sm = malloc(size);
			if (!b->sm)
				return -ENOMEM;
			b->size = size;
		}
		if (syscall(MC_NR_statmount, &req, b->sm, b->size, 0) == 0)
			return 0;
		if (errno == EPERM)
			return -ENOENT;
		if (errno == ENOSYS)       /* e.g. a seccomp filter: not here */
			return -EOPNOTSUPP;
		if (errno == EINTR)
			continue;
		if (errno != EOVERFLOW || b->size >= SM_BUF_MAX)
			return -errno;
		free(b->sm);
		b->sm = NULL;
		b->size *= 4;
	}
}

static const char *sm_str(const struct mc_statmount *sm, uint64_t bit, uint32_t off)
{
	return (sm->mask & bit) ? sm->str + off : "";
}

/* Every mount id visible from our root, in table order (listmount() returns
 * them by unique id, which is also the order mountinfo prints since 6.8). */
static int list_all(uint64_t **ret_ids, size_t *ret_n)
{
	size_t cap = 4096, n = 0;
	uint64_t *ids = malloc(cap * sizeof *ids);

	if (!ids)
		return -ENOMEM;
	for (;;) {
		long r = mc_sys_listmount(n ? ids[n - 1] : 0, ids + n, cap - n);

		if (r < 0) {
			if (r == -EINTR)
				continue;
			free(ids);
			return r == -ENOSYS ? -EOPNOTSUPP : (int)r;
		}
		n += (size_t)r;
		if (n < cap)
			break;
		uint64_t *more = realloc(ids, cap * 2 * sizeof *ids);
		if (!more) {
			free(ids);
			return -ENOMEM;
		}
		ids = more;
		cap *= 2;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

/* ---- probing ------------------------------------------------------------- */

static uint64_t sm_supported;   /* set once the probe succeeded */
static int probe_state;         /* atomic: 0 not yet, 1 usable, -1 never here */

bool mc_api_statmount_mask_ok(uint64_t supported_mask)
{
	return (supported_mask & SM_NEEDED) == SM_NEEDED;
}

/* Ask statmount() about our own root mount. Kernel properties (no system
 * call, no unique ids, too few fields) are final; anything else (our root
 * gone in a lazy unmount, say) is answered for this call only. */
static int sm_probe(void)
{
	int st = __atomic_load_n(&probe_state, __ATOMIC_ACQUIRE);
	struct sm_buf b = { 0 };
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
	r = sm_call(&b, sx.stx_mnt_id, SM_SUPPORTED_MASK);
	if (r == -EOPNOTSUPP || r == -EINVAL) {
		st = -1;
	} else if (r < 0) {
		sm_buf_free(&b);
		return -EOPNOTSUPP;
	} else {
		uint64_t mask = (b.sm->mask & SM_SUPPORTED_MASK) ? b.sm->supported_mask : 0;
		st = mc_api_statmount_mask_ok(mask) ? 1 : -1;
		__atomic_store_n(&sm_supported, mask, __ATOMIC_RELAXED);
		MC_DEBUG("api: statmount supported_mask %#llx: %s", (unsigned long long)mask,
			 st > 0 ? "usable" : "too old, using the snapshot");
	}
	sm_buf_free(&b);
out:
	__atomic_store_n(&probe_state, st, __ATOMIC_RELEASE);
	return st > 0 ? 0 : -EOPNOTSUPP;
}

static uint64_t full_mask(void)
{
	return SM_NEEDED | (__atomic_load_n(&sm_supported, __ATOMIC_RELAXED) & SM_MNT_NS_ID);
}

/* ---- mountinfo text from statmount numbers -------------------------------- */

struct sm_text {
	char vfs[128];               /* (6) */
	char optional[128];          /* (7) */
	char *heap;                  /* (9) and (11) */
};

struct opt_name {
	uint64_t mask, value;
	const char *name;
};

/* (6) as show_mnt_opts() writes it, in its order. */
static void vfs_options(uint64_t attr, char *buf, size_t size)
{
	static const struct opt_name names[] = {
		{ MC_ATTR_NOSUID, MC_ATTR_NOSUID, ",nosuid" },
		{ MC_ATTR_NODEV, MC_ATTR_NODEV, ",nodev" },
		{ MC_ATTR_NOEXEC, MC_ATTR_NOEXEC, ",noexec" },
		{ MC_ATTR__ATIME, MC_ATTR_NOATIME, ",noatime" },
		{ MC_ATTR_NODIRATIME, MC_ATTR_NODIRATIME, ",nodiratime" },
		{ MC_ATTR__ATIME, MC_ATTR_RELATIME, ",relatime" },
		{ MC_ATTR_NOSYMFOLLOW, MC_ATTR_NOSYMFOLLOW, ",nosymfollow" },
		{ MC_ATTR_IDMAP, MC_ATTR_IDMAP, ",idmapped" },
	};
	size_t n = (size_t)snprintf(buf, size, "%s", (attr & MC_ATTR_RDONLY) ? "ro" : "rw");

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((attr & names[i].mask) == names[i].value && n < size)
			n += (size_t)snprintf(buf + n, size - n, "%s", names[i].name);
}

/* (7) as show_mountinfo() writes the tagged fields. */
static void optional_fields(const struct mc_statmount *sm, char *buf, size_t size)
{
	const char *sep = "";
	size_t n = 0;

	buf[0] = '\0';
	if (sm->mnt_propagation & MC_MS_SHARED) {
		n += (size_t)snprintf(buf + n, size - n, "shared:%llu",
				      (unsigned long long)sm->mnt_peer_group);
		sep = " ";
	}
	if ((sm->mnt_propagation & MC_MS_SLAVE) && n < size) {
		n += (size_t)snprintf(buf + n, size - n, "%smaster:%llu", sep,
				      (unsigned long long)sm->mnt_master);
		sep = " ";
		if (sm->propagate_from && sm->propagate_from != sm->mnt_master && n < size)
			n += (size_t)snprintf(buf + n, size - n, " propagate_from:%llu",
					      (unsigned long long)sm->propagate_from);
	}
	if ((sm->mnt_propagation & MC_MS_UNBINDABLE) && n < size)
		snprintf(buf + n, size - n, "%sunbindable", sep);
}

/* (9) "type[.subtype]" and (11) "rw[,sync][,dirsync][,lazytime][,<opts>]"
 * (show_sb_opts(), then the security and filesystem options statmount()
 * gives as mnt_opts, escaped as mountinfo escapes them). */
static int type_and_super(const struct mc_statmount *sm, struct sm_text *x,
			  const char **ret_type, const char **ret_super)
{
	const char *type = sm_str(sm, SM_FS_TYPE, sm->fs_type);
	const char *sub = sm_str(sm, SM_FS_SUBTYPE, sm->fs_subtype);
	const char *opts = sm_str(sm, SM_MNT_OPTS, sm->mnt_opts);
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

	if (!(sm->mask & SM_MNT_POINT))
		return -ENOENT;
	r = type_and_super(sm, x, &type, &super);
	if (r < 0)
		return r;
	vfs_options(sm->mnt_attr, x->vfs, sizeof x->vfs);
	optional_fields(sm, x->optional, sizeof x->optional);
	*out = (struct mountcache_mount){
		.id = sm->mnt_id_old,
		.parent_id = sm->mnt_parent_id_old,
		.major = sm->sb_dev_major,
		.minor = sm->sb_dev_minor,
		.root = sm_str(sm, SM_MNT_ROOT, sm->mnt_root),
		.target = sm_str(sm, SM_MNT_POINT, sm->mnt_point),
		.vfs_options = x->vfs,
		.optional = x->optional,
		.fstype = type,
		.source = sm_str(sm, SM_SB_SOURCE, sm->sb_source),
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
	if (sm->mask & SM_MNT_NS_ID) {
		out->have |= MOUNTCACHE_HAVE_MNT_NS_ID;
		out->mnt_ns_id = sm->mnt_ns_id;
	}
	return 0;
}

/* statmount() of @unique_id with every field, as a public mount. */
static int stat_full(struct sm_buf *b, uint64_t unique_id, struct mountcache_mount **ret)
{
	struct sm_text x = { .heap = NULL };
	struct mountcache_mount pub;
	int r = sm_call(b, unique_id, full_mask());

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
static int unique_of_old(struct sm_buf *b, uint64_t old_id, uint64_t *ret)
{
	uint64_t *ids;
	size_t n;
	int r = list_all(&ids, &n);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		int k = sm_call(b, ids[i], SM_MNT_BASIC);
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

static int resolve(struct sm_buf *b, uint64_t id, uint64_t *ret_unique)
{
	if (mc_api_id_is_unique(id)) {
		*ret_unique = id;
		return 0;
	}
	return unique_of_old(b, id, ret_unique);
}

static int sm_by_id(uint64_t id, struct mountcache_mount **ret)
{
	struct sm_buf b = { 0 };
	int r = resolve(&b, id, &id);

	if (r == 0)
		r = stat_full(&b, id, ret);
	sm_buf_free(&b);
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
	struct sm_buf b = { 0 };
	bool all = strcmp(path, "/") == 0;
	uint64_t *ids;
	size_t n;
	int r = list_all(&ids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct mountcache_mount *m;

		if (!all) {
			r = sm_call(&b, ids[i], SM_MNT_POINT);
			if (r == -ENOENT) {
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			if (!mc_api_path_under(sm_str(b.sm, SM_MNT_POINT, b.sm->mnt_point), path))
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
	sm_buf_free(&b);
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
	struct sm_buf b = { 0 }, pb = { 0 };
	bool has_parent = false;
	int r = resolve(&b, id, &id);

	if (r == 0)
		r = sm_call(&b, id, SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_ROOT);
	if (r == 0 && b.sm->mnt_parent_id != b.sm->mnt_id) {
		int k = sm_call(&pb, b.sm->mnt_parent_id, SM_SB_BASIC | SM_MNT_POINT);
		if (k < 0 && k != -ENOENT)
			r = k;
		has_parent = k == 0 && (pb.sm->mask & SM_MNT_POINT);
	}
	if (r == 0)
		r = mc_api_is_bind(sm_str(b.sm, SM_MNT_ROOT, b.sm->mnt_root),
				   b.sm->sb_dev_major, b.sm->sb_dev_minor, has_parent,
				   has_parent ? pb.sm->sb_dev_major : 0,
				   has_parent ? pb.sm->sb_dev_minor : 0);
	sm_buf_free(&b);
	sm_buf_free(&pb);
	return r == -EINVAL ? -ENOENT : r;
}

int mc_api_statmount_old_id(uint64_t unique_id, uint64_t *ret_old)
{
	struct sm_buf b = { 0 };
	int r = sm_call(&b, unique_id, SM_MNT_BASIC | SM_MNT_POINT);

	if (r == -EINVAL)
		r = -EOPNOTSUPP;
	else if (r == 0 && !(b.sm->mask & SM_MNT_POINT))
		r = -ENOENT;
	if (r == 0)
		*ret_old = b.sm->mnt_id_old;
	sm_buf_free(&b);
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
