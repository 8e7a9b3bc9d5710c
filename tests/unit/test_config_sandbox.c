/*
 * Unit tests of the config's `sandbox` key: the scalar form (the mode),
 * the mapping (mode, network), a project's mapping taking each key it
 * leaves out from the top level, and the exact FILE:LINE:COLUMN of each
 * kind of mistake.  Real files in a temporary directory, like
 * test_config.c.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipewright/config.h"

struct fx {
	char dir[64];
	char path[PATH_MAX];
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pw-test-cfsb-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/pipewright.yml", fx->dir);
	write_file(fx->dir, "p.yml", "jobs:\n  a:\n    script: true\n");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct config *
load_ok(struct fx *fx, const char *yaml)
{
	struct pipeline_problems pp;
	struct config *c = NULL;

	write_file(fx->dir, "pipewright.yml", yaml);
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), 0);
	config_print_problems(stderr, &pp);
	assert_int_equal(pp.count, 0);
	pipeline_problems_free(&pp);
	return c;
}

/* yaml must fail with exactly one problem, this one. */
static void
load_bad(struct fx *fx, const char *yaml, int line, int column,
	 const char *message)
{
	struct pipeline_problems pp;
	struct config *c = NULL;

	write_file(fx->dir, "pipewright.yml", yaml);
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), -EINVAL);
	assert_null(c);
	if (pp.count != 1)
		config_print_problems(stderr, &pp);
	assert_int_equal(pp.count, 1);
	assert_int_equal(pp.items[0].line, line);
	assert_int_equal(pp.items[0].column, column);
	assert_string_equal(pp.items[0].message, message);
	pipeline_problems_free(&pp);
}

#define PROJ(extra) \
	"projects:\n" \
	"  - name: a\n" \
	"    pipeline: p.yml\n" extra

static void
test_defaults(void **state)
{
	struct config *c = load_ok(*state, PROJ(""));
	const struct config_project *p = config_project_find(c, "a");

	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_STRICT);
	assert_int_equal(config_network(c), CONFIG_NETWORK_DENY);
	assert_int_equal(config_project_sandbox(p), CONFIG_SANDBOX_STRICT);
	assert_int_equal(config_project_network(p), CONFIG_NETWORK_DENY);
	config_destroy(c);
}

static void
test_scalar_is_mode(void **state)
{
	struct config *c = load_ok(*state, "sandbox: none\n"
				   PROJ("    sandbox: strict\n"));

	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_NONE);
	assert_int_equal(config_project_sandbox(config_project(c, 0)),
			 CONFIG_SANDBOX_STRICT);
	assert_int_equal(config_network(c), CONFIG_NETWORK_DENY);
	config_destroy(c);
}

/* A project's mapping overrides key by key; the rest is the top's. */
static void
test_project_inherits_key_by_key(void **state)
{
	struct config *c = load_ok(*state,
		"sandbox: {mode: none, network: allow}\n"
		"projects:\n"
		"  - name: a\n"
		"    pipeline: p.yml\n"
		"    sandbox: {network: deny}\n"
		"  - name: b\n"
		"    pipeline: p.yml\n"
		"    sandbox: {mode: strict}\n"
		"  - name: c\n"
		"    pipeline: p.yml\n");
	const struct config_project *a = config_project_find(c, "a");
	const struct config_project *b = config_project_find(c, "b");
	const struct config_project *d = config_project_find(c, "c");

	assert_int_equal(config_project_sandbox(a), CONFIG_SANDBOX_NONE);
	assert_int_equal(config_project_network(a), CONFIG_NETWORK_DENY);
	assert_int_equal(config_project_sandbox(b), CONFIG_SANDBOX_STRICT);
	assert_int_equal(config_project_network(b), CONFIG_NETWORK_ALLOW);
	assert_int_equal(config_project_sandbox(d), CONFIG_SANDBOX_NONE);
	assert_int_equal(config_project_network(d), CONFIG_NETWORK_ALLOW);
	config_destroy(c);
}

static void
test_errors(void **state)
{
	load_bad(*state, "sandbox:\n  network: yes\n", 2, 12,
		 "expected one of allow, deny for 'network' in 'sandbox', got"
		 " 'yes'");
	load_bad(*state, "sandbox:\n  network: alow\n", 2, 12,
		 "expected one of allow, deny for 'network' in 'sandbox', got"
		 " 'alow'; did you mean 'allow'?");
	load_bad(*state, "sandbox: {mode: strcit}\n", 1, 17,
		 "expected one of strict, none for 'mode' in 'sandbox', got"
		 " 'strcit'; did you mean 'strict'?");
	load_bad(*state, "sandbox: {netwrk: allow}\n", 1, 11,
		 "unknown key 'netwrk' in 'sandbox'; did you mean 'network'?");
	load_bad(*state, "sandbox: [strict]\n", 1, 10,
		 "expected one of strict, none, or a mapping such as {mode:"
		 " strict, network: deny} for 'sandbox', got a list");
	load_bad(*state, PROJ("    sandbox: {network: [allow]}\n"), 4, 24,
		 "expected one of allow, deny for 'network' in 'sandbox' in"
		 " project 'a', got a list");
	load_bad(*state, "sandbox: {mounts: [/srv]}\n", 1, 11,
		 "'mounts' in 'sandbox' is not supported yet (it is reserved"
		 " for job images); remove it");
	load_bad(*state, PROJ("    sandbox:\n      env: {A: b}\n"), 5, 7,
		 "'env' in 'sandbox' in project 'a' is not supported yet (it"
		 " is reserved for job images); remove it");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_scalar_is_mode),
		cmocka_unit_test(test_project_inherits_key_by_key),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
