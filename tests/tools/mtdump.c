/* mtdump: a deterministic dump of the mount table through each way
 * programs read it, for tests/e2e/faults.sh (run once bare for the
 * expected output, then under the preload with faults injected).
 *
 * Sections: mountinfo by read() in 1 KiB chunks; mounts by read() in
 * 64 KiB; mountinfo through fopen + getline; getmntent_r of
 * /proc/self/mounts with a 4096- and a 64-byte buffer; getmntent();
 * pread of 300 bytes at offset 100 after reading to the end.
 * A failed call prints "ERROR <call> <ERRNO>" and exits 3. */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(const char *what)
{
	printf("ERROR %s %s\n", what, strerrorname_np(errno));
	exit(3);
}

static void dump_read(const char *path, size_t chunk)
{
	char *buf = malloc(chunk);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open");
	printf("== read %s %zu\n", path, chunk);
	for (;;) {
		ssize_t n = read(fd, buf, chunk);
		if (n < 0)
			fail("read");
		if (n == 0)
			break;
		fwrite(buf, 1, n, stdout);
	}
	char p[300];
	ssize_t n = pread(fd, p, sizeof p, 100);
	if (n < 0)
		fail("pread");
	printf("== pread %zd\n", n);
	fwrite(p, 1, n, stdout);
	printf("\n");
	close(fd);
	free(buf);
}

static void dump_getline(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	if (!f)
		fail("fopen");
	printf("== getline %s\n", path);
	errno = 0;
	while (getline(&line, &cap, f) > 0)
		fputs(line, stdout);
	if (ferror(f))
		fail("getline");
	free(line);
	fclose(f);
}

static void dump_mntent(int bufsiz)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent m, *r;
	char *buf = malloc(bufsiz);
	if (!f)
		fail("setmntent");
	printf("== getmntent_r %d\n", bufsiz);
	while (bufsiz ? (r = getmntent_r(f, &m, buf, bufsiz)) != NULL : (r = getmntent(f)) != NULL)
		printf("[%s] [%s] [%s] [%s] %d %d\n", r->mnt_fsname, r->mnt_dir, r->mnt_type,
		       r->mnt_opts, r->mnt_freq, r->mnt_passno);
	if (ferror(f))
		fail("getmntent");
	endmntent(f);
	free(buf);
}

int main(void)
{
	dump_read("/proc/self/mountinfo", 1024);
	dump_read("/proc/self/mounts", 65536);
	dump_getline("/proc/self/mountinfo");
	dump_mntent(4096);
	dump_mntent(64);
	dump_mntent(0);
	return 0;
}
