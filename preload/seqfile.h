/* seqfile.h: the kernel's seq_file read() chunking, emulated over a text.
 *
 * Pure: no system call, no lock, no global state; the caller keeps the
 * state per open file description (in the shared slot) and serialises it.
 * tests/test_seqfile.c checks the rules against a model of seq_read_iter(). */
#ifndef MC_SEQFILE_H
#define MC_SEQFILE_H

#include <stddef.h>
#include <stdint.h>

#define MC_SEQ_PAGE 4096

/* What seq_file keeps between reads of one description. */
struct mc_seq {
	int64_t kend;                   /* end of the rendered window: bytes in
					 * [pos, kend) are rendered, not copied */
	uint32_t bufsize;               /* its buffer: one page, doubled for a
					 * line that does not fit */
	uint32_t kline;                 /* a hint: the line index's number of the
					 * line ending at kend (checked before use) */
};

/* The text served, with its line index when it has one: lines[0] is the
 * count n, lines[1..n] the offset just past each line's '\n' (NULL: the
 * lines are found with memchr). */
struct mc_seq_text {
	const char *text;
	size_t len;
	const uint32_t *lines;
};

/* A new description: nothing rendered, one page of buffer. */
void mc_seq_init(struct mc_seq *q);

/* How many bytes from @pos one read() of @want bytes returns, as the kernel
 * would: the rest of the rendered window first (a partly copied line), then
 * whole lines while they fit in the buffer (at least one, the buffer doubled
 * until it fits). @read_pos is where the previous read ended: a read
 * anywhere else re-renders from the start up to @pos, as traverse() does.
 * Updates @q. Never more than @len - @pos; 0 at or past the end. */
size_t mc_seq_read(struct mc_seq *q, const struct mc_seq_text *t, int64_t pos, int64_t read_pos,
		   size_t want);

#endif
