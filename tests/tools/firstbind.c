/* firstbind: a fresh process's first open + read(4 KiB) + close of a
 * mount table, between two lines it writes to stderr, for LD_DEBUG=bindings:
 * which library functions the preload binds in that window
 * (tests/e2e/syscalls.sh). Exit 0 when the read returned bytes. */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[4096];
	static const char begin[] = "firstbind: begin\n", end[] = "firstbind: end\n";
	const char *path = argc > 1 ? argv[1] : "/proc/self/mountinfo";

	if (write(2, begin, sizeof begin - 1) < 0)
		return 2;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
	if (fd >= 0)
		close(fd);
	if (write(2, end, sizeof end - 1) < 0)
		return 2;
	return n > 0 ? 0 : 1;
}
