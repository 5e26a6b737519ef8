/* smdiff: the mount table rendered from listmount+statmount (cache/mtrack.c,
 * cache/render.c) against the kernel's own text, byte for byte.
 *
 *   smdiff [--full] [--daemon SOCK]                     one comparison
 *   smdiff --ops N [--seed S] [--burst K] [--max M] [--full] [--daemon SOCK]
 *
 * Run inside a private namespace (mkmounts). The first form compares the
 * whole table once. The second makes N seeded random changes below
 * $MC_FIXTURE_DIR/rt (mount, bind, rbind, move, umount, umount -l,
 * remounts of mount flags and of superblock options, propagation flips by
 * mount(2) and by mount_setattr(2), mounts made by a peer in a second
 * namespace that propagate into ours, odd names), and after every change
 * (or every K changes: a burst) brings the tracked table up to date and
 * compares /proc/self/mountinfo and /proc/self/mounts with it. The table
 * under rt stays below M mounts (default 300) by unmounting.
 *
 * What is compared: the tracked table's text (in-process mtrack, the
 * incremental path unless --full), or with --daemon the daemon's snapshot
 * (mc_client_fetch). A propagation flip by mount(2) raises no event
 * anywhere: after one the comparison asks for a full rebuild (the daemon:
 * a revalidating request), as a preloaded process's own flip does. So does
 * an unmount in the peer namespace: a slave of ours whose master goes
 * there becomes private, and our namespace gets no event at all. Bursts
 * hold no remounts and no flips: a remount in the same wake-up as a
 * topology change cannot be seen (see mtrack.c).
 *
 * A difference prints the seed, the operations since the start and the
 * first differing lines, and exits 1. Prints counts at the end. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mc.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct mattr { uint64_t set, clr, propagation, userns_fd; };

static uint64_t rng;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

static char base[2048];
static int peer_cmd[2] = { -1, -1 }, peer_ack[2] = { -1, -1 };
static const char *sock;
static bool full_only;
static struct mc_mtrack *mt;

/* ---- the log of operations ---------------------------------------------- */
static char **oplog;
static size_t nlog;

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	oplog = realloc(oplog, (nlog + 1) * sizeof *oplog);
	oplog[nlog++] = s;
	if (mc_debug_enabled && s)
		fprintf(stderr, "smdiff: op %zu: %s\n", nlog, s);
}

/* ---- texts ---------------------------------------------------------------- */

static int kernel_text(enum mc_format fmt, struct mc_buf *b)
{
	int fd = open(fmt == MC_MOUNTINFO ? "/proc/self/mountinfo" : "/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct mc_capture_opts o = { .max_tries = 20 };
	int r = mc_capture_fd(fd, b, &o);
	close(fd);
	return r;
}

static unsigned long timeouts, index_checks;

/* The indexes that travel with a text (the line ends; for mounts the
 * getmntent image) must be the ones built from the text itself: the
 * daemon's incremental path assembles them from its entries instead.
 * @lines, @img: what we got (NULL: none came). 0 same, -EBADMSG not. */
static int check_indexes(enum mc_format fmt, const char *text, size_t len, const uint32_t *lines,
			 const struct mc_mntimg *img)
{
	if (lines) {
		size_t n = 0;
		for (const char *p = text, *nl; p < text + len; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(text + len - p));
			if (!nl)
				nl = text + len - 1;
			if (lines[0] <= n || lines[n + 1] != (uint32_t)(nl + 1 - text)) {
				fprintf(stderr, "smdiff: line index: line %zu ends at %u, the text says %zu\n",
					n + 1, lines[0] > n ? lines[n + 1] : 0, (size_t)(nl + 1 - text));
				return -EBADMSG;
			}
			n++;
		}
		if (lines[0] != n) {
			fprintf(stderr, "smdiff: line index: %u lines, the text has %zu\n", lines[0], n);
			return -EBADMSG;
		}
	}
	if (img && fmt == MC_MOUNTS) {
		struct mc_mntimg *want = NULL;
		int r = mc_mntimg_build(text, len, NULL, &want);
		if (r < 0)
			return r;
		bool same = want->n == img->n && memcmp(want, img, mc_mntimg_size(want->n)) == 0;
		size_t i = 0;
		while (!same && i < want->n && i < img->n && !memcmp(&want->ents[i], &img->ents[i], sizeof want->ents[i]))
			i++;
		mc_mntimg_free(want);
		if (!same) {
			fprintf(stderr, "smdiff: getmntent image differs from the text's at entry %zu\n", i);
			return -EBADMSG;
		}
	}
	index_checks++;
	return 0;
}

static int ours_text(enum mc_format fmt, bool revalidate, struct mc_buf *b)
{
	if (sock) {
		struct mc_view_key key;
		struct mc_snap *s = NULL;
		uint64_t cap;
		int r = mc_view_key_self(&key);
		/* A busy daemon makes a client time out (100 ms) and read the
		 * kernel: not wrong, but not what we test here. */
		for (int tries = 0; r == 0 && tries < 10; tries++) {
			r = mc_client_fetch(fmt, &key, 0, revalidate, &s, &cap);
			if (r != -ETIMEDOUT && r != -EAGAIN)
				break;
			timeouts++;
			r = 0;
			usleep(20000);
		}
		if (r < 0)
			return r;
		if (!s)
			return -EIO;
		b->len = 0;
		r = check_indexes(fmt, s->text, s->len, mc_snap_lines_built(s), mc_snap_mntimg_built(s));
		if (r == 0)
			r = mc_buf_reserve(b, s->len + 1);
		if (r == 0) {
			memcpy(b->data, s->text, s->len);
			b->len = s->len;
		}
		mc_snap_unref(s);
		return r;
	}
	static struct mc_buf lines, img;
	int r = mc_mtrack_text(mt, fmt, b, &lines, fmt == MC_MOUNTS ? &img : NULL);
	if (r == 0)
		r = check_indexes(fmt, b->data, b->len, (const uint32_t *)(void *)lines.data,
				  fmt == MC_MOUNTS ? (const struct mc_mntimg *)(void *)img.data : NULL);
	return r;
}

static void show_diff(const char *what, const struct mc_buf *k, const struct mc_buf *o)
{
	size_t i = 0, line = 1, ls = 0;
	while (i < k->len && i < o->len && k->data[i] == o->data[i]) {
		if (k->data[i] == '\n') {
			line++;
			ls = i + 1;
		}
		i++;
	}
	fprintf(stderr, "smdiff: %s differs at line %zu (kernel %zu bytes, ours %zu)\n", what, line,
		k->len, o->len);
	const struct mc_buf *b[2] = { k, o };
	for (int w = 0; w < 2; w++) {
		size_t s = ls, shown = 0;
		fprintf(stderr, "  %s:\n", w ? "ours" : "kernel");
		while (s < b[w]->len && shown < 3) {
			const char *nl = memchr(b[w]->data + s, '\n', b[w]->len - s);
			size_t e = nl ? (size_t)(nl - b[w]->data) : b[w]->len;
			fprintf(stderr, "    %.*s\n", (int)(e - s), b[w]->data + s);
			s = e + 1;
			shown++;
		}
	}
}

static unsigned long checks, incr_before, derived_lines, declined_lines, derived_texts;

/* The daemon makes its mounts text from its mountinfo capture where it
 * can (parse.c, mc_mounts_from_mountinfo()): every line it derives must
 * be the kernel's mounts line, and a whole text it derives the kernel's
 * mounts text. @mi and @mo were read at one quiet moment. 0 same, 1 not. */
static int check_derived(const struct mc_buf *mi, const struct mc_buf *mo)
{
	static struct mc_buf d;
	const char *p = mi->data, *q = mo->data, *pe = p + mi->len, *qe = q + mo->len;
	while (p < pe && q < qe) {
		const char *pn = memchr(p, '\n', (size_t)(pe - p)), *qn = memchr(q, '\n', (size_t)(qe - q));
		if (!pn || !qn)
			break;
		int r = mc_mounts_from_mountinfo(p, (size_t)(pn - p + 1), &d);
		if (r == -EOPNOTSUPP) {
			declined_lines++;
		} else if (r < 0 || d.len != (size_t)(qn - q + 1) || memcmp(d.data, q, d.len) != 0) {
			fprintf(stderr, "smdiff: derived mounts line (%s):\n  mountinfo: %.*s\n  kernel:    %.*s\n  derived:   %.*s\n",
				r < 0 ? strerror(-r) : "differs", (int)(pn - p), p, (int)(qn - q), q,
				(int)(d.len ? d.len - 1 : 0), d.data);
			return 1;
		} else {
			derived_lines++;
		}
		p = pn + 1;
		q = qn + 1;
	}
	if (p != pe || q != qe) {
		fprintf(stderr, "smdiff: mountinfo and mounts have different line counts\n");
		return 1;
	}
	int r = mc_mounts_from_mountinfo(mi->data, mi->len, &d);
	if (r == 0 && (d.len != mo->len || memcmp(d.data, mo->data, d.len) != 0)) {
		show_diff("derived mounts", mo, &d);
		return 1;
	}
	derived_texts += r == 0;
	return 0;
}

/* Bring ours up to date, compare both formats. 0 same, 1 differs. */
static int compare(bool revalidate)
{
	static struct mc_buf k, o, kmi;
	if (!sock) {
		int p = mc_mtrack_pending(mt);
		unsigned flags = (p > 0 ? (unsigned)p & MC_MTRACK_WOKE : 0) |
				 (revalidate ? MC_MTRACK_FULL : 0);
		int r = mc_mtrack_update(mt, flags);
		if (r < 0) {
			fprintf(stderr, "smdiff: update: %s\n", strerror(-r));
			return 1;
		}
	}
	for (int f = MC_MOUNTINFO; f <= MC_MOUNTS; f++) {
		int r = kernel_text(f, &k);
		if (r != 0) {
			fprintf(stderr, "smdiff: kernel read %d\n", r);
			return 1;
		}
		r = ours_text(f, revalidate, &o);
		if (r < 0) {
			fprintf(stderr, "smdiff: our text: %s\n", strerror(-r));
			return 1;
		}
		if (k.len != o.len || memcmp(k.data, o.data, k.len) != 0) {
			show_diff(f == MC_MOUNTINFO ? "mountinfo" : "mounts", &k, &o);
			return 1;
		}
		if (f == MC_MOUNTINFO) {
			struct mc_buf t = kmi;
			kmi = k;
			k = t;
		} else if (check_derived(&kmi, &k)) {
			return 1;
		}
	}
	checks++;
	return 0;
}

/* ---- targets -------------------------------------------------------------- */

/* Mount points below base, from the kernel's mounts file (decoded). */
static char **mps;
static size_t nmps;

static void list_mps(void)
{
	struct mc_buf b = { 0 };
	for (size_t i = 0; i < nmps; i++)
		free(mps[i]);
	nmps = 0;
	if (kernel_text(MC_MOUNTS, &b) < 0)
		return;
	size_t bl = strlen(base);
	for (char *p = b.data, *end = b.data + b.len; p < end; ) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		*nl = '\0';
		char *sp = strchr(p, ' ');
		if (sp) {
			char *mp = sp + 1, *sp2 = strchr(mp, ' ');
			if (sp2) {
				*sp2 = '\0';
				mp[mc_unescape_octal(mp, strlen(mp))] = '\0';
				if (strncmp(mp, base, bl) == 0 && mp[bl] == '/') {
					mps = realloc(mps, (nmps + 1) * sizeof *mps);
					mps[nmps++] = strdup(mp);
				}
			}
		}
		p = nl + 1;
	}
	mc_buf_free(&b);
}

static const char *names[] = { "a", "b", "c", "with space", "t\tab", "new\nline", "back\\slash",
			       "lit\\040", "d" };

/* A directory below a random mount point (made if missing). */
static bool some_dir(char *out, size_t size)
{
	const char *at = nmps ? mps[pick((unsigned)nmps)] : base;
	snprintf(out, size, "%s/%s", at, names[pick(sizeof names / sizeof names[0])]);
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		return false;
	return true;
}

static const char *some_mp(void)
{
	return nmps ? mps[pick((unsigned)nmps)] : NULL;
}

static int peer_do(const char *cmd)
{
	char ack;
	if (peer_cmd[1] < 0)
		return -1;
	if (write(peer_cmd[1], cmd, strlen(cmd) + 1) < 0 || read(peer_ack[0], &ack, 1) != 1)
		return -1;
	return ack;
}

enum { OP_TMPFS, OP_BIND, OP_RBIND, OP_MOVE, OP_UMOUNT, OP_LAZY, OP_REMOUNT_FLAGS, OP_REMOUNT_SB,
       OP_SETATTR, OP_FLIP, OP_PEER, OP_TUCK, OP_NR };

/* Tucking, in four operations compared one by one: (1) a shared tmpfs
 * A and a slave bind S of it, X mounted on S/m (a slave's mount does not
 * propagate back); (2) Y mounted on A/m: its copy in S goes under X, which
 * changes parent; (3) Y unmounted: its copy goes too, and X is back on S.
 * (1) sets propagation with mount(2) (no event: a revalidation); (2) and
 * (3) are compared as refreshed from their events. On Linux 6.18 X gets no
 * event in (2) (mtrack.c finds it on the new copy's mount point) and an
 * ATTACH|DETACH of its own in (3). (4) A and S (with X) unmounted, lazily:
 * they would pile up over thousands of operations. tuck_at: A/m. */
static char tuck_at[8400], tuck_a[8300], tuck_s[8300];
static int tuck_stage;

static bool tuck(char *d)
{
	char a[8300], sl[8300], p[8400];
	int r;
	snprintf(a, sizeof a, "%s/ta", d);
	snprintf(sl, sizeof sl, "%s/ts", d);
	r = (mkdir(a, 0755) < 0 && errno != EEXIST) || (mkdir(sl, 0755) < 0 && errno != EEXIST) ? -1 : 0;
	if (r == 0)
		r = mount("tk", a, "tmpfs", 0, "size=1m");
	if (r == 0)
		r = mount(NULL, a, NULL, MS_SHARED, NULL);
	snprintf(p, sizeof p, "%s/m", a);
	if (r == 0)
		r = mkdir(p, 0755);
	if (r == 0)
		r = mount(a, sl, NULL, MS_BIND, NULL);
	if (r == 0)
		r = mount(NULL, sl, NULL, MS_SLAVE, NULL);
	snprintf(p, sizeof p, "%s/m", sl);
	if (r == 0)
		r = mount("tx", p, "tmpfs", 0, "size=1m");
	logop("tuck: shared %s, its slave %s, tx on its m: %d", a, sl, r);
	if (r == 0) {
		snprintf(tuck_at, sizeof tuck_at, "%s/m", a);
		snprintf(tuck_a, sizeof tuck_a, "%s", a);
		snprintf(tuck_s, sizeof tuck_s, "%s", sl);
		tuck_stage = 2;
	}
	return true;            /* propagation set by mount(2): no event */
}

static void tuck_next(void)
{
	int r;
	if (tuck_stage == 2) {
		r = mount("ty", tuck_at, "tmpfs", 0, "size=1m");
		logop("tuck: ty on %s: %d", tuck_at, r);
		tuck_stage = r == 0 ? 3 : 4;
	} else if (tuck_stage == 3) {
		r = umount2(tuck_at, 0);
		logop("tuck: umount %s: %d", tuck_at, r);
		tuck_stage = 4;
	} else {
		r = umount2(tuck_s, MNT_DETACH);
		int r2 = umount2(tuck_a, MNT_DETACH);
		logop("tuck: umount -l %s, %s: %d %d", tuck_s, tuck_a, r, r2);
		tuck_stage = 0;
	}
}

/* One random change; returns whether it asks for a revalidation. */
static bool one_op(unsigned max, bool burst)
{
	char d[8192];
	const char *m = some_mp();
	unsigned op = pick(OP_NR);
	int r = 0;

	if (tuck_stage) {
		tuck_next();
		return false;
	}
	if (nmps >= max)
		op = pick(2) ? OP_LAZY : OP_UMOUNT;
	if (burst && (op == OP_REMOUNT_FLAGS || op == OP_REMOUNT_SB || op == OP_SETATTR || op == OP_FLIP ||
		      op == OP_TUCK))
		op = OP_TMPFS;
	if (!m && op != OP_TMPFS)
		op = OP_TMPFS;
	switch (op) {
	case OP_TMPFS:
		if (!some_dir(d, sizeof d))
			break;
		r = mount(pick(4) ? "rt" : "odd src", d, "tmpfs", pick(3) ? 0 : MS_NOSUID, "size=1m");
		logop("tmpfs on %s: %d", d, r);
		break;
	case OP_BIND:
	case OP_RBIND:
		if (!some_dir(d, sizeof d))
			break;
		r = mount(m, d, NULL, MS_BIND | (op == OP_RBIND ? MS_REC : 0), NULL);
		logop("%s %s on %s: %d", op == OP_RBIND ? "rbind" : "bind", m, d, r);
		break;
	case OP_MOVE:
		if (!some_dir(d, sizeof d))
			break;
		r = mount(m, d, NULL, MS_MOVE, NULL);
		logop("move %s to %s: %d", m, d, r);
		break;
	case OP_UMOUNT:
	case OP_LAZY:
		r = umount2(m, op == OP_LAZY ? MNT_DETACH : 0);
		logop("umount%s %s: %d", op == OP_LAZY ? " -l" : "", m, r);
		break;
	case OP_REMOUNT_FLAGS: {
		unsigned long f = (pick(2) ? MS_RDONLY : 0) | (pick(2) ? MS_NOEXEC : 0) | (pick(2) ? MS_NOATIME : 0);
		r = mount(NULL, m, NULL, MS_REMOUNT | MS_BIND | f, NULL);
		logop("remount bind %s flags %#lx: %d", m, f, r);
		break;
	}
	case OP_REMOUNT_SB: {
		const char *o = pick(2) ? "size=2m" : "size=1m,mode=0700";
		/* superblock flags too: the mounts line puts them elsewhere */
		static const unsigned long sbf[] = { 0, 0, 0, MS_SYNCHRONOUS, MS_LAZYTIME };
		unsigned long f = (pick(4) ? 0 : MS_RDONLY) | sbf[pick(5)];
		r = mount(NULL, m, NULL, MS_REMOUNT | f, o);
		logop("remount %s %s flags %#lx: %d", m, o, f, r);
		break;
	}
	case OP_SETATTR: {
		static const uint64_t props[] = { MS_SHARED, MS_PRIVATE, MS_SLAVE, 0 };
		struct mattr a = { .set = pick(2) ? MOUNT_ATTR_NOSUID : 0,
				   .clr = pick(2) ? MOUNT_ATTR_NOSUID : 0,
				   .propagation = props[pick(4)] };
		if (a.set & a.clr)
			a.clr = 0;
		r = (int)syscall(SYS_mount_setattr, AT_FDCWD, m, pick(2) ? AT_RECURSIVE : 0, &a, sizeof a);
		logop("mount_setattr %s set %#llx clr %#llx prop %#llx: %d", m, (unsigned long long)a.set,
		      (unsigned long long)a.clr, (unsigned long long)a.propagation, r);
		break;
	}
	case OP_FLIP: {
		static const unsigned long props[] = { MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE };
		unsigned long f = props[pick(4)] | (pick(3) ? 0 : MS_REC);
		r = mount(NULL, m, NULL, f, NULL);
		logop("flip %s %#lx: %d", m, f, r);
		return true;
	}
	case OP_PEER: {
		char cmd[2200];
		snprintf(cmd, sizeof cmd, "%c%s", pick(3) ? 'm' : 'u', pick(2) ? "shared/a" : "shared/b");
		r = peer_do(cmd);
		logop("peer %s: %d", cmd, r);
		/* The peer's unmount can leave our slaves without a master:
		 * their lines change, and our namespace hears nothing. */
		return cmd[0] == 'u';
	}
	case OP_TUCK:
		return some_dir(d, sizeof d) && tuck(d);
	}
	return false;
}

/* ---- the peer: a second namespace whose copy of base/shared is a peer ------ */

static void peer_loop(void)
{
	char cmd[2200], path[4400];
	close(peer_cmd[1]);
	close(peer_ack[0]);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNS) < 0)
		_exit(1);
	for (;;) {
		ssize_t n = read(peer_cmd[0], cmd, sizeof cmd - 1);
		if (n <= 0)
			_exit(0);
		cmd[n] = '\0';
		snprintf(path, sizeof path, "%s/%s", base, cmd + 1);
		mkdir(path, 0755);
		int r = cmd[0] == 'm' ? mount("peer", path, "tmpfs", 0, "size=1m") : umount2(path, MNT_DETACH);
		char ack = (char)(r == 0);
		if (write(peer_ack[1], &ack, 1) != 1)
			_exit(1);
	}
}

static void start_peer(void)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/shared", base);
	mkdir(p, 0755);
	if (mount("shared", p, "tmpfs", 0, "size=1m") < 0 || mount(NULL, p, NULL, MS_SHARED, NULL) < 0)
		return;
	if (pipe(peer_cmd) < 0 || pipe(peer_ack) < 0)
		return;
	if (fork() == 0)
		peer_loop();
	close(peer_cmd[0]);
	close(peer_ack[1]);
}

static void fail_report(unsigned long seed)
{
	fprintf(stderr, "smdiff: FAILED: seed %lu after %zu operations:\n", seed, nlog);
	size_t from = nlog > 40 ? nlog - 40 : 0;
	if (from)
		fprintf(stderr, "  ... (%zu earlier)\n", from);
	for (size_t i = from; i < nlog; i++)
		fprintf(stderr, "  %zu: %s\n", i + 1, oplog[i] ? oplog[i] : "?");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ops", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 's' },
		{ "burst", required_argument, NULL, 'b' }, { "max", required_argument, NULL, 'm' },
		{ "full", no_argument, NULL, 'f' }, { "daemon", required_argument, NULL, 'd' },
		{ 0 },
	};
	unsigned long ops = 0, seed = 1, burst = 1, max = 300;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': ops = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'b': burst = strtoul(optarg, NULL, 0); break;
		case 'm': max = strtoul(optarg, NULL, 0); break;
		case 'f': full_only = true; break;
		case 'd': sock = optarg; break;
		default: return 2;
		}
	}
	if (!burst)
		burst = 1;
	rng = seed * 2654435761u + 88172645463325252ull;
	if (sock)
		setenv("MOUNTCACHE_SOCKET", sock, 1);
	else
		setenv("MOUNTCACHE_NO_DAEMON", "1", 1);
	mc_debug_init();
	const char *fix = getenv("MC_FIXTURE_DIR");
	if (!fix) {
		fprintf(stderr, "smdiff: run me inside mkmounts\n");
		return 2;
	}
	snprintf(base, sizeof base, "%s/rt", fix);
	if (ops) {
		mkdir(base, 0755);
		if (mount("rt", base, "tmpfs", 0, "size=1m") < 0) {
			perror("smdiff: mount rt");
			return 2;
		}
		start_peer();
	}
	if (!sock) {
		int r = mc_mtrack_open(!full_only, &mt);
		if (r == 0)
			r = mc_mtrack_update(mt, MC_MTRACK_FULL);
		if (r < 0) {
			fprintf(stderr, "smdiff: statmount: %s\n", strerror(-r));
			return r == -EOPNOTSUPP || r == -ENOSYS ? 77 : 1;
		}
		if (!full_only && mc_mtrack_fan_fd(mt) < 0) {
			fprintf(stderr, "smdiff: no fanotify mount events here\n");
			return 77;
		}
	}
	/* Making base/shared shared was a flip of our own: revalidate. */
	if (compare(ops > 0)) {
		fail_report(seed);
		return 1;
	}
	for (unsigned long i = 0; i < ops; ) {
		bool reval = false;
		list_mps();
		for (unsigned long k = 0; k < burst && i < ops; k++, i++)
			reval |= one_op((unsigned)max, burst > 1);
		if (compare(reval)) {
			fail_report(seed);
			return 1;
		}
	}
	if (mt) {
		const struct mc_mtrack_stats *s = mc_mtrack_stats(mt);
		incr_before = s->incremental;
		printf("smdiff: seed %lu: %lu operations, %lu comparisons equal; "
		       "%lu incremental (%lu in place), %lu full, %lu fallbacks, %lu by text, %lu statmounts, "
		       "%lu listmounts, barrier %s; %lu line indexes and getmntent images equal the text's\n",
		       seed, ops, checks, s->incremental, s->in_place, s->full, s->fallbacks, s->by_text, s->statmounts,
		       s->listmounts, s->barrier ? "on" : "off", index_checks);
	} else {
		printf("smdiff: seed %lu: %lu operations, %lu comparisons equal (daemon; %lu retried "
		       "after a timeout or churn; %lu texts' indexes equal the text's)\n", seed, ops, checks,
		       timeouts, index_checks);
	}
	printf("smdiff: derived mounts lines equal the kernel's: %lu (%lu declined: superblock flags or "
	       "security options); whole texts derived: %lu\n", derived_lines, declined_lines, derived_texts);
	if (peer_cmd[1] >= 0) {
		close(peer_cmd[1]);
		wait(NULL);
	}
	if (!derived_lines) {
		fprintf(stderr, "smdiff: no mounts line was derived from its mountinfo line\n");
		return 1;
	}
	return 0;
}
