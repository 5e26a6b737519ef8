/* test_seqfile.c: the seq_file chunking rules (preload/seqfile.c), apart
 * from the hooks: whole lines into one page, a buffer doubled for a longer
 * line, the rest of a partly copied line first, a read at an offset other
 * than where the last one ended resuming inside the line that holds it.
 * Each rule is checked with and without a line index, and then against the
 * kernel itself: the same read sizes on /proc/self/mountinfo must come back
 * in the same pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "seqfile.h"

/* A text of @n lines, line i being lens[i % nlens] bytes with its '\n'. */
struct text {
	char *buf;
	size_t len;
	uint32_t *lines;
};

static void text_make(struct text *t, const size_t *lens, size_t nlens, size_t n, bool last_nl)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += lens[i % nlens];
	t->buf = malloc(len + 1);
	t->lines = malloc((n + 1) * sizeof *t->lines);
	assert_non_null(t->buf);
	assert_non_null(t->lines);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = lens[i % nlens];
		memset(t->buf + at, 'a' + (int)(i % 26), l - 1);
		t->buf[at + l - 1] = '\n';
		at += l;
		t->lines[i + 1] = (uint32_t)at;
	}
	t->lines[0] = (uint32_t)n;
	t->len = len;
	if (!last_nl) {                 /* no '\n' at the end: not a line end */
		t->len--;
		t->lines[0]--;
	}
}

static void text_free(struct text *t)
{
	free(t->buf);
	free(t->lines);
}

/* One description reading @t: pos and read_pos as ofd.c keeps them. */
struct reader {
	struct mc_seq q;
	struct mc_seq_text t;
	int64_t pos, read_pos;
};

static void reader_init(struct reader *r, const struct text *t, bool indexed)
{
	mc_seq_init(&r->q);
	r->t = (struct mc_seq_text){ t->buf, t->len, indexed ? t->lines : NULL };
	r->pos = 0;
	r->read_pos = 0;
}

static size_t rd(struct reader *r, size_t want)
{
	size_t n = mc_seq_read(&r->q, &r->t, r->pos, r->read_pos, want);
	assert_true(n <= want);
	assert_true((size_t)r->pos + n <= r->t.len || n == 0);
	if (n) {
		r->pos += (int64_t)n;
		r->read_pos = r->pos;
	}
	return n;
}

static void seek(struct reader *r, int64_t pos)
{
	r->pos = pos;                   /* read_pos stays: a seek breaks the pass */
}

static const bool modes[] = { false, true };

/* Whole lines, one page: 50-byte lines, a big buffer: 81 lines (4050 bytes,
 * 82 would reach 4096), then the remaining 19, then end of file. */
static void whole_lines_one_page(void **state)
{
	(void)state;
	size_t lens[] = { 50 };
	struct text t;
	text_make(&t, lens, 1, 100, true);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 65536), 4050);
		assert_int_equal(rd(&r, 65536), 950);
		assert_int_equal(rd(&r, 65536), 0);
		assert_int_equal(r.q.bufsize, MC_SEQ_PAGE);
	}
	text_free(&t);
}

/* A line of exactly a page does not fit one page (seq_file needs room for
 * one more byte): the buffer doubles. */
static void doubled_for_longer_line(void **state)
{
	(void)state;
	size_t lens[] = { 4096, 50, 50, 50 };
	struct text t;
	text_make(&t, lens, 4, 4, true);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 65536), 4096 + 150);
		assert_int_equal(r.q.bufsize, 2 * MC_SEQ_PAGE);
		assert_int_equal(rd(&r, 65536), 0);
	}
	text_free(&t);
	/* 4095 bytes fit one page alone, and nothing after it does. */
	size_t lens2[] = { 4095, 50 };
	text_make(&t, lens2, 2, 2, true);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 65536), 4095);
		assert_int_equal(r.q.bufsize, MC_SEQ_PAGE);
		assert_int_equal(rd(&r, 65536), 50);
	}
	text_free(&t);
}

/* A caller's buffer shorter than a line: the rest of the partly copied
 * line comes first, then the read is filled from the next lines. */
static void rest_of_line_first(void **state)
{
	(void)state;
	size_t lens[] = { 50 };
	struct text t;
	text_make(&t, lens, 1, 10, true);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		size_t total = 0, n;
		while ((n = rd(&r, 30)) > 0) {
			assert_true(n == 30 || total + n == t.len);
			total += n;
		}
		assert_int_equal(total, t.len);
		/* Rest of the window, then a read that stops inside it. */
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 10), 10);
		assert_int_equal(rd(&r, 20), 20);
		assert_int_equal(rd(&r, 4096), 20 + 9 * 50);
	}
	text_free(&t);
}

/* A read where the last one did not end re-renders up to it: the window
 * ends with the line holding that offset, which is copied from there. */
static void resume_at_offset(void **state)
{
	(void)state;
	size_t lens[] = { 50 };
	struct text t;
	text_make(&t, lens, 1, 100, true);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 65536), 4050);
		seek(&r, 75);
		assert_int_equal(rd(&r, 65536), 25 + 4050);
		seek(&r, 100);                  /* a line start: that line first */
		assert_int_equal(rd(&r, 65536), 4050);
		seek(&r, 0);                    /* offset 0 starts over */
		assert_int_equal(rd(&r, 65536), 4050);
		seek(&r, (int64_t)t.len + 7);   /* past the end */
		assert_int_equal(rd(&r, 65536), 0);
	}
	text_free(&t);
}

/* No '\n' at the end: the last piece is still returned, once. */
static void last_line_unterminated(void **state)
{
	(void)state;
	size_t lens[] = { 30 };
	struct text t;
	text_make(&t, lens, 1, 3, false);
	for (size_t m = 0; m < 2; m++) {
		struct reader r;
		reader_init(&r, &t, modes[m]);
		assert_int_equal(rd(&r, 65536), 89);
		assert_int_equal(rd(&r, 65536), 0);
	}
	text_free(&t);
}

/* The kernel's own pieces: read /proc/self/mountinfo with a pattern of
 * sizes and seeks, then replay it on the text. A table that changed while
 * we read (another process mounting) is retried, and skipped at worst. */
#define STEPS 64
static const size_t sizes[] = { 65536, 1, 100, 4095, 4096, 7, 3000, 65536, 200, 1024 };

static bool kernel_pieces(char *text, size_t cap, size_t *ret_len, size_t *got, int64_t *at)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY);
	if (fd < 0)
		return false;
	size_t len = 0;
	ssize_t n;
	char tmp[65536];
	while ((n = read(fd, tmp, sizeof tmp)) > 0 && len + (size_t)n <= cap) {
		memcpy(text + len, tmp, (size_t)n);
		len += (size_t)n;
	}
	int64_t pos = 0;
	for (int i = 0; i < STEPS; i++) {
		if (i % 9 == 8)                 /* a seek into the text */
			pos = (int64_t)(((size_t)i * 977) % (len + 1));
		if (i == 0 || i % 9 == 8)
			lseek(fd, pos, SEEK_SET);
		at[i] = pos;
		n = read(fd, tmp, sizes[i % 10]);
		got[i] = n < 0 ? 0 : (size_t)n;
		pos += n > 0 ? n : 0;
	}
	/* The same table at the end? */
	lseek(fd, 0, SEEK_SET);
	size_t len2 = 0;
	bool same = true;
	while ((n = read(fd, tmp, sizeof tmp)) > 0) {
		if (len2 + (size_t)n > len || memcmp(text + len2, tmp, (size_t)n) != 0)
			same = false;
		len2 += (size_t)n;
	}
	close(fd);
	*ret_len = len;
	return same && len2 == len;
}

static void agrees_with_kernel(void **state)
{
	(void)state;
	size_t cap = 64 << 20, len = 0;
	char *text = malloc(cap);
	size_t got[STEPS];
	int64_t at[STEPS];
	assert_non_null(text);
	int tries = 0;
	while (!kernel_pieces(text, cap, &len, got, at))
		if (++tries == 5) {
			free(text);
			skip();
		}
	struct text t = { text, len, NULL };
	struct reader r;
	reader_init(&r, &t, false);
	for (int i = 0; i < STEPS; i++) {
		if (at[i] != r.pos)
			seek(&r, at[i]);
		size_t n = rd(&r, sizes[i % 10]);
		if (n != got[i])
			print_error("step %d at %lld: kernel %zu, emulation %zu\n", i, (long long)at[i], got[i], n);
		assert_int_equal(n, got[i]);
	}
	free(text);
}

/* The line index only saves the walk: an indexed reader and one that finds
 * the lines with memchr return the same pieces and keep the same window,
 * whatever the read sizes, seeks, line lengths (some past one page) and
 * last line. */
static void index_agrees_with_walk(void **state)
{
	static const size_t lens[] = { 1, 2, 50, 90, 91, 200, 1000, 4095, 4096, 4097, 9000, 77 };
	uint64_t rng = 88172645463325252ull;
	(void)state;
	for (int round = 0; round < 40; round++) {
		size_t pick[16], n = 1 + round * 37 % 400;
		for (size_t i = 0; i < 16; i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			/* mostly short lines, a few long ones */
			pick[i] = rng % 8 ? 1 + rng / 8 % 120 : lens[rng / 8 % 12];
		}
		struct text t;
		text_make(&t, pick, 16, n, round % 3 != 0);
		struct reader a, b;
		reader_init(&a, &t, true);
		reader_init(&b, &t, false);
		for (int step = 0; step < 400; step++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			if (rng % 23 == 0) {            /* a seek, anywhere */
				int64_t to = (int64_t)(rng / 23 % (t.len + 10));
				seek(&a, to);
				seek(&b, to);
			}
			size_t want = rng % 5 == 0 ? 1 + rng / 5 % 20 : 1 + rng / 5 % 9000;
			size_t na = rd(&a, want), nb = rd(&b, want);
			if (na != nb || a.q.kend != b.q.kend || a.q.bufsize != b.q.bufsize)
				fail_msg("round %d step %d want %zu: indexed %zu kend %lld, walk %zu kend %lld",
					 round, step, want, na, (long long)a.q.kend, nb, (long long)b.q.kend);
			if (na == 0 && rng % 2) {
				seek(&a, 0);
				seek(&b, 0);
			}
		}
		text_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_lines_one_page),
		cmocka_unit_test(doubled_for_longer_line),
		cmocka_unit_test(rest_of_line_first),
		cmocka_unit_test(resume_at_offset),
		cmocka_unit_test(last_line_unterminated),
		cmocka_unit_test(agrees_with_kernel),
		cmocka_unit_test(index_agrees_with_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
