/* apiP.h: the public API's private interface: the backends behind
 * mountcache.h and the helpers they share. Nothing here is exported from
 * libmountcache.so.1 (see libmountcache-api.sym). */
#ifndef MC_API_P_H
#define MC_API_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mountcache.h"

/* The only symbols libmountcache.so.1 exports (with the version script);
 * everything else, the engine included, is built -fvisibility=hidden. */
#define _mc_public_ __attribute__((visibility("default")))


/* Mount ids from this value up are the kernel's 64-bit unique ids; below it,
 * the ids /proc/<pid>/mountinfo prints. The kernel keeps the two ranges
 * apart (MNT_UNIQUE_ID_OFFSET); mountinfo ids stop at INT_MAX. */
#define MC_API_UNIQUE_MIN (UINT64_C(1) << 31)

static inline bool mc_api_id_is_unique(uint64_t id)
{
	return id >= MC_API_UNIQUE_MIN;
}

/* A backend answers questions about single mounts and about the table.
 * Every function returns 0 (or 1/0 for predicates), -ENOENT when the mount
 * does not exist, -EOPNOTSUPP when this backend cannot answer here (the
 * caller then asks the next one), or another negative errno. Paths given to
 * a backend are already absolute and canonical (mc_api_path_canon). */
struct mc_api_ops {
	const char *name;
	/* Which mount ids by_id() and is_bind() prefer: the unique ones (what
	 * statx(STATX_MNT_ID_UNIQUE) returns) or mountinfo's. */
	bool unique_ids;
	/* Usable in this process and kernel? 0 or -EOPNOTSUPP. Cheap after
	 * the first call. */
	int (*probe)(void);
	/* The mount with @id: a mountinfo id, or a unique id (>= 2^31). */
	int (*by_id)(uint64_t id, struct mountcache_mount **ret);
	/* @exact: the topmost mount on @path; otherwise the topmost mount on
	 * the longest mount point that contains @path (what a lookup of @path
	 * reaches, as long as no mount hides another). Only needed where
	 * statx() has no mount id (Linux < 5.8). */
	int (*by_path)(const char *path, bool exact, struct mountcache_mount **ret);
	/* Every mount at or below @path, in table order. */
	int (*under)(const char *path, struct mountcache_list **ret);
	/* Is the mount with @id a bind mount in the sense of MOUNTCACHE_NO_BIND
	 * (mc_api_is_bind)? 1, 0, <0. */
	int (*is_bind)(uint64_t id);
};

extern const struct mc_api_ops mc_api_snapshot;
extern const struct mc_api_ops mc_api_statmount;

/* ---- api.c ------------------------------------------------------------- */
/* The MOUNTCACHE_NO_BIND rule, shared by both backends so they cannot
 * disagree: the mount shows a subdirectory of its filesystem (@root is not
 * "/"), or it covers a directory of the very filesystem it shows (same
 * device as its parent mount; @has_parent false for the root mount). */
bool mc_api_is_bind(const char *root, unsigned major, unsigned minor,
		    bool has_parent, unsigned parent_major, unsigned parent_minor);

/* Tests only: force a backend by name ("snapshot", "statmount"), or NULL
 * for the automatic choice. Overrides MOUNTCACHE_BACKEND. Returns 0 or
 * -EINVAL. */
int mc_api_force_backend(const char *name);

/* Tests only: pretend statx() has no STATX_ATTR_MOUNT_ROOT (as no kernel
 * with mount ids is), to exercise the comparison with the parent. */
#define MC_API_TEST_NO_MOUNT_ROOT_ATTR (1u << 0)
extern unsigned mc_api_test_flags;

/* ---- api_path.c -------------------------------------------------------- */
/* Validate a caller's path: not NULL, not empty, shorter than PATH_MAX,
 * absolute if @need_absolute. Returns 0, -EINVAL or -ENAMETOOLONG. */
int mc_api_path_check(const char *path, bool need_absolute);
/* Is @target at or below @dir, by whole components? @dir is canonical:
 * absolute, no trailing slash unless it is "/". "/a" contains "/a" and
 * "/a/b", never "/ab". */
bool mc_api_path_under(const char *target, const char *dir);
/* The canonical absolute form of @path (symlinks followed, as realpath(3)),
 * malloc'ed into @ret_canon. Returns 0 or -errno (-ENOENT, -EACCES,
 * -ENOTDIR, -ELOOP, -ENAMETOOLONG, -ENOMEM). */
int mc_api_path_canon(const char *path, char **ret_canon);

/* ---- api_mount.c -------------------------------------------------------- */
/* Deep copy of @m (whose strings may point anywhere) into one allocation.
 * NULL strings become "". Returns 0 or -ENOMEM. */
int mc_api_mount_dup(const struct mountcache_mount *m, struct mountcache_mount **ret);

/* A growing list of mounts, handed over as a struct mountcache_list. */
struct mc_api_listb {
	struct mountcache_mount **v;
	size_t n, cap;
};
/* Append a copy of @m. Returns 0 or -ENOMEM. */
int mc_api_listb_add(struct mc_api_listb *b, const struct mountcache_mount *m);
/* Append @m itself (ownership moves to the list, also on failure). */
int mc_api_listb_take(struct mc_api_listb *b, struct mountcache_mount *m);
/* Hand over the mounts as a list (the builder is then empty). */
int mc_api_listb_finish(struct mc_api_listb *b, struct mountcache_list **ret);
void mc_api_listb_free(struct mc_api_listb *b);

/* ---- api_snapshot.c ---------------------------------------------------- */
/* Has this process used a snapshot lately (so that the next question is
 * likely a hash lookup rather than a read of the whole table)? */
bool mc_api_snapshot_warm(void);

/* ---- api_statmount.c --------------------------------------------------- */
/* Which statmount() fields the backend needs: a kernel whose
 * supported_mask lacks one of them is left to the snapshot. */
bool mc_api_statmount_mask_ok(uint64_t supported_mask);
/* The mountinfo id of the mount with unique id @unique_id, for the snapshot.
 * Returns 0, -ENOENT (no such mount visible from here), -EOPNOTSUPP (no
 * statmount() on this kernel). */
int mc_api_statmount_old_id(uint64_t unique_id, uint64_t *ret_old);

#endif
