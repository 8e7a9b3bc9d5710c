/*
 * The log streams of a job's services: each service's output is a log of
 * its own beside the job's, chunks in log_chunks under the service's name
 * (the job's own log is the stream ''), and its size in attempt_streams.
 * The daemon stores them when the attempt ends, from the files the
 * supervisor wrote (docs/internals/supervisor.md, "Services"); they are
 * read by the job log's own reader (log.c), from any offset.
 */
#include <errno.h>
#include <stdlib.h>

#include "store-int.h"

int
store_tx_stream_append(struct store_tx *tx, uint64_t attempt,
		       const char *stream, uint64_t offset, const char *data,
		       size_t len)
{
	sqlite3_stmt *st;
	uint64_t size = 0;
	int rc;

	if (stream == NULL || *stream == '\0')
		return -EINVAL;
	rc = store_stmt(tx->c, ST_STREAM_SIZE, "SELECT log_bytes FROM"
			" attempt_streams WHERE attempt_id = ?1 AND"
			" stream = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_text(st, 2, stream);
	if ((rc = store_step(st)) < 0)
		return rc;
	if (rc == 1) {
		size = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (offset != size)
		return -EINVAL;
	if (len > 0) {
		rc = store_stmt(tx->c, ST_STREAM_INSERT, "INSERT INTO"
				" log_chunks (attempt_id, stream, byte_offset,"
				" data) VALUES (?1, ?2, ?3, ?4)", &st);
		if (rc < 0)
			return rc;
		store_bind_u64(st, 1, attempt);
		store_bind_text(st, 2, stream);
		store_bind_u64(st, 3, size);
		sqlite3_bind_blob64(st, 4, data, len, SQLITE_STATIC);
		if ((rc = store_exec(st)) < 0)
			return rc;
	}
	rc = store_stmt(tx->c, ST_STREAM_SET, "INSERT INTO attempt_streams"
			" (attempt_id, stream, log_bytes) VALUES (?1, ?2, ?3)"
			" ON CONFLICT (attempt_id, stream) DO UPDATE SET"
			" log_bytes = excluded.log_bytes", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_text(st, 2, stream);
	store_bind_u64(st, 3, size + len);
	return store_exec(st);
}

int
store_streams_list(struct store *s, uint64_t attempt, char ***names)
{
	sqlite3_stmt *st;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	rc = store_stmt(&s->rd, ST_R_STREAMS, "SELECT stream FROM"
			" attempt_streams WHERE attempt_id = ?1"
			" ORDER BY stream", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, n + 2, sizeof(*v));
		v[n++] = store_col_text(st, 0);
	}
	if (rc < 0) {
		if (v != NULL) {
			v[n] = NULL;
			pw_strv_free(v);
		}
		return rc;
	}
	v = xgrow(v, &cap, n + 1, sizeof(*v));
	v[n] = NULL;
	*names = v;
	return 0;
}
