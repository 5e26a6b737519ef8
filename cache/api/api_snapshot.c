/* api_snapshot.c: the API backend that answers from a snapshot of
 * /proc/thread-self/mountinfo.
 *
 * The snapshot is the engine's (view.c): captured consistently
 * (mc_capture_fd), parsed once (mc_table_parse), indexed (index.c), and
 * served again while one poll() shows no change, so repeated questions in
 * one process cost a hash lookup. Works on any kernel with /proc; it is what
 * the API falls back to when statmount() cannot answer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"
#include "apiP.h"

/* Without mount ids in statx() (Linux < 5.8) there is no view key: read the
 * table afresh each time. */
static int capture_uncached(struct mc_snap **ret_snap)
{
	struct mc_buf buf = { 0 };
	int fd = mc_sys_openat(AT_FDCWD, "/proc/thread-self/mountinfo", O_RDONLY | O_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	r = mc_capture_fd(fd, &buf, NULL);
	mc_sys_close(fd);
	if (r < 0) {
		mc_buf_free(&buf);
		return r;
	}
	*ret_snap = mc_snap_from_buf(MC_MOUNTINFO, &buf, r == 0);
	return *ret_snap ? 0 : -ENOMEM;
}

static uint64_t last_used_ns;          /* atomic: mc_now_ns() of get_table() */

bool mc_api_snapshot_warm(void)
{
	uint64_t t = __atomic_load_n(&last_used_ns, __ATOMIC_RELAXED);
	return t && mc_max_age_ns && mc_now_ns() - t < mc_max_age_ns;
}

/* The current table and the reference that keeps it alive. Anything but
 * ENOMEM means "no table here" (no /proc in a chroot, say): -EOPNOTSUPP, so
 * that the caller tries statmount(). */
static int get_table(struct mc_snap **ret_snap, struct mc_table **ret_table)
{
	struct mc_view_key key = { 0 };         /* .ns is the daemon's, 0 here */
	struct mc_snap *s = NULL;
	struct mc_table *t;
	int r;

	if (mc_view_key_self(&key) == 0) {
		struct mc_view *v = mc_view_get(MC_MOUNTINFO, &key);
		r = v ? mc_view_snapshot(v, &s) : -ENOMEM;
	} else {
		r = capture_uncached(&s);
	}
	if (r < 0) {
		MC_DEBUG("api: no mountinfo snapshot: %s", strerror(-r));
		return r == -ENOMEM ? r : -EOPNOTSUPP;
	}
	t = mc_snap_table(s);
	if (!t) {
		MC_DEBUG("api: mountinfo does not parse");
		mc_snap_unref(s);
		return -EOPNOTSUPP;
	}
	__atomic_store_n(&last_used_ns, mc_now_ns(), __ATOMIC_RELAXED);
	*ret_snap = s;
	*ret_table = t;
	return 0;
}

/* A public view of @m whose strings point into @t. */
static void to_public(const struct mc_table *t, const struct mc_mount *m,
		      struct mountcache_mount *out)
{
	*out = (struct mountcache_mount){
		.id = (uint64_t)m->id,
		.parent_id = (uint64_t)m->parent,
		.major = m->major,
		.minor = m->minor,
		.root = mc_str(t, m->root),
		.target = mc_str(t, m->target),
		.vfs_options = mc_str(t, m->vfs_opts),
		.optional = mc_str(t, m->optional),
		.fstype = mc_str(t, m->fstype),
		.source = mc_str(t, m->source),
		.super_options = mc_str(t, m->fs_opts),
	};
	if (m->prop & MC_PROP_SHARED) {
		out->propagation |= MOUNTCACHE_PROP_SHARED;
		out->peer_group = (uint64_t)m->shared;
	}
	if (m->prop & MC_PROP_SLAVE) {
		out->propagation |= MOUNTCACHE_PROP_SLAVE;
		out->master = (uint64_t)m->master;
	}
	if (m->prop & MC_PROP_FROM)
		out->propagate_from = (uint64_t)m->propagate_from;
	if (m->prop & MC_PROP_UNBINDABLE)
		out->propagation |= MOUNTCACHE_PROP_UNBINDABLE;
}

static int copy_out(const struct mc_table *t, const struct mc_mount *m,
		    struct mountcache_mount **ret)
{
	struct mountcache_mount pub;

	to_public(t, m, &pub);
	return mc_api_mount_dup(&pub, ret);
}

/* mountinfo knows only the small ids; a unique id is translated by the
 * kernel where it has statmount(). */
static int find_id(struct mc_table *t, uint64_t id, const struct mc_mount **ret)
{
	const struct mc_mount *m;

	if (mc_api_id_is_unique(id)) {
		int r = mc_api_statmount_old_id(id, &id);
		if (r < 0)
			return r == -ENOENT || r == -EOPNOTSUPP ? -ENOENT : r;
	}
	m = mc_find_id(t, (int)id);
	if (!m)
		return -ENOENT;
	*ret = m;
	return 0;
}

static int snap_probe(void)
{
	return 0;
}

static int snap_by_id(uint64_t id, struct mountcache_mount **ret)
{
	struct mc_snap *s;
	struct mc_table *t;
	const struct mc_mount *m;
	int r = get_table(&s, &t);

	if (r < 0)
		return r;
	r = find_id(t, id, &m);
	if (r == 0)
		r = copy_out(t, m, ret);
	mc_snap_unref(s);
	return r;
}

/* The topmost mount on @path, or with !@exact on the nearest ancestor of
 * @path that is a mount point ("/" always is, or the table is empty). */
static const struct mc_mount *find_path(struct mc_table *t, const char *path, bool exact)
{
	const struct mc_mount *m = mc_find_target(t, path);
	char *p, *slash;

	if (m || exact)
		return m;
	p = strdup(path);
	if (!p)
		return NULL;
	while (!m && (slash = strrchr(p, '/'))) {
		slash[slash == p ? 1 : 0] = '\0';
		m = mc_find_target(t, p);
		if (slash == p)
			break;
	}
	free(p);
	return m;
}

static int snap_by_path(const char *path, bool exact, struct mountcache_mount **ret)
{
	struct mc_snap *s;
	struct mc_table *t;
	const struct mc_mount *m;
	int r = get_table(&s, &t);

	if (r < 0)
		return r;
	m = find_path(t, path, exact);
	r = m ? copy_out(t, m, ret) : -ENOENT;
	mc_snap_unref(s);
	return r;
}

static int snap_under(const char *path, struct mountcache_list **ret)
{
	struct mc_api_listb b = { 0 };
	struct mc_snap *s;
	struct mc_table *t;
	int r = get_table(&s, &t);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n && r == 0; i++) {
		const struct mc_mount *m = &t->ents[i];
		struct mountcache_mount pub;

		if (!mc_api_path_under(mc_str(t, m->target), path))
			continue;
		to_public(t, m, &pub);
		r = mc_api_listb_add(&b, &pub);
	}
	mc_snap_unref(s);
	if (r == 0)
		r = mc_api_listb_finish(&b, ret);
	mc_api_listb_free(&b);
	return r;
}

static int snap_is_bind(uint64_t id)
{
	struct mc_snap *s;
	struct mc_table *t;
	const struct mc_mount *m, *p;
	int r = get_table(&s, &t);

	if (r < 0)
		return r;
	r = find_id(t, id, &m);
	if (r == 0) {
		/* The root mount's parent is not in the table (or is itself). */
		p = m->parent != m->id ? mc_find_id(t, m->parent) : NULL;
		r = mc_api_is_bind(mc_str(t, m->root), m->major, m->minor,
				   p != NULL, p ? p->major : 0, p ? p->minor : 0);
	}
	mc_snap_unref(s);
	return r;
}

const struct mc_api_ops mc_api_snapshot = {
	.name = "snapshot",
	.unique_ids = false,
	.probe = snap_probe,
	.by_id = snap_by_id,
	.by_path = snap_by_path,
	.under = snap_under,
	.is_bind = snap_is_bind,
};
