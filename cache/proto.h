/* proto.h: the protocol between the preload (client) and mountcached.
 *
 * SOCK_SEQPACKET, one request and one answer at a time. The client never
 * names a table: the daemon serves the table of the peer process itself
 * (SO_PEERCRED, pinned by SO_PEERPIDFD), as /proc/<peer>/mountinfo or
 * mounts shows it. A snapshot travels as a sealed memfd (SCM_RIGHTS), sent
 * only when the client does not already hold that generation. */
#ifndef MC_PROTO_H
#define MC_PROTO_H

#include <stdint.h>

#define MC_PROTO_MAGIC   0x6d63706bu            /* "mcpk" */
#define MC_PROTO_VERSION 3
#define MC_DEFAULT_SOCKET "/run/mountcache/mountcached.sock"

enum mc_op {
	MC_OP_SNAPSHOT = 1,
	MC_OP_STATS = 2,
};

/* mc_req.flags */
enum mc_req_flag {
	/* The client changed the table itself (possibly a propagation flag,
	 * which the kernel does not announce): capture anew. */
	MC_REQ_REVALIDATE = 1 << 0,
	/* The client has the kernel's own pass under way and loses nothing
	 * by going on with it (first.c): answer only what is fresh now or
	 * nearly so, else decline at once (EAGAIN, counted as "declined"
	 * in the stats). A daemon that predates the flag ignores it and
	 * answers as to any request. */
	MC_REQ_BRIEF = 1 << 1,
};

/* mc_rep.flags */
enum mc_rep_flag {
	MC_REP_VALIDATED = 1 << 0,      /* no change announced during the capture */
};

struct mc_req {
	uint32_t magic;
	uint16_t version;
	uint8_t op;
	uint8_t fmt;
	uint32_t flags;
	uint32_t seq;
	uint64_t have_gen;      /* the generation the client already maps */
};

struct mc_rep {
	uint32_t magic;
	uint16_t version;
	uint8_t op;
	uint8_t fmt;
	int32_t status;         /* 0 or a positive errno */
	uint32_t seq;
	uint32_t flags;
	uint32_t pad;
	uint64_t gen;
	uint64_t len;
	uint64_t captured_ns;   /* CLOCK_MONOTONIC, for the age bound */
	/* The root the table was taken for: the daemon serves the process's
	 * (its leader's) view, which a thread that left the process's
	 * namespace or root does not share: it then refuses the answer. */
	uint64_t root_mnt, root_ino, root_dev;
};

/* A snapshot memfd: the text (mc_rep.len bytes), then, from the next
 * 8-byte boundary, the daemon's indexes of it, so that no client walks or
 * parses the text again (at 10,000 mounts a walk of the text cost each
 * client ~0.3 ms per snapshot, the getmntent image ~3 ms): this tail, the
 * line index in mc_snap_lines()'s layout and, for the mounts format, the
 * getmntent image (struct mc_mntimg). A memfd of exactly mc_rep.len bytes
 * has no tail; the client then builds what it needs itself. */
#define MC_TAIL_MAGIC 0x6d637478u               /* "mctx" */
struct mc_shm_tail {
	uint32_t magic;
	uint32_t pad;
	uint64_t lines_off;     /* in the memfd; 0: none */
	uint64_t img_off;       /* in the memfd; 0: none */
};

#define MC_STATS_MAX 4096       /* the text answer to MC_OP_STATS */

/* The wire layout is the ABI between a preload and a daemon of another
 * build: any change of size or offset must bump MC_PROTO_VERSION. */
_Static_assert(sizeof(struct mc_req) == 24, "mc_req is 24 bytes on the wire");
_Static_assert(sizeof(struct mc_rep) == 72, "mc_rep is 72 bytes on the wire");
_Static_assert(__builtin_offsetof(struct mc_req, have_gen) == 16, "mc_req layout");
_Static_assert(__builtin_offsetof(struct mc_rep, gen) == 24, "mc_rep layout");
_Static_assert(__builtin_offsetof(struct mc_rep, root_mnt) == 48, "mc_rep layout");

/* ---- proto.c: every message is built and checked there --------------- */
#include <stddef.h>
#include <sys/types.h>

/* Fill a request's header (magic, version) and fields. */
void mc_req_init(struct mc_req *req, enum mc_op op, uint8_t fmt, uint32_t flags, uint32_t seq);
/* An answer to @req: header, op, fmt and seq copied, every other field 0. */
void mc_rep_init(struct mc_rep *rep, const struct mc_req *req);
/* 0 if @n bytes at @req are a request of this protocol; -EPROTO if not. */
int mc_req_check(const struct mc_req *req, size_t n);
/* 0 if @n bytes at @rep are an answer of this protocol, not truncated
 * (@msg_flags from recvmsg); -EPROTO if not. */
int mc_rep_check(const struct mc_rep *rep, size_t n, int msg_flags);

/* Send @msg (@len bytes), then @extra (may be NULL), with @nfds fds
 * (SCM_RIGHTS, at most 2), in one datagram. Returns bytes sent or -errno. */
ssize_t mc_proto_send(int sock, const void *msg, size_t len, const void *extra, size_t extra_len,
		      const int *fds, unsigned nfds, int flags);
/* Receive one datagram into @msg and then @extra (may be NULL). At most
 * one fd is accepted: it goes to *ret_fd (-1 if none); any further fd is
 * closed and the message refused with -EPROTO (a hostile peer must not
 * leave fds behind in the host program). *ret_msg_flags gets recvmsg's
 * flags. Returns bytes received, or -errno (-ECONNRESET on end of stream). */
ssize_t mc_proto_recv(int sock, void *msg, size_t len, void *extra, size_t extra_size,
		      int flags, int *ret_fd, int *ret_msg_flags);
struct mc_mntimg;
/* Write a snapshot memfd's content: @len bytes of @text, then a tail with
 * @lines and @img (each may be NULL). Returns 0 or -errno. */
int mc_shm_write(int fd, const char *text, size_t len, const uint32_t *lines,
		 const struct mc_mntimg *img);
/* The indexes in the tail of a mapped snapshot memfd of @size bytes whose
 * text is @len bytes (@size > @len): 0 with *ret_lines and *ret_img (NULL
 * where absent), or -EBADMSG for anything we would not have written. An
 * index is believed only inside the memfd, in order and inside the text,
 * so that no answer can make us read or write out of bounds. Whether each
 * line really ends in '\n' is the daemon's word: checking it touches every
 * cache line of the text, which costs as much as building the index.
 * Cost: one pass over the indexes (4 + 36 bytes a line). */
int mc_shm_check(const char *map, size_t size, size_t len, const uint32_t **ret_lines,
		 const struct mc_mntimg **ret_img);
/* A listening socket of this protocol at @path (any user may connect;
 * @type_flags: SOCK_NONBLOCK or 0), for the daemon and the test daemons.
 * Returns the fd or -errno. */
int mc_proto_listen(const char *path, int type_flags, int backlog);
#endif
