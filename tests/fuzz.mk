# tests/fuzz.mk: libFuzzer targets, the fault injector and sanitizer helpers.
# Included by the top Makefile.
#
#   make fuzz [FUZZ_SECONDS=60]     build and run every target for N seconds
#   make fuzz-build                 build them only ($(B)/fuzz/fuzz_*)
#   make fuzz-parse|fuzz-snapshot|fuzz-path|fuzz-mntent   run one
#   make sanitize                   tests/e2e/sanitize.sh (ASan/UBSan, TSan, valgrind)
#
# Targets link the real engine and preload sources, rebuilt with clang and
# -fsanitize=fuzzer-no-link,address,undefined (UB aborts). Each run starts
# from the seeds (tests/golden/*, tests/fuzz/seeds/NAME) and grows a corpus
# in $(B)/fuzz/corpus/NAME; a crash leaves $(B)/fuzz/artifacts/NAME-crash-*.
# Reproduce one with: $(B)/fuzz/fuzz_NAME FILE

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_NAMES   := parse snapshot path mntent
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Icache -Ipreload -Itests/fuzz $(FUZZ_SAN)
FUZZ_DIR     := $(B)/fuzz

# What each target links (besides its own file); stubs.c stands in for
# cache/view.c (see there).
FUZZ_ENGINE  := cache/parse.c cache/mntent.c cache/index.c cache/util.c cache/snapshot.c
FUZZ_SRC_parse    := $(FUZZ_ENGINE)
FUZZ_SRC_mntent   := $(FUZZ_ENGINE)
FUZZ_SRC_path     := preload/path.c
FUZZ_SRC_snapshot := $(FUZZ_ENGINE) preload/ofd.c preload/seqfile.c preload/slot.c preload/fdmap.c \
		     preload/kpos.c preload/getmntent.c preload/stream.c preload/real.c preload/path.c tests/fuzz/stubs.c

FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
$(foreach n,$(FUZZ_NAMES),$(eval FUZZ_OBJ_$(n) := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,tests/fuzz/fuzz_$(n).c $(FUZZ_SRC_$(n)))))

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard cache/*.h preload/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

.SECONDEXPANSION:
$(FUZZ_DIR)/fuzz_%: $$(FUZZ_OBJ_$$*)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -ldl -lpthread

fuzz-build: $(FUZZ_BINS)

# Seeds: the golden tables for the table targets, spellings for the paths.
$(FUZZ_DIR)/seeds/%: $(wildcard tests/golden/* tests/fuzz/seeds/*/*)
	@rm -rf $@ && mkdir -p $@
	@if [ -d tests/fuzz/seeds/$* ]; then cp tests/fuzz/seeds/$*/* $@/; fi
	@if [ $* != path ]; then cp tests/golden/* $@/; fi

$(FUZZ_NAMES:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/seeds/%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts
	$(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$*- $(FUZZ_FLAGS) \
		$(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/seeds/$*

fuzz: $(FUZZ_NAMES:%=fuzz-%)

# ---- sanitizer and fault-injection helpers ------------------------------
# The fault injector: a test-only preload (never installed), loaded after
# libmountcache-preload.so so that the engine's libc calls reach it.
$(B)/faultinj.so: tests/tools/faultinj.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -shared -o $@ $< -ldl

# Readers for the sanitizer, fault and adversarial runs: many threads
# (mtreader), a deterministic dump (mtdump), a thread in its own mount
# namespace (threadns).
$(B)/mtreader $(B)/mtdump $(B)/threadns: $(B)/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpthread

# Part of the normal build: faults.sh, sanitize.sh and adversarial.sh run
# in `make test`.
all: $(B)/faultinj.so $(B)/mtreader $(B)/mtdump $(B)/threadns

sanitize: all
	bash tests/e2e/sanitize.sh

.PHONY: fuzz fuzz-build sanitize $(FUZZ_NAMES:%=fuzz-%)
.PRECIOUS: $(FUZZ_DIR)/obj/%.o $(FUZZ_DIR)/fuzz_%
