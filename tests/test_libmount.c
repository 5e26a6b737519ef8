/* test_libmount.c: mc_table_parse() of the live /proc/self/mountinfo against
 * libmount's mnt_table_parse_stream() of the very same bytes.
 *
 * Meant to pass on any table; tests/run.sh runs it inside build/mkmounts for
 * tables of several sizes. libmount 2.38 facts this relies on (tab_parse.c):
 * "none" stays "none"; an empty source (kernel: "tmpfs  rw") is ""; no
 * optional fields gives NULL; "/dev/root" may be replaced by the real
 * device; lines it cannot parse are dropped, so the counts must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <cmocka.h>
#include <libmount.h>

#include "mc.h"

/* Lookups are cross-checked for this many entries spread over the table
 * (libmount's finds are linear: all of them would be quadratic). */
#define SAMPLES 400

struct fixture {
	char *text;
	size_t len;
	struct mc_table t;
	struct libmnt_table *tb;
	struct libmnt_fs **fs;         /* libmount entries in table order */
	size_t n;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof *x);
	struct mc_parse_error err = { 0 };
	FILE *in = fopen("/proc/self/mountinfo", "re");
	FILE *out = open_memstream(&x->text, &x->len);
	char chunk[65536];
	size_t n;

	*state = x;                     /* teardown frees what setup got to */
	if (!in || !out)
		return -1;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		fwrite(chunk, 1, n, out);
	fclose(in);
	fclose(out);

	int r = mc_table_parse(x->text, x->len, MC_MOUNTINFO, &x->t, &err);
	if (r < 0) {
		const char *l = x->text;
		for (size_t i = 1; i < err.line && l; i++)
			l = strchr(l, '\n') + 1;
		fprintf(stderr, "mc_table_parse: %d at line %zu (%s): %.*s\n", r, err.line,
			err.what, (int)strcspn(l, "\n"), l);
		return -1;
	}

	FILE *f = fmemopen(x->text, x->len, "r");
	x->tb = mnt_new_table();
	if (!f || !x->tb || mnt_table_parse_stream(x->tb, f, "/proc/self/mountinfo") < 0)
		return -1;
	fclose(f);
	x->fs = calloc(mnt_table_get_nents(x->tb) + 1, sizeof *x->fs);
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	while (mnt_table_next_fs(x->tb, it, &x->fs[x->n]) == 0)
		x->n++;
	mnt_free_iter(it);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	mc_table_free(&x->t);
	mnt_unref_table(x->tb);
	free(x->fs);
	free(x->text);
	free(x);
	return 0;
}

static const char *nonull(const char *s)
{
	return s ? s : "(null)";
}

#define EXPECT_STR(what, lm, ours) do { \
	if (strcmp(nonull(lm), ours) != 0) \
		fail_msg("entry %zu (id %d) %s: libmount [%s], ours [%s]", \
			 i + 1, m->id, what, nonull(lm), ours); \
} while (0)

/* shared:N master:N propagate_from:N from libmount's raw optional fields */
static void parse_tags(const char *opt, int *shared, int *master, int *from)
{
	*shared = *master = *from = 0;
	for (const char *p = opt; p && *p; p += strcspn(p, " "), p += *p == ' ') {
		sscanf(p, "shared:%d", shared);
		sscanf(p, "master:%d", master);
		sscanf(p, "propagate_from:%d", from);
	}
}

static void test_entries(void **state)
{
	struct fixture *x = *state;
	struct mc_table *t = &x->t;

	assert_int_equal(x->n, t->n);
	assert_true(t->n > 0);
	for (size_t i = 0; i < t->n; i++) {
		struct libmnt_fs *fs = x->fs[i];
		const struct mc_mount *m = &t->ents[i];
		const char *src = mc_str(t, m->source);
		unsigned long flags;
		int shared, master, from;

		assert_int_equal(mnt_fs_get_id(fs), m->id);
		assert_int_equal(mnt_fs_get_parent_id(fs), m->parent);
		assert_true(mnt_fs_get_devno(fs) == makedev(m->major, m->minor));
		EXPECT_STR("root", mnt_fs_get_root(fs), mc_str(t, m->root));
		EXPECT_STR("target", mnt_fs_get_target(fs), mc_str(t, m->target));
		EXPECT_STR("fstype", mnt_fs_get_fstype(fs), mc_str(t, m->fstype));
		if (strcmp(src, "/dev/root") != 0)  /* libmount may resolve it */
			EXPECT_STR("source", mnt_fs_get_source(fs), src);
		EXPECT_STR("vfs options", mnt_fs_get_vfs_options(fs), mc_str(t, m->vfs_opts));
		EXPECT_STR("fs options", mnt_fs_get_fs_options(fs), mc_str(t, m->fs_opts));
		const char *opt = mnt_fs_get_optional_fields(fs);
		EXPECT_STR("optional fields", opt ? opt : "", mc_str(t, m->optional));

		assert_int_equal(mnt_fs_get_propagation(fs, &flags), 0);
		assert_int_equal(!!(flags & MS_SHARED), !!(m->prop & MC_PROP_SHARED));
		assert_int_equal(!!(flags & MS_SLAVE), !!(m->prop & MC_PROP_SLAVE));
		assert_int_equal(!!(flags & MS_UNBINDABLE), !!(m->prop & MC_PROP_UNBINDABLE));
		parse_tags(opt, &shared, &master, &from);
		assert_int_equal(shared, m->shared);
		assert_int_equal(master, m->master);
		assert_int_equal(from, m->propagate_from);
		assert_int_equal(!!from, !!(m->prop & MC_PROP_FROM));
	}
}

/* Index lookups against libmount's linear ones, on a spread of entries. */
static void test_lookups(void **state)
{
	struct fixture *x = *state;
	struct mc_table *t = &x->t;
	size_t step = t->n / SAMPLES + 1;
	size_t cap = t->n;
	const struct mc_mount **out = calloc(cap, sizeof *out);

	for (size_t i = 0; i < t->n; i += step) {
		const struct mc_mount *m = &t->ents[i];
		const char *target = mc_str(t, m->target);

		/* top of the stack: the last entry on that path */
		struct libmnt_fs *top = mnt_table_find_target(x->tb, target, MNT_ITER_BACKWARD);
		assert_non_null(top);
		assert_int_equal(mc_find_target(t, target)->id, mnt_fs_get_id(top));
		/* the whole stack, bottom up */
		const struct mc_mount *s = mc_find_target_first(t, target);
		for (size_t j = 0; j < x->n; j++) {
			if (strcmp(mnt_fs_get_target(x->fs[j]), target) != 0)
				continue;
			assert_non_null(s);
			assert_int_equal(s->id, mnt_fs_get_id(x->fs[j]));
			s = s->next_same_target;
		}
		assert_null(s);

		assert_ptr_equal(mc_find_id(t, m->id), m);

		/* children of this mount, in table order */
		size_t nkids = mc_find_children(t, m->id, out, cap), k = 0;
		for (size_t j = 0; j < x->n; j++)
			if (mnt_fs_get_parent_id(x->fs[j]) == m->id) {
				assert_true(k < nkids);
				assert_int_equal(out[k++]->id, mnt_fs_get_id(x->fs[j]));
			}
		assert_int_equal(k, nkids);

		/* mounts of this device, in table order */
		dev_t dev = makedev(m->major, m->minor);
		size_t ndev = mc_find_devno(t, m->major, m->minor, out, cap);
		assert_int_equal(mnt_fs_get_id(mnt_table_find_devno(x->tb, dev, MNT_ITER_FORWARD)),
				 out[0]->id);
		k = 0;
		for (size_t j = 0; j < x->n; j++)
			if (mnt_fs_get_devno(x->fs[j]) == dev) {
				assert_true(k < ndev);
				assert_int_equal(out[k++]->id, mnt_fs_get_id(x->fs[j]));
			}
		assert_int_equal(k, ndev);
	}
	assert_null(mc_find_target(t, "/no/such/mount/point"));
	assert_null(mc_find_id(t, -1));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_lookups),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
