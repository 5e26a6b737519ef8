/* mountcached: keeps one snapshot per (mount namespace, root) that clients
 * ask for, fresh through the kernel's change events, and hands it out as a
 * sealed memfd.
 *
 * Who asks for what. The client's request never names a table: we serve
 * the peer process's own one, /proc/<pid>/mountinfo (or mounts), where the
 * pid comes from SO_PEERCRED and is pinned by a pidfd (SO_PEERPIDFD, or
 * pidfd_open at accept): after opening /proc/<pid> we check the pidfd's
 * process is still alive, so the directory cannot belong to a process that
 * reused the pid. So no client ever sees a table the kernel would not show
 * it.
 *
 * Why an answer is never stale. Our view fds are in the epoll set with
 * EPOLLPRI; epoll_wait's readiness check consumes a change event, so view
 * events of a batch are handled (forced re-capture) before the requests of
 * the same batch, and an event that arrives later is still pending when the
 * request's own poll() looks. Each answer thus reflects every announced
 * change completed before the request was received. Propagation flips
 * (MS_SHARED...) are announced by nobody: a client that made one sends
 * MC_REQ_REVALIDATE, and no snapshot older than --max-age-ms (1000) is
 * served. Many clients woken by one change cause one capture: we are single
 * threaded and the first request re-captures for all.
 *
 * Limits: clients, views and snapshot size are bounded; a client gets one
 * answer per request and a client that does not read its answers is
 * dropped (non-blocking sends), so none can starve the others. Connections
 * are bounded per uid too (see admit()): no user can hold every slot. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "incremental.h"
#include "mc.h"
#include "proto.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define MAX_CLIENTS 1024
#define MAX_CLIENTS_PER_UID 128         /* for each uid but root */
#define ROOT_RESERVE 256                /* slots only root may take */
#define MAX_VIEWS 256
#define IDLE_NS (60ull * 1000000000u)
#define ACTIVE_NS (10ull * 1000000000u)   /* see refresh_ahead() */

enum kind { K_LISTEN, K_SIGNAL, K_TIMER, K_CLIENT, K_VIEW, K_INCR };

struct client {
	enum kind kind;
	int fd, pidfd;
	pid_t pid;
	uid_t uid;
	struct client *next;
};

/* A view as the daemon keeps it: the engine's view, plus the memfd of its
 * current snapshot. */
struct dview {
	enum kind kind;
	struct mc_view *v;
	struct mc_view_key key;
	enum mc_format fmt;
	int watched_fd;                 /* the view fd in the epoll set */
	uint64_t gen;
	int memfd;
	uint64_t used_ns;
	uint64_t captured_ns;           /* of the snapshot in memfd */
	uint64_t capture_cost_ns;       /* how long its last capture took */
	struct dview *next;
};

static struct {
	unsigned long requests, hits, captures, forced, errors, dropped, refused, ahead;
	uint64_t refresh_ns_total, refresh_ns_max;
	unsigned long refreshes;
} st;

static int ep;
static struct client *clients;
static unsigned nclients, nviews;
static struct dview *dviews;
static const char *sock_path = MC_DEFAULT_SOCKET;

static void die(const char *what)
{
	fprintf(stderr, "mountcached: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void watch(int fd, uint32_t events, void *ptr)
{
	struct epoll_event e = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		die("epoll_ctl");
}

/* ---- clients ---------------------------------------------------------- */

static void drop_client(struct client *c)
{
	for (struct client **pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c);
	nclients--;
}

/* Whether a new connection from uid may take a slot. Clients keep their
 * connection for the life of the process, so a user who opens many and
 * sits on them would otherwise lock every later process (root's too) out
 * of the daemon: correct still (they read the kernel), but slow. So a uid
 * other than root holds at most MAX_CLIENTS_PER_UID, and all of them
 * together leave ROOT_RESERVE slots to root. */
static bool admit(uid_t uid)
{
	if (nclients >= MAX_CLIENTS)
		return false;
	if (uid == 0)
		return true;
	if (nclients >= MAX_CLIENTS - ROOT_RESERVE)
		return false;
	unsigned n = 0;
	for (struct client *c = clients; c; c = c->next)
		if (c->uid == uid && ++n >= MAX_CLIENTS_PER_UID)
			return false;
	return true;
}

static void accept_client(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || !admit(cred.uid)) {
		st.refused++;
		close(fd);
		return;
	}
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->kind = K_CLIENT;
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	len = sizeof c->pidfd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &len) < 0)
		c->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	c->next = clients;
	clients = c;
	nclients++;
	watch(fd, EPOLLIN, c);
}

/* The client's /proc/<pid> directory, proven to be the client's. */
static int client_procdir(struct client *c)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/%d", (int)c->pid);
	int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (c->pidfd < 0 || syscall(SYS_pidfd_send_signal, c->pidfd, 0, NULL, 0) < 0) {
		close(dfd);
		return -ESRCH;
	}
	return dfd;
}

static int client_key(int procdir, struct mc_view_key *key)
{
	struct stat ns;
	struct statx sx;

	if (fstatat(procdir, "ns/mnt", &ns, 0) < 0)
		return -errno;
	if (statx(procdir, "root", AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &sx) < 0)
		return -errno;
	*key = (struct mc_view_key){ .ns = ns.st_ino, .root_mnt = sx.stx_mnt_id, .root_ino = sx.stx_ino,
				     .root_dev = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor };
	return 0;
}

/* ---- views ------------------------------------------------------------ */

static struct dview *find_view(enum mc_format fmt, const struct mc_view_key *key)
{
	for (struct dview *d = dviews; d; d = d->next)
		if (d->fmt == fmt && memcmp(&d->key, key, sizeof *key) == 0)
			return d;
	if (nviews >= MAX_VIEWS)
		return NULL;
	struct dview *d = calloc(1, sizeof *d);
	if (!d || !(d->v = mc_view_get(fmt, key))) {
		free(d);
		return NULL;
	}
	d->kind = K_VIEW;
	d->fmt = fmt;
	d->key = *key;
	d->memfd = -1;
	d->watched_fd = -1;
	d->next = dviews;
	dviews = d;
	nviews++;
	return d;
}

static void drop_view(struct dview *d)
{
	for (struct dview **pp = &dviews; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->watched_fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, d->watched_fd, NULL);
	if (d->memfd >= 0)
		close(d->memfd);
	mc_view_drop(d->v);
	free(d);
	nviews--;
}

/* Keep the view's fd in the epoll set (it changes when re-opened). */
static void rewatch(struct dview *d)
{
	int fd = mc_view_fd(d->v);
	if (fd == d->watched_fd)
		return;
	if (d->watched_fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, d->watched_fd, NULL);
	d->watched_fd = -1;
	if (fd >= 0) {
		struct epoll_event e = { .events = EPOLLPRI, .data.ptr = d };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0)
			d->watched_fd = fd;
	}
}

/* A sealed memfd holding @s: once sent, nobody can change it. */
static int publish(struct dview *d, struct mc_snap *s)
{
	if (d->memfd >= 0 && d->gen == s->gen)
		return 0;
	int fd = memfd_create("mountcache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < s->len) {
		ssize_t n = write(fd, s->text + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		off += n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (d->memfd >= 0)
		close(d->memfd);
	d->memfd = fd;
	d->gen = s->gen;
	return 0;
}

/* Snapshot of @d as of now; @procdir opens its fd the first time. */
static int refresh(struct dview *d, int procdir, bool force, struct mc_snap **ret)
{
	uint64_t t0 = mc_now_ns();
	struct mc_snap *s;
	int r = -EOPNOTSUPP;

	/* Our own namespace and root: the incremental table (incremental.c);
	 * when it cannot answer (churn, a change it cannot render), the text. */
	if (mcd_incr_serves(&d->key))
		r = mcd_incr_snapshot(d->fmt, force, &s);
	if (r < 0) {
		r = mc_view_snapshot_at(d->v, procdir, force, &s);
		if (r < 0)
			return r;
		rewatch(d);
	}
	if (s->gen != d->gen) {
		uint64_t dt = mc_now_ns() - t0;
		d->capture_cost_ns = dt;
		st.captures++;
		st.refreshes++;
		st.refresh_ns_total += dt;
		if (dt > st.refresh_ns_max)
			st.refresh_ns_max = dt;
	}
	r = s->validated ? publish(d, s) : 0;
	if (r < 0) {
		mc_snap_unref(s);
		return r;
	}
	if (s->validated)
		d->captured_ns = s->captured_ns;
	*ret = s;
	return 0;
}

/* ---- requests --------------------------------------------------------- */

static void reply(struct client *c, struct mc_rep *rep, int fd, const char *extra, size_t extra_len)
{
	if (mc_proto_send(c->fd, rep, sizeof *rep, extra, extra_len, &fd, fd >= 0,
			  MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* Full queue: the client does not read its answers. */
		st.dropped++;
		drop_client(c);
	}
}

static void stats_text(char *buf, size_t size)
{
	double avg = st.refreshes ? st.refresh_ns_total / 1e3 / st.refreshes : 0;
	int n = snprintf(buf, size,
		 "clients %u\nviews %u\nrequests %lu\nhits %lu\ncaptures %lu\nforced %lu\n"
		 "errors %lu\ndropped %lu\nrefused %lu\nahead %lu\nrefresh_avg_us %.1f\nrefresh_max_us %.1f\n",
		 nclients, nviews, st.requests, st.hits, st.captures, st.forced, st.errors,
		 st.dropped, st.refused, st.ahead, avg, st.refresh_ns_max / 1e3);
	if (n > 0 && (size_t)n < size)
		mcd_incr_stats(buf + n, size - (size_t)n);
}

static void serve_snapshot(struct client *c, const struct mc_req *req, struct mc_rep *rep)
{
	struct mc_view_key key;
	struct mc_snap *s = NULL;
	int procdir = client_procdir(c), r = procdir;

	if (procdir >= 0)
		r = client_key(procdir, &key);
	struct dview *d = r >= 0 ? find_view(req->fmt, &key) : NULL;
	if (r >= 0 && !d)
		r = -ENOSPC;
	bool force = req->flags & MC_REQ_REVALIDATE;
	if (d) {
		uint64_t before = d->gen;
		st.forced += force;
		r = refresh(d, procdir, force, &s);
		d->used_ns = mc_now_ns();
		if (r == 0 && !s->validated)
			r = -EAGAIN;            /* churn: the client reads the kernel */
		if (r == 0 && d->gen == before)
			st.hits++;
	}
	if (procdir >= 0)
		close(procdir);
	if (r < 0) {
		st.errors++;
		rep->status = -r;
		reply(c, rep, -1, NULL, 0);
	} else {
		rep->gen = s->gen;
		rep->len = s->len;
		rep->root_mnt = key.root_mnt;   /* whose table this is */
		rep->root_ino = key.root_ino;
		rep->root_dev = key.root_dev;
		rep->captured_ns = s->captured_ns;
		rep->flags = MC_REP_VALIDATED;
		reply(c, rep, req->have_gen == s->gen ? -1 : d->memfd, NULL, 0);
	}
	mc_snap_unref(s);
}

static void handle_client(struct client *c)
{
	struct mc_req req;
	int fd = -1;
	ssize_t n = mc_proto_recv(c->fd, &req, sizeof req, NULL, 0, MSG_DONTWAIT, &fd, NULL);
	if (n == -EAGAIN)
		return;
	if (fd >= 0)
		close(fd);                      /* clients send no fds */
	if (n < 0 || fd >= 0 || mc_req_check(&req, (size_t)n) < 0) {
		drop_client(c);                 /* closed, or not speaking our protocol */
		return;
	}
	struct mc_rep rep;
	mc_rep_init(&rep, &req);
	st.requests++;
	if (req.op == MC_OP_SNAPSHOT) {
		serve_snapshot(c, &req, &rep);
	} else if (req.op == MC_OP_STATS) {
		char text[MC_STATS_MAX];
		stats_text(text, sizeof text);
		reply(c, &rep, -1, text, strlen(text));
	} else {
		rep.status = EINVAL;
		reply(c, &rep, -1, NULL, 0);
	}
}

/* A view's namespace changed: our epoll already consumed the event, so
 * capture anew now (also making the next reader's answer ready). */
static void handle_view(struct dview *d)
{
	struct mc_snap *s;
	if (refresh(d, -1, true, &s) == 0)
		mc_snap_unref(s);
	else
		drop_view(d);                   /* its namespace is gone */
}

/* Re-capture, before it expires, the snapshot of a view a client used in
 * the last ACTIVE_NS. Otherwise the first request after the maximum age
 * waits for a capture (about 100 ms at 50k mounts: the client's whole
 * timeout, after which it reads the kernel, slower than without us). The
 * price: one capture per 3/4 of the maximum age per active view (3% of a
 * core at 10k mounts and the default 1 s), for 10 s after the last
 * request. Bounded so that requests still come first: one view per tick
 * (the most overdue), and a view no more often than every 8 of its own
 * capture times (a huge table, or churn, which makes captures slow). */
static void refresh_ahead(void)
{
	uint64_t now = mc_now_ns(), due_most = 0;
	struct dview *due = NULL;

	if (!mc_max_age_ns)
		return;
	for (struct dview *d = dviews; d; d = d->next) {
		uint64_t age = now - d->captured_ns;
		uint64_t every = mc_max_age_ns / 4 * 3;
		if (every < 8 * d->capture_cost_ns)
			every = 8 * d->capture_cost_ns;
		if (d->memfd < 0 || now - d->used_ns > ACTIVE_NS || age < every)
			continue;
		if (age - every >= due_most) {
			due_most = age - every;
			due = d;
		}
	}
	if (!due)
		return;
	struct mc_snap *s;
	st.ahead++;
	if (refresh(due, -1, true, &s) == 0)
		mc_snap_unref(s);
	else
		drop_view(due);                 /* its namespace is gone */
}

static void expire_idle(void)
{
	uint64_t now = mc_now_ns();
	for (struct dview *d = dviews, *next; d; d = next) {
		next = d->next;
		if (now - d->used_ns > IDLE_NS)
			drop_view(d);
	}
}

/* ---- main ------------------------------------------------------------- */

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		die(path);
	}
	strcpy(sa.sun_path, path);
	/* The default directory is ours (root, 0755): nobody else can place
	 * a socket or a link there. */
	char dir[sizeof sa.sun_path];
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			die(dir);
	}
	int fd = mc_proto_listen(path, SOCK_NONBLOCK, 128);
	if (fd < 0) {
		errno = -fd;
		die(path);
	}
	return fd;
}

/* Our own namespace and root, served incrementally where the kernel
 * allows (incremental.c); otherwise every view stays on the text path. */
static void start_incremental(void)
{
	static enum kind k_incr = K_INCR;
	struct mc_view_key self;
	int pfd, ffd, r, dfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);

	r = dfd < 0 ? -errno : client_key(dfd, &self);
	if (dfd >= 0)
		close(dfd);
	if (r == 0)
		r = mcd_incr_init(&self);
	if (r < 0) {
		fprintf(stderr, "mountcached: incremental refresh off: %s\n", strerror(-r));
		return;
	}
	mcd_incr_fds(&pfd, &ffd);
	watch(pfd, EPOLLPRI, &k_incr);
	watch(ffd, EPOLLIN, &k_incr);
}

/* The socket systemd passes (mountcached.socket), or -1 when we were not
 * socket-activated. The protocol is sd_listen_fds(3)'s: LISTEN_PID names us,
 * LISTEN_FDS counts the fds from 3 on. We take exactly one, and only an
 * AF_UNIX SOCK_SEQPACKET socket that listens: anything else is a unit
 * written wrong, and serving on it would fail in a way no client explains,
 * so we refuse to start. The variables are dropped so that nothing we
 * start later (we start nothing today) takes the fd for its own. */
static int activated_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0, acc = 0;
	struct sockaddr_un sa;
	socklen_t tlen = sizeof type, alen = sizeof acc, slen = sizeof sa;

	if (!pid || !fds || strtol(pid, NULL, 10) != getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0) {
		fprintf(stderr, "mountcached: LISTEN_FDS=%s: expected exactly one socket\n", fds);
		exit(1);
	}
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 ||
	    getsockname(3, (struct sockaddr *)&sa, &slen) < 0)
		die("passed fd 3");
	if (sa.sun_family != AF_UNIX || type != SOCK_SEQPACKET || !acc) {
		fprintf(stderr, "mountcached: passed fd 3 is not a listening AF_UNIX "
			"SOCK_SEQPACKET socket (ListenSequentialPacket= in the .socket unit)\n");
		exit(1);
	}
	/* systemd passes it blocking and inheritable; we accept from epoll. */
	if (fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		die("passed fd 3");
	return 3;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: mountcached [--socket PATH] [--max-age-ms MS]\n\n"
		   "Keeps mount table snapshots fresh for processes running with the\n"
		   "mountcache preload (libmountcache-preload.so). Runs in the foreground; stop\n"
		   "it with SIGTERM.\n\n"
		   "  --socket PATH     listen here (default %s;\n"
		   "                    clients read MOUNTCACHE_SOCKET)\n"
		   "  --max-age-ms MS   never serve a snapshot older than this (default 1000):\n"
		   "                    the bound for propagation changes (MS_SHARED...) that\n"
		   "                    the kernel does not announce; a table in use is\n"
		   "                    re-read at 3/4 of this, so requests rarely wait\n"
		   "  --incremental     refresh our own namespace's table in proportion to the\n"
		   "                    change (fanotify, listmount, statmount; Linux 6.15+,\n"
		   "                    CAP_SYS_ADMIN; MOUNTCACHE_INCREMENTAL=1 too). Off by\n"
		   "                    default: a remount that comes with other changes in\n"
		   "                    one wake-up is seen only at --max-age-ms\n"
		   "  --no-incremental  re-read the whole table after every change (default)\n"
		   "  --help            this text\n", MC_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "max-age-ms", required_argument, NULL, 'a' },
		{ "incremental", no_argument, NULL, 'i' },
		{ "no-incremental", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *incr_env = getenv("MOUNTCACHE_INCREMENTAL");
	bool incremental = incr_env && strcmp(incr_env, "1") == 0;
	int o;
	/* The engine's views must capture, never ask a daemon: we are it. */
	setenv("MOUNTCACHE_NO_DAEMON", "1", 1);
	mc_debug_init();
	while ((o = getopt_long(argc, argv, "s:a:h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock_path = optarg;
			break;
		case 'a': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);
			if (*end || ms == 0 || ms > 3600000) {
				fprintf(stderr, "mountcached: --max-age-ms: 1..3600000\n");
				return 2;
			}
			mc_max_age_ns = (uint64_t)ms * 1000000u;
			break;
		}
		case 'i':
			incremental = true;
			break;
		case 'n':
			incremental = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll");
	static enum kind k_listen = K_LISTEN, k_signal = K_SIGNAL, k_timer = K_TIMER;
	/* Before the socket appears: its first read takes a while. */
	if (incremental)
		start_incremental();
	/* Socket-activated, the socket and its path are systemd's: we neither
	 * create nor unlink it. */
	int lfd = activated_fd();
	bool activated = lfd >= 0;
	if (!activated)
		lfd = listen_on(sock_path);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	/* Ticks for refresh_ahead(): an eighth of the maximum age, 20 ms to 10 s. */
	uint64_t tick = mc_max_age_ns / 8;
	tick = tick < 20000000u ? 20000000u : tick > 10000000000u ? 10000000000u : tick;
	struct timespec ts = { (time_t)(tick / 1000000000u), (long)(tick % 1000000000u) };
	struct itimerspec every = { ts, ts };
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0)
		die("signalfd/timerfd");
	watch(lfd, EPOLLIN, &k_listen);
	watch(sfd, EPOLLIN, &k_signal);
	watch(tfd, EPOLLIN, &k_timer);
	fprintf(stderr, "mountcached: listening on %s\n",
		activated ? "the socket systemd passed" : sock_path);

	for (;;) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		/* Views first: see the comment at the top. The incremental
		 * table's two fds may both fire: one update serves both. */
		bool incr_done = false;
		for (int i = 0; i < n; i++) {
			enum kind k = *(enum kind *)ev[i].data.ptr;
			if (k == K_VIEW)
				handle_view(ev[i].data.ptr);
			else if (k == K_INCR && !incr_done) {
				mcd_incr_event();
				incr_done = true;
			}
		}
		for (int i = 0; i < n; i++) {
			enum kind k = *(enum kind *)ev[i].data.ptr;
			if (k == K_LISTEN) {
				accept_client(lfd);
			} else if (k == K_SIGNAL) {
				if (!activated)
					unlink(sock_path);
				fprintf(stderr, "mountcached: stopped\n");
				return 0;
			} else if (k == K_TIMER) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof ticks) > 0) {
					expire_idle();
					refresh_ahead();
				}
			} else if (k == K_CLIENT) {
				struct client *c = ev[i].data.ptr;
				if (ev[i].events & (EPOLLHUP | EPOLLERR))
					drop_client(c);
				else
					handle_client(c);
			}
		}
	}
}
