/* test_pagehash.c: the first read's hash (preload/pagehash.c). The
 * carry-less path must compute exactly the polynomial it claims, checked
 * against a bit-by-bit model of GF(2^128) multiplication; both paths must
 * tell apart every one-bit change of a page, and depend on the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* r = a * b modulo x^128 + x^7 + x^2 + x + 1, one bit of a at a time. */
static void model_mul(const uint64_t a[2], const uint64_t b[2], uint64_t r[2])
{
	uint64_t z[2] = { 0, 0 }, v[2] = { b[0], b[1] };
	for (int i = 0; i < 128; i++) {
		if ((a[i / 64] >> (i % 64)) & 1) {
			z[0] ^= v[0];
			z[1] ^= v[1];
		}
		uint64_t carry = v[1] >> 63;
		v[1] = (v[1] << 1) | (v[0] >> 63);
		v[0] = (v[0] << 1) ^ (carry ? 0x87 : 0);
	}
	r[0] = z[0];
	r[1] = z[1];
}

/* Horner's rule over 16-byte little-endian blocks, the last zero-padded,
 * then the length: what pagehash.h promises. */
static void model_hash(const uint64_t h[2], const unsigned char *p, size_t len, uint64_t out[2])
{
	uint64_t x[2] = { 0, 0 };
	for (size_t i = 0; i < len; i += 16) {
		unsigned char b[16] = { 0 };
		uint64_t m[2];
		memcpy(b, p + i, len - i < 16 ? len - i : 16);
		memcpy(m, b, 16);
		x[0] ^= m[0];
		x[1] ^= m[1];
		model_mul(x, h, x);
	}
	x[0] ^= len;
	model_mul(x, h, x);
	out[0] = x[0];
	out[1] = x[1];
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n + 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)next();
	return p;
}

static void clmul_is_the_polynomial(void **state)
{
	(void)state;
	if (!mc_pagehash_clmul_usable())
		skip();
	static const size_t sizes[] = { 4070, 4096, 4097, 65536, 130 * 1024 + 7 };
	for (int round = 0; round < 40; round++) {
		uint64_t k[2] = { next(), next() }, want[2], got[2], h4[2];
		struct mc_pagehash_key key;
		mc_pagehash_init(&key, k, true);
		model_mul(k, k, h4);
		model_mul(h4, h4, h4);
		assert_memory_equal(key.pow[3], h4, sizeof h4);
		/* every length around the 16- and 64-byte strides, then pages */
		size_t len = round < 30 ? (size_t)round * 7 : sizes[round % 5];
		unsigned char *p = random_bytes(len);
		model_hash(k, p, len, want);
		mc_pagehash(&key, p, len, got);
		assert_memory_equal(got, want, sizeof want);
		free(p);
	}
}

/* Every one-bit change of a page, and its length, changes the hash. */
static void check_sensitive(bool clmul)
{
	uint64_t k[2] = { next(), next() }, base[2], h[2];
	struct mc_pagehash_key key;
	mc_pagehash_init(&key, k, clmul);
	const size_t len = 4070;
	unsigned char *p = random_bytes(len);
	mc_pagehash(&key, p, len, base);
	for (size_t bit = 0; bit < len * 8; bit++) {
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		mc_pagehash(&key, p, len, h);
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		assert_false(h[0] == base[0] && h[1] == base[1]);
	}
	p[len] = 0;                     /* a trailing zero byte is not nothing */
	mc_pagehash(&key, p, len + 1, h);
	assert_false(h[0] == base[0] && h[1] == base[1]);
	mc_pagehash(&key, p, len, h);   /* and the hash is a function */
	assert_memory_equal(h, base, sizeof h);
	/* another key, another hash */
	uint64_t k2[2] = { k[0] ^ 1, k[1] };
	mc_pagehash_init(&key, k2, clmul);
	mc_pagehash(&key, p, len, h);
	assert_false(h[0] == base[0] && h[1] == base[1]);
	free(p);
}

static void clmul_sensitive(void **state)
{
	(void)state;
	if (!mc_pagehash_clmul_usable())
		skip();
	check_sensitive(true);
}

static void siphash_sensitive(void **state)
{
	(void)state;
	check_sensitive(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clmul_is_the_polynomial),
		cmocka_unit_test(clmul_sensitive),
		cmocka_unit_test(siphash_sensitive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
