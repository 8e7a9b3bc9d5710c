/*
 * `user:` (--user): who the job's script runs as inside its namespaces.
 *
 * The value is "USER" or "USER:GROUP", each a number or a name.  Names
 * are looked up in /etc/passwd and /etc/group of the root the job gets,
 * read here by the supervisor (host root, before the clone) with
 * openat2(RESOLVE_IN_ROOT): an image's files are the image's, and a
 * symlink in it cannot lead the read out of its root.  The files are
 * parsed by hand rather than through NSS: an image's root is not ours to
 * hand to the host's libc, and the host's passwd database is what a job
 * without an image sees at /etc anyway.
 *
 * A user given by number need not exist (a container's `USER 1000`);
 * its group is then its passwd entry's, or else equal to the uid.  The
 * ids must lie in 0..SV_INSIDE_IDS-1, what the job's user namespace maps
 * (ns.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervisor.h"

#define SV_ID_FILE_MAX (4 * 1024 * 1024)  /* a passwd larger is refused */

/* The file beneath root, NUL-terminated (caller frees); NULL and errno. */
static char *
read_beneath(const char *root, const char *rel)
{
	/* O_NONBLOCK: an image's FIFO there must not hold the open. */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	ssize_t n;
	int dfd, fd, saved;

	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	saved = errno;
	close(dfd);
	if (fd < 0) {
		errno = saved;
		return NULL;
	}
	/* Only a regular file: a FIFO or a device is no passwd. */
	saved = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR :
		!S_ISREG(st.st_mode) ? EINVAL : 0;
	if (saved != 0) {
		close(fd);
		errno = saved;
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > SV_ID_FILE_MAX + 4096) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (n < 0) {
		free(buf);
		errno = saved;
		return NULL;
	}
	if (buf == NULL)
		buf = xcalloc(1, 1);
	buf[len] = '\0';
	return buf;
}

/* "123" → 123; -1 if not a plain number (or too large for an id). */
static long
number(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * In a passwd or group file: the line whose field `key` (0: the name, 2:
 * the id) equals want; its fields 2 and 3 as numbers.  0, or -ENOENT.
 */
static int
lookup(const char *text, int key, const char *want, size_t wlen,
       long *f2, long *f3)
{
	const char *line = text, *end, *f[4], *p;
	size_t flen[4];
	int k;

	for (; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		p = line;
		for (k = 0; k < 4; k++) {
			f[k] = p;
			while (p < end && *p != ':')
				p++;
			flen[k] = (size_t)(p - f[k]);
			if (p < end)
				p++;
		}
		if (flen[key] != wlen || memcmp(f[key], want, wlen) != 0)
			continue;
		*f2 = number(f[2], flen[2]);
		*f3 = number(f[3], flen[3]);
		if (*f2 < 0)
			continue;  /* a malformed line names nobody */
		return 0;
	}
	return -ENOENT;
}

char *
sv_user_name(uid_t uid)
{
	char *passwd = read_beneath("/", "etc/passwd"), *name = NULL;
	const char *line, *end, *c1, *c2, *c3;
	char num[24];

	if (passwd == NULL)
		return NULL;
	snprintf(num, sizeof(num), "%u", (unsigned)uid);
	for (line = passwd; *line != '\0' && name == NULL;
	     line = *end != '\0' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		c1 = memchr(line, ':', (size_t)(end - line));
		c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1))
				: NULL;
		c3 = c2 != NULL ? memchr(c2 + 1, ':', (size_t)(end - c2 - 1))
				: NULL;
		if (c3 != NULL && (size_t)(c3 - c2 - 1) == strlen(num) &&
		    memcmp(c2 + 1, num, strlen(num)) == 0)
			name = xstrndup(line, (size_t)(c1 - line));
	}
	free(passwd);
	return name;
}

int
sv_user_parse(const char *spec, const char *passwd, int passwd_errno,
	      const char *group, const char *where, uid_t *uid, gid_t *gid,
	      char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t ulen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	long u, g = -1, f2, f3;

	u = number(spec, ulen);
	if (u < 0 && passwd == NULL) {
		snprintf(err, errlen, "user '%s': cannot read %s /etc/passwd: "
			 "%s", spec, where, strerror(passwd_errno));
		return -ENOENT;
	}
	if (u < 0) {
		if (lookup(passwd, 0, spec, ulen, &f2, &f3) < 0) {
			snprintf(err, errlen, "user '%.*s' is not in %s "
				 "/etc/passwd", (int)ulen, spec, where);
			return -ENOENT;
		}
		u = f2;
		g = f3;
	} else if (passwd != NULL &&
		   lookup(passwd, 2, spec, ulen, &f2, &f3) == 0) {
		g = f3;
	}
	if (colon != NULL) {
		g = number(colon + 1, strlen(colon + 1));
		if (g < 0 && (group == NULL ||
			      lookup(group, 0, colon + 1, strlen(colon + 1),
				     &f2, &f3) < 0)) {
			snprintf(err, errlen, "group '%s' is not in %s "
				 "/etc/group", colon + 1, where);
			return -ENOENT;
		}
		if (g < 0)
			g = f2;
	}
	if (g < 0)
		g = u;
	if (u >= SV_INSIDE_IDS || g >= SV_INSIDE_IDS) {
		snprintf(err, errlen, "user '%s' is uid %ld, gid %ld: a job's "
			 "ids are 0 to %d", spec, u, g, SV_INSIDE_IDS - 1);
		return -ERANGE;
	}
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

int
sv_user_resolve(const char *root, const char *spec, uid_t *uid, gid_t *gid,
		char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	const char *where = strcmp(root, "/") == 0 ? "the host's" : "the image's";
	char *passwd, *group = NULL;
	int perr, rc;

	passwd = read_beneath(root, "etc/passwd");
	perr = errno;
	/* The group file only for a group given by name. */
	if (colon != NULL && number(colon + 1, strlen(colon + 1)) < 0)
		group = read_beneath(root, "etc/group");
	rc = sv_user_parse(spec, passwd, perr, group, where, uid, gid, err,
			   errlen);
	free(passwd);
	free(group);
	return rc;
}

int
sv_user_enter(const struct supervisor *sv)
{
	if (sv->sb.user == NULL)
		return 0;
	if (setresgid(sv->sb.in_gid, sv->sb.in_gid, sv->sb.in_gid) < 0 ||
	    setresuid(sv->sb.in_uid, sv->sb.in_uid, sv->sb.in_uid) < 0)
		return -errno;
	return 0;
}

/*
 * `pipewright run --sandbox none` as root in a checkout of another user:
 * the job runs as that user (--uid, --gid), so that what it leaves in
 * the checkout is the owner's and a later strict job (which runs as the
 * owner) can write it; a root-owned checkout keeps root's jobs.  Its HOME
 * (DIR/home) becomes the user's, DIR only traversable.  No isolation is
 * claimed: this is the developer's own account.
 */
int
sv_user_unconfined(const struct supervisor *sv)
{
	char *home;
	int rc = 0;

	if (sv->sb.uid == 0 || geteuid() != 0)
		return 0;
	home = xasprintf("%s/home", sv->dir);
	if (chown(home, sv->sb.uid, sv->sb.gid) < 0 || chmod(sv->dir, 0711) < 0 ||
	    setgroups(0, NULL) < 0 ||
	    setresgid(sv->sb.gid, sv->sb.gid, sv->sb.gid) < 0 ||
	    setresuid(sv->sb.uid, sv->sb.uid, sv->sb.uid) < 0)
		rc = -errno;
	free(home);
	return rc;
}
