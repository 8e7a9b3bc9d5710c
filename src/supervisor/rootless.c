/*
 * The strict sandbox without root (`pipewright run` by a developer): the
 * same clone into new user, PID, mount, IPC, UTS and network namespaces,
 * which the kernel allows an unprivileged user, as bwrap and rootless
 * podman use it.  What differs:
 *  - the job's host uid is ours (the caller's), nobody else's;
 *  - its uid map: "0 <our uid> 1" written by us (setgroups denied, as
 *    the kernel requires for an unprivileged gid map), or with Debian's
 *    newuidmap/newgidmap and a range of ours in /etc/subuid and
 *    /etc/subgid, the map ns.c writes as root, with the range in place
 *    of SV_SUBID_BASE.  `user: N` (N not 0) needs the range: the job's
 *    user is then our uid and its root one of the range's;
 *  - the mounts are cloned by the job's init inside its namespaces
 *    (cloning them from the host's mount namespace needs host root);
 *  - cgroups only where our cgroup is delegated to us (writable); the
 *    rlimits apply always.  `pipewright run` says once what is missing.
 * Nothing here is setuid: newuidmap is Debian's and checks the ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

/* Our first subordinate id of a range of at least SV_INSIDE_IDS; 0. */
static unsigned long
subid_start(const char *file, unsigned long self)
{
	char *name = sv_user_name((uid_t)self);
	char line[512], num[24];
	unsigned long start, count;
	FILE *f = fopen(file, "re");
	size_t n;

	if (f == NULL) {
		free(name);
		return 0;
	}
	snprintf(num, sizeof(num), "%lu", self);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c = strchr(line, ':');

		if (c == NULL)
			continue;
		n = (size_t)(c - line);
		if (!((name != NULL && strlen(name) == n &&
		       strncmp(line, name, n) == 0) ||
		      (strlen(num) == n && strncmp(line, num, n) == 0)))
			continue;
		if (sscanf(c + 1, "%lu:%lu", &start, &count) == 2 &&
		    count >= SV_INSIDE_IDS && start > 0) {
			fclose(f);
			free(name);
			return start;
		}
	}
	fclose(f);
	free(name);
	return 0;
}

/* newuidmap PID inside host count ...: the job's map, as ns.c's. */
static int
run_map_tool(const char *tool, pid_t pid, unsigned inside, unsigned self,
	     unsigned long base)
{
	char a[10][24], *argv[12];
	int n = 0, k = 0, st;
	pid_t child;

	snprintf(a[k++], 24, "%ld", (long)pid);
	if (inside > 0) {
		snprintf(a[k++], 24, "0");
		snprintf(a[k++], 24, "%lu", base);
		snprintf(a[k++], 24, "%u", inside);
	}
	snprintf(a[k++], 24, "%u", inside);
	snprintf(a[k++], 24, "%u", self);
	snprintf(a[k++], 24, "1");
	if (inside + 1 < SV_INSIDE_IDS) {
		snprintf(a[k++], 24, "%u", inside + 1);
		snprintf(a[k++], 24, "%lu", base + inside + 1);
		snprintf(a[k++], 24, "%u", SV_INSIDE_IDS - 1 - inside);
	}
	argv[n++] = (char *)tool;
	for (int i = 0; i < k; i++)
		argv[n++] = a[i];
	argv[n] = NULL;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execvp(tool, argv);
		_exit(127);
	}
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPERM;
}

int
sv_rootless_prepare(struct supervisor *sv, char **why)
{
	uid_t self = geteuid();

	if (sv->sb.uid != 0 && sv->sb.uid != self) {
		*why = xasprintf("without root a job can only run as the caller"
				 " (uid %u), not uid %u", (unsigned)self,
				 (unsigned)sv->sb.uid);
		return -EPERM;
	}
	if (sv->sb.rootfs != NULL) {
		/* pipewright run refuses first; a direct caller hears it here
		 * rather than getting the host's root in the image's place. */
		*why = xasprintf("--rootfs %s needs root: the image's root is "
				 "entered through an idmapped mount, which "
				 "only root may make", sv->sb.rootfs);
		return -EPERM;
	}
	sv->sb.uid = self;
	sv->sb.gid = getegid();
	sv->sb.subuid = subid_start("/etc/subuid", self);
	sv->sb.subgid = subid_start("/etc/subgid", self);
	if (sv->sb.subuid == 0 || sv->sb.subgid == 0 ||
	    access("/usr/bin/newuidmap", X_OK) < 0 ||
	    access("/usr/bin/newgidmap", X_OK) < 0)
		sv->sb.subuid = sv->sb.subgid = 0;
	if (sv->sb.network) {
		*why = xstrdup("network: `network: true` under the strict "
			       "sandbox needs root (its namespace is wired "
			       "up with slirp4netns from the host's side); "
			       "run as root, or --network deny");
		return -EPERM;
	}
	if (sv->sb.user != NULL && sv->sb.subuid == 0) {
		/* The name (or number) must still resolve to say it well. */
		*why = xasprintf("user '%s' without root needs a range of "
				 "%d subordinate ids of yours in /etc/subuid "
				 "and /etc/subgid and Debian's newuidmap "
				 "(apt-get install uidmap; usermod "
				 "--add-subuids/--add-subgids)", sv->sb.user,
				 SV_INSIDE_IDS);
		return -EPERM;
	}
	return 0;
}

int
sv_rootless_maps(const struct supervisor *sv, pid_t pid, char **why)
{
	char map[64];
	int rc;

	if (sv->sb.subuid != 0) {
		rc = run_map_tool("/usr/bin/newuidmap", pid, sv->sb.in_uid,
				  sv->sb.uid, sv->sb.subuid);
		if (rc == 0)
			rc = run_map_tool("/usr/bin/newgidmap", pid,
					  sv->sb.in_gid, sv->sb.gid,
					  sv->sb.subgid);
		if (rc < 0)
			*why = xasprintf("newuidmap/newgidmap refused the job's"
					 " map (ids of /etc/subuid from %lu, "
					 "/etc/subgid from %lu)", sv->sb.subuid,
					 sv->sb.subgid);
		return rc;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)sv->sb.uid);
	rc = sv_proc_write(pid, "uid_map", map);
	if (rc == 0)
		rc = sv_proc_write(pid, "setgroups", "deny");
	if (rc == 0) {
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)sv->sb.gid);
		rc = sv_proc_write(pid, "gid_map", map);
	}
	if (rc < 0)
		*why = xasprintf("writing the job's uid/gid map: %s",
				 strerror(-rc));
	return rc;
}
