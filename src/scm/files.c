/*
 * The file system side of scm: workspaces, the pipeline file, ownership.
 *
 * scm_read_file reads from a tree a repository chose, so every path in it
 * is hostile: a symlink anywhere on the way may point at /etc/shadow or
 * /proc/self/environ.  openat2(RESOLVE_BENEATH) has the kernel refuse any
 * resolution that leaves the workspace (absolute symlinks, "..", magic
 * links) in one call without races; where the kernel is older than 5.6 (or
 * a seccomp policy answers ENOSYS) the fallback resolves the path with
 * realpath and checks the result is beneath the workspace's own realpath.
 * The fallback has a window between check and open, acceptable only
 * because nothing else writes a workspace before its jobs run.
 *
 * scm_chown_tree walks with *at() calls relative to directory descriptors
 * opened with O_NOFOLLOW, so a symlink in the tree is changed itself,
 * never what it points at (pw_remove_tree removes trees the same way).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "scm-int.h"

int
scm_dir_prepare(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* lchown of everything in the directory dfd (closed here). */
static int
chown_in(int dfd, uid_t uid, gid_t gid)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0, sub;

	if (d == NULL) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((de = readdir(d)) != NULL && rc == 0) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fchownat(dirfd(d), de->d_name, uid, gid,
			     AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = openat(dirfd(d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			/* DT_UNKNOWN that is no directory: nothing inside. */
			if (errno != ENOTDIR && errno != ELOOP)
				rc = -errno;
			continue;
		}
		rc = chown_in(sub, uid, gid);
	}
	closedir(d);
	return rc;
}

int
scm_chown_tree(const char *dir, uid_t uid, gid_t gid)
{
	int dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fchown(dfd, uid, gid) < 0) {
		int rc = -errno;

		close(dfd);
		return rc;
	}
	return chown_in(dfd, uid, gid);
}

/* Relative, no empty or ".." component, not into .git. */
static bool
valid_path(const char *path)
{
	const char *p = path;
	size_t n;

	if (path == NULL || path[0] == '\0' || path[0] == '/')
		return false;
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0 || (n == 2 && memcmp(p, "..", 2) == 0))
			return false;
		if (p == path && n == 4 && memcmp(p, ".git", 4) == 0)
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

static int
open_beneath(int dfd, const char *path)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* The fallback: resolve, check the prefix, open what was checked. */
static int
open_checked(const char *workspace, const char *path)
{
	char base[PATH_MAX], real[PATH_MAX];
	char *joined = xasprintf("%s/%s", workspace, path);
	size_t blen;
	int fd;

	if (realpath(workspace, base) == NULL ||
	    realpath(joined, real) == NULL) {
		fd = -errno;
		free(joined);
		return fd;
	}
	free(joined);
	blen = strlen(base);
	if (strncmp(real, base, blen) != 0 || real[blen] != '/')
		return -EXDEV;
	fd = open(real, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW |
			O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
scm_read_file_how(const char *workspace, const char *path, size_t max,
		  bool use_openat2, char **out, size_t *len)
{
	struct stat sb;
	struct buf b;
	char chunk[16 * 1024];
	ssize_t n;
	int dfd, fd = -ENOSYS, rc = 0;

	if (workspace == NULL || !valid_path(path) || out == NULL || len == NULL)
		return -EINVAL;
	if (use_openat2) {
		dfd = open(workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		fd = open_beneath(dfd, path);
		close(dfd);
	}
	/* No openat2 here (EPERM: a seccomp policy that does not know it). */
	if (fd == -ENOSYS || fd == -EPERM)
		fd = open_checked(workspace, path);
	if (fd < 0)
		return fd;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	/* Capped again while reading: the file may have grown since. */
	buf_init(&b, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			rc = -EFBIG;
			break;
		}
	}
	if (n < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		buf_free(&b);
		goto out;
	}
	*len = b.len;
	*out = b.data != NULL ? buf_steal(&b) : xstrdup("");
out:
	close(fd);
	return rc;
}

int
scm_read_file(const char *workspace, const char *path, size_t max,
	      char **out, size_t *len)
{
	return scm_read_file_how(workspace, path, max, true, out, len);
}
