/* mkmounts: build a realistic mount table of about N mounts in a private
 * mount namespace, then run a command inside it.
 *
 *   mkmounts [-n N] [-q] -- CMD [ARGS...]      (N: 20..100000, default 1000)
 *
 * N is a target for the total line count of /proc/self/mountinfo.  The base
 * tmpfs, the "early" mount, the odd-name mounts, the stacked pair, the
 * "my src" tmpfs and the bind source tmpfs are always made (13 lines), so
 * small N ends that many lines over the inherited table.
 *
 * CMD sees MC_FIXTURE_DIR, MC_FIXTURE_EARLY, MC_FIXTURE_LATE (an empty
 * directory for churn to mount on) and MC_FIXTURE_MOUNTS (actual line count).
 *
 * Exit: CMD's status, or 128+signal; 77 if no mount namespace can be made
 * (the test runner's "skip"); 2 usage; 125 setup failed; 126/127 exec failed.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Kinds cycled through at the start of every run of SPREAD slots, so that
 * variety is spread over the whole table and any table of >= 100 lines has
 * every kind; the remaining slots are cheap bind mounts. */
enum kind { K_TMPFS_OPTS, K_BIND, K_RO_BIND, K_TMPFS_NOEXEC, K_SHARED,
	    K_SLAVE, K_UNBINDABLE, K_NR };
#define SPREAD 50
#define SLOTS_PER_DIR 1000	/* keep directories small for fast lookups */

static char base[] = "/tmp/mcfix.XXXXXX";
static int base_made;		/* 1: dir exists, 2: tmpfs mounted on it */
static volatile pid_t child;
static volatile sig_atomic_t stop_signal;

struct fixture {
	int have;		/* mountinfo lines, counted as we mount */
	int want;
	bool filling;		/* past the mounts that must exist */
	unsigned slot;		/* next <base>/m/<slot/1000>/<slot> */
	char shared[PATH_MAX];	/* latest shared mount: source for a slave */
};

static void cleanup(void)
{
	if (base_made == 2)
		umount2(base, MNT_DETACH);
	if (base_made)
		rmdir(base);
	base_made = 0;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fputs("mkmounts: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	cleanup();
	exit(125);
}

/* Lines in /proc/self/mountinfo, i.e. mounts visible to us. */
static int count_mounts(void)
{
	static char buf[65536];
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	int lines = 0;
	ssize_t n;

	if (fd < 0)
		die("/proc/self/mountinfo");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	if (n < 0)
		die("read /proc/self/mountinfo");
	close(fd);
	return lines;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("mkdir %s", path);
}

/* A mount that adds one line to the table.  Returns false only when the
 * namespace is full while filling: fs.mount-max also counts mounts that
 * mountinfo does not show (the namespace root hidden below "/"), so
 * N=100000 cannot quite be reached with the default limit; we stop there
 * and report what we made. */
static bool add_mount(struct fixture *f, const char *src, const char *dst,
		      const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) == 0) {
		f->have++;
		return true;
	}
	if (errno == ENOSPC && f->filling) {
		f->want = f->have;
		return false;
	}
	die("mount %s on %s", src, dst);
}

/* A remount or propagation change: same line, new text. */
static void change_mount(const char *dst, unsigned long flags)
{
	if (mount(NULL, dst, NULL, flags, NULL) < 0)
		die("change mount %s (flags %#lx)", dst, flags);
}

static void add_tmpfs(struct fixture *f, const char *src, const char *dst,
		      unsigned long flags, const char *data)
{
	make_dir(dst);
	add_mount(f, src, dst, "tmpfs", flags, data);
}

/* Next empty directory <base>/m/<slot/1000>/<slot>, made in the base tmpfs. */
static void next_slot(struct fixture *f, char *ret_path)
{
	unsigned s = f->slot++;

	snprintf(ret_path, PATH_MAX, "%s/m/%u", base, s / SLOTS_PER_DIR);
	if (s % SLOTS_PER_DIR == 0)
		make_dir(ret_path);
	snprintf(ret_path, PATH_MAX, "%s/m/%u/%u", base, s / SLOTS_PER_DIR, s);
	make_dir(ret_path);
}

static void make_kind(struct fixture *f, enum kind k)
{
	char src[PATH_MAX], dst[PATH_MAX], peer[PATH_MAX];

	/* A pair needs two lines; a slave needs a shared mount to follow. */
	if ((k == K_SHARED && f->want - f->have < 2) ||
	    (k == K_SLAVE && !f->shared[0]))
		k = K_BIND;
	snprintf(src, sizeof(src), "%s/src/dir", base);
	next_slot(f, dst);
	switch (k) {
	case K_TMPFS_OPTS:
		add_mount(f, "mcfix", dst, "tmpfs", 0, "size=1m,mode=0750");
		break;
	case K_RO_BIND:
		/* MS_RDONLY is ignored on the bind itself; it takes a remount. */
		if (add_mount(f, src, dst, NULL, MS_BIND, NULL))
			change_mount(dst, MS_REMOUNT | MS_BIND | MS_RDONLY);
		break;
	case K_TMPFS_NOEXEC:
		add_mount(f, "mcfix", dst, "tmpfs",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m");
		break;
	case K_SHARED:
		/* Binding a shared mount puts the copy in its peer group;
		 * nothing is ever mounted below either, so nothing propagates. */
		if (!add_mount(f, "mcfix", dst, "tmpfs", 0, "size=1m"))
			break;
		change_mount(dst, MS_SHARED);
		strcpy(f->shared, dst);
		next_slot(f, peer);
		add_mount(f, dst, peer, NULL, MS_BIND, NULL);
		break;
	case K_SLAVE:
		if (add_mount(f, f->shared, dst, NULL, MS_BIND, NULL))
			change_mount(dst, MS_SLAVE);
		break;
	case K_UNBINDABLE:
		if (add_mount(f, "mcfix", dst, "tmpfs", 0, "size=1m"))
			change_mount(dst, MS_UNBINDABLE);
		break;
	case K_BIND:
	default:
		add_mount(f, src, dst, NULL, MS_BIND, NULL);
		break;
	}
}

/* Mount points whose names parsers get wrong: the kernel escapes space,
 * tab, newline and backslash as \040 \011 \012 \134; "\\040" is a literal
 * backslash-0-4-0 that must not be decoded as a space. */
static void make_odd_names(struct fixture *f)
{
	static const char *names[] = { "with space", "with\ttab",
		"with\nnewline", "back\\slash", "ünïcødé-日本", "lit\\040eral" };
	char path[PATH_MAX];
	size_t len;

	snprintf(path, sizeof(path), "%s/odd", base);
	make_dir(path);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/odd/%s", base, names[i]);
		add_tmpfs(f, "mcfix", path, 0, "size=1m");
	}

	/* 4 nested components of 60 characters: 250 characters below base. */
	len = (size_t)snprintf(path, sizeof(path), "%s/long", base);
	make_dir(path);
	for (int d = 0; d < 4; d++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len,
					"/%d-%058d", d, 0);
		make_dir(path);
	}
	add_mount(f, "mcfix", path, "tmpfs", 0, "size=1m");
}

static void make_specials(struct fixture *f)
{
	char path[PATH_MAX];

	/* First mount under base, so it gets a low id and an early line. */
	snprintf(path, sizeof(path), "%s/early", base);
	add_tmpfs(f, "mcfix", path, 0, "size=1m");
	snprintf(path, sizeof(path), "%s/late", base);
	make_dir(path);

	make_odd_names(f);

	/* Two tmpfs on one directory: only the upper one is reachable. */
	snprintf(path, sizeof(path), "%s/stacked", base);
	add_tmpfs(f, "lower", path, 0, "size=1m");
	add_mount(f, "upper", path, "tmpfs", 0, "size=1m");

	/* A source with a space: the 9th field is escaped too. */
	snprintf(path, sizeof(path), "%s/srcspace", base);
	add_tmpfs(f, "my src", path, 0, "size=1m");

	/* The small directory that bind mounts copy is a mount of its own:
	 * a non-recursive bind walks every child mount of the source mount
	 * (has_locked_children()), so binding a directory of the base, which
	 * collects all our mounts, would make building quadratic. */
	snprintf(path, sizeof(path), "%s/src", base);
	add_tmpfs(f, "mcsrc", path, 0, "size=64k");
	snprintf(path, sizeof(path), "%s/src/dir", base);
	make_dir(path);	/* binds of a subdirectory show "/dir" as root */
	snprintf(path, sizeof(path), "%s/src/dir/file", base);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	snprintf(path, sizeof(path), "%s/m", base);
	make_dir(path);
}

static void build(struct fixture *f)
{
	/* Everything below stays in this namespace: make the inherited tree
	 * private first so no mount of ours propagates back to the host. */
	if (unshare(CLONE_NEWNS) < 0) {
		fprintf(stderr, "mkmounts: cannot create a mount namespace "
			"(needs CAP_SYS_ADMIN): %s; skipping\n", strerror(errno));
		exit(77);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");

	f->have = count_mounts();
	if (!mkdtemp(base))
		die("mkdtemp %s", base);
	base_made = 1;
	add_mount(f, "mcfix", base, "tmpfs", 0, "mode=0755");
	base_made = 2;
	change_mount(base, MS_PRIVATE);

	make_specials(f);
	f->filling = true;
	for (unsigned n = 0; f->have < f->want && !stop_signal; n++)
		make_kind(f, n % SPREAD < K_NR ? (enum kind)(n % SPREAD) : K_BIND);
}

/* mkmounts must outlive CMD to remove its directory from the host's /tmp:
 * signals that would stop it go to CMD, or end the build early. */
static void on_signal(int sig)
{
	if (child > 0)
		kill(child, sig);
	else
		stop_signal = sig;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Run CMD with the fixture env and return its status the way a shell does. */
static int run(char **argv)
{
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execvp(argv[0], argv);	/* caught signals revert on exec */
		fprintf(stderr, "mkmounts: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child = pid;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void setenv_path(const char *name, const char *suffix)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", base, suffix);
	setenv(name, path, 1);
}

static void __attribute__((noreturn)) usage(void)
{
	fputs("usage: mkmounts [-n N] [-q] -- CMD [ARGS...]  (N: 20..100000)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct fixture f = { .want = 1000 };
	struct timespec t0, t1;
	char num[16];
	int quiet = 0, opt, total, rc;
	long ms;

	while ((opt = getopt(argc, argv, "+n:q")) != -1) {
		char *end;

		switch (opt) {
		case 'n':
			errno = 0;
			f.want = (int)strtol(optarg, &end, 10);
			if (errno || *end || f.want < 20 || f.want > 100000)
				usage();
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	catch_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	build(&f);
	if (stop_signal) {
		cleanup();
		return 128 + stop_signal;
	}
	total = count_mounts();	/* the truth, in case our count drifted */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (!quiet)
		fprintf(stderr, "mkmounts: %d mounts in %ld ms under %s\n",
			total, ms, base);

	setenv_path("MC_FIXTURE_DIR", "");
	setenv_path("MC_FIXTURE_EARLY", "/early");
	setenv_path("MC_FIXTURE_LATE", "/late");
	snprintf(num, sizeof(num), "%d", total);
	setenv("MC_FIXTURE_MOUNTS", num, 1);

	rc = run(argv + optind);
	cleanup();
	return rc;
}
