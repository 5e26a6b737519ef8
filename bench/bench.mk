# bench/: the A/B harness (see bench/README.md). Included by the top Makefile.

demo: deps
	$(MAKE) all
	bench/demo.sh

bench: deps
	$(MAKE) all
	bench/bench.sh

.PHONY: demo bench
