/*
 * `pipewright logs [-f] RUN JOB [--attempt N] [--stream NAME]`: a job's
 * log (or one of its services') on stdout.
 * `pipewright logs RUN`: the run's own log (its checkout: every git
 * command and what it said), then the problems of its pipeline file as
 * FILE:LINE:COLUMN: error: MESSAGE, which is where a run that ended
 * `error` says why.
 *
 * Without -f the text/plain answer is copied to stdout as it arrives.
 * With -f the server sends Server-Sent Events: `event: log` with
 * `id: <next offset>` and `data: {"offset": N, "text": "..."}`, then
 * `event: end` with `data: {"status", "exit_code", "reason"}`.  The events
 * are parsed here incrementally, straight from libcurl's write callback,
 * so text is printed as it arrives.  If a stream that had answered drops
 * before its end event, it is resumed from the last id (Last-Event-ID) a
 * few times with a growing pause; text the server sends again is
 * skipped by its offset.  The exit status is the job's: 0 for success, 1
 * otherwise.
 *
 * The log is the job's bytes, so what reaches stdout goes through
 * term_escape (a job's ESC, CR or OSC 52 would command the terminal), on a
 * terminal or not: a pipe often ends at one too.  --color keeps the job's
 * colour sequences; --raw writes the bytes exactly as the server has them,
 * for a file.  A sequence cut between two chunks is held until the next.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define EVENT_MAX (16 << 20)  /* one event's bytes */
#define FOLLOW_RETRIES 5
#define FOLLOW_PAUSE_MS 250   /* doubled after each failed retry */

/* Where the log's text goes: escaped or raw. */
struct logs_out {
	bool raw;             /* --raw: as it is */
	unsigned flags;       /* term_escape's, TERM_ESC_SGR with --color */
	struct buf held;      /* a chunk's end the next chunk may complete */
	struct buf esc;       /* scratch */
};

struct follow {
	struct buf line;      /* the partial line of the stream */
	struct buf data;      /* the current event's data lines */
	char event[32];       /* the current event's type */
	char id[32];          /* the current event's id, if any */
	char last_id[32];     /* the id to resume from; "" before one */
	uint64_t seen;        /* log bytes printed: offsets below are skipped */
	bool answered;        /* some stream answered 2xx */
	bool progress;        /* this stream delivered an event */
	bool ended;           /* the end event came */
	int result;           /* the job's: CLI_OK or CLI_FAILED */
	const char *job;
	struct logs_out *out;
};

static int
write_out(const char *s, size_t len)
{
	if (fwrite(s, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "pipewright: cannot write the log: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Text goes out at once: someone is watching.  final: the end of the log,
 * nothing more to wait for.  -1 if stdout failed.
 */
static int
print_text(struct logs_out *o, const char *s, size_t len, bool final)
{
	size_t used;

	if (o->raw)
		return write_out(s, len);
	if (len == 0 && o->held.len == 0)
		return 0;
	buf_add(&o->held, s, len);
	buf_reset(&o->esc);
	used = term_escape(&o->esc, o->held.data != NULL ? o->held.data : "",
			   o->held.len, o->flags | (final ? TERM_ESC_FINAL : 0));
	memmove(o->held.data, o->held.data + used, o->held.len - used);
	o->held.len -= used;
	return o->esc.len > 0 ? write_out(o->esc.data, o->esc.len) : 0;
}

static int
on_log(struct follow *f, const cJSON *d)
{
	const char *text = json_str(d, "text");
	double off = json_num(d, "offset", -1);

	if (text == NULL)
		return 0;
	/* Already printed before a reconnection? */
	if (off >= 0 && (uint64_t)off < f->seen)
		return 0;
	if (f->id[0] != '\0')
		f->seen = strtoull(f->id, NULL, 10);
	return print_text(f->out, text, strlen(text), false);
}

static int
on_end(struct follow *f, const cJSON *d)
{
	char *status = term_escape_str(json_str(d, "status"));
	char *reason = term_escape_str(json_str(d, "reason"));
	const char *st = status != NULL ? status : "ended";
	double code = json_num(d, "exit_code", -1);

	f->ended = true;
	f->result = status != NULL && strcmp(status, "success") == 0 ?
			    CLI_OK : CLI_FAILED;
	/* The end of the text: a sequence still held is shown escaped. */
	if (print_text(f->out, "", 0, true) < 0)
		f->result = CLI_FAILED;
	if (f->result == CLI_OK)
		;
	else if (reason != NULL && *reason != '\0')
		fprintf(stderr, "pipewright: job '%s' %s: %s\n", f->job, st,
			reason);
	else if (code >= 0)
		fprintf(stderr, "pipewright: job '%s' %s: exit status %.0f\n",
			f->job, st, code);
	else
		fprintf(stderr, "pipewright: job '%s' %s\n", f->job, st);
	free(status);
	free(reason);
	return 1; /* stop: nothing comes after the end */
}

/* A blank line ends an event: act on it. */
static int
dispatch(struct follow *f)
{
	cJSON *d;
	int rc = 0;

	if (f->id[0] != '\0')
		snprintf(f->last_id, sizeof(f->last_id), "%s", f->id);
	if (f->data.len > 0 || f->event[0] != '\0') {
		f->progress = true;
		d = cJSON_ParseWithLength(f->data.data ? f->data.data : "",
					  f->data.len);
		if (strcmp(f->event, "log") == 0)
			rc = on_log(f, d);
		else if (strcmp(f->event, "end") == 0)
			rc = on_end(f, d);
		cJSON_Delete(d);
	}
	buf_reset(&f->data);
	f->event[0] = f->id[0] = '\0';
	return rc;
}

/* One line of the stream, without its end of line. */
static int
on_line(struct follow *f, char *s, size_t len)
{
	char *colon, *v;

	if (len == 0)
		return dispatch(f);
	if (s[0] == ':')
		return 0; /* a comment: keep-alive */
	colon = memchr(s, ':', len);
	v = colon != NULL ? colon + 1 : s + len;
	if (colon != NULL)
		*colon = '\0';
	else
		s[len] = '\0';
	if (*v == ' ')
		v++;
	if (strcmp(s, "event") == 0) {
		snprintf(f->event, sizeof(f->event), "%s", v);
	} else if (strcmp(s, "id") == 0) {
		snprintf(f->id, sizeof(f->id), "%s", v);
	} else if (strcmp(s, "data") == 0) {
		if ((f->data.len > 0 && buf_append(&f->data, "\n", 1) < 0) ||
		    buf_append(&f->data, v, strlen(v)) < 0) {
			fprintf(stderr, "pipewright: an event of the log stream "
				"is larger than %d bytes\n", EVENT_MAX);
			return -1;
		}
	}
	return 0;
}

/* The write callback's sink: splits the stream into lines. */
static int
sse_sink(void *arg, const char *data, size_t len)
{
	struct follow *f = arg;
	const char *nl;
	size_t take;
	int rc;

	f->answered = true;
	while (len > 0) {
		nl = memchr(data, '\n', len);
		take = nl != NULL ? (size_t)(nl - data) : len;
		if (buf_append(&f->line, data, take) < 0) {
			fprintf(stderr, "pipewright: a line of the log stream "
				"is larger than %d bytes\n", EVENT_MAX);
			return -1;
		}
		if (nl == NULL)
			break;
		data += take + 1;
		len -= take + 1;
		if (f->line.len > 0 && f->line.data[f->line.len - 1] == '\r')
			f->line.data[--f->line.len] = '\0';
		rc = on_line(f, f->line.data ? f->line.data : (char *)"",
			     f->line.len);
		buf_reset(&f->line);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Follows the stream at path until its end event, resuming on a drop. */
static int
follow(struct client *c, const char *path, const char *job,
       struct logs_out *out)
{
	struct follow f = {.job = job, .result = CLI_FAILED, .out = out};
	struct curl_slist *hdrs;
	char hdr[64];
	long pause = FOLLOW_PAUSE_MS;
	bool transport;
	int rc, tries = 0;

	buf_init(&f.line, EVENT_MAX);
	buf_init(&f.data, EVENT_MAX);
	for (;;) {
		hdrs = NULL;
		if (f.last_id[0] != '\0') {
			snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s",
				 f.last_id);
			hdrs = curl_slist_append(NULL, hdr);
		}
		f.progress = false;
		rc = client_stream(c, path, true, hdrs, sse_sink, &f,
				   &transport);
		curl_slist_free_all(hdrs);
		if (f.ended || (rc != CLI_OK && !transport))
			break; /* the end, or an error already printed */
		if (!f.answered) {
			client_transport_error(c, c->last_rc);
			break;
		}
		if (f.progress) {
			tries = 0;
			pause = FOLLOW_PAUSE_MS;
		}
		if (++tries > FOLLOW_RETRIES) {
			if (transport)
				client_transport_error(c, c->last_rc);
			else
				fprintf(stderr, "pipewright: the log stream "
					"ended before the job did\n");
			break;
		}
		/* A partial event is dropped; the server sends it again. */
		buf_reset(&f.line);
		buf_reset(&f.data);
		f.event[0] = f.id[0] = '\0';
		pause_ms(pause);
		pause *= 2;
	}
	buf_free(&f.line);
	buf_free(&f.data);
	return f.ended ? f.result : CLI_FAILED;
}

static int
plain_sink(void *arg, const char *data, size_t len)
{
	return print_text(arg, data, len, false);
}

struct logs_opts {
	bool follow;
	long attempt;   /* 0: the latest */
	bool raw, color;
	const char *stream; /* a service's stream; NULL: the job's log */
};

static const struct cli_opt logs_opts[] = {
	{"follow", 'f', false, NULL, "print output as it comes until the job "
	 "ends; exit with its result"},
	{"attempt", 0, true, "N", "this attempt (default: the latest)"},
	{"raw", 0, false, NULL, "the bytes as they are, control characters "
	 "included (for a file)"},
	{"color", 0, false, NULL, "keep the job's colours (SGR sequences); "
	 "other control characters stay escaped"},
	{"stream", 0, true, "NAME", "the log of the job's service NAME "
	 "(stored when the job ends) instead of the job's"},
	{NULL, 0, false, NULL, NULL},
};

static int
logs_option(void *ctx, size_t opt, const char *arg)
{
	struct logs_opts *o = ctx;
	char *end;

	if (opt == 0) {
		o->follow = true;
		return 0;
	}
	if (opt == 2 || opt == 3) {
		*(opt == 2 ? &o->raw : &o->color) = true;
		return 0;
	}
	if (opt == 4) {
		o->stream = arg;
		return 0;
	}
	o->attempt = strtol(arg, &end, 10);
	if (*end != '\0' || o->attempt < 1 || o->attempt > 1000000) {
		fprintf(stderr, "pipewright: --attempt: expected a positive "
			"number, got '%s'\n", arg);
		return CLI_USAGE;
	}
	return 0;
}

static const struct client_spec logs_spec = {
	.name = "logs", .args = "RUN [JOB]", .opts = logs_opts,
	.min_args = 1, .max_args = 2, .option = logs_option,
};

/* The run's pipeline problems, as `pipewright validate` prints them. */
static int
print_problems(struct client *c, uint64_t id, struct logs_out *out)
{
	struct client_response r;
	const cJSON *p, *problems;
	char *path, *line;
	int rc;

	path = xasprintf("/api/v1/runs/%llu", (unsigned long long)id);
	rc = client_call(c, "GET", path, NULL, &r);
	free(path);
	problems = rc == CLI_OK ?
		   cJSON_GetObjectItemCaseSensitive(r.json, "problems") : NULL;
	cJSON_ArrayForEach(p, problems) {
		const char *file = json_str(p, "file");

		line = xasprintf("%s:%.0f:%.0f: error: %s\n",
				 file != NULL ? file : "-",
				 json_num(p, "line", 0),
				 json_num(p, "column", 0),
				 json_str(p, "message") != NULL ?
				 json_str(p, "message") : "");
		if (print_text(out, line, strlen(line), true) < 0)
			rc = CLI_FAILED;
		free(line);
	}
	client_response_free(&r);
	return rc;
}

/* The run's own log, then its problems. */
static int
run_log(struct client *c, uint64_t id, struct logs_out *out)
{
	char *path = xasprintf("/api/v1/runs/%llu/log", (unsigned long long)id);
	bool transport;
	int rc;

	rc = client_stream(c, path, false, NULL, plain_sink, out, &transport);
	free(path);
	if (transport)
		client_transport_error(c, c->last_rc);
	if (rc == CLI_OK && print_text(out, "", 0, true) < 0)
		rc = CLI_FAILED;
	return rc == CLI_OK ? print_problems(c, id, out) : rc;
}

int
cmd_logs(int argc, char **argv)
{
	struct logs_opts o = {0};
	struct logs_out out = {0};
	struct client c;
	char *job = NULL, *path = NULL, *stream = NULL, attempt[32] = "";
	uint64_t id;
	bool transport;
	int rc;

	buf_init(&out.held, 0);
	buf_init(&out.esc, 0);
	rc = client_parse(&c, &logs_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	if (o.raw && o.color) {
		fprintf(stderr, "pipewright: logs: --raw and --color exclude "
			"each other (--raw keeps the colours too)\n");
		rc = CLI_USAGE;
		goto out;
	}
	out.raw = o.raw;
	out.flags = o.color ? TERM_ESC_SGR : 0;
	rc = client_run_id(c.args[0], &id);
	if (rc != CLI_OK)
		goto out;
	if (o.stream != NULL && o.follow) {
		fprintf(stderr, "pipewright: logs: -f is for the job's own log; "
			"a service's stream is stored when its job ends\n");
		rc = CLI_USAGE;
		goto out;
	}
	if (c.nargs == 1 && (o.follow || o.attempt > 0 || o.stream != NULL)) {
		fprintf(stderr, "pipewright: logs: %s is for a job's log; give "
			"RUN JOB\n", o.follow ? "-f" : o.stream != NULL ?
			"--stream" : "--attempt");
		rc = CLI_USAGE;
		goto out;
	}
	if (c.nargs == 1) {
		rc = run_log(&c, id, &out);
		goto out;
	}
	if (c.args[1][0] == '\0') {
		fprintf(stderr, "pipewright: logs: the JOB name is empty\n");
		rc = CLI_USAGE;
		goto out;
	}
	job = client_escape(&c, c.args[1]);
	if (o.attempt > 0)
		snprintf(attempt, sizeof(attempt), "attempt=%ld", o.attempt);
	if (o.stream != NULL) {
		char *e = client_escape(&c, o.stream);

		stream = xasprintf("%sstream=%s", o.attempt ? "&" : "", e);
		free(e);
	}
	path = xasprintf("/api/v1/runs/%llu/jobs/%s/log%s%s%s%s%s",
			 (unsigned long long)id, job,
			 o.follow || o.attempt || stream ? "?" : "",
			 o.follow ? "follow=1" : "",
			 o.follow && o.attempt ? "&" : "", attempt,
			 stream != NULL ? stream : "");
	if (o.follow) {
		rc = follow(&c, path, c.args[1], &out);
	} else {
		rc = client_stream(&c, path, false, NULL, plain_sink, &out,
				   &transport);
		if (transport)
			client_transport_error(&c, c.last_rc);
	}
	/* What a cut stream left held is shown, escaped. */
	if (print_text(&out, "", 0, true) < 0 && rc == CLI_OK)
		rc = CLI_FAILED;
out:
	buf_free(&out.held);
	buf_free(&out.esc);
	free(job);
	free(path);
	free(stream);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
