/* slot.c: the shared slots of served descriptions, and their lock.
 *
 * A slot holds what the kernel keeps per open file description (the file
 * position, seq_file's window) in MAP_SHARED memory, so that dup()ed fds
 * and the processes fork() makes share it as they share the kernel's.
 * Slots come 31 to a page; a page is mapped when all are taken and never
 * unmapped (a child may still hold slots in it). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ofd.h"

#define SLOTS_PER_PAGE 31
struct slot_page {
	uint32_t used;                  /* bitmap, atomic, shared */
	struct slot_page *next;         /* private list (same value in a child) */
	struct mc_slot slots[SLOTS_PER_PAGE];
};

_Static_assert(sizeof(struct slot_page) <= 4096, "slot page fits a page");
static struct slot_page *pages;        /* guarded by fd_lock (fdmap.c) */

/* preload.h: set for good once slots or our locks may be shared in a way
 * we cannot see. Here, at the bottom of the preload's layers, because
 * every lock that mc_one_thread() lets go is read against it (fdmap.c,
 * first.c, the slots') and real.c, which sets it, sits above them. */
bool mc_lock_always;

struct mc_slot *mc_slot_alloc(void)
{
	for (struct slot_page *p = pages; ; p = p->next) {
		if (!p) {
			p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return NULL;
			p->next = pages;
			pages = p;
		}
		uint32_t used = __atomic_load_n(&p->used, __ATOMIC_ACQUIRE);
		while (used != (1u << SLOTS_PER_PAGE) - 1) {
			int i = __builtin_ctz(~used);
			if (__atomic_compare_exchange_n(&p->used, &used, used | 1u << i, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				struct mc_slot *s = &p->slots[i];
				s->owner = 0;
				s->pos = s->read_pos = 0;
				mc_seq_init(&s->seq);
				s->kpos = -1;
				s->kernel_pass = 0;
				s->gen = 0;
				s->refs = 1;
				s->forked = 0;
				return s;
			}
		}
	}
}

void mc_slot_put(struct mc_slot *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	struct slot_page *p = (struct slot_page *)((uintptr_t)s & ~(uintptr_t)4095);
	int i = (int)(s - p->slots);
	__atomic_and_fetch(&p->used, ~(1u << i), __ATOMIC_RELEASE);
}

/* The slot lock is one word in the shared page: a compare-and-swap when
 * free (the getmntent hit path takes it once per entry, so a robust pthread
 * mutex, ~35 ns, would cost more than the rest of the entry). Held only
 * while copying from memory. A holder that died (SIGKILL mid-read) is
 * recognised by its pid and its lock taken over: it left the offsets as
 * they were after its last complete update, still coherent. */
void mc_slot_lock_slow(struct mc_slot *s, int me)
{
	int saved = errno;      /* kill() below: a getmntent that succeeds keeps errno */
	for (unsigned spins = 1; ; spins++) {
		int owner = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
		if (owner == 0) {
			if (__atomic_compare_exchange_n(&s->owner, &owner, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				break;
		} else if (spins % 64 == 0 && owner != me && kill(owner, 0) < 0 && errno == ESRCH) {
			if (__atomic_compare_exchange_n(&s->owner, &owner, me, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				break;
		}
		sched_yield();
	}
	errno = saved;
}

