/* pagehash.h: the keyed hash of a first read's bytes (first.c, check (b)):
 * SipHash-1-3.
 *
 * Pure: no system call, no state of ours; the caller keeps the key.
 * tests/test_pagehash.c checks that it tells apart every one-bit change of
 * a page, a length, and a key. */
#ifndef MC_PAGEHASH_H
#define MC_PAGEHASH_H

#include <stddef.h>
#include <stdint.h>

/* @key: 16 secret random bytes (AT_RANDOM). ~1.6 us per 4 KiB on this
 * project's machine kind, hot. */
uint64_t mc_pagehash(const uint64_t key[2], const void *p, size_t len);

#endif
