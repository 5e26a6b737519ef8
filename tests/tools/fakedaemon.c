/* fakedaemon: a hostile mountcached, for the tests. It answers every
 * request with a forged table ("forged 1 0 ...") in a memfd, in one of
 * several ways a real daemon never would; a client must refuse each and
 * read the kernel instead.
 *
 *   fakedaemon --socket PATH --mode unsealed|sealed|short|tail|badtail|garbage
 *   unsealed: a writable memfd (could be changed after the client checks)
 *   sealed:   a properly sealed memfd (refused only because of who we are,
 *             when run as another user than the client)
 *   short:    sealed, but shorter than the length announced
 *   tail:     sealed, with a well-formed index tail (proto.h): believed,
 *             as "sealed" is
 *   badtail:  sealed, with a line index that ends past the text
 *   garbage:  an answer that is not our protocol at all */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc.h"
#include "proto.h"

static const char forged[] = "999 1 0:1 / / rw - forged forged rw\n";

static int forged_memfd(const char *mode)
{
	int fd = memfd_create("forged", MFD_ALLOW_SEALING);
	size_t n = strlen(forged);
	uint32_t lines[2] = { 1, (uint32_t)n + (strcmp(mode, "badtail") ? 0 : 8) };
	if (fd < 0)
		exit(1);
	if (!strcmp(mode, "tail") || !strcmp(mode, "badtail")) {
		if (mc_shm_write(fd, forged, n, lines, NULL) < 0)
			exit(1);
	} else if (write(fd, forged, strcmp(mode, "short") ? n : n / 2) < 0) {
		exit(1);
	}
	if (strcmp(mode, "unsealed") != 0)
		fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	return fd;
}

/* The view key of our own root: tests run us beside the client, so this is
 * the key the client expects (a real daemon computes the client's). */
static struct statx root;

static void answer(int c, const char *mode)
{
	struct mc_req req;
	while (recv(c, &req, sizeof req, 0) == sizeof req) {
		struct mc_rep rep;
		mc_rep_init(&rep, &req);
		rep.flags = MC_REP_VALIDATED;
		rep.gen = 0x4242;
		rep.len = strlen(forged);
		rep.root_mnt = root.stx_mnt_id;
		rep.root_ino = root.stx_ino;
		rep.root_dev = (uint64_t)root.stx_dev_major << 32 | root.stx_dev_minor;
		if (!strcmp(mode, "garbage")) {
			if (send(c, "garbage", 7, MSG_NOSIGNAL) < 0)
				return;
			continue;
		}
		int fd = forged_memfd(mode);
		if (mc_proto_send(c, &rep, sizeof rep, NULL, 0, &fd, 1, MSG_NOSIGNAL) < 0)
			return;
		close(fd);
	}
}

int main(int argc, char **argv)
{
	const char *path = NULL, *mode = "sealed";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[i + 1];
	}
	if (!path) {
		fprintf(stderr, "usage: fakedaemon --socket PATH [--mode M]\n");
		return 2;
	}
	statx(AT_FDCWD, "/", 0, STATX_INO | STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &root);
	int l = mc_proto_listen(path, 0, 16);
	if (l < 0) {
		errno = -l;
		perror("fakedaemon");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			answer(c, mode);
			_exit(0);
		}
		close(c);
	}
}
