/* stream.c: FILE streams over a served description.
 *
 * glibc's stdio reads through its internal __read, which no interposer can
 * reach, so a FILE from the real fopen() would always read the kernel. We
 * build the FILE with fopencookie() instead and give it the real fd as its
 * fileno(), so that fileno(), fstat(fileno(fp)), poll() on it and fclose()
 * behave as on a kernel-backed FILE (glibc calls the cookie's close for
 * fclose, which closes the fd). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "preload.h"

struct cookie {
	struct mc_ofd *o;               /* one reference, dropped at close */
	int fd;
	bool kernel;                    /* the fd holds another file now */
	FILE *fp;
	/* What the FILE's buffer holds, for getline (below): the bytes up to
	 * @bend (NULL: not known) are @bsnap's text from @boff on, whose
	 * line index is @blines; @bline: the number of the line that ends
	 * where getline stopped last (0: the text's start), at @bcur. */
	struct mc_snap *bsnap;          /* one reference, or NULL */
	const uint32_t *blines;
	const char *bend;
	int64_t boff, bcur, bnext;      /* bnext: where line @bline + 1 ends,
					 * 0 past the last (set with bline) */
	uint64_t bgen;                  /* @bsnap's gen when bline, bcur were set */
	uint32_t bline;
	char buf[];                     /* the FILE's buffer, st_blksize bytes */
};

/* Our open streams, so that getmntent() can find a stream's description
 * without a lock: a stream is used by one thread at a time (glibc's
 * setmntent even turns its locking off), and streams on mount tables are
 * few. When the table is full, no stream of ours is made at all. */
#define MAX_STREAMS 64
/* The FILE pointer sits beside the cookie, so that a lookup never touches
 * another stream's cookie, which its own thread may be freeing. */
static struct {
	FILE *fp;
	struct cookie *k;
} streams[MAX_STREAMS];
static int streams_used;                /* high-water mark, atomic */
unsigned mc_streams_gen;
__thread struct mc_stream_last mc_stream_last __attribute__((tls_model("initial-exec")));

static bool stream_register(struct cookie *k)
{
	for (int i = 0; i < MAX_STREAMS; i++) {
		FILE *none = NULL;
		if (__atomic_compare_exchange_n(&streams[i].fp, &none, k->fp, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			__atomic_store_n(&streams[i].k, k, __ATOMIC_RELEASE);
			int used = __atomic_load_n(&streams_used, __ATOMIC_RELAXED);
			while (used < i + 1 &&
			       !__atomic_compare_exchange_n(&streams_used, &used, i + 1, false,
							    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				;
			return true;
		}
	}
	return false;
}

static struct cookie *stream_find(FILE *fp, bool remove)
{
	int used = __atomic_load_n(&streams_used, __ATOMIC_ACQUIRE);
	for (int i = 0; i < used; i++) {
		if (__atomic_load_n(&streams[i].fp, __ATOMIC_ACQUIRE) != fp)
			continue;
		struct cookie *k = __atomic_load_n(&streams[i].k, __ATOMIC_ACQUIRE);
		if (k && remove) {
			/* Before the description is dropped: a cached lookup
			 * of this FILE is stale from here on. */
			__atomic_add_fetch(&mc_streams_gen, 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&streams[i].k, NULL, __ATOMIC_RELEASE);
			__atomic_store_n(&streams[i].fp, NULL, __ATOMIC_RELEASE);
		}
		if (k)
			return k;
	}
	return NULL;
}

/* Inline: the getline hit path starts here. */
static inline __attribute__((always_inline)) struct cookie *stream_lookup(FILE *fp)
{
	unsigned gen;
	if (likely(mc_stream_last_is(fp, &gen)))
		return mc_stream_last.k;
	struct cookie *k = stream_find(fp, false);
	if (k && k->o) {
		mc_stream_last.fp = fp;
		mc_stream_last.k = k;
		mc_stream_last.o = k->o;
		mc_stream_last.gen = gen;
	}
	return k;
}

struct mc_ofd *mc_stream_ofd_slow(FILE *fp)
{
	struct cookie *k = stream_lookup(fp);
	return k ? k->o : NULL;
}

/* Unregister and drop the description; the cookie itself stays (glibc may
 * still hold it). */
static void release(struct cookie *k)
{
	stream_find(k->fp, true);
	k->bend = NULL;
	mc_snap_unref(k->bsnap);
	k->bsnap = NULL;
	if (k->o) {
		mc_ofd_set_stream(k->o, NULL);
		mc_ofd_put(k->o);
		k->o = NULL;
	}
}

void *mc_stream_freopen_begin(FILE *fp)
{
	struct cookie *k = stream_find(fp, false);
	/* fopencookie() leaves _wide_data at (void *)-1, and glibc's freopen
	 * writes through it unless it is NULL: it would crash on any cookie
	 * stream. The reopened FILE then has no wide-character support. */
	if (k)
		fp->_wide_data = NULL;
	return k;
}

void mc_stream_freopen_end(void *cookie)
{
	/* glibc's freopen() synced the stream through our cookie, then swapped
	 * in plain file operations and its own buffer, and moved a new file
	 * onto the same fd number: the cookie and its buffer are unreachable
	 * now, and the fd number no longer holds our description. */
	struct cookie *k = cookie;
	if (!k)
		return;
	mc_fd_forget(k->fd);
	release(k);
	free(k);
}

static ssize_t c_read(void *c, char *buf, size_t n)
{
	struct cookie *k = c;
	struct iovec iov = { buf, n };
	struct mc_guard g;
	ssize_t r;
	k->bend = NULL;
	if (k->kernel) {
		r = mc_sys_read(k->fd, buf, n);
		return r;
	}
	/* A read that continues the pass (all but a pass's first, for
	 * stdio's 1 KiB buffer): a copy, no system call, nothing that can be
	 * cancelled, so no guard and its two pthread_setcancelstate(). */
	if (mc_enter_light()) {
		int64_t at;
		r = mc_ofd_read_hit(k->o, buf, n, &k->bsnap, &at);
		mc_leave_light();
		if (r != MC_OFD_BLOCKS) {
			/* glibc's refill of the FILE's buffer: say what it holds. */
			if (r > 0 && buf == k->fp->_IO_buf_base && (k->blines = mc_snap_lines_built(k->bsnap))) {
				k->bend = buf + r;
				k->boff = at;
				/* Another snapshot: where the last line
				 * ended, and its number, were the old text's
				 * (a pointer compare could be fooled by
				 * reused memory; a gen is never reused). */
				if (k->bgen != k->bsnap->gen) {
					k->bgen = k->bsnap->gen;
					k->bcur = -1;
					k->bnext = 0;
				}
			}
			return r;
		}
	}
	if (mc_enter(&g)) {
		r = mc_ofd_read(k->o, k->fd, &iov, 1, -1);
		if (r == MC_OFD_NOT_OURS) {
			/* The fd was closed and its number reused behind the
			 * FILE's back: a glibc FILE would read the new file. */
			mc_fd_forget(k->fd);
			k->kernel = true;
			r = mc_sys_read(k->fd, buf, n);
			r = r < 0 ? -errno : r;
		}
		mc_leave(&g);
	} else {
		r = mc_ofd_read_nested(k->o, k->fd, &iov, 1, -1);
	}
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static int c_seek(void *c, off64_t *off, int whence)
{
	struct cookie *k = c;
	/* glibc seeks a plain FILE to SEEK_END as st_size + off: the kernel
	 * file's st_size is 0, so that is SEEK_SET to off. */
	if (whence == SEEK_END)
		whence = SEEK_SET;
	off_t r = mc_ofd_lseek(k->o, *off, whence);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	*off = r;
	return 0;
}

static int c_close(void *c)
{
	struct cookie *k = c;
	int fd = k->fd;

	release(k);
	free(k);
	if (fd < 0)
		return 0;
	/* The fd is the program's; if it already closed it behind the FILE's
	 * back, the kernel answers EBADF exactly as for a real FILE. glibc
	 * closes a FILE's fd with close_nocancel: fclose() and endmntent()
	 * are no cancellation points, so the raw call, not close(), which
	 * would act on a pending cancel half-way through fclose(). */
	mc_fd_forget(fd);
	return mc_sys_close(fd);
}

/* ---- getdelim ----------------------------------------------------------
 * libmount (findmnt, mount, df, systemd, udisks2) reads the table with
 * getline(). Through glibc each line takes the FILE lock (two atomics),
 * and each refill of stdio's 1 KiB buffer went through the cookie's read
 * with cancellation disabled and restored around it: at 10,000 mounts most
 * of a served pass. So we run glibc 2.36's __getdelim loop ourselves, on
 * the same FILE buffer: a copy, the read pointer moved, an empty buffer
 * refilled as _IO_file_underflow does (from our description: a copy, no
 * system call), the line's end from the snapshot's line index where the
 * buffer is known to hold the snapshot's bytes, else memchr. A line that
 * goes on past the buffer (one in ~12 with stdio's 1 KiB on a table of
 * 10,000 mounts) is ours too when the index says it fits *lineptr:
 * handing it to glibc cost ~500 instructions, more than the eleven lines
 * around it. What we leave to glibc, from exactly where we stand (so the
 * bytes, the growth of *lineptr, the flags, ftell() and the fd's offset
 * are glibc's): a line that needs *lineptr to grow, no *lineptr yet,
 * ungetc's backup area, markers, a wide, line-buffered or unbuffered
 * stream, a sticky error or end, no buffer.
 * Skipped: the FILE lock where the process has one thread (nobody to
 * exclude). */

/* glibc's FILE flags (libio.h, ABI since glibc 2.1) that bits/types/
 * struct_FILE.h does not define. */
#define MC_IO_UNBUFFERED 0x0002
#define MC_IO_NO_READS 0x0004
#define MC_IO_IN_BACKUP 0x0100
#define MC_IO_LINE_BUF 0x0200
#define MC_IO_CURRENTLY_PUTTING 0x0800
#define MC_IO_GLIBCS (_IO_EOF_SEEN | _IO_ERR_SEEN | MC_IO_NO_READS | MC_IO_IN_BACKUP | MC_IO_UNBUFFERED | \
		      MC_IO_LINE_BUF | MC_IO_CURRENTLY_PUTTING)

/* _IO_file_underflow of a cookie stream with an empty buffer: one read of
 * a buffer's worth. Returns 0 (a buffer full), or -1: end of file or an
 * error, with the flag glibc sets. */
static int refill(FILE *fp, struct cookie *k)
{
	char *base = fp->_IO_buf_base;
	int saved = errno;

	if (fp->_mode == 0)
		fp->_mode = -1;                 /* __underflow's _IO_fwide(fp, -1) */
	fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end = base;
	fp->_IO_write_base = fp->_IO_write_ptr = fp->_IO_write_end = base;
	ssize_t n = c_read(k, base, (size_t)(fp->_IO_buf_end - base));
	if (n <= 0) {
		fp->_flags |= n == 0 ? _IO_EOF_SEEN : _IO_ERR_SEEN;
		fp->_offset = -1;               /* glibc: the offset cache is unset */
		if (n == 0)
			errno = saved;
		return -1;
	}
	fp->_IO_read_end += n;
	if (fp->_offset != -1)
		fp->_offset += n;
	return 0;
}

/* glibc's loop, from where the line stands: @cur of its bytes are in
 * *lineptr already (then the buffer is not empty). With @cur 0, only a
 * line whole in the buffer, else MC_STREAM_GLIBC with nothing taken. */
static ssize_t getdelim_loop(FILE *fp, struct cookie *k, char **lineptr, size_t *n, int delim, size_t cur)
{
	if (fp->_IO_read_ptr >= fp->_IO_read_end && refill(fp, k) < 0)
		return -1;                      /* end of file, or the read's errno */
	for (;;) {
		char *p = fp->_IO_read_ptr;
		size_t len = (size_t)(fp->_IO_read_end - p);
		char *t = memchr(p, delim, len);
		if (t)
			len = (size_t)(t - p) + 1;
		/* Nothing of the line taken yet: one that goes on past the
		 * buffer, or needs *lineptr to grow, is glibc's from here, as
		 * it always was (an allocation of ours that failed after the
		 * line's start was taken would lose it). getline_indexed()
		 * takes such lines when it knows they fit. */
		if (cur == 0 && (!t || len + 1 > *n))
			return MC_STREAM_GLIBC;
		if (unlikely(len >= SSIZE_MAX - cur)) {
			errno = EOVERFLOW;
			return -1;
		}
		size_t need = cur + len + 1;
		if (need > *n) {
			if (need < 2 * *n)
				need = 2 * *n;  /* glibc: "be generous" */
			char *grown = realloc(*lineptr, need);
			if (!grown)
				return -1;
			*lineptr = grown;
			*n = need;
		}
		memcpy(*lineptr + cur, p, len);
		fp->_IO_read_ptr += len;
		cur += len;
		if (t || refill(fp, k) < 0)
			break;
	}
	(*lineptr)[cur] = '\0';
	return (ssize_t)cur;
}

/* The number of the line of @L that ends at @off (0: @off is 0), or -1. */
static int64_t line_ending_at(const uint32_t *L, int64_t off)
{
	size_t lo = 1, hi = (size_t)L[0] + 1;
	if (off == 0)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (L[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo <= L[0] && L[lo] == off ? (int64_t)lo : -1;
}

/* Line @i of @L ends at @end: the stream stands there now. The next
 * line's end is loaded here, for the next call, so that the common line
 * finds it one step from the cookie (not two: blines, then the entry). */
static inline __attribute__((always_inline)) void set_line(struct cookie *k, const uint32_t *L, uint32_t i,
							   int64_t end)
{
	k->bline = i;
	k->bcur = end;
	k->bnext = i < L[0] ? L[i + 1] : 0;
}

/* Line @bline + 1, which starts at @p (offset k->bcur), when it is whole
 * in the buffer, ends with its '\n' and fits *lineptr: copied, and the
 * read pointer and the line moved past it. Returns its length, else 0
 * with nothing taken (a taken line has its '\n': the caller's check of the
 * result then folds away). Inline: the common line's path. */
static inline __attribute__((always_inline)) size_t take_line(FILE *fp, struct cookie *k, char *p, char **lineptr,
							      size_t *n)
{
	size_t len = (size_t)(k->bnext - k->bcur);
	if (!k->bnext || len == 0 || len >= *n || len > (size_t)(k->bend - p) || p[len - 1] != '\n')
		return 0;
	char *line = *lineptr;
	fp->_IO_read_ptr = p + len;
	set_line(k, k->blines, k->bline + 1, k->bnext);
	line[len] = '\0';
	memcpy(line, p, len);
	return len;
}

/* Line @bline + 1, which starts at @p (offset k->bcur) and goes
 * on past the buffer, when it fits *lineptr: what is here, a refill, the
 * rest to the end the index names (the refill put the snapshot's next
 * bytes in the buffer; else glibc's loop finds the end). Returns its
 * length, -1 (end of file or the read's errno, as glibc), or
 * MC_STREAM_GLIBC with nothing taken. */
static ssize_t take_straddling(FILE *fp, struct cookie *k, char *p, char **lineptr, size_t *n)
{
	const uint32_t *L = k->blines;
	int64_t cur = k->bcur;
	size_t len = (size_t)(k->bnext - cur), have = (size_t)(k->bend - p);
	if (!k->bnext || len >= *n || len <= have)
		return MC_STREAM_GLIBC;
	memcpy(*lineptr, p, have);
	fp->_IO_read_ptr = p + have;
	set_line(k, L, k->bline + 1, k->bnext); /* where it will end, checked */
	if (refill(fp, k) < 0) {
		(*lineptr)[have] = '\0';
		return (ssize_t)have;
	}
	int64_t at = cur + (int64_t)have;
	size_t rest = len - have;
	p = fp->_IO_read_ptr;
	if (k->blines == L && k->bend == fp->_IO_read_end && k->boff == at && rest <= (size_t)(k->bend - p) &&
	    p[rest - 1] == '\n') {
		memcpy(*lineptr + have, p, rest);
		fp->_IO_read_ptr = p + rest;
		(*lineptr)[len] = '\0';
		return (ssize_t)len;
	}
	return getdelim_loop(fp, k, lineptr, n, '\n', have);
}

/* getline() where the FILE's buffer is known to hold the snapshot's text
 * (c_read): the line's end comes from the line index, so no memchr; the
 * next line's number is the last one's plus one. Returns the line's
 * length, or MC_STREAM_GLIBC where the index does not answer: the caller
 * goes on with glibc's loop from exactly where we stand. Cost: ~40
 * instructions and a copy a line, against ~100 and a memchr. */
static ssize_t getline_indexed(FILE *fp, struct cookie *k, char **lineptr, size_t *n)
{
	if (fp->_IO_read_ptr >= fp->_IO_read_end && refill(fp, k) < 0)
		return -1;
	char *p = fp->_IO_read_ptr;
	const char *bend = k->bend;
	if (!bend || fp->_IO_read_end != bend || p >= bend)
		return MC_STREAM_GLIBC;
	const uint32_t *L = k->blines;
	int64_t cur = k->boff + (p - fp->_IO_buf_base);
	if (k->bline >= L[0] || k->bcur != cur) {
		int64_t i = line_ending_at(L, cur);
		if (i < 0 || i >= L[0])
			return MC_STREAM_GLIBC;
		set_line(k, L, (uint32_t)i, cur);
	}
	size_t took = take_line(fp, k, p, lineptr, n);
	if (took)
		return (ssize_t)took;
	/* Not taken: a line that needs *lineptr to grow, or the last one
	 * without '\n' (the index ends it at the text's end, and it goes on
	 * to the end of file), is glibc's loop's; one that goes on past the
	 * buffer (one in ~12 with stdio's 1 KiB) is ours. */
	return take_straddling(fp, k, p, lineptr, n);
}

/* Everything but the common line (below). */
static ssize_t __attribute__((noinline)) getdelim_slow(char **lineptr, size_t *n, int delim, FILE *fp)
{
	struct cookie *k = stream_lookup(fp);
	if (!k || !k->o || k->kernel || !lineptr || !n || !*lineptr || !*n)
		return REAL(__getdelim)(lineptr, n, delim, fp);
	bool lock = !mc_one_thread() && !(fp->_flags & _IO_USER_LOCK);
	if (lock)
		flockfile(fp);
	ssize_t r = MC_STREAM_GLIBC;
	if (fp->_IO_buf_base && fp->_mode <= 0 && !fp->_markers && !fp->_IO_save_base &&
	    !(fp->_flags & MC_IO_GLIBCS)) {
		if (delim == '\n')
			r = getline_indexed(fp, k, lineptr, n);
		if (r == MC_STREAM_GLIBC)
			r = getdelim_loop(fp, k, lineptr, n, delim, 0);
	}
	if (lock)
		funlockfile(fp);
	return r == MC_STREAM_GLIBC ? REAL(__getdelim)(lineptr, n, delim, fp) : r;
}

/* The common line: in a one-thread process, the next line of the index
 * whole in the FILE's buffer and shorter than *lineptr. What it relies on:
 * the buffer is the one c_read() filled (_IO_read_end is where it left
 * it: ungetc's backup area, a refill by glibc or a read into the
 * program's memory all move it or clear @bend), the read pointer is where
 * the last line of ours ended, and the line's last byte is the '\n'.
 * ~40 instructions and the copy. */
ssize_t mc_stream_getdelim(char **lineptr, size_t *n, int delim, FILE *fp)
{
	struct cookie *k = stream_lookup(fp);
	if (likely(k && delim == '\n')) {
		char *p = fp->_IO_read_ptr;
		const char *bend = k->bend;
		if ((uintptr_t)p < (uintptr_t)bend && fp->_IO_read_end == bend && lineptr && n && *lineptr &&
		    mc_one_thread() && k->boff + (p - fp->_IO_buf_base) == k->bcur) {
			size_t took = take_line(fp, k, p, lineptr, n);
			if (likely(took))
				return (ssize_t)took;
		}
	}
	return getdelim_slow(lineptr, n, delim, fp);
}

bool mc_stream_mode(const char *mode, int *ret_flags)
{
	int flags = O_RDONLY;

	/* As glibc's fopen: the first character, then at most six more, of
	 * which it knows "+xbmce" and ignores the rest; ",ccs=" asks for a
	 * wide-character conversion we do not offer, "+" for writing. */
	if (!mode || mode[0] != 'r' || strchr(mode, ','))
		return false;
	for (int i = 1; i < 7 && mode[i]; i++) {
		if (mode[i] == '+')
			return false;
		if (mode[i] == 'e')
			flags |= O_CLOEXEC;
	}
	*ret_flags = flags;
	return true;
}

FILE *mc_stream_open(int fd, struct mc_ofd *o)
{
	/* A kernel-backed FILE buffers st_blksize bytes (1 KiB on procfs)
	 * when that is below BUFSIZ: so does ours, so that the fd position
	 * after stdio reads is the same. */
	size_t size = BUFSIZ;
	blksize_t blk = mc_ofd_blksize(o);
	if (blk > 0 && blk < BUFSIZ)
		size = (size_t)blk;
	struct cookie *k = malloc(sizeof *k + size);
	if (!k)
		return NULL;
	*k = (struct cookie){ .o = o, .fd = fd };
	cookie_io_functions_t io = { .read = c_read, .seek = c_seek, .close = c_close };
	FILE *fp = fopencookie(k, "r", io);
	if (!fp) {
		free(k);
		return NULL;
	}
	k->fp = fp;
	if (!stream_register(k)) {
		/* Undo without closing: the caller falls back to a plain FILE. */
		k->o = NULL;
		k->fd = -1;
		fclose(fp);
		return NULL;
	}
	setvbuf(fp, k->buf, _IOFBF, size);
	fp->_fileno = fd;
	mc_ofd_set_stream(o, fp);
	return fp;
}
