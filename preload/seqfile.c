/* seqfile.c: seq_file's read, emulated.
 *
 * The kernel renders whole records (lines) into a buffer of one page
 * (doubled for a record that does not fit: a line fits only if shorter than
 * the buffer) and copies from it; what a read() returns per call is part of
 * what a program can observe, so we reproduce it from the snapshot text:
 * the same bytes in the same pieces. See fs/seq_file.c: seq_read_iter(),
 * traverse().
 *
 * Cost: with a line index, a read that continues where the last one ended
 * finds the window's first line from a hint and its last by galloping
 * ahead (~log2 of the lines it covers: 4-5 steps for stdio's 1 KiB reads,
 * where two binary searches over 10,000 lines were 24% of a getline pass);
 * anywhere else, a binary search. Without an index, a memchr per line. */
#include <string.h>

#include "seqfile.h"

void mc_seq_init(struct mc_seq *q)
{
	q->kend = 0;
	q->bufsize = MC_SEQ_PAGE;
	q->kline = 0;
}

static size_t line_end(const struct mc_seq_text *t, size_t from)
{
	const char *nl = memchr(t->text + from, '\n', t->len - from);
	return nl ? (size_t)(nl - t->text) + 1 : t->len;
}

/* Walks the lines of a text from a line start: through the line index when
 * there is one (a memchr per line cost more than the copy: ~40 per page),
 * else through the text. */
struct cursor {
	const struct mc_seq_text *t;
	size_t i;                       /* with lines: the next line */
};

static void cursor_at(struct cursor *c, const struct mc_seq_text *t, size_t from, uint32_t hint)
{
	const uint32_t *lines = t->lines;
	c->t = t;
	c->i = 1;
	if (lines && hint >= 1 && hint <= lines[0] && lines[hint] == from) {
		c->i = (size_t)hint + 1;        /* line @hint ends at @from */
	} else if (lines && from > 0) { /* the first line that ends past @from */
		size_t lo = 1, hi = (size_t)lines[0] + 1;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (lines[mid] <= from)
				lo = mid + 1;
			else
				hi = mid;
		}
		c->i = lo;
	}
}

/* The end of the line that starts at @from, the cursor's next line. */
static size_t cursor_next(struct cursor *c, size_t from)
{
	const uint32_t *lines = c->t->lines;
	if (!lines)
		return line_end(c->t, from);
	return c->i <= lines[0] ? lines[c->i++] : c->t->len;
}

/* With a line index: the end of line @k (1-based), or the text's end for
 * a last line without '\n' (which the index may leave out). */
static size_t end_of(const struct mc_seq_text *t, size_t k)
{
	return k <= t->lines[0] ? t->lines[k] : t->len;
}

/* How many lines end in the text, such a last line included. */
static size_t ends_count(const struct mc_seq_text *t)
{
	size_t n = t->lines[0];
	return n + ((n == 0 ? t->len > 0 : t->lines[n] < t->len) ? 1 : 0);
}

/* The first k in [lo, n] whose line ends at least @x bytes past @at (all
 * of them end past @at), or n + 1: galloping from @lo (the answer is a few
 * lines on), then a binary search between the last two probes. */
static size_t first_end_from(const struct mc_seq_text *t, size_t lo, size_t n, size_t at, size_t x)
{
	size_t hi = lo, step = 1;
	while (hi <= n && end_of(t, hi) - at < x) {
		lo = hi + 1;
		hi += step;
		step <<= 1;
	}
	if (hi > n)
		hi = n + 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (end_of(t, mid) - at < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The window's end with a line index, where the walk below would stop:
 * after the first line (@k, ending at @first) come more while the bytes
 * so far are fewer than @remaining and the next line still ends inside
 * the buffer. One binary search instead of a step per line. */
static size_t window_end(const struct mc_seq_text *t, size_t k, size_t first, size_t at,
			 size_t remaining, size_t bufsize, size_t *ret_line)
{
	*ret_line = k;
	if (first - at >= remaining)
		return first;
	size_t n = ends_count(t);
	size_t x = remaining < bufsize ? remaining : bufsize;
	size_t f = first_end_from(t, k, n, at, x);       /* > k: first - at < x */
	if (f > n || end_of(t, f) - at >= bufsize)
		f--;                    /* the text's end, or a line past the buffer */
	*ret_line = f;
	return end_of(t, f);
}

static void fit(struct mc_seq *q, size_t record)
{
	while (record >= q->bufsize && q->bufsize < (1u << 30))
		q->bufsize <<= 1;
}

/* traverse(): render from the start up to @pos, which leaves the window
 * ending with the record that contains @pos. */
static void traverse(struct mc_seq *q, const struct mc_seq_text *t, int64_t pos)
{
	struct cursor c;
	size_t at = 0;

	q->kend = 0;
	if (pos == 0)
		return;
	cursor_at(&c, t, 0, 0);
	while (at < t->len) {
		size_t e = cursor_next(&c, at);
		fit(q, e - at);
		q->kend = (int64_t)e;
		if ((int64_t)e >= pos)
			return;
		at = e;
	}
}

size_t mc_seq_read(struct mc_seq *q, const struct mc_seq_text *t, int64_t pos, int64_t read_pos,
		   size_t want)
{
	struct cursor c;
	size_t copied = 0;

	if (pos == 0)
		q->kend = 0;
	if (pos != read_pos)
		traverse(q, t, pos);
	if (q->kend > pos) {                    /* the rest of the window first */
		size_t left = (size_t)(q->kend - pos);
		copied = left < want ? left : want;
		if (copied < left)
			return copied;
	}
	size_t at = (size_t)q->kend, remaining = want - copied;
	if (q->kend < pos || at >= t->len)
		return copied;                  /* end of file */
	cursor_at(&c, t, at, q->kline);
	size_t k = c.i, line = 0;
	size_t end = cursor_next(&c, at);       /* one record, whatever its size */
	fit(q, end - at);
	size_t count = end - at;
	if (t->lines) {
		end = window_end(t, k, end, at, remaining, q->bufsize, &line);
		count = end - at;
	} else {
		while (end < t->len && count < remaining) {
			size_t e = cursor_next(&c, end);
			if (count + (e - end) >= q->bufsize)
				break;
			count += e - end;
			end = e;
		}
	}
	q->kend = (int64_t)end;
	q->kline = (uint32_t)line;
	return copied + (count < remaining ? count : remaining);
}
