/* mntent.c: glibc 2.36's getmntent_r, on one line we already hold.
 *
 * The preload answers getmntent() from a snapshot; to be indistinguishable
 * it must reproduce glibc's quirks exactly: only bufsiz-1 bytes of a line
 * are used (fgets), trailing blanks are chopped only when the newline made it
 * into the buffer, fields split on runs of blanks, only five escapes are
 * decoded, freq/passno come from sscanf, and autofs entries carrying the
 * "ignore" option are skipped. tests/test_mntent.c checks every one of these
 * against the real glibc through fmemopen(). */
#include <stdio.h>
#include <string.h>

#include "mc.h"

char *mc_decode_glibc(char *buf)
{
	char *rp = buf, *wp = buf;

	do {
		if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '4' && rp[3] == '0') {
			*wp++ = ' ';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '1' && rp[3] == '1') {
			*wp++ = '\t';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '0' && rp[2] == '1' && rp[3] == '2') {
			*wp++ = '\n';
			rp += 3;
		} else if (rp[0] == '\\' && rp[1] == '\\') {
			*wp++ = '\\';
			rp += 1;
		} else if (rp[0] == '\\' && rp[1] == '1' && rp[2] == '3' && rp[3] == '4') {
			*wp++ = '\\';
			rp += 3;
		} else {
			*wp++ = *rp;
		}
	} while (*rp++ != '\0');
	return buf;
}

/* The next blank-separated field, decoded, or "" when none is left. */
static char *next_field(char **head)
{
	char *cp = strsep(head, " \t");

	if (*head)
		*head += strspn(*head, " \t");
	return cp ? mc_decode_glibc(cp) : (char *)"";
}

bool mc_mntent_from_line(const char *line, size_t len, bool has_newline,
			 struct mntent *mp, char *buffer, int bufsiz)
{
	/* (1) what fgets(buffer, bufsiz) would have put in the buffer */
	if (bufsiz <= 1) {
		if (bufsiz == 1)
			buffer[0] = '\0';
		return false;
	}
	size_t avail = (size_t)bufsiz - 1;
	size_t full = len + (has_newline ? 1 : 0);
	size_t take = full < avail ? full : avail;
	size_t copy = take < len ? take : len;

	memcpy(buffer, line, copy);
	if (take > len)
		buffer[len] = '\n';
	buffer[take] = '\0';

	/* (2) chop the newline and trailing blanks, only if the newline fit */
	char *end = strchr(buffer, '\n');
	if (end) {
		while (end != buffer && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
	}

	/* (3) skip empty and comment lines */
	char *head = buffer + strspn(buffer, " \t");
	if (head[0] == '\0' || head[0] == '#')
		return false;

	/* (4) fsname, dir, type, opts; (5) freq and passno */
	mp->mnt_fsname = next_field(&head);
	mp->mnt_dir = next_field(&head);
	mp->mnt_type = next_field(&head);
	mp->mnt_opts = next_field(&head);
	switch (head ? sscanf(head, " %d %d ", &mp->mnt_freq, &mp->mnt_passno) : 0) {
	case 0:
		mp->mnt_freq = 0;
		/* fall through */
	case 1:
		mp->mnt_passno = 0;
		/* fall through */
	default:
		break;
	}

	/* (6) glibc 2.35+: autofs mounts marked "ignore" are not listed */
	if (strcmp(mp->mnt_type, "autofs") == 0 && hasmntopt(mp, "ignore")) {
		memset(mp, 0, sizeof(*mp));
		return false;
	}
	return true;
}
