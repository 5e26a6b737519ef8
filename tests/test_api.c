/* test_api: the public API (mountcache.h).
 *
 * Pure logic (argument checks, path components, the bind rule), then both
 * backends on the live table against libmount's reading of the same
 * /proc/self/mountinfo, then the fallbacks: a child process with
 * statmount()/listmount() and/or statx() turned into ENOSYS by a seccomp
 * filter must give the same answers. Also: a second mount namespace in the
 * same process, fork, permission errors. tests/e2e/api.sh runs it inside
 * build/mkmounts (1,000 mounts with odd names, stacked, bind, shared and
 * slave mounts); alone, it checks the host's table.
 *
 * Env: TEST_API_STRIDE=N checks every Nth mount only (default 1). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>
#include <libmount.h>

#include "mc.h"
#include "apiP.h"

#define SKIP 77

static size_t stride = 1;

/* ---- pure logic ---------------------------------------------------------- */

static void test_path_check(void **state)
{
	char longp[PATH_MAX + 8];

	(void)state;
	assert_int_equal(mc_api_path_check(NULL, false), -EINVAL);
	assert_int_equal(mc_api_path_check("", false), -EINVAL);
	assert_int_equal(mc_api_path_check("a", false), 0);
	assert_int_equal(mc_api_path_check("a", true), -EINVAL);
	assert_int_equal(mc_api_path_check("./a", true), -EINVAL);
	assert_int_equal(mc_api_path_check("/", true), 0);
	memset(longp, 'a', sizeof longp);
	longp[0] = '/';
	longp[PATH_MAX - 1] = '\0';                     /* PATH_MAX-1 bytes: fits */
	assert_int_equal(mc_api_path_check(longp, true), 0);
	longp[PATH_MAX - 1] = 'a';
	longp[PATH_MAX] = '\0';                         /* PATH_MAX bytes: too long */
	assert_int_equal(mc_api_path_check(longp, true), -ENAMETOOLONG);
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(mc_api_path_check(longp, false), -ENAMETOOLONG);
}

static void test_path_under(void **state)
{
	static const struct { const char *target, *dir; bool under; } cases[] = {
		{ "/a", "/a", true },
		{ "/a/b", "/a", true },
		{ "/a/b/c", "/a", true },
		{ "/abc", "/a", false },        /* "/a" is not a parent of "/abc" */
		{ "/a b", "/a", false },
		{ "/a", "/a/b", false },
		{ "/b", "/a", false },
		{ "/", "/", true },
		{ "/x/y", "/", true },
		{ "/", "/a", false },
		{ "/a\nb", "/a", false },
		{ "/a/\n", "/a", true },
		{ "/a\\040b/c", "/a\\040b", true },
		{ "/mnt/x (deleted)", "/mnt", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (mc_api_path_under(cases[i].target, cases[i].dir) != cases[i].under)
			fail_msg("under(%s, %s) should be %d", cases[i].target, cases[i].dir,
				 cases[i].under);
	}
}

static void test_bind_rule(void **state)
{
	(void)state;
	assert_true(mc_api_is_bind("/dir", 8, 1, true, 0, 50));   /* a subdirectory */
	assert_true(mc_api_is_bind("/dir", 8, 1, false, 0, 0));
	assert_true(mc_api_is_bind("/", 8, 1, true, 8, 1));       /* same fs below */
	assert_false(mc_api_is_bind("/", 8, 1, true, 8, 2));      /* a filesystem */
	assert_false(mc_api_is_bind("/", 8, 1, false, 0, 0));     /* the root */
}

static void test_statmount_mask(void **state)
{
	(void)state;
	assert_true(mc_api_statmount_mask_ok(0x7fff));           /* Linux 6.18 */
	assert_true(mc_api_statmount_mask_ok(0x7fff & ~0x40));   /* no ns id: fine */
	assert_false(mc_api_statmount_mask_ok(0));               /* no supported_mask */
	assert_false(mc_api_statmount_mask_ok(0x7fff & ~0x200)); /* no sb_source */
	assert_false(mc_api_statmount_mask_ok(0x7fff & ~0x80));  /* no mnt_opts */
	assert_false(mc_api_statmount_mask_ok(0x3f));            /* Linux 6.8 */
}

/* ---- bad input ------------------------------------------------------------ */

static void test_bad_input(void **state)
{
	struct mountcache_mount *sentinel = (struct mountcache_mount *)0x1, *m = sentinel;
	struct mountcache_list *lsent = (struct mountcache_list *)0x1, *l = lsent;
	char longp[PATH_MAX + 2];

	(void)state;
	memset(longp, 'a', sizeof longp);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';

	errno = 4242;
	assert_int_equal(mountcache_is_mountpoint(NULL, 0), -EINVAL);
	assert_int_equal(mountcache_is_mountpoint("", 0), -EINVAL);
	assert_int_equal(mountcache_is_mountpoint("/", 0x80), -EINVAL);
	assert_int_equal(mountcache_is_mountpoint(longp, 0), -ENAMETOOLONG);
	assert_int_equal(mountcache_is_mountpoint("/nonexistent/mcapi", 0), -ENOENT);
	assert_int_equal(mountcache_is_mountpoint("/etc/passwd/", 0), -ENOTDIR);
	assert_int_equal(mountcache_is_mountpoint("/etc/passwd", 0), 0);

	assert_int_equal(mountcache_mounts_under(NULL, &l), -EINVAL);
	assert_int_equal(mountcache_mounts_under("", &l), -EINVAL);
	assert_int_equal(mountcache_mounts_under("proc", &l), -EINVAL);
	assert_int_equal(mountcache_mounts_under(longp, &l), -ENAMETOOLONG);
	assert_int_equal(mountcache_mounts_under("/nonexistent/mcapi", &l), -ENOENT);
	assert_int_equal(mountcache_mounts_under("/etc/passwd/", &l), -ENOTDIR);
	assert_ptr_equal(l, lsent);

	assert_int_equal(mountcache_info_path("", &m), -EINVAL);
	assert_int_equal(mountcache_info_path("proc", &m), -EINVAL);
	assert_int_equal(mountcache_info_path(longp, &m), -ENAMETOOLONG);
	assert_int_equal(mountcache_info_path("/nonexistent/mcapi", &m), -ENOENT);
	assert_int_equal(mountcache_info_id(0, &m), -ENOENT);
	assert_int_equal(mountcache_info_id(INT32_MAX, &m), -ENOENT);
	assert_int_equal(mountcache_info_id(UINT64_MAX, &m), -ENOENT);
	assert_int_equal(mountcache_info_id(MC_API_UNIQUE_MIN, &m), -ENOENT);
	assert_ptr_equal(m, sentinel);
	assert_int_equal(errno, 4242);

	/* success keeps errno too */
	assert_int_equal(mountcache_is_mountpoint("/proc", 0), 1);
	assert_int_equal(mountcache_info_path("/proc", &m), 0);
	mountcache_mount_free(m);
	assert_int_equal(errno, 4242);
}

/* ---- a scratch directory ---------------------------------------------------- */

static char scratch[] = "/tmp/mcapi.XXXXXX";

static int setup_scratch(void **state)
{
	(void)state;
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown_scratch(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

static void spath(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", scratch, rel);
}

static void test_symlink_and_slashes(void **state)
{
	struct mountcache_mount *m;
	struct mountcache_list *l;
	char link[PATH_MAX], p[PATH_MAX + 2];

	(void)state;
	spath(link, "proc-link");
	assert_int_equal(symlink("/proc", link), 0);
	assert_int_equal(mountcache_is_mountpoint(link, 0), 1);
	snprintf(p, sizeof p, "%s/", link);
	assert_int_equal(mountcache_is_mountpoint(p, 0), 1);
	assert_int_equal(mountcache_is_mountpoint("/proc/", 0), 1);
	assert_int_equal(mountcache_is_mountpoint("/proc//", 0), 1);
	assert_int_equal(mountcache_is_mountpoint("//proc", 0), 1);
	assert_int_equal(mountcache_is_mountpoint("/proc/self/..", 0), 1);
	assert_int_equal(mountcache_is_mountpoint("/proc/1", 0), 0);
	assert_int_equal(mountcache_is_mountpoint(scratch, 0), 0);
	assert_int_equal(mountcache_is_mountpoint("/", 0), 1);

	assert_int_equal(mountcache_info_path(link, &m), 0);
	assert_string_equal(m->target, "/proc");
	assert_string_equal(m->fstype, "proc");
	mountcache_mount_free(m);

	assert_int_equal(mountcache_mounts_under(p, &l), 0);
	assert_true(l->n >= 1);
	assert_string_equal(l->mounts[0]->target, "/proc");
	for (size_t i = 0; i < l->n; i++)
		assert_true(mc_api_path_under(l->mounts[i]->target, "/proc"));
	mountcache_list_free(l);
}

/* A path below a directory we cannot search: -EACCES, as stat(2) says. */
static void test_eacces(void **state)
{
	char locked[PATH_MAX], sub[PATH_MAX];
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	spath(locked, "locked");
	spath(sub, "locked/sub");
	assert_int_equal(mkdir(locked, 0700), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(scratch, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mountcache_mount *m;
		struct mountcache_list *l;
		int bad = 0;
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(SKIP);
		bad += mountcache_is_mountpoint(sub, 0) != -EACCES;
		bad += mountcache_is_mountpoint(sub, MOUNTCACHE_NO_BIND) != -EACCES;
		bad += mountcache_mounts_under(sub, &l) != -EACCES;
		bad += mountcache_info_path(sub, &m) != -EACCES;
		/* the locked directory itself can be looked at */
		bad += mountcache_is_mountpoint(locked, 0) != 0;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- the live table against libmount --------------------------------------- */

static int diffs;

static void __attribute__((format(printf, 1, 2))) report(const char *fmt, ...)
{
	va_list ap;

	if (++diffs > 20)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

#define SAME_STR(what, a, b) do {                                             \
	if (strcmp(nz(a), nz(b)) != 0)                                        \
		report("%s: id %d %s: api [%s] libmount [%s]", ctx, id, what, nz(a), nz(b)); \
} while (0)
#define SAME_NUM(what, a, b) do {                                             \
	if ((uint64_t)(a) != (uint64_t)(b))                                   \
		report("%s: id %d %s: api %llu libmount %llu", ctx, id, what,  \
		       (unsigned long long)(a), (unsigned long long)(b));     \
} while (0)

static unsigned lm_propagation(struct libmnt_fs *fs)
{
	unsigned long fl = 0;
	unsigned p = 0;

	mnt_fs_get_propagation(fs, &fl);
	if (fl & MS_SHARED)
		p |= MOUNTCACHE_PROP_SHARED;
	if (fl & MS_SLAVE)
		p |= MOUNTCACHE_PROP_SLAVE;
	if (fl & MS_UNBINDABLE)
		p |= MOUNTCACHE_PROP_UNBINDABLE;
	return p;
}

static void compare(const char *ctx, const struct mountcache_mount *m, struct libmnt_fs *fs)
{
	int id = mnt_fs_get_id(fs);
	dev_t dev = mnt_fs_get_devno(fs);

	SAME_NUM("id", m->id, id);
	SAME_NUM("parent", m->parent_id, mnt_fs_get_parent_id(fs));
	SAME_NUM("major", m->major, major(dev));
	SAME_NUM("minor", m->minor, minor(dev));
	SAME_STR("root", m->root, mnt_fs_get_root(fs));
	SAME_STR("target", m->target, mnt_fs_get_target(fs));
	SAME_STR("vfs options", m->vfs_options, mnt_fs_get_vfs_options(fs));
	SAME_STR("optional", m->optional, mnt_fs_get_optional_fields(fs));
	SAME_STR("fstype", m->fstype, mnt_fs_get_fstype(fs));
	SAME_STR("source", m->source, mnt_fs_get_source(fs));
	SAME_STR("super options", m->super_options, mnt_fs_get_fs_options(fs));
	SAME_NUM("propagation", m->propagation, lm_propagation(fs));
}

/* The topmost mount on @target: the last one in table order. */
static struct libmnt_fs *lm_top(struct libmnt_table *tb, const char *target)
{
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs, *found = NULL;

	while (!found && mnt_table_next_fs(tb, it, &fs) == 0)
		if (strcmp(nz(mnt_fs_get_target(fs)), target) == 0)
			found = fs;
	mnt_free_iter(it);
	return found;
}

static struct libmnt_fs *lm_find_id(struct libmnt_table *tb, int id)
{
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs, *found = NULL;

	while (!found && mnt_table_next_fs(tb, it, &fs) == 0)
		if (mnt_fs_get_id(fs) == id)
			found = fs;
	mnt_free_iter(it);
	return found;
}

static bool lm_is_bind(struct libmnt_table *tb, struct libmnt_fs *fs)
{
	struct libmnt_fs *p = NULL;
	dev_t d = mnt_fs_get_devno(fs), pd = 0;

	if (mnt_fs_get_parent_id(fs) != mnt_fs_get_id(fs))
		p = lm_find_id(tb, mnt_fs_get_parent_id(fs));
	if (p)
		pd = mnt_fs_get_devno(p);
	return mc_api_is_bind(nz(mnt_fs_get_root(fs)), major(d), minor(d), p != NULL,
			      major(pd), minor(pd));
}

/* Compare every @stride-th mount with libmount through each entry point.
 * Returns the number of differences (printed, the first 20). */
static int check_live(const char *ctx, size_t stride_)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct mountcache_list *all = NULL;
	struct libmnt_fs *fs;
	size_t i = 0;
	int r;

	diffs = 0;
	if (!tb || !it) {
		report("%s: libmount cannot read the table", ctx);
		return diffs;
	}
	/* (1) the whole table, in order */
	r = mountcache_mounts_under("/", &all);
	if (r < 0) {
		report("%s: mounts_under(/): %s", ctx, strerror(-r));
	} else if (all->n != (size_t)mnt_table_get_nents(tb)) {
		report("%s: mounts_under(/) has %zu mounts, libmount %d", ctx, all->n,
		       mnt_table_get_nents(tb));
	}
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		struct mountcache_mount *m;
		const char *target = mnt_fs_get_target(fs);
		struct libmnt_fs *top = lm_top(tb, target);
		int id = mnt_fs_get_id(fs);
		struct stat st;

		if (all && i < all->n)
			compare(ctx, all->mounts[i], fs);
		if (i++ % stride_)
			continue;
		/* (2) by mountinfo id */
		r = mountcache_info_id((uint64_t)id, &m);
		if (r < 0) {
			report("%s: info_id(%d): %s", ctx, id, strerror(-r));
		} else {
			compare(ctx, m, fs);
			/* (3) by unique id, where there is one */
			if (m->have & MOUNTCACHE_HAVE_UNIQUE_ID) {
				struct mountcache_mount *u;
				r = mountcache_info_id(m->unique_id, &u);
				if (r < 0)
					report("%s: info_id(unique %llu): %s", ctx,
					       (unsigned long long)m->unique_id, strerror(-r));
				else {
					compare(ctx, u, fs);
					mountcache_mount_free(u);
				}
			}
			mountcache_mount_free(m);
		}
		if (stat(target, &st) < 0)
			continue;       /* hidden under another mount */
		/* (4) by path: the topmost mount there */
		r = mountcache_info_path(target, &m);
		if (r < 0) {
			report("%s: info_path(%s): %s", ctx, target, strerror(-r));
		} else {
			compare(ctx, m, top);
			mountcache_mount_free(m);
		}
		/* (5) is a mount point, with and without bind mounts */
		r = mountcache_is_mountpoint(target, 0);
		if (r != 1)
			report("%s: is_mountpoint(%s) = %d", ctx, target, r);
		r = mountcache_is_mountpoint(target, MOUNTCACHE_NO_BIND);
		if (r != !lm_is_bind(tb, top))
			report("%s: is_mountpoint(%s, NO_BIND) = %d", ctx, target, r);
	}
	mountcache_list_free(all);
	mnt_free_iter(it);
	mnt_unref_table(tb);
	if (diffs)
		fprintf(stderr, "%s: %d differences\n", ctx, diffs);
	return diffs;
}

/* Every mount at or below a few directories, against a filter of the whole
 * libmount table by components. */
static int check_under(const char *ctx)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	const char *dirs[8] = { "/", "/proc", "/dev", "/sys/fs", "/tmp" };
	const char *fix = getenv("MC_FIXTURE_DIR");
	char odd[PATH_MAX], m0[PATH_MAX], stacked[PATH_MAX];
	size_t nd = 5;

	diffs = 0;
	if (fix) {
		snprintf(odd, sizeof odd, "%s/odd", fix);
		snprintf(m0, sizeof m0, "%s/m/0", fix);
		snprintf(stacked, sizeof stacked, "%s/stacked", fix);
		dirs[nd++] = odd;
		dirs[nd++] = m0;
		dirs[nd++] = stacked;
	}
	for (size_t d = 0; d < nd; d++) {
		struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
		struct mountcache_list *l;
		struct libmnt_fs *fs;
		size_t k = 0;
		int r = mountcache_mounts_under(dirs[d], &l);

		if (r == -ENOENT)
			continue;
		if (r < 0) {
			report("%s: mounts_under(%s): %s", ctx, dirs[d], strerror(-r));
			continue;
		}
		while (mnt_table_next_fs(tb, it, &fs) == 0) {
			const char *t = mnt_fs_get_target(fs);
			size_t n = strlen(dirs[d]);
			if (n > 1 && (strncmp(t, dirs[d], n) != 0 || (t[n] && t[n] != '/')))
				continue;
			if (k >= l->n)
				report("%s: under(%s) misses %s", ctx, dirs[d], t);
			else
				compare(ctx, l->mounts[k], fs);
			k++;
		}
		if (k != l->n)
			report("%s: under(%s): %zu mounts, libmount %zu", ctx, dirs[d], l->n, k);
		mountcache_list_free(l);
		mnt_free_iter(it);
	}
	mnt_unref_table(tb);
	return diffs;
}

static void live(const char *backend)
{
	char ctx[64];

	snprintf(ctx, sizeof ctx, "%s", backend ? backend : "auto");
	assert_int_equal(mc_api_force_backend(backend), 0);
	assert_int_equal(check_live(ctx, stride), 0);
	assert_int_equal(check_under(ctx), 0);
	assert_int_equal(mc_api_force_backend(NULL), 0);
}

static void test_live_auto(void **state) { (void)state; live(NULL); }
static void test_live_snapshot(void **state) { (void)state; live("snapshot"); }

/* The statmount backend finds mountinfo ids by a scan: check fewer. */
static void test_live_statmount(void **state)
{
	size_t saved = stride;

	(void)state;
	stride = stride < 10 ? 10 : stride;
	live("statmount");
	stride = saved;
}

/* The second fast path: mount ids of the path and of its "..". */
static void test_parent_compare(void **state)
{
	(void)state;
	mc_api_test_flags |= MC_API_TEST_NO_MOUNT_ROOT_ATTR;
	live(NULL);
	mc_api_test_flags = 0;
}

/* ---- fallbacks: system calls made to fail as on an older kernel ---------- */

/* In this process from now on, the listed system calls fail with ENOSYS. */
static int deny_syscalls(const int *nrs, size_t n)
{
#if defined(__x86_64__)
	struct sock_filter f[4 + 2 * 8];
	size_t i = 0;

	if (n > 8)
		return -1;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t k = 0; k < n; k++) {
		f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[k], 0, 1);
		f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	}
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = (unsigned short)i, .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -1;
	return 0;
#else
	(void)nrs;
	(void)n;
	return -1;
#endif
}

/* Without statx() mount ids the engine has no view key and reads the whole
 * table for every question (as an old kernel would): check fewer mounts. */
static void without(const char *ctx, const int *nrs, size_t n, size_t min_stride)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (deny_syscalls(nrs, n) < 0)
			_exit(SKIP);
		mc_api_force_backend(NULL);
		_exit(check_live(ctx, stride < min_stride ? min_stride : stride) +
		      check_under(ctx) ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_no_statmount(void **state)
{
	static const int nrs[] = { 457, 458 };      /* statmount, listmount */
	(void)state;
	without("no statmount", nrs, 2, 5);
}

static void test_no_statx(void **state)
{
	static const int nrs[] = { SYS_statx };      /* glibc emulates: no mount ids */
	(void)state;
	without("no statx", nrs, 1, 25);
}

static void test_no_new_syscalls(void **state)
{
	static const int nrs[] = { SYS_statx, 457, 458 };
	(void)state;
	without("Linux 4.x", nrs, 3, 25);
}

/* A forced backend that cannot work says so; it does not fall over. */
static void test_forced_statmount_denied(void **state)
{
	static const int nrs[] = { 457, 458 };
	int status;
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mountcache_mount *m;
		if (deny_syscalls(nrs, 2) < 0)
			_exit(SKIP);
		mc_api_force_backend("statmount");
		_exit(mountcache_info_path("/proc", &m) == -EOPNOTSUPP &&
		      mountcache_is_mountpoint("/proc", 0) == 1 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP)
		skip();
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- namespaces and fork ----------------------------------------------------- */

static size_t count_under(const char *dir)
{
	struct mountcache_list *l;
	size_t n;

	if (mountcache_mounts_under(dir, &l) < 0)
		return SIZE_MAX;
	n = l->n;
	mountcache_list_free(l);
	return n;
}

/* A process that moves to another mount namespace gets that namespace's
 * answers at once, although the snapshot of the old one was still fresh. */
static void test_unshare(void **state)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	int status;
	pid_t pid;

	(void)state;
	spath(dir, "ns");
	spath(sub, "ns/sub");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		for (int b = 0; b < 2; b++) {
			mc_api_force_backend(b ? "statmount" : "snapshot");
			bad += count_under(dir) != 0;
		}
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(SKIP);
		if (mount("mcapi", sub, "tmpfs", 0, "size=64k") < 0)
			_exit(100);
		for (int b = 0; b < 2; b++) {
			struct mountcache_mount *m = NULL;
			mc_api_force_backend(b ? "statmount" : "snapshot");
			bad += count_under(dir) != 1;
			bad += mountcache_is_mountpoint(sub, 0) != 1;
			bad += mountcache_info_path(sub, &m) != 0 || strcmp(m->source, "mcapi") != 0;
			mountcache_mount_free(m);
		}
		if (umount(sub) < 0)
			_exit(101);
		for (int b = 0; b < 2; b++) {
			mc_api_force_backend(b ? "statmount" : "snapshot");
			bad += count_under(dir) != 0;
		}
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The snapshot (and its fd) survives fork in both processes. */
static void test_fork(void **state)
{
	size_t before, after;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(mc_api_force_backend("snapshot"), 0);
	before = count_under("/");
	assert_true(before > 0 && before != SIZE_MAX);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(count_under("/") == before && count_under("/") == before ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	after = count_under("/");
	assert_int_equal(after, before);
	assert_int_equal(mc_api_force_backend(NULL), 0);
}

int main(void)
{
	const char *s = getenv("TEST_API_STRIDE");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_bind_rule),
		cmocka_unit_test(test_statmount_mask),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_symlink_and_slashes),
		cmocka_unit_test(test_eacces),
		cmocka_unit_test(test_live_auto),
		cmocka_unit_test(test_live_snapshot),
		cmocka_unit_test(test_live_statmount),
		cmocka_unit_test(test_parent_compare),
		cmocka_unit_test(test_no_statmount),
		cmocka_unit_test(test_no_statx),
		cmocka_unit_test(test_no_new_syscalls),
		cmocka_unit_test(test_forced_statmount_denied),
		cmocka_unit_test(test_unshare),
		cmocka_unit_test(test_fork),
	};

	if (s && atoi(s) > 0)
		stride = (size_t)atoi(s);
	/* Children of the tests write through stdio too. */
	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, setup_scratch, teardown_scratch);
}
