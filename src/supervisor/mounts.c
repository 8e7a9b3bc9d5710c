/*
 * The job's filesystem, built in its fresh mount namespace by its init.
 *
 * A tmpfs becomes the new root (read-only once built) with, at the same
 * paths as on the host: the system directories bound read-only (/usr,
 * /etc, /bin, /sbin, /lib*, /opt; symlinks such as /bin -> usr/bin copied
 * as symlinks), the workspace bound writable (at --workspace-at if
 * given, such as /builds/<project>: every job of a project then sees
 * its workspace at one path, and absolute paths a build tree records
 * stay valid in the next job's workspace), a private tmpfs at the
 * attempt's HOME and at /tmp, a proc of the job's own PID namespace with /proc/sys
 * read-only and /proc/sysrq-trigger and /proc/kcore covered by /dev/null,
 * no /sys, and a minimal /dev: null, zero, full, random, urandom and tty
 * bound from the host, a new devpts instance for /dev/pts and /dev/ptmx,
 * a tmpfs /dev/shm.  Nothing else of the host is there: the daemon's data
 * directory (its database, other attempts, secret files) is simply not in
 * the tree, and of the attempt's home/ only its path is (it stays empty).
 *
 * With --rootfs an image's tree takes the system directories' place
 * (rootfs.c: idmapped, under an overlay, entered before anything else is
 * mounted, so its symlinks resolve inside it).  The admin's --mount paths
 * are bound read-only at their own paths after the system directories
 * (or the image), so /opt/rust lands inside /opt.
 *
 * HOME, /tmp and /dev/shm are tmpfs mounted by the init, so their pages
 * are charged to the job's memory cgroup, and each has an explicit size:
 * the job's memory limit, or SV_TMPFS_CAP without one.  A job that fills
 * them meets ENOSPC or its memory limit, never the daemon's disk (the
 * attempt directories sit beside the database) nor half the host's RAM.
 *
 * The sources are cloned by the supervisor while it is still host root
 * (sv_mounts_prepare: open_tree(OPEN_TREE_CLONE), made read-only, nosuid
 * and nodev with mount_setattr where they should be), and the init only
 * attaches them with move_mount: the init runs as an unprivileged host
 * uid and could not even look up a workspace below a 0700 directory such
 * as /root, and a plain bind from a descriptor of the host's mount
 * namespace is refused in a new one.  AT_RECURSIVE makes mounts below a
 * system directory read-only too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervisor.h"

#define STAGE "/tmp"     /* where the new root is built before pivot_root */
/* A job's tmpfs (HOME, /tmp, /dev/shm) when it has no memory limit. */
#define SV_TMPFS_CAP (1024ULL * 1024 * 1024)

static const char *const system_dirs[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc", "/opt",
};
static const char *const devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
	"/dev/tty",
};

/* System directories read-only; nothing of ours setuid or a device. */
static int
mount_attrs(int fd, bool writable)
{
	struct mount_attr a;

	memset(&a, 0, sizeof(a));
	a.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		     (writable ? 0 : MOUNT_ATTR_RDONLY);
	return mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a,
			     sizeof(a));
}

/* host's path bound at `at` inside (NULL: at the same path). */
static int
add_bind(struct supervisor *sv, const char *path, const char *at,
	 bool writable, char *err, size_t errlen)
{
	struct sv_bind *b;
	struct stat st;
	char link[PATH_MAX];
	ssize_t n;

	if (sv->sb.nbinds >= SV_MAX_BINDS) {
		snprintf(err, errlen, "too many mounts");
		return -E2BIG;
	}
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT && !writable)
			return 0;  /* a system directory this host lacks */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	b = &sv->sb.binds[sv->sb.nbinds];
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (S_ISLNK(st.st_mode) && !writable) {
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return 0;
		link[n] = '\0';
		b->link = xstrdup(link);
	} else {
		b->file = !S_ISDIR(st.st_mode);
		b->fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE |
				  OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (b->fd < 0) {
			snprintf(err, errlen, "open_tree %s: %s", path,
				 strerror(errno));
			return -errno;
		}
		/* Writable files are /dev's nodes, which nodev would break;
		 * a read-only file (an admin's --mount) is read-only too. */
		if ((!b->file || !writable) &&
		    mount_attrs(b->fd, writable) < 0) {
			snprintf(err, errlen, "mount_setattr %s: %s", path,
				 strerror(errno));
			close(b->fd);
			b->fd = -1;
			return -errno;
		}
	}
	b->path = xstrdup(at != NULL ? at : path);
	b->writable = writable;
	sv->sb.nbinds++;
	return 0;
}

/* path is, or lies below, dir. */
static bool
below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
					       path[n] == '/');
}

/*
 * A workspace's mount point: absolute, plain components, and clear of
 * what the root is built from (a bind there would hide or be hidden).
 */
static bool
plain_path(const char *at)
{
	const char *p = at;
	size_t n;

	if (at[0] != '/' || at[1] == '\0' || strlen(at) >= PATH_MAX - 8)
		return false;
	while (*p == '/') {
		p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

static bool
mount_point_ok(const char *at, const char *home)
{
	static const char *const taken[] = {"/dev", "/proc"};
	size_t i;

	if (!plain_path(at))
		return false;
	for (i = 0; i < PW_ARRAY_LEN(system_dirs); i++)
		if (below(at, system_dirs[i]))
			return false;
	for (i = 0; i < PW_ARRAY_LEN(taken); i++)
		if (below(at, taken[i]))
			return false;
	return !below(at, home) && !below(home, at);
}

/*
 * The admin's host paths (--mount), bound read-only at the same path:
 * plain absolute paths that neither cover nor lie in what the sandbox
 * mounts itself (/dev, /proc, /tmp, HOME, the workspace), so no mount
 * hides another.  A path that is not there is an error, not a skip: the
 * admin asked for it.
 */
static int
add_mounts(struct supervisor *sv, const char *ws_at, char *err,
	   size_t errlen)
{
	static const char *const taken[] = {"/dev", "/proc", "/tmp"};
	char real[PATH_MAX];
	const char *m;
	size_t i, k;
	bool ok;
	int rc;

	for (i = 0; i < sv->sb.nmounts; i++) {
		m = sv->sb.mounts[i];
		/* A system directory (/opt/rust) is fine: a toolchain in
		 * the image's /opt or over the host's. */
		ok = plain_path(m) && !below(m, ws_at) && !below(ws_at, m) &&
		     !below(m, sv->sb.home) && !below(sv->sb.home, m);
		for (k = 0; ok && k < PW_ARRAY_LEN(taken); k++)
			ok = !below(m, taken[k]);
		if (!ok) {
			snprintf(err, errlen, "--mount %s: expected an absolute"
				 " path without . or .. clear of /dev, /proc, "
				 "/tmp, HOME and the workspace", m);
			return -EINVAL;
		}
		/* What a symlink names is bound, at the path as written. */
		if (realpath(m, real) == NULL) {
			rc = -errno;
			snprintf(err, errlen, "--mount %s: %s", m,
				 strerror(-rc));
			return rc;
		}
		if ((rc = add_bind(sv, real, m, false, err, errlen)) < 0)
			return rc;
	}
	return 0;
}

int
sv_mounts_prepare(struct supervisor *sv, char *err, size_t errlen)
{
	char ws[PATH_MAX], home[PATH_MAX], *h;
	size_t i;
	int rc;

	/* An image's root replaces the host's system directories. */
	if ((rc = sv_rootfs_prepare(sv, err, errlen)) < 0)
		return rc;
	for (i = 0; sv->sb.rootfs == NULL && i < PW_ARRAY_LEN(system_dirs);
	     i++)
		if ((rc = add_bind(sv, system_dirs[i], NULL, false, err,
				   errlen)) < 0)
			return rc;
	/* Devices are written to; their mount keeps the host's flags. */
	for (i = 0; i < PW_ARRAY_LEN(devices); i++)
		if ((rc = add_bind(sv, devices[i], NULL, true, err,
				   errlen)) < 0)
			return rc;
	if (realpath(sv->sb.workspace, ws) == NULL) {
		snprintf(err, errlen, "workspace %s: %s", sv->sb.workspace,
			 strerror(errno));
		return -errno;
	}
	h = xasprintf("%s/home", sv->dir);
	if (realpath(h, home) == NULL) {
		snprintf(err, errlen, "%s: %s", h, strerror(errno));
		free(h);
		return -errno;
	}
	free(h);
	sv->sb.home = xstrdup(home);
	if (sv->sb.workspace_at != NULL &&
	    !mount_point_ok(sv->sb.workspace_at, home)) {
		snprintf(err, errlen, "--workspace-at %s: expected an absolute"
			 " path without . or .. outside the system "
			 "directories, /dev, /proc and HOME",
			 sv->sb.workspace_at);
		return -EINVAL;
	}
	rc = add_mounts(sv, sv->sb.workspace_at != NULL ? sv->sb.workspace_at
			: ws, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = add_bind(sv, ws, sv->sb.workspace_at, true, err, errlen)) < 0)
		return rc;
	/* Another's workspace appears as the job's own (idmap.c). */
	return sv_workspace_idmap(sv, sv->sb.binds[sv->sb.nbinds - 1].fd, ws,
				  err, errlen);
}

/* mkdir -p; the last component too unless `file` (then an empty file). */
static int
make_path(const char *path, bool file)
{
	char p[PATH_MAX];
	int fd, rc;

	if (!file)
		return pw_mkdirs(path, 0755);
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	*strrchr(p, '/') = '\0';  /* absolute: there is one */
	if (p[0] != '\0' && (rc = pw_mkdirs(p, 0755)) < 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The flags a read-only remount must keep (the kernel locks them). */
static unsigned long
locked_flags(const char *target)
{
	struct statvfs v;
	unsigned long f = 0;

	if (statvfs(target, &v) < 0)
		return 0;
	if (v.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (v.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (v.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (v.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (v.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (v.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int
remount_ro(const char *target, unsigned long extra)
{
	return mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
		     MS_NOSUID | extra | locked_flags(target), NULL);
}

#define FAIL(...) do { \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1; \
	} while (0)

static int
bind_one(const char *stage, const struct sv_bind *b, char *err, size_t errlen)
{
	char target[PATH_MAX];
	int rc;

	snprintf(target, sizeof(target), "%s%s", stage, b->path);
	if (b->link != NULL) {
		if (symlink(b->link, target) < 0 && errno != EEXIST)
			FAIL("symlink %s: %s", b->path, strerror(errno));
		return 0;
	}
	rc = make_path(target, b->file);
	if (rc < 0)
		FAIL("mkdir %s: %s", b->path, strerror(-rc));
	if (move_mount(b->fd, "", AT_FDCWD, target,
		       MOVE_MOUNT_F_EMPTY_PATH) < 0)
		FAIL("attaching %s: %s", b->path, strerror(errno));
	return 0;
}

static int
mount_at(const char *stage, const char *what, const char *rel,
	 const char *type, unsigned long flags, const char *opts, char *err,
	 size_t errlen)
{
	char target[PATH_MAX];
	struct stat st;

	snprintf(target, sizeof(target), "%s%s", stage, rel);
	/* An image's symlink or file there is replaced (in the overlay). */
	if (lstat(target, &st) == 0 && !S_ISDIR(st.st_mode) &&
	    unlink(target) < 0)
		FAIL("replacing %s: %s", rel, strerror(errno));
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		FAIL("mkdir %s: %s", rel, strerror(errno));
	if (mount(what, target, type, flags, opts) < 0)
		FAIL("mount %s on %s: %s", type, rel, strerror(errno));
	return 0;
}

/* A tmpfs of the job's own: `mode`, and the size the file's top says. */
static int
mount_tmpfs(const char *stage, const struct supervisor *sv, const char *rel,
	    unsigned long flags, const char *mode, char *err, size_t errlen)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "mode=%s,size=%llu", mode,
		 (unsigned long long)(sv->sb.memory > 0 ? sv->sb.memory
							: SV_TMPFS_CAP));
	return mount_at(stage, "tmpfs", rel, "tmpfs", flags, opts, err,
			errlen);
}

/*
 * /proc as Docker leaves it: /proc/sys read-only; files that show the
 * host's kernel state (keys of any uid mapped here, timers and scheduler
 * internals with kernel addresses, latency traces, kernel memory) or act on
 * the host (sysrq) covered by the job's /dev/null, so they read empty;
 * directories of host hardware covered by an empty read-only tmpfs.  An
 * entry this kernel does not have is skipped.  The job, without
 * capabilities and with umount denied by seccomp, cannot uncover them.
 */
static int
mask_proc(const char *stage, char *err, size_t errlen)
{
	static const char *const covered[] = {
		"/proc/sysrq-trigger", "/proc/kcore", "/proc/keys",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/latency_stats",
	};
	static const char *const emptied[] = {
		"/proc/acpi", "/proc/scsi", "/proc/asound",
	};
	char target[PATH_MAX], null[PATH_MAX];
	size_t i;

	snprintf(null, sizeof(null), "%s/dev/null", stage);
	snprintf(target, sizeof(target), "%s/proc/sys", stage);
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    remount_ro(target, MS_NODEV | MS_NOEXEC) < 0)
		FAIL("read-only /proc/sys: %s", strerror(errno));
	for (i = 0; i < PW_ARRAY_LEN(covered); i++) {
		snprintf(target, sizeof(target), "%s%s", stage, covered[i]);
		if (access(target, F_OK) == 0 &&
		    mount(null, target, NULL, MS_BIND, NULL) < 0)
			FAIL("cover %s: %s", covered[i], strerror(errno));
	}
	for (i = 0; i < PW_ARRAY_LEN(emptied); i++) {
		snprintf(target, sizeof(target), "%s%s", stage, emptied[i]);
		if (access(target, F_OK) == 0 &&
		    mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID |
			  MS_NODEV | MS_NOEXEC, "mode=0555,size=4k") < 0)
			FAIL("cover %s: %s", emptied[i], strerror(errno));
	}
	return 0;
}

static int
make_dev(const char *stage, const struct supervisor *sv, char *err,
	 size_t errlen)
{
	static const char *const links[][2] = {
		{"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	};
	char target[PATH_MAX];
	size_t i;

	if (mount_at(stage, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		     "mode=0755,size=64k", err, errlen) < 0)
		return -1;
	for (i = 0; i < sv->sb.nbinds; i++)
		if (strncmp(sv->sb.binds[i].path, "/dev/", 5) == 0 &&
		    bind_one(stage, &sv->sb.binds[i], err, errlen) < 0)
			return -1;
	if (mount_at(stage, "devpts", "/dev/pts", "devpts",
		     MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
		     err, errlen) < 0 ||
	    mount_tmpfs(stage, sv, "/dev/shm",
			MS_NOSUID | MS_NODEV | MS_NOEXEC, "1777", err,
			errlen) < 0)
		return -1;
	for (i = 0; i < PW_ARRAY_LEN(links); i++) {
		snprintf(target, sizeof(target), "%s%s", stage, links[i][1]);
		if (symlink(links[i][0], target) < 0)
			FAIL("symlink %s: %s", links[i][1], strerror(errno));
	}
	return 0;
}

/*
 * A granted network's resolv.conf (slirp.c) over the host's, when that is
 * a file; a symlink (to a resolver's runtime directory, absent here) is
 * left alone and the job resolves as the host's file says.
 */
static int
resolv_conf(const char *stage, const struct supervisor *sv, char *err,
	    size_t errlen)
{
	char target[PATH_MAX];
	struct stat st;

	snprintf(target, sizeof(target), "%s/etc/resolv.conf", stage);
	if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (move_mount(sv->sb.resolv_fd, "", AT_FDCWD, target,
		       MOVE_MOUNT_F_EMPTY_PATH) < 0)
		FAIL("attaching /etc/resolv.conf: %s", strerror(errno));
	return 0;
}

/* Into the staged root; the host's is detached from the namespace. */
static int
enter(char *err, size_t errlen)
{
	if (chdir(STAGE) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		FAIL("pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		FAIL("detaching the host's root: %s", strerror(errno));
	return 0;
}

/*
 * The host's root: a tmpfs at STAGE is built up and entered last.  An
 * image's root (--rootfs) is entered first and built up in place
 * (stage ""): its symlinks (an absolute /var, /etc/resolv.conf ->
 * /run/...) then resolve inside the image as the job will see them,
 * never into the host's tree while mount points are made through them.
 */
int
sv_mounts_setup(const struct supervisor *sv, char *err, size_t errlen)
{
	const char *stage = STAGE;
	char target[PATH_MAX];
	size_t i;
	int rc;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL("making mounts private: %s", strerror(errno));
	if (sv->sb.rootfs != NULL) {
		/*
		 * proc before entering: a user namespace may mount a proc
		 * only where one is fully visible in its mount namespace,
		 * and the host's goes with the pivot.  mount_at replaces
		 * an image's symlink there (to anywhere) by a directory.
		 */
		if (sv_rootfs_stage(sv, STAGE, err, errlen) < 0 ||
		    mount_at(STAGE, "proc", "/proc", "proc",
			     MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err,
			     errlen) < 0 || enter(err, errlen) < 0)
			return -1;
		stage = "";
		if (sv_rootfs_hosts(sv, stage, err, errlen) < 0)
			return -1;
	} else if (mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV,
			 "mode=0755,size=1m") < 0) {
		FAIL("mount tmpfs root: %s", strerror(errno));
	}
	/* System directories first, then the admin's mounts below them. */
	for (i = 0; i < sv->sb.nbinds; i++)
		if (!sv->sb.binds[i].writable &&
		    bind_one(stage, &sv->sb.binds[i], err, errlen) < 0)
			return -1;
	if (sv->sb.resolv_fd >= 0 && resolv_conf(stage, sv, err, errlen) < 0)
		return -1;
	if (make_dev(stage, sv, err, errlen) < 0)
		return -1;
	if ((sv->sb.rootfs == NULL &&
	     mount_at(stage, "proc", "/proc", "proc",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err, errlen) < 0) ||
	    mask_proc(stage, err, errlen) < 0)
		return -1;
	if (mount_tmpfs(stage, sv, "/tmp", MS_NOSUID | MS_NODEV, "1777", err,
			errlen) < 0)
		return -1;
	/* The workspace and HOME last: they may lie below /tmp. */
	for (i = 0; i < sv->sb.nbinds; i++)
		if (sv->sb.binds[i].writable &&
		    strncmp(sv->sb.binds[i].path, "/dev/", 5) != 0 &&
		    bind_one(stage, &sv->sb.binds[i], err, errlen) < 0)
			return -1;
	/* HOME after the workspace: `run`'s TMPDIR may be below it. */
	snprintf(target, sizeof(target), "%s%s", stage, sv->sb.home);
	if ((rc = make_path(target, false)) < 0)
		FAIL("mkdir %s: %s", sv->sb.home, strerror(-rc));
	if (mount_tmpfs(stage, sv, sv->sb.home, MS_NOSUID | MS_NODEV, "0700",
			err, errlen) < 0)
		return -1;
	/* `user:` (ns.c) owns its HOME. */
	if (sv->sb.user != NULL &&
	    chown(target, sv->sb.in_uid, sv->sb.in_gid) < 0)
		FAIL("chown %s: %s", sv->sb.home, strerror(errno));
	if (sv->sb.rootfs == NULL && enter(err, errlen) < 0)
		return -1;
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID |
		  MS_NODEV, NULL) < 0)
		FAIL("read-only root: %s", strerror(errno));
	return 0;
}
