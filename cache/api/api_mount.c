/* api_mount.c: the result objects of the public API.
 *
 * A struct mountcache_mount and its strings are one allocation, so a caller
 * frees it with one call and a backend builds it from borrowed strings (the
 * snapshot's arena, a statmount buffer) with one copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"
#include "apiP.h"

#define N_STRS 7

static void str_fields(struct mountcache_mount *m, const char **out[N_STRS])
{
	out[0] = &m->root;
	out[1] = &m->target;
	out[2] = &m->vfs_options;
	out[3] = &m->optional;
	out[4] = &m->fstype;
	out[5] = &m->source;
	out[6] = &m->super_options;
}

int mc_api_mount_dup(const struct mountcache_mount *m, struct mountcache_mount **ret)
{
	struct mountcache_mount tmp = *m, *c;
	const char **f[N_STRS];
	size_t len[N_STRS], total = sizeof *c;
	char *p;

	str_fields(&tmp, f);
	for (int i = 0; i < N_STRS; i++) {
		if (!*f[i])
			*f[i] = "";
		len[i] = strlen(*f[i]) + 1;
		total += len[i];
	}
	c = malloc(total);
	if (!c)
		return -ENOMEM;
	*c = tmp;
	p = (char *)(c + 1);
	str_fields(c, f);
	for (int i = 0; i < N_STRS; i++) {
		memcpy(p, *f[i], len[i]);
		*f[i] = p;
		p += len[i];
	}
	*ret = c;
	return 0;
}

_mc_public_ void mountcache_mount_free(struct mountcache_mount *m)
{
	free(m);
}

_mc_public_ void mountcache_list_free(struct mountcache_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		free(list->mounts[i]);
	free(list);
}

int mc_api_listb_take(struct mc_api_listb *b, struct mountcache_mount *m)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct mountcache_mount **v = realloc(b->v, cap * sizeof *v);
		if (!v) {
			free(m);
			return -ENOMEM;
		}
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = m;
	return 0;
}

int mc_api_listb_add(struct mc_api_listb *b, const struct mountcache_mount *m)
{
	struct mountcache_mount *c;
	int r = mc_api_mount_dup(m, &c);

	return r < 0 ? r : mc_api_listb_take(b, c);
}

/* The list header and its pointer array are one allocation, so that
 * mountcache_list_free() needs no second pointer to free. */
int mc_api_listb_finish(struct mc_api_listb *b, struct mountcache_list **ret)
{
	struct mountcache_list *l = malloc(sizeof *l + b->n * sizeof *l->mounts);

	if (!l)
		return -ENOMEM;
	l->n = b->n;
	l->mounts = (struct mountcache_mount **)(l + 1);
	if (b->n)
		memcpy(l->mounts, b->v, b->n * sizeof *b->v);
	free(b->v);
	*b = (struct mc_api_listb){ 0 };
	*ret = l;
	return 0;
}

void mc_api_listb_free(struct mc_api_listb *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
	*b = (struct mc_api_listb){ 0 };
}

/* See apiP.h. */
bool mc_api_is_bind(const char *root, unsigned major, unsigned minor,
		    bool has_parent, unsigned parent_major, unsigned parent_minor)
{
	if (strcmp(root, "/") != 0)
		return true;
	return has_parent && major == parent_major && minor == parent_minor;
}
