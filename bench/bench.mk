# bench/: the A/B harness (see bench/README.md). Included by the top Makefile.
all: build/bench_read build/bench_run

demo: deps
	$(MAKE) all
	bench/demo.sh

bench: deps
	$(MAKE) all
	bench/bench.sh

.PHONY: demo bench
