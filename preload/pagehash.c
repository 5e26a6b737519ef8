/* pagehash.c: see pagehash.h.
 *
 * Why not SipHash alone: a fresh process that reads the first page of a
 * table and stops (head, grep -q) hashes it (first.c), and SipHash-1-3 took
 * ~3 us of the ~4.4 us the preload added to such a read at 1,000 mounts
 * (11,845 of 15,428 user instructions, callgrind). The polynomial below
 * over GF(2^128) costs about a tenth of that with PCLMULQDQ: four 16-byte
 * blocks per reduction (Horner's rule unrolled by H^4..H^1), five
 * carry-less multiplies per block.
 *
 * Why it is safe: for a secret uniformly random H, two different inputs
 * of one length give two different polynomials in H of degree at most
 * len/16 + 2, whose difference has at most that many roots: they collide
 * with probability below 2^-120 for a page. Nobody outside the process
 * sees H or a hash value. */
#include <string.h>

#include "pagehash.h"

#if defined(__x86_64__)
#include <immintrin.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define HAVE_CPU_FEATURES 1
#endif
#define CLMUL __attribute__((target("pclmul")))

/* GF(2^128) modulo x^128 + x^7 + x^2 + x + 1, bit i of (lo, hi) the
 * coefficient of x^i. A product is kept unreduced as lo + mid x^64 + hi
 * x^128 (three 128-bit words), so that sums of products are reduced once. */
CLMUL static inline void mul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid, __m128i *hi)
{
	*lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
	*hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
	*mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
						  _mm_clmulepi64_si128(a, b, 0x10)));
}

/* Words W0..W3 (64 bits each) of the 256-bit product: x^128 = 0x87, so
 * W3 x^192 folds into W2, W1 at x^64, then W2 x^128 into W1, W0. */
CLMUL static inline __m128i reduce(__m128i lo, __m128i mid, __m128i hi)
{
	const __m128i k = _mm_set_epi64x(0, 0x87);
	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));         /* W1:W0 */
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));         /* W3:W2 */
	__m128i q = _mm_clmulepi64_si128(hi, k, 0x01);          /* W3 * 0x87 */
	lo = _mm_xor_si128(lo, _mm_slli_si128(q, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(q, 8));
	return _mm_xor_si128(lo, _mm_clmulepi64_si128(hi, k, 0x00));   /* W2 * 0x87 */
}

CLMUL static inline __m128i gf_mul(__m128i a, __m128i b)
{
	__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
	mul_acc(a, b, &lo, &mid, &hi);
	return reduce(lo, mid, hi);
}

static inline __m128i load(const uint64_t v[2])
{
	return _mm_loadu_si128((const __m128i *)v);
}

CLMUL static void init_clmul(struct mc_pagehash_key *key)
{
	__m128i h = load(key->k), p = h;
	_mm_storeu_si128((__m128i *)key->pow[0], h);
	for (int i = 1; i < 4; i++) {
		p = gf_mul(p, h);
		_mm_storeu_si128((__m128i *)key->pow[i], p);
	}
}

CLMUL static void hash_clmul(const struct mc_pagehash_key *key, const unsigned char *p, size_t len,
			     uint64_t out[2])
{
	const __m128i h1 = load(key->pow[0]), h2 = load(key->pow[1]);
	const __m128i h3 = load(key->pow[2]), h4 = load(key->pow[3]);
	__m128i x = _mm_setzero_si128();
	size_t i = 0;

	/* x = (((x + m1) H + m2) H + m3) H + m4) H, one reduction */
	for (; i + 64 <= len; i += 64) {
		__m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
		__m128i m1 = _mm_loadu_si128((const __m128i *)(p + i));
		mul_acc(_mm_xor_si128(x, m1), h4, &lo, &mid, &hi);
		mul_acc(_mm_loadu_si128((const __m128i *)(p + i + 16)), h3, &lo, &mid, &hi);
		mul_acc(_mm_loadu_si128((const __m128i *)(p + i + 32)), h2, &lo, &mid, &hi);
		mul_acc(_mm_loadu_si128((const __m128i *)(p + i + 48)), h1, &lo, &mid, &hi);
		x = reduce(lo, mid, hi);
	}
	for (; i + 16 <= len; i += 16)
		x = gf_mul(_mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(p + i))), h1);
	if (i < len) {                  /* the last block, zero-padded */
		/* (shifted in: a byte copy loop becomes a memcpy() call, whose
		 * first use binds it, ~1 us in a fresh process) */
		uint64_t w[2] = { 0, 0 };
		for (size_t k = 0; i + k < len; k++)
			w[k / 8] |= (uint64_t)p[i + k] << (8 * (k % 8));
		x = gf_mul(_mm_xor_si128(x, load(w)), h1);
	}
	x = gf_mul(_mm_xor_si128(x, _mm_set_epi64x(0, (long long)len)), h1);
	_mm_storeu_si128((__m128i *)out, x);
}
#endif

bool mc_pagehash_clmul_usable(void)
{
#ifdef HAVE_CPU_FEATURES
	/* glibc's own record of CPUID: no cpuid instruction (a VM exit) */
	return CPU_FEATURE_ACTIVE(PCLMULQDQ);
#else
	return false;
#endif
}

/* ---- SipHash-1-3, where there is no carry-less multiply ------------------ */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                 \
	do {                                                                     \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);        \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                           \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                           \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);        \
	} while (0)

static uint64_t siphash13(const uint64_t key[2], const unsigned char *p, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		m = le64toh(m);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; i + k < len; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void mc_pagehash_init(struct mc_pagehash_key *key, const uint64_t k[2], bool clmul)
{
	memset(key, 0, sizeof *key);
	key->k[0] = k[0];
	key->k[1] = k[1];
#if defined(__x86_64__)
	key->clmul = clmul;
	if (clmul)
		init_clmul(key);
#else
	(void)clmul;
#endif
}

void mc_pagehash(const struct mc_pagehash_key *key, const void *p, size_t len, uint64_t out[2])
{
#if defined(__x86_64__)
	if (key->clmul) {
		hash_clmul(key, p, len, out);
		return;
	}
#endif
	out[0] = siphash13(key->k, p, len);
	out[1] = 0;
}
