/*
 * A workspace that is not the job's host uid's (a root-owned checkout run
 * by root, a tree a `--sandbox none` job left as root) is seen by the job
 * through an idmapped mount: its owner's ids on disk appear as the job's
 * host ids, so the job may write it, and what the job writes is stored
 * as the owner's.  Files on disk then never belong to an id the next
 * job, under either sandbox, cannot write.
 *
 * The mount's idmapping is a user namespace of its own mapping
 * "owner job 1" (uid and gid), made by a short-lived child that only
 * waits while we write its maps and take a descriptor of its namespace.
 * mount_setattr(MOUNT_ATTR_IDMAP) applies it to the detached tree
 * sv_mounts_prepare cloned, before the job's init attaches it.  Only host
 * root can do this (CAP_SYS_ADMIN in the initial namespace): an
 * unprivileged `run` works in the developer's own checkout, whose owner
 * is the job's host uid already.  Ids on disk other than the owner's
 * appear as the overflow id (nobody) and stay read-only to the job.
 *
 * When that owner is root, what the job writes is host root's on disk, so
 * a setuid or setgid bit it sets would make a root program on the host
 * (the workspace is nosuid only inside the job): init then adds a filter
 * that refuses those bits (seccomp.c, sv_seccomp_load_setid).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

/* A user namespace mapping on-disk owner ids to the job's; fd or -errno. */
static int
mapping_userns(uid_t ouid, gid_t ogid, uid_t juid, gid_t jgid)
{
	char map[64], path[64];
	int hold[2], rc, fd = -1;
	pid_t pid;
	char c;

	if (pipe2(hold, O_CLOEXEC) < 0)
		return -errno;
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL,
			     NULL, NULL);
	if (pid == 0) {
		close(hold[1]);
		/* Until we are done with its namespace: EOF. */
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	if (pid < 0) {
		rc = -errno;
		close(hold[1]);
		return rc;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ouid,
		 (unsigned)juid);
	rc = sv_proc_write(pid, "uid_map", map);
	if (rc == 0) {
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)ogid,
			 (unsigned)jgid);
		rc = sv_proc_write(pid, "gid_map", map);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/user", (long)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
	}
	close(hold[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc < 0 ? rc : fd;
}

int
sv_workspace_idmap(struct supervisor *sv, int tree_fd, const char *ws,
		   char *err, size_t errlen)
{
	struct mount_attr a;
	struct stat st;
	int ns, rc;

	if (sv->sb.rootless)
		return 0;
	if (stat(ws, &st) < 0) {
		snprintf(err, errlen, "workspace %s: %s", ws, strerror(errno));
		return -errno;
	}
	if (st.st_uid == sv->sb.uid)
		return 0;  /* the job's own, as the daemon makes them */
	ns = mapping_userns(st.st_uid, st.st_gid, sv->sb.uid, sv->sb.gid);
	if (ns < 0) {
		snprintf(err, errlen, "workspace %s (owner %u): a user namespace"
			 " for its idmapped mount: %s", ws, (unsigned)st.st_uid,
			 strerror(-ns));
		return ns;
	}
	memset(&a, 0, sizeof(a));
	a.attr_set = MOUNT_ATTR_IDMAP;
	a.userns_fd = (uint64_t)ns;
	rc = mount_setattr(tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a,
			   sizeof(a));
	if (rc < 0) {
		rc = -errno;
		snprintf(err, errlen, "workspace %s is owned by uid %u, not the "
			 "job's %u, and cannot be idmapped to it (Linux 5.12 "
			 "or later and a file system that supports idmapped "
			 "mounts are needed): %s", ws, (unsigned)st.st_uid,
			 (unsigned)sv->sb.uid, strerror(-rc));
	}
	close(ns);
	/* What the job makes is then root's on disk: no setuid, setgid. */
	sv->sb.ws_root_ids = rc == 0 && (st.st_uid == 0 || st.st_gid == 0);
	return rc < 0 ? rc : 0;
}
