/* pagehash.h: a keyed hash of a first read's bytes (first.c, check (b)).
 *
 * Pure: no system call, no global state; the caller keeps the key.
 * tests/test_pagehash.c checks the carry-less path against a bit-by-bit
 * model of the same polynomial. */
#ifndef MC_PAGEHASH_H
#define MC_PAGEHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The polynomial hash's key H and its powers H^2..H^4 (each lo, hi), or
 * SipHash's key where the CPU lacks carry-less multiply. */
struct mc_pagehash_key {
	uint64_t k[2];
	uint64_t pow[4][2];
	bool clmul;
};

/* @k: 16 secret random bytes (AT_RANDOM); @clmul: use PCLMULQDQ (the
 * caller has checked that the CPU has it). */
void mc_pagehash_init(struct mc_pagehash_key *key, const uint64_t k[2], bool clmul);

/* 128 bits into @out. Two inputs of the same length that differ collide
 * with probability at most (len / 16 + 2) / 2^128 over the key with
 * carry-less multiply (a polynomial in H with the input as coefficients,
 * and the length as the last one), 2^-64 or so with SipHash-1-3 (out[1]
 * is 0). */
void mc_pagehash(const struct mc_pagehash_key *key, const void *p, size_t len, uint64_t out[2]);

/* The CPU has carry-less multiply (x86-64 only; false elsewhere). */
bool mc_pagehash_clmul_usable(void);

#endif
