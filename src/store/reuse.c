/*
 * Artifacts and caches: the rows that name blobs (user_version 9).
 *
 * An artifact belongs to its run (CASCADE); expiry releases its blob but
 * keeps the row (removed_ms), so that whoever asks for it later learns
 * when it expired rather than that it never was.  A cache entry is
 * immutable: the first complete save of (project, scope, key) makes it and
 * every later one finds it taken — two jobs saving the same key at once
 * are serialised by the writer thread, so exactly one wins.
 *
 * A restore key is a prefix; the keys starting with it are the range
 * [prefix, prefix with its last byte raised) of the unique index, the
 * newest first by sorting that range (a prefix matches few entries).
 * What is kept and what goes (expire_in, keep_latest, the size budget,
 * max_age) is decided by the caller from the listings here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define ARTIFACT_COLS \
	"run_id, job_idx, job_name, name, digest, size, files, created_ms, " \
	"expires_ms, removed_ms"
#define CACHE_COLS \
	"id, project, scope, key, digest, size, created_ms, last_used_ms"

static bool
digest_ok(const char *d)
{
	return d != NULL && strlen(d) == 64;
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* ---- writes ---- */

int
store_tx_artifact_insert(struct store_tx *tx,
			 const struct store_artifact_new *a)
{
	sqlite3_stmt *st;
	int rc;

	if (a->name == NULL || a->job_name == NULL || !digest_ok(a->digest) ||
	    a->job_idx < 0)
		return -EINVAL;
	/* A rerun of the job replaces its own artifact, never another's. */
	rc = store_stmt(tx->c, ST_ARTIFACT_INSERT, "INSERT INTO artifacts"
			" (run_id, job_idx, job_name, name, digest, size, files,"
			" created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5,"
			" ?6, ?7, ?8, ?9) ON CONFLICT (run_id, name) DO UPDATE"
			" SET job_name = excluded.job_name,"
			" digest = excluded.digest, size = excluded.size,"
			" files = excluded.files,"
			" created_ms = excluded.created_ms,"
			" expires_ms = excluded.expires_ms, removed_ms = 0"
			" WHERE job_idx = excluded.job_idx", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, a->run);
	sqlite3_bind_int(st, 2, a->job_idx);
	store_bind_text(st, 3, a->job_name);
	store_bind_text(st, 4, a->name);
	store_bind_text(st, 5, a->digest);
	store_bind_u64(st, 6, a->size);
	store_bind_u64(st, 7, a->files);
	store_bind_u64(st, 8, a->created_ms);
	store_bind_u64(st, 9, a->expires_ms);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -EEXIST;
}

int
store_tx_artifact_expire(struct store_tx *tx, uint64_t run, const char *name,
			 uint64_t now)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ARTIFACT_EXPIRE, "UPDATE artifacts SET"
			" removed_ms = max(?3, 1) WHERE run_id = ?1 AND name = ?2",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, name);
	store_bind_u64(st, 3, now);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -ENOENT;
}

int
store_tx_artifact_delete(struct store_tx *tx, uint64_t run, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ARTIFACT_DELETE, "DELETE FROM artifacts"
			" WHERE run_id = ?1 AND name = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, name);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -ENOENT;
}

int
store_tx_cache_insert(struct store_tx *tx, const struct store_cache_new *c,
		      bool *won)
{
	sqlite3_stmt *st;
	int rc;

	*won = false;
	if (c->project == NULL || c->scope == NULL || c->key == NULL ||
	    !digest_ok(c->digest))
		return -EINVAL;
	rc = store_stmt(tx->c, ST_CACHE_INSERT, "INSERT INTO caches (project,"
			" scope, key, digest, size, created_ms, last_used_ms)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
			" ON CONFLICT (project, scope, key) DO NOTHING", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, c->project);
	store_bind_text(st, 2, c->scope);
	store_bind_text(st, 3, c->key);
	store_bind_text(st, 4, c->digest);
	store_bind_u64(st, 5, c->size);
	store_bind_u64(st, 6, c->created_ms);
	if ((rc = store_exec(st)) < 0)
		return rc;
	*won = sqlite3_changes(tx->c->db) > 0;
	return 0;
}

int
store_tx_cache_touch(struct store_tx *tx, const char *project,
		     const char *scope, const char *key, uint64_t now)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_CACHE_TOUCH, "UPDATE caches SET"
			" last_used_ms = max(last_used_ms, ?4) WHERE"
			" project = ?1 AND scope = ?2 AND key = ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, scope);
	store_bind_text(st, 3, key);
	store_bind_u64(st, 4, now);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -ENOENT;
}

int
store_tx_cache_delete(struct store_tx *tx, const char *project,
		      const char *key, const char *scope, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (project == NULL || key == NULL)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_CACHE_DELETE, "DELETE FROM caches WHERE"
			" project = ?1 AND key = ?2 AND (?3 IS NULL OR"
			" scope = ?3)", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, key);
	store_bind_text(st, 3, scope);
	if ((rc = store_exec(st)) < 0)
		return rc;
	*n = (uint64_t)sqlite3_changes(tx->c->db);
	return 0;
}

#define DIGEST_REF_SQL \
	"SELECT EXISTS (SELECT 1 FROM caches WHERE digest = ?1) OR" \
	" EXISTS (SELECT 1 FROM artifacts WHERE digest = ?1 AND" \
	" removed_ms = 0)"

static int
digest_ref(struct store_conn *c, enum store_stmt_id id, const char *digest)
{
	sqlite3_stmt *st;
	int rc, yes;

	if ((rc = store_stmt(c, id, DIGEST_REF_SQL, &st)) < 0)
		return rc;
	store_bind_text(st, 1, digest);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -EIO;
	yes = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return yes;
}

int
store_tx_digest_referenced(struct store_tx *tx, const char *digest)
{
	return digest_ref(tx->c, ST_DIGEST_REF, digest);
}

/* ---- reads ---- */

static void
artifact_row(sqlite3_stmt *st, struct store_artifact *a)
{
	a->run = col_u64(st, 0);
	a->job_idx = sqlite3_column_int(st, 1);
	a->job_name = store_col_text(st, 2);
	a->name = store_col_text(st, 3);
	a->digest = store_col_text(st, 4);
	a->size = col_u64(st, 5);
	a->files = col_u64(st, 6);
	a->created_ms = col_u64(st, 7);
	a->expires_ms = col_u64(st, 8);
	a->removed_ms = col_u64(st, 9);
}

/* Every row of a bound statement into *rows. */
static int
artifact_rows(sqlite3_stmt *st, struct store_artifact **rows, size_t *n)
{
	struct store_artifact *v = NULL;
	size_t cap = 0, nv = 0;
	int rc;

	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		artifact_row(st, &v[nv++]);
	}
	if (rc < 0) {
		store_artifacts_free(v, nv);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

void
store_artifacts_free(struct store_artifact *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].job_name);
		free(rows[i].name);
		free(rows[i].digest);
	}
	free(rows);
}

int
store_artifacts_list(struct store *s, uint64_t run,
		     struct store_artifact **rows, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_ARTIFACTS, "SELECT " ARTIFACT_COLS
			" FROM artifacts WHERE run_id = ?1"
			" ORDER BY job_idx, name", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	return artifact_rows(st, rows, n);
}

int
store_artifact_get(struct store *s, uint64_t run, const char *name,
		   struct store_artifact **out)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	rc = store_stmt(&s->rd, ST_R_ARTIFACT, "SELECT " ARTIFACT_COLS
			" FROM artifacts WHERE run_id = ?1 AND name = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, name);
	if ((rc = artifact_rows(st, out, &n)) < 0)
		return rc;
	if (n == 0) {
		free(*out);
		*out = NULL;
		return -ENOENT;
	}
	return 0;
}

int
store_artifacts_expired(struct store *s, uint64_t now, bool keep_latest,
			size_t limit, struct store_artifact **rows, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	/*
	 * The latest successful run of a branch: no later successful run
	 * of the same project, branch and pull request (a PR's runs, whose
	 * branch is their source branch, never displace the branch's own).
	 * Runs without a branch (tags, plain API runs) keep nothing.
	 */
	rc = store_stmt(&s->rd, ST_R_ARTIFACTS_EXPIRED, "SELECT a.run_id,"
			" a.job_idx, a.job_name, a.name, a.digest, a.size,"
			" a.files, a.created_ms, a.expires_ms, a.removed_ms"
			" FROM artifacts a JOIN runs r ON r.id = a.run_id"
			" WHERE a.expires_ms > 0 AND a.removed_ms = 0"
			" AND a.expires_ms <= ?1 AND NOT (?2 AND"
			" r.status = 'success' AND r.branch IS NOT NULL AND"
			" NOT EXISTS (SELECT 1 FROM runs l WHERE"
			" l.project = r.project AND l.branch = r.branch AND"
			" l.pr = r.pr AND l.status = 'success' AND l.id > r.id))"
			" ORDER BY a.expires_ms, a.run_id, a.name LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, now);
	sqlite3_bind_int(st, 2, keep_latest ? 1 : 0);
	store_bind_u64(st, 3, limit);
	return artifact_rows(st, rows, n);
}

static void
cache_row(sqlite3_stmt *st, struct store_cache *c)
{
	c->id = col_u64(st, 0);
	c->project = store_col_text(st, 1);
	c->scope = store_col_text(st, 2);
	c->key = store_col_text(st, 3);
	c->digest = store_col_text(st, 4);
	c->size = col_u64(st, 5);
	c->created_ms = col_u64(st, 6);
	c->last_used_ms = col_u64(st, 7);
}

static int
cache_rows(sqlite3_stmt *st, struct store_cache **rows, size_t *n)
{
	struct store_cache *v = NULL;
	size_t cap = 0, nv = 0;
	int rc;

	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		cache_row(st, &v[nv++]);
	}
	if (rc < 0) {
		store_caches_free(v, nv);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

void
store_caches_free(struct store_cache *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].project);
		free(rows[i].scope);
		free(rows[i].key);
		free(rows[i].digest);
	}
	free(rows);
}

/* One row of a bound statement: 0 and *out, -ENOENT, or an error. */
static int
cache_one(sqlite3_stmt *st, struct store_cache **out)
{
	size_t n = 0;
	int rc;

	if ((rc = cache_rows(st, out, &n)) < 0)
		return rc;
	if (n == 0) {
		free(*out);
		*out = NULL;
		return -ENOENT;
	}
	return 0;
}

/*
 * The keys starting with prefix are [prefix, upper): upper is the prefix
 * cut after its last byte below 0xff, that byte raised.  With no such
 * byte (an empty prefix) there is no upper bound: a BLOB sorts after
 * every TEXT, so an empty one bounds nothing.
 */
static void
bind_upper(sqlite3_stmt *st, int i, const char *prefix)
{
	size_t len = strlen(prefix);
	char *up;

	while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
		len--;
	if (len == 0) {
		sqlite3_bind_zeroblob(st, i, 0);
		return;
	}
	up = xstrndup(prefix, len);
	up[len - 1] = (char)((unsigned char)up[len - 1] + 1);
	sqlite3_bind_text(st, i, up, (int)len, free);
}

int
store_cache_lookup(struct store *s, const char *project,
		   const char *const *scopes, const char *key,
		   const char *const *prefixes, struct store_cache **out)
{
	sqlite3_stmt *st;
	size_t i, j;
	int rc;

	for (i = 0; scopes != NULL && scopes[i] != NULL; i++) {
		if (key != NULL) {
			rc = store_stmt(&s->rd, ST_R_CACHE_EXACT, "SELECT "
					CACHE_COLS " FROM caches WHERE"
					" project = ?1 AND scope = ?2 AND"
					" key = ?3", &st);
			if (rc < 0)
				return rc;
			store_bind_text(st, 1, project);
			store_bind_text(st, 2, scopes[i]);
			store_bind_text(st, 3, key);
			if ((rc = cache_one(st, out)) != -ENOENT)
				return rc;
		}
		for (j = 0; prefixes != NULL && prefixes[j] != NULL; j++) {
			rc = store_stmt(&s->rd, ST_R_CACHE_PREFIX, "SELECT "
					CACHE_COLS " FROM caches WHERE"
					" project = ?1 AND scope = ?2 AND"
					" key >= ?3 AND key < ?4"
					" ORDER BY created_ms DESC, id DESC"
					" LIMIT 1", &st);
			if (rc < 0)
				return rc;
			store_bind_text(st, 1, project);
			store_bind_text(st, 2, scopes[i]);
			store_bind_text(st, 3, prefixes[j]);
			bind_upper(st, 4, prefixes[j]);
			if ((rc = cache_one(st, out)) != -ENOENT)
				return rc;
		}
	}
	return -ENOENT;
}

int
store_caches_list(struct store *s, const char *project, size_t limit,
		  uint64_t before, struct store_cache **rows, size_t *n,
		  uint64_t *next)
{
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_CACHES, "SELECT " CACHE_COLS
			" FROM caches WHERE project = ?1 AND id < ?2"
			" ORDER BY id DESC LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_u64(st, 2, before == 0 ? UINT64_MAX : before);
	store_bind_u64(st, 3, limit + 1);
	if ((rc = cache_rows(st, rows, n)) < 0)
		return rc;
	*next = 0;
	if (*n > limit) {
		/* The extra row only says there is a next page. */
		free((*rows)[limit].project);
		free((*rows)[limit].scope);
		free((*rows)[limit].key);
		free((*rows)[limit].digest);
		*n = limit;
		*next = (*rows)[limit - 1].id;
	}
	return 0;
}

int
store_reuse_usage(struct store *s, struct store_reuse_usage *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_REUSE_USAGE, "SELECT"
			" (SELECT coalesce(sum(size), 0) FROM caches),"
			" (SELECT count(*) FROM caches),"
			" (SELECT coalesce(sum(size), 0) FROM artifacts"
			"  WHERE removed_ms = 0),"
			" (SELECT count(*) FROM artifacts WHERE removed_ms = 0)",
			&st);
	if (rc < 0)
		return rc;
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -EIO;
	out->cache_bytes = col_u64(st, 0);
	out->cache_count = col_u64(st, 1);
	out->artifact_bytes = col_u64(st, 2);
	out->artifact_count = col_u64(st, 3);
	sqlite3_reset(st);
	return 0;
}

int
store_caches_to_evict(struct store *s, uint64_t budget, uint64_t unused_since,
		      size_t limit, struct store_cache **rows, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	/*
	 * `kept` is what the entries used at least as recently take
	 * together: the first that overflows the budget and every one
	 * older goes.
	 */
	rc = store_stmt(&s->rd, ST_R_CACHES_EVICT, "SELECT " CACHE_COLS
			" FROM (SELECT *, sum(size) OVER (ORDER BY"
			" last_used_ms DESC, id DESC ROWS UNBOUNDED PRECEDING)"
			" AS kept FROM caches) WHERE (?1 > 0 AND kept > ?1) OR"
			" (?2 > 0 AND last_used_ms < ?2)"
			" ORDER BY last_used_ms, id LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, budget);
	store_bind_u64(st, 2, unused_since);
	store_bind_u64(st, 3, limit);
	return cache_rows(st, rows, n);
}

int
store_digest_referenced(struct store *s, const char *digest, bool *referenced)
{
	int rc = digest_ref(&s->rd, ST_R_DIGEST_REF, digest);

	if (rc < 0)
		return rc;
	*referenced = rc == 1;
	return 0;
}
