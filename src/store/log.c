/*
 * Reading logs back: an attempt's, a service's stream of it, or a run's,
 * from any byte offset, with the one reader below.
 *
 * Chunks are stored under the offset of their first byte, so the read
 * starts at the chunk that holds `offset` (the greatest chunk offset not
 * past it) and walks the primary key from there; the stored size (the
 * owner's log_bytes) bounds the read, so a chunk committed meanwhile never
 * shows half.  Live followers read again from where they stopped.
 *
 * And one writer: store_tx_log_append_file stores a range of an attempt's
 * log file, read on the writer thread, so that the daemon's loop hands
 * over a range and never the bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "store-int.h"

struct log_sql {
	enum store_stmt_id size_id, chunks_id;
	const char *size, *chunks;
};

static const struct log_sql attempt_log = {
	ST_R_LOG_SIZE, ST_R_LOG,
	"SELECT log_bytes FROM attempts WHERE id = ?1",
	"SELECT byte_offset, data FROM log_chunks WHERE attempt_id = ?1"
	" AND stream = '' AND byte_offset >= coalesce((SELECT max(byte_offset)"
	"  FROM log_chunks WHERE attempt_id = ?1 AND stream = ''"
	"  AND byte_offset <= ?2), 0)"
	" AND byte_offset < ?3 ORDER BY byte_offset",
};

/* ?4 (chunks) and ?2 (size): the stream's name. */
static const struct log_sql stream_log = {
	ST_R_STREAM_SIZE, ST_R_STREAM,
	"SELECT log_bytes FROM attempt_streams WHERE attempt_id = ?1"
	" AND stream = ?2",
	"SELECT byte_offset, data FROM log_chunks WHERE attempt_id = ?1"
	" AND stream = ?4 AND byte_offset >= coalesce((SELECT max(byte_offset)"
	"  FROM log_chunks WHERE attempt_id = ?1 AND stream = ?4"
	"  AND byte_offset <= ?2), 0)"
	" AND byte_offset < ?3 ORDER BY byte_offset",
};

static const struct log_sql run_log = {
	ST_R_RUN_LOG_SIZE, ST_R_RUN_LOG,
	"SELECT log_bytes FROM runs WHERE id = ?1",
	"SELECT byte_offset, data FROM run_log_chunks WHERE run_id = ?1"
	" AND byte_offset >= coalesce((SELECT max(byte_offset)"
	"  FROM run_log_chunks WHERE run_id = ?1 AND byte_offset <= ?2), 0)"
	" AND byte_offset < ?3 ORDER BY byte_offset",
};

static int
read_log(struct store *s, const struct log_sql *q, uint64_t owner,
	 const char *stream, uint64_t offset, size_t max, struct buf *out,
	 uint64_t *sizep)
{
	sqlite3_stmt *st;
	const char *data;
	uint64_t size, end, at, len, from, to;
	int rc;

	if ((rc = store_stmt(&s->rd, q->size_id, q->size, &st)) < 0)
		return rc;
	store_bind_u64(st, 1, owner);
	if (stream != NULL)
		store_bind_text(st, 2, stream);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (sizep != NULL)
		*sizep = size;
	if (offset >= size || max == 0)
		return 0;
	end = size - offset < max ? size : offset + max;

	if ((rc = store_stmt(&s->rd, q->chunks_id, q->chunks, &st)) < 0)
		return rc;
	store_bind_u64(st, 1, owner);
	store_bind_u64(st, 2, offset);
	store_bind_u64(st, 3, end);
	if (stream != NULL)
		store_bind_text(st, 4, stream);
	while ((rc = store_step(st)) == 1) {
		at = (uint64_t)sqlite3_column_int64(st, 0);
		data = sqlite3_column_blob(st, 1);
		len = (uint64_t)sqlite3_column_bytes(st, 1);
		from = at > offset ? at : offset;
		to = at + len < end ? at + len : end;
		if (to <= from)
			continue;
		if ((rc = buf_append(out, data + (from - at), to - from)) < 0) {
			sqlite3_reset(st);
			return rc;
		}
	}
	return rc;
}

int
store_log_read(struct store *s, uint64_t attempt, uint64_t offset, size_t max,
	       struct buf *out)
{
	return read_log(s, &attempt_log, attempt, NULL, offset, max, out, NULL);
}

int
store_run_log_read(struct store *s, uint64_t run, uint64_t offset, size_t max,
		   struct buf *out)
{
	return read_log(s, &run_log, run, NULL, offset, max, out, NULL);
}

int
store_stream_read(struct store *s, uint64_t attempt, const char *stream,
		  uint64_t offset, size_t max, struct buf *out, uint64_t *sizep)
{
	return read_log(s, &stream_log, attempt, stream, offset, max, out,
			sizep);
}

int
store_tx_log_append_file(struct store_tx *tx, uint64_t attempt,
			 uint64_t offset, int fd, uint64_t len)
{
	char *buf;
	size_t want, got;
	ssize_t n;
	int rc = 0;

	buf = xmalloc(len < STORE_LOG_ROW ? (size_t)len : STORE_LOG_ROW);
	while (rc == 0 && len > 0) {
		want = len < STORE_LOG_ROW ? (size_t)len : STORE_LOG_ROW;
		for (got = 0; got < want; got += (size_t)n) {
			n = pread(fd, buf + got, want - got,
				  (off_t)(offset + got));
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n < 0) {
				rc = -errno;
				break;
			}
			if (n == 0) {
				rc = -EIO;  /* the file is shorter than said */
				break;
			}
		}
		if (rc == 0)
			rc = store_tx_log_append(tx, attempt, offset, buf, want);
		offset += want;
		len -= want;
	}
	free(buf);
	return rc;
}
