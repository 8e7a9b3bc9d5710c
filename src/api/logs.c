/*
 * A job's log: plain text from a byte offset or its last N lines, or, with
 * follow=1, Server-Sent Events that stream it live and resume from
 * Last-Event-ID.  Offsets count bytes of the stored (masked) log.  Each
 * `log` event carries {"offset", "text"} with the text made valid UTF-8
 * (a sequence split across two pieces is held back until it is whole), and
 * its id is the offset of the next byte; `end` carries the result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

#define READ_PIECE (64 * 1024)

/*
 * The attempt a log request names: `attempt=N` or the latest.  Answers and
 * fails if the run, job or attempt is not right.
 */
static int
find_attempt(struct api *a, struct http_request *req, struct store_run **run,
	     const struct store_attempt **out)
{
	const char *job = http_request_param(req, "job");
	const char *q = http_request_query(req, "attempt");
	const struct store_job *sj = NULL;
	uint64_t id;
	size_t j;
	char *end;
	long n;

	if (!api_read_run(a, req, &id, run))
		return -ENOENT;
	for (j = 0; j < (*run)->njobs; j++)
		if (strcmp((*run)->jobs[j].name, job) == 0)
			sj = &(*run)->jobs[j];
	if (sj == NULL) {
		http_respond_error(req, 404, "not_found", "no job '%s' in run %llu",
				   job, (unsigned long long)id);
		return -ENOENT;
	}
	if (sj->nattempts == 0) {
		http_respond_error(req, 404, "not_found", "job '%s' has not "
				   "started (it is %s)", job, sj->status);
		return -ENOENT;
	}
	if (q == NULL) {
		*out = &sj->attempts[sj->nattempts - 1];
		return 0;
	}
	n = strtol(q, &end, 10);
	if (*q == '\0' || *end != '\0' || n < 1 || (size_t)n > sj->nattempts) {
		http_respond_error(req, 404, "not_found", "job '%s' has no "
				   "attempt '%s'", job, q);
		return -ENOENT;
	}
	*out = &sj->attempts[n - 1];
	return 0;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL)
		return true;
	if (*s < '0' || *s > '9')
		return false;
	*v = strtoull(s, &end, 10);
	return *end == '\0';
}

/* ---- following ---- */

struct follow {
	struct api *a;
	struct http_request *req;
	void *df;                /* the env's follow handle */
	uint64_t next;          /* the offset of the next byte to send */
	struct buf carry;       /* an incomplete UTF-8 sequence */
	bool done;
};

static void
send_log(struct follow *f, uint64_t offset, const char *data, size_t len,
	 bool final)
{
	cJSON *o;
	char *text, *json, *ev;
	size_t used;
	uint64_t expected = f->next + f->carry.len;

	/* Bytes already sent (or held back) are not sent twice. */
	if (len > 0 && offset + len <= expected)
		return;
	if (len > 0 && offset < expected) {
		data += expected - offset;
		len -= (size_t)(expected - offset);
	}
	buf_add(&f->carry, data, len);
	text = api_utf8(f->carry.data, f->carry.len, &used, final);
	if (used > 0) {
		uint64_t start = f->next;

		f->next += used;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "offset", (double)start);
		cJSON_AddStringToObject(o, "text", text);
		json = cJSON_PrintUnformatted(o);
		ev = xasprintf("event: log\nid: %llu\ndata: %s\n\n",
			       (unsigned long long)f->next, json);
		http_stream_write(f->req, ev, strlen(ev));
		free(ev);
		free(json);
		cJSON_Delete(o);
		memmove(f->carry.data, f->carry.data + used, f->carry.len - used);
		f->carry.len -= used;
	}
	free(text);
}

static void
send_end(struct follow *f, const char *status, int exit_code,
	 const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *json, *ev;

	send_log(f, f->next, "", 0, true);
	cJSON_AddStringToObject(o, "status", status);
	if (exit_code >= 0)
		cJSON_AddNumberToObject(o, "exit_code", exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	if (reason != NULL)
		cJSON_AddStringToObject(o, "reason", reason);
	else
		cJSON_AddNullToObject(o, "reason");
	json = cJSON_PrintUnformatted(o);
	ev = xasprintf("event: end\ndata: %s\n\n", json);
	http_stream_write(f->req, ev, strlen(ev));
	http_stream_end(f->req);
	free(ev);
	free(json);
	cJSON_Delete(o);
}

static void
follow_free(struct follow *f)
{
	buf_free(&f->carry);
	free(f);
}

static void
on_follow_data(void *arg, uint64_t offset, const char *data, size_t len)
{
	send_log(arg, offset, data, len, false);
}

static void
on_follow_end(void *arg, const char *status, int exit_code, const char *reason)
{
	struct follow *f = arg;

	http_request_on_abort(f->req, NULL, NULL);
	if (status != NULL) {
		send_end(f, status, exit_code, reason);
	} else {
		/* This daemon let go of the job: the client follows it on. */
		send_log(f, f->next, "", 0, true);
		http_stream_end(f->req);
	}
	follow_free(f);
}

static void
on_follow_abort(struct http_request *req, void *arg)
{
	struct follow *f = arg;

	(void)req;
	f->a->env.unfollow(f->a->env.ctx, f->df);
	follow_free(f);
}

/* Streams the stored bytes of a finished attempt, then its end. */
static void
replay(struct follow *f, const struct store_attempt *at)
{
	struct buf b;

	buf_init(&b, 0);
	for (;;) {
		buf_reset(&b);
		if (store_log_read(f->a->env.store, at->id, f->next,
				   READ_PIECE, &b) < 0 || b.len == 0)
			break;
		send_log(f, f->next + f->carry.len, b.data, b.len, false);
	}
	buf_free(&b);
	send_end(f, at->status, at->finished_at != 0 ? at->exit_code : -1,
		 at->reason);
	follow_free(f);
}

static void
follow(struct api *a, struct http_request *req, const struct store_attempt *at,
       uint64_t offset)
{
	static const char *const headers[] = {
		"Cache-Control: no-cache", "X-Accel-Buffering: no", NULL,
	};
	struct api_follow_cbs cbs;
	struct follow *f = xcalloc(1, sizeof(*f));

	f->a = a;
	f->req = req;
	f->next = offset;
	buf_init(&f->carry, 0);
	http_stream_start(req, 200, "text/event-stream", headers);
	cbs = (struct api_follow_cbs){on_follow_data, on_follow_end, f};
	http_request_on_abort(req, on_follow_abort, f);
	if (at->finished_at != 0 ||
	    a->env.follow(a->env.ctx, at->id, offset, &cbs, &f->df) < 0) {
		/* Finished (or finishing): everything is in the store. */
		http_request_on_abort(req, NULL, NULL);
		replay(f, at);
	}
}

/* ---- plain text ---- */

/* A piece of the job's log, or of a service's stream (stream != NULL). */
static int
read_piece(struct api *a, uint64_t attempt, const char *stream,
	   uint64_t from, size_t max, struct buf *out)
{
	if (stream != NULL)
		return store_stream_read(a->env.store, attempt, stream, from,
					 max, out, NULL);
	return store_log_read(a->env.store, attempt, from, max, out);
}

/* The last n lines of the log (n ≥ 1); *start is their offset. */
static void
tail(struct api *a, uint64_t attempt, const char *stream, uint64_t total,
     uint64_t n, struct buf *out, uint64_t *start)
{
	uint64_t from = total, lines = 0;
	struct buf piece;
	size_t i;
	int rc;

	buf_init(&piece, 0);
	/* Walk back a piece at a time until n line breaks are behind us. */
	while (from > 0) {
		uint64_t at = from > READ_PIECE ? from - READ_PIECE : 0;

		buf_reset(&piece);
		if (read_piece(a, attempt, stream, at, (size_t)(from - at),
			       &piece) < 0)
			break;
		for (i = piece.len; i > 0; i--) {
			if (piece.data[i - 1] != '\n' || at + i == total)
				continue;
			if (++lines == n) {
				from = at + i;
				goto found;
			}
		}
		from = at;
	}
found:
	buf_free(&piece);
	*start = from;
	while (from < total) {
		size_t before = out->len;

		rc = read_piece(a, attempt, stream, from, READ_PIECE, out);
		if (rc < 0 || out->len == before)
			break;
		from += out->len - before;
	}
}

/*
 * `stream=NAME`: a service's log; *size its bytes.  Answers and fails if
 * the attempt has no such stream (yet: streams are stored when it ends).
 */
static int
find_stream(struct api *a, struct http_request *req,
	    const struct store_attempt *at, const char *stream, uint64_t *size)
{
	struct buf none;
	char **names = NULL, *list;
	size_t i;
	int rc;

	buf_init(&none, 1);
	rc = store_stream_read(a->env.store, at->id, stream, 0, 0, &none, size);
	buf_free(&none);
	if (rc == 0)
		return 0;
	if (rc != -ENOENT) {
		http_respond_error(req, 500, "internal", "reading the stream: %s",
				   strerror(-rc));
		return rc;
	}
	list = xstrdup("");
	if (store_streams_list(a->env.store, at->id, &names) == 0)
		for (i = 0; names[i] != NULL; i++) {
			char *l = xasprintf("%s%s%s", list, i > 0 ? ", " : "",
					    names[i]);

			free(list);
			list = l;
		}
	pw_strv_free(names);
	http_respond_error(req, 404, "not_found", "attempt %d has no stream "
			   "'%s' (%s%s%s)", at->number, stream,
			   *list != '\0' ? "its streams: " : "",
			   *list != '\0' ? list : "a service's stream is "
			   "stored when its job ends", "");
	free(list);
	return -ENOENT;
}

/* A file name for a download: the job's name with only safe characters. */
static void
download_header(char *out, size_t len, uint64_t run, const char *job,
		int attempt)
{
	char name[64];
	size_t i;

	for (i = 0; job[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (job[i] >= 'a' && job[i] <= 'z') ||
			  (job[i] >= 'A' && job[i] <= 'Z') ||
			  (job[i] >= '0' && job[i] <= '9') || job[i] == '-' ||
			  job[i] == '_' || job[i] == '.' ? job[i] : '_';
	name[i] = '\0';
	snprintf(out, len, "Content-Disposition: attachment; "
		 "filename=\"run-%llu-%s-%d.log\"", (unsigned long long)run,
		 name, attempt);
}

void
api_job_log(struct api *a, struct http_request *req, const char *actor)
{
	const struct store_attempt *at;
	struct store_run *run = NULL;
	const char *stream = http_request_query(req, "stream");
	uint64_t offset = 0, n = 0, end, stop = UINT64_MAX, tail_bytes = 0, total;
	const char *q_follow = http_request_query(req, "follow");
	const char *q_download = http_request_query(req, "download");
	const char *q_end = http_request_query(req, "end");
	const char *q_tail_bytes = http_request_query(req, "tail_bytes");
	const char *last_id = http_request_header(req, "Last-Event-ID");
	char hdr[64], h_start[64], h_size[64], h_disp[160];
	const char *headers[5] = {hdr, h_start, h_size, NULL, NULL};
	struct buf b;

	(void)actor;
	if (find_attempt(a, req, &run, &at) < 0)
		goto out;
	if (!parse_u64(http_request_query(req, "offset"), &offset) ||
	    !parse_u64(http_request_query(req, "start"), &offset) ||
	    !parse_u64(q_end, &stop) ||
	    !parse_u64(q_tail_bytes, &tail_bytes) ||
	    !parse_u64(http_request_query(req, "tail"), &n) ||
	    !parse_u64(last_id, &offset)) {
		http_respond_error(req, 400, "bad_request", "offset, start, end, "
				   "tail, tail_bytes and Last-Event-ID take a "
				   "whole number");
		goto out;
	}
	/* The job's own log is the stream "job" too. */
	if (stream != NULL && (*stream == '\0' || strcmp(stream, "job") == 0))
		stream = NULL;
	if (q_follow != NULL && strcmp(q_follow, "0") != 0) {
		if (stream != NULL) {
			http_respond_error(req, 400, "bad_request", "follow is "
					   "for the job's own log; a service's "
					   "stream is stored when its job ends");
			goto out;
		}
		follow(a, req, at, offset);
		goto out;
	}
	if (q_end != NULL && stop < offset) {
		http_respond_error(req, 400, "bad_request", "end (%llu) is "
				   "before start (%llu)",
				   (unsigned long long)stop,
				   (unsigned long long)offset);
		goto out;
	}
	total = at->log_bytes;
	if (stream != NULL && find_stream(a, req, at, stream, &total) < 0)
		goto out;
	/* The last tail_bytes bytes: where a long log's viewer starts. */
	if (q_tail_bytes != NULL)
		offset = total > tail_bytes ? total - tail_bytes : 0;
	if (stop > total)
		stop = total;
	if (strcmp(http_request_method(req), "HEAD") == 0)
		stop = offset; /* the headers say the size: read nothing */
	buf_init(&b, 0);
	end = offset;
	if (n > 0) {
		tail(a, at->id, stream, total, n, &b, &offset);
		end = offset + b.len;
	} else {
		while (end < stop) {
			size_t before = b.len, want = stop - end > READ_PIECE ?
				READ_PIECE : (size_t)(stop - end);

			if (read_piece(a, at->id, stream, end, want, &b) < 0 ||
			    b.len == before)
				break;
			end += b.len - before;
		}
	}
	snprintf(hdr, sizeof(hdr), "X-Log-Offset: %llu", (unsigned long long)end);
	snprintf(h_start, sizeof(h_start), "X-Log-Start: %llu",
		 (unsigned long long)(end - b.len));
	snprintf(h_size, sizeof(h_size), "X-Log-Size: %llu",
		 (unsigned long long)total);
	if (q_download != NULL && strcmp(q_download, "0") != 0) {
		download_header(h_disp, sizeof(h_disp), run->id,
				http_request_param(req, "job"), at->number);
		headers[3] = h_disp;
	}
	http_respond(req, 200, "text/plain; charset=utf-8", headers,
		     b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
out:
	store_run_free(run);
}

void
api_job_sections(struct api *a, struct http_request *req, const char *actor)
{
	const struct store_attempt *at;
	struct store_run *run = NULL;
	struct store_section *v = NULL;
	size_t n = 0, i;
	cJSON *o, *items;
	int rc;

	(void)actor;
	if (find_attempt(a, req, &run, &at) < 0)
		goto out;
	rc = store_sections_list(a->env.store, at->id, &v, &n);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the sections");
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "attempt", at->number);
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();
		/* Until the next section, or the attempt's end (null: running). */
		uint64_t end = i + 1 < n ? v[i + 1].started_at : at->finished_at;

		cJSON_AddNumberToObject(it, "line", (double)v[i].line);
		cJSON_AddStringToObject(it, "command", v[i].command);
		cJSON_AddNumberToObject(it, "started_ms", (double)v[i].started_at);
		if (end != 0 && end >= v[i].started_at)
			cJSON_AddNumberToObject(it, "duration_ms",
						(double)(end - v[i].started_at));
		else
			cJSON_AddNullToObject(it, "duration_ms");
		cJSON_AddItemToArray(items, it);
	}
	store_sections_free(v, n);
	api_respond_tree(req, 200, o);
out:
	store_run_free(run);
}
