/* stackdepth: how deep into the stack one open() + read() + close() of PATH
 * reaches, in bytes below the caller's frame.
 *
 *   stackdepth PATH
 *
 * Prints `depth=N`. Run bare and with LD_PRELOAD, the difference is the
 * stack the preload's hooks use on that path. In a fresh process each new
 * stack page is a page fault (~12 us on this project's machine kind, ten
 * system calls), so the hooks' frames are a cost a test can count the same
 * on every machine (tests/e2e/syscalls.sh).
 *
 * How: a region below our frame is painted with a pattern, the calls run
 * (their frames land in it), and the lowest byte that no longer holds the
 * pattern tells the depth. The top GAP bytes are left unpainted (the
 * painting loop's own frame lives there): a depth under GAP reads as GAP.
 *
 * Exit: 0; 1 the open failed; 2 usage. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define SPAN (256 * 1024)
#define GAP 1024
#define PATTERN 0xa5

static __attribute__((noinline)) void paint(volatile unsigned char *lo, volatile unsigned char *hi)
{
	for (volatile unsigned char *p = lo; p < hi; p++)
		*p = PATTERN;
}

static __attribute__((noinline)) size_t lowest_touched(volatile unsigned char *lo,
						       volatile unsigned char *hi)
{
	for (volatile unsigned char *p = lo; p < hi; p++)
		if (*p != PATTERN)
			return (size_t)(hi - p);
	return 0;
}

static __attribute__((noinline)) int calls(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: stackdepth PATH\n");
		return 2;
	}
	/* Our frame's bottom, give or take main's locals: the reference. */
	volatile unsigned char *top = (volatile unsigned char *)__builtin_frame_address(0) - 256;
	volatile unsigned char *hi = top - GAP, *lo = top - SPAN;

	paint(lo, hi);
	int r = calls(argv[1]);
	size_t below = lowest_touched(lo, hi);
	printf("depth=%zu\n", below ? below + GAP : (size_t)GAP);
	return r < 0 ? 1 : 0;
}
