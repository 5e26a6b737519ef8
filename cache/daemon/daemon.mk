# cache/daemon/daemon.mk: mountcached, the refresher daemon, and its systemd
# units (socket-activated). Included by the top Makefile.
all: $(B)/mountcached $(B)/mountcached.service
programs: $(B)/mountcached $(B)/mountcached.service

# Objects of their own (the top Makefile's rule), so that
# tests/e2e/layout.sh checks the daemon's files as it does the others'.
DAEMON_SRC := cache/daemon/mountcached.c cache/daemon/incremental.c cache/daemon/refresher.c
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(B)/%.o)
$(B)/mountcached: $(DAEMON_OBJ) $(B)/libmcengine.a
	$(CC) $(CFLAGS) -o $@ $(DAEMON_OBJ) $(B)/libmcengine.a $(LDFLAGS) -lpthread

# The unit names the daemon where it is installed (SBINDIR).
$(B)/mountcached.service: cache/daemon/mountcached.service.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	sed 's|@SBINDIR@|$(SBINDIR)|g' cache/daemon/mountcached.service.in > $@

install-daemon: $(B)/mountcached $(B)/mountcached.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/mountcached $(DESTDIR)$(SBINDIR)/mountcached
	install -m 0644 $(B)/mountcached.service $(DESTDIR)$(UNITDIR)/mountcached.service
	install -m 0644 cache/daemon/mountcached.socket $(DESTDIR)$(UNITDIR)/mountcached.socket
	install -m 0644 cache/daemon/mountcached.8 $(DESTDIR)$(MANDIR)/man8/mountcached.8

uninstall-daemon:
	rm -f $(DESTDIR)$(SBINDIR)/mountcached $(DESTDIR)$(UNITDIR)/mountcached.service \
		$(DESTDIR)$(UNITDIR)/mountcached.socket $(DESTDIR)$(MANDIR)/man8/mountcached.8

install: install-daemon
uninstall: uninstall-daemon
.PHONY: install-daemon uninstall-daemon
