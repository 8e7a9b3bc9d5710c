/*
 * The database file apart from a running store: the online copy of
 * `pipewright backup` and the checks of `pipewright doctor`, made while a
 * daemon may be serving from the same file.
 *
 * Each call opens its own read-only connection, so nothing here can write
 * to the daemon's database, migrate it or checkpoint its WAL; WAL lets it
 * read one consistent snapshot while the daemon commits.  The copy is one
 * VACUUM INTO: a single read transaction that writes a compact,
 * rollback-journal file, where the stepwise backup API would restart from
 * the beginning after every commit of the daemon and might never finish.
 * It goes to a fresh temporary name next to the target, is checked
 * (quick_check) and fsynced there, and only then becomes the target by
 * link(2), which refuses a target that appeared in the meantime: a crash
 * leaves at most a stray temporary, never a partial file under the name
 * the operator asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-int.h"

/* integrity_check stops after this many findings: enough for people. */
#define CHECK_SQL "PRAGMA integrity_check(20)"

/* The first column of a one-row query as an integer.  SQLite's rc. */
static int
query_i64(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_EMPTY;
		}
	}
	/* finalize would reset the message that says what failed */
	if (rc != SQLITE_OK)
		rc = sqlite3_extended_errcode(db);
	sqlite3_finalize(st);
	return rc;
}

/* SQLite's rc as an errno for a failure, never 0. */
static int
fail_errno(int rc)
{
	int e = store_errno(rc);

	return e < 0 ? e : -EIO;
}

/* fsync of a file or directory by name.  0 or -errno. */
static int
sync_path(const char *path, int flags)
{
	int fd, rc = 0;

	fd = open(path, flags | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
sync_parent(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	rc = sync_path(slash != NULL ? dir : ".", O_DIRECTORY);
	free(dir);
	return rc;
}

/* Checks the fresh copy and says what is in it. */
static int
verify_copy(const char *tmp, struct store_file_info *info, char **err)
{
	struct store_conn c;
	sqlite3_stmt *st = NULL;
	const char *res;
	int64_t v = 0;
	int rc;

	if ((rc = store_conn_open(&c, tmp, true, err)) < 0)
		return rc;
	rc = sqlite3_prepare_v2(c.db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		res = (const char *)sqlite3_column_text(st, 0);
		if (res == NULL || strcmp(res, "ok") != 0) {
			*err = xasprintf("the copy %s fails its check: %s", tmp,
					 res != NULL ? res : "?");
			rc = -EIO;
			goto out;
		}
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_OK)
		rc = query_i64(c.db, "PRAGMA user_version", &v);
	if (rc == SQLITE_OK) {
		info->schema_version = (int)v;
		/* A database the daemon never migrated has no runs table. */
		if (v >= 1 && (rc = query_i64(c.db, "SELECT count(*) FROM runs",
					      &v)) == SQLITE_OK)
			info->runs = (uint64_t)v;
	}
	if (rc != SQLITE_OK) {
		*err = xasprintf("cannot read the copy %s: %s", tmp,
				 sqlite3_errmsg(c.db));
		rc = fail_errno(rc);
	}
out:
	sqlite3_finalize(st);
	store_conn_close(&c);
	return rc;
}

int
store_backup_file(const char *db_path, const char *out_path,
		  struct store_file_info *info, char **err)
{
	struct store_conn src = {0};
	sqlite3_stmt *st = NULL;
	struct stat sb;
	char *tmp;
	int fd, rc;

	memset(info, 0, sizeof(*info));
	*err = NULL;
	/* Early and friendly; link() below is what makes it certain. */
	if (lstat(out_path, &sb) == 0) {
		*err = xasprintf("%s exists; a backup never replaces a file, "
				 "give a new name", out_path);
		return -EEXIST;
	}
	/* "./" keeps a relative name from being read as a "file:" URI. */
	tmp = xasprintf("%s%s.tmp-XXXXXX", out_path[0] == '/' ? "" : "./",
			out_path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		*err = xasprintf("cannot create %s: %s", tmp, strerror(-rc));
		free(tmp);
		return rc;
	}
	close(fd); /* VACUUM INTO accepts an empty file */

	if ((rc = store_conn_open(&src, db_path, true, err)) < 0)
		goto fail;
	rc = sqlite3_prepare_v2(src.db, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		*err = xasprintf("cannot copy %s: %s", db_path,
				 sqlite3_errmsg(src.db));
		rc = fail_errno(sqlite3_extended_errcode(src.db));
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	store_conn_close(&src);

	if ((rc = verify_copy(tmp, info, err)) < 0)
		goto fail;
	if ((rc = sync_path(tmp, 0)) < 0 || stat(tmp, &sb) < 0) {
		rc = rc < 0 ? rc : -errno;
		*err = xasprintf("cannot write %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	info->bytes = (uint64_t)sb.st_size;
	if (link(tmp, out_path) < 0) {
		rc = -errno;
		*err = rc == -EEXIST ?
			       xasprintf("%s appeared while the copy was made; "
					 "it is left as it was", out_path) :
			       xasprintf("cannot create %s: %s", out_path,
					 strerror(-rc));
		goto fail;
	}
	unlink(tmp);
	free(tmp);
	if ((rc = sync_parent(out_path)) < 0) {
		*err = xasprintf("cannot sync the directory of %s: %s",
				 out_path, strerror(-rc));
		return rc;
	}
	return 0;

fail:
	sqlite3_finalize(st);
	store_conn_close(&src);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* ---- doctor ---- */

void
store_file_check_free(struct store_file_check *c)
{
	size_t i;

	free(c->integrity);
	free(c->unfinished);
	for (i = 0; i < c->nrunning; i++)
		free(c->running[i]);
	free(c->running);
	memset(c, 0, sizeof(*c));
}

/* integrity_check's rows: "ok", or its findings. */
static int
integrity(sqlite3 *db, struct store_file_check *out)
{
	sqlite3_stmt *st = NULL;
	const char *line;
	struct buf b;
	int rc, n = 0;

	buf_init(&b, 0);
	rc = sqlite3_prepare_v2(db, CHECK_SQL, -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		line = (const char *)sqlite3_column_text(st, 0);
		if (n == 0 && line != NULL && strcmp(line, "ok") == 0)
			out->ok = true;
		else
			buf_addf(&b, "%s%s", n > 0 ? "\n" : "",
				 line != NULL ? line : "?");
		n++;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		/* The check itself stumbled on the damage: that is its answer. */
		out->ok = false;
		buf_addf(&b, "%s%s", b.len > 0 ? "\n" : "",
			 sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (!out->ok)
		out->integrity = buf_steal(&b);
	buf_free(&b);
	return rc == SQLITE_NOMEM ? rc : SQLITE_OK;
}

/* The runs and attempts that are not finished, into out. */
static int
list(sqlite3 *db, struct store_file_check *out)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int64_t v = 0;
	int rc;

	if ((rc = query_i64(db, "SELECT coalesce(max(id), 0) FROM runs",
			    &v)) != SQLITE_OK)
		return rc;
	out->max_run = (uint64_t)v;
	rc = sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE status IN "
				"('queued', 'running') ORDER BY id", -1, &st,
				NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->unfinished = xgrow(out->unfinished, &cap,
					out->nunfinished + 1,
					sizeof(*out->unfinished));
		out->unfinished[out->nunfinished++] =
			(uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return sqlite3_extended_errcode(db);
	cap = 0;
	rc = sqlite3_prepare_v2(db, "SELECT dir FROM attempts WHERE status = "
				"'running' AND dir IS NOT NULL ORDER BY id",
				-1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		out->running = xgrow(out->running, &cap, out->nrunning + 1,
				     sizeof(*out->running));
		out->running[out->nrunning++] = store_col_text(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return sqlite3_extended_errcode(db);
	return SQLITE_OK;
}

static void
unlist(struct store_file_check *out)
{
	size_t i;

	free(out->unfinished);
	for (i = 0; i < out->nrunning; i++)
		free(out->running[i]);
	free(out->running);
	out->unfinished = NULL;
	out->running = NULL;
	out->nunfinished = out->nrunning = 0;
	out->max_run = 0;
}

static int
check_file(const char *db_path, bool full, struct store_file_check *out,
	   char **err)
{
	struct store_conn c;
	int64_t v = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->schema_known = (int)store_nmigrations;
	*err = NULL;
	if ((rc = store_conn_open(&c, db_path, true, err)) < 0)
		return rc;
	/* One snapshot for everything below. */
	rc = sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = query_i64(c.db, "PRAGMA user_version", &v);
	if (rc != SQLITE_OK) {
		*err = xasprintf("cannot read %s: %s", db_path,
				 sqlite3_errmsg(c.db));
		rc = fail_errno(rc);
		goto out;
	}
	out->schema_version = (int)v;
	if (full && (rc = integrity(c.db, out)) != SQLITE_OK) {
		*err = xasprintf("cannot check %s: %s", db_path,
				 sqlite3_errmsg(c.db));
		rc = fail_errno(rc);
		goto out;
	}
	rc = 0;
	if (out->schema_version < 1)
		goto out; /* never migrated: no tables, nothing listed */
	if ((rc = list(c.db, out)) != SQLITE_OK) {
		*err = xasprintf("cannot list the runs in %s: %s", db_path,
				 sqlite3_errmsg(c.db));
		unlist(out);
		/* After a check, its findings are the answer; else fail. */
		rc = full ? 0 : fail_errno(rc);
	}
out:
	sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL);
	store_conn_close(&c);
	if (rc < 0)
		store_file_check_free(out);
	return rc;
}

int
store_check_file(const char *db_path, struct store_file_check *out,
		 char **err)
{
	return check_file(db_path, true, out, err);
}

int
store_list_file(const char *db_path, struct store_file_check *out,
		char **err)
{
	return check_file(db_path, false, out, err);
}
