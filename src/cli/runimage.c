/*
 * `pipewright run`'s images: a job's image is refused without the strict
 * sandbox before anything starts, the image cache lives in the cache
 * directory (pulled images outlive the run), and each attempt of a job
 * with an image gets its root before its caches are restored; the roots
 * are held until the run ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run-int.h"

#define LOCAL_IMAGES_QUOTA (20ULL << 30)

/*
 * An image is a root for the strict sandbox to enter: with --sandbox none
 * a job would run on this machine's own root instead, so the run does
 * not start.  -1 (said) or 0.
 */
int
run_images_preflight(struct run_cli *c)
{
	size_t j;

	for (j = 0; j < pipeline_job_count(c->p); j++) {
		if (pipeline_job_image(c->p, j) == NULL ||
		    c->o->sandbox == EXEC_SANDBOX_STRICT)
			continue;
		fprintf(stderr, "pipewright: job '%s' has image '%s', which "
			"needs the strict sandbox; --sandbox none runs jobs on "
			"this machine's own root\n", pipeline_job_name(c->p, j),
			pipeline_job_image(c->p, j));
		return -1;
	}
	return 0;
}

/* The image cache in the cache directory, if any job has an image. */
int
run_open_images(struct run_cli *c)
{
	struct image_options io = {.quota = LOCAL_IMAGES_QUOTA};
	char *base, *dir;
	size_t j;
	int rc;

	for (j = 0; j < pipeline_job_count(c->p); j++)
		if (pipeline_job_image(c->p, j) != NULL)
			break;
	if (j == pipeline_job_count(c->p))
		return 0;
	/* The cache keeps absolute paths (they outlive this directory). */
	if (c->o->cache_dir != NULL && c->o->cache_dir[0] != '/')
		base = xasprintf("%s/%s", c->workspace, c->o->cache_dir);
	else
		base = c->o->cache_dir != NULL ? xstrdup(c->o->cache_dir) :
						 run_cache_default_dir();
	if (base == NULL) {
		fprintf(stderr, "pipewright: no cache directory for images: "
			"set HOME or XDG_CACHE_HOME, or give --cache-dir\n");
		return -1;
	}
	dir = xasprintf("%s/images", base);
	io.dir = dir;
	io.registries = c->o->regs;
	io.nregistries = c->o->nregs;
	rc = image_cache_create(&c->loop, c->exec, &io, &c->images);
	if (rc < 0)
		fprintf(stderr, "pipewright: cannot use the image cache %s: "
			"%s\n", dir, strerror(-rc));
	free(base);
	free(dir);
	return rc < 0 ? -1 : 0;
}

/* The job's image is ready (its root held until the run ends), or not. */
static void
on_image(int rc, const char *err, struct image_use *use, void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	const struct image_info *info;
	char *line;

	if (rc < 0) {
		rc = sched_attempt_fail(pr->run, pr->job, err);
		(void)rc; /* the attempt is held: it cannot refuse */
		free(pr);
		return;
	}
	info = image_use_info(use);
	c->uses = xgrow(c->uses, &c->cuses, c->nuses + 1, sizeof(*c->uses));
	c->uses[c->nuses++] = use;
	line = xasprintf("image %s: %s %s\n", info->ref,
			 info->pulled ? "pulled" : "cached", info->digest);
	term_output(c->term, pr->job, line, strlen(line));
	free(line);
	rc = sched_attempt_image(pr->run, pr->job, info->rootfs, info->env,
				 info->user);
	(void)rc; /* the attempt is held: it cannot refuse */
	run_restore_or_proceed(pr);
}

/* The workspace is ready: the job's image, then its caches. */
void
run_image_then_restore(struct prep *pr)
{
	const char *ref = pipeline_job_image(sched_run_pipeline(pr->run),
					     pr->job);

	if (ref != NULL && pr->c->images != NULL &&
	    sched_run_sandbox(pr->run) == EXEC_SANDBOX_STRICT) {
		image_prepare(pr->c->images, ref, on_image, pr);
		return;
	}
	run_restore_or_proceed(pr);
}
