/* api.c: the public API (mountcache.h): argument checks, the statx() fast
 * paths, and which backend answers what.
 *
 * Questions about one mount go to statmount() first (one system call, a
 * few microseconds at any table size); questions about the whole table,
 * and mountinfo's small ids, which statmount() can only find by a scan, go
 * to the snapshot first. A backend that cannot work here (old kernel, no
 * /proc) answers -EOPNOTSUPP and the next one is asked.
 * MOUNTCACHE_BACKEND=snapshot|statmount pins one (for tests). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mc.h"
#include "apiP.h"

/* A mount that vanished between our statx() and the lookup: look again. */
#define RACE_RETRIES 3

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static const struct mc_api_ops *forced;

static const struct mc_api_ops *backend_named(const char *name)
{
	if (strcmp(name, mc_api_snapshot.name) == 0)
		return &mc_api_snapshot;
	if (strcmp(name, mc_api_statmount.name) == 0)
		return &mc_api_statmount;
	return NULL;
}

static void api_init(void)
{
	const char *v = secure_getenv("MOUNTCACHE_BACKEND");

	mc_debug_init();
	mc_config_init();
	if (v && *v) {
		forced = backend_named(v);
		if (!forced)
			MC_DEBUG("api: unknown MOUNTCACHE_BACKEND=%s, choosing automatically", v);
	}
	/* The snapshot's fd must not be shared with a forked child: a poll()
	 * in one would consume the change event the other needs. */
	pthread_atfork(mc_views_lock_all, mc_views_unlock_all, mc_views_atfork_child);
}

int mc_api_force_backend(const char *name)
{
	const struct mc_api_ops *b = NULL;

	pthread_once(&init_once, api_init);
	if (name && !(b = backend_named(name)))
		return -EINVAL;
	__atomic_store_n(&forced, b, __ATOMIC_RELEASE);
	return 0;
}

enum question { ONE_MOUNT, TABLE };

struct chain {
	const struct mc_api_ops *b[2];
	size_t n;
};

static struct chain chain_for(enum question q)
{
	const struct mc_api_ops *f;

	pthread_once(&init_once, api_init);
	f = __atomic_load_n(&forced, __ATOMIC_ACQUIRE);
	if (f)
		return (struct chain){ { f, NULL }, 1 };
	if (q == ONE_MOUNT)
		return (struct chain){ { &mc_api_statmount, &mc_api_snapshot }, 2 };
	return (struct chain){ { &mc_api_snapshot, &mc_api_statmount }, 2 };
}

/* Ask each backend of @c in turn until one can answer. */
#define FOR_EACH_BACKEND(c, b, r)                                        \
	for (size_t _i = 0; _i < (c).n && (r) == -EOPNOTSUPP; _i++)       \
		if (((b) = (c).b[_i])->probe() < 0)                      \
			continue;                                        \
		else

/* stat(2)'s habits: follow symlinks, never trigger an automount, never ask a
 * network filesystem to revalidate (the mount attributes are the VFS's). */
static int stat_path(const char *path, unsigned mask, struct statx *ret)
{
	mask |= STATX_TYPE | STATX_INO;
	if (statx(AT_FDCWD, path, AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT, mask, ret) == 0)
		return 0;
	/* glibc's emulation for kernels without statx() (< 4.11) rejects
	 * AT_STATX_DONT_SYNC */
	if (errno != EINVAL || statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, mask, ret) < 0)
		return -errno;
	return 0;
}

#define ANY_MNT_ID (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)

/* The id of the mount @path is on, in the kind @unique asks for. @sx is
 * statx(@path) with ANY_MNT_ID; when it holds a unique id and the backend
 * wants mountinfo's, ask again. -EOPNOTSUPP: no such id here. */
static int path_mount_id(const char *path, const struct statx *sx, bool unique, uint64_t *ret)
{
	bool have_unique = sx->stx_mask & STATX_MNT_ID_UNIQUE;
	struct statx again;
	int r;

	if (unique || !have_unique) {
		if (unique != have_unique || !(sx->stx_mask & ANY_MNT_ID))
			return -EOPNOTSUPP;
		*ret = sx->stx_mnt_id;
		return 0;
	}
	r = stat_path(path, STATX_MNT_ID, &again);
	if (r < 0)
		return r;
	if ((again.stx_mask & ANY_MNT_ID) != STATX_MNT_ID)
		return -EOPNOTSUPP;
	*ret = again.stx_mnt_id;
	return 0;
}

/* The second fast path, for a kernel with mount ids but without the mount
 * root attribute: ".." of a mount's root is in the mount below, so a
 * directory is a mount root exactly when its ".." is on another mount. Our
 * own root directory is its own "..": undecided (-EOPNOTSUPP). */
static int mount_root_by_parent(const char *path, const struct statx *sx)
{
	char parent[PATH_MAX];
	struct statx px;
	size_t n = strlen(path);

	if (!S_ISDIR(sx->stx_mode) || n + 4 > sizeof parent)
		return -EOPNOTSUPP;
	memcpy(parent, path, n);
	memcpy(parent + n, "/..", 4);
	if (stat_path(parent, sx->stx_mask & ANY_MNT_ID, &px) < 0 ||
	    (px.stx_mask & ANY_MNT_ID) != (sx->stx_mask & ANY_MNT_ID))
		return -EOPNOTSUPP;
	if (px.stx_mnt_id != sx->stx_mnt_id)
		return 1;
	if (px.stx_ino == sx->stx_ino && px.stx_dev_major == sx->stx_dev_major &&
	    px.stx_dev_minor == sx->stx_dev_minor)
		return -EOPNOTSUPP;
	return 0;
}

unsigned mc_api_test_flags;

/* 1 or 0 when the kernel tells without the table, else -EOPNOTSUPP. */
static int mount_root_fast(const char *path, const struct statx *sx)
{
	/* (1) Linux 5.8+: the VFS sets it for every filesystem. */
	if ((sx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    !(mc_api_test_flags & MC_API_TEST_NO_MOUNT_ROOT_ATTR))
		return !!(sx->stx_attributes & STATX_ATTR_MOUNT_ROOT);
	/* (2) mount ids of the path and of its parent */
	if (sx->stx_mask & ANY_MNT_ID)
		return mount_root_by_parent(path, sx);
	return -EOPNOTSUPP;
}

/* The topmost mount on @path is a bind mount: 1, 0, <0. */
static int bind_fast(const char *path, const struct statx *sx)
{
	struct chain c = chain_for(ONE_MOUNT);
	const struct mc_api_ops *b;
	int r = -EOPNOTSUPP;

	FOR_EACH_BACKEND(c, b, r) {
		uint64_t id;
		r = path_mount_id(path, sx, b->unique_ids, &id);
		if (r == 0)
			r = b->is_bind(id);
	}
	return r;
}

/* (3) No help from statx() (Linux < 5.8): the table, by canonical path. */
static int is_mountpoint_table(const char *path, unsigned flags)
{
	struct chain c = chain_for(TABLE);
	const struct mc_api_ops *b;
	struct mountcache_mount *m = NULL;
	char *canon;
	int r = mc_api_path_canon(path, &canon);

	if (r < 0)
		return r;
	r = -EOPNOTSUPP;
	FOR_EACH_BACKEND(c, b, r)
		r = b->by_path(canon, true, &m);
	free(canon);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = 1;
	if (flags & MOUNTCACHE_NO_BIND) {
		r = -EOPNOTSUPP;
		FOR_EACH_BACKEND(c, b, r)
			r = b->is_bind(m->id);
		r = r < 0 ? r : !r;
	}
	free(m);
	return r;
}

static int is_mountpoint(const char *path, unsigned flags)
{
	struct statx sx;
	int r = -ENOENT;

	for (int i = 0; i < RACE_RETRIES && r == -ENOENT; i++) {
		r = stat_path(path, ANY_MNT_ID, &sx);
		if (r < 0)
			return r;
		r = mount_root_fast(path, &sx);
		if (r == -EOPNOTSUPP)
			return is_mountpoint_table(path, flags);
		if (r == 0 || !(flags & MOUNTCACHE_NO_BIND))
			return r;
		r = bind_fast(path, &sx);
		if (r >= 0)
			return !r;
	}
	return r;
}

_mc_public_ int mountcache_is_mountpoint(const char *path, unsigned flags)
{
	int saved = errno;
	int r = mc_api_path_check(path, false);

	if (r == 0 && (flags & ~MOUNTCACHE_NO_BIND))
		r = -EINVAL;
	if (r == 0)
		r = is_mountpoint(path, flags);
	errno = saved;
	return r;
}

static int info_path(const char *path, struct mountcache_mount **ret)
{
	struct chain c = chain_for(ONE_MOUNT);
	const struct mc_api_ops *b;
	struct statx sx;
	int r = -ENOENT;

	for (int i = 0; i < RACE_RETRIES && r == -ENOENT; i++) {
		r = stat_path(path, ANY_MNT_ID, &sx);
		if (r < 0)
			return r;
		r = -EOPNOTSUPP;
		FOR_EACH_BACKEND(c, b, r) {
			uint64_t id;
			char *canon;

			r = path_mount_id(path, &sx, b->unique_ids, &id);
			if (r == 0) {
				r = b->by_id(id, ret);
			} else if (r == -EOPNOTSUPP) {
				/* no mount ids (Linux < 5.8) */
				r = mc_api_path_canon(path, &canon);
				if (r == 0) {
					r = b->by_path(canon, false, ret);
					free(canon);
				}
			}
		}
	}
	return r;
}

_mc_public_ int mountcache_info_path(const char *path, struct mountcache_mount **ret)
{
	int saved = errno;
	int r = mc_api_path_check(path, true);

	if (r == 0 && !ret)
		r = -EINVAL;
	if (r == 0)
		r = info_path(path, ret);
	errno = saved;
	return r;
}

/* A mountinfo id, backends not pinned. statmount() knows only unique ids:
 * it finds a mountinfo id by a scan (~1 us per mount), cheaper than a first
 * read of the table (~4 us per mount with the parse) but not than a kept
 * snapshot's hash lookup. So the first such question of a process without
 * a fresh snapshot scans (a one-shot command); the next ones use the
 * snapshot, and statmount() adds what only it knows (unique ids, namespace
 * id), reached through the mount point when that leads to this very mount,
 * else by the scan (a mount stacked under another). */
static int info_old_id(uint64_t id, struct mountcache_mount **ret)
{
	static unsigned asked;                  /* atomic */
	struct mountcache_mount *m = NULL, *full = NULL;
	bool sm = mc_api_statmount.probe() == 0;
	bool first = __atomic_fetch_add(&asked, 1, __ATOMIC_RELAXED) == 0;
	struct statx sx;
	int r;

	if (sm && first && !mc_api_snapshot_warm()) {
		r = mc_api_statmount.by_id(id, ret);
		if (r != -EOPNOTSUPP)
			return r;
	}
	r = mc_api_snapshot.by_id(id, &m);
	if (r == -EOPNOTSUPP && sm)
		return mc_api_statmount.by_id(id, ret);
	if (r < 0)
		return r;
	if (sm) {
		if (stat_path(m->target, STATX_MNT_ID_UNIQUE, &sx) == 0 &&
		    (sx.stx_mask & STATX_MNT_ID_UNIQUE) &&
		    mc_api_statmount.by_id(sx.stx_mnt_id, &full) == 0 && full->id != id) {
			free(full);
			full = NULL;
		}
		if (!full && mc_api_statmount.by_id(id, &full) < 0)
			full = NULL;
	}
	if (full) {
		free(m);
		m = full;
	}
	*ret = m;
	return 0;
}

_mc_public_ int mountcache_info_id(uint64_t id, struct mountcache_mount **ret)
{
	bool unique = mc_api_id_is_unique(id);
	struct chain c = chain_for(unique ? ONE_MOUNT : TABLE);
	const struct mc_api_ops *b;
	int saved = errno;
	int r = -EOPNOTSUPP;

	if (!ret)
		return -EINVAL;
	if (!unique && c.n > 1) {
		r = info_old_id(id, ret);
	} else {
		FOR_EACH_BACKEND(c, b, r)
			r = b->by_id(id, ret);
	}
	errno = saved;
	return r;
}

_mc_public_ int mountcache_mounts_under(const char *path, struct mountcache_list **ret)
{
	struct chain c = chain_for(TABLE);
	const struct mc_api_ops *b;
	int saved = errno;
	char *canon = NULL;
	int r = mc_api_path_check(path, true);

	if (r == 0 && !ret)
		r = -EINVAL;
	if (r == 0)
		r = mc_api_path_canon(path, &canon);
	if (r == 0) {
		r = -EOPNOTSUPP;
		FOR_EACH_BACKEND(c, b, r)
			r = b->under(canon, ret);
	}
	free(canon);
	errno = saved;
	return r;
}

_mc_public_ int mountcache_daemon_stats(char *buf, size_t size)
{
	int saved = errno;
	int r = buf && size ? mc_client_stats(buf, size) : -EINVAL;
	errno = saved;
	return r;
}
