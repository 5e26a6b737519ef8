/* index.c: lookups over a parsed table (uthash).
 *
 * Four keys: mount id (unique), mount point (several mounts may stack on one
 * path: the list keeps table order, so the last one is the top, the one path
 * lookups see), parent id (children in table order) and major:minor. Lists
 * are threaded through struct mc_mount, so the index costs one hash node per
 * distinct key and no per-mount allocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/sysmacros.h>

/* uthash exits the process when an allocation fails, unless told not to:
 * library code never exits. An add that fails sets this flag instead. */
static __thread bool index_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) (index_oom = true)
#include <uthash.h>

#include "mc.h"

struct node {
	UT_hash_handle hh;
	struct mc_mount *first, *last;
	union {
		int id;
		dev_t dev;
	} k;
};

struct mc_index {
	struct node *nodes;          /* one allocation for every node */
	size_t used;
	struct node *by_id, *by_target, *by_parent, *by_dev;
};

static struct node *new_node(struct mc_index *ix)
{
	struct node *n = &ix->nodes[ix->used++];
	memset(n, 0, sizeof *n);
	return n;
}

/* Append @m to the list of @n, in table order, through the link at @link_off. */
static void append(struct node *n, struct mc_mount *m, size_t link_off)
{
	if (n->last)
		*(struct mc_mount **)((char *)n->last + link_off) = m;
	else
		n->first = m;
	n->last = m;
}

int mc_table_index(struct mc_table *t)
{
	if (t->index)
		return 0;
	struct mc_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return -ENOMEM;
	/* At most four nodes per mount, one per key. */
	ix->nodes = malloc((t->n * 4 + 1) * sizeof *ix->nodes);
	if (!ix->nodes) {
		free(ix);
		return -ENOMEM;
	}
	index_oom = false;
	t->index = ix;                  /* so that a failure below can free it */
	for (size_t i = 0; i < t->n && !index_oom; i++) {
		struct mc_mount *m = &t->ents[i];
		const char *target = mc_str(t, m->target);
		struct node *n;

		m->next_same_target = m->next_sibling = m->next_same_dev = NULL;
		if (m->mntent_skip)
			continue;
		HASH_FIND_STR(ix->by_target, target, n);
		if (!n) {
			n = new_node(ix);
			HASH_ADD_KEYPTR(hh, ix->by_target, target, strlen(target), n);
		}
		append(n, m, offsetof(struct mc_mount, next_same_target));
		if (t->fmt != MC_MOUNTINFO)
			continue;

		HASH_FIND_INT(ix->by_id, &m->id, n);
		if (!n) {               /* ids are unique; a duplicate keeps the first */
			n = new_node(ix);
			n->k.id = m->id;
			n->first = n->last = m;
			HASH_ADD_INT(ix->by_id, k.id, n);
		}
		HASH_FIND_INT(ix->by_parent, &m->parent, n);
		if (!n) {
			n = new_node(ix);
			n->k.id = m->parent;
			HASH_ADD_INT(ix->by_parent, k.id, n);
		}
		append(n, m, offsetof(struct mc_mount, next_sibling));

		dev_t dev = makedev(m->major, m->minor);
		HASH_FIND(hh, ix->by_dev, &dev, sizeof dev, n);
		if (!n) {
			n = new_node(ix);
			n->k.dev = dev;
			HASH_ADD(hh, ix->by_dev, k.dev, sizeof dev, n);
		}
		append(n, m, offsetof(struct mc_mount, next_same_dev));
	}
	if (index_oom) {
		mc_index_free(t);
		return -ENOMEM;
	}
	return 0;
}

void mc_index_free(struct mc_table *t)
{
	struct mc_index *ix = t->index;
	if (!ix)
		return;
	HASH_CLEAR(hh, ix->by_id);
	HASH_CLEAR(hh, ix->by_target);
	HASH_CLEAR(hh, ix->by_parent);
	HASH_CLEAR(hh, ix->by_dev);
	free(ix->nodes);
	free(ix);
	t->index = NULL;
}

const struct mc_mount *mc_find_target_first(struct mc_table *t, const char *target)
{
	struct node *n = NULL;
	if (mc_table_index(t) < 0)
		return NULL;
	HASH_FIND_STR(t->index->by_target, target, n);
	return n ? n->first : NULL;
}

const struct mc_mount *mc_find_target(struct mc_table *t, const char *target)
{
	struct node *n = NULL;
	if (mc_table_index(t) < 0)
		return NULL;
	HASH_FIND_STR(t->index->by_target, target, n);
	return n ? n->last : NULL;
}

const struct mc_mount *mc_find_id(struct mc_table *t, int id)
{
	struct node *n = NULL;
	if (mc_table_index(t) < 0)
		return NULL;
	HASH_FIND_INT(t->index->by_id, &id, n);
	return n ? n->first : NULL;
}

/* Walk a list through the link at @link_off, filling @out up to @max. */
static size_t collect(const struct node *n, size_t link_off, const struct mc_mount **out, size_t max)
{
	size_t count = 0;
	for (const struct mc_mount *m = n ? n->first : NULL; m;
	     m = *(struct mc_mount * const *)((const char *)m + link_off)) {
		if (count < max)
			out[count] = m;
		count++;
	}
	return count;
}

size_t mc_find_children(struct mc_table *t, int parent, const struct mc_mount **out, size_t max)
{
	struct node *n = NULL;
	if (mc_table_index(t) < 0)
		return 0;
	HASH_FIND_INT(t->index->by_parent, &parent, n);
	return collect(n, offsetof(struct mc_mount, next_sibling), out, max);
}

size_t mc_find_devno(struct mc_table *t, unsigned major, unsigned minor,
		     const struct mc_mount **out, size_t max)
{
	struct node *n = NULL;
	dev_t dev = makedev(major, minor);
	if (mc_table_index(t) < 0)
		return 0;
	HASH_FIND(hh, t->index->by_dev, &dev, sizeof dev, n);
	return collect(n, offsetof(struct mc_mount, next_same_dev), out, max);
}
