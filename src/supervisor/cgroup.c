/*
 * The job's cgroups: memory and pids limits, a low CPU weight, and the
 * counters the supervisor watches to kill the whole job when a limit is
 * hit.
 *
 * Per controller: cgroup v2 where the v2 hierarchy's cgroup.controllers
 * (at our own cgroup) lists it, else that controller's v1 hierarchy.  On a
 * hybrid host (v2 at /sys/fs/cgroup/unified without memory or pids, v1
 * for the rest) that gives v1 for all three.  The job's cgroup is
 *   <mount><our own cgroup from /proc/self/cgroup>/pipewright-<our pid>
 * our own cgroup being the daemon's (we inherit it), so job limits nest
 * below whatever the daemon itself is given, and the job's CPU weight
 * (v1 cpu.shares 64, v2 cpu.weight 5, against the default 1024 / 100)
 * keeps a hostile job from starving the daemon.  Memory and pids are
 * required in strict mode (a limit of 0 still makes the cgroup, for the
 * counters and the whole-job kill); a missing cpu controller only costs
 * the weight.
 *
 * A pids limit only makes fork() fail, and a v1 OOM kill takes one
 * process: the supervisor polls pids.events / memory.oom_control (v2
 * memory.events) every SV_CG_CHECK_MS and ends the whole job.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

#define CG_ROOT "/sys/fs/cgroup"

static const char *const ctl_names[SV_CG_COUNT] = {"memory", "pids", "cpu"};

static int
read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int
write_file(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* True if the space-separated list has the word. */
static bool
has_word(const char *list, const char *word, const char *seps)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t l = strcspn(p, seps);

		if (l == wl && strncmp(p, word, wl) == 0)
			return true;
		p += l;
		p += strspn(p, seps);
	}
	return false;
}

/*
 * Our cgroup in the v2 hierarchy and in the v1 hierarchy of each
 * controller, from /proc/self/cgroup ("N:ctl,ctl:/path").
 */
struct own {
	char v2[PATH_MAX];         /* "" if none */
	char v1[SV_CG_COUNT][PATH_MAX];
	char v1field[SV_CG_COUNT][64];
};

static void
read_own(struct own *o)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int k;

	memset(o, 0, sizeof(*o));
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *c1 = strchr(line, ':'), *c2, *nl;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c2 = '\0';
		if ((nl = strchr(c2 + 1, '\n')) != NULL)
			*nl = '\0';
		if (c1[1] == '\0') {
			snprintf(o->v2, sizeof(o->v2), "%s", c2 + 1);
			continue;
		}
		for (k = 0; k < SV_CG_COUNT; k++) {
			if (has_word(c1 + 1, ctl_names[k], ",")) {
				snprintf(o->v1[k], sizeof(o->v1[k]), "%s", c2 + 1);
				snprintf(o->v1field[k], sizeof(o->v1field[k]),
					 "%s", c1 + 1);
			}
		}
	}
	fclose(f);
}

/* The v2 mount: /sys/fs/cgroup on a pure v2 host, else .../unified. */
static const char *
v2_mount(void)
{
	return access(CG_ROOT "/cgroup.controllers", F_OK) == 0
	       ? CG_ROOT : CG_ROOT "/unified";
}

/* The directory our job's cgroup for controller k goes in; NULL: none. */
static char *
parent_dir(const struct own *o, int k, bool *v2)
{
	char path[PATH_MAX * 2], list[512];
	struct stat st;

	if (o->v2[0] != '\0') {
		snprintf(path, sizeof(path), "%s%s/cgroup.controllers",
			 v2_mount(), o->v2);
		if (read_small(path, list, sizeof(list)) == 0 &&
		    has_word(list, ctl_names[k], " \n")) {
			*v2 = true;
			return xasprintf("%s%s", v2_mount(), o->v2);
		}
	}
	if (o->v1[k][0] == '\0')
		return NULL;
	*v2 = false;
	snprintf(path, sizeof(path), CG_ROOT "/%s", o->v1field[k]);
	if (stat(path, &st) == 0)
		return xasprintf("%s%s", path, o->v1[k]);
	snprintf(path, sizeof(path), CG_ROOT "/%s", ctl_names[k]);
	if (stat(path, &st) == 0)
		return xasprintf("%s%s", path, o->v1[k]);
	return NULL;
}

static int
set_limits(struct supervisor *sv, int k, const char *dir)
{
	bool v2 = sv->sb.cg_v2[k];
	char num[32];
	int rc = 0;

	switch (k) {
	case SV_CG_MEMORY:
		if (sv->sb.memory == 0)
			break;
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)sv->sb.memory);
		rc = write_file(dir, v2 ? "memory.max" : "memory.limit_in_bytes",
				num);
		/* No swap either, where the kernel accounts it. */
		if (rc == 0)
			(void)write_file(dir, v2 ? "memory.swap.max" :
					 "memory.memsw.limit_in_bytes",
					 v2 ? "0" : num);
		break;
	case SV_CG_PIDS:
		if (sv->sb.pids == 0)
			break;
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)sv->sb.pids);
		rc = write_file(dir, "pids.max", num);
		break;
	case SV_CG_CPU:
		(void)write_file(dir, v2 ? "cpu.weight" : "cpu.shares",
				 v2 ? "5" : "64");
		break;
	}
	return rc;
}

/* The directories alone (no limits: those are the job's); *why if not. */
static int
make_dirs(struct supervisor *sv, char **why)
{
	struct own o;
	char *parent, *dir;
	bool v2 = false;
	int k, rc;

	read_own(&o);
	for (k = 0; k < SV_CG_COUNT; k++) {
		parent = parent_dir(&o, k, &v2);
		if (parent == NULL) {
			if (k == SV_CG_CPU)
				continue;
			*why = xasprintf("the strict sandbox needs the '%s' "
					 "cgroup controller, and neither cgroup "
					 "v2 (%s) nor a v1 hierarchy offers it "
					 "to our cgroup: mount it (mount -t "
					 "cgroup -o %s cgroup %s/%s) or enable "
					 "it in cgroup v2, or use --sandbox none",
					 ctl_names[k], v2_mount(), ctl_names[k],
					 CG_ROOT, ctl_names[k]);
			return -ENOENT;
		}
		if (v2) {
			/* Children get the controller only if asked for. */
			char *c = xasprintf("+%s", ctl_names[k]);

			(void)write_file(parent, "cgroup.subtree_control", c);
			free(c);
		}
		dir = xasprintf("%s/pipewright-%ld", parent, (long)getpid());
		free(parent);
		rmdir(dir);  /* a stale one of a dead supervisor with our pid */
		if (mkdir(dir, 0755) < 0) {
			rc = -errno;
			if (k == SV_CG_CPU) {
				free(dir);
				continue;
			}
			*why = xasprintf("cannot create the job's cgroup %s: %s;"
					 " pipewright needs write access to its "
					 "own cgroup (run it as root with "
					 "/sys/fs/cgroup writable, or delegate "
					 "the cgroup to it), or use --sandbox "
					 "none", dir, strerror(-rc));
			free(dir);
			return rc;
		}
		sv->sb.cg[k] = dir;
		sv->sb.cg_v2[k] = v2;
	}
	return 0;
}

/*
 * A pooled supervisor of a daemon that runs strict jobs makes the
 * directories while it waits (main.c): empty cgroups named after its own
 * pid, below its own cgroup, with no limit and no process, that no other
 * job can reach; nothing of the job is in them until its spec.  A job
 * without the sandbox leaves them empty and they go at the end.  Best
 * effort: on failure the start makes them as a fresh supervisor would,
 * and says why.
 */
void
sv_cgroup_ahead(struct supervisor *sv)
{
	char *why = NULL;

	if (geteuid() != 0 || make_dirs(sv, &why) < 0)
		sv_cgroup_remove(sv);
	free(why);
}

int
sv_cgroup_create(struct supervisor *sv, char **why)
{
	int k, rc;

	if (sv->sb.cg[SV_CG_MEMORY] == NULL && (rc = make_dirs(sv, why)) < 0)
		return rc;
	for (k = 0; k < SV_CG_COUNT; k++) {
		if (sv->sb.cg[k] == NULL)
			continue;
		rc = set_limits(sv, k, sv->sb.cg[k]);
		if (rc < 0) {
			*why = xasprintf("cannot set the %s limit in %s: %s",
					 ctl_names[k], sv->sb.cg[k],
					 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * v1 hierarchies, as root: the job's init moves itself (sv_cgroup_join),
 * not the supervisor.  Moving a process by its pid through cgroup.procs
 * takes the global cgroup_threadgroup_rwsem for writing, and on v1 (no
 * CLONE_INTO_CGROUP) that waits for an RCU grace period whenever no other
 * migration ran a moment before: 0.5 ms on a quiet machine, 7-10 ms seen
 * under load, before the job could start.  A single thread moving itself
 * ("0" into `tasks`) is exempt from that lock (the kernel's single-thread
 * migration, since Linux 5.16), and init is one thread.  It still has the
 * host's root uid then (its setresuid inside comes after), which the
 * files' owner and v1's permission check ask for.  Rootless and v2 stay
 * with the supervisor's write: their permission checks differ (a
 * delegated v2 cgroup wants a common ancestor of both ends).
 */
static bool
init_joins(const struct supervisor *sv, int k)
{
	return !sv->sb.rootless && !sv->sb.cg_v2[k];
}

int
sv_cgroup_enter(struct supervisor *sv, pid_t pid)
{
	char num[32];
	int k, rc;

	snprintf(num, sizeof(num), "%ld", (long)pid);
	for (k = 0; k < SV_CG_COUNT; k++) {
		if (sv->sb.cg[k] == NULL || init_joins(sv, k))
			continue;
		rc = write_file(sv->sb.cg[k], "cgroup.procs", num);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
sv_cgroup_join(const struct supervisor *sv)
{
	int k, rc;

	for (k = 0; k < SV_CG_COUNT; k++) {
		if (sv->sb.cg[k] == NULL || !init_joins(sv, k))
			continue;
		rc = write_file(sv->sb.cg[k], "tasks", "0");
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The number after "key " in a "key value" file; 0 if absent. */
static uint64_t
counter(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX], buf[1024], *p;
	size_t kl = strlen(key);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	     p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
	return 0;
}

bool
sv_cgroup_check(struct supervisor *sv)
{
	const char *mem = sv->sb.cg[SV_CG_MEMORY], *pids = sv->sb.cg[SV_CG_PIDS];

	/* A cancel or timeout came first; a limit was not the cause. */
	if (sv->cause != SV_CAUSE_NONE)
		return sv->cause == SV_CAUSE_MEMORY || sv->cause == SV_CAUSE_PIDS;
	if (mem != NULL && sv->sb.memory > 0 &&
	    counter(mem, sv->sb.cg_v2[SV_CG_MEMORY] ? "memory.events" :
		    "memory.oom_control", "oom_kill") > 0) {
		sv->cause = SV_CAUSE_MEMORY;
		return true;
	}
	if (pids != NULL && sv->sb.pids > 0 &&
	    counter(pids, "pids.events", "max") > 0) {
		sv->cause = SV_CAUSE_PIDS;
		return true;
	}
	return false;
}

void
sv_cgroup_remove(struct supervisor *sv)
{
	int k;

	for (k = 0; k < SV_CG_COUNT; k++) {
		if (sv->sb.cg[k] != NULL && rmdir(sv->sb.cg[k]) < 0 &&
		    errno != ENOENT)
			sv_warn("rmdir %s", sv->sb.cg[k]);
		free(sv->sb.cg[k]);
		sv->sb.cg[k] = NULL;
	}
}
