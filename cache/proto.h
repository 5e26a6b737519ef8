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
#define MC_PROTO_VERSION 2
#define MC_DEFAULT_SOCKET "/run/mountcache/mountcached.sock"

enum mc_op {
	MC_OP_SNAPSHOT = 1,
	MC_OP_STATS = 2,
};

enum {
	/* The client changed the table itself (possibly a propagation flag,
	 * which the kernel does not announce): capture anew. */
	MC_REQ_REVALIDATE = 1 << 0,
	MC_REP_VALIDATED = 1 << 0,
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

#define MC_STATS_MAX 4096       /* the text answer to MC_OP_STATS */
#endif
