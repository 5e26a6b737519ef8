/* ofd.h: the preload's open file descriptions, shared by the files that
 * keep them (slot.c, fdmap.c) and those that read through them (ofd.c,
 * getmntent.c, kpos.c). Not for hooks.c: it uses preload.h only. */
#ifndef MC_OFD_H
#define MC_OFD_H

#include "preload.h"
#include "seqfile.h"

/* ---- slot.c: the shared part of a description ---------------------------
 * The kernel keeps one file position per open file description, shared by
 * every fd that dup() made and by parent and child after fork(). So do we:
 * each description has a slot in MAP_SHARED memory. */
struct mc_slot {
	int owner;                      /* lock: 0 free, else the holder's pid */
	int64_t pos;
	int64_t read_pos;               /* where the last read ended, or -1 */
	struct mc_seq seq;              /* seq_file's window and buffer size */
	int64_t kpos;                   /* kernel offset we set for exec, or -1 */
	int32_t kernel_pass;            /* the last read was the kernel's */
	uint64_t gen;                   /* of the snapshot the offsets refer to */
	int refs;                       /* processes holding it, atomic */
	int forked;                     /* a fork() may have shared it */
} __attribute__((aligned(128)));

/* A fresh slot (offsets 0, one reference), or NULL. Under fd_lock. */
struct mc_slot *mc_slot_alloc(void);
/* Drop this process's reference; the last one frees the slot. */
void mc_slot_put(struct mc_slot *s);
/* Inline: the getmntent hit path takes it once per entry (slot.c says
 * why a word and not a mutex). */
void mc_slot_lock_slow(struct mc_slot *s, int me);
static inline void mc_slot_lock(struct mc_slot *s)
{
	int me = mc_pid();
	int free_ = 0;
	if (likely(__atomic_compare_exchange_n(&s->owner, &free_, me, false,
					       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
		return;
	mc_slot_lock_slow(s, me);
}
static inline void mc_slot_unlock(struct mc_slot *s)
{
	__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}
/* For the per-line hit paths (getline, getmntent): the lock, or nothing
 * when nobody else can take it: the process has one thread (glibc's
 * __libc_single_threaded) and no fork() has happened since the slot was
 * made (a child shares the slot; fork.c marks every slot before one, and
 * only this thread could fork). The atomic was half of a line's cost.
 * Returns whether it locked, for mc_slot_unlock_hot(). */
static inline bool mc_slot_lock_hot(struct mc_slot *s)
{
	if (mc_one_thread() && !__atomic_load_n(&s->forked, __ATOMIC_RELAXED))
		return false;
	mc_slot_lock(s);
	return true;
}
static inline void mc_slot_unlock_hot(struct mc_slot *s, bool locked)
{
	if (locked)
		mc_slot_unlock(s);
}

/* ---- fdmap.c: descriptions, and which fd numbers hold them -------------- */
struct mc_ofd {
	int refs;                       /* fds and FILEs here; under fd_lock */
	struct mc_slot *slot;
	struct mc_view *view;
	enum mc_format fmt;
	dev_t dev;
	ino_t ino;
	blksize_t blksize;              /* st_blksize at open, for stdio */
	int id_fresh;                   /* identity just checked at open: the
					 * first pass needs no check; atomic */
	struct mc_snap *snap;           /* under slot->lock */
	/* getmntent's cursor in o->snap's image, under slot->lock: the next
	 * entry and the image's end, the text and the snapshot's gen, so that
	 * an entry is one step from o and not four (o->snap, its image, the
	 * image's array, the entry). NULL until getmntent_slow() sets it;
	 * cleared whenever o->snap changes. */
	const struct mc_ment *ment, *ment_end;
	const char *ment_text;
	uint64_t ment_gen;
	FILE *fp;
	struct mc_ofd *all_next;        /* every live description, for fork;
					 * the pool's free list when free */
};

/* @fn(fd, o) for every fd that holds a description, with the map locked
 * (@fn must not call back into the map). */
void mc_fd_each(void (*fn)(int fd, struct mc_ofd *o));

/* ---- ofd.c: reading ---------------------------------------------------- */
/* With slot->lock held: does a read at @pos continue the pass o->snap
 * serves (no snapshot to take, nothing that may block)? */
static inline bool mc_ofd_continues(const struct mc_ofd *o, int64_t pos)
{
	return o->snap && o->slot->gen == o->snap->gen && pos != 0 && pos == o->slot->read_pos;
}
/* With slot->lock held: is a sequential read at @pos the rest of a pass
 * the kernel began (no snapshot could be had at its start)? It stays the
 * kernel's: one pass never mixes the kernel's bytes with a snapshot's. */
static inline bool mc_slot_in_kernel_pass(const struct mc_slot *s, int64_t pos)
{
	return s->kernel_pass && pos != 0 && pos == s->kpos;
}
/* With slot->lock held: make o->snap the snapshot a read at @pos must see.
 * Returns 0, or <0 when no snapshot can be had. */
int mc_ofd_settle(struct mc_ofd *o, int64_t pos);

/* ---- kpos.c: the kernel's own offset -------------------------------------
 * With slot->lock held, for descriptions another program may now share:
 * if that program moved the kernel's offset, ours follows. */
void mc_slot_follow_kernel(struct mc_slot *s, int fd);

#endif
