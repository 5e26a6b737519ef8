/* api_path.c: the path rules of the public API.
 *
 * Mount points in the table are canonical absolute paths (the kernel's
 * d_path relative to our root), so a caller's path is compared with them
 * only after realpath(3), and containment is decided by whole components. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mc.h"
#include "apiP.h"

int mc_api_path_check(const char *path, bool need_absolute)
{
	if (!path || !path[0])
		return -EINVAL;
	/* The API takes a C string: the bound makes an unterminated or absurd
	 * argument an error instead of a read past its end. */
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (need_absolute && path[0] != '/')
		return -EINVAL;
	return 0;
}

bool mc_api_path_under(const char *target, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return target[0] == '/';
	return strncmp(target, dir, n) == 0 && (target[n] == '\0' || target[n] == '/');
}

int mc_api_path_canon(const char *path, char **ret_canon)
{
	char *c = realpath(path, NULL);

	if (!c)
		return errno ? -errno : -ENOENT;
	*ret_canon = c;
	return 0;
}
