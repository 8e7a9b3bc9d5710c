/*
 * Starting the job in its sandbox (--sandbox strict), from the freshly
 * exec'd supervisor: never from the daemon, whose libuv process must not
 * fork into namespaces.
 *
 * While still host root the supervisor checks what strict needs (the
 * job's HOME is a tmpfs of its own, mounts.c: the attempt's home/ is
 * left as it is, root's and empty), opens the mount sources,
 * makes the job's cgroups, resets the CPU affinity and, for a job without
 * `network: true`, joins the pre-made empty network namespace exec handed
 * over (or asks clone for a new one); a job granted the network gets one
 * with outbound access (slirp.c), joined the same way.  Then one clone() with new user,
 * PID, mount, IPC and UTS namespaces: the child is PID 1 of the job
 * (init.c).  It waits on a pipe until the parent has written its uid/gid
 * maps and put it in the cgroups, so that nothing of the job runs
 * unmapped or unlimited.
 *
 * The job's root (uid 0 inside) is the host uid of --uid (the daemon's
 * per-run id from its `job_ids`, `run`'s checkout owner), or else the
 * workspace's owner; its gid is --gid or equal to the uid, never the
 * workspace's group, and init drops every supplementary group.  Host
 * root is refused (a job never runs as host root).
 * Inside uids 1..65535 map to SV_SUBID_BASE+1.. for tools that chown.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

#define SV_SUBID_BASE 1000000000U

static int
write_map(pid_t pid, const char *file, unsigned id)
{
	char path[64], map[128];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	snprintf(map, sizeof(map), "0 %u 1\n1 %u 65535\n", id,
		 SV_SUBID_BASE + 1);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, map, strlen(map));
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void
reset_affinity(void)
{
	cpu_set_t all;
	long n = sysconf(_SC_NPROCESSORS_CONF), i;

	CPU_ZERO(&all);
	for (i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	if (sched_setaffinity(0, sizeof(all), &all) < 0)
		sv_warn("resetting the CPU affinity");
}

/*
 * Who the job runs as; *why if nobody suitable.  --uid/--gid say it (the
 * daemon's per-run ids, `run`'s checkout owner and that user's primary
 * group), and nothing else does: never the workspace's owner or group (a
 * checkout that belongs to group shadow must not make a job a member of
 * it).  Without --gid it equals the uid.
 */
static int
pick_owner(struct supervisor *sv, char **why)
{
	struct stat st;

	if (stat(sv->sb.workspace, &st) < 0) {
		*why = xasprintf("workspace %s: %s", sv->sb.workspace,
				 strerror(errno));
		return -errno;
	}
	if (sv->sb.uid == 0) {
		*why = xstrdup("the strict sandbox needs the job's host uid "
			       "(--uid, never root): it does not take one "
			       "from the workspace");
		return -EPERM;
	}
	if (sv->sb.gid == 0)
		sv->sb.gid = sv->sb.uid;
	return 0;
}

static int
prepare(struct supervisor *sv, char **why)
{
	char err[512];
	int rc;

	if (geteuid() != 0) {
		*why = xstrdup("the strict sandbox needs root (to map the job's "
			       "user, make its cgroups and mounts): run "
			       "pipewright as root, or use --sandbox none to "
			       "run without isolation");
		return -EPERM;
	}
	if (sv->sb.workspace == NULL)
		sv->sb.workspace = sv->cwd != NULL ? sv->cwd : ".";
	if ((rc = pick_owner(sv, why)) < 0)
		return rc;
	if ((rc = sv_mounts_prepare(sv, err, sizeof(err))) < 0) {
		*why = xstrdup(err);
		return rc;
	}
	if ((rc = sv_cgroup_create(sv, why)) < 0)
		return rc;
	reset_affinity();
	/* Granted network: a namespace of its own, never the host's. */
	if (sv->sb.network && (rc = sv_slirp_start(sv, why)) < 0)
		return rc;
	if (!sv->sb.network && sv->sb.netns_fd >= 0) {
		if (setns(sv->sb.netns_fd, CLONE_NEWNET) < 0) {
			rc = -errno;
			*why = xasprintf("joining the pooled network namespace: "
					 "%s", strerror(-rc));
			return rc;
		}
		sv->sb.netns_joined = true;
	}
	if (sv->sb.netns_fd >= 0) {
		close(sv->sb.netns_fd);
		sv->sb.netns_fd = -1;
	}
	return 0;
}

int
sv_sandbox_start(struct supervisor *sv, int out_wr, char **why)
{
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS |
			      CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	int sync[2] = {-1, -1}, report[2] = {-1, -1}, rc;
	pid_t pid;
	char c = 0, err[512];

	if ((rc = prepare(sv, why)) < 0)
		return rc;
	/* No pooled namespace: the clone makes one (~1 ms more). */
	if (!sv->sb.netns_joined)
		flags |= CLONE_NEWNET;
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		rc = -errno;
		*why = xasprintf("pipe: %s", strerror(-rc));
		goto out;
	}
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		close(report[0]);
		if (read(sync[0], &c, 1) != 1)
			_exit(1);  /* the parent gave up on us */
		close(sync[0]);
		sv_init_main(sv, out_wr, report[1]);
	}
	if (pid < 0) {
		rc = -errno;
		*why = xasprintf("cannot create the job's namespaces (clone: "
				 "%s): user namespaces may be disabled "
				 "(sysctl user.max_user_namespaces) or we lack "
				 "CAP_SYS_ADMIN; or use --sandbox none",
				 strerror(-rc));
		goto out;
	}
	if ((rc = write_map(pid, "uid_map", sv->sb.uid)) < 0 ||
	    (rc = write_map(pid, "gid_map", sv->sb.gid)) < 0) {
		*why = xasprintf("writing the job's uid/gid map: %s",
				 strerror(-rc));
	} else if ((rc = sv_rootfs_idmap(sv, pid, err, sizeof(err))) < 0) {
		*why = xstrdup(err);
	} else if ((rc = sv_cgroup_enter(sv, pid)) < 0) {
		*why = xasprintf("moving the job into its cgroups: %s",
				 strerror(-rc));
	} else if (write(sync[1], &c, 1) != 1) {
		rc = -errno;
		*why = xasprintf("releasing the job: %s", strerror(-rc));
	}
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	sv->sb.status_rd = report[0];
	report[0] = -1;
	rc = pid;
out:
	if (rc < 0)
		sv_slirp_stop(sv);
	if (sync[0] >= 0)
		close(sync[0]);
	if (sync[1] >= 0)
		close(sync[1]);
	if (report[0] >= 0)
		close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	return rc;
}

void
sv_sandbox_reaped(struct supervisor *sv, int *wstatus)
{
	char buf[600];
	ssize_t n;

	sv_slirp_stop(sv);
	if (sv->sb.status_rd < 0)
		return;
	do {
		n = read(sv->sb.status_rd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	close(sv->sb.status_rd);
	sv->sb.status_rd = -1;
	if (n <= 0)
		return;  /* init was killed before it could say */
	buf[n] = '\0';
	if (buf[0] == 'S')
		*wstatus = atoi(buf + 1);
	else if (buf[0] == 'E' && sv->start_error == NULL)
		sv->start_error = xasprintf("sandbox: %s", buf + 1);
}
