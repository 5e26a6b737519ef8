/* first.c: a process's first open of a mount table, when it is not served.
 *
 * A process that reads the table once gains nothing from a copy of its
 * own, and one that reads only the first page (head, grep -q) would pay
 * for all of it. So the first open(2) of each format is only noted here
 * (no fd, no mapping, no system call), and its first read() goes to the
 * kernel as it is. Only a second read() on that fd, which shows the table
 * is larger than one read and the program wants more of it, asks the
 * daemon for a snapshot, and continues in it when all of these hold:
 *   (a) the kernel's offset is where the first read left it (lseek
 *       SEEK_CUR, one call): nothing we did not see moved it;
 *   (b) the bytes the kernel gave are the snapshot's first bytes;
 *   (c) seq_file's chunking, replayed over the snapshot for the first
 *       read's count, gives the same length (seqfile.c).
 * Then the program sees exactly the snapshot's text: a table as it was at
 * one moment after its first read, never the kernel's first part and a
 * snapshot's rest of two different tables. Otherwise the kernel serves the
 * rest of the pass, as it would without us.
 *
 * (b) compares a SipHash-1-3 of the first read's bytes and length
 * (pagehash.c), taken in the program's buffer while it is hot, keyed with
 * the process's AT_RANDOM bytes (nobody outside the process can aim a
 * collision). Keeping a copy instead would write fresh heap pages, a page
 * fault each (~12 us on some machines of this project's kind, the price
 * of the kernel's whole first read at 20 mounts) for a process that most
 * often stops there; the hash touches no new memory: ~1.6 us per 4 KiB,
 * paid on the first read only when it filled the program's buffer (a
 * shorter one reached the end).
 *
 * Anything else done to the fd before the second read (pread, readv, a
 * seek that is not a no-op at offset 0, dup, fdopen, sendfile and
 * friends, close, exec, fork) drops the note: the kernel serves that fd
 * for good. fopen() and setmntent() do not come here: stdio reads whole
 * buffers, and their first open is served at once when a daemon runs
 * (track.c). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include "ofd.h"
#include "pagehash.h"

enum { FREE, OPENED, BUSY, READ };

struct note {
	int fd;                         /* -1: dropped */
	int state;
	enum mc_format fmt;
	unsigned root_gen;              /* st.root_gen at the open */
	size_t want, got;               /* the first read's count and result */
	uint64_t hash;                  /* of its bytes (pagehash.c) */
};


/* A pass continued in the daemon's snapshot is served here, to its end:
 * seq_file's pieces (seqfile.c) copied from the mapping, no system call.
 * It needs none of fdmap.c's machinery (a description, a shared slot,
 * their pages: 6 system calls and 4 page faults in a fresh process),
 * because it never outlives the pass: anything that would let another
 * reader share the position (dup, fork, exec, fdopen, sendfile & co.),
 * or read it otherwise (pread, readv, a seek), first moves the kernel's
 * offset to ours (seq_file renders up to it) and leaves the fd to the
 * kernel. Under the lock; fd and pos are also read by a nested call. */
struct pass {
	int fdp1;                       /* the fd + 1, 0: none; atomic */
	struct mc_snap *snap;
	int64_t pos;                    /* ours; atomic */
	int64_t read_pos;               /* where the last read ended, or -1 */
	struct mc_seq q;
};
/* All of it zero-initialised, together with the gate word and track.c's
 * open counts, in one section of its own: a fresh process's first open
 * writes one page of ours for them, not three (a page fault each, 20 to
 * 40 us on this project's machine kind, was most of what a first open
 * cost over the kernel's). */
#define HOT __attribute__((section(".data.mc_first")))
int mc_first_live HOT;                  /* notes not FREE, and passes; atomic */
static struct {
	unsigned opened[2];             /* open(2)s and fopen()s of each format */
	pthread_mutex_t lock;           /* all zeroes: PTHREAD_MUTEX_INITIALIZER;
					 * mc_lock_shared(): a process reading
					 * once binds no pthread function */
	struct note notes[2];           /* at most one per format: a first open */
	struct pass passes[2];
	uint64_t key[2];                /* SipHash's, from AT_RANDOM, at the first hash; 0: unset */
	unsigned root_gen;              /* root or namespace changes; atomic */
} st HOT;
#define lock st.lock
#define notes st.notes
#define passes st.passes

MC_HOT unsigned mc_first_opened(enum mc_format fmt)
{
	return __atomic_add_fetch(&st.opened[fmt], 1, __ATOMIC_RELAXED);
}

void mc_first_root_changed(void)
{
	__atomic_add_fetch(&st.root_gen, 1, __ATOMIC_RELEASE);
}

MC_HOT unsigned mc_first_root_gen(void)
{
	return __atomic_load_n(&st.root_gen, __ATOMIC_ACQUIRE);
}

/* Under the lock: the hash of a first read's bytes, for check (b). The
 * first call sets the key, which is never written again: adopt() reads it
 * unlocked, for a note that became READ under the lock after it was set. */
static uint64_t page_hash_locked(const void *p, size_t len)
{
	if (unlikely(!st.key[0] && !st.key[1])) {
		const void *r = (const void *)getauxval(AT_RANDOM);
		if (r)
			memcpy(st.key, r, sizeof st.key);
		else
			st.key[0] = (uint64_t)(uintptr_t)&r ^ mc_now_ns();
	}
	return mc_pagehash(st.key, p, len);
}

/* ---- the notes ------------------------------------------------------------ */
/* Under the lock. A BUSY note (its first read under way) is freed by the
 * thread reading, which finds its fd gone. */
static void drop_locked(struct note *n)
{
	n->fd = -1;
	if (n->state != BUSY && n->state != FREE) {
		n->state = FREE;
		__atomic_sub_fetch(&mc_first_live, 1, __ATOMIC_RELAXED);
	}
}

/* @sync: the kernel's offset is set to ours first (the fd is read some
 * other way now); without, the number was freed. */
static void drop_pass_locked(struct pass *p, bool sync)
{
	int fd = __atomic_load_n(&p->fdp1, __ATOMIC_RELAXED) - 1;
	if (fd < 0)
		return;
	if (sync)
		mc_sys_lseek(fd, p->pos, SEEK_SET);
	__atomic_store_n(&p->fdp1, 0, __ATOMIC_RELEASE);
	mc_snap_unref(p->snap);
	p->snap = NULL;
	__atomic_sub_fetch(&mc_first_live, 1, __ATOMIC_RELAXED);
}

static struct pass *find_pass(int fd)
{
	for (int i = 0; i < 2; i++)
		if (fd >= 0 && __atomic_load_n(&passes[i].fdp1, __ATOMIC_ACQUIRE) == fd + 1)
			return &passes[i];
	return NULL;
}

static struct note *find_locked(int fd)
{
	for (int i = 0; i < 2; i++)
		if (notes[i].state != FREE && notes[i].fd == fd && fd >= 0)
			return &notes[i];
	return NULL;
}

MC_HOT void mc_first_note(int fd, enum mc_format fmt)
{
	bool l = mc_lock_shared(&lock);
	struct note *n = &notes[fmt];
	if (n->state == FREE) {
		*n = (struct note){ .fd = fd, .state = OPENED, .fmt = fmt, .root_gen = mc_first_root_gen() };
		__atomic_add_fetch(&mc_first_live, 1, __ATOMIC_RELAXED);
	}
	mc_unlock_shared(&lock, l);
}

/* From a nested call (a signal handler, our lock perhaps held) nothing is
 * dropped: a note on a number freed unseen is harmless, as (a) and (b)
 * then fail on whatever file holds the number. */
void mc_first_forget_slow(unsigned first, unsigned last)
{
	/* No cancellation point in here (a pass's snapshot is unmapped,
	 * nothing else): the recursion guard is enough. */
	if (!mc_enter_light())
		return;
	bool l = mc_lock_shared(&lock);
	for (int i = 0; i < 2; i++) {
		if (notes[i].state != FREE && notes[i].fd >= 0 && (unsigned)notes[i].fd >= first &&
		    (unsigned)notes[i].fd <= last)
			drop_locked(&notes[i]);
		int fd = passes[i].fdp1 - 1;
		if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last)
			drop_pass_locked(&passes[i], false);
	}
	mc_unlock_shared(&lock, l);
	mc_leave_light();
}

void mc_first_used_slow(int fd, bool keep_note)
{
	struct mc_guard g;
	if (!mc_enter(&g))
		return;
	bool l = mc_lock_shared(&lock);
	for (int i = 0; i < 2; i++) {
		if (!keep_note && notes[i].state != FREE && (fd < 0 || notes[i].fd == fd))
			drop_locked(&notes[i]);
		if (fd < 0 || passes[i].fdp1 == fd + 1)
			drop_pass_locked(&passes[i], true);
	}
	mc_unlock_shared(&lock, l);
	mc_leave(&g);
}

void mc_first_seeked(int fd, off_t r)
{
	struct mc_guard g;
	if (!mc_enter(&g))
		return;
	bool l = mc_lock_shared(&lock);
	struct note *n = find_locked(fd);
	/* Python's open() asks lseek(fd, 0, SEEK_CUR) before it reads: at
	 * offset 0 before the first read, nothing has changed. */
	if (n && !(n->state == OPENED && r == 0))
		drop_locked(n);
	mc_unlock_shared(&lock, l);
	mc_leave(&g);
}

/* fork: no note or pass crosses it, in the child or in the parent. The two
 * share the kernel's offset; a note's second read would move only ours. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < 2; i++) {
		drop_locked(&notes[i]);
		drop_pass_locked(&passes[i], true);
	}
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

/* In the child no thread is left to finish a first read that another
 * thread of the parent had under way (BUSY): its note goes too. */
static void atfork_child(void)
{
	for (int i = 0; i < 2; i++)
		if (notes[i].state == BUSY) {
			notes[i].state = READ;          /* so that drop_locked frees it */
			drop_locked(&notes[i]);
		}
	pthread_mutex_unlock(&lock);
}

/* At start-up, not at the first note: a fresh process's first open
 * should touch no more of libc than the kernel's open does. Run by every
 * fork-like call we see (real.c), inside its guard: fork, _Fork, clone. */
__attribute__((constructor)) static void first_init(void)
{
	mc_fork_also(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- the second read -------------------------------------------------------- */
/* Continue the pass the kernel began on @fd in a snapshot from the daemon,
 * if (a), (b) and (c) hold: then the rest of the pass is served from
 * passes[], as if the snapshot's first @n->got bytes had been read here. */
static bool adopt(int fd, const struct note *n)
{
	struct mc_view_key key;
	struct mc_snap *snap;
	struct statfs sfs;
	struct mc_seq q;
	bool ok = false;

	if (n->root_gen != mc_first_root_gen())
		return false;           /* another root or namespace since the open */
	/* A process that changed the table itself may have made a change
	 * nobody announces (a propagation flag): only a read begun after it
	 * asks would do, a read away, which a brief request declines. */
	if (mc_views_ever_invalidated())
		return false;
	if (!mc_client_worth())
		return false;           /* no daemon, or a small table: the kernel */
	if (mc_sys_lseek(fd, 0, SEEK_CUR) != (off_t)n->got)
		return false;                                   /* (a) */
	if (mc_view_key_self(&key) < 0 || mc_client_fetch_once(n->fmt, &key, &snap) < 0)
		return false;
	mc_seq_init(&q);
	struct mc_seq_text t = { .text = snap->text, .len = snap->len };
	/* (st.key: set by the first read's hash, see page_hash_locked()) */
	if (snap->len <= n->got || mc_pagehash(st.key, snap->text, n->got) != n->hash ||
	    mc_seq_read(&q, &t, 0, -1, n->want) != n->got) {            /* (b), (c) */
		MC_DEBUG("fd %d: the daemon's table is not the one the kernel began", fd);
		goto out;
	}
	/* The file really is on procfs (a chroot may have a plain file with
	 * the same first bytes). */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		goto out;
	bool l = mc_lock_shared(&lock);
	struct pass *p = &passes[n->fmt];
	if (!p->fdp1) {
		*p = (struct pass){ .snap = mc_snap_ref(snap), .pos = (int64_t)n->got,
				    .read_pos = (int64_t)n->got, .q = q };
		__atomic_add_fetch(&mc_first_live, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&p->fdp1, fd + 1, __ATOMIC_RELEASE);
		ok = true;
	}
	mc_unlock_shared(&lock, l);
	if (ok)
		MC_DEBUG("fd %d: the rest of the pass from the daemon's snapshot", fd);
out:
	mc_snap_unref(snap);
	return ok;
}

/* One read of a pass, under the lock: seq_file's piece at our position. */
static size_t pass_read_locked(struct pass *p, void *buf, size_t count)
{
	struct mc_snap *s = p->snap;
	struct mc_seq_text t = { .text = s->text, .len = s->len, .lines = mc_snap_lines_built(s) };
	size_t n = mc_seq_read(&p->q, &t, p->pos, p->read_pos, count);
	memcpy(buf, s->text + p->pos, n);
	__atomic_store_n(&p->pos, p->pos + (int64_t)n, __ATOMIC_RELEASE);
	p->read_pos = p->pos;
	return n;
}

/* A read of a pass from a nested call (a signal handler; our lock may be
 * held by the code it interrupted): the kernel's bytes at our position
 * (a pread on a seq_file renders up to it), as fdmap.c does. */
static ssize_t pass_read_nested(struct pass *p, int fd, void *buf, size_t count)
{
	int64_t pos = __atomic_load_n(&p->pos, __ATOMIC_ACQUIRE);
	ssize_t r = syscall(SYS_pread64, fd, buf, count, (long)pos);
	if (r > 0)
		__atomic_add_fetch(&p->pos, r, __ATOMIC_ACQ_REL);
	p->read_pos = -1;               /* our window is not the kernel's */
	return r;
}

/* Where the first '\n' of @p[0, @n) is, or @n. Eight bytes a step, and
 * no library call (memchr's first call binds it). */
static size_t first_nl(const char *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t z = mc_bytes_eq(mc_word_at(p + i), '\n');
		if (z)
			return i + ((unsigned)__builtin_ctzll(z) >> 3);
	}
	for (; i < n; i++)
		if (p[i] == '\n')
			return i;
	return n;
}

/* Is there a '\n' in @p[@lo, @hi)? Eight bytes a step from the end. */
static bool has_nl(const char *p, size_t lo, size_t hi)
{
	for (; hi >= lo + 8; hi -= 8)
		if (mc_bytes_eq(mc_word_at(p + hi - 8), '\n'))
			return true;
	for (; hi > lo; hi--)
		if (p[hi - 1] == '\n')
			return true;
	return false;
}

/* Is there more after a first read that returned @r of @count bytes?
 * seq_file returns one buffer (a page) per read: the records that fit, so
 * a read stops short both at the end of the table and before a record that
 * does not fit in what is left of the page. The second is likely only when
 * what is left is not much more than the lines we saw; on a small table
 * (the end) the program's next read is then the kernel's, which costs far
 * less than asking the daemon. The first and the last line stand for the
 * lines we saw: a scan of all of them cost ~2.5 instructions a byte (7,000
 * for a 20-mount table, a fifth of what the preload added to a process's
 * first read). A wrong guess only costs time: a line longer than these two
 * in the middle of a short first read leaves the rest of the pass to the
 * kernel, and (b) checks the bytes either way. */
static bool may_continue(const char *buf, size_t r, size_t count)
{
	if (r == count || r >= MC_SEQ_PAGE)
		return true;
	/* "What is left < 2 x the longest line": a line of @need bytes,
	 * '\n' counted. */
	size_t need = (MC_SEQ_PAGE - r) / 2 + 1;
	if (r < need)
		return false;
	return first_nl(buf, need - 1) == need - 1 ||   /* the first line */
	       !has_nl(buf, r - need, r - 1);           /* the last one */
}

/* The first read of a noted fd, the one read of a process that reads
 * once: the kernel's, with nothing of ours held across it, so it stays the
 * program's cancellation point and needs neither pthread_testcancel() nor
 * the cancel state turned off; and errno is the kernel's, untouched. Those
 * calls' first use binds each (~800 instructions), most of what the
 * preload added to this read. Returns false when @fd's note is not at its
 * first read. */
static bool first_read(int fd, void *buf, size_t count, ssize_t (*real)(int, void *, size_t), ssize_t *ret)
{
	if (!mc_enter_light())
		return false;
	bool l = mc_lock_shared(&lock);
	struct note *n = find_locked(fd);
	if (!n || n->state != OPENED) {
		mc_unlock_shared(&lock, l);
		mc_leave_light();
		return false;
	}
	n->state = BUSY;
	mc_unlock_shared(&lock, l);
	ssize_t r = real ? real(fd, buf, count) : syscall(SYS_read, fd, buf, count);
	bool more = r > 0 && may_continue(buf, (size_t)r, count);
	l = mc_lock_shared(&lock);
	n->state = READ;                        /* so that drop_locked frees it */
	if (n->fd != fd || !more) {
		drop_locked(n);
	} else {
		n->want = count;
		n->got = (size_t)r;
		n->hash = page_hash_locked(buf, (size_t)r);
	}
	mc_unlock_shared(&lock, l);
	mc_leave_light();
	*ret = r;
	return true;
}

MC_HOT bool mc_first_read(int fd, void *buf, size_t count, ssize_t (*real)(int, void *, size_t), ssize_t *ret)
{
	struct mc_guard g;
	struct note *n, copy;

	struct pass *p = find_pass(fd);
	if (!p && first_read(fd, buf, count, real, ret))
		return true;
	pthread_testcancel();                   /* read() is a cancellation point */
	if (!mc_enter(&g)) {
		if (!p)
			return false;
		*ret = pass_read_nested(p, fd, buf, count);
		return true;
	}
	int saved = errno;
	bool l = mc_lock_shared(&lock);
	if (p && p->fdp1 == fd + 1) {
		*ret = (ssize_t)pass_read_locked(p, buf, count);
		mc_unlock_shared(&lock, l);
		mc_leave(&g);
		errno = saved;
		return true;
	}
	n = find_locked(fd);
	if (!n || n->state == BUSY) {           /* another thread is reading it */
		if (n)
			drop_locked(n);
		mc_unlock_shared(&lock, l);
		mc_leave(&g);
		return false;
	}
	if (n->state == READ) {
		copy = *n;
		drop_locked(n);
		mc_unlock_shared(&lock, l);
		bool served = false;
		if (adopt(fd, &copy)) {
			l = mc_lock_shared(&lock);
			if ((p = find_pass(fd))) {
				*ret = (ssize_t)pass_read_locked(p, buf, count);
				served = true;
			}
			mc_unlock_shared(&lock, l);
		}
		errno = saved;
		mc_leave(&g);
		return served;                  /* or the kernel's */
	}
	/* A first read that first_read() did not take (the note came
	 * between): the kernel's, as it is. */
	mc_unlock_shared(&lock, l);
	mc_leave(&g);
	errno = saved;
	return false;
}
