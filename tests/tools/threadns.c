/* threadns: a thread that moved to its own mount namespace reads
 * /proc/thread-self/mountinfo three times; each read must be the kernel's
 * (compared with raw system calls, which no preload sees). Prints one line
 * per read; exit 0 if all equal, 1 if not, 2 on setup failure.
 * For tests/e2e/adversarial.sh, inside mkmounts: the thread mounts on
 * $MC_FIXTURE_LATE, in its own namespace only. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
static char *slurp(const char *path, int raw)
{
	static char buf[1 << 20];
	size_t n = 0; ssize_t r;
	int fd = raw ? (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY) : open(path, O_RDONLY);
	while ((r = raw ? syscall(SYS_read, fd, buf + n, sizeof buf - n) : read(fd, buf + n, sizeof buf - n)) > 0) n += r;
	close(fd);
	buf[n] = 0;
	return strdup(buf);
}
static int differ;

static void *thread(void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNS) < 0) { perror("unshare"); exit(2); }
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	const char *dir = getenv("MC_FIXTURE_LATE");
	if (!dir || mount("thread-only", dir, "tmpfs", 0, NULL) < 0) { perror("mount"); exit(2); }
	for (int i = 0; i < 3; i++) {
		char *k = slurp("/proc/thread-self/mountinfo", 1);
		char *p = slurp("/proc/thread-self/mountinfo", 0);
		printf("read %d: kernel has thread-only: %d, served has it: %d, same: %d\n", i,
		       strstr(k, "thread-only") != NULL, strstr(p, "thread-only") != NULL, strcmp(k, p) == 0);
		if (strcmp(k, p))
			differ = 1;
		free(k);
		free(p);
	}
	umount(dir);
	return NULL;
}
int main(void)
{
	free(slurp("/proc/self/mountinfo", 0));   /* the process's first open */
	pthread_t t;
	pthread_create(&t, NULL, thread, NULL);
	pthread_join(t, NULL);
	return differ;
}
