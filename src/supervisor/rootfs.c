/*
 * --rootfs DIR: a ready directory tree (an unpacked image) becomes the
 * job's `/` instead of the host's system directories.
 *
 * The tree is the image cache's, shared by every job that uses it, so it
 * is never written: the supervisor (host root) clones it with
 * open_tree(OPEN_TREE_CLONE) and makes the clone read-only, nosuid and
 * nodev.  Its files belong to host ids as unpacked (root's are host
 * root's), which the job's user namespace does not map: once the job's
 * uid_map is written, the clone is made an idmapped mount through that
 * very namespace (MOUNT_ATTR_IDMAP), so a file of on-disk uid N shows as
 * uid N inside: the image's root-owned files are the job's root's, its
 * `nobody` is nobody.  Only this clone is idmapped; the tree on disk and
 * other jobs' clones are untouched.  Not recursive: mounts below the tree
 * on the host stay out of the job.
 *
 * The init cannot make mount points in a read-only tree (the workspace's
 * path, the attempt's HOME, an admin mount below /opt), and they are not
 * the image's to provide.  So the clone is the lower layer of an overlay
 * whose upper layer is a small tmpfs of the job's: the mount points are
 * made there, and the whole root is remounted read-only before the job
 * runs (mounts.c), as the host-root layout is.  Nothing a job does
 * reaches the tree on disk: the lower layer is read-only twice over.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

/* The overlay's scratch: upper and work layers hold mount points only. */
#define SCRATCH_OPTS "mode=0755,size=4m"

int
sv_rootfs_prepare(struct supervisor *sv, char *err, size_t errlen)
{
	struct mount_attr a;
	struct stat st;
	int rc;

	if (sv->sb.rootfs == NULL)
		return 0;
	if (sv->sb.rootfs[0] != '/' || strcmp(sv->sb.rootfs, "/") == 0) {
		snprintf(err, errlen, "--rootfs %s: expected an absolute path "
			 "to a directory other than /", sv->sb.rootfs);
		return -EINVAL;
	}
	rc = stat(sv->sb.rootfs, &st) < 0 ? -errno :
	     !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;
	if (rc < 0) {
		snprintf(err, errlen, "--rootfs %s: %s", sv->sb.rootfs,
			 strerror(-rc));
		return rc;
	}
	sv->sb.rootfs_fd = open_tree(AT_FDCWD, sv->sb.rootfs,
				     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (sv->sb.rootfs_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "--rootfs %s: open_tree: %s",
			 sv->sb.rootfs, strerror(-rc));
		return rc;
	}
	memset(&a, 0, sizeof(a));
	a.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (mount_setattr(sv->sb.rootfs_fd, "", AT_EMPTY_PATH, &a,
			  sizeof(a)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--rootfs %s: read-only: %s",
			 sv->sb.rootfs, strerror(-rc));
		return rc;
	}
	return 0;
}

int
sv_rootfs_idmap(struct supervisor *sv, pid_t pid, char *err, size_t errlen)
{
	struct mount_attr a;
	char path[64];
	int fd, rc = 0;

	if (sv->sb.rootfs_fd < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "the job's user namespace: %s",
			 strerror(-rc));
		return rc;
	}
	memset(&a, 0, sizeof(a));
	a.attr_set = MOUNT_ATTR_IDMAP;
	a.userns_fd = (uint64_t)fd;
	if (mount_setattr(sv->sb.rootfs_fd, "", AT_EMPTY_PATH, &a,
			  sizeof(a)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--rootfs %s: idmapped mount: %s (its "
			 "file system must support idmapped mounts: ext4, "
			 "xfs, btrfs, tmpfs...)", sv->sb.rootfs,
			 strerror(-rc));
	}
	close(fd);
	return rc;
}

#define FAIL(...) do { \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1; \
	} while (0)

int
sv_rootfs_stage(const struct supervisor *sv, const char *stage, char *err,
		size_t errlen)
{
	static const char *const dirs[] = {"lower", "upper", "work"};
	char p[PATH_MAX], opts[3 * PATH_MAX];
	size_t i;

	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV,
		  SCRATCH_OPTS) < 0)
		FAIL("mount tmpfs scratch: %s", strerror(errno));
	for (i = 0; i < PW_ARRAY_LEN(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", stage, dirs[i]);
		if (mkdir(p, 0755) < 0)
			FAIL("mkdir %s: %s", p, strerror(errno));
	}
	snprintf(p, sizeof(p), "%s/lower", stage);
	if (move_mount(sv->sb.rootfs_fd, "", AT_FDCWD, p,
		       MOVE_MOUNT_F_EMPTY_PATH) < 0)
		FAIL("attaching the root %s: %s", sv->sb.rootfs,
		     strerror(errno));
	/*
	 * Over the scratch itself: the layers' paths are resolved when the
	 * overlay is made, and the scratch goes with the host's root at the
	 * pivot.  userxattr: the overlay's own attributes in user.* (a
	 * user namespace may not write trusted.*).
	 */
	snprintf(opts, sizeof(opts), "lowerdir=%s/lower,upperdir=%s/upper,"
		 "workdir=%s/work,userxattr", stage, stage, stage);
	if (mount("overlay", stage, "overlay", MS_NOSUID | MS_NODEV,
		  opts) < 0)
		FAIL("overlay over the root %s: %s", sv->sb.rootfs,
		     strerror(errno));
	return 0;
}

/* path (below the stage) as a regular file: whatever was there goes. */
static int
make_file(const char *path, const char *text, char *err, size_t errlen)
{
	struct stat st;
	int fd;
	size_t len = strlen(text);

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		FAIL("%s is a directory", path);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		FAIL("creating %s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		FAIL("writing %s: %s", path, strerror(errno));
	}
	close(fd);
	return 0;
}

/*
 * The image's /etc/hosts names nothing of this sandbox, and may be absent:
 * the job gets one for its loopback and its host name when it has the
 * network, or when the image brings none.  A granted network's
 * resolv.conf needs a file to be bound over: made the same way.
 */
int
sv_rootfs_hosts(const struct supervisor *sv, const char *stage, char *err,
		size_t errlen)
{
	static const char hosts[] =
		"127.0.0.1\tlocalhost pipewright\n"
		"::1\tlocalhost ip6-localhost ip6-loopback\n";
	char p[PATH_MAX];
	struct stat st;

	if (sv->sb.rootfs == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s/etc", stage);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		FAIL("mkdir /etc: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/etc/hosts", stage);
	if ((sv->sb.network || lstat(p, &st) < 0) &&
	    make_file(p, hosts, err, errlen) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/resolv.conf", stage);
	if (sv->sb.resolv_fd >= 0 &&
	    (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) &&
	    make_file(p, "", err, errlen) < 0)
		return -1;
	return 0;
}
