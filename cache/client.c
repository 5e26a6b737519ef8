/* client.c: asking mountcached for a snapshot.
 *
 * Trust: we accept an answer only from a daemon running as root or as our
 * own user (SO_PEERCRED on our end), and only a memfd sealed against any
 * change (F_SEAL_WRITE, SHRINK, GROW) whose size is the one announced.
 * Nothing another user can write is ever mapped.
 *
 * Faults: no socket, a refused or dead connection, a slow or stopped
 * daemon (100 ms timeout), a malformed answer: every one returns an error
 * and the caller captures the table itself; a failed daemon is not asked
 * again for a second. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc.h"
#include "proto.h"

#define TIMEOUT_MS 100
#define RETRY_NS 1000000000u

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int conn = -1;
static uint32_t seq;
static uint64_t failed_at;              /* mc_now_ns() of the last failure */
static int enabled = -1;                /* -1 unknown, 0 no, 1 yes */

static const char *socket_path(void)
{
	const char *p = secure_getenv("MOUNTCACHE_SOCKET");
	return p && *p ? p : MC_DEFAULT_SOCKET;
}

bool mc_client_enabled(void)
{
	if (enabled < 0) {
		const char *off = secure_getenv("MOUNTCACHE_NO_DAEMON");
		struct stat st;
		enabled = !(off && *off && strcmp(off, "0") != 0) &&
			  stat(socket_path(), &st) == 0 && S_ISSOCK(st.st_mode);
	}
	return enabled == 1 && (!failed_at || mc_now_ns() - failed_at > RETRY_NS);
}

/* Whether asking the daemon pays: it runs, and the table is not small. A
 * round trip (request, answer with an fd, fstat, mmap) costs about what
 * the kernel's read of SMALL_TABLE mounts does (the bench's first read at
 * 20 mounts was 2.5x slower through the daemon). listmount() tells the
 * count in a few microseconds; where it cannot (before Linux 6.8, or
 * filtered), the table counts as large. */
#define SMALL_TABLE 128
#define RECOUNT_NS 1000000000u

/* The last count's verdict, reused for RECOUNT_NS (a process's first open
 * asks here, then its capture right after): mc_now_ns() of the count, its
 * lowest bit set when the table was small. Atomic, one word. */
static uint64_t verdict;

bool mc_client_worth(void)
{
	uint64_t ids[SMALL_TABLE];

	if (!mc_client_enabled())
		return false;
	uint64_t now = mc_now_ns(), v = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	if (!v || now - (v & ~1ull) > RECOUNT_NS) {
		long n = mc_sys_listmount(0, ids, SMALL_TABLE);
		v = (now & ~1ull) | (n >= 0 && n < SMALL_TABLE);
		__atomic_store_n(&verdict, v, __ATOMIC_RELAXED);
		if (v & 1)
			MC_DEBUG("daemon: not asked, %ld mounts is a small table", n);
	}
	return !(v & 1);
}

static int conn_lost;                   /* atomic: see conn_still_ours() */
static ino_t conn_ino;

static void disconnect(void)
{
	if (conn >= 0 && !__atomic_exchange_n(&conn_lost, 0, __ATOMIC_ACQ_REL))
		mc_sys_close(conn);
	__atomic_store_n(&conn, -1, __ATOMIC_RELAXED);
}

/* Our connection's number is the host program's to free: a close loop, a
 * closefrom() or a dup2() over it. The preload reports every such free
 * (mc_client_fd_freed, lock-free, from the host's thread); elsewhere (the
 * daemon's own API users) one fstat() per request checks the socket is
 * still the one we connected. A lost number is forgotten, never closed
 * or written to: it may now hold the program's own file. */

void mc_client_fd_freed(unsigned first, unsigned last)
{
	int c = __atomic_load_n(&conn, __ATOMIC_RELAXED);
	if (c >= 0 && (unsigned)c >= first && (unsigned)c <= last)
		__atomic_store_n(&conn_lost, 1, __ATOMIC_RELEASE);
}

static bool conn_still_ours(void)
{
	struct stat st;

	if (__atomic_exchange_n(&conn_lost, 0, __ATOMIC_ACQ_REL))
		return false;
	if (mc_fds_watched)
		return true;
	return mc_sys_fstat(conn, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == conn_ino;
}

static int fail(int r)
{
	disconnect();
	failed_at = mc_now_ns();
	MC_DEBUG("daemon: %s, capturing ourselves", strerror(-r));
	return r;
}

/* A connection to a daemon we trust, at the lowest free number. Returns
 * the fd or -errno. */
static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof cred;
	const char *path = socket_path();
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int r = -errno;
		mc_sys_close(fd);
		return r;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		MC_DEBUG("daemon: %s is served by uid %u: not trusted", path, (unsigned)cred.uid);
		mc_sys_close(fd);
		return -EPERM;
	}
	return fd;
}

/* A failure on a one-shot connection: the kept one is not touched. */
static int fail_once(int r)
{
	failed_at = mc_now_ns();
	MC_DEBUG("daemon: %s, the kernel answers", strerror(-r));
	return r;
}

static int connect_daemon(void)
{
	int fd = dial(), high;
	if (fd < 0)
		return fd;
	/* Out of the way of the host program's fd numbers, like our views. */
	int floor = mc_fd_floor();
	high = floor < 0 ? -1 : mc_sys_fcntl(fd, F_DUPFD_CLOEXEC, floor);
	mc_sys_close(fd);
	if (high < 0)
		return floor < 0 ? floor : -errno;
	fd = high;
	struct stat st;
	if (!mc_fds_watched && mc_sys_fstat(fd, &st) == 0)
		conn_ino = st.st_ino;
	__atomic_store_n(&conn_lost, 0, __ATOMIC_RELAXED);
	mc_own_fd_note(fd);
	__atomic_store_n(&conn, fd, __ATOMIC_RELEASE);
	return 0;
}

/* Receive the answer to @want_seq, with at most one fd. Older answers
 * (from a request that timed out) are thrown away with their fds. */
static int recv_rep(int sock, uint32_t want_seq, struct mc_rep *rep, char *extra, size_t extra_size,
		    size_t *ret_extra, int *ret_fd)
{
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int pr = poll(&p, 1, TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return pr < 0 ? -errno : -ETIMEDOUT;

		int fd, msg_flags;
		ssize_t n = mc_proto_recv(sock, rep, sizeof *rep, extra, extra_size, 0, &fd, &msg_flags);
		if (n < 0)
			return (int)n;
		int r = mc_rep_check(rep, (size_t)n, msg_flags);
		if (r < 0 || rep->seq != want_seq) {
			if (fd >= 0)
				mc_sys_close(fd);
			if (r < 0)
				return r;
			continue;
		}
		if (ret_extra)
			*ret_extra = (size_t)n - sizeof *rep;
		*ret_fd = fd;
		return 0;
	}
}

static void release_mapped(struct mc_snap *s)
{
	if (s->text_cap)
		munmap((void *)s->text, s->text_cap);
}

/* Map a memfd the daemon sent, after checking it can never change, and
 * take the indexes in its tail (proto.h), if any, after checking them.
 * MAP_POPULATE: a reader goes through the whole text (a served pass, a
 * getmntent loop), and one populate costs less than a fault per 64 KiB
 * of it (~12 us each on this project's machine kind). */
static int map_snapshot(int fd, const struct mc_rep *rep, struct mc_snap **ret)
{
	const int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	const uint32_t *lines = NULL;
	const struct mc_mntimg *img = NULL;
	struct stat st;
	int seals = mc_sys_fcntl(fd, F_GET_SEALS, 0);

	if (seals < 0 || (seals & need) != need)
		return -EPERM;
	if (mc_sys_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < rep->len ||
	    rep->len == 0 || rep->len > MC_CAPTURE_MAX || (uint64_t)st.st_size > 4ull * MC_CAPTURE_MAX)
		return -EBADMSG;
	size_t size = (size_t)st.st_size;
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	int r = size > rep->len ? mc_shm_check(p, size, rep->len, &lines, &img) : 0;
	struct mc_snap *s = r == 0 ? mc_snap_alloc() : NULL;
	if (!s) {
		munmap(p, size);
		return r < 0 ? r : -ENOMEM;
	}
	s->refs = 1;
	s->fmt = rep->fmt;
	s->text = p;
	s->len = rep->len;
	s->text_cap = size;
	s->gen = rep->gen;
	s->captured_ns = rep->captured_ns;
	s->validated = rep->flags & MC_REP_VALIDATED;
	s->lines = (uint32_t *)lines;
	s->mntimg = (struct mc_mntimg *)img;
	s->shipped = (lines ? MC_SNAP_SHIPPED_LINES : 0) | (img ? MC_SNAP_SHIPPED_IMG : 0);
	s->release = release_mapped;
	*ret = s;
	return 0;
}

/* One request and its answer, with the lock held. */
static int ask(struct mc_req *req, struct mc_rep *rep, char *extra, size_t extra_size,
	       size_t *ret_extra, int *ret_fd)
{
	int r;

	if (conn >= 0 && !conn_still_ours()) {
		MC_DEBUG("daemon: our connection's number was reused, connecting anew");
		__atomic_store_n(&conn, -1, __ATOMIC_RELAXED);
	}
	if (conn < 0 && (r = connect_daemon()) < 0)
		return r;
	req->seq = ++seq;
	ssize_t n = mc_proto_send(conn, req, sizeof *req, NULL, 0, NULL, 0, MSG_NOSIGNAL);
	r = n == sizeof *req ? 0 : n < 0 ? (int)n : -EPROTO;
	if (r == 0)
		r = recv_rep(conn, req->seq, rep, extra, extra_size, ret_extra, ret_fd);
	if (r == 0 && rep->status != 0) {
		if (*ret_fd >= 0)
			mc_sys_close(*ret_fd);
		r = -rep->status;
	}
	return r;
}

int mc_client_fetch(enum mc_format fmt, const struct mc_view_key *key, uint64_t have_gen,
		    bool revalidate, struct mc_snap **ret_snap, uint64_t *ret_captured_ns)
{
	struct mc_req req;
	struct mc_rep rep;
	struct mc_snap *s = NULL;
	int fd = -1, r;

	mc_req_init(&req, MC_OP_SNAPSHOT, fmt, revalidate ? MC_REQ_REVALIDATE : 0, 0);
	req.have_gen = have_gen;
	pthread_mutex_lock(&lock);
	r = ask(&req, &rep, NULL, 0, NULL, &fd);
	if (r == 0 && rep.fmt != fmt)
		r = -EPROTO;
	if (r == 0 && (rep.root_mnt != key->root_mnt || rep.root_ino != key->root_ino ||
		       rep.root_dev != key->root_dev))
		r = -EXDEV;                     /* another view than ours: not an error of the daemon */
	if (r == 0 && fd >= 0)
		r = map_snapshot(fd, &rep, &s);
	else if (r == 0 && (rep.gen != have_gen || !have_gen))
		r = -EPROTO;                    /* no fd, yet not what we hold */
	if (fd >= 0)
		mc_sys_close(fd);
	/* ENOSPC (too many views) and EAGAIN (churn) are answers, not faults;
	 * a timeout means the daemon is busy capturing: drop the connection
	 * (a late answer must not be read as the next one) but keep asking. */
	if (r == -ETIMEDOUT)
		disconnect();
	else if (r < 0 && r != -ENOSPC && r != -EAGAIN && r != -EXDEV)
		r = fail(r);
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return r;
	MC_DEBUG("daemon: generation %llx (%s)", (unsigned long long)rep.gen, s ? "mapped" : "already held");
	*ret_snap = s;
	*ret_captured_ns = rep.captured_ns;
	return 0;
}

/* One snapshot for one pass, on a connection of its own that is closed
 * before we return: a process that asks once (its first read) keeps no fd
 * and grows no fd table (the kept connection lives at mc_fd_floor(), and
 * the first number that high makes the kernel grow the process's table).
 * The socket and the memfd take the lowest free numbers for the moment
 * they are open, inside the program's read(): a number the program is not
 * using, and free again when it returns. Calls: socket, connect,
 * getsockopt, sendmsg, poll, recvmsg, fcntl, fstat, mmap, close, close. */
int mc_client_fetch_once(enum mc_format fmt, const struct mc_view_key *key, struct mc_snap **ret_snap)
{
	struct mc_req req;
	struct mc_rep rep;
	int fd = -1, r;

	if (!mc_client_enabled())
		return -ENOTCONN;
	int sock = dial();
	if (sock < 0)
		return fail_once(sock);
	mc_req_init(&req, MC_OP_SNAPSHOT, fmt, MC_REQ_BRIEF, 1);
	ssize_t n = mc_proto_send(sock, &req, sizeof req, NULL, 0, NULL, 0, MSG_NOSIGNAL);
	r = n == sizeof req ? 0 : n < 0 ? (int)n : -EPROTO;
	if (r == 0)
		r = recv_rep(sock, req.seq, &rep, NULL, 0, NULL, &fd);
	mc_sys_close(sock);
	if (r == 0 && rep.status != 0)
		r = -rep.status;
	if (r == 0 && rep.fmt != fmt)
		r = -EPROTO;
	if (r == 0 && (rep.root_mnt != key->root_mnt || rep.root_ino != key->root_ino ||
		       rep.root_dev != key->root_dev))
		r = -EXDEV;
	if (r == 0)
		r = fd >= 0 ? map_snapshot(fd, &rep, ret_snap) : -EPROTO;
	if (fd >= 0)
		mc_sys_close(fd);
	if (r < 0 && r != -ENOSPC && r != -EAGAIN && r != -EXDEV && r != -ETIMEDOUT)
		return fail_once(r);
	if (r == 0)
		MC_DEBUG("daemon: generation %llx (mapped, for one pass)", (unsigned long long)rep.gen);
	return r;
}

int mc_client_stats(char *buf, size_t size)
{
	struct mc_req req;
	struct mc_rep rep;
	size_t n = 0;
	int fd = -1, r;

	if (size == 0)
		return -EINVAL;
	mc_req_init(&req, MC_OP_STATS, 0, 0, 0);
	pthread_mutex_lock(&lock);
	r = ask(&req, &rep, buf, size - 1, &n, &fd);
	if (fd >= 0)
		mc_sys_close(fd);
	if (r < 0)
		disconnect();
	pthread_mutex_unlock(&lock);
	buf[r < 0 ? 0 : n] = '\0';
	return r;
}

/* The connection's peer credentials are the parent's: a child asking on it
 * would be served the parent's table. */
void mc_client_atfork_child(void)
{
	disconnect();
	pthread_mutex_init(&lock, NULL);
}
