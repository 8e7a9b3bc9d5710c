/*
 * `pipewright run`'s sandbox, before any job: what the strict sandbox
 * needs that can be told at once (root for an image or --rootfs; without
 * root, the memory and pids limits only in a delegated cgroup) and whose
 * ids the jobs run as, so that what they leave in the checkout is its
 * owner's; and where the checkout is seen inside a --clean job
 * (/builds/<name>).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-int.h"

/*
 * Jobs of a run as root in a root-owned checkout: host ids 0x6fff0000
 * + pid % 65536, below the daemon's default job_ids (0x70000000...) and
 * apart from the ids a job's namespace maps its other users to.
 */
#define RUN_ROOT_JOB_IDS 0x6fff0000U
#define RUN_ROOT_JOB_SPAN 65536U

/* Our cgroup v2 directory is ours to write, with memory and pids. */
static bool
cgroup_delegated(void)
{
	char line[PATH_MAX], *dir, *ctl;
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool yes = false;
	size_t n;

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		n = strcspn(line + 3, "\n");
		line[3 + n] = '\0';
		dir = xasprintf("/sys/fs/cgroup%s", line + 3);
		ctl = xasprintf("%s/cgroup.controllers", dir);
		if (access(dir, W_OK) == 0) {
			FILE *c = fopen(ctl, "re");
			char buf[256] = "";

			if (c != NULL && fgets(buf, sizeof(buf), c) != NULL)
				yes = strstr(buf, "memory") != NULL &&
				      strstr(buf, "pids") != NULL;
			if (c != NULL)
				fclose(c);
		}
		free(dir);
		free(ctl);
	}
	fclose(f);
	return yes;
}

/*
 * Without root, no image and no --rootfs, said before anything is pulled:
 * an image's root is unpacked with its files' own owners (root's, mostly)
 * and a job enters it through an idmapped mount, and both need root on
 * the host.  -1 (said) or 0.
 */
static int
rootless_root_refused(const struct run_cli *c)
{
	const char *what = NULL, *job = NULL;
	size_t j;

	for (j = 0; j < pipeline_job_count(c->p) && what == NULL; j++) {
		what = pipeline_job_image(c->p, j);
		job = pipeline_job_name(c->p, j);
	}
	if (c->o->rootfs != NULL) {
		fprintf(stderr, "pipewright: --rootfs %s needs root: ", c->o->rootfs);
	} else if (what != NULL) {
		fprintf(stderr, "pipewright: job '%s' has image '%s', which needs "
			"root: ", job, what);
	} else {
		return 0;
	}
	fprintf(stderr, "an image's root keeps its files' owners and a job "
		"enters it through an idmapped mount, which only root may make; "
		"run it with sudo, or without the image (its tools from this "
		"machine, --mount DIR for a toolchain outside /usr)\n");
	return -1;
}

/*
 * Strict mode's needs that we can tell before any job: say what and how.
 * The jobs run as the checkout's owner, so that what they build is the
 * developer's, with that user's primary group (never the directory's
 * group, which could be any group at all) and no supplementary groups.
 */
int
run_sandbox_preflight(struct run_cli *c)
{
	const struct passwd *pw;
	struct stat st;

	if (c->o->sandbox != EXEC_SANDBOX_STRICT) {
		/*
		 * Root in another user's checkout: that user's jobs, so that
		 * nothing they leave is root's for a later strict run.
		 */
		if (geteuid() == 0 && stat(c->workspace, &st) == 0 &&
		    st.st_uid != 0) {
			pw = getpwuid(st.st_uid);
			c->uid = c->owner_uid = (uint32_t)st.st_uid;
			c->gid = c->owner_gid = pw != NULL && pw->pw_gid != 0
				? (uint32_t)pw->pw_gid : c->uid;
			/* Its jobs' HOMEs lie below: let them through. */
			c->none_as_owner = true;
		}
		return 0;
	}
	if (geteuid() != 0) {
		if (rootless_root_refused(c) < 0)
			return -1;
		/* Unprivileged user namespaces, as ourselves (the
		 * supervisor's rootless.c); said once: what does not apply. */
		c->rootless = true;
		c->uid = c->owner_uid = (uint32_t)geteuid();
		c->gid = c->owner_gid = (uint32_t)getegid();
		if (!cgroup_delegated())
			fprintf(stderr, "pipewright: without root the jobs' "
				"memory and pids limits do not apply (no cgroup"
				" of yours is delegated to you); their rlimits "
				"(cpu_seconds, file_size, open_files) do\n");
		return 0;
	}
	if (stat(c->workspace, &st) < 0) {
		fprintf(stderr, "pipewright: %s: %s\n", c->workspace,
			strerror(errno));
		return -1;
	}
	c->owner_uid = (uint32_t)st.st_uid;
	pw = getpwuid(st.st_uid);
	c->owner_gid = pw != NULL ? (uint32_t)pw->pw_gid : c->owner_uid;
	if (st.st_uid == 0) {
		/*
		 * A root-owned checkout (a CI box, a container): the jobs run
		 * as an unprivileged id of this run's, and see the checkout
		 * through an idmapped mount, so what they write is root's
		 * like the rest of it (the supervisor's idmap.c).
		 */
		c->uid = c->gid = RUN_ROOT_JOB_IDS +
				  (uint32_t)getpid() % RUN_ROOT_JOB_SPAN;
		c->owner_gid = (uint32_t)st.st_gid;
		return 0;
	}
	c->uid = c->owner_uid;
	c->gid = c->owner_gid != 0 ? c->owner_gid : c->uid;
	return 0;
}

/* "/builds/<the checkout directory's name>", as a plain name. */
char *
run_builds_path(const char *workspace)
{
	const char *base = strrchr(workspace, '/');
	char *name, *p;
	char *out;

	base = base != NULL && base[1] != '\0' ? base + 1 : "local";
	name = xstrdup(base);
	for (p = name; *p != '\0'; p++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789_.-", *p) == NULL)
			*p = '_';
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		name = xstrdup("local");
	}
	out = xasprintf("/builds/%s", name);
	free(name);
	return out;
}
