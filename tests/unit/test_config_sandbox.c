/*
 * Unit tests of the config's `sandbox` key: the scalar form (the mode),
 * the mapping (mode, network, limits), a project's mapping taking each key
 * it leaves out from the top level, the exact FILE:LINE:COLUMN of each
 * kind of mistake, the admin's mounts and env adding up from the top
 * level to a project's, and pipeline_check_ceilings(), which refuses a pipeline
 * asking for more than a server allows, naming the ceiling at the value's
 * position.  Real files in a temporary directory, like test_config.c.
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
#include "pipewright/pipeline.h"
#include "testlib.h"

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)

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
	if (tl_rm_tree(fx->dir) < 0)
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
	load_bad(*state, "sandbox: {mounts: /srv}\n", 1, 19,
		 "expected a list of absolute host paths for 'mounts' in"
		 " 'sandbox', got '/srv'");
	load_bad(*state, "sandbox: {mounts: [srv]}\n", 1, 20,
		 "mount 'srv' in 'sandbox': expected an absolute path other"
		 " than /");
	load_bad(*state, "sandbox: {mounts: [/usr/../etc]}\n", 1, 20,
		 "mount '/usr/../etc' in 'sandbox': expected a path without"
		 " empty, . or .. components");
	load_bad(*state, "sandbox: {mounts: [/nonexistent-pw-x]}\n", 1, 20,
		 "mount '/nonexistent-pw-x' in 'sandbox': No such file or"
		 " directory");
	load_bad(*state, PROJ("    sandbox:\n      mounts: [/usr, /tmp/x]\n"),
		 5, 22, "mount '/tmp/x' in 'sandbox' in project 'a': the sandbox"
		 " mounts /dev, /proc, /tmp and the workspace (/builds) itself;"
		 " expected a path clear of them");
	load_bad(*state, "sandbox: {mounts: [/usr, /usr]}\n", 1, 26,
		 "mount '/usr' is listed twice in 'sandbox'");
	load_bad(*state, PROJ("    sandbox:\n      env: {1A: b}\n"), 5, 13,
		 "invalid variable name '1A' in 'env' in 'sandbox' in project"
		 " 'a'; expected letters, digits and _, not starting with a"
		 " digit, not CI or PIPEWRIGHT* (set for every job)");
	load_bad(*state, "sandbox: {env: {PIPEWRIGHT_JOB: x}}\n", 1, 17,
		 "invalid variable name 'PIPEWRIGHT_JOB' in 'env' in 'sandbox';"
		 " expected letters, digits and _, not starting with a digit,"
		 " not CI or PIPEWRIGHT* (set for every job)");
	load_bad(*state, "sandbox: {env: {A: [b]}}\n", 1, 20,
		 "expected a string for 'A' in 'sandbox', got a list");
}

/* mounts and env add up: the project's join the top level's. */
static void
test_mounts_env(void **state)
{
	struct config *c = load_ok(*state,
		"sandbox:\n"
		"  mounts: [/usr, /etc]\n"
		"  env: {RUSTUP_HOME: /opt/rust/rustup, A: top}\n"
		"projects:\n"
		"  - name: a\n"
		"    pipeline: p.yml\n"
		"    sandbox: {mounts: [/etc, /var], env: {A: mine, B: \"\"}}\n"
		"  - name: b\n"
		"    pipeline: p.yml\n");
	const char *const *m, *const *e;

	m = config_project_mounts(config_project_find(c, "a"));
	assert_string_equal(m[0], "/usr");
	assert_string_equal(m[1], "/etc");
	assert_string_equal(m[2], "/var");
	assert_null(m[3]);
	e = config_project_env(config_project_find(c, "a"));
	assert_string_equal(e[0], "RUSTUP_HOME=/opt/rust/rustup");
	assert_string_equal(e[1], "A=mine");
	assert_string_equal(e[2], "B=");
	assert_null(e[3]);
	m = config_project_mounts(config_project_find(c, "b"));
	assert_string_equal(m[0], "/usr");
	assert_string_equal(m[1], "/etc");
	assert_null(m[2]);
	e = config_project_env(config_project_find(c, "b"));
	assert_string_equal(e[1], "A=top");
	assert_null(e[2]);
	config_destroy(c);
	c = load_ok(*state, PROJ(""));
	assert_null(config_project_mounts(config_project_find(c, "a"))[0]);
	assert_null(config_project_env(config_project_find(c, "a"))[0]);
	config_destroy(c);
}

/* Loads yaml: NULL and the problems printed into *msg if it fails. */
static struct config *
load(struct fx *fx, const char *yaml, char *msg, size_t len)
{
	struct pipeline_problems pp;
	struct config *c = NULL;
	FILE *f = fmemopen(msg, len, "w");

	write_file(fx->dir, "pipewright.yml", yaml);
	pipeline_problems_init(&pp);
	if (config_load(fx->path, &c, &pp) < 0)
		c = NULL;
	config_print_problems(f, &pp);
	fclose(f);
	pipeline_problems_free(&pp);
	return c;
}

static void
test_builtin(void **state)
{
	struct config_limits l;
	struct config *c;
	char msg[512] = "";

	config_limits_builtin(&l);
	assert_int_equal(l.pids.dflt, 1024);
	assert_int_equal(l.pids.max, 4096);
	assert_true(l.memory.dflt > 0 && l.memory.dflt <= 4 * GiB);
	assert_true(l.memory.max >= l.memory.dflt);
	assert_int_equal(l.timeout_ms.dflt, 3600 * 1000);
	assert_int_equal(l.timeout_ms.max, 24 * 3600 * 1000);
	assert_int_equal(l.max_log, 64 * MiB);
	assert_int_equal(l.workspace, 10 * GiB);
	c = load(*state, "listen: 127.0.0.1:0\n", msg, sizeof(msg));
	assert_non_null(c);
	assert_memory_equal(config_limits(c), &l, sizeof(l));
	config_destroy(c);
}

static void
test_set(void **state)
{
	const struct config_limits *l, *pl;
	struct config *c;
	char msg[1024] = "";

	c = load(*state,
		 "sandbox:\n"
		 "  mode: strict\n"
		 "  limits:\n"
		 "    memory: {default: 2G, max: 8G}\n"
		 "    pids: 512\n"
		 "    cpu_seconds: {max: 3600}\n"
		 "    timeout: {default: 30m, max: 6h}\n"
		 "    max_log: 16M\n"
		 "    workspace: unlimited\n"
		 "projects:\n"
		 "  - name: big\n"
		 "    pipeline: p.yml\n"
		 "    sandbox: {limits: {memory: {max: 1G}, pids: unlimited}}\n"
		 "  - name: plain\n"
		 "    pipeline: p.yml\n", msg, sizeof(msg));
	if (c == NULL)
		fail_msg("%s", msg);
	l = config_limits(c);
	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_STRICT);
	assert_int_equal(l->memory.dflt, 2 * GiB);
	assert_int_equal(l->memory.max, 8 * GiB);
	assert_int_equal(l->pids.dflt, 512);
	assert_int_equal(l->pids.max, 512);
	assert_int_equal(l->cpu_seconds.dflt, 3600);  /* lowered */
	assert_int_equal(l->cpu_seconds.max, 3600);
	assert_int_equal(l->timeout_ms.dflt, 30 * 60 * 1000);
	assert_int_equal(l->timeout_ms.max, 6 * 3600 * 1000);
	assert_int_equal(l->max_log, 16 * MiB);
	assert_int_equal(config_max_log(c), 16 * MiB);
	assert_int_equal(l->workspace, 0);
	/* A max below the inherited default lowers the default. */
	pl = config_project_limits(config_project_find(c, "big"));
	assert_int_equal(pl->memory.dflt, 1 * GiB);
	assert_int_equal(pl->memory.max, 1 * GiB);
	assert_int_equal(pl->pids.dflt, 0);
	assert_int_equal(pl->pids.max, 0);
	assert_int_equal(pl->timeout_ms.max, 6 * 3600 * 1000);
	pl = config_project_limits(config_project_find(c, "plain"));
	assert_memory_equal(pl, l, sizeof(*l));
	config_destroy(c);

	/* The scalar is still the mode. */
	c = load(*state, "sandbox: none\n", msg, sizeof(msg));
	assert_non_null(c);
	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_NONE);
	config_destroy(c);
}

static void
bad(struct fx *fx, const char *yaml, const char *want)
{
	char msg[1024] = "";
	struct config *c = load(fx, yaml, msg, sizeof(msg));

	assert_null(c);
	if (strstr(msg, want) == NULL)
		fail_msg("wanted '%s' in:\n%s", want, msg);
}

static void
test_bad(void **state)
{
	bad(*state, "sandbox: {limits: {memory: lots}}\n",
	    "pipewright.yml:1:28: error: expected a size such as 2G, or"
	    " unlimited for 'memory' in 'sandbox.limits', got 'lots'");
	bad(*state, "sandbox: {limits: {pids: {default: 9000, max: 4096}}}\n",
	    "pipewright.yml:1:36: error: 'pids' in 'sandbox.limits': the"
	    " default 9000 is above the max 4096");
	bad(*state, "sandbox: {limits: {memory: {dflt: 1G}}}\n",
	    "1:29: error: unknown key 'dflt' in 'memory' in 'sandbox.limits';"
	    " expected default or max");
	bad(*state, "sandbox: {limits: {timeout: 0s}}\n",
	    "1:29: error: 'timeout' in 'sandbox.limits' is 0s; expected"
	    " from 1s to 8784h, or unlimited");
	bad(*state, "sandbox: {limits: {memroy: 1G}}\n",
	    "1:20: error: unknown key 'memroy' in 'sandbox.limits'; did you"
	    " mean 'memory'?");
	bad(*state, "sandbox: {limits: {pids: [1]}}\n",
	    "1:26: error: expected a number, or {default: 1024, max: 4096}"
	    " for 'pids' in 'sandbox.limits', got a list");
	bad(*state, "sandbox: {limits: {max_log: unlimited}}\n",
	    "1:29: error: expected a size such as 64M for 'max_log' in"
	    " 'sandbox.limits', got 'unlimited'");
	bad(*state, "projects:\n  - name: a\n    pipeline: p.yml\n"
	    "    sandbox: {limits: {workspace: 1K}}\n",
	    "4:35: error: 'workspace' in 'sandbox.limits' in project 'a' is"
	    " 1K; expected from 16M to 1048576G, or unlimited");
}

/* A pipeline asking for more than the ceilings, each named in place. */
static void
test_ceilings(void **state)
{
	static const char yaml[] =
		"jobs:\n"
		"  hog:\n"
		"    timeout: 100000h\n"
		"    resources:\n"
		"      memory: 1024G\n"
		"      pids: 100\n"
		"    script: true\n"
		"  fine:\n"
		"    timeout: 1h\n"
		"    resources: {memory: 8G, pids: 4096}\n"
		"    script: true\n";
	struct pipeline_resources max = {
		.memory = 8 * GiB, .pids = 4096, .timeout_ms = 6 * 3600 * 1000,
	}, got;
	struct pipeline_problems pp;
	struct pipeline *p = NULL;

	(void)state;
	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_parse("ci.yml", yaml, strlen(yaml), &p,
					 &pp), 0);
	pipeline_job_resources(p, 0, &got);
	assert_int_equal(got.timeout_ms, 100000ULL * 3600 * 1000);
	assert_int_equal(pipeline_check_ceilings(p, &max, &pp), 2);
	assert_string_equal(pp.items[0].file, "ci.yml");
	assert_int_equal(pp.items[0].line, 3);
	assert_int_equal(pp.items[0].column, 14);
	assert_string_equal(pp.items[0].message,
			    "timeout: 100000h is above this server's ceiling"
			    " of 6h");
	assert_int_equal(pp.items[1].line, 5);
	assert_int_equal(pp.items[1].column, 15);
	assert_string_equal(pp.items[1].message,
			    "resources.memory: 1024G is above this server's"
			    " ceiling of 8G");
	pipeline_problems_free(&pp);
	/* No ceilings: nothing to refuse; unset values are 0. */
	memset(&max, 0, sizeof(max));
	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_check_ceilings(p, &max, &pp), 0);
	pipeline_destroy(p);
	pipeline_problems_free(&pp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_scalar_is_mode),
		cmocka_unit_test(test_project_inherits_key_by_key),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_mounts_env),
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_ceilings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
