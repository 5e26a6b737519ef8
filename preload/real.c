/* real.c: the next definition of every function we interpose.
 *
 * Resolved once, on first use from any wrapper (another library's
 * constructor may call open() before ours runs). dlsym() may itself call
 * back into a wrapper (through malloc or a debugging allocator); that thread
 * then finds the table incomplete and the wrappers fall back to raw system
 * calls (see hooks.c), so nothing ever waits on itself. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

struct mc_real mc_real;
bool mc_disabled;
__thread int mc_busy;

static int init_state;                  /* 0 none, 1 running, 2 done; atomic */
static __thread bool initialising;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void) { mc_ofd_atfork_prepare(); }
static void atfork_parent(void) { mc_ofd_atfork_parent(); }
static void atfork_child(void) { mc_ofd_atfork_child(); }

#define RESOLVE(name) mc_real.name = dlsym(RTLD_NEXT, #name)

static void do_init(void)
{
	initialising = true;
	__atomic_store_n(&init_state, 1, __ATOMIC_RELEASE);
	mc_debug_init();
	mc_config_init();
	const char *off = getenv("MOUNTCACHE_DISABLE");
	mc_disabled = off && *off && strcmp(off, "0") != 0;

	RESOLVE(open); RESOLVE(open64); RESOLVE(openat); RESOLVE(openat64);
	RESOLVE(__open_2); RESOLVE(__open64_2); RESOLVE(__openat_2); RESOLVE(__openat64_2);
	RESOLVE(read); RESOLVE(__read_chk); RESOLVE(pread); RESOLVE(pread64);
	RESOLVE(__pread_chk); RESOLVE(__pread64_chk); RESOLVE(readv); RESOLVE(preadv);
	RESOLVE(preadv64); RESOLVE(preadv2); RESOLVE(preadv64v2);
	RESOLVE(lseek); RESOLVE(lseek64); RESOLVE(close); RESOLVE(close_range);
	RESOLVE(closefrom); RESOLVE(dup); RESOLVE(dup2); RESOLVE(dup3);
	RESOLVE(fcntl); RESOLVE(fcntl64);
	RESOLVE(fopen); RESOLVE(fopen64); RESOLVE(freopen); RESOLVE(freopen64); RESOLVE(fdopen);
	RESOLVE(setmntent); RESOLVE(getmntent); RESOLVE(getmntent_r); RESOLVE(__getmntent_r);
	RESOLVE(endmntent);
	RESOLVE(mount); RESOLVE(umount); RESOLVE(umount2); RESOLVE(mount_setattr);
	RESOLVE(move_mount); RESOLVE(setns); RESOLVE(unshare); RESOLVE(chroot);
	RESOLVE(execve); RESOLVE(execv); RESOLVE(execvp); RESOLVE(execvpe); RESOLVE(fexecve);
	RESOLVE(posix_spawn); RESOLVE(posix_spawnp); RESOLVE(system); RESOLVE(popen);
	RESOLVE(sendfile); RESOLVE(sendfile64); RESOLVE(splice); RESOLVE(copy_file_range);

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

__attribute__((constructor)) static void mc_preload_ctor(void)
{
	mc_preload_init();
}
