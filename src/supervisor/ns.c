/*
 * Starting the job in its sandbox (--sandbox strict), from the freshly
 * exec'd supervisor: never from the daemon, whose libuv process must not
 * fork into namespaces.
 *
 * While still host root the supervisor checks what strict needs (the
 * job's HOME is a tmpfs of its own, mounts.c: the attempt's home/ is
 * left as it is, root's and empty), opens the mount sources,
 * makes the job's cgroups (the CPU affinity is reset for every job, in
 * job.c) and, for a job without
 * `network: true`, joins the pre-made empty network namespace exec handed
 * over (or asks clone for a new one); a job granted the network gets one
 * with outbound access (slirp.c), joined the same way.  Then one clone() with new user,
 * PID, mount, IPC and UTS namespaces: the child is PID 1 of the job
 * (init.c).  It waits on a pipe until the parent has written its uid/gid
 * maps and put it in the v2 cgroups, and then moves itself into the v1
 * ones (cgroup.c) before anything else, so that nothing of the job runs
 * unmapped or unlimited.
 *
 * The job's root (uid 0 inside) is the host uid of --uid (the daemon's
 * per-run id from its `job_ids`, `run`'s checkout owner), or else the
 * workspace's owner; its gid is --gid or equal to the uid, never the
 * workspace's group, and init drops every supplementary group.  Host
 * root is refused (a job never runs as host root).
 * Inside uids 1..65535 map to SV_SUBID_BASE+1.. for tools that chown.
 * Not root: rootless.c says what differs (own ids, mounts cloned inside).
 *
 * With --user U[:G] (user.c) the host ids belong to that user instead:
 * inside U is the host uid, so the workspace (the host uid's) is U's to
 * write and what U writes is the host uid's, as a root job's would be;
 * inside 0 and every other id map to SV_SUBID_BASE+id.  init switches
 * the script to U after building the sandbox as 0 (sv_user_enter).
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

/*
 * Inside `inside` is host `host`; every other id i is base+i, base being
 * SV_SUBID_BASE unless that range holds `host` (a job uid picked from it):
 * then the range above, as host ids may not be mapped twice.
 */
static void
map_text(char *map, size_t len, unsigned inside, unsigned host)
{
	unsigned base = SV_SUBID_BASE;
	int n = 0;

	if (inside > 0 && host >= base && host - base < SV_INSIDE_IDS)
		base += SV_INSIDE_IDS;
	if (inside > 0)
		n = snprintf(map, len, "0 %u %u\n", base, inside);
	n += snprintf(map + n, len - (size_t)n, "%u %u 1\n", inside, host);
	if (inside + 1 < SV_INSIDE_IDS)
		snprintf(map + n, len - (size_t)n, "%u %u %u\n", inside + 1,
			 base + inside + 1, SV_INSIDE_IDS - 1 - inside);
}

/* text into /proc/PID/FILE in one write (a map, setgroups); 0 or -errno. */
int
sv_proc_write(pid_t pid, const char *file, const char *text)
{
	char path[64];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
write_map(pid_t pid, const char *file, unsigned inside, unsigned id)
{
	char map[160];

	map_text(map, sizeof(map), inside, id);
	return sv_proc_write(pid, file, map);
}

/* As host root: the job's maps (map_text); *why if refused. */
static int
write_maps(const struct supervisor *sv, pid_t pid, char **why)
{
	int rc;

	if ((rc = write_map(pid, "uid_map", sv->sb.in_uid, sv->sb.uid)) < 0 ||
	    (rc = write_map(pid, "gid_map", sv->sb.in_gid, sv->sb.gid)) < 0)
		*why = xasprintf("writing the job's uid/gid map: %s",
				 strerror(-rc));
	return rc;
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

/* --user: the ids inside, from the job's root's passwd and group. */
static int
pick_user(struct supervisor *sv, char **why)
{
	char err[512];
	int rc;

	if (sv->sb.user == NULL)
		return 0;
	rc = sv_user_resolve(sv->sb.rootfs != NULL ? sv->sb.rootfs : "/",
			     sv->sb.user, &sv->sb.in_uid, &sv->sb.in_gid,
			     err, sizeof(err));
	if (rc < 0)
		*why = xstrdup(err);
	return rc;
}

static int
prepare(struct supervisor *sv, char **why)
{
	char err[512];
	int rc;

	if (sv->sb.workspace == NULL)
		sv->sb.workspace = sv->cwd != NULL ? sv->cwd : ".";
	sv->sb.rootless = geteuid() != 0;
	if (sv->sb.rootless) {
		if ((rc = sv_rootless_prepare(sv, why)) < 0 ||
		    (rc = pick_user(sv, why)) < 0)
			return rc;
		/* Mounts: cloned by init inside (rootless.c); cgroups only
		 * where ours is delegated to us. */
		if (sv_cgroup_create(sv, why) < 0) {
			sv_cgroup_remove(sv);
			free(*why);
			*why = NULL;
		}
		return 0;
	}
	if ((rc = pick_owner(sv, why)) < 0 || (rc = pick_user(sv, why)) < 0)
		return rc;
	if ((rc = sv_mounts_prepare(sv, err, sizeof(err))) < 0) {
		*why = xstrdup(err);
		return rc;
	}
	if ((rc = sv_cgroup_create(sv, why)) < 0)
		return rc;
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
	rc = sv->sb.rootless ? sv_rootless_maps(sv, pid, why)
			     : write_maps(sv, pid, why);
	if (rc == 0 && (rc = sv_rootfs_idmap(sv, pid, err, sizeof(err))) < 0)
		*why = xstrdup(err);
	else if (rc == 0 && (rc = sv_cgroup_enter(sv, pid)) < 0) {
		*why = xasprintf("moving the job into its cgroups: %s",
				 strerror(-rc));
	} else if (rc == 0 && write(sync[1], &c, 1) != 1) {
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
