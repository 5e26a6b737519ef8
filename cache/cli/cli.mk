# cache/cli/cli.mk: mountcache(1), the CLI, and its man page. It links the
# public library's archive, as any user of the API would. Included by the
# top Makefile.
all: $(B)/mountcache
programs: $(B)/mountcache

CLI_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard cache/cli/*.c))

$(B)/cache/cli/common.o: $(PATHS_STAMP)
$(CLI_OBJ): CFLAGS += -Icache/include -DMC_VERSION='"$(API_VERSION)"' \
	-DMC_PRELOAD_INSTALLED='"$(PRELOADDIR)/libmountcache-preload.so"'

$(B)/mountcache: $(CLI_OBJ) $(API_A)
	$(CC) -o $@ $(CLI_OBJ) $(API_A) $(LDFLAGS) $(API_LIBS) -ldl

install-cli: $(B)/mountcache
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/mountcache $(DESTDIR)$(BINDIR)/mountcache
	install -m 0644 cache/cli/mountcache.1 $(DESTDIR)$(MANDIR)/man1/mountcache.1

uninstall-cli:
	rm -f $(DESTDIR)$(BINDIR)/mountcache $(DESTDIR)$(MANDIR)/man1/mountcache.1

install: install-cli
uninstall: uninstall-cli
.PHONY: install-cli uninstall-cli
