/*
 * What is live: the runs the scheduler holds, their running attempts, and
 * the followers that stream an attempt's log as it comes.
 *
 * A run is here from the moment it is built until its final state is
 * committed; an attempt from its prepare (or its adoption after a restart)
 * until its end is committed, so a follower that comes late still finds
 * it.  A follower gets the committed bytes from the store and the rest
 * from the attempt's log file and memory, then every byte live, in order,
 * and last the end.  Only this file walks or links these lists' nodes;
 * record.c decides when they come and go.
 *
 * The job's output is not in memory: the supervisor writes it to dir/log
 * and tells how far it has grown (exec_log_notes), the store's writer
 * reads committed ranges from that file, and the loop reads it back only
 * for a follower or for the sections still looked for.  Memory holds only
 * what the daemon itself adds after the job's last byte (and, from a
 * starter that sends bytes, everything: `pipewright run`'s exec has no
 * notes, but it has no live.c either).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/supervisor-proto.h"

/* ---- runs ---- */

/* Where id is, or would go, in d->run_index. */
static size_t
index_at(const struct daemon *d, uint64_t id)
{
	size_t lo = 0, hi = d->nrun_index;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->run_index[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct live_run *
live_run_find(struct daemon *d, uint64_t id)
{
	size_t i = index_at(d, id);

	return i < d->nrun_index && d->run_index[i]->id == id ?
		       d->run_index[i] : NULL;
}

struct live_run *
live_run_of(struct daemon *d, const struct sched_run *run)
{
	return live_run_find(d, sched_run_id(run));
}

/*
 * Newest first in d->runs, as before; the index is by id (new runs come
 * last, so an insertion moves nothing but a recovered run's).
 */
void
live_run_link(struct daemon *d, struct live_run *lr)
{
	size_t i = index_at(d, lr->id);

	lr->next = d->runs;
	d->runs = lr;
	if (d->nrun_index == d->run_index_cap) {
		d->run_index_cap = d->run_index_cap ? 2 * d->run_index_cap : 64;
		d->run_index = xrealloc(d->run_index, d->run_index_cap *
						      sizeof(*d->run_index));
	}
	memmove(&d->run_index[i + 1], &d->run_index[i],
		(d->nrun_index - i) * sizeof(*d->run_index));
	d->run_index[i] = lr;
	d->nrun_index++;
}

void
live_run_remove(struct daemon *d, struct live_run *lr)
{
	struct live_run **pp;
	size_t i = index_at(d, lr->id);

	/* Two live runs of one id would be the bug of a run built twice. */
	while (i < d->nrun_index && d->run_index[i] != lr &&
	       d->run_index[i]->id == lr->id)
		i++;
	if (i < d->nrun_index && d->run_index[i] == lr) {
		memmove(&d->run_index[i], &d->run_index[i + 1],
			(d->nrun_index - i - 1) * sizeof(*d->run_index));
		d->nrun_index--;
	}
	for (pp = &d->runs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == lr) {
			*pp = lr->next;
			break;
		}
	}
	live_run_free(lr);
}

void
live_run_free(struct live_run *lr)
{
	sched_run_destroy(lr->run);
	free(lr->workspace);
	free(lr->branch);
	free(lr->ref);
	free(lr->commit);
	free(lr->tag);
	free(lr->project);
	free(lr->ready_ms);
	free(lr);
}

/* ---- attempts ---- */

struct live_attempt *
live_attempt_new(struct daemon *d, struct live_run *lr, size_t job,
		 int number)
{
	struct live_attempt *la = xcalloc(1, sizeof(*la));

	la->d = d;
	la->lr = lr;
	la->job = job;
	la->number = number;
	la->exit_code = -1;
	la->log_fd = -1;
	buf_init(&la->mem, 0);
	la->next = d->attempts;
	d->attempts = la;
	return la;
}

struct live_attempt *
live_attempt_find(struct daemon *d, uint64_t run, size_t job, int number)
{
	struct live_attempt *la;

	for (la = d->attempts; la != NULL; la = la->next)
		if (la->lr->id == run && la->job == job && la->number == number)
			return la;
	return NULL;
}

void
live_attempt_free(struct daemon *d, struct live_attempt *la)
{
	struct live_attempt **pp;
	struct follower *f, *next;

	for (pp = &d->attempts; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == la) {
			*pp = la->next;
			break;
		}
	}
	for (f = la->followers; f != NULL; f = next) {
		next = f->next_f;
		free(f);
	}
	buf_free(&la->mem);
	if (la->log_fd >= 0)
		close(la->log_fd);
	sections_free(la);
	free(la->status);
	free(la->reason);
	free(la->dir);
	image_use_release(la->image);
	free(la->image_line);
	free(la);
}

void
live_forget_all(struct daemon *d)
{
	struct live_attempt *la;
	struct follower *f;

	while ((la = d->attempts) != NULL) {
		d->attempts = la->next;
		la->next = NULL;
		while ((f = la->followers) != NULL) {
			la->followers = f->next_f;
			f->cbs.end(f->cbs.arg, NULL, -1, NULL);
			free(f);
		}
		la->orphan = true;
		if (la->ops == 0)
			live_attempt_free(d, la);
	}
}

/* The next len bytes of the log: to each follower that is up to here. */
static void
follow_out(struct live_attempt *la, const char *data, size_t len)
{
	struct follower *f, *next;

	for (f = la->followers; f != NULL; f = next) {
		next = f->next_f;
		if (f->next == la->total)
			f->cbs.data(f->cbs.arg, la->total, data, len);
		f->next = la->total + len;
	}
	la->total += len;
}

void
live_attempt_append(struct live_attempt *la, const char *data, size_t len)
{
	buf_add(&la->mem, data, len); /* the supervisor caps a job's log */
	follow_out(la, data, len);
}

uint64_t
live_attempt_mem_base(const struct live_attempt *la)
{
	return la->committed > la->file_end ? la->committed : la->file_end;
}

int
live_attempt_log_fd(struct live_attempt *la)
{
	struct stat sb;
	char *path;

	if (la->log_fd >= 0 || la->dir == NULL)
		return la->log_fd;
	/*
	 * Only a regular file: under sandbox none the job can reach the
	 * attempt's directory, and a FIFO put in the log's place would
	 * block this open, and the writer's reads, for good.  Non-blocking
	 * changes nothing for a regular file.
	 */
	path = xasprintf("%s/%s", la->dir, SUPERVISOR_LOG_FILE);
	la->log_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
				      O_NONBLOCK);
	/* Tried again at each flush: said once an attempt. */
	if (la->log_fd < 0) {
		if (!la->file_warned)
			log_warn("log.open path=%s", path);
		la->file_warned = true;
	} else if (fstat(la->log_fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		if (!la->file_warned)
			log_warnx("log.open path=%s: not a regular file; the "
				  "job's output past the stored bytes is not "
				  "kept", path);
		la->file_warned = true;
		close(la->log_fd);
		la->log_fd = -1;
	}
	free(path);
	return la->log_fd;
}

/* Reads [at, end) of dir/log back for cb; where it stopped. */
static uint64_t
read_back(struct live_attempt *la, uint64_t at, uint64_t end,
	  void (*cb)(struct live_attempt *la, uint64_t at, const char *data,
		     size_t len, void *arg), void *arg)
{
	char buf[64 * 1024];
	int fd = live_attempt_log_fd(la);
	size_t want;
	ssize_t n;

	while (fd >= 0 && at < end) {
		want = end - at < sizeof(buf) ? (size_t)(end - at) : sizeof(buf);
		n = pread(fd, buf, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warnx("log.read path=%s/%s offset=%llu: %s", la->dir,
				  SUPERVISOR_LOG_FILE, (unsigned long long)at,
				  n == 0 ? "short file" : strerror(errno));
			break;
		}
		cb(la, at, buf, (size_t)n, arg);
		at += (uint64_t)n;
	}
	return at;
}

static void
grew_piece(struct live_attempt *la, uint64_t at, const char *data, size_t len,
	   void *arg)
{
	const struct pipeline *p = arg;

	(void)at;
	if (sections_wanted(la, p))
		sections_scan(la, p, data, len);
	follow_out(la, data, len);
}

void
live_attempt_grew(struct live_attempt *la, const struct pipeline *p,
		  uint64_t len)
{
	uint64_t end = la->total + len;

	/*
	 * Notes come before the daemon's own lines (those follow the job's
	 * end), so the file is the log's prefix and mem its rest.
	 */
	if (la->file_end != la->total) {
		log_warnx("log.note run=%llu job=%zu: %llu bytes after the "
			  "daemon's own lines; not kept",
			  (unsigned long long)la->lr->id, la->job,
			  (unsigned long long)len);
		return;
	}
	la->file_end = end;
	if (la->followers != NULL || sections_wanted(la, p))
		(void)read_back(la, la->total, end, grew_piece, (void *)p);
	la->total = end;  /* a follower that missed bytes stops there */
}

void
live_attempt_end(struct daemon *d, struct live_attempt *la)
{
	struct follower *f, *next;

	for (f = la->followers; f != NULL; f = next) {
		next = f->next_f;
		f->cbs.end(f->cbs.arg, la->status, la->exit_code, la->reason);
	}
	live_attempt_free(d, la);
}

/* ---- following a log ---- */

struct daemon_follow {
	struct follower f;
};

static void
follow_piece(struct live_attempt *la, uint64_t at, const char *data,
	     size_t len, void *arg)
{
	const struct daemon_follow_cbs *cbs = arg;

	(void)la;
	cbs->data(cbs->arg, at, data, len);
}

int
daemon_follow(struct daemon *d, uint64_t attempt, uint64_t offset,
	      const struct daemon_follow_cbs *cbs, struct daemon_follow **out)
{
	struct live_attempt *la;
	struct daemon_follow *df;
	struct buf b;
	uint64_t at;

	/* An attempt that ended stays here until its end is committed. */
	for (la = d->attempts; la != NULL; la = la->next)
		if (la->id == attempt)
			break;
	if (la == NULL)
		return -ENOENT;
	/* What is committed comes from the store, the rest from memory. */
	buf_init(&b, 0);
	for (at = offset; at < la->committed; at += b.len) {
		buf_reset(&b);
		if (store_log_read(d->store, attempt, at, 65536, &b) < 0 ||
		    b.len == 0)
			break;
		cbs->data(cbs->arg, at, b.data, b.len);
	}
	buf_free(&b);
	if (at < la->file_end) {
		if (at < la->committed)
			at = la->committed;  /* the store fell short */
		if (read_back(la, at, la->file_end, follow_piece, (void *)cbs) !=
		    la->file_end)
			at = la->total;  /* lost: it goes on from the live end */
		else
			at = la->file_end;
	}
	if (at < la->total) {
		uint64_t base = live_attempt_mem_base(la);
		uint64_t from = at > base ? at : base;

		cbs->data(cbs->arg, from,
			  la->mem.data + la->mem_off + (from - base),
			  (size_t)(la->total - from));
		at = la->total;
	}
	df = xcalloc(1, sizeof(*df));
	df->f.cbs = *cbs;
	df->f.la = la;
	df->f.next = at > offset ? at : offset;
	df->f.next_f = la->followers;
	la->followers = &df->f;
	*out = df;
	return 0;
}

void
daemon_unfollow(struct daemon_follow *df)
{
	struct follower **pp;

	if (df == NULL)
		return;
	for (pp = &df->f.la->followers; *pp != NULL; pp = &(*pp)->next_f) {
		if (*pp == &df->f) {
			*pp = df->f.next_f;
			break;
		}
	}
	free(df);
}
