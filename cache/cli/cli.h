/* cli.h: what the CLI's files share. cli.c: main and the commands that ask
 * the mount table; enable.c: enable, disable, status; common.c: what both
 * use (so that neither uses the other's symbols, but main its commands). */
#ifndef MC_CLI_H
#define MC_CLI_H

#include <stdio.h>

/* common.c */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_error(const char *fmt, const char *arg);
/* The preload this CLI goes with (malloc'd real path), or NULL. */
char *find_preload(void);
/* The daemon's counters on f. Returns: <0 -errno, the daemon does not
 * answer; 0 printed (f NULL: only asked). */
int print_daemon_stats(FILE *f);

/* enable.c */
int cmd_enable(int argc, char **argv);
int cmd_disable(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
