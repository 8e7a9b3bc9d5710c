/*
 * reuse: the rules of caches and artifacts, pure functions checked
 * against tables — every kind of run's scopes (pull requests from forks
 * named like the default branch above all), the key charset and its
 * precise errors, the lookup order, when artifacts are saved, their
 * expiry and the message of an expired one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipewright/reuse.h"
#include "pipewright/util.h"

#define DAY 86400000ULL

/* The scopes as "write | read read", "-" for no write scope. */
static const char *
scopes(const struct reuse_run *run, const char *dflt)
{
	static char s[256];
	struct reuse_scopes sc;
	size_t i, n;

	reuse_scopes_of(run, dflt, &sc);
	n = (size_t)snprintf(s, sizeof(s), "%s |",
			     sc.write != NULL ? sc.write : "-");
	for (i = 0; i < sc.nread; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, " %s", sc.read[i]);
	assert_null(sc.read[sc.nread]);
	reuse_scopes_free(&sc);
	return s;
}

static void
test_scopes(void **state)
{
	static const struct {
		struct reuse_run run;
		const char *dflt, *want;
	} rows[] = {
		{{.ref = "refs/heads/feature", .branch = "feature"}, "main",
		 "branch:feature | branch:feature branch:main"},
		{{.ref = "refs/heads/main", .branch = "main"}, "main",
		 "branch:main | branch:main"},
		{{.branch = "feature/x-1"}, "trunk",
		 "branch:feature/x-1 | branch:feature/x-1 branch:trunk"},
		{{.ref = "refs/tags/v1.0", .tag = "v1.0"}, "main",
		 "tag:v1.0 | tag:v1.0 branch:main"},
		/* A fork's pull request from its own "main": never branch:main. */
		{{.ref = "refs/pull/7/head", .branch = "main", .pr = 7,
		  .fork = true}, "main", "pr:7 | pr:7 branch:main"},
		{{.ref = "refs/pull/7/head", .branch = "feature", .pr = 7},
		 "main", "pr:7 | pr:7 branch:main"},
		/* Known by its ref alone (an API trigger of a PR's ref). */
		{{.ref = "refs/merge-requests/12/head", .branch = "main"},
		 "main", "pr:12 | pr:12 branch:main"},
		{{.ref = "refs/pull/31/merge"}, "main", "pr:31 | pr:31 branch:main"},
		/* The number wins over a tag or branch that came along. */
		{{.ref = "refs/tags/v2", .tag = "v2", .pr = 3}, "main",
		 "pr:3 | pr:3 branch:main"},
		/* Not a request's ref: no number, nothing else to go by. */
		{{.ref = "refs/pull/x/head"}, "main", "- | branch:main"},
		{{.ref = "refs/pull/07/head"}, "main", "- | branch:main"},
		{{.ref = "refs/pull/7"}, "main", "- | branch:main"},
		/* A fork's run without a number saves nowhere. */
		{{.branch = "main", .fork = true}, "main", "- | branch:main"},
		/* A bare commit, an unknown ref: reads, never writes. */
		{{0}, "main", "- | branch:main"},
		{{.ref = "refs/notes/x", .branch = ""}, "main", "- | branch:main"},
		{{.branch = "x"}, NULL, "branch:x | branch:x"},
		{{.branch = "x"}, "", "branch:x | branch:x"},
		{{0}, NULL, "- |"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(rows); i++) {
		const char *got = scopes(&rows[i].run, rows[i].dflt);

		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: got '%s', want '%s'", i, got,
				 rows[i].want);
	}
}

static void
expect_key_error(const char *prefix, const char *digest, const char *lit,
		 const char *part)
{
	char err[256] = "", *key = NULL;

	assert_int_equal(reuse_cache_key(prefix, digest, lit, &key, err,
					 sizeof(err)), -EINVAL);
	assert_null(key);
	if (strstr(err, part) == NULL)
		fail_msg("error '%s' does not say '%s'", err, part);
}

static void
test_cache_key(void **state)
{
	const char *hex = "3f9a0c1d2e3f4a5b6c7d8e9f00112233"
			  "445566778899aabbccddeeff00112233";
	char err[256], *key, *want, long_key[REUSE_KEY_MAX + 2];

	(void)state;
	assert_int_equal(reuse_cache_key("cargo", hex, NULL, &key, err,
					 sizeof(err)), 0);
	want = xasprintf("cargo-%s", hex);
	assert_string_equal(key, want);
	free(want);
	free(key);
	assert_int_equal(reuse_cache_key(NULL, NULL, "deps-v2.1_x~y", &key, err,
					 sizeof(err)), 0);
	assert_string_equal(key, "deps-v2.1_x~y");
	free(key);
	assert_int_equal(reuse_cache_key("go", NULL, NULL, &key, err,
					 sizeof(err)), 0);
	assert_string_equal(key, "go");
	free(key);
	assert_int_equal(reuse_cache_key(NULL, NULL, NULL, &key, err,
					 sizeof(err)), 0);
	assert_string_equal(key, "default");
	free(key);
	assert_int_equal(reuse_cache_key("a", "00", "b", &key, err,
					 sizeof(err)), 0);
	assert_string_equal(key, "a-00-b");
	free(key);

	expect_key_error("a/b", NULL, NULL,
			 "cache key prefix 'a/b': '/' (at 2) is not allowed");
	expect_key_error(NULL, NULL, "feature/x", "'/' (at 8)");
	expect_key_error(NULL, NULL, "a b", "' ' (at 2)");
	expect_key_error(NULL, NULL, "a%2Fb", "'%' (at 2)");
	expect_key_error(NULL, NULL, "caf\xc3\xa9", "byte 0xc3 (at 4)");
	expect_key_error(NULL, NULL, "-rf", "starts with '-'");
	expect_key_error(NULL, NULL, ".", "starts with '.'");
	expect_key_error(NULL, NULL, "..", "starts with '.'");
	expect_key_error(NULL, NULL, "", "cache key is empty");
	expect_key_error("", NULL, NULL, "cache key prefix is empty");
	expect_key_error("x", "3F9A", NULL, "not lower-case hex");
	expect_key_error("x", "", NULL, "not lower-case hex");
	expect_key_error("x", "12g4", NULL, "not lower-case hex");

	/* REUSE_KEY_MAX bytes is a key; one more is not, made or given. */
	memset(long_key, 'k', REUSE_KEY_MAX);
	long_key[REUSE_KEY_MAX] = '\0';
	assert_int_equal(reuse_key_check("cache key", long_key, err,
					 sizeof(err)), 0);
	long_key[REUSE_KEY_MAX] = 'k';
	long_key[REUSE_KEY_MAX + 1] = '\0';
	expect_key_error(NULL, NULL, long_key, "201 bytes long, at most 200");
	long_key[REUSE_KEY_MAX - 64] = '\0';
	expect_key_error(long_key, hex, NULL, "201 bytes long");
	assert_int_equal(reuse_key_check("restore_keys prefix", "cargo-", err,
					 sizeof(err)), 0);
	assert_int_equal(reuse_key_check("restore_keys prefix", "~x", err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "restore_keys prefix '~x' starts with"));
}

static void
test_lookup_order(void **state)
{
	struct reuse_run run = {.ref = "refs/heads/feature",
				.branch = "feature"};
	const char *restore[] = {"cargo-", "cargo-", "c", NULL};
	static const struct {
		const char *scope, *key;
		bool prefix;
	} want[] = {
		{"branch:feature", "cargo-1f", false},
		{"branch:feature", "cargo-", true},
		{"branch:feature", "c", true},
		{"branch:main", "cargo-1f", false},
		{"branch:main", "cargo-", true},
		{"branch:main", "c", true},
	};
	struct reuse_scopes sc;
	struct reuse_lookup *l;
	size_t n, i;

	(void)state;
	reuse_scopes_of(&run, "main", &sc);
	n = reuse_lookup_order(&sc, "cargo-1f", restore, &l);
	assert_int_equal(n, PW_ARRAY_LEN(want));
	for (i = 0; i < n; i++) {
		assert_string_equal(l[i].scope, want[i].scope);
		assert_string_equal(l[i].key, want[i].key);
		assert_int_equal(l[i].prefix, want[i].prefix);
	}
	free(l);
	n = reuse_lookup_order(&sc, "k", NULL, &l);
	assert_int_equal(n, 2);
	assert_string_equal(l[1].scope, "branch:main");
	assert_false(l[1].prefix);
	free(l);
	reuse_scopes_free(&sc);
	/* No scope to read (no default branch, no ref): no lookup. */
	reuse_scopes_of(&(struct reuse_run){0}, NULL, &sc);
	assert_int_equal(reuse_lookup_order(&sc, "k", restore, &l), 0);
	free(l);
	reuse_scopes_free(&sc);
}

static void
test_artifacts_wanted(void **state)
{
	static const enum sched_job_state states[] = {
		SCHED_JOB_SUCCESS, SCHED_JOB_FAILED, SCHED_JOB_TIMED_OUT,
		SCHED_JOB_CANCELED, SCHED_JOB_LOST, SCHED_JOB_SKIPPED,
	};
	/* Per `when`: which of states[] save, as a string of 0/1. */
	static const struct {
		enum pipeline_when when;
		const char *saves;
	} rows[] = {
		{PIPELINE_WHEN_ON_SUCCESS, "100000"},
		{PIPELINE_WHEN_ON_FAILURE, "011000"},
		{PIPELINE_WHEN_ALWAYS, "111000"},
		{PIPELINE_WHEN_MANUAL, "000000"},
	};
	char got[8];
	size_t i, k;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(rows); i++) {
		for (k = 0; k < PW_ARRAY_LEN(states); k++)
			got[k] = reuse_artifacts_wanted(rows[i].when,
							states[k]) ? '1' : '0';
		got[k] = '\0';
		assert_string_equal(got, rows[i].saves);
	}
}

static void
test_artifact_expiry(void **state)
{
	(void)state;
	assert_int_equal(reuse_artifact_expiry(1000, 7 * DAY, 30 * DAY),
			 1000 + 7 * DAY);
	assert_int_equal(reuse_artifact_expiry(1000, 0, 30 * DAY),
			 1000 + 30 * DAY);
	assert_int_equal(reuse_artifact_expiry(1000, 0, 0), 0);
	assert_int_equal(reuse_artifact_expiry(UINT64_MAX - 5, 10, 0),
			 UINT64_MAX);
}

static void
test_artifact_expired_message(void **state)
{
	const uint64_t expires = 1796119200000ULL; /* 2026-12-01 10:00 UTC */
	char *m;

	(void)state;
	m = reuse_artifact_expired("app", "build", 41, expires - 7 * DAY,
				   expires);
	assert_string_equal(m, "artifact 'app' of job 'build' in run 41 "
			    "expired at 2026-12-01 10:00 UTC (expire_in 7d); "
			    "rerun the build job (`pipewright rerun 41 build`) "
			    "to make it again");
	free(m);
	/* A matrix job's name is one quoted word; odd spans keep their parts. */
	m = reuse_artifact_expired("test (linux)", "test (linux, it's)", 9,
				   expires - DAY - 12 * 3600000ULL, expires);
	assert_string_equal(m, "artifact 'test (linux)' of job 'test (linux, "
			    "it's)' in run 9 expired at 2026-12-01 10:00 UTC "
			    "(expire_in 1d12h); rerun the test (linux, it's) "
			    "job (`pipewright rerun 9 'test (linux, it'\\''s)'`)"
			    " to make it again");
	free(m);
	m = reuse_artifact_expired("a", "-x", 3, expires - 90000, expires);
	assert_non_null(strstr(m, "(expire_in 1m30s)"));
	assert_non_null(strstr(m, "`pipewright rerun 3 -- -x`"));
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_cache_key),
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_artifacts_wanted),
		cmocka_unit_test(test_artifact_expiry),
		cmocka_unit_test(test_artifact_expired_message),
	};

	return cmocka_run_group_tests_name("reuse", tests, NULL, NULL);
}
