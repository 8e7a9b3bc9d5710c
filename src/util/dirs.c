/*
 * Directories made with their parents (mkdir -p) and removed whole
 * (rm -rf): the daemon's data directory, workspaces and mirrors, an
 * attempt's directory, the paths the supervisor mounts onto.
 *
 * No allocation (a PATH_MAX buffer on the stack) and nothing but libc,
 * so that the supervisor can use them between clone and exec.  The
 * removal never follows a symbolic link: each directory is opened with
 * O_NOFOLLOW and emptied through its descriptor, so a link a job left in
 * its workspace is removed, not what it points to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipewright/util.h"

int
pw_mkdirs(const char *path, mode_t mode)
{
	char p[PATH_MAX], *s;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	if (p[0] == '\0')
		return -ENOENT;
	/*
	 * Most calls make one directory in a parent that exists (each
	 * attempt's, each job's workspace): try it first, one mkdir instead
	 * of one per component (12 calls per job in the daemon, all but the
	 * last answering EEXIST).  Only a missing parent walks the path.
	 */
	if (mkdir(p, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/* Empties the directory dfd (closed here); the first error, or 0. */
static int
remove_in(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0, sub, err;

	if (d == NULL) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* ENOENT: gone meanwhile, which is what we wanted. */
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = rc < 0 ? rc : -errno;
			continue;
		}
		sub = openat(dirfd(d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			err = -errno;
		else if ((err = remove_in(sub)) == 0 &&
			 unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			err = -errno;
		if (err < 0 && rc == 0)
			rc = err; /* the nested failure's own code, not errno */
	}
	closedir(d);
	return rc;
}

int
pw_remove_tree(const char *path)
{
	int dfd, rc, pass;

	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	/*
	 * A rename inside the tree during the walk (a job's supervisor
	 * publishing its status file as its attempt's directory goes) can
	 * hide the new name from readdir: the directory is then not empty,
	 * and a second walk finds it.
	 */
	for (pass = 0; pass < 3; pass++) {
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			   O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		rc = remove_in(dfd);
		if (rc == 0 && rmdir(path) < 0)
			rc = -errno;
		if (rc != -ENOTEMPTY)
			break;
	}
	return rc;
}
