/*
 * bench/forkloop: the floor B1 is measured against.
 *
 * What a job costs the daemon at the least is a process started and
 * waited for, plus its history made durable: one commit when it starts
 * (the attempt row) and one when it ends (the attempt's result).  This
 * loop does exactly that, N times, sequentially: fork + exec /bin/true,
 * wait, and two single-row commits in an SQLite file with the store's own
 * settings (WAL, synchronous=FULL), so each commit is an fsync.  It prints
 * one JSON object with the jobs per second.
 *
 *   forkloop N DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
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

static int
exec1(sqlite3_stmt *st, int id)
{
	int rc;

	sqlite3_bind_int(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins, *upd;
	char path[4096];
	double t0, t;
	int n, i, status;
	pid_t pid;

	if (argc != 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: forkloop N DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/forkloop.db", argv[2]);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = FULL;"
			 "CREATE TABLE attempts (id INTEGER PRIMARY KEY,"
			 " status TEXT NOT NULL, started_at INTEGER,"
			 " finished_at INTEGER)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO attempts VALUES"
			       " (?1, 'running', 1, 0)", -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db, "UPDATE attempts SET status = 'success',"
			       " finished_at = 2 WHERE id = ?1", -1, &upd,
			       NULL)) {
		fprintf(stderr, "forkloop: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	t0 = now();
	for (i = 1; i <= n; i++) {
		/* Autocommit: each statement is its own fsync'd commit. */
		if (exec1(ins, i) < 0)
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || status != 0)
			return 1;
		if (exec1(upd, i) < 0)
			return 1;
	}
	t = now() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	printf("{\"jobs\": %d, \"seconds\": %.3f, \"jobs_per_s\": %.1f}\n", n,
	       t, n / t);
	return 0;
}
