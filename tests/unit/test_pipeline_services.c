/*
 * The pipeline key `services`: its forms, the start order from `needs`,
 * and the exact problem (line, column, message) for each mistake a file
 * can make.  Real YAML in, the model or the problem out.
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
static void __attribute__((unused))
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

/* The issue's own example: start order, values as written. */
static void
test_example(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  e2e:\n"
		"    services:\n"
		"      api:\n"
		"        command: [./target/release/app, --port, \"8080\"]\n"
		"        needs: [db]\n"
		"        ready: {http: \"http://127.0.0.1:8080/healthz\"}\n"
		"      db:\n"
		"        command: [postgres, -D, $PIPEWRIGHT_SERVICE_DIR, -k,"
		" /tmp, -c, listen_addresses=127.0.0.1]\n"
		"        setup: [initdb -D $PIPEWRIGHT_SERVICE_DIR]\n"
		"        env: {PGDATA: $PIPEWRIGHT_SERVICE_DIR}\n"
		"        ready: {tcp: 5432}\n"
		"        ready_timeout: 30s\n"
		"    script: [./e2e.sh]\n"
		"  plain:\n"
		"    script: [true]\n");
	const struct pipeline_service *s;

	(void)state;
	assert_int_equal(pipeline_job_service_count(p, 0), 2);
	assert_int_equal(pipeline_job_service_count(p, 1), 0);
	s = pipeline_job_service(p, 0, 0);
	assert_string_equal(s->name, "db");
	assert_false(s->shell);
	assert_strv(s->command, STRV("postgres", "-D", "$PIPEWRIGHT_SERVICE_DIR",
				     "-k", "/tmp", "-c",
				     "listen_addresses=127.0.0.1"));
	assert_strv(s->setup, STRV("initdb -D $PIPEWRIGHT_SERVICE_DIR"));
	assert_strv(s->env, STRV("PGDATA=$PIPEWRIGHT_SERVICE_DIR"));
	assert_string_equal(s->ready, "tcp:5432");
	assert_int_equal(s->ready_timeout_ms, 30000);
	s = pipeline_job_service(p, 0, 1);
	assert_string_equal(s->name, "api");
	assert_strv(s->setup, EMPTY);
	assert_strv(s->env, EMPTY);
	assert_string_equal(s->ready, "http:http://127.0.0.1:8080/healthz");
	assert_int_equal(s->ready_timeout_ms, 60000);
	pipeline_destroy(p);
}

/* A string command is a shell's; no `ready`: ready once started. */
static void
test_forms(void **state)
{
	struct pipeline *p = parse_ok(
		"jobs:\n"
		"  t:\n"
		"    services:\n"
		"      c: {command: \"redis-server --port 7000\","
		" ready: {command: \"redis-cli -p 7000 ping\"}}\n"
		"      b: {command: [sleep, \"100\"], setup: \"echo one\"}\n"
		"      a: {command: x, needs: [c, b]}\n"
		"    script: [true]\n");
	const struct pipeline_service *s;

	(void)state;
	s = pipeline_job_service(p, 0, 0);
	assert_string_equal(s->name, "c");
	assert_true(s->shell);
	assert_strv(s->command, STRV("redis-server --port 7000"));
	assert_string_equal(s->ready, "command:redis-cli -p 7000 ping");
	s = pipeline_job_service(p, 0, 1);
	assert_string_equal(s->name, "b");
	assert_null(s->ready);
	assert_strv(s->setup, STRV("echo one"));
	assert_string_equal(pipeline_job_service(p, 0, 2)->name, "a");
	pipeline_destroy(p);
}

#define JOB "jobs:\n  t:\n    script: [true]\n    services:\n"

static void
test_mistakes(void **state)
{
	(void)state;
	expect_one(JOB "      db: {command: x, ready_timout: 5s}\n", 5, 24,
		   "unknown key 'ready_timout' in service 'db' of job 't'; did"
		   " you mean 'ready_timeout'?");
	expect_one(JOB "      db: {ready: {tcp: 1}}\n", 5, 11,
		   "service 'db' of job 't' has no 'command'; expected what"
		   " runs it, e.g. command: [redis-server]");
	expect_one(JOB "      Db: {command: x}\n", 5, 7,
		   "invalid service name 'Db' in job 't'; expected 1 to 32 of"
		   " a-z, 0-9, '_' and '-', starting with a letter, not 'job'");
	expect_one(JOB "      job: {command: x}\n", 5, 7,
		   "invalid service name 'job' in job 't'; expected 1 to 32 of"
		   " a-z, 0-9, '_' and '-', starting with a letter, not 'job'");
	expect_one(JOB "      db: x\n", 5, 11,
		   "expected a mapping with 'command' for 'db' in job 't', got"
		   " 'x'");
	expect_one(JOB "      db: {command: x, needs: [web]}\n", 5, 32,
		   "unknown service 'web' in 'needs' of service 'db' of job"
		   " 't'; expected one of the job's services");
	expect_one(JOB "      db: {command: x, needs: [db]}\n", 5, 32,
		   "service needs itself: 'db' in 'needs' of service 'db' of"
		   " job 't'");
	expect_one(JOB "      a: {command: x, needs: [b]}\n"
		   "      b: {command: x, needs: [a]}\n", 4, 5,
		   "the services of job 't' need each other in a cycle"
		   " (through 'a'); 'needs' must give a start order");
	expect_one(JOB "      db: {command: x, ready: {tpc: 5}}\n", 5, 32,
		   "unknown check 'tpc' in 'ready' in service 'db' of job 't';"
		   " expected tcp, http or command; did you mean 'tcp'?");
	expect_one(JOB "      db: {command: x, ready: {tcp: 70000}}\n", 5, 37,
		   "invalid port '70000' for 'tcp' in service 'db' of job 't';"
		   " expected a number from 1 to 65535 (the service listens on"
		   " 127.0.0.1)");
	expect_one(JOB "      db: {command: x, ready: {http: \"https://x/\"}}\n",
		   5, 38, "invalid URL 'https://x/' for 'http' in service 'db'"
		   " of job 't'; expected http://127.0.0.1:PORT/PATH (no https:"
		   " the service is the job's own, on loopback)");
	expect_one(JOB "      db: {command: x, ready: {tcp: 1, command: y}}\n",
		   5, 31, "'ready' in service 'db' of job 't' needs exactly one"
		   " of tcp, http or command, e.g. ready: {tcp: 5432}");
	expect_one(JOB "      db: {command: x, ready_timeout: 2h}\n", 5, 39,
		   "invalid duration '2h' for 'ready_timeout' in service 'db'"
		   " of job 't'; expected more than 0 and at most 1h, e.g. 30s");
	expect_one(JOB "      db: {command: [x, \"${A\"]}\n", 5, 25,
		   "'${A' in 'command' in service 'db' of job 't': '${' at"
		   " character 1 is not closed by '}'");
	expect_one("jobs:\n  t:\n    script: [true]\n    services: {}\n", 4, 15,
		   "empty 'services' in job 't'; leave the key out, or name a"
		   " service");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_mistakes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
