/* faultinj_daemon: a mountcached that misbehaves on the wire, for
 * tests/e2e/faults.sh. It runs as the client's own user (so the client
 * trusts it by uid) and breaks the protocol in one chosen way; the client
 * must notice, read the kernel, and show exactly the kernel's table.
 *
 *   faultinj_daemon --socket PATH --mode MODE [--upstream PATH]
 *
 * Modes:
 *   close     read the request, close without a word
 *   half      send the first half of the answer's header, then close
 *   hang      read the request, never answer (the client's timeout)
 *   trunc     a well-formed header followed by 64 KiB the client did not
 *             ask for (the message arrives truncated)
 *   badseq    answer with another sequence number (and a sealed memfd)
 *   nofd      status 0, a generation the client does not hold, no fd
 *   twofd     a well-formed answer carrying two fds
 *   notmemfd  a well-formed answer whose fd is a regular file
 *   oversize  sealed memfd, announced length beyond MC_CAPTURE_MAX
 *   wrongfmt  the other format than asked
 *   status    status EIO with a sealed memfd attached
 *   flaky     relay to the real daemon at --upstream, but on every other
 *             request close the connection after half a header
 *   relay     relay to --upstream faithfully (the positive control)
 *   relayhang relay the first request of each connection, then hang: the
 *             client holds a snapshot when its next request times out
 *   relaychurn relay the first request of each connection, then answer
 *             "churning" (EAGAIN, no fd) to every later one, as the real
 *             daemon does when its captures keep tearing */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc.h"
#include "proto.h"

static const char *mode = "close", *upstream;
static const char forged[] = "999 1 0:1 / / rw - forged forged rw\n";

static int sealed_memfd(const char *text, size_t n)
{
	int fd = memfd_create("faultinj", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		exit(1);
	return fd;
}

static ssize_t send_fds(int c, const void *buf, size_t n, const int *fds, int nfds)
{
	return mc_proto_send(c, buf, n, NULL, 0, fds, (unsigned)nfds, MSG_NOSIGNAL);
}

static int connect_upstream(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", upstream);
	int u = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (u < 0 || connect(u, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	return u;
}

/* Forward one request and its answer (with its fd). */
static bool relay(int c, int u, const struct mc_req *req, bool cut)
{
	char buf[sizeof(struct mc_rep) + MC_STATS_MAX];
	int fd;
	if (send(u, req, sizeof *req, MSG_NOSIGNAL) != sizeof *req)
		return false;
	ssize_t n = mc_proto_recv(u, buf, sizeof buf, NULL, 0, 0, &fd, NULL);
	if (n <= 0)
		return false;
	if (cut) {
		send(c, buf, (size_t)n / 2, MSG_NOSIGNAL);
		if (fd >= 0)
			close(fd);
		return false;
	}
	bool ok = send_fds(c, buf, (size_t)n, &fd, fd >= 0) == n;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void serve(int c)
{
	struct mc_req req;
	unsigned count = 0;
	int u = -1;

	if (upstream && (u = connect_upstream()) < 0)
		return;
	while (recv(c, &req, sizeof req, 0) == sizeof req) {
		struct mc_rep rep;
		mc_rep_init(&rep, &req);
		rep.flags = MC_REP_VALIDATED;
		rep.gen = 0x4242;
		rep.len = strlen(forged);
		int fds[2] = { -1, -1 }, nfds = 0;
		count++;
		if (!strcmp(mode, "close")) {
			return;
		} else if (!strcmp(mode, "half")) {
			send(c, &rep, sizeof rep / 2, MSG_NOSIGNAL);
			return;
		} else if (!strcmp(mode, "hang") || (!strcmp(mode, "relayhang") && count > 1)) {
			/* until the client gives up and closes */
			while (recv(c, &req, sizeof req, 0) > 0)
				;
			return;
		} else if (!strcmp(mode, "relayhang") || (!strcmp(mode, "relaychurn") && count == 1)) {
			if (!relay(c, u, &req, false))
				return;
			continue;
		} else if (!strcmp(mode, "relaychurn")) {
			rep.status = EAGAIN;
			rep.flags = 0;
			rep.gen = rep.len = 0;
		} else if (!strcmp(mode, "flaky") || !strcmp(mode, "relay")) {
			if (!relay(c, u, &req, !strcmp(mode, "flaky") && count % 2 == 1))
				return;
			continue;
		} else if (!strcmp(mode, "trunc")) {
			static char big[sizeof rep + 65536];
			memcpy(big, &rep, sizeof rep);
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
			send_fds(c, big, sizeof big, fds, nfds);
			close(fds[0]);
			continue;
		} else if (!strcmp(mode, "badseq")) {
			rep.seq = req.seq + 1000;
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
		} else if (!strcmp(mode, "nofd")) {
			rep.gen = req.have_gen + 1;
		} else if (!strcmp(mode, "twofd")) {
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
		} else if (!strcmp(mode, "notmemfd")) {
			char path[] = "/tmp/faultinj-XXXXXX";
			int fd = mkstemp(path);
			if (fd < 0 || write(fd, forged, strlen(forged)) < 0)
				exit(1);
			unlink(path);
			fds[nfds++] = fd;
		} else if (!strcmp(mode, "oversize")) {
			rep.len = (uint64_t)MC_CAPTURE_MAX + 1;
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
		} else if (!strcmp(mode, "wrongfmt")) {
			rep.fmt = req.fmt == MC_MOUNTINFO ? MC_MOUNTS : MC_MOUNTINFO;
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
		} else if (!strcmp(mode, "status")) {
			rep.status = EIO;
			fds[nfds++] = sealed_memfd(forged, strlen(forged));
		} else {
			fprintf(stderr, "faultinj_daemon: unknown mode %s\n", mode);
			exit(2);
		}
		if (send_fds(c, &rep, sizeof rep, fds, nfds) < 0)
			return;
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[i + 1];
		else if (!strcmp(argv[i], "--upstream"))
			upstream = argv[i + 1];
	}
	if (!path) {
		fprintf(stderr, "usage: faultinj_daemon --socket PATH --mode MODE [--upstream PATH]\n");
		return 2;
	}
	int l = mc_proto_listen(path, 0, 64);
	if (l < 0) {
		errno = -l;
		perror("faultinj_daemon");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(l);
			serve(c);
			_exit(0);
		}
		close(c);
	}
}
