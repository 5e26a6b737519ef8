# mountcached, the refresher daemon, and its systemd unit.
all: $(B)/mountcached

$(B)/mountcached: cache/mountcached.c cache/proto.h $(B)/libmcengine.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libmcengine.a $(LDFLAGS) -lpthread

# `make install` (cache/api.mk) also installs the daemon and its unit, the
# unit pointing at the installed daemon.
SBINDIR ?= $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: install-daemon
install-daemon: $(B)/mountcached
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(B)/mountcached $(DESTDIR)$(SBINDIR)/mountcached
	sed 's|^ExecStart=.*|ExecStart=$(SBINDIR)/mountcached|' cache/systemd/mountcached.service \
		> $(DESTDIR)$(UNITDIR)/mountcached.service
.PHONY: install-daemon
