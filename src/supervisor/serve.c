/*
 * The socket: clients that attach, follow the log and may cancel.
 *
 * Each client has its own offset into the log and at most one frame in
 * flight (out): when the socket is writable and out is empty, the next
 * frame is built, either up to SV_CHUNK log bytes read back from the file
 * with pread or, once the status is written and the client has every log
 * byte, the END frame.  Serving from the file rather than from memory
 * makes the backlog of a late attacher and the live tail one code path and
 * keeps memory at one chunk per client.  Nothing here ever blocks: a slow
 * client only falls behind.
 *
 * A client that speaks version 2 gets no bytes at all: "SIZE <n>" says
 * the log file has grown to n bytes, and it reads them from the file
 * itself (the daemon's store writer does, off its event loop).  Notes
 * coalesce: one is built when the socket is writable and the log has
 * grown since the last, at most one per SV_NOTE_MS while the job runs
 * (a job printing short lines would otherwise wake the daemon for each
 * read of ours), at once when the job has ended; a client that falls
 * behind gets one note for everything it missed, never a queue of them.
 *
 * Requests are lines of at most SUPERVISOR_MAX_LINE bytes: first
 * "ATTACH <version> <offset>", then any number of "CANCEL".  The version
 * is negotiated down to ours (a newer daemon re-attaching), and a client
 * older than SUPERVISOR_PROTO_MIN_VERSION is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor.h"

static void
drop(struct supervisor *sv, struct sv_client *c)
{
	(void)sv;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
queue(struct sv_client *c, const char *hdr, size_t hlen, const char *data,
      size_t dlen)
{
	c->out = xrealloc(c->out, hlen + dlen);
	memcpy(c->out, hdr, hlen);
	if (dlen > 0)
		memcpy(c->out + hlen, data, dlen);
	c->out_len = hlen + dlen;
	c->out_off = 0;
}

static void
queue_line(struct sv_client *c, const char *line)
{
	queue(c, line, strlen(line), NULL, 0);
}

void
sv_serve_accept(struct supervisor *sv)
{
	struct sv_client *c;
	int fd;

	for (;;) {
		fd = accept4(sv->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sv_warn("accept");
			return;
		}
		if (sv->nclients >= SV_MAX_CLIENTS) {
			sv_warnx("too many clients; closing a connection");
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->since = pw_mono_ms();
		c->next = sv->clients;
		sv->clients = c;
		sv->nclients++;
	}
}

static int
parse_u64(const char **s, uint64_t *out)
{
	char *end;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(*s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	*s = end;
	return 0;
}

static void
request(struct supervisor *sv, struct sv_client *c, const char *line)
{
	const char *p = line;
	uint64_t version, offset;
	char msg[SUPERVISOR_MAX_LINE];

	if (c->attached) {
		if (strcmp(line, "CANCEL") == 0)
			sv_cancel(sv, SV_CAUSE_CANCEL);
		else
			sv_warnx("ignoring unknown request \"%.32s\"", line);
		return;
	}
	if (strncmp(p, "ATTACH ", 7) != 0 || (p += 7, parse_u64(&p, &version)) < 0 ||
	    *p++ != ' ' || parse_u64(&p, &offset) < 0 || *p != '\0') {
		queue_line(c, "ERR expected \"ATTACH <version> <offset>\"\n");
		c->closing = true;
		return;
	}
	/*
	 * A newer client greets with its own version and gets ours: it
	 * speaks ours too (supervisor-proto.h).  Only versions older than
	 * any we still understand are refused.
	 */
	if (version < SUPERVISOR_PROTO_MIN_VERSION) {
		snprintf(msg, sizeof(msg), "ERR unsupported protocol version %llu\n",
			 (unsigned long long)version);
		queue_line(c, msg);
		c->closing = true;
		return;
	}
	c->version = version < SUPERVISOR_PROTO_VERSION
		     ? (unsigned)version : SUPERVISOR_PROTO_VERSION;
	snprintf(msg, sizeof(msg), "OK %u\n", c->version);
	queue_line(c, msg);
	c->attached = true;
	c->offset = offset;
}

void
sv_serve_read(struct supervisor *sv, struct sv_client *c)
{
	char *nl;
	ssize_t n;

	while (c->fd >= 0 && !c->closing) {
		n = read(c->fd, c->line + c->line_len,
			 sizeof(c->line) - c->line_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			drop(sv, c);  /* gone: simply forgotten */
			return;
		}
		c->line_len += (size_t)n;
		while (!c->closing &&
		       (nl = memchr(c->line, '\n', c->line_len)) != NULL) {
			size_t used = (size_t)(nl - c->line) + 1;

			*nl = '\0';
			request(sv, c, c->line);
			memmove(c->line, c->line + used, c->line_len - used);
			c->line_len -= used;
		}
		if (c->line_len == sizeof(c->line)) {
			sv_warnx("dropping a client: request line too long");
			drop(sv, c);
			return;
		}
	}
}

/* A version-2 client may have its next note now. */
static bool
note_due(const struct supervisor *sv, const struct sv_client *c, uint64_t now)
{
	return sv->done || c->noted_at == 0 || now >= c->noted_at + SV_NOTE_MS;
}

bool
sv_serve_wants_write(const struct supervisor *sv, const struct sv_client *c)
{
	if (c->fd < 0)
		return false;
	if (c->out_off < c->out_len)
		return true;
	if (c->closing)  /* after END, closed once synced (sv_serve_write) */
		return c->end_queued && sv->synced;
	if (!c->attached)
		return false;
	if (c->offset < sv->log_bytes)
		return c->version < 2 || note_due(sv, c, pw_mono_ms());
	return sv->done && !c->end_queued;
}

uint64_t
sv_serve_next_note(const struct supervisor *sv)
{
	const struct sv_client *c;
	uint64_t next = 0, d, now = pw_mono_ms();

	/*
	 * Only notes held back by the pace: one that is due waits for the
	 * socket (POLLOUT), or poll would spin while the client is behind.
	 */
	for (c = sv->clients; c != NULL; c = c->next) {
		if (c->fd < 0 || !c->attached || c->closing || c->version < 2 ||
		    c->offset >= sv->log_bytes || c->out_off < c->out_len ||
		    note_due(sv, c, now))
			continue;
		d = c->noted_at + SV_NOTE_MS;
		if (next == 0 || d < next)
			next = d;
	}
	return next;
}

/* Builds the next frame into c->out; false if there is none yet. */
static bool
next_frame(struct supervisor *sv, struct sv_client *c)
{
	char hdr[SUPERVISOR_MAX_LINE], data[SV_CHUNK];
	uint64_t want;
	ssize_t n;
	int hlen;

	if (c->offset < sv->log_bytes && c->version >= 2) {
		uint64_t now = pw_mono_ms();

		if (!note_due(sv, c, now))
			return false;
		c->noted_at = now;
		hlen = snprintf(hdr, sizeof(hdr), "SIZE %llu\n",
				(unsigned long long)sv->log_bytes);
		queue(c, hdr, (size_t)hlen, NULL, 0);
		c->offset = sv->log_bytes;
		return true;
	}
	if (c->offset < sv->log_bytes) {
		want = sv->log_bytes - c->offset;
		if (want > SV_CHUNK)
			want = SV_CHUNK;
		do {
			n = pread(sv->log_fd, data, (size_t)want,
				  (off_t)c->offset);
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			sv_warn("reading back %s/%s", sv->dir,
				SUPERVISOR_LOG_FILE);
			drop(sv, c);
			return false;
		}
		hlen = snprintf(hdr, sizeof(hdr), "LOG %zd\n", n);
		queue(c, hdr, (size_t)hlen, data, (size_t)n);
		c->offset += (uint64_t)n;
		return true;
	}
	if (sv->done && !c->end_queued) {
		hlen = snprintf(hdr, sizeof(hdr), "END %zu\n", sv->status_len);
		queue(c, hdr, (size_t)hlen, sv->status, sv->status_len);
		c->end_queued = true;
		c->closing = true;
		return true;
	}
	return false;
}

void
sv_serve_write(struct supervisor *sv, struct sv_client *c)
{
	ssize_t n;

	while (c->fd >= 0) {
		if (c->out_off == c->out_len) {
			if (c->closing) {
				/* After END, its end of stream says the
				 * files are there. */
				if (!c->end_queued || sv->synced)
					drop(sv, c);
				return;
			}
			if (!c->attached || !next_frame(sv, c))
				return;
		}
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			drop(sv, c);  /* reset or gone: forgotten */
			return;
		}
		c->out_off += (size_t)n;
		c->since = pw_mono_ms();
	}
}

static uint64_t
client_deadline(const struct supervisor *sv, const struct sv_client *c)
{
	uint64_t from = c->since > sv->done_at ? c->since : sv->done_at;

	return from + (c->attached ? SV_LINGER_MS : SV_ATTACH_WAIT_MS);
}

uint64_t
sv_serve_next_deadline(const struct supervisor *sv)
{
	const struct sv_client *c;
	uint64_t next = 0, d;

	if (!sv->done)
		return 0;
	for (c = sv->clients; c != NULL; c = c->next) {
		if (c->fd < 0)
			continue;
		d = client_deadline(sv, c);
		if (next == 0 || d < next)
			next = d;
	}
	return next;
}

void
sv_serve_sweep(struct supervisor *sv, uint64_t now)
{
	struct sv_client **pp = &sv->clients, *c;

	while ((c = *pp) != NULL) {
		if (c->fd >= 0 && sv->done && now >= client_deadline(sv, c)) {
			sv_warnx("dropping a client that %s",
				 c->attached ? "stopped reading"
					     : "did not attach");
			drop(sv, c);
		}
		if (c->fd < 0) {
			*pp = c->next;
			free(c->out);
			free(c);
			sv->nclients--;
		} else {
			pp = &c->next;
		}
	}
}

void
sv_serve_free(struct supervisor *sv)
{
	struct sv_client *c;

	while ((c = sv->clients) != NULL) {
		sv->clients = c->next;
		if (c->fd >= 0)
			close(c->fd);
		free(c->out);
		free(c);
	}
	sv->nclients = 0;
}
