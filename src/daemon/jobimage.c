/*
 * The daemon's side of images: the image cache (<data_dir>/images unless
 * `images.dir` says otherwise) and the step before an attempt's restore
 * that prepares its image.  The attempt holds its root (a shared flock)
 * until the daemon forgets the attempt, so collection never removes a
 * root a job of ours is in; the job's log starts with the line saying
 * whether the image was pulled or found cached, and its digest.  A job
 * with an image under sandbox none, or whose image cannot be had, ends
 * before any process of it starts, with a reason that names the image.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

#define IMAGE_NOTE "image"

static void
options_of(const struct config *c, struct image_options *o, char **dir)
{
	struct config_images ci;

	config_images(c, &ci);
	*dir = ci.dir != NULL ? xstrdup(ci.dir) :
				xasprintf("%s/images", config_data_dir(c));
	*o = (struct image_options){
		.dir = *dir,
		.quota = ci.quota,
		/* The same layout, field for field. */
		.registries = (const struct image_registry *)ci.registries,
		.nregistries = ci.nregistries,
	};
}

_Static_assert(sizeof(struct image_registry) ==
	       sizeof(struct config_image_registry),
	       "image_registry and config_image_registry differ");

int
jobimage_open(struct daemon *d, char **err)
{
	struct image_options o;
	char *dir;
	int rc;

	options_of(d->config, &o, &dir);
	rc = image_cache_create(&d->loop, d->exec, &o, &d->images);
	if (rc < 0)
		*err = xasprintf("cannot use the image cache %s: %s", dir,
				 strerror(-rc));
	free(dir);
	return rc;
}

void
jobimage_close(struct daemon *d)
{
	if (d->images == NULL)
		return;
	/* A prepare under way answers (an orphaned attempt) before this. */
	while (image_cache_active(d->images) > 0)
		uv_run(&d->loop, UV_RUN_ONCE);
	image_cache_destroy(d->images);
	d->images = NULL;
}

void
jobimage_config(struct daemon *d)
{
	struct image_options o;
	char *dir;
	int rc;

	if (d->images == NULL)
		return;
	options_of(d->config, &o, &dir);
	rc = image_cache_set_options(d->images, &o);
	(void)rc; /* the config made it absolute */
	free(dir);
}

/*
 * The attempt directory keeps which root its job is in, so that a daemon
 * started while the job runs holds that root again (jobimage_adopt): a
 * restart must not let collection remove a root under a running job.
 */
static void
digest_note(struct live_attempt *la, const char *digest)
{
	char *path;
	FILE *f;

	if (la->dir == NULL)
		return;
	path = xasprintf("%s/" IMAGE_NOTE, la->dir);
	/* Made before the supervisor makes it, as the prelude is. */
	f = pw_mkdirs(la->dir, 0700) == 0 ? fopen(path, "we") : NULL;
	if (f == NULL || fprintf(f, "%s\n", digest) < 0 || fclose(f) != 0)
		log_warnx("image.note run=%llu job=%zu: cannot write %s",
			  (unsigned long long)la->lr->id, la->job, path);
	free(path);
}

void
jobimage_adopt(struct live_attempt *la, const char *dir)
{
	struct daemon *d = la->d;
	const char *ref = pipeline_job_image(sched_run_pipeline(la->lr->run),
					     la->job);
	char *path, *data = NULL;
	size_t len;
	int rc;

	if (ref == NULL || d->images == NULL || dir == NULL)
		return;
	path = xasprintf("%s/" IMAGE_NOTE, dir);
	rc = pw_read_file(path, 128, &data, &len);
	if (rc == 0) {
		data[strcspn(data, "\n")] = '\0';
		rc = image_hold(d->images, ref, data, &la->image);
	}
	if (rc < 0 && rc != -ENOENT)
		log_warnx("image.adopt run=%llu job=%zu: %s: %s",
			  (unsigned long long)la->lr->id, la->job, path,
			  strerror(-rc));
	free(data);
	free(path);
}

static void
prepared(int rc, const char *err, struct image_use *use, void *arg)
{
	struct live_attempt *la = arg;
	struct daemon *d = la->d;
	const struct image_info *info;
	int prc;

	if (la->orphan) {
		image_use_release(use);
		if (--la->ops == 0)
			live_attempt_free(d, la);
		daemon_run_gone(d);
		return;
	}
	traces_step(d, la->id, "image", la->image_from, pw_now_ms(),
		    rc < 0 ? err : NULL);
	if (rc < 0) {
		la->ops--;
		log_warnx("image.failed run=%llu job=%zu error=\"%s\"",
			  (unsigned long long)la->lr->id, la->job, err);
		prc = sched_attempt_fail(la->lr->run, la->job, err);
		(void)prc; /* the attempt is prepared: it cannot refuse */
		daemon_run_gone(d);
		return;
	}
	info = image_use_info(use);
	if (info->pulled && !info->joined)
		log_info("image.pull image=\"%s\" digest=%s", info->ref,
			 info->digest);
	la->image = use;
	la->image_line = xasprintf("image %s: %s %s\n", info->ref,
				   info->pulled ? "pulled" : "cached",
				   info->digest);
	log_info("image.ready run=%llu job=%zu image=\"%s\" digest=%s %s",
		 (unsigned long long)la->lr->id, la->job, info->ref,
		 info->digest, info->pulled ? "pulled" : "cached");
	digest_note(la, info->digest);
	prc = sched_attempt_image(la->lr->run, la->job, info->rootfs,
				  info->env, info->user);
	(void)prc; /* the attempt is prepared: it cannot refuse */
	jobreuse_restore(la);
}

void
jobimage_prepare(struct live_attempt *la)
{
	struct sched_run *run = la->lr->run;
	const char *ref = pipeline_job_image(sched_run_pipeline(run), la->job);
	char *why;
	int prc;

	if (ref == NULL) {
		jobreuse_restore(la);
		return;
	}
	/* Nothing to pull for a job that cannot use it. */
	if (sched_run_sandbox(run) != EXEC_SANDBOX_STRICT) {
		why = xasprintf("image '%s' needs the strict sandbox; this "
				"project's sandbox is none, which runs a job "
				"on the host's own root", ref);
		la->ops--;
		prc = sched_attempt_fail(run, la->job, why);
		(void)prc; /* the attempt is prepared: it cannot refuse */
		free(why);
		daemon_run_gone(la->d);
		return;
	}
	la->image_from = pw_now_ms();
	image_prepare(la->d->images, ref, prepared, la);
}
