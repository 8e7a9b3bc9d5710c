/*
 * A run's workspace with a size limit (`sandbox.limits.workspace`): an
 * ext4 file system in a sparse file <workspace>.img of that size,
 * loop-mounted (nosuid, nodev) at the workspace from when the run is
 * next in line for a slot (jobws.c) until it ends.  A
 * job that writes past it gets ENOSPC; the host's disk holds at most the
 * file's size for the run, and only what was written.
 *
 * Why a loop file: the root file system has no project quotas, and a
 * sized tmpfs would hold the workspace in memory.  mkfs.ext4 and mount
 * are programs run through exec's helpers, off the event loop (each a
 * few hundredths of a second on a quiet machine; docs/internals/
 * sandbox.md has the measurement).  mount -o loop sets the loop device
 * to clear itself when the file system is released, so a lazy unmount
 * (wsfs_release) detaches the device as soon as no job holds the file
 * system any more.  There is no journal: a workspace does not outlive a
 * crash of its host (its run is checked out again).
 *
 * Only under the strict sandbox, where the daemon is root: unsandboxed
 * jobs write where they like anyway.
 *
 * A daemon started in a mount namespace of its own (systemd's
 * ProtectSystem= gives each start one) does not see the mounts of the
 * daemon before it.  A run it takes up keeps its workspace: wsfs_attach()
 * finds the loop device that still backs the image (the earlier mount
 * holds it, in the namespace the adopted jobs live in) and mounts that
 * device again here; the kernel shares one file system between both
 * mounts of a device, so both sides see the same files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"

#define WSFS_STEP_MS (60 * 1000)    /* each of mkfs and mount */
#define WSFS_MAX_OUTPUT 4096

struct wsfs {
	struct daemon *d;
	char *workspace;
	char *image;
	int step;                       /* 0: mkfs, 1: mount */
	wsfs_cb cb;
	void *arg;
};

static void
wsfs_end(struct wsfs *w, int rc, const char *why)
{
	if (rc < 0) {
		log_warnx("workspace %s: cannot give it a file system of its"
			  " own: %s", w->workspace, why != NULL ? why :
			  strerror(-rc));
		/* No workspace rather than one without its limit. */
		wsfs_release(w->workspace);
		pw_remove_tree(w->workspace);
	}
	w->cb(rc, w->arg);
	free(w->workspace);
	free(w->image);
	free(w);
}

static void wsfs_next(struct wsfs *w);

static void
step_done(int status, const char *output, size_t len, void *arg)
{
	struct wsfs *w = arg;
	char *lost;

	(void)len;
	if (status != 0) {
		wsfs_end(w, status < 0 ? status : -EIO,
			 status < 0 ? NULL : output);
		return;
	}
	if (++w->step == 1) {
		wsfs_next(w);
		return;
	}
	/* An empty workspace, as a fresh directory would be. */
	lost = xasprintf("%s/lost+found", w->workspace);
	(void)rmdir(lost);
	free(lost);
	wsfs_end(w, chmod(w->workspace, 0755) < 0 ? -errno : 0, NULL);
}

static void
wsfs_next(struct wsfs *w)
{
	const char *mkfs[] = {"mkfs.ext4", "-q", "-F", "-m", "0", "-O",
			      "^has_journal", "-E", "nodiscard", w->image,
			      NULL};
	const char *mount[] = {"mount", "-t", "ext4", "-o",
			       "loop,nosuid,nodev", w->image, w->workspace,
			       NULL};
	struct exec_helper_spec spec = {
		.argv = w->step == 0 ? mkfs : mount,
		.max_output = WSFS_MAX_OUTPUT,
		.timeout_ms = WSFS_STEP_MS,
	};
	int rc = exec_helper_spawn(w->d->exec, &spec, step_done, w);

	if (rc < 0)
		wsfs_end(w, rc, NULL);
}

uint64_t
wsfs_size(const struct config_project *p)
{
	if (p == NULL || config_project_sandbox(p) != CONFIG_SANDBOX_STRICT)
		return 0;
	return config_project_limits(p)->workspace;
}

void
wsfs_prepare(struct daemon *d, const char *workspace, uint64_t size,
	     wsfs_cb cb, void *arg)
{
	struct wsfs *w = xcalloc(1, sizeof(*w));
	int fd, rc = 0;

	w->d = d;
	w->workspace = xstrdup(workspace);
	w->image = xasprintf("%s.img", workspace);
	w->cb = cb;
	w->arg = arg;
	wsfs_release(workspace);
	pw_remove_tree(workspace);
	fd = open(w->image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = pw_mkdirs(workspace, 0755);
	if (rc < 0) {
		wsfs_end(w, rc, NULL);
		return;
	}
	wsfs_next(w);
}

void
wsfs_release(const char *workspace)
{
	char *image = xasprintf("%s.img", workspace);

	/* Lazy: a job still holding it keeps it until it lets go. */
	if (umount2(workspace, MNT_DETACH) < 0 && errno != EINVAL &&
	    errno != ENOENT)
		log_warn("workspace %s: umount", workspace);
	if (unlink(image) < 0 && errno != ENOENT)
		log_warn("workspace %s: unlink %s", workspace, image);
	free(image);
}

/* The loop device whose backing file is st, as /dev/loopN, or -ENOENT. */
static int
find_loop(const struct stat *st, char *dev, size_t len)
{
	struct loop_info64 info;
	struct dirent *de;
	DIR *dir = opendir("/sys/block");
	int fd, rc = -ENOENT;

	if (dir == NULL)
		return -errno;
	while (rc == -ENOENT && (de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(dev, len, "/dev/%s", de->d_name);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0 &&
		    info.lo_device == st->st_dev &&
		    info.lo_inode == st->st_ino)
			rc = 0;
		close(fd);
	}
	closedir(dir);
	return rc;
}

int
wsfs_attach(const char *workspace)
{
	char *image = xasprintf("%s.img", workspace), *parent, dev[300];
	struct stat ist, wst, pst;
	int rc = 0;

	parent = xasprintf("%s/..", workspace);
	if (stat(image, &ist) < 0)
		rc = errno == ENOENT ? 0 : -errno;    /* a plain directory */
	else if (stat(workspace, &wst) < 0 || stat(parent, &pst) < 0)
		rc = -errno;
	else if (wst.st_dev != pst.st_dev)
		rc = 0;                               /* mounted here already */
	else if ((rc = find_loop(&ist, dev, sizeof(dev))) == 0 &&
		 mount(dev, workspace, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
		rc = -errno;
	if (rc < 0)
		log_warnx("workspace %s: cannot mount its file system again:"
			  " %s", workspace, strerror(-rc));
	free(parent);
	free(image);
	return rc;
}
