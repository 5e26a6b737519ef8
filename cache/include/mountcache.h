/* mountcache.h: ask the kernel's mount table small questions directly.
 *
 *   is this path a mount point?          mountcache_is_mountpoint()
 *   what is mounted at or below a path?  mountcache_mounts_under()
 *   tell me about this mount             mountcache_info_path(), _info_id()
 *
 * Link with `pkg-config --libs mountcache`. Every function is thread-safe,
 * never prints, never exits, and returns a negative errno on failure, in
 * which case its ret_ output is left untouched. errno is preserved.
 *
 * Where the answers come from (chosen at run time; MOUNTCACHE_BACKEND=
 * snapshot|statmount forces one):
 *  - statx(2) answers "is a mount point" alone (Linux 5.8+).
 *  - statmount(2)/listmount(2) (Linux 6.8+, with every field the library
 *    needs in statmount's supported_mask) answer questions about one mount.
 *  - A snapshot of /proc/self/mountinfo, read consistently and kept while
 *    the kernel reports no change, answers the rest (and everything on
 *    older kernels). It keeps one close-on-exec descriptor open, high in the
 *    descriptor table, per mount namespace and root the process uses.
 *    The kernel does not announce propagation changes made with mount(2)
 *    (MS_SHARED, MS_SLAVE, ...): a snapshot may show those up to
 *    MOUNTCACHE_MAX_AGE_MS (default 1000) late.
 * All answers are for the calling thread's mount namespace and root
 * directory, as /proc/thread-self/mountinfo shows them. */
#ifndef MOUNTCACHE_H
#define MOUNTCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* mountcache_is_mountpoint() flags. */
#define MOUNTCACHE_NO_BIND (1u << 0)   /* do not count bind mounts (below) */

/* struct mountcache_mount.propagation: 0 is private. */
#define MOUNTCACHE_PROP_SHARED     (1u << 0)   /* shared:N */
#define MOUNTCACHE_PROP_SLAVE      (1u << 1)   /* master:N */
#define MOUNTCACHE_PROP_UNBINDABLE (1u << 2)   /* unbindable */

/* struct mountcache_mount.have: which of the optional fields are set. */
#define MOUNTCACHE_HAVE_UNIQUE_ID (1u << 0)    /* unique_id, parent_unique_id */
#define MOUNTCACHE_HAVE_MNT_NS_ID (1u << 1)    /* mnt_ns_id */

/* One mount: every field of its /proc/self/mountinfo line (numbered as in
 * proc(5)), decoded (no \040 escapes), plus what only statmount(2) knows.
 * Strings are never NULL; an absent one is "". Allocated by the library
 * (callers never allocate or embed one): new fields are only ever
 * appended. Free with mountcache_mount_free(). */
struct mountcache_mount {
	uint64_t id;                  /* (1) mount id, as mountinfo prints it */
	uint64_t parent_id;           /* (2) */
	unsigned major, minor;        /* (3) device of the filesystem */
	const char *root;             /* (4) directory of the fs shown here */
	const char *target;           /* (5) mount point, relative to our root */
	const char *vfs_options;      /* (6) per-mount options: "rw,nosuid,..." */
	const char *optional;         /* (7) raw: "shared:1 master:2", or "" */
	const char *fstype;           /* (9) "type" or "type.subtype" */
	const char *source;           /* (10) */
	const char *super_options;    /* (11) per-filesystem options */
	unsigned propagation;         /* MOUNTCACHE_PROP_*, parsed from (7) */
	uint64_t peer_group;          /* shared:N, or 0 */
	uint64_t master;              /* master:N, or 0 */
	uint64_t propagate_from;      /* propagate_from:N, or 0 */
	unsigned have;                /* MOUNTCACHE_HAVE_* */
	uint64_t unique_id;           /* 64-bit id, never reused (Linux 6.8+) */
	uint64_t parent_unique_id;
	uint64_t mnt_ns_id;           /* id of the mount namespace */
};

/* Mounts in table order (the order of /proc/self/mountinfo). */
struct mountcache_list {
	size_t n;
	struct mountcache_mount **mounts;
};

/* Is @path a mount point: is the directory (or file) that @path names,
 * symlinks followed as mountpoint(1) follows them, the root of a mount?
 * Relative paths are taken from the current directory; trailing slashes
 * are allowed where the kernel allows them. A stacked mount point is a
 * mount point; so is a directory bind-mounted onto itself.
 *
 * MOUNTCACHE_NO_BIND: count only mounts that are not bind mounts. The
 * topmost mount on @path is a bind mount when
 *   (a) its root (mountinfo field 4) is not "/": it shows a subdirectory
 *       of its filesystem (findmnt prints such a source as "dev[/dir]"), or
 *   (b) it has the same device (field 3) as the mount it is mounted on
 *       (field 2): it covers a directory of the very filesystem it shows,
 *       which is what the classic test (st_dev of PATH against PATH/..)
 *       fails to see.
 * The kernel keeps no record of how a mount was made: a bind of the root of
 * another filesystem is indistinguishable from a second mount of that
 * filesystem and counts as a mount point.
 *
 * Returns 1 yes, 0 no; -EINVAL (NULL or empty @path, unknown @flags),
 * -ENAMETOOLONG, -ENOENT, -ENOTDIR, -EACCES (a component cannot be
 * searched), -ELOOP, or another negative errno. */
int mountcache_is_mountpoint(const char *path, unsigned flags);

/* Every mount at or below the directory @path (absolute; symlinks are
 * followed as realpath(3) does), by whole path components: "/a" covers
 * "/a" and "/a/b", never "/abc". In table order; stacked mounts (several
 * on one mount point) are all listed, lowest first; so are mounts hidden
 * under others. "/" lists the whole table. The list comes from the
 * snapshot, whose entries lack the MOUNTCACHE_HAVE_* fields, unless only
 * statmount(2) can answer (MOUNTCACHE_BACKEND=statmount, or no /proc).
 *
 * Returns 0 and a list (possibly empty) in @ret; -EINVAL (NULL, empty or
 * relative @path), -ENAMETOOLONG, -ENOENT, -ENOTDIR, -EACCES, -ELOOP,
 * -ENOMEM. */
int mountcache_mounts_under(const char *path, struct mountcache_list **ret);

/* The mount that contains @path (absolute, symlinks followed): the topmost
 * mount on @path if @path is a mount point, as `findmnt --target` answers.
 * The MOUNTCACHE_HAVE_* fields are set wherever statmount(2) works, here and
 * in mountcache_info_id().
 * Returns 0; -EINVAL, -ENAMETOOLONG, -ENOENT, -ENOTDIR, -EACCES, -ELOOP,
 * -ENOMEM. */
int mountcache_info_path(const char *path, struct mountcache_mount **ret);

/* The mount with @id: a mountinfo id (field 1; below 2^31), or a 64-bit
 * unique id (2^31 and up; statx(STATX_MNT_ID_UNIQUE), statmount(2)).
 * Returns 0; -ENOENT when no such mount is visible from here (in a chroot,
 * mounts outside it are not); -ENOMEM. */
int mountcache_info_id(uint64_t id, struct mountcache_mount **ret);

void mountcache_mount_free(struct mountcache_mount *m);
void mountcache_list_free(struct mountcache_list *list);

/* The statistics of the mountcached daemon serving this process (its socket:
 * MOUNTCACHE_SOCKET, default /run/mountcache/mountcached.sock), as text
 * lines "name value" into @buf. Returns 0; -ENOENT, -ECONNREFUSED,
 * -ETIMEDOUT, -EPERM (not a daemon we trust)... when there is none. */
int mountcache_daemon_stats(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
