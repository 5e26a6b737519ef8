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

/* ---- the snapshot memfd's tail (proto.h) -------------------------------- */
/* Wire data between builds, as mc_req and mc_rep are. (struct mc_mntimg
 * starts with a size_t: a preload of another word size would not read the
 * image right, though mc_shm_check() keeps it inside the memfd.) */
_Static_assert(sizeof(struct mc_shm_tail) == 24, "mc_shm_tail is 24 bytes");
_Static_assert(sizeof(struct mc_ment) == 36, "mc_ment is 36 bytes");
_Static_assert(offsetof(struct mc_ment, end) == offsetof(struct mc_ment, field) + 8,
	       "img_ok() reads field[4] and end[4] as one array");
static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int write_all(int fd, const void *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, (const char *)p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (size_t)w;
	}
	return 0;
}

int mc_shm_write(int fd, const char *text, size_t len, const uint32_t *lines,
		 const struct mc_mntimg *img)
{
	static const char zeros[8];
	size_t lines_size = lines ? ((size_t)lines[0] + 1) * sizeof *lines : 0;
	struct mc_shm_tail tail = { .magic = MC_TAIL_MAGIC };
	size_t off = align8(len) + sizeof tail;

	if (lines) {
		tail.lines_off = off;
		off = align8(off + lines_size);
	}
	if (img)
		tail.img_off = off;
	int r = write_all(fd, text, len);
	if (r == 0)
		r = write_all(fd, zeros, align8(len) - len);
	if (r == 0)
		r = write_all(fd, &tail, sizeof tail);
	if (r == 0 && lines)
		r = write_all(fd, lines, lines_size);
	if (r == 0 && lines && img)
		r = write_all(fd, zeros, tail.img_off - (tail.lines_off + lines_size));
	if (r == 0 && img)
		r = write_all(fd, img, mc_mntimg_size(img->n));
	return r;
}

/* Room for @count items of @item bytes at @off in @size bytes. */
static bool fits(size_t size, uint64_t off, size_t count, size_t item)
{
	return off <= size && count <= (size - off) / item;
}

static bool lines_ok(const char *map, size_t size, size_t len, uint64_t off)
{
	if (off % sizeof(uint32_t) || !fits(size, off, 1, sizeof(uint32_t)))
		return false;
	const uint32_t *l = (const uint32_t *)(map + off);
	size_t n = l[0];
	if (!fits(size, off + sizeof *l, n, sizeof *l) || (n == 0) != (len == 0))
		return false;
	/* Rising, so the last end, the text's, bounds them all. */
	bool bad = false;
	for (size_t i = 1, prev = 0; i <= n; prev = l[i++])
		bad |= l[i] <= prev;
	return !bad && (n == 0 || l[n] == len);
}

static bool img_ok(const char *map, size_t size, size_t len, uint64_t off)
{
	if (off % 8 || !fits(size, off, 1, mc_mntimg_size(0)))
		return false;
	const struct mc_mntimg *img = (const struct mc_mntimg *)(map + off);
	if (!fits(size, off + mc_mntimg_size(0), img->n, sizeof img->ents[0]))
		return false;
	/* In order and inside the text, a '\n' counted; a fast line's
	 * NULs and fields inside the line: mc_ment_fill() writes the NULs
	 * into the program's buffer, and a field must start at or before the
	 * NUL it always writes at line_len (glibc's fields all start inside
	 * the line: a missing one is never fast). No early return per
	 * entry: a client checks each image it maps, one a table change,
	 * and the early-out loop was ~40 us of an image of 10,000 lines.
	 * In order, so the last entry's end bounds every one before it. */
	uint64_t next = 0;
	bool bad = false;
	for (size_t i = 0; i < img->n; i++) {
		const struct mc_ment *e = &img->ents[i];
		uint16_t v[8], top = 0;
		memcpy(v, (const char *)e + offsetof(struct mc_ment, field), sizeof v);
		for (int k = 0; k < 8; k++)
			top = v[k] > top ? v[k] : top;
		bad |= e->line_off < next;
		bad |= (e->flags & MC_MENT_FAST) && top > e->line_len;
		next = (uint64_t)e->line_off + e->line_len + (e->flags & MC_MENT_NL);
	}
	return !bad && next <= len;
}

int mc_shm_check(const char *map, size_t size, size_t len, const uint32_t **ret_lines,
		 const struct mc_mntimg **ret_img)
{
	struct mc_shm_tail tail;

	if (len >= size || !fits(size, align8(len), 1, sizeof tail))
		return -EBADMSG;
	memcpy(&tail, map + align8(len), sizeof tail);
	if (tail.magic != MC_TAIL_MAGIC ||
	    (tail.lines_off && !lines_ok(map, size, len, tail.lines_off)) ||
	    (tail.img_off && !img_ok(map, size, len, tail.img_off)))
		return -EBADMSG;
	*ret_lines = tail.lines_off ? (const uint32_t *)(map + tail.lines_off) : NULL;
	*ret_img = tail.img_off ? (const struct mc_mntimg *)(map + tail.img_off) : NULL;
	return 0;
}
