# cache/api.mk: the public library (build/lib/libmountcache.so.1 and .a,
# mountcache.h, mountcache.pc), the mountcache CLI and its man page, and
# `make install`. Included by the top Makefile.
#
# build/libmountcache.so is the LD_PRELOAD library: the public library lives
# in build/lib/ and the preload installs as $(PRELOADDIR)/libmountcache.so.

API_VERSION  := 0.1.0
API_SOMAJOR  := 1
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PRELOADDIR   ?= $(LIBDIR)/mountcache

API_SRC    := $(wildcard cache/api*.c)
API_OBJ    := $(API_SRC:%.c=$(B)/%.o)
API_SO     := $(B)/lib/libmountcache.so.$(API_SOMAJOR)
API_A      := $(B)/lib/libmountcache.a
API_LIBS   := -lpthread

all: $(B)/mountcache $(API_SO) $(B)/lib/libmountcache.so $(API_A) $(B)/lib/pkgconfig/mountcache.pc

# The engine is linked in whole and hidden: only mountcache_* is exported.
$(API_SO): $(API_OBJ) $(B)/libmcengine.a cache/libmountcache-api.sym
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ -Wl,-soname,libmountcache.so.$(API_SOMAJOR) $(API_OBJ) \
		$(B)/libmcengine.a $(LDFLAGS) -Wl,--version-script=cache/libmountcache-api.sym \
		-Wl,-z,defs -Wl,-z,now $(API_LIBS)

$(B)/lib/libmountcache.so: $(API_SO)
	ln -sf libmountcache.so.$(API_SOMAJOR) $@

# One relocatable object with every hidden symbol made local, so that a
# program linking the archive sees mountcache_* and no engine names.
$(B)/cache/libmountcache-all.o: $(API_OBJ) $(ENGINE_OBJ)
	$(CC) -r -nostdlib -o $@ $^ $(filter -fsanitize=%,$(LDFLAGS))
	objcopy --localize-hidden $@

$(API_A): $(B)/cache/libmountcache-all.o
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# Build-tree pkg-config file (install writes its own, for the real PREFIX).
define api_pc
	sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
		-e 's|@VERSION@|$(API_VERSION)|' cache/mountcache.pc.in
endef
$(B)/lib/pkgconfig/mountcache.pc: cache/mountcache.pc.in cache/api.mk
	@mkdir -p $(dir $@)
	$(call api_pc,$(CURDIR),$(abspath $(B)/lib),$(CURDIR)/cache) > $@

$(B)/cache/cli.o: CFLAGS += -DMC_VERSION='"$(API_VERSION)"' \
	-DMC_PRELOAD_INSTALLED='"$(PRELOADDIR)/libmountcache.so"'

$(B)/mountcache: $(B)/cache/cli.o $(API_A)
	$(CC) -o $@ $< $(API_A) $(LDFLAGS) $(API_LIBS)

# Unit tests and the bench tool reach the internals (apiP.h): the objects,
# not the archive whose hidden symbols are local.
$(B)/test_api: tests/test_api.c $(API_OBJ) $(B)/libmcengine.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -Itests -o $@ $< $(API_OBJ) $(B)/libmcengine.a \
		$(LDFLAGS) $(MOUNT_LIBS) -lcmocka -lpthread

$(B)/apibench: tests/tools/apibench.c $(API_OBJ) $(B)/libmcengine.a
	$(CC) $(CFLAGS) $(MOUNT_CFLAGS) -o $@ $< $(API_OBJ) $(B)/libmcengine.a \
		$(LDFLAGS) $(MOUNT_LIBS) -lpthread

install: $(B)/mountcache $(API_SO) $(API_A) $(B)/libmountcache.so
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PRELOADDIR)
	install -m 0755 $(B)/mountcache $(DESTDIR)$(BINDIR)/mountcache
	install -m 0755 $(API_SO) $(DESTDIR)$(LIBDIR)/libmountcache.so.$(API_SOMAJOR)
	ln -sf libmountcache.so.$(API_SOMAJOR) $(DESTDIR)$(LIBDIR)/libmountcache.so
	install -m 0644 $(API_A) $(DESTDIR)$(LIBDIR)/libmountcache.a
	install -m 0644 cache/mountcache.h $(DESTDIR)$(INCLUDEDIR)/mountcache.h
	$(call api_pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) > $(DESTDIR)$(PKGCONFIGDIR)/mountcache.pc
	install -m 0644 cache/mountcache.1 $(DESTDIR)$(MANDIR)/man1/mountcache.1
	install -m 0755 $(B)/libmountcache.so $(DESTDIR)$(PRELOADDIR)/libmountcache.so

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mountcache \
		$(DESTDIR)$(LIBDIR)/libmountcache.so.$(API_SOMAJOR) \
		$(DESTDIR)$(LIBDIR)/libmountcache.so $(DESTDIR)$(LIBDIR)/libmountcache.a \
		$(DESTDIR)$(INCLUDEDIR)/mountcache.h $(DESTDIR)$(PKGCONFIGDIR)/mountcache.pc \
		$(DESTDIR)$(MANDIR)/man1/mountcache.1 $(DESTDIR)$(PRELOADDIR)/libmountcache.so
	-rmdir $(DESTDIR)$(PRELOADDIR)

.PHONY: install uninstall
