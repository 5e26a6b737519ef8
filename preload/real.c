/* real.c: the next definition of every function we interpose.
 *
 * Each is looked up on first use (REAL() in preload.h), from any wrapper:
 * another library's constructor may call open() before ours runs. Where a
 * lookup fails (or dlsym calls back into a wrapper first), the syscall-level
 * wrappers fall back to raw system calls (see hooks.c). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "preload.h"

struct mc_real mc_real;
bool mc_disabled;
/* Initial-exec: every hook tests it, and a preloaded library is in the
 * static TLS block, so one %fs-relative load instead of __tls_get_addr(). */
__thread int mc_busy __attribute__((tls_model("initial-exec")));

static int init_state;                  /* 0 none, 1 running, 2 done; atomic */
static __thread bool initialising;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The steps around every fork-like call (preload.h). Under the recursion
 * guard: a signal handler that closes a served fd between _prepare and
 * _parent must not wait for the fd_lock this thread holds. A fork from
 * inside our code (a handler that interrupted a hook) takes nothing, and
 * its child is not counted in the slots: it is left as a _Fork child was
 * before (no handler can do better there). */
static __thread struct mc_guard fork_guard;

/* Steps of files above this one (first.c), registered at start-up: taken
 * after our locks, released before them. A pointer, not a call, so that
 * this file depends on nothing above it. */
static void (*more_prepare)(void), (*more_parent)(void), (*more_child)(void);

void mc_fork_also(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	more_prepare = prepare;
	more_parent = parent;
	more_child = child;
}

bool mc_fork_prepare(void)
{
	if (!mc_enter(&fork_guard)) {
		/* Inside our code (a signal handler forks): slots cannot be
		 * marked, so every hit path locks from now on. */
		__atomic_store_n(&mc_lock_always, true, __ATOMIC_RELAXED);
		return false;
	}
	mc_ofd_atfork_prepare();
	if (more_prepare)
		more_prepare();
	return true;
}

void mc_fork_parent(bool locked)
{
	if (locked) {
		if (more_parent)
			more_parent();
		mc_ofd_atfork_parent();
		mc_leave(&fork_guard);
	}
}

void mc_fork_child(bool locked)
{
	if (locked) {
		if (more_child)
			more_child();
		mc_ofd_atfork_child();
		mc_leave(&fork_guard);
	}
}

/* fork()'s handlers: whether _prepare took our locks is kept per thread
 * until _parent or _child. */
static __thread bool atfork_locked;
static void atfork_prepare(void) { atfork_locked = mc_fork_prepare(); }
static void atfork_parent(void) { mc_fork_parent(atfork_locked); }
static void atfork_child(void) { mc_fork_child(atfork_locked); }

void *mc_resolve(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void do_init(void)
{
	initialising = true;
	__atomic_store_n(&init_state, 1, __ATOMIC_RELEASE);
	mc_debug_init();
	mc_config_init();
	const char *off = secure_getenv("MOUNTCACHE_DISABLE");
	mc_disabled = off && *off && strcmp(off, "0") != 0;
	/* Every close and dup of the process passes our hooks (fdmap.c):
	 * the views may trust their own fds without an fstat() per use. */
	mc_fds_watched = true;

	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	MC_DEBUG("preload ready%s", mc_disabled ? " (disabled)" : "");
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
	initialising = false;
}

void mc_preload_init(void)
{
	if (likely(__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2) || initialising)
		return;
	pthread_once(&once, do_init);
}

/* open, read and close are looked up here, not on first use as the rest:
 * every hook of theirs needs them (any file the program opens, not only a
 * mount table), so nearly every process pays these three lookups (~2 us,
 * the first dlsym() being the dear one) in its first open() anyway, and a
 * program whose first open is of a mount table (a short one, reading once)
 * should not have its read measured with them in it. A process that never
 * opens a file pays them for nothing. */
__attribute__((constructor)) static void mc_preload_ctor(void)
{
	/* strlen() too, for the same reason: every open() of the process
	 * asks mc_path_maybe(), which calls it, and its first call binds it
	 * (~800 instructions). */
	static const char *volatile any = "";

	mc_preload_init();
	(void)REAL(open);
	(void)REAL(read);
	(void)REAL(close);
	(void)mc_path_maybe(any);
}
