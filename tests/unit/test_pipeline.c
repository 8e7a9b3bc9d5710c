/*
 * Unit tests of the pipeline module: real YAML strings in, the model or
 * the exact problems (file, line, column, message) out.  One test per kind
 * of validation error, the accessors on valid files, and hostile inputs
 * that must fail cleanly (no timing assertions: the sanitizer build runs
 * these too).
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

static int
parse_len(const char *yaml, size_t len, struct pipeline **p,
	  struct pipeline_problems *pp)
{
	pipeline_problems_init(pp);
	return pipeline_parse(FILE_NAME, yaml, len, p, pp);
}

static int
parse(const char *yaml, struct pipeline **p, struct pipeline_problems *pp)
{
	return parse_len(yaml, strlen(yaml), p, pp);
}

/* Parses a valid file; fails the test with its problems if it is not. */
static struct pipeline *
parse_ok(const char *yaml)
{
	struct pipeline_problems pp;
	struct pipeline *p = NULL;
	size_t i;
	int rc = parse(yaml, &p, &pp);

	for (i = 0; i < pp.count; i++)
		print_error("%s:%d:%d: %s\n", pp.items[i].file,
			    pp.items[i].line, pp.items[i].column,
			    pp.items[i].message);
	assert_int_equal(rc, 0);
	assert_int_equal(pp.count, 0);
	assert_non_null(p);
	pipeline_problems_free(&pp);
	return p;
}

static void
check_problem(const struct pipeline_problem *pr, int line, int column,
	      const char *message)
{
	assert_string_equal(pr->file, FILE_NAME);
	assert_string_equal(pr->message, message);
	assert_int_equal(pr->line, line);
	assert_int_equal(pr->column, column);
}

/* The file must fail with exactly this one problem. */
static void
expect_one(const char *yaml, int line, int column, const char *message)
{
	struct pipeline_problems pp;
	struct pipeline *p = (struct pipeline *)1;

	assert_int_equal(parse(yaml, &p, &pp), -EINVAL);
	assert_null(p);
	if (pp.count != 1) {
		size_t i;

		for (i = 0; i < pp.count; i++)
			print_error("%d:%d: %s\n", pp.items[i].line,
				    pp.items[i].column, pp.items[i].message);
	}
	assert_int_equal(pp.count, 1);
	check_problem(&pp.items[0], line, column, message);
	pipeline_problems_free(&pp);
}

/* The file must fail (hostile inputs: no crash, some problem). */
static void
expect_invalid(const char *data, size_t len)
{
	struct pipeline_problems pp;
	struct pipeline *p = (struct pipeline *)1;

	assert_int_equal(parse_len(data, len, &p, &pp), -EINVAL);
	assert_null(p);
	assert_true(pp.count >= 1);
	assert_true(pp.items[0].line >= 1);
	assert_true(pp.items[0].column >= 1);
	pipeline_problems_free(&pp);
}


/* ---- the sandbox keys: network, resources, secrets ---- */

#define SB_JOB "jobs:\n  t:\n    script: make\n"

static void
test_sandbox_keys_model(void **state)
{
	struct pipeline *p = parse_ok(SB_JOB
		"    network: true\n"
		"    resources: {memory: 512M, pids: 256, cpu_seconds: 600,"
		" file_size: 1G, open_files: 1024}\n"
		"    secrets: [DEPLOY_TOKEN, NPM_TOKEN]\n"
		"  u:\n    script: make\n");
	struct pipeline_resources r;
	const char *const *sec;

	(void)state;
	assert_true(pipeline_job_network(p, 0));
	assert_false(pipeline_job_network(p, 1));
	pipeline_job_resources(p, 0, &r);
	assert_int_equal(r.memory, 512ULL << 20);
	assert_int_equal(r.pids, 256);
	assert_int_equal(r.cpu_seconds, 600);
	assert_int_equal(r.file_size, 1ULL << 30);
	assert_int_equal(r.open_files, 1024);
	pipeline_job_resources(p, 1, &r);
	assert_int_equal(r.memory, 0);
	assert_int_equal(r.pids, 0);
	sec = pipeline_job_secrets(p, 0);
	assert_string_equal(sec[0], "DEPLOY_TOKEN");
	assert_string_equal(sec[1], "NPM_TOKEN");
	assert_null(sec[2]);
	assert_null(pipeline_job_secrets(p, 1)[0]);
	pipeline_destroy(p);
}

static void
test_user_model(void **state)
{
	struct pipeline *p = parse_ok(SB_JOB "    user: 1000\n"
		"  u:\n    script: make\n    user: \"postgres:ssl-cert\"\n"
		"  v:\n    script: make\n    user: \"0:65535\"\n"
		"  w:\n    script: make\n");

	(void)state;
	assert_string_equal(pipeline_job_user(p, 0), "1000");
	assert_string_equal(pipeline_job_user(p, 1), "postgres:ssl-cert");
	assert_string_equal(pipeline_job_user(p, 2), "0:65535");
	assert_null(pipeline_job_user(p, 3));
	pipeline_destroy(p);
}

#define USER_EXPECTED "expected a uid (0 to 65535) or a user name, and an " \
	"optional ':' gid or group"

static void
test_user_bad(void **state)
{
	(void)state;
	expect_one(SB_JOB "    user: 65536\n", 4, 11, "user '65536' of job 't':"
		   " 65536 is above 65535, the highest id inside a job; "
		   USER_EXPECTED);
	expect_one(SB_JOB "    user: \"1000:\"\n", 4, 11, "user '1000:' of "
		   "job 't': an empty name; " USER_EXPECTED);
	expect_one(SB_JOB "    user: 10x\n", 4, 11, "user '10x' of job 't': "
		   "'10x' is neither a number nor a name; " USER_EXPECTED);
	expect_one(SB_JOB "    user: \"a b\"\n", 4, 11, "user 'a b' of job "
		   "'t': 'a b' is not a user or group name (letters, digits, "
		   "'_', '-', '.'); " USER_EXPECTED);
	expect_one(SB_JOB "    user: [1000]\n", 4, 11, "expected a uid (0 to "
		   "65535) or a user name, and an optional ':' gid or group "
		   "for 'user' in job 't', got a list");
}

static void
test_network_not_bool(void **state)
{
	(void)state;
	expect_one(SB_JOB "    network: maybe\n", 4, 14,
		   "expected a boolean for 'network' in job 't', got 'maybe'");
}

static void
test_resources_bad(void **state)
{
	(void)state;
	expect_one(SB_JOB "    resources: 512M\n", 4, 16, "expected a mapping of limits (memory, pids, cpu_seconds, file_size, open_files) for 'resources' in job 't', got '512M'");
	expect_one(SB_JOB "    resources: {memory: lots}\n", 4, 25,
		   "expected a size such as 512M or 2G for 'memory' in 'resources' of job 't', got 'lots'");
	expect_one(SB_JOB "    resources: {memory: 1M}\n", 4, 25,
		   "'memory' in 'resources' of job 't' is 1M; expected 16M to 1024G");
	expect_one(SB_JOB "    resources: {pids: 64K}\n", 4, 23, "expected a number of processes for 'pids' in 'resources' of job 't', got '64K'");
	expect_one(SB_JOB "    resources: {disk: 1G}\n", 4, 17, "unknown key 'disk' in 'resources' of job 't'");
}

static void
test_secrets_bad(void **state)
{
	(void)state;
	expect_one(SB_JOB "    secrets: TOKEN\n", 4, 14, "expected a list of secret names for 'secrets' in job 't', got 'TOKEN'");
	expect_one(SB_JOB "    secrets: [1TOKEN]\n", 4, 15, "invalid secret name '1TOKEN' in job 't'; a name is letters, digits and '_', not starting with a digit");
	expect_one(SB_JOB "    secrets: [A, A]\n", 4, 18, "secret 'A' is listed twice in job 't'");
	expect_one(SB_JOB "    secrets: [PIPEWRIGHT_X]\n", 4, 15,
		   "secret 'PIPEWRIGHT_X' in job 't': PIPEWRIGHT_ variables are set by pipewright");
}

/*
 * One rule for reserved names: PIPEWRIGHT_ with its underscore.  A secret
 * named PIPEWRIGHT alone is a name like any other, as in `env`.
 */
static void
test_secrets_reserved_prefix(void **state)
{
	struct pipeline *p = parse_ok(SB_JOB
		"    secrets: [PIPEWRIGHTX]\n"
		"    env: {PIPEWRIGHTY: 1}\n");
	const char *const *sec;

	(void)state;
	sec = pipeline_job_secrets(p, 0);
	assert_string_equal(sec[0], "PIPEWRIGHTX");
	assert_null(sec[1]);
	pipeline_destroy(p);
	expect_one(SB_JOB "    secrets: [PIPEWRIGHT_]\n", 4, 15,
		   "secret 'PIPEWRIGHT_' in job 't': PIPEWRIGHT_ variables are set by pipewright");
	/* PIPEWRIGHT=true marks every job; no pipeline may unset it. */
	expect_one(SB_JOB "    secrets: [PIPEWRIGHT]\n", 4, 15,
		   "secret 'PIPEWRIGHT' in job 't': PIPEWRIGHT_ variables are set by pipewright");
}

/* ---- validation errors, one kind per test ---- */

static void
test_yaml_syntax_error(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a:\n"
		   "    script: x\n"
		   "   b: 1\n",
		   4, 4,
		   "did not find expected key (while parsing a block mapping"
		   " at line 2, column 3)");
	expect_one("jobs:\n  a: {script: [x}\n", 2, 17,
		   "did not find expected ',' or ']' (while parsing a flow"
		   " sequence at line 2, column 15)");
}

static void
test_unknown_job_key(void **state)
{
	struct pipeline_problems pp;
	struct pipeline *p;

	(void)state;
	assert_int_equal(parse("jobs:\n"
			       "  compile:\n"
			       "    scirpt: make\n", &p, &pp), -EINVAL);
	assert_int_equal(pp.count, 2);
	check_problem(&pp.items[0], 2, 3, "job 'compile' has no script");
	check_problem(&pp.items[1], 3, 5,
		      "unknown key 'scirpt' in job 'compile'; did you mean"
		      " 'script'?");
	pipeline_problems_free(&pp);
	/* Nothing close: no suggestion. */
	expect_one("jobs:\n  a: {script: x, colour: red}\n", 2, 18,
		   "unknown key 'colour' in job 'a'");
}

static void
test_unknown_top_level_key(void **state)
{
	(void)state;
	expect_one("job:\n"
		   "  a: {script: x}\n"
		   "jobs:\n"
		   "  b: {script: y}\n",
		   1, 1, "unknown top-level key 'job'; did you mean 'jobs'?");
}

static void
test_unknown_retry_key(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, retry: {max: 1, wen: [failed]}}\n",
		   2, 34,
		   "unknown key 'wen' in 'retry' of job 'a'; did you mean"
		   " 'when'?");
}

static void
test_script_as_map(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a:\n"
		   "    script:\n"
		   "      run: make\n",
		   4, 7,
		   "expected a string or a list of strings for 'script' in"
		   " job 'a', got a mapping");
}

static void
test_allow_failure_as_list(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, allow_failure: [yes]}\n", 2, 33,
		   "expected a boolean for 'allow_failure' in job 'a', got a"
		   " list");
	expect_one("jobs:\n  a: {script: x, allow_failure: \"true\"}\n", 2,
		   33, "expected a boolean for 'allow_failure' in job 'a', got"
		   " the string 'true'");
	expect_one("jobs:\n  a: {script: x, allow_failure: maybe}\n", 2, 33,
		   "expected a boolean for 'allow_failure' in job 'a', got"
		   " 'maybe'");
}

static void
test_env_value_as_map(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a:\n"
		   "    script: x\n"
		   "    env:\n"
		   "      OPT: {level: 2}\n",
		   5, 12,
		   "expected a string for 'OPT' in the env of job 'a', got a"
		   " mapping");
	expect_one("env: {CC: [gcc]}\njobs: {a: {script: x}}\n", 1, 11,
		   "expected a string for 'CC' in the top-level env, got a"
		   " list");
}

static void
test_missing_script(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  lint: {script: x}\n"
		   "  compile:\n"
		   "    stage: build\n",
		   3, 3, "job 'compile' has no script");
	expect_one("jobs:\n  a: {script: []}\n", 2, 15,
		   "empty 'script' in job 'a'; expected at least one command");
}

static void
test_unknown_stage(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  compile:\n"
		   "    stage: biuld\n"
		   "    script: make\n",
		   3, 12,
		   "unknown stage 'biuld' in job 'compile'; stages are lint,"
		   " build, test, deploy; did you mean 'build'?");
	expect_one("stages: [one, two]\n"
		   "jobs:\n"
		   "  a: {script: x, stage: three}\n",
		   3, 25, "unknown stage 'three' in job 'a'; stages are one,"
		   " two");
	/* An unknown stage gives the job no place in the stage order. */
	expect_one("jobs:\n"
		   "  a: {stage: biuld, script: x, needs: [b]}\n"
		   "  b: {stage: test, script: y}\n",
		   2, 14, "unknown stage 'biuld' in job 'a'; stages are lint,"
		   " build, test, deploy; did you mean 'build'?");
	/* No `stage` and no stage `test` to default to. */
	expect_one("stages: [one]\njobs:\n  a: {script: x}\n", 3, 3,
		   "job 'a' has no stage and there is no stage 'test' to"
		   " default to; stages are one");
}

static void
test_bad_stages(void **state)
{
	(void)state;
	expect_one("stages: [build, build]\n"
		   "jobs:\n  a: {script: x, stage: build}\n",
		   1, 17, "stage 'build' is listed twice");
	expect_one("stages: []\njobs:\n  a: {script: x}\n", 1, 9,
		   "empty 'stages'; expected at least one stage");
	{
		struct buf b;
		size_t i;

		buf_init(&b, 0);
		assert_int_equal(buf_printf(&b, "stages: [s0"), 0);
		for (i = 1; i < 101; i++)
			assert_int_equal(buf_printf(&b, ", s%zu", i), 0);
		assert_int_equal(buf_printf(&b, "]\njobs: {a: {script: x}}\n"),
				 0);
		expect_one(b.data, 1, 9,
			   "'stages' lists 101 stages; at most 100");
		buf_free(&b);
	}
	expect_one("stages: [\"a b\"]\njobs:\n  a: {script: x}\n", 1, 10,
		   "invalid stage name 'a b'; a name is letters, digits, '_',"
		   " '.' and '-'");
}

static void
test_unknown_need(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  lint: {script: x}\n"
		   "  test:\n"
		   "    script: y\n"
		   "    needs: [lint, lnit]\n",
		   5, 19,
		   "job 'test' needs unknown job 'lnit'; did you mean 'lint'?");
}

static void
test_cycle_via_needs(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a:\n"
		   "    script: x\n"
		   "    needs: [b]\n"
		   "  b:\n"
		   "    script: y\n"
		   "    needs: [a]\n",
		   4, 13, "cycle in needs: a -> b -> a");
	expect_one("jobs:\n  a: {script: x, needs: [a]}\n", 2, 26,
		   "cycle in needs: a -> a");
}

static void
test_cycle_via_stage_order(void **state)
{
	(void)state;
	/* unit has no needs, so it waits for every lint job, fmt included. */
	expect_one("jobs:\n"
		   "  fmt:\n"
		   "    stage: lint\n"
		   "    script: make fmt\n"
		   "    needs: [unit]\n"
		   "  unit:\n"
		   "    stage: test\n"
		   "    script: make test\n",
		   5, 13,
		   "cycle in needs: fmt -> unit -> fmt (unit has no needs, so"
		   " it waits for every job of earlier stages)");
}

static void
test_duplicate_key(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  compile: {script: x}\n"
		   "  test: {script: y}\n"
		   "  compile: {script: z}\n",
		   4, 3, "duplicate key 'compile' (first at line 2)");
	expect_one("jobs:\n  a: {script: x, script: y}\n", 2, 18,
		   "duplicate key 'script' (first at line 2)");
}

static void
test_bad_duration(void **state)
{
	(void)state;
	expect_one("jobs:\n  compile: {script: x, timeout: 10x}\n", 2, 33,
		   "invalid duration '10x' for 'timeout' in job 'compile';"
		   " expected e.g. 90s, 10m, 1h30m");
	expect_one("jobs:\n  compile: {script: x, timeout: 0s}\n", 2, 33,
		   "invalid duration '0s' for 'timeout' in job 'compile'; a"
		   " timeout must be more than 0");
}

static void
test_empty_matrix(void **state)
{
	(void)state;
	expect_one("jobs:\n  m: {script: x, matrix: {}}\n", 2, 26,
		   "empty matrix in job 'm'");
	expect_one("jobs:\n  m: {script: x, matrix: {CC: [gcc], MODE: []}}\n",
		   2, 44, "empty matrix: 'MODE' of job 'm' has no values");
}

static void
test_too_many_combinations(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  m:\n"
		   "    script: x\n"
		   "    matrix:\n"
		   "      A: [1, 2, 3, 4, 5, 6, 7, 8, 9,"
		   " 10, 11, 12, 13, 14, 15, 16, 17]\n"
		   "      B: [1, 2, 3, 4, 5, 6, 7, 8,"
		   " 9, 10, 11, 12, 13, 14, 15, 16]\n",
		   5, 7, "matrix of job 'm' has 272 combinations; at most 256");
}

static void
test_too_many_jobs(void **state)
{
	static const char m16[] =
		"{A: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"
		" B: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}";
	char yaml[1024];

	(void)state;
	snprintf(yaml, sizeof(yaml),
		 "jobs:\n"
		 "  a: {script: x, matrix: %s}\n"
		 "  b: {script: x, matrix: %s}\n"
		 "  c: {script: x, matrix: %s}\n"
		 "  d: {script: x, matrix: %s}\n"
		 "  e: {script: x}\n", m16, m16, m16, m16);
	expect_one(yaml, 1, 1, "pipeline has 1025 jobs after matrix expansion;"
		   " at most 1024");
}

static void
test_duplicate_expanded_name(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a:\n"
		   "    script: x\n"
		   "    matrix: {A: [\"p, q\", p], B: [r, \"q, r\"]}\n",
		   4, 13,
		   "matrix of job 'a' makes two jobs named 'a (p, q, r)'");
}

static void
test_bad_glob(void **state)
{
	(void)state;
	expect_one("jobs:\n"
		   "  a: {script: x, branches: [main, \"release/[0-9\"]}\n",
		   2, 35,
		   "invalid branch pattern 'release/[0-9' in job 'a': unclosed"
		   " '['");
	expect_one("jobs:\n  a: {script: x, branches: \"[[:alfa:]]\"}\n", 2, 28,
		   "invalid branch pattern '[[:alfa:]]' in job 'a': unknown"
		   " character class");
}

static void
test_working_dir_escapes(void **state)
{
	(void)state;
	expect_one("jobs:\n  y: {script: x, working_dir: ../x}\n", 2, 31,
		   "working_dir '../x' of job 'y' leaves the workspace");
	expect_one("jobs:\n  y: {script: x, working_dir: a/../..}\n", 2, 31,
		   "working_dir 'a/../..' of job 'y' leaves the workspace");
	expect_one("jobs:\n  y: {script: x, working_dir: /etc}\n", 2, 31,
		   "working_dir '/etc' of job 'y' is absolute; it must be"
		   " relative to the workspace");
}

static void
test_reserved_env_name(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, env: {PIPEWRIGHT_RUN_ID: 7}}\n",
		   2, 24,
		   "'PIPEWRIGHT_RUN_ID' cannot be set in the env of job 'a';"
		   " PIPEWRIGHT_* variables are set by pipewright");
	expect_one("env:\n  PIPEWRIGHT_X: 1\njobs: {a: {script: x}}\n", 2, 3,
		   "'PIPEWRIGHT_X' cannot be set in the top-level env;"
		   " PIPEWRIGHT_* variables are set by pipewright");
	expect_one("jobs:\n  a: {script: x, matrix: {PIPEWRIGHT_CC: [gcc]}}\n",
		   2, 27,
		   "'PIPEWRIGHT_CC' cannot be set in the matrix of job 'a';"
		   " PIPEWRIGHT_* variables are set by pipewright");
}

static void
test_invalid_env_name(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, env: {1X: y}}\n", 2, 24,
		   "invalid variable name '1X' in the env of job 'a'; a name is"
		   " letters, digits and '_', not starting with a digit");
}

static void
test_invalid_matrix_key(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, matrix: {cc-version: [12]}}\n", 2,
		   27,
		   "invalid matrix key name 'cc-version' in the matrix of job"
		   " 'a'; a name is letters, digits and '_', not starting with"
		   " a digit");
}

static void
test_invalid_job_name(void **state)
{
	(void)state;
	expect_one("jobs:\n  \"build all\": {script: x}\n", 2, 3,
		   "invalid job name 'build all'; a name is letters, digits,"
		   " '_', '.' and '-'");
}

static void
test_retry_errors(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, retry: 11}\n", 2, 25,
		   "'retry' in job 'a' is 11; at most 10");
	expect_one("jobs:\n  a: {script: x, retry: -1}\n", 2, 25,
		   "expected a number or a mapping with 'max' and 'when' for"
		   " 'retry' in job 'a', got '-1'");
	expect_one("jobs:\n  a: {script: x, retry: {when: [failed]}}\n", 2, 25,
		   "'retry' in job 'a' has no 'max'");
	expect_one("jobs:\n"
		   "  a: {script: x, retry: {max: 2, when: [timeout]}}\n",
		   2, 41,
		   "invalid value 'timeout' for 'when' in 'retry' of job 'a';"
		   " expected failed or timed_out; did you mean 'timed_out'?");
}

static void
test_when_errors(void **state)
{
	(void)state;
	expect_one("jobs:\n  a: {script: x, when: manul}\n", 2, 24,
		   "invalid value 'manul' for 'when' in job 'a'; expected"
		   " on_success, on_failure, always or manual; did you mean"
		   " 'manual'?");
}

static void
test_several_problems(void **state)
{
	struct pipeline_problems pp;
	struct pipeline *p;

	(void)state;
	assert_int_equal(parse("jobs:\n"
			       "  b:\n"
			       "    stage: tset\n"
			       "    script: x\n"
			       "    timeout: forever\n"
			       "  a:\n"
			       "    script: y\n"
			       "    needs: [c]\n"
			       "    colour: red\n"
			       "  d: {}\n", &p, &pp), -EINVAL);
	assert_null(p);
	assert_int_equal(pp.count, 5);
	check_problem(&pp.items[0], 3, 12,
		      "unknown stage 'tset' in job 'b'; stages are lint,"
		      " build, test, deploy; did you mean 'test'?");
	check_problem(&pp.items[1], 5, 14,
		      "invalid duration 'forever' for 'timeout' in job 'b';"
		      " expected e.g. 90s, 10m, 1h30m");
	check_problem(&pp.items[2], 8, 13,
		      "job 'a' needs unknown job 'c'");
	check_problem(&pp.items[3], 9, 5, "unknown key 'colour' in job 'a'");
	check_problem(&pp.items[4], 10, 3, "job 'd' has no script");
	pipeline_problems_free(&pp);
}

static void
test_problems_are_appended(void **state)
{
	struct pipeline_problems pp;
	struct pipeline *p;

	(void)state;
	pipeline_problems_init(&pp);
	pipeline_problems_add(&pp, "other.yml", 9, 9, "earlier %d", 1);
	assert_int_equal(pipeline_parse(FILE_NAME, "jobs: {a: {}}\n", 14, &p,
					&pp), -EINVAL);
	assert_int_equal(pp.count, 2);
	assert_string_equal(pp.items[0].message, "earlier 1");
	check_problem(&pp.items[1], 1, 8, "job 'a' has no script");
	pipeline_problems_free(&pp);
}

/*
 * Names reach operators' terminals: a matrix value (part of a job's name)
 * or an environment with a control character is an error at its position.
 */
static void
test_control_characters_in_names(void **state)
{
	struct pipeline *p;

	(void)state;
	expect_one("jobs:\n"
		   "  t:\n"
		   "    script: x\n"
		   "    matrix: {OS: [linux, \"a\\e]52;c;eA==\\a\"]}\n",
		   4, 26, "a matrix value 'a\\x1b]52;c;eA==\\x07' in the matrix"
		   " of job 't' has a control character; names may not contain"
		   " any");
	expect_one("jobs:\n"
		   "  t:\n"
		   "    script: x\n"
		   "    matrix:\n"
		   "      OS: \"x\\u009b2J\"\n",
		   5, 11, "a matrix value 'x\\u009b2J' in the matrix of job 't'"
		   " has a control character; names may not contain any");
	expect_one("jobs:\n"
		   "  t: {script: x, matrix: {OS: \"x\\ry\"}}\n",
		   2, 31, "a matrix value 'x\\x0dy' in the matrix of job 't'"
		   " has a control character; names may not contain any");
	expect_one("jobs:\n"
		   "  t: {script: x, environment: \"prod\\e[2J\"}\n",
		   2, 31, "the environment 'prod\\x1b[2J' in job 't' has a"
		   " control character; names may not contain any");
	/* Printable UTF-8 is fine. */
	p = parse_ok("jobs:\n"
		     "  t: {script: x, matrix: {OS: [\"caf\\u00e9\","
		     " \"\\u00a0nb\"]}}\n");
	assert_int_equal(pipeline_job_count(p), 2);
	assert_string_equal(pipeline_job_name(p, 0), "t (caf\xc3\xa9)");
	pipeline_destroy(p);
}

static void
test_file_shape_errors(void **state)
{
	(void)state;
	expect_one("", 1, 1,
		   "empty pipeline file; expected a mapping with 'jobs'");
	expect_one("# nothing here\n\n# at all\n", 1, 1,
		   "empty pipeline file; expected a mapping with 'jobs'");
	expect_one("- a\n- b\n", 1, 1,
		   "expected a mapping with 'jobs' at the top of the pipeline"
		   " file, got a list");
	expect_one("stages: [build]\n", 1, 1,
		   "no 'jobs' in the pipeline; expected a mapping of job names"
		   " to jobs");
	/*
	 * Some other file read as the pipeline (a planted symlink to
	 * /etc/shadow): one problem, quoting none of its lines.
	 */
	expect_one("root:$6$s3cretsalt$s3crethash:19000:0:99999:7:::\n"
		   "daemon:*:19000:0:99999:7:::\n"
		   "alice: s3cret-line\n"
		   "bob:\n", 1, 1,
		   "not a pipeline file: no 'jobs' and no other top-level"
		   " key of a pipeline");
	expect_one("root:x:0:0:root:/root:/bin/s3cret\n", 1, 1,
		   "expected a mapping with 'jobs' at the top of the pipeline"
		   " file, got a single value");
	expect_one("jobs: {}\n", 1, 7,
		   "'jobs' is empty; expected at least one job");
	expect_one("jobs:\n", 1, 6,
		   "expected a mapping of job names to jobs for 'jobs', got"
		   " null");
	expect_one("jobs: {a: {script: x}}\n---\njobs: {b: {script: y}}\n", 2,
		   1, "more than one YAML document; a pipeline file holds one");
	expect_one("jobs:\n  a: make\n", 2, 6,
		   "expected a mapping for job 'a', got 'make'");
	expect_one("jobs:\n  ? [a]\n  : {script: x}\n  b: {script: y}\n", 2, 5,
		   "expected a string as a mapping key, got a list");
}

static void
test_bytes_errors(void **state)
{
	static const char nul[] = "jobs:\n  a: {script: \"x\0\"}\n";
	static const char utf8[] = "jobs:\n  a: {script: \xff}\n";

	(void)state;
	{
		struct pipeline_problems pp;
		struct pipeline *p;

		assert_int_equal(parse_len(nul, sizeof(nul) - 1, &p, &pp),
				 -EINVAL);
		assert_int_equal(pp.count, 1);
		check_problem(&pp.items[0], 2, 17,
			      "control characters are not allowed: #x0");
		pipeline_problems_free(&pp);
	}
	expect_one(utf8, 2, 15, "invalid leading UTF-8 octet: #xFF");
	/* "\0" escapes make NUL bytes that C strings would silently cut. */
	expect_one("jobs:\n  a: {script: \"rm -rf x\\0y\"}\n", 2, 15,
		   "NUL character in the value of 'script' in job 'a'");
}

static void
test_aliases(void **state)
{
	struct pipeline *p;

	(void)state;
	expect_one("jobs:\n  a: {script: *nope}\n", 2, 15,
		   "alias '*nope' refers to no anchor defined before it");
	expect_one("jobs: &j {a: *j}\n", 1, 14,
		   "alias '*j' refers to a node that contains it");
	/* Aliases to finished nodes are shared and work. */
	p = parse_ok("jobs:\n"
		     "  a: {script: &s [make, make test], env: &e {X: '1'}}\n"
		     "  b: {script: *s, env: *e}\n");
	assert_int_equal(pipeline_job_script_count(p, 1), 2);
	assert_string_equal(pipeline_job_script(p, 1, 1), "make test");
	assert_string_equal(pipeline_job_env(p, 1)[0], "X=1");
	pipeline_destroy(p);
}

/* ---- valid files and the accessors ---- */

static const char full[] =
	"stages: [lint, build, test, deploy]\n"
	"env: {CC: gcc, PYTHON: 3.10}\n"
	"jobs:\n"
	"  fmt:\n"
	"    stage: lint\n"
	"    script: make fmt\n"
	"  compile:\n"
	"    stage: build\n"
	"    script:\n"
	"      - make -j2\n"
	"      - |\n"
	"        make check\n"
	"        make dist\n"
	"    needs: [fmt]\n"
	"    env: {OPT: \"-O2\"}\n"
	"    timeout: 10m\n"
	"    retry: {max: 2, when: [failed, timed_out]}\n"
	"    allow_failure: false\n"
	"    when: on_success\n"
	"    branches: [main, \"release/*\"]\n"
	"    matrix: {CC: [gcc, clang], MODE: [debug, release]}\n"
	"    working_dir: ./src/\n"
	"  unit:\n"
	"    script: make test\n"
	"    retry: 1\n"
	"    allow_failure: yes\n"
	"  ship:\n"
	"    stage: deploy\n"
	"    script: ./deploy.sh\n"
	"    when: manual\n"
	"    environment: production\n"
	"    timeout: 1h30m\n";

static void
test_full_example(void **state)
{
	struct pipeline *p = parse_ok(full);
	const char *raw;
	size_t len;
	long ship;

	(void)state;
	assert_string_equal(pipeline_file(p), FILE_NAME);
	raw = pipeline_raw(p, &len);
	assert_int_equal(len, strlen(full));
	assert_memory_equal(raw, full, len);
	assert_int_equal(pipeline_stage_count(p), 4);
	assert_string_equal(pipeline_stage(p, 3), "deploy");
	assert_int_equal(pipeline_job_count(p), 7);

	assert_string_equal(pipeline_job_name(p, 0), "fmt");
	assert_int_equal(pipeline_job_stage(p, 0), 0);
	assert_int_equal(pipeline_job_script_count(p, 0), 1);
	assert_string_equal(pipeline_job_script(p, 0, 0), "make fmt");
	assert_int_equal(pipeline_job_timeout_ms(p, 0),
			 PIPELINE_DEFAULT_TIMEOUT_MS);
	assert_int_equal(pipeline_job_retry_max(p, 0), 0);
	assert_int_equal(pipeline_job_when(p, 0), PIPELINE_WHEN_ON_SUCCESS);
	assert_false(pipeline_job_allow_failure(p, 0));
	assert_null(pipeline_job_working_dir(p, 0));
	assert_null(pipeline_job_environment(p, 0));

	assert_string_equal(pipeline_job_name(p, 1), "compile (gcc, debug)");
	assert_string_equal(pipeline_job_base(p, 1), "compile");
	assert_int_equal(pipeline_job_stage(p, 1), 1);
	assert_int_equal(pipeline_job_script_count(p, 1), 2);
	assert_string_equal(pipeline_job_script(p, 1, 0), "make -j2");
	assert_string_equal(pipeline_job_script(p, 1, 1),
			    "make check\nmake dist\n");
	assert_int_equal(pipeline_job_timeout_ms(p, 1), 10 * 60 * 1000);
	assert_int_equal(pipeline_job_retry_max(p, 1), 2);
	assert_int_equal(pipeline_job_retry_when(p, 1),
			 PIPELINE_RETRY_FAILED | PIPELINE_RETRY_TIMED_OUT);
	assert_string_equal(pipeline_job_working_dir(p, 1), "src");
	assert_true(pipeline_job_has_needs(p, 1));
	assert_true(pipeline_job_runs_on_branch(p, 1, "main"));
	assert_true(pipeline_job_runs_on_branch(p, 1, "release/1.0"));
	/* `*` stays within one segment of the branch name. */
	assert_false(pipeline_job_runs_on_branch(p, 1, "release/1.0/x"));
	assert_false(pipeline_job_runs_on_branch(p, 1, "feature/x"));
	assert_true(pipeline_job_runs_on_branch(p, 1, NULL));
	assert_true(pipeline_job_runs_on_branch(p, 0, "feature/x"));

	assert_string_equal(pipeline_job_name(p, 5), "unit");
	assert_int_equal(pipeline_job_stage(p, 5), 2);
	assert_int_equal(pipeline_job_retry_max(p, 5), 1);
	assert_true(pipeline_job_allow_failure(p, 5));
	assert_false(pipeline_job_has_needs(p, 5));

	ship = pipeline_job_find(p, "ship");
	assert_int_equal(ship, 6);
	assert_int_equal(pipeline_job_when(p, 6), PIPELINE_WHEN_MANUAL);
	assert_string_equal(pipeline_job_environment(p, 6), "production");
	assert_int_equal(pipeline_job_timeout_ms(p, 6), 90 * 60 * 1000);
	assert_int_equal(pipeline_job_find(p, "compile"), -1);
	assert_int_equal(pipeline_job_find(p, "compile (clang, release)"), 4);
	assert_string_equal(pipeline_when_name(PIPELINE_WHEN_MANUAL), "manual");
	assert_string_equal(pipeline_when_name(PIPELINE_WHEN_ON_FAILURE),
			    "on_failure");
	pipeline_destroy(p);
}

static void
test_default_stages(void **state)
{
	struct pipeline *p = parse_ok("jobs:\n  a: {script: x}\n");

	(void)state;
	assert_int_equal(pipeline_stage_count(p), 4);
	assert_string_equal(pipeline_stage(p, 0), "lint");
	assert_string_equal(pipeline_stage(p, 1), "build");
	assert_string_equal(pipeline_stage(p, 2), "test");
	assert_string_equal(pipeline_stage(p, 3), "deploy");
	/* The default stage is test. */
	assert_int_equal(pipeline_job_stage(p, 0), 2);
	pipeline_destroy(p);

	p = parse_ok("stages: [check, test]\njobs:\n  a: {script: x}\n");
	assert_int_equal(pipeline_stage_count(p), 2);
	assert_int_equal(pipeline_job_stage(p, 0), 1);
	pipeline_destroy(p);
}

static void
test_matrix_expansion(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  pre: {script: x}\n"
		"  compile:\n"
		"    script: make\n"
		"    matrix: {CC: [gcc, clang], MODE: [debug, release]}\n"
		"  post: {script: y, matrix: {ONE: solo}}\n");
	static const char *const names[] = {
		"pre", "compile (gcc, debug)", "compile (gcc, release)",
		"compile (clang, debug)", "compile (clang, release)",
		"post (solo)",
	};
	const char *const *env;
	size_t i;

	(void)state;
	assert_int_equal(pipeline_job_count(p), PW_ARRAY_LEN(names));
	for (i = 0; i < PW_ARRAY_LEN(names); i++)
		assert_string_equal(pipeline_job_name(p, i), names[i]);
	for (i = 1; i <= 4; i++) {
		assert_true(pipeline_job_is(p, i, "compile"));
		assert_true(pipeline_job_is(p, i, names[i]));
		assert_false(pipeline_job_is(p, i, "pre"));
	}
	assert_true(pipeline_job_is(p, 0, "pre"));
	env = pipeline_job_env(p, 3);
	assert_string_equal(env[0], "CC=clang");
	assert_string_equal(env[1], "MODE=debug");
	assert_null(env[2]);
	env = pipeline_job_env(p, 5);
	assert_string_equal(env[0], "ONE=solo");
	assert_null(env[1]);
	assert_null(pipeline_job_env(p, 0)[0]);
	pipeline_destroy(p);
}

static void
test_env_precedence(void **state)
{
	struct pipeline *p = parse_ok(
		"env: {A: top, B: top, C: top}\n"
		"jobs:\n"
		"  j:\n"
		"    script: x\n"
		"    env: {D: job, B: job, C: job}\n"
		"    matrix: {C: [m1, m2], E: [m]}\n"
		"  k: {script: y}\n");
	const char *const *env;

	(void)state;
	env = pipeline_job_env(p, 1);
	assert_string_equal(pipeline_job_name(p, 1), "j (m2, m)");
	assert_string_equal(env[0], "A=top");
	assert_string_equal(env[1], "B=job");
	assert_string_equal(env[2], "C=m2");
	assert_string_equal(env[3], "D=job");
	assert_string_equal(env[4], "E=m");
	assert_null(env[5]);
	env = pipeline_job_env(p, 2);
	assert_string_equal(env[0], "A=top");
	assert_string_equal(env[1], "B=top");
	assert_string_equal(env[2], "C=top");
	assert_null(env[3]);
	pipeline_destroy(p);
}

static void
test_env_values_as_written(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  j:\n"
		"    script: x\n"
		"    env:\n"
		"      PY: 3.10\n"
		"      FLAG: true\n"
		"      OCT: 0755\n"
		"      Q: \"quoted: yes\"\n"
		"      EMPTY:\n"
		"      TILDE: ~\n");
	const char *const *env = pipeline_job_env(p, 0);

	(void)state;
	assert_string_equal(env[0], "PY=3.10");
	assert_string_equal(env[1], "FLAG=true");
	assert_string_equal(env[2], "OCT=0755");
	assert_string_equal(env[3], "Q=quoted: yes");
	assert_string_equal(env[4], "EMPTY=");
	assert_string_equal(env[5], "TILDE=~");
	assert_null(env[6]);
	pipeline_destroy(p);
}

static void
assert_preds(const struct pipeline *p, size_t job, const size_t *want,
	     size_t n)
{
	const size_t *preds;
	size_t i;

	assert_int_equal(pipeline_job_preds(p, job, &preds), n);
	for (i = 0; i < n; i++)
		assert_int_equal(preds[i], want[i]);
}

static void
test_preds(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  fmt: {stage: lint, script: x}\n"                   /* 0 */
		"  vet: {stage: lint, script: x}\n"                   /* 1 */
		"  compile:\n"                                        /* 2, 3 */
		"    stage: build\n"
		"    script: x\n"
		"    matrix: {CC: [gcc, clang]}\n"
		"  docs: {stage: build, script: x, needs: []}\n"      /* 4 */
		"  unit: {stage: test, script: x, needs: [compile, fmt, fmt]}\n"
		"  e2e: {stage: test, script: x}\n"                   /* 6 */
		"  ship: {stage: deploy, script: x}\n");              /* 7 */
	static const size_t none[] = {0}, lint[] = {0, 1},
			    build[] = {0, 1, 2, 3, 4}, unit[] = {0, 2, 3},
			    all[] = {0, 1, 2, 3, 4, 5, 6};

	(void)state;
	assert_preds(p, 0, none, 0);
	assert_preds(p, 1, none, 0);
	assert_preds(p, 2, lint, 2);
	assert_preds(p, 3, lint, 2);
	assert_preds(p, 4, none, 0);
	assert_true(pipeline_job_has_needs(p, 4));
	assert_preds(p, 5, unit, 3);
	assert_preds(p, 6, build, 5);
	assert_preds(p, 7, all, 7);
	pipeline_destroy(p);
}

static void
test_retry_forms(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  a: {script: x}\n"
		"  b: {script: x, retry: 3}\n"
		"  c: {script: x, retry: {max: 10}}\n"
		"  d: {script: x, retry: {max: 1, when: [timed_out]}}\n"
		"  e: {script: x, retry: {max: 0, when: failed}}\n");

	(void)state;
	assert_int_equal(pipeline_job_retry_max(p, 0), 0);
	assert_int_equal(pipeline_job_retry_max(p, 1), 3);
	assert_int_equal(pipeline_job_retry_when(p, 1),
			 PIPELINE_RETRY_FAILED | PIPELINE_RETRY_TIMED_OUT);
	assert_int_equal(pipeline_job_retry_max(p, 2), 10);
	assert_int_equal(pipeline_job_retry_max(p, 3), 1);
	assert_int_equal(pipeline_job_retry_when(p, 3),
			 PIPELINE_RETRY_TIMED_OUT);
	assert_int_equal(pipeline_job_retry_when(p, 4), PIPELINE_RETRY_FAILED);
	pipeline_destroy(p);
}

/* Lost attempts are retried once, except a deploy's (a job with an environment). */
static void
test_lost_retries(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  a: {script: x}\n"
		"  b: {script: x, environment: prod}\n"
		"  c: {script: x, environment: prod, lost_retries: 2}\n"
		"  d: {script: x, lost_retries: 0}\n");

	(void)state;
	assert_int_equal(pipeline_job_lost_retries(p, 0), 1);
	assert_int_equal(pipeline_job_lost_retries(p, 1), 0);
	assert_int_equal(pipeline_job_lost_retries(p, 2), 2);
	assert_int_equal(pipeline_job_lost_retries(p, 3), 0);
	pipeline_destroy(p);
	expect_one("jobs:\n  a: {script: x, lost_retries: 11}\n", 2, 32,
		   "'lost_retries' in job 'a' is 11; at most 10");
	expect_one("jobs:\n  a: {script: x, lost_retries: yes}\n", 2, 32,
		   "expected a number from 0 to 10 for 'lost_retries' in job"
		   " 'a', got 'yes'");
}

static void
test_values(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  a: {script: x, allow_failure: on, when: always,"
		" timeout: 500ms, working_dir: .}\n"
		"  b: {script: x, allow_failure: False, when: on_failure,"
		" timeout: 90s, working_dir: a/./b//../c/}\n"
		"  c: {script: x, branches: main}\n");

	(void)state;
	assert_true(pipeline_job_allow_failure(p, 0));
	assert_int_equal(pipeline_job_when(p, 0), PIPELINE_WHEN_ALWAYS);
	assert_int_equal(pipeline_job_timeout_ms(p, 0), 500);
	assert_null(pipeline_job_working_dir(p, 0));
	assert_false(pipeline_job_allow_failure(p, 1));
	assert_int_equal(pipeline_job_when(p, 1), PIPELINE_WHEN_ON_FAILURE);
	assert_int_equal(pipeline_job_timeout_ms(p, 1), 90000);
	assert_string_equal(pipeline_job_working_dir(p, 1), "a/c");
	assert_true(pipeline_job_runs_on_branch(p, 2, "main"));
	assert_false(pipeline_job_runs_on_branch(p, 2, "mainline"));
	pipeline_destroy(p);
}

static void
test_glob_match(void **state)
{
	(void)state;
	assert_true(pipeline_glob_match("release/*", "release/1.0"));
	/* `*` stops at '/'; `**` spans any depth (glob.h). */
	assert_false(pipeline_glob_match("release/*", "release/1.0/x"));
	assert_true(pipeline_glob_match("release/**", "release/1.0/x"));
	assert_false(pipeline_glob_match("release/*", "releases/1.0"));
	assert_true(pipeline_glob_match("main", "main"));
	assert_false(pipeline_glob_match("main", "main2"));
	assert_true(pipeline_glob_match("v[0-9]*", "v1.2"));
	assert_false(pipeline_glob_match("v[0-9]*", "vx"));
	assert_true(pipeline_glob_match("feat-?", "feat-a"));
	assert_false(pipeline_glob_match("*", ".hidden/x"));
	assert_true(pipeline_glob_match("*", ".hidden"));
	assert_true(pipeline_glob_match("[!a]*", "b"));
	assert_true(pipeline_glob_match("[]]", "]"));
	assert_true(pipeline_glob_match("\\*", "*"));
	assert_false(pipeline_glob_match("\\*", "x"));
	assert_false(pipeline_glob_match(NULL, "x"));
}

/* ---- hostile inputs: fail cleanly, never crash or hang ---- */

static void
test_billion_laughs(void **state)
{
	static const char yaml[] =
		"x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"w: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"v: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"u: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"t: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"s: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"r: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
		"jobs:\n"
		"  j: {script: *i, branches: *i, needs: *i}\n"
		"  k: {script: x, env: {A: *i}, matrix: {A: *i}}\n";

	(void)state;
	expect_invalid(yaml, strlen(yaml));
}

static void
test_alias_fan_out(void **state)
{
	struct pipeline_problems pp;
	struct pipeline *p;
	struct buf b;
	size_t i;

	(void)state;
	/* One list of 50,000 items used as the script of 1,000 jobs. */
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "jobs:\n  j0: {script: &s [x"), 0);
	for (i = 1; i < 50000; i++)
		assert_int_equal(buf_append(&b, ",x", 2), 0);
	assert_int_equal(buf_printf(&b, "]}\n"), 0);
	for (i = 1; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "  j%zu: {script: *s}\n", i),
				 0);
	assert_int_equal(parse_len(b.data, b.len, &p, &pp), -EINVAL);
	assert_null(p);
	assert_int_equal(pp.count, 1);
	assert_non_null(strstr(pp.items[0].message, "pipeline too complex"));
	pipeline_problems_free(&pp);
	buf_free(&b);
}

static void
test_deep_nesting(void **state)
{
	size_t n = 100000, i;
	char *s = malloc(n);

	(void)state;
	memset(s, '[', n);
	{
		struct pipeline_problems pp;
		struct pipeline *p;

		assert_int_equal(parse_len(s, n, &p, &pp), -EINVAL);
		assert_int_equal(pp.count, 1);
		check_problem(&pp.items[0], 1, 65,
			      "nested more than 64 levels deep");
		pipeline_problems_free(&pp);
	}
	memset(s, '{', n);
	expect_invalid(s, n);
	for (i = 0; i < n; i += 2) {
		s[i] = '-';
		s[i + 1] = ' ';
	}
	expect_invalid(s, n);
	free(s);
}

static void
test_huge_scalar(void **state)
{
	size_t n = 2 * 1024 * 1024, i;
	char *s = malloc(n + 64);

	(void)state;
	memcpy(s, "jobs: {a: {script: \"", 20);
	memset(s + 20, 'x', n);
	memcpy(s + 20 + n, "\"}}\n", 4);
	{
		struct pipeline_problems pp;
		struct pipeline *p;

		assert_int_equal(parse_len(s, n + 24, &p, &pp), -EINVAL);
		assert_int_equal(pp.count, 1);
		check_problem(&pp.items[0], 1, 1,
			      "file is 2097176 bytes; at most 1048576");
		pipeline_problems_free(&pp);
	}
	/* Just under the limit, the long scalar is a fine script... */
	i = PIPELINE_MAX_BYTES - 24;
	memcpy(s + 20 + i, "\"}}\n", 4);
	{
		struct pipeline *p = NULL;
		struct pipeline_problems pp;

		assert_int_equal(parse_len(s, i + 24, &p, &pp), 0);
		assert_int_equal(strlen(pipeline_job_script(p, 0, 0)), i);
		pipeline_destroy(p);
		pipeline_problems_free(&pp);
	}
	/* ...but a job name in a message is cut short. */
	memcpy(s, "jobs: {\"", 8);
	memset(s + 8, 'y', 1000);
	memcpy(s + 1008, "\": {}}", 6);
	{
		struct pipeline_problems pp;
		struct pipeline *p;

		assert_int_equal(parse_len(s, 1014, &p, &pp), -EINVAL);
		assert_int_equal(pp.count, 1);
		assert_true(strlen(pp.items[0].message) < 200);
		pipeline_problems_free(&pp);
	}
	free(s);
}

static void
test_random_bytes(void **state)
{
	unsigned char buf[4096];
	uint32_t x = 2463534242u;
	size_t i, round;

	(void)state;
	for (round = 0; round < 50; round++) {
		struct pipeline_problems pp;
		struct pipeline *p = NULL;

		for (i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
		}
		/* Junk may, rarely, be YAML; it must never be a pipeline. */
		assert_int_equal(parse_len((const char *)buf, sizeof(buf), &p,
					   &pp), -EINVAL);
		assert_true(pp.count >= 1);
		pipeline_problems_free(&pp);
	}
}

static void
test_empty_and_null(void **state)
{
	(void)state;
	expect_invalid("", 0);
	expect_invalid(NULL, 0);
	expect_invalid("\0\0\0", 3);
	expect_invalid("~\n", 2);
}

static void
test_many_problems_capped(void **state)
{
	struct pipeline_problems pp;
	struct pipeline *p;
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "jobs:\n"), 0);
	for (i = 0; i < 500; i++)
		assert_int_equal(buf_printf(&b, "  j%zu: {scirpt: x}\n", i), 0);
	assert_int_equal(parse_len(b.data, b.len, &p, &pp), -EINVAL);
	assert_int_equal(pp.count, 101);
	assert_string_equal(pp.items[100].message,
			    "too many problems; stopped after 100");
	pipeline_problems_free(&pp);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_sandbox_keys_model),
		cmocka_unit_test(test_user_model),
		cmocka_unit_test(test_user_bad),
		cmocka_unit_test(test_network_not_bool),
		cmocka_unit_test(test_resources_bad),
		cmocka_unit_test(test_secrets_bad),
		cmocka_unit_test(test_secrets_reserved_prefix),
		cmocka_unit_test(test_unknown_job_key),
		cmocka_unit_test(test_unknown_top_level_key),
		cmocka_unit_test(test_unknown_retry_key),
		cmocka_unit_test(test_script_as_map),
		cmocka_unit_test(test_allow_failure_as_list),
		cmocka_unit_test(test_env_value_as_map),
		cmocka_unit_test(test_missing_script),
		cmocka_unit_test(test_unknown_stage),
		cmocka_unit_test(test_bad_stages),
		cmocka_unit_test(test_unknown_need),
		cmocka_unit_test(test_cycle_via_needs),
		cmocka_unit_test(test_cycle_via_stage_order),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_empty_matrix),
		cmocka_unit_test(test_too_many_combinations),
		cmocka_unit_test(test_too_many_jobs),
		cmocka_unit_test(test_duplicate_expanded_name),
		cmocka_unit_test(test_bad_glob),
		cmocka_unit_test(test_working_dir_escapes),
		cmocka_unit_test(test_reserved_env_name),
		cmocka_unit_test(test_invalid_env_name),
		cmocka_unit_test(test_invalid_matrix_key),
		cmocka_unit_test(test_invalid_job_name),
		cmocka_unit_test(test_retry_errors),
		cmocka_unit_test(test_when_errors),
		cmocka_unit_test(test_several_problems),
		cmocka_unit_test(test_problems_are_appended),
		cmocka_unit_test(test_file_shape_errors),
		cmocka_unit_test(test_control_characters_in_names),
		cmocka_unit_test(test_bytes_errors),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_default_stages),
		cmocka_unit_test(test_matrix_expansion),
		cmocka_unit_test(test_env_precedence),
		cmocka_unit_test(test_env_values_as_written),
		cmocka_unit_test(test_preds),
		cmocka_unit_test(test_retry_forms),
		cmocka_unit_test(test_lost_retries),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_glob_match),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_alias_fan_out),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_scalar),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_many_problems_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
