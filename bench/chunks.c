/*
 * bench/chunks: the storage floor of B4 (and of B2's single-row rate).
 *
 *   chunks log BYTES CHUNK DIR   BYTES of log stored as CHUNK-byte rows in
 *                                a table shaped like log_chunks, one
 *                                commit per chunk plus the size update,
 *                                as the daemon commits a batch
 *   chunks rows N DIR            N single-row inserts, each its own commit
 *
 * Both use the store's settings (WAL, synchronous=FULL, no automatic
 * checkpoint) so a commit costs what it costs the daemon; each prints one
 * JSON object with its rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sqlite3 *
open_db(const char *dir)
{
	char path[4096];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/chunks.db", dir);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = FULL;"
			 "PRAGMA wal_autocheckpoint = 0;"
			 "CREATE TABLE attempts (id INTEGER PRIMARY KEY,"
			 " log_bytes INTEGER NOT NULL);"
			 "INSERT INTO attempts VALUES (1, 0);"
			 "CREATE TABLE log_chunks (attempt_id INTEGER NOT NULL,"
			 " byte_offset INTEGER NOT NULL, data BLOB NOT NULL,"
			 " PRIMARY KEY (attempt_id, byte_offset)) WITHOUT ROWID;"
			 "CREATE TABLE runs (id INTEGER PRIMARY KEY,"
			 " project TEXT NOT NULL, delivery TEXT UNIQUE,"
			 " created_at INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "chunks: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	return db;
}

static int
step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
log_bench(long long bytes, int chunk, const char *dir)
{
	sqlite3 *db = open_db(dir);
	sqlite3_stmt *ins, *upd;
	char *data = malloc((size_t)chunk);
	long long off;
	double t0, t;

	memset(data, 'x', (size_t)chunk);
	if (sqlite3_prepare_v2(db, "INSERT INTO log_chunks VALUES (1, ?1, ?2)",
			       -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db, "UPDATE attempts SET log_bytes = ?1"
			       " WHERE id = 1", -1, &upd, NULL))
		return 1;
	t0 = now();
	for (off = 0; off < bytes; off += chunk) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_int64(ins, 1, off);
		sqlite3_bind_blob(ins, 2, data, chunk, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 1, off + chunk);
		if (step(ins) < 0 || step(upd) < 0 ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return 1;
	}
	t = now() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	free(data);
	printf("{\"bytes\": %lld, \"chunk\": %d, \"seconds\": %.3f, "
	       "\"mib_per_s\": %.1f}\n", bytes, chunk, t,
	       (double)bytes / (1 << 20) / t);
	return 0;
}

static int
rows_bench(int n, const char *dir)
{
	sqlite3 *db = open_db(dir);
	sqlite3_stmt *ins;
	char id[64];
	double t0, t;
	int i;

	if (sqlite3_prepare_v2(db, "INSERT INTO runs (project, delivery,"
			       " created_at) VALUES ('p', ?1, 1)", -1, &ins,
			       NULL))
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "delivery-%d", i);
		sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
		if (step(ins) < 0)
			return 1;
	}
	t = now() - t0;
	sqlite3_finalize(ins);
	sqlite3_close(db);
	printf("{\"rows\": %d, \"seconds\": %.3f, \"rows_per_s\": %.1f}\n", n,
	       t, n / t);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "log") == 0)
		return log_bench(atoll(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 4 && strcmp(argv[1], "rows") == 0)
		return rows_bench(atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: chunks log BYTES CHUNK DIR | rows N DIR\n");
	return 2;
}
