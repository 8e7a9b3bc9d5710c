/*
 * The pipeline keys for reusing work: `cache`, `artifacts` and `needs`
 * items that say whether a job gets another's artifacts.  Real YAML in,
 * the model or the exact problem (line, column, message) out: one test
 * per form and one expectation per mistake a file can make.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipewright/pipeline.h"

#define FILE_NAME "ci.yml"
#define DAY_MS (24ULL * 3600 * 1000)

static int
parse(const char *yaml, struct pipeline **p, struct pipeline_problems *pp)
{
	pipeline_problems_init(pp);
	return pipeline_parse(FILE_NAME, yaml, strlen(yaml), p, pp);
}

static void
print_problems(const struct pipeline_problems *pp)
{
	size_t i;

	for (i = 0; i < pp->count; i++)
		print_error("%d:%d: %s\n", pp->items[i].line,
			    pp->items[i].column, pp->items[i].message);
}

static struct pipeline *
parse_ok(const char *yaml)
{
	struct pipeline_problems pp;
	struct pipeline *p = NULL;
	int rc = parse(yaml, &p, &pp);

	print_problems(&pp);
	assert_int_equal(rc, 0);
	assert_int_equal(pp.count, 0);
	assert_non_null(p);
	pipeline_problems_free(&pp);
	return p;
}

/* The file must fail with exactly this one problem. */
static void
expect_one(const char *yaml, int line, int column, const char *message)
{
	struct pipeline_problems pp;
	struct pipeline *p = (struct pipeline *)1;

	assert_int_equal(parse(yaml, &p, &pp), -EINVAL);
	assert_null(p);
	if (pp.count != 1)
		print_problems(&pp);
	assert_int_equal(pp.count, 1);
	assert_string_equal(pp.items[0].file, FILE_NAME);
	if (strcmp(pp.items[0].message, message) != 0 ||
	    pp.items[0].line != line || pp.items[0].column != column)
		print_problems(&pp);
	assert_string_equal(pp.items[0].message, message);
	assert_int_equal(pp.items[0].line, line);
	assert_int_equal(pp.items[0].column, column);
	pipeline_problems_free(&pp);
}

/* The file must fail with exactly these two problems, in this order. */
static void
expect_two(const char *yaml, int line1, int column1, const char *message1,
	   int line2, int column2, const char *message2)
{
	struct pipeline_problems pp;
	struct pipeline *p = (struct pipeline *)1;

	assert_int_equal(parse(yaml, &p, &pp), -EINVAL);
	assert_null(p);
	if (pp.count != 2)
		print_problems(&pp);
	assert_int_equal(pp.count, 2);
	assert_string_equal(pp.items[0].message, message1);
	assert_int_equal(pp.items[0].line, line1);
	assert_int_equal(pp.items[0].column, column1);
	assert_string_equal(pp.items[1].message, message2);
	assert_int_equal(pp.items[1].line, line2);
	assert_int_equal(pp.items[1].column, column2);
	pipeline_problems_free(&pp);
}

static void
assert_strv(const char *const *v, const char *const *want)
{
	size_t i;

	assert_non_null(v);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
}

#define STRV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EMPTY ((const char *const[]){NULL})

/* ---- the forms ---- */

/* The issue's own example, whole. */
static void
test_example(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  build:\n"
		"    stage: build\n"
		"    script: [cargo build --release]\n"
		"    cache:\n"
		"      - key: {prefix: cargo, files: [Cargo.lock,"
		" rust-toolchain.toml]}\n"
		"        paths: [target/, .cargo/registry/]\n"
		"        restore_keys: [cargo-]\n"
		"        policy: pull-push\n"
		"    artifacts:\n"
		"      paths: [target/release/app]\n"
		"      exclude: [\"**/*.d\"]\n"
		"      when: on_success\n"
		"      expire_in: 7d\n"
		"  test:\n"
		"    stage: test\n"
		"    needs: [build]\n"
		"    script: [./target/release/app --self-test]\n");
	const struct pipeline_cache *c;
	const struct pipeline_artifacts *a;
	const size_t *src;

	(void)state;
	assert_int_equal(pipeline_job_cache_count(p, 0), 1);
	c = pipeline_job_cache(p, 0, 0);
	assert_string_equal(c->prefix, "cargo");
	assert_strv(c->files, STRV("Cargo.lock", "rust-toolchain.toml"));
	assert_null(c->literal);
	assert_strv(c->paths, STRV("target/", ".cargo/registry/"));
	assert_strv(c->restore_keys, STRV("cargo-"));
	assert_int_equal(c->policy, PIPELINE_CACHE_PULL_PUSH);
	assert_null(pipeline_job_cache(p, 0, 1));
	a = pipeline_job_artifacts(p, 0);
	assert_non_null(a);
	assert_string_equal(a->name, "build");
	assert_strv(a->paths, STRV("target/release/app"));
	assert_strv(a->exclude, STRV("**/*.d"));
	assert_int_equal(a->when, PIPELINE_WHEN_ON_SUCCESS);
	assert_int_equal(a->expire_in_ms, 7 * DAY_MS);
	assert_int_equal(pipeline_job_cache_count(p, 1), 0);
	assert_null(pipeline_job_artifacts(p, 1));
	assert_int_equal(pipeline_job_artifact_sources(p, 1, &src), 1);
	assert_int_equal(src[0], 0);
	assert_int_equal(pipeline_job_artifact_sources(p, 0, &src), 0);
	pipeline_destroy(p);
}

static void
test_cache_forms(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  a:\n"
		"    script: x\n"
		"    cache:\n"
		"      key: deps-$PIPEWRIGHT_BRANCH-${OS}\n"
		"      paths: vendor/\n"
		"      policy: pull\n"
		"  b:\n"
		"    script: x\n"
		"    cache:\n"
		"      - {key: {files: go.sum}, paths: [\"$GOPATH_REL/\"],"
		" policy: push}\n"
		"      - {key: {prefix: npm}, paths: [node_modules/],"
		" restore_keys: npm-}\n"
		"      - {key: {prefix: ccache, files: []}, paths: [.ccache/],"
		" restore_keys: []}\n");
	const struct pipeline_cache *c;

	(void)state;
	assert_int_equal(pipeline_job_cache_count(p, 0), 1);
	c = pipeline_job_cache(p, 0, 0);
	assert_string_equal(c->literal, "deps-$PIPEWRIGHT_BRANCH-${OS}");
	assert_null(c->prefix);
	assert_strv(c->files, EMPTY);
	assert_strv(c->paths, STRV("vendor/"));
	assert_strv(c->restore_keys, EMPTY);
	assert_int_equal(c->policy, PIPELINE_CACHE_PULL);

	assert_int_equal(pipeline_job_cache_count(p, 1), 3);
	c = pipeline_job_cache(p, 1, 0);
	assert_null(c->prefix);
	assert_null(c->literal);
	assert_strv(c->files, STRV("go.sum"));
	assert_strv(c->paths, STRV("$GOPATH_REL/"));
	assert_int_equal(c->policy, PIPELINE_CACHE_PUSH);
	c = pipeline_job_cache(p, 1, 1);
	assert_string_equal(c->prefix, "npm");
	assert_strv(c->files, EMPTY);
	assert_strv(c->restore_keys, STRV("npm-"));
	assert_int_equal(c->policy, PIPELINE_CACHE_PULL_PUSH);
	c = pipeline_job_cache(p, 1, 2);
	assert_string_equal(c->prefix, "ccache");
	assert_strv(c->files, EMPTY);
	assert_strv(c->restore_keys, EMPTY);
	assert_string_equal(pipeline_cache_policy_name(PIPELINE_CACHE_PULL),
			    "pull");
	assert_string_equal(pipeline_cache_policy_name(PIPELINE_CACHE_PUSH),
			    "push");
	assert_string_equal(
		pipeline_cache_policy_name(PIPELINE_CACHE_PULL_PUSH),
		"pull-push");
	pipeline_destroy(p);
}

static void
test_artifacts_forms(void **state)
{
	struct pipeline *p = parse_ok(
		"env: {APP: tool}\n"
		"jobs:\n"
		"  plain:\n"
		"    stage: build\n"
		"    script: x\n"
		"    artifacts: {paths: out/}\n"
		"  m:\n"
		"    stage: build\n"
		"    script: x\n"
		"    matrix: {OS: [linux, bsd]}\n"
		"    artifacts: {paths: [bin/], when: always}\n"
		"  named:\n"
		"    stage: build\n"
		"    script: x\n"
		"    matrix: {OS: [linux, bsd]}\n"
		"    artifacts:\n"
		"      paths: [\"dist/*.tar.gz\"]\n"
		"      name: ${APP}-$OS-$$1\n"
		"      when: on_failure\n"
		"      expire_in: 1d12h\n");
	const struct pipeline_artifacts *a;

	(void)state;
	a = pipeline_job_artifacts(p, 0);
	assert_string_equal(a->name, "plain");
	assert_strv(a->paths, STRV("out/"));
	assert_strv(a->exclude, EMPTY);
	assert_int_equal(a->when, PIPELINE_WHEN_ON_SUCCESS);
	assert_int_equal(a->expire_in_ms, 0);
	/* A matrix job's artifacts are named after each expansion. */
	assert_string_equal(pipeline_job_artifacts(p, 1)->name, "m (linux)");
	assert_string_equal(pipeline_job_artifacts(p, 2)->name, "m (bsd)");
	assert_int_equal(pipeline_job_artifacts(p, 2)->when,
			 PIPELINE_WHEN_ALWAYS);
	a = pipeline_job_artifacts(p, 3);
	assert_string_equal(a->name, "tool-linux-$1");
	assert_int_equal(a->when, PIPELINE_WHEN_ON_FAILURE);
	assert_int_equal(a->expire_in_ms, DAY_MS + DAY_MS / 2);
	assert_string_equal(pipeline_job_artifacts(p, 4)->name, "tool-bsd-$1");
	pipeline_destroy(p);
}

static void
test_artifact_sources(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  lint: {stage: lint, script: x, artifacts: {paths: report/}}\n"
		"  build:\n"
		"    stage: build\n"
		"    script: x\n"
		"    matrix: {OS: [linux, bsd]}\n"
		"    artifacts: {paths: bin/}\n"
		"  docs: {stage: build, script: x}\n"
		"  test: {stage: test, script: x}\n"
		"  pick:\n"
		"    stage: test\n"
		"    script: x\n"
		"    needs: [docs, {job: lint, artifacts: false}, {job: build}]\n"
		"  none:\n"
		"    stage: test\n"
		"    script: x\n"
		"    needs: [{job: build, artifacts: no}, lint, lint]\n"
		"  first: {stage: lint, script: x, needs: []}\n");
	const size_t *src, *preds;
	size_t n;

	(void)state;
	/* lint 0, build (linux) 1, build (bsd) 2, docs 3, test 4, pick 5,
	 * none 6, first 7. */
	n = pipeline_job_artifact_sources(p, 4, &src);
	assert_int_equal(n, 3);
	assert_int_equal(src[0], 0);
	assert_int_equal(src[1], 1);
	assert_int_equal(src[2], 2);
	n = pipeline_job_artifact_sources(p, 5, &src);
	assert_int_equal(n, 2);
	assert_int_equal(src[0], 1);
	assert_int_equal(src[1], 2);
	/* Opting out of the artifacts keeps the order. */
	n = pipeline_job_preds(p, 5, &preds);
	assert_int_equal(n, 4);
	n = pipeline_job_artifact_sources(p, 6, &src);
	assert_int_equal(n, 1);
	assert_int_equal(src[0], 0);
	assert_int_equal(pipeline_job_preds(p, 6, &preds), 3);
	assert_int_equal(pipeline_job_artifact_sources(p, 7, &src), 0);
	assert_int_equal(pipeline_job_artifact_sources(p, 1, &src), 1);
	assert_int_equal(src[0], 0);
	pipeline_destroy(p);
}

/* ---- the mistakes: cache ---- */

#define JOB "jobs:\n  b:\n    script: x\n"

static void
test_cache_kinds(void **state)
{
	(void)state;
	expect_one(JOB "    cache: target/\n", 4, 12,
		   "expected a mapping {key, paths} or a list of them for"
		   " 'cache' in job 'b', got 'target/'");
	expect_one(JOB "    cache: [target/]\n", 4, 13,
		   "expected a mapping {key, paths} or a list of them for"
		   " 'cache' in job 'b', got 'target/'");
	expect_one(JOB "    cache: []\n", 4, 12,
		   "empty 'cache' in job 'b'; leave 'cache' out for none");
	expect_one(JOB "    cache: {key: k, paths: {a: b}}\n", 4, 28,
		   "expected a path or a list of paths for 'paths' in 'cache'"
		   " of job 'b', got a mapping");
	expect_one(JOB "    cache: {key: k, paths: [[a]]}\n", 4, 29,
		   "expected a path for 'paths' in 'cache' of job 'b', got a"
		   " list");
	expect_one(JOB "    cache: {key: [k], paths: a}\n", 4, 18,
		   "expected a string or a mapping {prefix, files} for 'key'"
		   " in 'cache' of job 'b', got a list");
	expect_one(JOB "    cache: {key: {prefix: [a]}, paths: a}\n", 4, 27,
		   "expected a string for 'prefix' in 'key' in 'cache' of job"
		   " 'b', got a list");
	expect_one(JOB "    cache: {key: k, paths: a, policy: [pull]}\n", 4,
		   39, "expected one of pull, push, pull-push for 'policy' in"
		   " 'cache' of job 'b', got a list");
	expect_one(JOB "    cache: {key: k, paths: a, restore_keys: {a: b}}\n",
		   4, 45, "expected a key prefix or a list of them for"
		   " 'restore_keys' in 'cache' of job 'b', got a mapping");
	expect_one(JOB "    cache: {key: k, paths: ~}\n", 4, 28,
		   "expected a path or a list of paths for 'paths' in 'cache'"
		   " of job 'b', got null");
}

static void
test_cache_unknown_keys(void **state)
{
	(void)state;
	expect_two(JOB "    cache: {key: k, pahts: [a]}\n", 4, 12,
		   "'cache' of job 'b' has no 'paths'; expected the paths to"
		   " cache, e.g. paths: [target/]", 4, 21,
		   "unknown key 'pahts' in 'cache' of job 'b'; did you mean"
		   " 'paths'?");
	expect_one(JOB
		   "    cache:\n"
		   "      - {key: k, paths: a}\n"
		   "      - {key: j, paths: a, polcy: pull}\n", 6, 28,
		   "unknown key 'polcy' in cache #2 of job 'b'; did you mean"
		   " 'policy'?");
	expect_two(JOB "    cache: {key: {prefx: a}, paths: a}\n", 4, 18,
		   "'key' in 'cache' of job 'b' has neither 'prefix' nor"
		   " 'files'; expected e.g. {prefix: deps, files:"
		   " [Cargo.lock]}", 4, 19,
		   "unknown key 'prefx' in 'key' in 'cache' of job 'b'; did"
		   " you mean 'prefix'?");
}

static void
test_cache_missing(void **state)
{
	(void)state;
	expect_one(JOB "    cache: {paths: a}\n", 4, 12,
		   "'cache' of job 'b' has no 'key'; expected e.g. key:"
		   " {prefix: deps, files: [Cargo.lock]}");
	expect_one(JOB "    cache: [{key: k, paths: a}, {key: j}]\n", 4, 33,
		   "cache #2 of job 'b' has no 'paths'; expected the paths to"
		   " cache, e.g. paths: [target/]");
	expect_one(JOB "    cache: {key: {}, paths: a}\n", 4, 18,
		   "'key' in 'cache' of job 'b' has neither 'prefix' nor"
		   " 'files'; expected e.g. {prefix: deps, files:"
		   " [Cargo.lock]}");
	expect_one(JOB "    cache: {key: {files: []}, paths: a}\n", 4, 26,
		   "empty 'files' in 'key' in 'cache' of job 'b' and no"
		   " 'prefix'; the key would be empty");
	expect_one(JOB "    cache: {key: \"\", paths: a}\n", 4, 18,
		   "empty cache key in 'key' in 'cache' of job 'b'");
	expect_one(JOB "    cache: {key: {prefix: \"\"}, paths: a}\n", 4, 27,
		   "empty key prefix in 'prefix' in 'key' in 'cache' of job"
		   " 'b'");
	expect_one(JOB "    cache: {key: k, paths: []}\n", 4, 28,
		   "empty 'paths' in 'cache' of job 'b'; expected at least one"
		   " path");
	expect_one(JOB "    cache: {key: k, paths: [a, \"\"]}\n", 4, 32,
		   "empty path in 'paths' in 'cache' of job 'b'");
	expect_one(JOB "    cache: {key: k, paths: a, restore_keys: [\"\"]}\n",
		   4, 46, "empty key prefix in 'restore_keys' in 'cache' of job"
		   " 'b'");
}

static void
test_cache_values(void **state)
{
	(void)state;
	expect_one(JOB "    cache: {key: k, paths: a, policy: pul}\n", 4, 39,
		   "invalid value 'pul' for 'policy' in 'cache' of job 'b';"
		   " expected pull, push or pull-push; did you mean 'pull'?");
	expect_one(JOB "    cache: {key: \"cargo-${BRANCH\", paths: a}\n", 4,
		   18, "'cargo-${BRANCH' in 'key' in 'cache' of job 'b': '${'"
		   " at character 7 is not closed by '}'");
	expect_one(JOB "    cache: {key: \"a${}\", paths: a}\n", 4, 18,
		   "'a${}' in 'key' in 'cache' of job 'b': empty '${}' at"
		   " character 2");
	expect_one(JOB "    cache: {key: k, paths: [\"out-${X\"]}\n", 4, 29,
		   "'out-${X' in 'paths' in 'cache' of job 'b': '${' at"
		   " character 5 is not closed by '}'");
	expect_one(JOB "    cache: {key: k, paths: a, restore_keys: [v1-$]}\n",
		   4, 46, "'v1-$' in 'restore_keys' in 'cache' of job 'b': '$'"
		   " at character 4 is not followed by a name or '{'; write"
		   " '$$' for a '$'");
	expect_one(JOB "    cache: {key: \"a\\x01\", paths: a}\n", 4, 18,
		   "cache key 'a\\x01' in 'key' in 'cache' of job 'b' has a control"
		   " character");
	expect_one(JOB "    cache: {key: k, paths: \"a/[0-9\"}\n", 4, 28,
		   "invalid path 'a/[0-9' in 'paths' in 'cache' of job 'b':"
		   " unclosed '['");
	expect_one(JOB
		   "    cache:\n"
		   "      - {key: {prefix: p, files: [a.lock]}, paths: a}\n"
		   "      - {key: {prefix: p, files: [a.lock]}, paths: b}\n",
		   6, 9, "cache #2 of job 'b' has the same key as cache #1; a"
		   " key is saved once, so give each cache its own");
}

static void
test_cache_limits(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 0);
	buf_adds(&b, JOB "    cache:\n");
	for (i = 0; i < 9; i++)
		buf_addf(&b, "      - {key: k%zu, paths: a}\n", i);
	expect_one(b.data, 5, 7, "'cache' in job 'b' lists 9 caches; at most"
		   " 8");
	buf_reset(&b);
	buf_adds(&b, JOB "    cache: {key: k, paths: [");
	for (i = 0; i < 101; i++)
		buf_addf(&b, "%sp%zu", i > 0 ? ", " : "", i);
	buf_adds(&b, "]}\n");
	expect_one(b.data, 4, 28, "'paths' in 'cache' of job 'b' lists 101"
		   " items; at most 100");
	buf_reset(&b);
	buf_adds(&b, JOB "    cache: {key: ");
	for (i = 0; i < 256; i++)
		buf_adds(&b, "k");
	buf_adds(&b, ", paths: a}\n");
	expect_one(b.data, 4, 18, "cache key in 'key' in 'cache' of job 'b' is"
		   " 256 bytes; at most 255");
	buf_free(&b);
}

/* Every path a file names must stay inside the workspace. */
static void
test_paths_stay_inside(void **state)
{
	(void)state;
	expect_one(JOB "    cache: {key: k, paths: [/etc]}\n", 4, 29,
		   "path '/etc' in 'paths' in 'cache' of job 'b' must stay"
		   " inside the workspace: it is absolute");
	expect_one(JOB "    cache: {key: k, paths: [a/../../x]}\n", 4, 29,
		   "path 'a/../../x' in 'paths' in 'cache' of job 'b' must"
		   " stay inside the workspace: it has a '..' component");
	expect_one(JOB "    cache: {key: {files: [../Cargo.lock]}, paths:"
		   " a}\n", 4, 27, "file path '../Cargo.lock' in 'files' in"
		   " 'key' in 'cache' of job 'b' must stay inside the"
		   " workspace: it has a '..' component");
	expect_one(JOB "    artifacts: {paths: [out, /root/.ssh/]}\n", 4, 30,
		   "path '/root/.ssh/' in 'paths' in 'artifacts' of job 'b'"
		   " must stay inside the workspace: it is absolute");
	expect_one(JOB "    artifacts: {paths: out, exclude: ../x}\n", 4, 38,
		   "path '../x' in 'exclude' in 'artifacts' of job 'b' must"
		   " stay inside the workspace: it has a '..' component");
	/* `..` inside a name is no component. */
	pipeline_destroy(parse_ok(JOB "    artifacts: {paths: [a..b/, ..c]}\n"));
}

/* ---- the mistakes: artifacts ---- */

static void
test_artifacts_mistakes(void **state)
{
	(void)state;
	expect_one(JOB "    artifacts: [out/]\n", 4, 16,
		   "expected a mapping with 'paths' for 'artifacts' in job"
		   " 'b', got a list");
	expect_one(JOB "    artifacts: {exclude: a}\n", 4, 16,
		   "'artifacts' of job 'b' has no 'paths'; expected the files"
		   " to keep, e.g. paths: [target/release/app]");
	expect_one(JOB "    artifacts: {paths: a, expires_in: 1d}\n", 4, 27,
		   "unknown key 'expires_in' in 'artifacts' of job 'b'; did"
		   " you mean 'expire_in'?");
	expect_one(JOB "    artifacts: {paths: []}\n", 4, 24,
		   "empty 'paths' in 'artifacts' of job 'b'; expected at least"
		   " one path");
	expect_one(JOB "    artifacts: {paths: a, when: manual}\n", 4, 33,
		   "'when: manual' in 'artifacts' of job 'b' is not allowed;"
		   " artifacts are saved when the job ends: on_success,"
		   " on_failure or always");
	expect_one(JOB "    artifacts: {paths: a, when: on_sucess}\n", 4, 33,
		   "invalid value 'on_sucess' for 'when' in 'artifacts' of job"
		   " 'b'; expected on_success, on_failure or always; did you"
		   " mean 'on_success'?");
	expect_one(JOB "    artifacts: {paths: a, expire_in: 7x}\n", 4, 38,
		   "invalid duration '7x' for 'expire_in' in 'artifacts' of"
		   " job 'b'; expected e.g. 30m, 12h, 7d");
	expect_one(JOB "    artifacts: {paths: a, expire_in: 0d}\n", 4, 38,
		   "invalid duration '0d' for 'expire_in' in 'artifacts' of"
		   " job 'b'; an expiry must be more than 0 (leave 'expire_in'"
		   " out for the server's default)");
	expect_one(JOB "    artifacts: {paths: a, expire_in: 3651d}\n", 4, 38,
		   "'expire_in' in 'artifacts' of job 'b' is 3651d; at most"
		   " 3650d");
	expect_one(JOB "    artifacts: {paths: a, expire_in: 7}\n", 4, 38,
		   "invalid duration '7' for 'expire_in' in 'artifacts' of"
		   " job 'b'; expected e.g. 30m, 12h, 7d");
	expect_one(JOB "    artifacts: {paths: a, name: \"\"}\n", 4, 33,
		   "expected a name for 'name' in 'artifacts' of job 'b', got"
		   " the string ''");
	expect_one(JOB "    artifacts: {paths: a, name: \"x\\e\"}\n", 4, 33,
		   "the artifacts' name 'x\\x1b' in 'artifacts' of job 'b' has"
		   " a control character; names may not contain any");
	expect_one(JOB "    artifacts: {paths: a, name: \"x-${OS\"}\n", 4, 33,
		   "'x-${OS' in 'name' in 'artifacts' of job 'b': '${' at"
		   " character 3 is not closed by '}'");
}

/* ---- reports ---- */

static void
test_reports(void **state)
{
	struct pipeline *p;

	(void)state;
	p = parse_ok("jobs:\n  a:\n    script: x\n    reports:\n"
		     "      junit: [\"build/test-results/**/*.xml\", out.xml]\n"
		     "  b:\n    script: x\n    reports: {junit: r/$OS.xml}\n"
		     "    matrix: {OS: [linux, mac]}\n"
		     "  c: {script: x}\n");
	assert_strv(pipeline_job_reports_junit(p, 0),
		    STRV("build/test-results/**/*.xml", "out.xml"));
	assert_strv(pipeline_job_reports_junit(p, 1), STRV("r/$OS.xml"));
	assert_strv(pipeline_job_reports_junit(p, 2), STRV("r/$OS.xml"));
	assert_null(pipeline_job_reports_junit(p, 3));
	pipeline_destroy(p);
	expect_one(JOB "    reports: [a.xml]\n", 4, 14,
		   "expected a mapping such as {junit: [paths]} for 'reports'"
		   " in job 'b', got a list");
	expect_one(JOB "    reports: {}\n", 4, 14,
		   "'reports' of job 'b' names no report; expected e.g. junit:"
		   " [\"build/test-results/**/*.xml\"]");
	expect_one(JOB "    reports: {junt: a.xml}\n", 4, 15,
		   "unknown key 'junt' in 'reports' of job 'b'; did you mean"
		   " 'junit'?");
	expect_one(JOB "    reports: {junit: []}\n", 4, 22,
		   "empty 'junit' in 'reports' of job 'b'; expected at least"
		   " one path");
	expect_one(JOB "    reports: {junit: [ok.xml, ../x.xml]}\n", 4, 31,
		   "path '../x.xml' in 'junit' in 'reports' of job 'b' must"
		   " stay inside the workspace: it has a '..' component");
	expect_one(JOB "    reports: {junit: \"r/[0-9.xml\"}\n", 4, 22,
		   "invalid path 'r/[0-9.xml' in 'junit' in 'reports' of job"
		   " 'b': unclosed '['");
}

static void
test_artifact_names_unique(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a: {script: x, artifacts: {paths: o, name: bin}}\n"
		   "  b: {script: x, artifacts: {paths: o, name: bin}}\n",
		   3, 46, "the artifacts of jobs 'a' and 'b' are both named"
		   " 'bin'; names must differ within a pipeline");
	/* A name taken from another job's default name. */
	expect_one("jobs:\n"
		   "  a: {script: x, artifacts: {paths: o, name: b}}\n"
		   "  b: {script: x, artifacts: {paths: o}}\n",
		   2, 46, "the artifacts of jobs 'a' and 'b' are both named"
		   " 'b'; names must differ within a pipeline");
	expect_one("jobs:\n"
		   "  m:\n"
		   "    script: x\n"
		   "    matrix: {OS: [linux, bsd]}\n"
		   "    artifacts: {paths: o, name: bin}\n",
		   5, 33, "the artifacts of jobs 'm (linux)' and 'm (bsd)' are"
		   " both named 'bin'; names must differ within a pipeline (put"
		   " a matrix variable in 'name', or leave 'name' out)");
	expect_one("jobs:\n"
		   "  m:\n"
		   "    script: x\n"
		   "    artifacts: {paths: o, name: bin-$OS}\n",
		   4, 33, "'name' in 'artifacts' of job 'm': unknown variable"
		   " $OS; a name can use the variables of the file's env and"
		   " matrix");
	expect_one("env: {E: \"\"}\n"
		   "jobs:\n"
		   "  m:\n"
		   "    script: x\n"
		   "    artifacts: {paths: o, name: $E}\n",
		   5, 33, "'name' in 'artifacts' of job 'm' is '' for job 'm';"
		   " expected 1 to 255 bytes without control characters");
	/* Jobs without artifacts do not count. */
	pipeline_destroy(parse_ok("jobs:\n"
				  "  a: {script: x, artifacts: {paths: o,"
				  " name: b}}\n"
				  "  b: {script: x}\n"));
}

/* ---- the mistakes: needs ---- */

static void
test_needs_mistakes(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [{job: biuld, artifacts: false}]}\n",
		   3, 32, "job 't' needs unknown job 'biuld'; did you mean"
		   " 'build'?");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [{artifacts: false}]}\n",
		   3, 26, "an item of 'needs' of job 't' has no 'job'; expected"
		   " {job: NAME, artifacts: false}");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [{job: build, artifact: false}]}\n",
		   3, 39, "unknown key 'artifact' in 'needs' of job 't'; did you"
		   " mean 'artifacts'?");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [{job: build, artifacts: \"no\"}]}\n",
		   3, 50, "expected a boolean for 'artifacts' in 'needs' of job"
		   " 't', got the string 'no'");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [[build]]}\n",
		   3, 26, "expected a job name or {job: NAME, artifacts: false}"
		   " for 'needs' in job 't', got a list");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: [build, {job: build, artifacts:"
		   " false}]}\n",
		   3, 39, "'needs' of job 't' names 'build' twice, with and"
		   " without its artifacts");
	expect_one("jobs:\n"
		   "  build: {script: x}\n"
		   "  t: {script: y, needs: {job: build}}\n",
		   3, 25, "expected a list of job names or {job: NAME,"
		   " artifacts: false} for 'needs' in job 't', got a mapping");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_cache_forms),
		cmocka_unit_test(test_artifacts_forms),
		cmocka_unit_test(test_artifact_sources),
		cmocka_unit_test(test_cache_kinds),
		cmocka_unit_test(test_cache_unknown_keys),
		cmocka_unit_test(test_cache_missing),
		cmocka_unit_test(test_cache_values),
		cmocka_unit_test(test_cache_limits),
		cmocka_unit_test(test_paths_stay_inside),
		cmocka_unit_test(test_artifacts_mistakes),
		cmocka_unit_test(test_artifact_names_unique),
		cmocka_unit_test(test_needs_mistakes),
		cmocka_unit_test(test_reports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
