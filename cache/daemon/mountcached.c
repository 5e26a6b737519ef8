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
 * Why an answer is never stale, and why requests do not wait behind a
 * capture: the views live in refresher.c, whose thread captures and
 * publishes their snapshots; this loop only answers, each request from the
 * newest snapshot proven to reflect every change announced before it
 * arrived (waiting at most one kernel read's time for a refresh under way).
 * Propagation flips (MS_SHARED...) are announced by nobody: a client that
 * made one sends MC_REQ_REVALIDATE, and no snapshot older than
 * --max-age-ms (1000) is served.
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
#include "refresher.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define MAX_CLIENTS 1024
#define MAX_CLIENTS_PER_UID 128         /* for each uid but root */
#define ROOT_RESERVE 256                /* slots only root may take */
#define IDLE_NS (60ull * 1000000000u)

enum kind { K_LISTEN, K_SIGNAL, K_TIMER, K_CLIENT };

struct client {
	enum kind kind;
	int fd, pidfd;
	pid_t pid;
	uid_t uid;
	struct client *next;
};

static struct {
	unsigned long requests, hits, forced, errors, dropped, refused;
} st;

static int ep;
static struct client *clients;
static unsigned nclients;
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
	int n = snprintf(buf, size,
		 "clients %u\nrequests %lu\nhits %lu\nforced %lu\nerrors %lu\ndropped %lu\nrefused %lu\n",
		 nclients, st.requests, st.hits, st.forced, st.errors, st.dropped, st.refused);
	if (n > 0 && (size_t)n < size)
		mcd_refresher_stats(buf + n, size - (size_t)n);
}

/* @arrival_ns: just after the request was received, so after it was sent:
 * the answer reflects every change completed before the client asked. */
static void serve_snapshot(struct client *c, const struct mc_req *req, struct mc_rep *rep,
			   uint64_t arrival_ns)
{
	struct mc_view_key key;
	struct mcd_answer a;
	int procdir = client_procdir(c), r = procdir;
	bool force = req->flags & MC_REQ_REVALIDATE;

	if (procdir >= 0)
		r = client_key(procdir, &key);
	st.forced += force;
	if (r >= 0)
		r = mcd_answer(req->fmt, &key, procdir, arrival_ns, force, req->flags & MC_REQ_BRIEF,
			       req->have_gen, &a);
	if (procdir >= 0)
		close(procdir);
	if (r < 0) {
		st.errors++;                    /* -EAGAIN: churn, the client reads the kernel */
		rep->status = -r;
		reply(c, rep, -1, NULL, 0);
		return;
	}
	st.hits += !a.waited;
	rep->gen = a.gen;
	rep->len = a.len;
	rep->root_mnt = key.root_mnt;           /* whose table this is */
	rep->root_ino = key.root_ino;
	rep->root_dev = key.root_dev;
	rep->captured_ns = a.captured_ns;
	rep->flags = MC_REP_VALIDATED;
	reply(c, rep, a.memfd, NULL, 0);
	if (a.memfd >= 0)
		close(a.memfd);
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
	uint64_t arrival_ns = mc_now_ns();
	struct mc_rep rep;
	mc_rep_init(&rep, &req);
	st.requests++;
	if (req.op == MC_OP_SNAPSHOT) {
		serve_snapshot(c, &req, &rep, arrival_ns);
	} else if (req.op == MC_OP_STATS) {
		char text[MC_STATS_MAX];
		stats_text(text, sizeof text);
		reply(c, &rep, -1, text, strlen(text));
	} else {
		rep.status = EINVAL;
		reply(c, &rep, -1, NULL, 0);
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
	struct mc_view_key self;
	int r, dfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);

	r = dfd < 0 ? -errno : client_key(dfd, &self);
	if (dfd >= 0)
		close(dfd);
	if (r == 0)
		r = mcd_incr_init(&self);
	if (r < 0) {
		fprintf(stderr, "mountcached: incremental refresh off: %s\n", strerror(-r));
	}
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
		   "                    change (fanotify, statmount; Linux 6.15+,\n"
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
	/* Ticks for expiring idle views. */
	struct timespec ts = { 1, 0 };
	struct itimerspec every = { ts, ts };
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0)
		die("signalfd/timerfd");
	int r = mcd_refresher_start();
	if (r < 0) {
		errno = -r;
		die("refresher thread");
	}
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
				if (read(tfd, &ticks, sizeof ticks) > 0)
					mcd_views_expire(IDLE_NS);
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
