# mountcached, the refresher daemon, and its systemd unit.
all: $(B)/mountcached

$(B)/mountcached: cache/mountcached.c cache/proto.h $(B)/libmcengine.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libmcengine.a $(LDFLAGS) -lpthread
