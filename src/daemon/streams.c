/*
 * The log streams of a job's services, into the store when the attempt
 * ends: the supervisor wrote each service's output (masked, capped) to
 * DIR/services/<name>.log; here a worker thread reads those files
 * beneath the attempt directory (openat, O_NOFOLLOW, capped at the log
 * cap each) and one store write appends each as the stream of its name,
 * before the attempt is settled, so that whoever sees the attempt's end
 * finds its streams stored.
 *
 * A stream already stored (a later daemon finishing an attempt that an
 * earlier one had finished but not settled) is left as it is.  A file that
 * cannot be read is left out with a warning in the daemon's log: the job's
 * own log already has the service's last lines where it failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/supervisor-proto.h"

#define STREAM_CHUNK (64 * 1024)

struct stream_file {
	char *name;
	char *data;
	size_t len;
};

struct streams_job {
	uv_work_t w;
	struct daemon *d;
	uint64_t run;
	size_t job;
	int attempt;
	uint64_t attempt_id;
	enum sched_job_state state;
	char *dir;
	char **names;             /* the job's services, NULL-terminated */
	uint64_t max;             /* bytes per stream */
	struct stream_file *files;
	size_t nfiles;
	streams_done_fn *done;
};

static int
read_beneath(int dfd, const char *name, uint64_t max, char **out,
	     size_t *len)
{
	char path[64];
	size_t cap = 0, n = 0;
	char *buf = NULL;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s.log", name);
	fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		buf = xgrow(buf, &cap, n + STREAM_CHUNK, 1);
		r = read(fd, buf + n, STREAM_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n >= max) {
			n = (size_t)max;
			break;
		}
	}
	close(fd);
	*out = buf;
	*len = n;
	return r < 0 ? -errno : 0;
}

static void
read_work(uv_work_t *w)
{
	struct streams_job *x = container_of(w, struct streams_job, w);
	char *sub;
	size_t i;
	int dfd;

	sub = xasprintf("%s/" SUPERVISOR_SERVICES_DIR, x->dir);
	dfd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(sub);
	if (dfd < 0)
		return;
	for (i = 0; x->names[i] != NULL; i++)
		;
	x->files = xcalloc(i + 1, sizeof(*x->files));
	for (i = 0; x->names[i] != NULL; i++) {
		struct stream_file *f = &x->files[x->nfiles];
		int rc = read_beneath(dfd, x->names[i], x->max, &f->data,
				      &f->len);

		if (rc < 0) {
			if (rc != -ENOENT)
				log_warnx("streams.read attempt=%llu "
					  "service=%s error=\"%s\"",
					  (unsigned long long)x->attempt_id,
					  x->names[i], strerror(-rc));
			free(f->data);
			continue;
		}
		f->name = x->names[i];
		x->nfiles++;
	}
	close(dfd);
}

static int
tx_streams(struct store_tx *tx, void *arg)
{
	struct streams_job *x = arg;
	size_t i, off, n;
	int rc;

	for (i = 0; i < x->nfiles; i++) {
		struct stream_file *f = &x->files[i];

		off = 0;
		do {
			n = f->len - off < STREAM_CHUNK ? f->len - off
							: STREAM_CHUNK;
			rc = store_tx_stream_append(tx, x->attempt_id, f->name,
						    off, f->data + off, n);
			if (rc == -EINVAL && off == 0)
				break;  /* stored already: keep that */
			if (rc < 0)
				return rc;
			off += n;
		} while (off < f->len);
	}
	return 0;
}

static void
job_free(struct streams_job *x)
{
	size_t i;

	for (i = 0; i < x->nfiles; i++)
		free(x->files[i].data);
	free(x->files);
	pw_strv_free(x->names);
	free(x->dir);
	free(x);
}

static void
stored(int rc, void *arg)
{
	struct streams_job *x = arg;

	if (rc < 0)
		log_warnx("streams.store attempt=%llu error=\"%s\"",
			  (unsigned long long)x->attempt_id, strerror(-rc));
	x->done(x->d, x->run, x->job, x->attempt, x->state);
	job_free(x);
}

static void
read_done(uv_work_t *w, int status)
{
	struct streams_job *x = container_of(w, struct streams_job, w);

	(void)status;
	if (x->nfiles == 0) {
		stored(0, x);
		return;
	}
	store_write_retry(x->d->store, tx_streams, stored, x);
}

bool
streams_store(struct daemon *d, struct sched_run *run, uint64_t run_id,
	      size_t job, int attempt, enum sched_job_state state,
	      streams_done_fn *done)
{
	const struct pipeline *p = sched_run_pipeline(run);
	struct live_attempt *la = live_attempt_find(d, run_id, job, attempt);
	size_t n = pipeline_job_service_count(p, job), i;
	struct streams_job *x;

	if (n == 0 || la == NULL || la->id == 0 || la->dir == NULL)
		return false;
	x = xcalloc(1, sizeof(*x));
	x->d = d;
	x->run = run_id;
	x->job = job;
	x->attempt = attempt;
	x->attempt_id = la->id;
	x->state = state;
	x->dir = xstrdup(la->dir);
	x->done = done;
	x->max = config_max_log(d->config);
	if (x->max == 0)
		x->max = SUPERVISOR_DEFAULT_MAX_LOG;
	x->max += 1024;  /* the supervisor's truncation line */
	x->names = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		x->names[i] = xstrdup(pipeline_job_service(p, job, i)->name);
	if (uv_queue_work(&d->loop, &x->w, read_work, read_done) < 0) {
		job_free(x);
		return false;
	}
	return true;
}
