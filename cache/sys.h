/* sys.h: raw system calls for the engine (see mc.h for why). */
#ifndef MC_SYS_H
#define MC_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int mc_sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}
static inline ssize_t mc_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}
static inline off_t mc_sys_lseek(int fd, off_t off, int whence)
{
	return syscall(SYS_lseek, fd, off, whence);
}
static inline int mc_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}
static inline int mc_sys_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static inline int mc_sys_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}
#endif
