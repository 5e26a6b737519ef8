# mountcache build. `make` builds everything into build/; `make test` installs
# missing Debian packages, builds and runs every test.
CC      ?= gcc
SANITIZE ?=
# A sanitizer build lives beside the plain one: `make test SANITIZE=address,undefined`
# builds into build/address-undefined and runs the whole suite against it.
comma   := ,
B       := build$(if $(SANITIZE),/$(subst $(comma),-,$(SANITIZE)))
# debhelper, fakeroot, lintian, dpkg-dev: `make deb` (tests/e2e/packaging.sh);
# systemd: systemd-socket-activate and systemd-analyze (tests/e2e/socketunit.sh).
PKGS    := libmount-dev uthash-dev libcmocka-dev pkg-config gnuplot-nox python3-psutil util-linux \
	   clang libclang-rt-14-dev \
	   debhelper fakeroot lintian dpkg-dev systemd

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -fvisibility=hidden -fPIC -D_GNU_SOURCE -Icache
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
MOUNT_LIBS := $(shell pkg-config --libs mount 2>/dev/null || echo -lmount)
MOUNT_CFLAGS := $(shell pkg-config --cflags mount 2>/dev/null)

# cache/*.c is the engine, and only the engine: all of it is linked into the
# preload, so it calls mc_sys_* (sys.h), never a libc function we interpose.
# The daemon, the API library and the CLI live in folders below it.
ENGINE_SRC := $(wildcard cache/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(B)/%.o)
PRELOAD_SRC := $(wildcard preload/*.c)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/%.o)
# Test helper programs; faultinj.c is a preload of its own (tests/fuzz.mk).
TOOLS   := $(patsubst tests/tools/%.c,$(B)/%,$(filter-out tests/tools/faultinj.c,$(wildcard tests/tools/*.c)))
UNITS   := $(patsubst tests/%.c,$(B)/%,$(wildcard tests/test_*.c))
BENCHES := $(patsubst bench/%.c,$(B)/%,$(wildcard bench/bench_*.c)) $(B)/empty-preload.so

PRELOAD := $(B)/libmountcache-preload.so

all: $(B)/libmcengine.a $(PRELOAD) $(TOOLS) $(UNITS) $(BENCHES)

$(B)/%.o: %.c $(wildcard cache/*.h cache/*/*.h preload/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -c -o $@ $<

$(B)/libmcengine.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The preload exports exactly the interposed symbols (its version script).
$(PRELOAD): $(PRELOAD_OBJ) $(B)/libmcengine.a preload/libmountcache-preload.sym
	$(CC) -shared -o $@ $(PRELOAD_OBJ) $(B)/libmcengine.a $(LDFLAGS) \
		-Wl,--version-script=preload/libmountcache-preload.sym -Wl,-z,defs -ldl -lpthread

$(B)/%: tests/tools/%.c $(B)/libmcengine.a cache/proto.h
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -o $@ $< $(B)/libmcengine.a $(LDFLAGS) $(MOUNT_LIBS) -lpthread

$(B)/test_%: tests/test_%.c $(B)/libmcengine.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -Itests -Ipreload -o $@ $< $(filter %.o,$^) $(B)/libmcengine.a $(LDFLAGS) \
		$(MOUNT_LIBS) -lcmocka -lpthread
# Pure parts of the preload are unit-tested apart from the hooks.
$(B)/test_seqfile: $(B)/preload/seqfile.o
$(B)/test_pagehash: $(B)/preload/pagehash.o
$(B)/test_refresher: $(B)/cache/daemon/refresher.o $(B)/cache/daemon/incremental.o

$(B)/bench_%: bench/bench_%.c $(B)/libmcengine.a
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -o $@ $< $(B)/libmcengine.a $(LDFLAGS) $(MOUNT_LIBS) -lpthread

# The bench's control: LD_PRELOAD of a library that does nothing.
$(B)/empty-preload.so: bench/empty_preload.c
	$(CC) $(CFLAGS) -shared -o $@ $<

# Install only what is missing: non-interactive, no recommends, root only.
deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# `make test` runs the whole suite twice: on the plain build, then on an
# ASan+UBSan build (build/address-undefined). `make test SANITIZE=...` runs
# it once on that build; `make check` once on the plain build, no deps.
test: deps
	$(MAKE) check
ifeq ($(SANITIZE),)
	$(MAKE) check SANITIZE=address,undefined
endif

check:
	$(MAKE) all
	MC_BUILD=$(abspath $(B)) MC_SANITIZE=$(SANITIZE) tests/run.sh

clean:
	rm -rf $(B)

# Install directories: each folder's fragment installs its own deliverable.
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
SBINDIR      ?= $(PREFIX)/sbin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PRELOADDIR   ?= $(LIBDIR)/mountcache
UNITDIR      ?= $(PREFIX)/lib/systemd/system

# Files that embed an install path (the unit's ExecStart, the CLI's preload
# path) depend on this stamp, rewritten only when a path changes: a
# `make install PREFIX=/usr` after a plain `make` rebuilds them.
PATHS_STAMP := $(B)/install-paths
INSTALL_PATHS = $(SBINDIR) $(PRELOADDIR)
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_PATHS)' | cmp -s - $@ || echo '$(INSTALL_PATHS)' > $@
FORCE:

# `programs`: only what `make install` installs (each fragment adds its
# own), without the tests' and benches' build dependencies.
programs: $(PRELOAD)

install: install-preload
install-preload: $(PRELOAD)
	install -d $(DESTDIR)$(PRELOADDIR) $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(PRELOAD) $(DESTDIR)$(PRELOADDIR)/libmountcache-preload.so
	install -m 0644 preload/mountcache-preload.7 $(DESTDIR)$(MANDIR)/man7/mountcache-preload.7

uninstall: uninstall-preload
uninstall-preload:
	rm -f $(DESTDIR)$(PRELOADDIR)/libmountcache-preload.so $(DESTDIR)$(MANDIR)/man7/mountcache-preload.7
	-rmdir $(DESTDIR)$(PRELOADDIR)

# Debian packages (debian/), built by debhelper in a copy of the tree under
# $(DEB_DIR)/src (dpkg-buildpackage writes to the parent of the tree it
# builds), so the packages land in $(DEB_DIR): mountcache, libmountcache1,
# libmountcache-dev. Lintian's verdict is printed; errors fail the build.
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -c --exclude=./build --exclude=./.git --exclude='./.ci' . | tar -x -C $(DEB_DIR)/src
	# Not our make's flags (SANITIZE=..., -j, the jobserver): the package
	# is built by debian/rules alone.
	cd $(DEB_DIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u SANITIZE \
		dpkg-buildpackage -b -us -uc --no-sign -j2
	rm -rf $(DEB_DIR)/src
	ls -l $(DEB_DIR)/*.deb
	if command -v lintian >/dev/null; then lintian --fail-on error --info $(DEB_DIR)/*.changes; fi

# Each area keeps its own targets beside its code.
-include bench/bench.mk cache/api/api.mk cache/daemon/daemon.mk cache/cli/cli.mk tests/fuzz.mk

.PHONY: all programs deb deps test check clean install uninstall install-preload uninstall-preload FORCE
.DELETE_ON_ERROR:
