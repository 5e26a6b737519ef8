/* path.h: which paths name a mount table (pure string work, no syscalls). */
#ifndef MC_PATH_H
#define MC_PATH_H

#include <stdbool.h>
#include "mc.h"

enum mc_path_who {
	MC_WHO_SELF,          /* /proc/self, /proc/mounts */
	MC_WHO_THREAD,        /* /proc/thread-self */
	MC_WHO_PID,           /* /proc/<pid> */
	MC_WHO_TASK,          /* /proc/<pid or self>/task/<tid> */
	MC_WHO_MTAB,          /* /etc/mtab: the caller must resolve the link */
};

struct mc_path {
	enum mc_path_who who;
	enum mc_format fmt;
	int pid;              /* MC_WHO_PID, MC_WHO_TASK (0 for self) */
	int tid;              /* MC_WHO_TASK */
};

/* Cheap test for the hot path: can @path (any spelling) name a mount table?
 * False means certainly not. */
bool mc_path_maybe(const char *path);
/* Classify an absolute @path after lexical normalisation ("//", "/./", and
 * ".." only after components known not to be symlinks elsewhere than in
 * /proc). Returns true and fills @ret for a mount table path. */
bool mc_path_classify(const char *path, struct mc_path *ret);

#endif
