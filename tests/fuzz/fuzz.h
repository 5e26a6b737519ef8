/* fuzz.h: shared by the libFuzzer targets in tests/fuzz. */
#ifndef MC_FUZZ_H
#define MC_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct mc_snap;
void fuzz_set_snapshot(struct mc_snap *s);

/* A finding: print it and abort, so libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                             \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s: ",  \
				__FILE__, __LINE__, #cond);               \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			abort();                                          \
		}                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif
