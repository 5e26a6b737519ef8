/* fdreuse: the host program frees the numbers of the preload's own fds
 * (a close loop, as a daemon does at start-up, then dup2 onto one of them)
 * and the preload must neither serve what it held before nor touch the
 * program's new file on that number. Run under the preload, inside a
 * private namespace (build/mkmounts):
 *
 *   fdreuse view DIR   read twice, close fds 3.., another process mounts a
 *                      tmpfs on DIR, read:
 *                      the mount must show (the view's new fd has a new
 *                      change baseline: the old snapshot proves nothing)
 *   fdreuse conn       read once through the daemon, close fds 3.., put
 *                      the program's own socket on the number the daemon
 *                      connection had, wait past the maximum age, read: the
 *                      program's socket must be untouched (nothing sent on
 *                      it, nothing read from it, still open)
 * Exit 0 as expected, 1 not, 2 set-up error. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 22];

static size_t slurp(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY);
	size_t t = 0;
	ssize_t r;

	if (fd < 0)
		return 0;
	while (t < sizeof buf - 1 && (r = read(fd, buf + t, sizeof buf - 1 - t)) > 0)
		t += r;
	close(fd);
	buf[t] = 0;
	return t;
}

static void close_from(int first)
{
	for (int fd = first; fd < 65536; fd++)
		close(fd);
}

static int view_case(const char *dir)
{
	slurp();
	slurp();                                /* the second open is served */
	close_from(3);
	/* Another process mounts: our own mount() would invalidate our views
	 * whatever their fds say. */
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "mount -t tmpfs fdreuse-mark '%s'", dir);
	if (strchr(dir, '\'') || system(cmd) != 0) {
		fprintf(stderr, "fdreuse: %s failed\n", cmd);
		return 2;
	}
	slurp();
	int seen = strstr(buf, "fdreuse-mark") != NULL;
	printf("fdreuse view: another process's mount, made after our fds were closed, is %s\n",
	       seen ? "seen" : "MISSING (stale)");
	umount(dir);
	return seen ? 0 : 1;
}

/* The highest-numbered socket: the preload's daemon connection. */
static int find_conn(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[256], path[64];
	int conn = -1;

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n > 0) {
			link[n] = 0;
			if (!strncmp(link, "socket:", 7) && fd > conn)
				conn = fd;
		}
	}
	if (d)
		closedir(d);
	return conn;
}

static int conn_case(void)
{
	char got[256];
	int sp[2];

	slurp();
	int conn = find_conn();
	if (conn < 0) {
		fprintf(stderr, "fdreuse: no daemon connection after the first read\n");
		return 2;
	}
	close_from(3);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0 || dup2(sp[0], conn) < 0)
		return 2;
	close(sp[0]);
	if (write(sp[1], "PROGRAM DATA", 12) != 12)
		return 2;
	usleep(1200000);                        /* past MOUNTCACHE_MAX_AGE_MS (1 s) */
	slurp();
	struct pollfd p = { sp[1], POLLIN, 0 };
	int sent = poll(&p, 1, 0) > 0 ? (int)recv(sp[1], got, sizeof got, MSG_DONTWAIT) : 0;
	int open_still = fcntl(conn, F_GETFD) >= 0;
	ssize_t left = open_still ? recv(conn, got, sizeof got, MSG_DONTWAIT) : -1;
	printf("fdreuse conn: fd %d: %d bytes sent to the program's peer, still open: %s, "
	       "the program's data still there: %s\n", conn, sent > 0 ? sent : 0,
	       open_still ? "yes" : "NO", left == 12 ? "yes" : "NO");
	return sent <= 0 && open_still && left == 12 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "view"))
		return view_case(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "conn"))
		return conn_case();
	fprintf(stderr, "usage: fdreuse view DIR | fdreuse conn\n");
	return 2;
}
