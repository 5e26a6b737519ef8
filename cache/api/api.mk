# cache/api/api.mk: the public library only: build/lib/libmountcache.so.1
# and .a, the installed header (cache/include/mountcache.h) and the
# pkg-config file. Included by the top Makefile, which also holds the
# install directories (`make install`).
API_VERSION  := 0.1.0
API_SOMAJOR  := 1

API_SRC    := $(wildcard cache/api/*.c)
API_OBJ    := $(API_SRC:%.c=$(B)/%.o)
API_SO     := $(B)/lib/libmountcache.so.$(API_SOMAJOR)
API_A      := $(B)/lib/libmountcache.a
API_LIBS   := -lpthread

all: $(API_SO) $(B)/lib/libmountcache.so $(API_A) $(B)/lib/pkgconfig/mountcache.pc
programs: $(API_SO) $(B)/lib/libmountcache.so $(API_A)

# The API and its users see the installed header; only the API also sees
# the engine's private one (-Icache, in CFLAGS).
$(API_OBJ): CFLAGS += -Icache/include

# The engine is linked in whole and hidden: only mountcache_* is exported.
$(API_SO): $(API_OBJ) $(B)/libmcengine.a cache/api/libmountcache.sym
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ -Wl,-soname,libmountcache.so.$(API_SOMAJOR) $(API_OBJ) \
		$(B)/libmcengine.a $(LDFLAGS) -Wl,--version-script=cache/api/libmountcache.sym \
		-Wl,-z,defs -Wl,-z,now $(API_LIBS)

$(B)/lib/libmountcache.so: $(API_SO)
	ln -sf libmountcache.so.$(API_SOMAJOR) $@

# One relocatable object with every hidden symbol made local, so that a
# program linking the archive sees mountcache_* and no engine names.
$(B)/cache/api/libmountcache-all.o: $(API_OBJ) $(ENGINE_OBJ)
	$(CC) -r -nostdlib -o $@ $^ $(filter -fsanitize=%,$(LDFLAGS))
	objcopy --localize-hidden $@

$(API_A): $(B)/cache/api/libmountcache-all.o
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# Build-tree pkg-config file (install writes its own, for the real PREFIX).
define api_pc
	sed -e 's|@PREFIX@|$(1)|' -e 's|@LIBDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' \
		-e 's|@VERSION@|$(API_VERSION)|' cache/api/mountcache.pc.in
endef
$(B)/lib/pkgconfig/mountcache.pc: cache/api/mountcache.pc.in cache/api/api.mk
	@mkdir -p $(dir $@)
	$(call api_pc,$(CURDIR),$(abspath $(B)/lib),$(CURDIR)/cache/include) > $@

# Unit tests and the bench tool reach the internals (apiP.h): the objects,
# not the archive whose hidden symbols are local.
$(B)/test_api: tests/test_api.c $(API_OBJ) $(B)/libmcengine.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) -Icache/include -Icache/api $(MOUNT_CFLAGS) -Itests -o $@ $< $(API_OBJ) \
		$(B)/libmcengine.a $(LDFLAGS) $(MOUNT_LIBS) -lcmocka -lpthread

$(B)/apibench: tests/tools/apibench.c $(API_OBJ) $(B)/libmcengine.a
	$(CC) $(CFLAGS) -Icache/include -Icache/api $(MOUNT_CFLAGS) -o $@ $< $(API_OBJ) \
		$(B)/libmcengine.a $(LDFLAGS) $(MOUNT_LIBS) -lpthread

install-api: $(API_SO) $(API_A)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(API_SO) $(DESTDIR)$(LIBDIR)/libmountcache.so.$(API_SOMAJOR)
	ln -sf libmountcache.so.$(API_SOMAJOR) $(DESTDIR)$(LIBDIR)/libmountcache.so
	install -m 0644 $(API_A) $(DESTDIR)$(LIBDIR)/libmountcache.a
	install -m 0644 cache/include/mountcache.h $(DESTDIR)$(INCLUDEDIR)/mountcache.h
	$(call api_pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) > $(DESTDIR)$(PKGCONFIGDIR)/mountcache.pc

uninstall-api:
	rm -f $(DESTDIR)$(LIBDIR)/libmountcache.so.$(API_SOMAJOR) \
		$(DESTDIR)$(LIBDIR)/libmountcache.so $(DESTDIR)$(LIBDIR)/libmountcache.a \
		$(DESTDIR)$(INCLUDEDIR)/mountcache.h $(DESTDIR)$(PKGCONFIGDIR)/mountcache.pc

install: install-api
uninstall: uninstall-api
.PHONY: install-api uninstall-api
