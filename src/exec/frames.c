/*
 * The client side of the supervisor protocol: frames in, status parsed.
 *
 * Pure functions of the bytes, no I/O, so that they can be tested and
 * fuzzed alone.  Bytes arrive in arbitrary pieces: a header line can be
 * split anywhere, a LOG payload is handed on piece by piece as it comes
 * (never buffered whole), a "SIZE n" note (version 2) goes to size_cb,
 * and an END payload is collected up to
 * EXEC_MAX_STATUS.  Header lines longer than SUPERVISOR_MAX_LINE, unknown
 * frames and bad numbers are protocol errors, never crashes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec-int.h"

void
exec_parser_init(struct exec_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = EXEC_PARSE_GREETING;
	buf_init(&p->end, EXEC_MAX_STATUS);
}

void
exec_parser_free(struct exec_parser *p)
{
	buf_free(&p->end);
	free(p->error);
	p->error = NULL;
}

static void
fail(struct exec_parser *p, const char *fmt, const char *arg)
{
	p->state = EXEC_PARSE_ERROR;
	p->error = xasprintf(fmt, arg);
}

/* "<word> <decimal>" with nothing else; 0 or -EINVAL. */
static int
word_number(const char *line, const char *word, uint64_t *n)
{
	size_t wl = strlen(word);
	const char *s = line + wl + 1;
	char *end;

	if (strncmp(line, word, wl) != 0 || line[wl] != ' ' ||
	    *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	return 0;
}

static void
header(struct exec_parser *p, const char *line)
{
	uint64_t n;

	if (p->state == EXEC_PARSE_GREETING) {
		/* The supervisor answers min(ours, its own): either is fine. */
		if (word_number(line, "OK", &n) == 0 &&
		    n >= SUPERVISOR_PROTO_MIN_VERSION &&
		    n <= SUPERVISOR_PROTO_VERSION) {
			p->version = (unsigned)n;
			p->state = EXEC_PARSE_HEADER;
		} else if (word_number(line, "OK", &n) == 0) {
			fail(p, "unsupported protocol version in \"%.64s\"", line);
		} else if (strncmp(line, "ERR ", 4) == 0) {
			fail(p, "supervisor refused: %s", line + 4);
		} else {
			fail(p, "unexpected greeting \"%.64s\"", line);
		}
		return;
	}
	if (word_number(line, "LOG", &n) == 0) {
		p->state = EXEC_PARSE_LOG;
		p->remaining = n;
	} else if (p->version >= 2 && p->size_cb != NULL &&
		   word_number(line, "SIZE", &n) == 0) {
		p->state = EXEC_PARSE_HEADER;
		p->size_cb(n, p->size_arg);
	} else if (word_number(line, "END", &n) == 0) {
		if (n > EXEC_MAX_STATUS) {
			fail(p, "status frame too long (%s)", line);
			return;
		}
		p->state = EXEC_PARSE_END;
		p->remaining = n;
	} else {
		fail(p, "unexpected frame \"%.64s\"", line);
	}
}

enum exec_parse_state
exec_parser_feed(struct exec_parser *p, const char *data, size_t len,
		 exec_parser_log_cb cb, void *arg)
{
	const char *nl;
	size_t take;

	while (len > 0 && p->state != EXEC_PARSE_DONE &&
	       p->state != EXEC_PARSE_ERROR) {
		switch (p->state) {
		case EXEC_PARSE_GREETING:
		case EXEC_PARSE_HEADER:
			nl = memchr(data, '\n', len);
			take = nl != NULL ? (size_t)(nl - data) + 1 : len;
			if (p->line_len + take > sizeof(p->line)) {
				fail(p, "%s", "frame header too long");
				break;
			}
			memcpy(p->line + p->line_len, data, take);
			p->line_len += take;
			data += take;
			len -= take;
			if (nl == NULL)
				break;
			p->line[p->line_len - 1] = '\0';
			p->line_len = 0;
			header(p, p->line);
			break;
		case EXEC_PARSE_LOG:
			take = p->remaining < len ? (size_t)p->remaining : len;
			if (take > 0)
				cb(data, take, arg);
			data += take;
			len -= take;
			p->remaining -= take;
			break;
		case EXEC_PARSE_END:
			take = p->remaining < len ? (size_t)p->remaining : len;
			if (buf_append(&p->end, data, take) < 0) {
				fail(p, "%s", "status frame too long");
				break;
			}
			data += take;
			len -= take;
			p->remaining -= take;
			break;
		case EXEC_PARSE_DONE:
		case EXEC_PARSE_ERROR:
			break;
		}
		/* A frame whose payload is complete (or empty) ends here. */
		if (p->state == EXEC_PARSE_LOG && p->remaining == 0)
			p->state = EXEC_PARSE_HEADER;
		else if (p->state == EXEC_PARSE_END && p->remaining == 0)
			p->state = EXEC_PARSE_DONE;
	}
	return p->state;
}

static const struct {
	const char *name;
	enum exec_result result;
} results[] = {
	{"success", EXEC_SUCCESS},
	{"failed", EXEC_FAILED},
	{"timed_out", EXEC_TIMED_OUT},
	{"canceled", EXEC_CANCELED},
};

static int
parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;

	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

/* One "key=value" line (NUL-terminated, no newline). */
static int
status_line(char *line, struct exec_status *st, bool *have_version,
	    bool *have_result)
{
	char *v = strchr(line, '=');
	long long n;
	size_t i;

	if (v == NULL)
		return *line == '\0' ? 0 : -EINVAL;
	*v++ = '\0';
	if (strcmp(line, "version") == 0) {
		if (parse_int(v, 1, 1, &n) < 0)
			return -EINVAL;
		*have_version = true;
	} else if (strcmp(line, "result") == 0) {
		for (i = 0; i < PW_ARRAY_LEN(results); i++)
			if (strcmp(v, results[i].name) == 0)
				break;
		if (i == PW_ARRAY_LEN(results))
			return -EINVAL;
		st->result = results[i].result;
		*have_result = true;
	} else if (strcmp(line, "exit_code") == 0) {
		if (parse_int(v, -1, 255, &n) < 0)
			return -EINVAL;
		st->exit_code = (int)n;
	} else if (strcmp(line, "signal") == 0) {
		if (parse_int(v, 0, 255, &n) < 0)
			return -EINVAL;
		st->term_signal = (int)n;
	} else if (strcmp(line, "reason") == 0) {
		st->reason = v;
	} else if (strcmp(line, "log_bytes") == 0) {
		return parse_u64(v, &st->log_bytes);
	} else if (strcmp(line, "started_ms") == 0) {
		return parse_u64(v, &st->started_ms);
	} else if (strcmp(line, "finished_ms") == 0) {
		return parse_u64(v, &st->finished_ms);
	} else if (strcmp(line, "execve_mono_us") == 0) {
		return parse_u64(v, &st->execve_mono_us);
	} else if (strcmp(line, "exited_mono_us") == 0) {
		return parse_u64(v, &st->exited_mono_us);
	} else if (strcmp(line, "spec_mono_us") == 0) {
		return parse_u64(v, &st->spec_mono_us);
	} else if (strcmp(line, "drained_mono_us") == 0) {
		return parse_u64(v, &st->drained_mono_us);
	}
	/* Unknown keys are for newer readers. */
	return 0;
}

int
exec_status_parse(const char *text, size_t len, struct exec_status *st,
		  char **reason_out)
{
	char *copy, *line, *next;
	bool have_version = false, have_result = false;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	copy = xstrndup(text, len);
	if (strlen(copy) != len) {
		rc = -EINVAL;  /* a NUL inside */
		goto out;
	}
	for (line = copy; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		rc = status_line(line, st, &have_version, &have_result);
		if (rc < 0)
			goto out;
	}
	if (!have_version || !have_result)
		rc = -EINVAL;
out:
	if (rc < 0) {
		free(copy);
		memset(st, 0, sizeof(*st));
		*reason_out = NULL;
		return rc;
	}
	if (st->reason == NULL)
		st->reason = "";
	*reason_out = copy;
	return 0;
}
