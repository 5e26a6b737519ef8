/* sys.h: raw system calls for the engine (see mc.h for why). */
#ifndef MC_SYS_H
#define MC_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
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

/* statx(2)'s 64-bit unique mount id (Linux 6.8); Debian 12's headers
 * predate it. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

/* listmount(2) (Linux 6.8+): no glibc wrapper, and Debian 12's uapi headers
 * lack it; the ABI is include/uapi/linux/mount.h's. Returns how many ids
 * it stored (at most @n), or -errno (-ENOSYS on older kernels). */
#define MC_NR_listmount 458
#define MC_LSMT_ROOT UINT64_MAX
#define MC_MNT_ID_REQ_SIZE_VER0 24

struct mc_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;              /* statmount: mask; listmount: last id */
	uint64_t mnt_ns_id;
};

static inline long mc_sys_listmount(uint64_t after, uint64_t *ids, size_t n)
{
	struct mc_mnt_id_req req = {
		.size = MC_MNT_ID_REQ_SIZE_VER0,
		.mnt_id = MC_LSMT_ROOT,
		.param = after,
	};
	long r = syscall(MC_NR_listmount, &req, ids, n, 0);
	return r < 0 ? -errno : r;
}

/* statmount(2) (Linux 6.8+), same ABI source: the fields of @mask about
 * the mount with unique id @id into @buf (struct mc_statmount, mc.h).
 * Returns 0 or -errno (-EOVERFLOW: @buf too small). */
#define MC_NR_statmount 457

static inline int mc_sys_statmount(uint64_t id, uint64_t mask, void *buf, size_t size)
{
	struct mc_mnt_id_req req = {
		.size = MC_MNT_ID_REQ_SIZE_VER0,
		.mnt_id = id,
		.param = mask,
	};
	return syscall(MC_NR_statmount, &req, buf, size, 0) < 0 ? -errno : 0;
}
#endif
