/* freshcheck: "never stale" across processes.
 *
 * The reader (this process, normally under the preload) and a mounter (a
 * child re-executed without the preload) take turns: the mounter makes one
 * change and reports that mount(2) returned; the reader then reads the table
 * at once, three ways (open+read, setmntent+getmntent, a kept fd after
 * lseek 0), and checks that it shows the change. Any miss is a stale read.
 *
 * Usage (inside a private namespace, e.g. build/mkmounts -- ...):
 *   freshcheck [--rounds N] [--dir D]
 * Prints "fresh: rounds=N checks=C misses=M" and exits 1 on any miss. */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum step { MOUNT, RO, RW, UMOUNT, NSTEPS };
static const char *step_name[] = { "mount", "remount-ro", "remount-rw", "umount" };

static int do_step(enum step s, const char *dir)
{
	switch (s) {
	case MOUNT:
		return mount("fresh", dir, "tmpfs", 0, "size=64k");
	case RO:
		return mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	case RW:
		return mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL);
	default:
		return umount2(dir, 0);
	}
}

static int mounter(int in, int out, const char *dir)
{
	unsigned char s;
	while (read(in, &s, 1) == 1) {
		unsigned char ok = do_step(s, dir) == 0;
		if (write(out, &ok, 1) != 1)
			return 1;
	}
	return 0;
}

/* What a mounts-format line must show after step @s: present, and ro? */
struct expect {
	bool present, ro;
};

static struct expect expected(enum step s)
{
	return (struct expect){ s != UMOUNT, s == RO };
}

static char *slurp_fd(int fd, size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap + 1);
	ssize_t n;
	while (b && (n = read(fd, b + len, cap - len)) > 0) {
		len += n;
		if (len == cap)
			b = realloc(b, (cap *= 2) + 1);
	}
	if (b)
		b[len] = '\0';
	*ret_len = len;
	return b;
}

/* mountinfo: find " DIR " as the 5th field and the 6th field's first word. */
static bool check_mountinfo(const char *text, const char *dir, struct expect e)
{
	bool present = false, ro = false;
	size_t dl = strlen(dir);
	for (const char *l = text; *l; ) {
		const char *nl = strchrnul(l, '\n');
		const char *f = l;
		for (int i = 0; i < 4 && f < nl; i++)
			f = memchr(f, ' ', nl - f) ? (char *)memchr(f, ' ', nl - f) + 1 : nl;
		if ((size_t)(nl - f) > dl && memcmp(f, dir, dl) == 0 && f[dl] == ' ') {
			present = true;                 /* the last one wins */
			ro = strncmp(f + dl + 1, "ro", 2) == 0;
		}
		l = *nl ? nl + 1 : nl;
	}
	return present == e.present && (!present || ro == e.ro);
}

static bool check_getmntent(const char *dir, struct expect e)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	bool present = false, ro = false;
	if (!f)
		return false;
	while ((m = getmntent(f)))
		if (strcmp(m->mnt_dir, dir) == 0) {
			present = true;
			ro = hasmntopt(m, "ro") != NULL;
		}
	endmntent(f);
	return present == e.present && (!present || ro == e.ro);
}

int main(int argc, char **argv)
{
	int rounds = 300;
	const char *dir = NULL;
	char tmpl[] = "/tmp/freshcheck.XXXXXX";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--mounter") && i + 3 < argc)
			return mounter(atoi(argv[i + 1]), atoi(argv[i + 2]), argv[i + 3]);
		else {
			fprintf(stderr, "usage: freshcheck [--rounds N] [--dir D]\n");
			return 2;
		}
	}
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("freshcheck: mkdtemp");
		return 2;
	}

	int to[2], from[2];
	if (pipe(to) < 0 || pipe(from) < 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		char a[16], b[16];
		close(to[1]);
		close(from[0]);
		snprintf(a, sizeof a, "%d", to[0]);
		snprintf(b, sizeof b, "%d", from[1]);
		unsetenv("LD_PRELOAD");                 /* the mounter is a stranger */
		execl("/proc/self/exe", argv[0], "--mounter", a, b, dir, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);

	/* A kept fd, read again after each change from offset 0. */
	int kept = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	int checks = 0, misses = 0, r;
	size_t len;
	char *t;

	for (r = 0; r < rounds; r++) {
		unsigned char s = r % NSTEPS, ok = 0;
		if (write(to[1], &s, 1) != 1 || read(from[0], &ok, 1) != 1 || !ok) {
			fprintf(stderr, "freshcheck: mounter failed at round %d (%s)\n", r, step_name[s]);
			misses++;
			break;
		}
		struct expect e = expected(s);

		int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		t = slurp_fd(fd, &len);
		close(fd);
		if (!check_mountinfo(t, dir, e)) {
			fprintf(stderr, "freshcheck: round %d %s: stale open+read\n", r, step_name[s]);
			misses++;
		}
		free(t);

		if (!check_getmntent(dir, e)) {
			fprintf(stderr, "freshcheck: round %d %s: stale getmntent\n", r, step_name[s]);
			misses++;
		}

		lseek(kept, 0, SEEK_SET);
		t = slurp_fd(kept, &len);
		if (!check_mountinfo(t, dir, e)) {
			fprintf(stderr, "freshcheck: round %d %s: stale kept fd\n", r, step_name[s]);
			misses++;
		}
		free(t);
		checks += 3;
	}
	close(to[1]);
	waitpid(pid, NULL, 0);
	if (r % NSTEPS != 0 || misses)
		umount2(dir, MNT_DETACH);
	if (dir == tmpl)
		rmdir(dir);
	printf("fresh: rounds=%d checks=%d misses=%d\n", r, checks, misses);
	return misses ? 1 : 0;
}
