/* proto.c: the protocol's messages (proto.h), built and checked in one
 * place for the client (client.c), the daemon and the test daemons.
 *
 * sendmsg/recvmsg are libc's, as the client always called them: the
 * preload interposes neither, and tests/e2e/faults.sh fails them in turn. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc.h"
#include "proto.h"

void mc_req_init(struct mc_req *req, enum mc_op op, uint8_t fmt, uint32_t flags, uint32_t seq)
{
	*req = (struct mc_req){ .magic = MC_PROTO_MAGIC, .version = MC_PROTO_VERSION,
				.op = (uint8_t)op, .fmt = fmt, .flags = flags, .seq = seq };
}

void mc_rep_init(struct mc_rep *rep, const struct mc_req *req)
{
	*rep = (struct mc_rep){ .magic = MC_PROTO_MAGIC, .version = MC_PROTO_VERSION,
				.op = req->op, .fmt = req->fmt, .seq = req->seq };
}

int mc_req_check(const struct mc_req *req, size_t n)
{
	if (n != sizeof *req || req->magic != MC_PROTO_MAGIC || req->version != MC_PROTO_VERSION ||
	    req->fmt > MC_MOUNTS)
		return -EPROTO;
	return 0;
}

int mc_rep_check(const struct mc_rep *rep, size_t n, int msg_flags)
{
	if (n < sizeof *rep || rep->magic != MC_PROTO_MAGIC || rep->version != MC_PROTO_VERSION ||
	    (msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || rep->fmt > MC_MOUNTS)
		return -EPROTO;
	return 0;
}

#define MAX_SEND_FDS 2

ssize_t mc_proto_send(int sock, const void *msg, size_t len, const void *extra, size_t extra_len,
		      const int *fds, unsigned nfds, int flags)
{
	char cbuf[CMSG_SPACE(MAX_SEND_FDS * sizeof(int))];
	struct iovec iov[2] = { { (void *)msg, len }, { (void *)extra, extra_len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = extra ? 2 : 1 };
	ssize_t n;

	if (nfds > MAX_SEND_FDS)
		return -EINVAL;
	if (nfds) {
		memset(cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Take every fd the message carries: the first into *ret_fd, the others
 * closed. Returns how many were closed. */
static unsigned take_fds(struct msghdr *mh, int *ret_fd)
{
	unsigned closed = 0;

	*ret_fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (*ret_fd < 0) {
				*ret_fd = f;
			} else {
				mc_sys_close(f);
				closed++;
			}
		}
	}
	return closed;
}

ssize_t mc_proto_recv(int sock, void *msg, size_t len, void *extra, size_t extra_size,
		      int flags, int *ret_fd, int *ret_msg_flags)
{
	/* Room for more fds than we accept, so that extra ones are seen (and
	 * closed) instead of cut off with MSG_CTRUNC and left open. */
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov[2] = { { msg, len }, { extra, extra_size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = extra ? 2 : 1,
			     .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n;
	int fd;

	do
		n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -ECONNRESET;
	if (take_fds(&mh, &fd)) {
		if (fd >= 0)
			mc_sys_close(fd);
		return -EPROTO;
	}
	*ret_fd = fd;
	if (ret_msg_flags)
		*ret_msg_flags = mh.msg_flags;
	return n;
}

int mc_proto_listen(const char *path, int type_flags, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | type_flags, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* The socket is created with its final mode (any user may connect):
	 * a chmod(path) afterwards would follow a symlink that someone swapped
	 * in, in a directory they can write. */
	mode_t old = umask(0111);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		mc_sys_close(fd);
		return r;
	}
	return fd;
}
