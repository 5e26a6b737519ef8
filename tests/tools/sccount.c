/* sccount: the reading loops whose system calls tests/e2e/syscalls.sh
 * counts. Each cycle is framed by two getppid() calls, which nothing else
 * in the process makes: strace's output between them is the cycle's cost.
 *
 *   sccount MODE CYCLES [PATH]
 *   MODE: read      open + read(64 KiB) to EOF + close
 *         head      open + one read(4 KiB) + close (a reader that stops)
 *         getline   fopen + getline to EOF + fclose
 *         getmntent setmntent + getmntent to the end + endmntent
 * Prints, per cycle, the number of read()s, lines or entries it took, so
 * that a count can be judged per call. */
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];
static char *line;
static size_t line_cap;

static long cycle(const char *mode, const char *path)
{
	long n = 0;

	if (strcmp(mode, "read") == 0 || strcmp(mode, "head") == 0) {
		size_t want = mode[0] == 'h' ? 4096 : sizeof buf;
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		while (read(fd, buf, want) > 0 && ++n && mode[0] != 'h')
			;
		close(fd);
	} else if (strcmp(mode, "getline") == 0) {
		FILE *f = fopen(path, "r");
		if (!f)
			return -1;
		while (getline(&line, &line_cap, f) > 0)
			n++;
		fclose(f);
	} else if (strcmp(mode, "getmntent") == 0) {
		FILE *f = setmntent(path, "r");
		if (!f)
			return -1;
		while (getmntent(f))
			n++;
		endmntent(f);
	} else {
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sccount read|head|getline|getmntent CYCLES [PATH]\n");
		return 2;
	}
	const char *mode = argv[1];
	int cycles = atoi(argv[2]);
	const char *path = argc > 3 ? argv[3]
			   : strcmp(mode, "getmntent") == 0 ? "/proc/self/mounts"
							    : "/proc/self/mountinfo";
	long counts[64];
	if (cycles < 1 || cycles > 64)
		return 2;
	for (int i = 0; i < cycles; i++) {
		getppid();
		counts[i] = cycle(mode, path);
		getppid();
		if (counts[i] < 0) {
			perror(path);
			return 1;
		}
	}
	for (int i = 0; i < cycles; i++)
		printf("%ld%c", counts[i], i + 1 < cycles ? ' ' : '\n');
	return 0;
}
