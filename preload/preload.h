/* preload.h: private interface of the preload library. */
#ifndef MC_PRELOAD_H
#define MC_PRELOAD_H

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <mntent.h>
#include <sys/mount.h>
#include <stdio.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mc.h"

#define MC_EXPORT __attribute__((visibility("default")))

/* ---- real.c: the functions we interpose, as the next library has them */
struct mc_real {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*__open_2)(const char *, int);
	int (*__open64_2)(const char *, int);
	int (*__openat_2)(int, const char *, int);
	int (*__openat64_2)(int, const char *, int);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*fopen64)(const char *, const char *);
	FILE *(*freopen)(const char *, const char *, FILE *);
	FILE *(*freopen64)(const char *, const char *, FILE *);
	FILE *(*fdopen)(int, const char *);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*__read_chk)(int, void *, size_t, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pread64)(int, void *, size_t, off64_t);
	ssize_t (*__pread_chk)(int, void *, size_t, off_t, size_t);
	ssize_t (*__pread64_chk)(int, void *, size_t, off64_t, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv64)(int, const struct iovec *, int, off64_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*preadv64v2)(int, const struct iovec *, int, off64_t, int);
	off_t (*lseek)(int, off_t, int);
	off64_t (*lseek64)(int, off64_t, int);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	FILE *(*setmntent)(const char *, const char *);
	struct mntent *(*getmntent)(FILE *);
	struct mntent *(*getmntent_r)(FILE *, struct mntent *, char *, int);
	struct mntent *(*__getmntent_r)(FILE *, struct mntent *, char *, int);
	ssize_t (*__getdelim)(char **, size_t *, int, FILE *);
	int (*mount)(const char *, const char *, const char *, unsigned long, const void *);
	int (*umount)(const char *);
	int (*umount2)(const char *, int);
	int (*mount_setattr)(int, const char *, unsigned, struct mount_attr *, size_t);
	int (*move_mount)(int, const char *, int, const char *, unsigned);
	int (*setns)(int, int);
	int (*unshare)(int);
	int (*chroot)(const char *);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*posix_spawn)(pid_t *, const char *, const void *, const void *, char *const[], char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const void *, const void *, char *const[], char *const[]);
	int (*system)(const char *);
	FILE *(*popen)(const char *, const char *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*sendfile64)(int, int, off64_t *, size_t);
	ssize_t (*splice)(int, off64_t *, int, off64_t *, size_t, unsigned);
	ssize_t (*copy_file_range)(int, off64_t *, int, off64_t *, size_t, unsigned);
};
extern struct mc_real mc_real;
extern bool mc_disabled;
/* Reads the configuration and registers the fork handlers, once; cheap
 * after that. Safe before our constructor has run. */
void mc_preload_init(void);
/* The next definition of @name (dlsym RTLD_NEXT), or NULL. */
void *mc_resolve(const char *name);
/* Each real function is looked up on its first use, not at start-up: a
 * process that never opens a mount table pays for none of them (the
 * preload's start-up cost is what a short command feels). */
#define REAL(f)                                                                   \
	({                                                                        \
		__typeof__(mc_real.f) p_ = __atomic_load_n(&mc_real.f, __ATOMIC_RELAXED); \
		if (unlikely(!p_)) {                                              \
			p_ = (__typeof__(p_))mc_resolve(#f);                      \
			__atomic_store_n(&mc_real.f, p_, __ATOMIC_RELAXED);       \
		}                                                                 \
		p_;                                                               \
	})

/* Re-entry: a signal handler may call open() or read() while this thread is
 * inside our code, holding a lock. Nested calls must not take our locks:
 * they go to the kernel. Inside our code cancellation is disabled, so that
 * pthread_cancel() never unwinds through a held lock (our own calls to poll
 * and nanosleep are cancellation points).
 *
 * A vfork() child runs on its parent's memory, this thread's TLS included,
 * until it execs or exits: whatever it does to our map or slots, it does to
 * the parent's. Our vfork() (fork.c) marks it busy for that time, so every
 * hook in it keeps its hands off our state as a nested call does. */
#define MC_BUSY_HOOK 1                  /* this thread is inside our code */
#define MC_BUSY_VFORK 2                 /* this thread is a vfork() child */
extern __thread int mc_busy __attribute__((tls_model("initial-exec")));
struct mc_guard {
	int cancel;
};
static inline bool mc_enter(struct mc_guard *g)
{
	if (mc_busy)
		return false;
	mc_busy = MC_BUSY_HOOK;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &g->cancel);
	return true;
}
static inline void mc_leave(struct mc_guard *g)
{
	pthread_setcancelstate(g->cancel, NULL);
	mc_busy = 0;
}
/* The recursion guard alone, for code that reaches no cancellation point
 * while it holds anything of ours (a copy from a snapshot, our notes, a
 * mutex that is not one): the two pthread_setcancelstate() calls cost
 * more than such code, and the first one in a process binds it (~800
 * instructions), in what is often its one read of a table. */
static inline bool mc_enter_light(void)
{
	if (mc_busy)
		return false;
	mc_busy = MC_BUSY_HOOK;
	return true;
}
static inline void mc_leave_light(void)
{
	mc_busy = 0;
}


/* Set for good when slots may be shared, or a FILE used by two threads, in
 * a way we cannot see: a fork() from inside our code (a signal handler),
 * or a thread made with clone() directly (__libc_single_threaded does not
 * see those). (real.c) */
extern bool mc_lock_always;
/* A clone() (the wrapper, or through syscall()) with @flags: CLONE_VM
 * without CLONE_VFORK makes a thread glibc does not count, so lock from
 * now on. */
static inline void mc_note_clone(uint64_t flags)
{
	if ((flags & (CLONE_VM | CLONE_VFORK)) == CLONE_VM)
		__atomic_store_n(&mc_lock_always, true, __ATOMIC_RELAXED);
}
/* The process has one thread, so a lock it alone takes excludes nobody. */
static inline bool mc_one_thread(void)
{
	return __libc_single_threaded && !__atomic_load_n(&mc_lock_always, __ATOMIC_RELAXED);
}
/* A mutex of ours, taken only where another thread could contend for it:
 * not in a process of one thread (a signal handler never takes our locks:
 * mc_enter). Only this thread could make a second one, and not from inside
 * our code, so what mc_lock_shared() said holds until mc_unlock_shared().
 * Cost saved: a lock and an unlock call, ~50 instructions, several times
 * per served open, read and close. fork()'s handlers lock for real. */
static inline bool mc_lock_shared(pthread_mutex_t *m)
{
	if (mc_one_thread())
		return false;
	pthread_mutex_lock(m);
	return true;
}
static inline void mc_unlock_shared(pthread_mutex_t *m, bool locked)
{
	if (locked)
		pthread_mutex_unlock(m);
}

/* ---- real.c and fork.c: children and exec -------------------------------
 * Around every fork-like call (fork()'s handlers, _Fork, clone without
 * CLONE_VM through syscall()): _prepare takes our locks, under the
 * recursion guard, and says whether it did; then exactly one of _parent or
 * _child, on the same thread, with what it said. (real.c) */
/* After a dup2/dup3/F_DUPFD made @to from @from (fdwatch.c). */
void mc_fd_dup_seen(int from, int to);
bool mc_fork_prepare(void);
void mc_fork_parent(bool locked);
void mc_fork_child(bool locked);
/* One more set of steps, run inside the guard after _prepare's locks and
 * before _parent's or _child's release (one set: first.c's). */
void mc_fork_also(void (*prepare)(void), void (*parent)(void), void (*child)(void));
/* Before exec (any form) or spawn: inherited served fds get the kernel
 * offset set to ours. (fork.c) */
void mc_exec_prepare(void);

/* ---- the descriptions we serve: fdmap.c (which fd holds which), ofd.c
 * (reading), kpos.c (the kernel's offset), getmntent.c ------------------- */
struct mc_ofd;
/* Start serving @fd (just opened by the host program on a mount table of
 * view @v). Returns 0 or <0 (then the fd simply stays the kernel's). */
int mc_fd_track(int fd, struct mc_view *v, enum mc_format fmt, const struct stat *st);
/* The description behind @fd with a reference, or NULL if not ours. The
 * NULL case is lock-free: every read() of the process passes here. */
struct mc_ofd *mc_fd_get(int fd);
/* The same, and only if @fd still holds that file; a stale entry (the fd
 * closed behind our back and its number reused) is forgotten. */
struct mc_ofd *mc_fd_get_checked(int fd);
/* Is @fd ours? Lock-free, no reference: also for nested (signal handler)
 * calls. Inline: every read, close and dup of the process asks it, and
 * for an fd that is not ours (nearly all) it is one or two loads. */
#define MC_FD_L2_BITS 10
#define MC_FD_L2_SIZE (1u << MC_FD_L2_BITS)
#define MC_FD_L1_SIZE 1024u             /* fds up to 1M are tracked */
extern struct mc_ofd **mc_fd_map[MC_FD_L1_SIZE];
static inline struct mc_ofd *mc_fd_peek(int fd)
{
	if (fd < 0 || (unsigned)fd >= MC_FD_L1_SIZE * MC_FD_L2_SIZE)
		return NULL;
	struct mc_ofd **l2 = __atomic_load_n(&mc_fd_map[(unsigned)fd >> MC_FD_L2_BITS], __ATOMIC_ACQUIRE);
	return l2 ? __atomic_load_n(&l2[(unsigned)fd & (MC_FD_L2_SIZE - 1)], __ATOMIC_ACQUIRE) : NULL;
}
/* A read from a nested call: the kernel's bytes at our offset (pread on a
 * seq_file renders from the start), without our locks. */
ssize_t mc_ofd_read_nested(struct mc_ofd *o, int fd, const struct iovec *iov, int iovcnt, off_t off);
void mc_ofd_put(struct mc_ofd *o);
/* Is @fd still the file we track (device and inode)? */
bool mc_ofd_check_fd(struct mc_ofd *o, int fd);
/* The host program closed @fd (or dup2'ed over it). */
void mc_fd_forget(int fd);
void mc_fd_forget_range(unsigned first, unsigned last);
/* @newfd now shares @oldfd's description (dup, dup2, dup3, F_DUPFD). */
void mc_fd_dup(int oldfd, int newfd);
/* Read into @iov at @off (-1: at and advancing the shared file position).
 * Returns bytes or -errno, as the kernel would, or MC_OFD_NOT_OURS: a read
 * that starts a pass found another file behind @fd (fdmap.c says why a
 * read that continues a pass need not look); the caller forgets @fd and
 * reads the kernel. */
#define MC_OFD_NOT_OURS ((ssize_t)INT_MIN)
ssize_t mc_ofd_read(struct mc_ofd *o, int fd, const struct iovec *iov, int iovcnt, off_t off);
off_t mc_ofd_lseek(struct mc_ofd *o, off_t off, int whence);
void mc_ofd_set_stream(struct mc_ofd *o, FILE *fp);
/* st_blksize of the file, as fstat() said at open. */
blksize_t mc_ofd_blksize(const struct mc_ofd *o);
/* getmntent_r on @fp (@o: its description, or NULL) from the snapshot's
 * getmntent image, or glibc's @fn when the stream is not at an entry we
 * can answer (glibc then finds the stream untouched). An entry that
 * continues a pass makes no system call and calls nothing that can block
 * or be cancelled; one that starts a pass disables cancellation while it
 * takes a snapshot. (getmntent.c) */
enum mc_mntent_fn { MC_FN_GETMNTENT_R, MC_FN___GETMNTENT_R };
struct mntent *mc_getmntent_r(struct mc_ofd *o, FILE *fp, struct mntent *mp, char *buf, int size,
			      enum mc_mntent_fn fn);
/* A read that continues a served pass: at most @n bytes into @buf, with no
 * system call and nothing that can block or be cancelled (no guard
 * needed). MC_OFD_BLOCKS: anything else (a new pass, the kernel's pass,
 * a shared kernel offset): use mc_ofd_read(). Served, the bytes are the
 * snapshot's from *@ret_pos on, and *@keep (unless NULL) holds a
 * reference to that snapshot (the one it held before is dropped if it was
 * another). */
#define MC_OFD_BLOCKS ((ssize_t)INT_MIN + 1)
ssize_t mc_ofd_read_hit(struct mc_ofd *o, void *buf, size_t n, struct mc_snap **keep, int64_t *ret_pos);
/* getdelim() on one of our streams, by glibc's rules (stream.c); on any
 * other, or what ours leave to glibc, glibc's __getdelim (which its
 * getline and getdelim are). */
#define MC_STREAM_GLIBC (-2)
ssize_t mc_stream_getdelim(char **lineptr, size_t *n, int delim, FILE *fp);
/* The kernel's offset of @fd set to ours (before the kernel reads it
 * itself), and ours taken from the kernel's (after). */
void mc_fd_sync_kernel(int fd);
void mc_fd_adopt_kernel(int fd);
/* Before exec or spawn: every served fd that survives exec gets its kernel
 * offset set to ours. */
void mc_fd_sync_kernel_inherited(void);
void mc_ofd_atfork_prepare(void);
void mc_ofd_atfork_parent(void);
void mc_ofd_atfork_child(void);

/* ---- fdwatch.c: fd numbers handed out or freed inside libc ------------ */
/* @fd was just handed out by the kernel: forget what we kept for it.
 * Returns @fd. */
int mc_fd_fresh(int fd);

/* ---- stream.c: FILE * on a served fd ----------------------------------- */
/* A FILE whose reads come from @fd's description; fileno() is @fd. Takes
 * over the reference @o on success; NULL (reference untouched) on failure. */
FILE *mc_stream_open(int fd, struct mc_ofd *o);
/* The last stream this thread looked up, good while mc_streams_gen (bumped
 * when a stream is unregistered) has not moved: a getmntent or getline
 * loop asks for the same FILE again and again. Initial-exec TLS: one
 * %fs-relative load, not a __tls_get_addr() call. */
struct mc_stream_last {
	FILE *fp;
	void *k;                        /* stream.c's cookie */
	struct mc_ofd *o;
	unsigned gen;
};
extern __thread struct mc_stream_last mc_stream_last __attribute__((tls_model("initial-exec")));
extern unsigned mc_streams_gen;
/* Is @fp this thread's last lookup, still good? *@ret_gen: the generation
 * to record with a new one. */
static inline bool mc_stream_last_is(FILE *fp, unsigned *ret_gen)
{
	*ret_gen = __atomic_load_n(&mc_streams_gen, __ATOMIC_ACQUIRE);
	return mc_stream_last.fp == fp && mc_stream_last.gen == *ret_gen && fp;
}
struct mc_ofd *mc_stream_ofd_slow(FILE *fp);
/* The description behind one of our streams (no reference taken: valid
 * while the stream is open), or NULL. Lock-free; inline: getmntent asks
 * it for every entry. */
static inline struct mc_ofd *mc_stream_ofd(FILE *fp)
{
	unsigned gen;
	if (likely(mc_stream_last_is(fp, &gen)))
		return mc_stream_last.o;
	return mc_stream_ofd_slow(fp);
}
/* freopen() turns one of our streams into a plain FILE: _begin before the
 * real freopen (our cookie must keep working during it), _end after. */
void *mc_stream_freopen_begin(FILE *fp);
void mc_stream_freopen_end(void *cookie);
/* Parse an fopen mode: true (and O_ flags) if it is one we serve (read only). */
bool mc_stream_mode(const char *mode, int *ret_flags);

/* ---- track.c: decide whether an fd just opened is ours ----------------- */
struct mc_track_plan {
	bool stream;                    /* in: fopen or setmntent */
	bool note;                      /* out: a first open(2), for first.c */
	struct mc_view *view;
	enum mc_format fmt;
};
/* Before the real open of @path (relative to @dirfd), one that
 * mc_track_wanted() let through: shall the fd it returns be served?
 * Called inside the recursion guard (mc_busy); it disables cancellation
 * itself where it may block or lock. Never changes errno. */
bool mc_track_plan(int dirfd, const char *path, struct mc_track_plan *ret);
/* After the real open returned @fd: start serving it. Returns the
 * description (referenced) when @want_ofd and served, else NULL. */
struct mc_ofd *mc_track_commit(const struct mc_track_plan *plan, int fd, bool want_ofd);
/* After any real open: commit @plan (when not NULL), or forget what we knew
 * of the number @fd (it was free, so any mapping of it is stale). */
void mc_track_done(const struct mc_track_plan *plan, int fd);
extern bool mc_threads_diverged;
/* The process may have another root or mount namespace now. */
void mc_track_root_changed(void);
/* Is this path, for an open with these flags, possibly one we serve? The
 * hooks ask it first, before any guard: nearly every open is of another
 * file. */
bool mc_track_wanted(const char *path, int flags);

/* ---- first.c: a first open(2), passed through ------------------------- */
/* Notes held; every hook that may touch a noted fd tests this one word. */
extern int mc_first_live;
/* One more open of @fmt by the program: how many so far (track.c). */
unsigned mc_first_opened(enum mc_format fmt);
/* @fd was the process's first open of @fmt, left to the kernel: its first
 * read too; its second may continue in the daemon's snapshot. */
void mc_first_note(int fd, enum mc_format fmt);
/* A read() on @fd: true (*ret, errno set) if it was a noted fd's first
 * read, made here through @real; false: the caller goes on as usual (the
 * fd may be served now). */
bool mc_first_read(int fd, void *buf, size_t count, ssize_t (*real)(int, void *, size_t), ssize_t *ret);
/* lseek on @fd returned @r. */
void mc_first_seeked(int fd, off_t r);
void mc_first_forget_slow(unsigned first, unsigned last);
/* Numbers @first..@last freed, duplicated or read in another way: their
 * notes are dropped (the kernel keeps them). One load when none is held. */
static inline void mc_first_forget(unsigned first, unsigned last)
{
	if (unlikely(__atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)))
		mc_first_forget_slow(first, last);
}
void mc_first_used_slow(int fd, bool keep_note);
/* @fd is about to be read or shared otherwise than by read(): a pass
 * served from the daemon's snapshot moves the kernel's offset to ours and
 * ends; a note is dropped unless @keep_note. _all: every fd (exec). */
static inline void mc_first_used(int fd, bool keep_note)
{
	if (unlikely(__atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)) && fd >= 0)
		mc_first_used_slow(fd, keep_note);
}
static inline void mc_first_used_all(void)
{
	if (unlikely(__atomic_load_n(&mc_first_live, __ATOMIC_RELAXED)))
		mc_first_used_slow(-1, false);
}
/* The process may have another root or mount namespace now; and how many
 * times that happened (mc_track_root_changed). */
void mc_first_root_changed(void);
unsigned mc_first_root_gen(void);

/* The host freed or replaced fd numbers @first..@last: the views' own fds
 * and the daemon connection are told (mc_fd_freed: lock-free, so also from
 * a nested call), and first.c's notes, except from a vfork() child, whose numbers are its own:
 * the parent's are still open. */
static inline void mc_host_fd_freed(unsigned first, unsigned last)
{
	if (unlikely(last >= __atomic_load_n(&mc_view_fd_low, __ATOMIC_RELAXED)) && !(mc_busy & MC_BUSY_VFORK))
		mc_views_fd_freed(first, last);
	mc_first_forget(first, last);   /* a vfork child's is refused by the guard */
}

#endif
