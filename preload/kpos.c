/* kpos.c: the kernel's own file position of a served fd.
 *
 * We never read through the program's fd, so the kernel's offset stays at
 * 0. Nothing shows that (the program reads through us) except: a program
 * exec'd with the fd, sendfile/splice/copy_file_range (the kernel reads it
 * directly), and /proc/self/fdinfo. Before the first two we move the
 * kernel's offset to ours (seq_lseek renders up to it: a read's cost, but
 * only then); after sendfile & co. we take the kernel's offset back. */
#include <fcntl.h>

#include "ofd.h"

static void sync_one(int fd, struct mc_ofd *o)
{
	int64_t pos = __atomic_load_n(&o->slot->pos, __ATOMIC_ACQUIRE);
	if (mc_ofd_check_fd(o, fd) && mc_sys_lseek(fd, pos, SEEK_SET) == pos)
		__atomic_store_n(&o->slot->kpos, pos, __ATOMIC_RELEASE);
}

/* Costs nothing until we set a kernel offset for an exec (kpos >= 0): then
 * one lseek per read, for as long as the description may be shared with
 * another program. */
void mc_slot_follow_kernel(struct mc_slot *s, int fd)
{
	if (likely(s->kpos < 0))
		return;
	off_t k = mc_sys_lseek(fd, 0, SEEK_CUR);
	if (k >= 0 && k != s->kpos) {
		s->pos = s->kpos = k;
		s->read_pos = -1;
	}
}

void mc_fd_sync_kernel(int fd)
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (o) {
		sync_one(fd, o);
		mc_ofd_put(o);
	}
}

void mc_fd_adopt_kernel(int fd)
{
	struct mc_ofd *o = mc_fd_get(fd);
	if (!o)
		return;
	off_t k = mc_sys_lseek(fd, 0, SEEK_CUR);
	if (k >= 0 && mc_ofd_check_fd(o, fd)) {
		mc_slot_lock(o->slot);
		o->slot->pos = k;
		o->slot->read_pos = -1;         /* our window is not the kernel's */
		mc_slot_unlock(o->slot);
	}
	mc_ofd_put(o);
}

static void sync_if_inherited(int fd, struct mc_ofd *o)
{
	if (!(mc_sys_fcntl(fd, F_GETFD, 0) & FD_CLOEXEC))
		sync_one(fd, o);
}

void mc_fd_sync_kernel_inherited(void)
{
	mc_fd_each(sync_if_inherited);
}
