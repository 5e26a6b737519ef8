/* fork.c: children the program makes, and exec.
 *
 * Slots live in MAP_SHARED memory, counted per process (slot.c); the fd
 * map and the descriptions are private memory, guarded by our locks. So:
 *  - fork(): our handlers (real.c: mc_fork_prepare...) take our locks
 *    before it and count the child in every slot after it. _Fork() runs
 *    no handlers, and clone without CLONE_VM (clone(), or through
 *    syscall()) neither: we wrap them with the same steps (fdwatch.c for
 *    syscall()), else a child that closes an inherited served fd frees the
 *    parent's slot (the parent's next open takes it over, offsets reset).
 *  - vfork(): the child runs on the parent's memory. Whatever our hooks do
 *    in it (close forgets the fd, dup2 replaces it) they do to the
 *    parent's map, though the parent's fds are untouched. So the child is
 *    marked MC_BUSY_VFORK (also one clone() makes with CLONE_VM and
 *    CLONE_VFORK), and every hook in it leaves our state alone,
 *    as a nested call does; only exec still sets the kernel offsets of
 *    inherited fds (that is what the child is for).
 *  - glibc's posix_spawn, system and popen make a CLONE_VM|CLONE_VFORK
 *    child too, but it calls libc's internal close/dup2/open/execve,
 *    which no interposer sees (checked on glibc 2.36): nothing to do in
 *    it; our posix_spawn hook syncs the offsets in the parent first. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

/* The next definition of @name, looked up on first use. */
static void *next(void **cache, const char *name)
{
	void *p = __atomic_load_n(cache, __ATOMIC_RELAXED);
	if (unlikely(!p)) {
		p = mc_resolve(name);
		__atomic_store_n(cache, p, __ATOMIC_RELAXED);
	}
	return p;
}

/* _Fork (glibc 2.34+): the async-signal-safe fork, no handlers run. Ours
 * runs only our own steps around it (not the program's handlers). Cost:
 * taking and releasing our locks, as fork() pays. */
MC_EXPORT pid_t _Fork(void)
{
	static void *real;
	pid_t (*fn)(void) = (pid_t (*)(void))next(&real, "_Fork");
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	bool locked = mc_fork_prepare();
	pid_t r = fn();
	int saved = errno;
	if (r == 0)
		mc_fork_child(locked);
	else
		mc_fork_parent(locked);
	errno = saved;
	return r;
}

/* clone(): the child runs @fn on its own stack and exits when it returns.
 * Without CLONE_VM it is a fork: our steps around it, the child's before
 * @fn (which it reaches through clone_child, its arguments in the child's
 * copy of this frame). With CLONE_VM|CLONE_VFORK (and the parent's TLS) it
 * is a vfork: the child is marked as vfork() marks it; the parent, which
 * sleeps until the child execs or exits, restores the mark after. Threads
 * (CLONE_VM alone) are not ours to watch. */
struct clone_call {
	int (*fn)(void *);
	void *arg;
	bool locked;
};

static int clone_child(void *p)
{
	struct clone_call *c = p;
	mc_fork_child(c->locked);
	return c->fn(c->arg);
}

int mc_vfork_enter(void);

MC_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	static void *real;
	int (*next_clone)(int (*)(void *), void *, int, void *, ...) =
		(int (*)(int (*)(void *), void *, int, void *, ...))next(&real, "clone");
	/* The optional arguments, passed on whether given or not, as glibc's
	 * clone passes its registers to the kernel (which reads only those
	 * @flags ask for). */
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!next_clone) {
		errno = ENOSYS;
		return -1;
	}
	int r;
	if (!(flags & CLONE_VM) && fn) {
		struct clone_call c = { fn, arg, mc_fork_prepare() };
		r = next_clone(clone_child, stack, flags, &c, ptid, tls, ctid);
		int saved = errno;
		mc_fork_parent(c.locked);
		errno = saved;
	} else if ((flags & (CLONE_VM | CLONE_VFORK | CLONE_SETTLS)) == (CLONE_VM | CLONE_VFORK)) {
		int old = mc_vfork_enter();
		r = next_clone(fn, stack, flags, arg, ptid, tls, ctid);
		int saved = errno;
		mc_busy = old;
		errno = saved;
	} else {
		mc_note_clone((uint64_t)(unsigned)flags);
		r = next_clone(fn, stack, flags, arg, ptid, tls, ctid);
	}
	return r;
}

/* In a vfork() child (MC_BUSY_VFORK and nothing else: not one made from
 * inside our code, which may hold fd_lock) the sync runs without the
 * guard: it takes fd_lock as the parent thread would, and moves only what
 * the child shares with the parent anyway (the kernel offsets, kpos in the
 * shared slots); each fd is checked by device and inode first, as the
 * child's closes went unrecorded. */
void mc_exec_prepare(void)
{
	struct mc_guard g;
	if (mc_busy == MC_BUSY_VFORK) {
		mc_fd_sync_kernel_inherited();
	} else {
		mc_first_used_all();    /* a first open's pass: the kernel's offset set to ours */
		if (mc_enter(&g)) {
			mc_fd_sync_kernel_inherited();
			mc_leave(&g);
		}
	}
}

/* ---- vfork ----------------------------------------------------------------
 * Why assembly: the child returns from vfork() into the caller and goes on
 * calling functions on the same stack, overwriting everything below the
 * caller's frame, our own frame included; the parent then resumes inside
 * vfork(). So nothing may be kept on the stack across the system call
 * (glibc's vfork pops its return address into a register for the same
 * reason). Before it, mc_vfork_enter() marks this thread MC_BUSY_VFORK
 * and returns the old mark, kept in %esi (the kernel preserves it); the
 * child inherits the mark, and keeps it until it execs or exits; the
 * parent, once resumed, restores the old one (mc_vfork_leave). The mark is
 * per thread: the parent's other threads, which run on while the child
 * does, are not affected. Cost: two calls and a TLS store around the
 * system call; none elsewhere.
 *
 * Elsewhere than x86-64, vfork() is not wrapped (a vfork child's closes
 * then reach the parent's map, as before). */
__attribute__((used)) int mc_vfork_enter(void)
{
	/* A first open's pass (first.c) ends here, as at fork: its kernel
	 * offset set to ours, the rest the kernel's, so that nothing the child
	 * does (a close and a new file on that number, an exec) can reach it. */
	mc_first_used_all();
	int old = mc_busy;
	mc_busy = old | MC_BUSY_VFORK;
	return old;
}

__attribute__((used)) long mc_vfork_leave(long r, int old)
{
	mc_busy = old;
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#if defined(__x86_64__)
#define MC_STR_(x) #x
#define MC_STR(x) MC_STR_(x)
#ifdef __CET__
#define MC_ENDBR "endbr64\n"
/* With a shadow stack (shared with the parent) the child must not pop its
 * entry: glibc's vfork jumps back instead of returning, and so do we. */
#define MC_CHILD_RETURN                                                        \
	"xor %esi, %esi\n"                                                     \
	"rdsspq %rsi\n"                                                        \
	"test %rsi, %rsi\n"                                                    \
	"jz 2f\n"                                                              \
	"pop %rdi\n"                                                           \
	".cfi_adjust_cfa_offset -8\n"                                          \
	"jmp *%rdi\n"                                                          \
	".cfi_adjust_cfa_offset 8\n"                                           \
	"2:\n"                                                                 \
	"ret\n"
#else
#define MC_ENDBR ""
#define MC_CHILD_RETURN "ret\n"
#endif
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".p2align 4\n"
	"vfork:\n"
	".cfi_startproc\n"
	MC_ENDBR
	"sub $8, %rsp\n"                /* the stack aligned for the call */
	".cfi_adjust_cfa_offset 8\n"
	"call mc_vfork_enter\n"
	"add $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"mov %eax, %esi\n"              /* the old mark, kept in a register */
	"pop %rdi\n"                    /* the return address, likewise */
	".cfi_adjust_cfa_offset -8\n"
	".cfi_register %rip, %rdi\n"
	"mov $" MC_STR(SYS_vfork) ", %eax\n"
	"syscall\n"
	"push %rdi\n"                   /* the child may have overwritten it */
	".cfi_adjust_cfa_offset 8\n"
	".cfi_offset %rip, -8\n"
	"test %rax, %rax\n"
	"jnz 1f\n"
	MC_CHILD_RETURN                 /* the child: marked, as it returns */
	"1:\n"
	"mov %rax, %rdi\n"              /* the parent (or an error) */
	"sub $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"call mc_vfork_leave\n"
	"add $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n"
	".globl __vfork\n"
	".set __vfork, vfork\n");
#endif
