/* test_pagehash.c: the hash of a fresh process's first read
 * (preload/pagehash.c), on which check (b) of first.c rests: the daemon's
 * snapshot continues a pass the kernel began only if its first bytes hash
 * the same. Every one-bit change of a page, and of every length up to
 * three blocks, must change the hash; so must the length (a trailing zero
 * byte) and the key; and the same bytes must hash the same wherever they
 * lie in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pagehash.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)                      /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n + 16);
	assert_non_null(p);
	for (size_t i = 0; i < n + 16; i++)
		p[i] = (unsigned char)next();
	return p;
}

/* Every one-bit change of @len bytes changes the hash. */
static void check_bits(const uint64_t key[2], unsigned char *p, size_t len)
{
	uint64_t base = mc_pagehash(key, p, len);
	for (size_t bit = 0; bit < len * 8; bit++) {
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		uint64_t h = mc_pagehash(key, p, len);
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		assert_true(h != base);
	}
	assert_true(mc_pagehash(key, p, len) == base);
}

static void every_bit_of_a_page(void **state)
{
	(void)state;
	uint64_t key[2] = { next(), next() };
	unsigned char *p = random_bytes(4070);
	check_bits(key, p, 4070);
	free(p);
}

/* The tail (len % 8) is packed apart from the 8-byte words: every length
 * around it. */
static void every_bit_of_short_inputs(void **state)
{
	(void)state;
	uint64_t key[2] = { next(), next() };
	unsigned char *p = random_bytes(24);
	for (size_t len = 1; len <= 24; len++)
		check_bits(key, p, len);
	free(p);
}

static void length_and_key(void **state)
{
	(void)state;
	uint64_t key[2] = { next(), next() };
	unsigned char *p = random_bytes(4096);
	uint64_t base = mc_pagehash(key, p, 4070);
	p[4070] = 0;                    /* a trailing zero byte is not nothing */
	assert_true(mc_pagehash(key, p, 4071) != base);
	assert_true(mc_pagehash(key, p, 0) != mc_pagehash(key, p, 1) || p[0] != 0);
	uint64_t other[2] = { key[0] ^ 1, key[1] };
	assert_true(mc_pagehash(other, p, 4070) != base);
	other[0] = key[0];
	other[1] = key[1] ^ (1ull << 63);
	assert_true(mc_pagehash(other, p, 4070) != base);
	/* the bytes, not their address or alignment */
	unsigned char *q = malloc(4070 + 7);
	assert_non_null(q);
	for (int shift = 0; shift < 8; shift++) {
		memcpy(q + shift % 7, p, 4070);
		assert_true(mc_pagehash(key, q + shift % 7, 4070) == base);
	}
	free(q);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bit_of_a_page),
		cmocka_unit_test(every_bit_of_short_inputs),
		cmocka_unit_test(length_and_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
