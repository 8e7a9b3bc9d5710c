/*
 * Unit tests of the config module: real files in a temporary directory
 * (the config, the pipeline files it names, secret files), loaded with
 * config_load(); the accessors on a full and on an empty config, and one
 * test per kind of problem asserting its exact FILE:LINE:COLUMN and
 * message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
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
#include "testlib.h"

struct fx {
	char dir[64];
	char path[PATH_MAX];     /* dir/pipewright.yml */
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
	char sub[PATH_MAX + 16];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pw-test-config-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/pipewright.yml", fx->dir);
	snprintf(sub, sizeof(sub), "%s/pipelines", fx->dir);
	mkdir(sub, 0700);
	write_file(fx->dir, "pipelines/demo.yml",
		   "jobs:\n  a:\n    script: true\n");
	write_file(fx->dir, "pipelines/other.yml",
		   "jobs:\n  b:\n    script: true\n");
	write_file(fx->dir, "token", "s3cret\n");
	write_file(fx->dir, "crlf", "line1\nline2\r\n");
	write_file(fx->dir, "empty", "\n");
	write_file(fx->dir, "whsec",
		   "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
	write_file(fx->dir, "notwhsec", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
	write_file(fx->dir, "badwhsec", "whsec_not base64!\n");
	write_file(fx->dir, "slackurl",
		   "https://hooks.slack.com/services/T/B/x\n");
	write_file(fx->dir, "notaurl", "ftp://files.example.com/\n");
	setenv("PW_TEST_SECRET", "from-env", 1);
	unsetenv("PW_TEST_UNSET");
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
	int rc;

	write_file(fx->dir, "pipewright.yml", yaml);
	pipeline_problems_init(&pp);
	rc = config_load(fx->path, &c, &pp);
	config_print_problems(stderr, &pp);
	assert_int_equal(rc, 0);
	assert_int_equal(pp.count, 0);
	assert_non_null(c);
	pipeline_problems_free(&pp);
	return c;
}

/*
 * Loads yaml, which must fail, and checks that one of its problems is
 * exactly at line:column with this message; with count > 0, that there
 * are that many problems.
 */
static void
load_bad(struct fx *fx, const char *yaml, size_t count, int line, int column,
	 const char *message)
{
	struct pipeline_problems pp;
	struct config *c = NULL;
	size_t i;
	bool found = false;

	write_file(fx->dir, "pipewright.yml", yaml);
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), -EINVAL);
	assert_null(c);
	for (i = 0; i < pp.count; i++) {
		assert_string_equal(pp.items[i].file, fx->path);
		if (pp.items[i].line == line && pp.items[i].column == column &&
		    strcmp(pp.items[i].message, message) == 0)
			found = true;
	}
	if (!found || (count > 0 && pp.count != count)) {
		print_error("wanted %d:%d: %s\n", line, column, message);
		config_print_problems(stderr, &pp);
	}
	assert_true(found);
	if (count > 0)
		assert_int_equal(pp.count, count);
	pipeline_problems_free(&pp);
}

static void
test_full(void **state)
{
	struct fx *fx = *state;
	const struct config_project *p;
	struct sockaddr_storage ss;
	uint32_t first, count;
	socklen_t sslen;
	char want[PATH_MAX * 2];
	struct config *c;
	size_t len;

	c = load_ok(fx,
		    "listen: '[::1]:9090'\n"
		    "public_url: https://ci.example.com/\n"
		    "data_dir: ../var\n"
		    "pid_file: /run/pipewright.pid\n"
		    "max_jobs: 8\n"
		    "supervisor_pool: 0\n"
		    "anonymous_read: false\n"
		    "drain: cancel\n"
		    "drain_timeout: 1m30s\n"
		    "kill_grace: 2s\n"
		    "binary: ../bin/pipewright\n"
		    "upgrade_timeout: 5s\n"
		    "log_format: json\n"
		    "max_log: 128M\n"
		    "sandbox: none\n"
		    "http:\n"
		    "  max_body: 2M\n"
		    "  max_connections: 100\n"
		    "  read_timeout: 5s\n"
		    "  idle_timeout: 2m\n"
		    "  max_connections_per_address: 4\n"
		    "  header_timeout: 3s\n"
		    "  max_auth_failures: 50\n"
		    "  trusted_proxies: [10.0.0.0/8, '::1', 192.0.2.7]\n"
		    "  allowed_hosts: [CI.Example.com., ci-internal]\n"
		    "metrics: public\n"
		    "job_ids: {first: 2000000000, count: 10}\n"
		    "artifacts: {max_size: 2G, expire_in: 7d, keep_latest: false}\n"
		    "caches:\n  max_size: 20G\n  max_age: 1d\n"
		    "projects:\n"
		    "  - name: demo\n"
		    "    pipeline: pipelines/demo.yml\n"
		    "    badge: token\n"
		    "    max_jobs: 2\n"
		    "    cancel_superseded: true\n"
		    "    secrets: [DEPLOY_TOKEN, FROM_ENV]\n"
		    "    keep_runs: 50\n"
		    "    keep_days: 0\n"
		    "  - name: other.proj-2\n"
		    "    pipeline: ./pipelines/other.yml\n"
		    "  - name: hooked\n"
		    "    repo: https://git.example.com/a/b.git\n"
		    "secrets:\n"
		    "  DEPLOY_TOKEN: {file: token}\n"
		    "  FROM_ENV: {env: PW_TEST_SECRET}\n"
		    "  MULTI: {file: crlf}\n");
	assert_string_equal(config_path(c), fx->path);
	assert_string_equal(config_dir(c), fx->dir);
	assert_string_equal(config_listen(c), "[::1]:9090");
	assert_string_equal(config_listen_host(c), "::1");
	assert_int_equal(config_listen_port(c), 9090);
	config_listen_sockaddr(c, &ss, &sslen);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(sslen, sizeof(struct sockaddr_in6));
	assert_string_equal(config_public_url(c), "https://ci.example.com");
	assert_true(config_public_url_set(c));
	snprintf(want, sizeof(want), "%s/../var", fx->dir);
	assert_string_equal(config_data_dir(c), want);
	assert_string_equal(config_pid_file(c), "/run/pipewright.pid");
	assert_int_equal(config_max_jobs(c), 8);
	assert_int_equal(config_supervisor_pool(c), 0);
	assert_false(config_anonymous_read(c));
	assert_int_equal(config_drain(c), CONFIG_DRAIN_CANCEL);
	assert_int_equal(config_drain_timeout_ms(c), 90000);
	assert_int_equal(config_kill_grace_ms(c), 2000);
	assert_int_equal(config_upgrade_timeout_ms(c), 5000);
	assert_non_null(strstr(config_binary(c), "/bin/pipewright"));
	assert_int_equal(config_log_format(c), CONFIG_LOG_JSON);
	assert_int_equal(config_max_log(c), 128 * 1024 * 1024);
	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_NONE);
	assert_int_equal(config_http_max_body(c), 2 * 1024 * 1024);
	{
		struct config_reuse r;

		config_reuse(c, &r);
		assert_int_equal(r.artifacts_max_size, 2ULL << 30);
		assert_int_equal(r.artifacts_expire_in_ms, 7ULL * 86400000);
		assert_false(r.artifacts_keep_latest);
		assert_int_equal(r.caches_max_size, 20ULL << 30);
		assert_int_equal(r.caches_max_age_ms, 86400000);
	}
	assert_int_equal(config_http_max_connections(c), 100);
	assert_int_equal(config_http_read_timeout_ms(c), 5000);
	assert_int_equal(config_http_max_connections_per_address(c), 4);
	assert_int_equal(config_http_header_timeout_ms(c), 3000);
	assert_int_equal(config_http_max_auth_failures(c), 50);
	{
		const char *const *v;
		size_t n;

		v = config_http_trusted_proxies(c, &n);
		assert_int_equal(n, 3);
		assert_string_equal(v[0], "10.0.0.0/8");
		assert_string_equal(v[1], "::1");
		v = config_http_allowed_hosts(c, &n);
		assert_int_equal(n, 2);
		assert_string_equal(v[0], "ci.example.com");
		assert_string_equal(v[1], "ci-internal");
	}
	assert_true(config_metrics_public(c));
	assert_false(config_project_badge_public(config_project_find(c, "demo")));
	assert_true(config_project_badge_public(config_project_find(c,
								   "hooked")));
	assert_int_equal(config_http_idle_timeout_ms(c), 120000);
	config_job_ids(c, &first, &count);
	assert_int_equal(first, 2000000000);
	assert_int_equal(count, 10);

	assert_int_equal(config_project_count(c), 3);
	p = config_project(c, 0);
	assert_string_equal(config_project_name(p), "demo");
	snprintf(want, sizeof(want), "%s/pipelines/demo.yml", fx->dir);
	assert_string_equal(config_project_pipeline(p), want);
	assert_null(config_project_repo(p));
	assert_int_equal(config_project_max_jobs(p), 2);
	assert_true(config_project_cancel_superseded(p));
	assert_int_equal(config_project_secret_count(p), 2);
	assert_string_equal(config_project_secret(p, 0), "DEPLOY_TOKEN");
	assert_string_equal(config_project_secret(p, 1), "FROM_ENV");
	assert_null(config_project_secret(p, 2));
	assert_int_equal(config_project_keep_runs(p), 50);
	assert_int_equal(config_project_keep_days(p), 0);

	p = config_project_find(c, "other.proj-2");
	assert_ptr_equal(p, config_project(c, 1));
	snprintf(want, sizeof(want), "%s/pipelines/other.yml", fx->dir);
	assert_string_equal(config_project_pipeline(p), want);
	assert_int_equal(config_project_max_jobs(p), 8); /* the global one */
	assert_false(config_project_cancel_superseded(p));
	assert_int_equal(config_project_secret_count(p), 0);
	assert_int_equal(config_project_keep_runs(p), 500);
	assert_int_equal(config_project_keep_days(p), 90);

	p = config_project_find(c, "hooked");
	assert_null(config_project_pipeline(p));
	assert_string_equal(config_project_repo(p),
			    "https://git.example.com/a/b.git");
	assert_null(config_project_find(c, "nope"));
	assert_null(config_project(c, 3));

	assert_int_equal(config_secret_count(c), 3);
	assert_string_equal(config_secret_name(c, 0), "DEPLOY_TOKEN");
	assert_string_equal(config_secret(c, "DEPLOY_TOKEN", &len), "s3cret");
	assert_int_equal(len, 6);
	assert_string_equal(config_secret(c, "FROM_ENV", &len), "from-env");
	assert_int_equal(len, 8);
	/* One trailing newline goes, "\r\n" counting as one; inner ones stay. */
	assert_string_equal(config_secret(c, "MULTI", NULL), "line1\nline2");
	assert_null(config_secret(c, "NOPE", &len));
	config_destroy(c);
}

static void
test_defaults(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_storage ss;
	uint32_t first, count;
	socklen_t sslen;
	char want[PATH_MAX * 2];
	struct config *c;

	c = load_ok(fx, "# nothing set\n");
	assert_string_equal(config_listen(c), "127.0.0.1:8080");
	assert_string_equal(config_listen_host(c), "127.0.0.1");
	assert_int_equal(config_listen_port(c), 8080);
	config_listen_sockaddr(c, &ss, &sslen);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_string_equal(config_public_url(c), "http://127.0.0.1:8080");
	assert_false(config_public_url_set(c));
	snprintf(want, sizeof(want), "%s/var", fx->dir);
	assert_string_equal(config_data_dir(c), want);
	snprintf(want, sizeof(want), "%s/var/pipewright.pid", fx->dir);
	assert_string_equal(config_pid_file(c), want);
	snprintf(want, sizeof(want), "%s/var/pipewright.db", fx->dir);
	assert_string_equal(config_db_path(c), want);
	assert_int_equal(config_max_jobs(c), 4);
	assert_int_equal(config_supervisor_pool(c), 4);
	/* Private by default: reads need a token, and so does /metrics. */
	assert_false(config_anonymous_read(c));
	assert_false(config_metrics_public(c));
	assert_int_equal(config_drain(c), CONFIG_DRAIN_DETACH);
	assert_int_equal(config_drain_timeout_ms(c), 30000);
	assert_int_equal(config_kill_grace_ms(c), 10000);
	assert_int_equal(config_upgrade_timeout_ms(c), 60000);
	assert_null(config_binary(c));
	assert_int_equal(config_log_format(c), CONFIG_LOG_TEXT);
	assert_int_equal(config_max_log(c), 64 * 1024 * 1024);
	assert_int_equal(config_sandbox(c), CONFIG_SANDBOX_STRICT);
	assert_int_equal(config_http_max_body(c), 1024 * 1024);
	{
		struct config_reuse r;

		config_reuse(c, &r);
		assert_int_equal(r.artifacts_max_size, 1ULL << 30);
		assert_int_equal(r.artifacts_expire_in_ms, 30ULL * 86400000);
		assert_true(r.artifacts_keep_latest);
		assert_int_equal(r.caches_max_size, 10ULL << 30);
		assert_int_equal(r.caches_max_age_ms, 30ULL * 86400000);
	}
	assert_int_equal(config_http_max_connections(c), 256);
	assert_int_equal(config_http_read_timeout_ms(c), 10000);
	assert_int_equal(config_http_idle_timeout_ms(c), 60000);
	assert_int_equal(config_http_max_connections_per_address(c), 64);
	assert_int_equal(config_http_header_timeout_ms(c), 10000);
	assert_int_equal(config_http_max_auth_failures(c), 10);
	{
		size_t n = 9;

		config_http_trusted_proxies(c, &n);
		assert_int_equal(n, 0);
		config_http_allowed_hosts(c, &n);
		assert_int_equal(n, 0);
	}
	config_job_ids(c, &first, &count);
	assert_int_equal(first, 1879048192);
	assert_int_equal(count, 65536);
	assert_int_equal(config_project_count(c), 0);
	assert_int_equal(config_secret_count(c), 0);
	assert_string_equal(config_drain_name(config_drain(c)), "detach");
	assert_string_equal(config_drain_name(CONFIG_DRAIN_WAIT), "wait");
	assert_string_equal(config_log_format_name(CONFIG_LOG_JSON), "json");
	assert_string_equal(config_sandbox_name(CONFIG_SANDBOX_NONE), "none");
	config_destroy(c);

	/* pid_file follows data_dir; port 0 stays 0 in the default URL. */
	c = load_ok(fx, "listen: 0.0.0.0:0\ndata_dir: /srv/pw\n");
	assert_string_equal(config_pid_file(c), "/srv/pw/pipewright.pid");
	assert_string_equal(config_public_url(c), "http://0.0.0.0:0");
	assert_int_equal(config_listen_port(c), 0);
	config_destroy(c);
}

/* Unset, the pool covers max_jobs (a stage that starts max_jobs jobs at
 * once finds a waiting supervisor for each), within 4..64; set, as set. */
static void
test_supervisor_pool_default(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *yaml;
		unsigned want;
	} cases[] = {
		{"max_jobs: 9\n", 9},
		{"max_jobs: 2\n", 4},
		{"max_jobs: 1000\n", 64},
		{"max_jobs: 9\nsupervisor_pool: 2\n", 2},
		{"max_jobs: 9\nsupervisor_pool: 0\n", 0},
	};
	struct config *c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = load_ok(fx, cases[i].yaml);
		assert_int_equal(config_supervisor_pool(c), cases[i].want);
		config_destroy(c);
	}
}

/* A path given relative to the working directory is made absolute. */
static void
test_relative_config_path(void **state)
{
	struct fx *fx = *state;
	struct pipeline_problems pp;
	char cwd[PATH_MAX], want[PATH_MAX * 2];
	struct config *c = NULL;

	write_file(fx->dir, "pipewright.yml",
		   "projects:\n  - {name: d, pipeline: pipelines/demo.yml}\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	pipeline_problems_init(&pp);
	assert_int_equal(config_load("./pipewright.yml", &c, &pp), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(config_dir(c), fx->dir);
	snprintf(want, sizeof(want), "%s/pipelines/demo.yml", fx->dir);
	assert_string_equal(config_project_pipeline(config_project(c, 0)),
			    want);
	config_destroy(c);
	pipeline_problems_free(&pp);
}

static void
test_missing_file(void **state)
{
	struct fx *fx = *state;
	struct pipeline_problems pp;
	struct config *c = NULL;
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/nope.yml", fx->dir);
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(path, &c, &pp), -EINVAL);
	assert_null(c);
	assert_int_equal(pp.count, 1);
	assert_int_equal(pp.items[0].line, 0);
	assert_string_equal(pp.items[0].message,
			    "cannot read the configuration: No such file or"
			    " directory");
	pipeline_problems_free(&pp);
}

static void
test_unknown_key(void **state)
{
	load_bad(*state, "listen: 127.0.0.1:1\nmax_jbos: 3\n", 1, 2, 1,
		 "unknown top-level key 'max_jbos'; did you mean 'max_jobs'?");
	load_bad(*state, "http:\n  max_bdy: 1M\n", 1, 2, 3,
		 "unknown key 'max_bdy' in 'http'; did you mean 'max_body'?");
	load_bad(*state, "projects:\n  - name: d\n    pipeline:"
		 " pipelines/demo.yml\n    keep_run: 3\n", 1, 4, 5,
		 "unknown key 'keep_run' in project 'd'; did you mean"
		 " 'keep_runs'?");
	load_bad(*state, "zzz: 1\n", 1, 1, 1, "unknown top-level key 'zzz'");
	load_bad(*state, "caches:\n  max_sise: 1G\n", 1, 2, 3,
		 "unknown key 'max_sise' in 'caches'; did you mean"
		 " 'max_size'?");
	load_bad(*state, "artifacts: {expire_in: soon}\n", 1, 1, 24,
		 "invalid duration 'soon' for 'expire_in' in 'artifacts';"
		 " expected a number and a unit (h, m, s, ms) such as 30s or"
		 " 1h30m");
}

static void
test_wrong_type(void **state)
{
	load_bad(*state, "max_jobs: many\n", 1, 1, 11,
		 "expected a number from 1 to 1024 for 'max_jobs', got 'many'");
	load_bad(*state, "job_ids: {first: 100}\n", 1, 1, 18,
		 "expected a uid from 65536 to 2147483647 for 'first' in "
		 "'job_ids', got '100'");
	/* Over the jobs' inside users, or past 2^31 - 1. */
	load_bad(*state, "job_ids: {first: 999999990, count: 100}\n", 1, 1, 10,
		 "'job_ids' 999999990..1000000089 must end by 2147483647 and "
		 "leave out 1000000000..1000065535 (the jobs' own users "
		 "inside the sandbox)");
	load_bad(*state, "job_ids: {first: 2147483600, count: 100}\n", 1, 1, 10,
		 "'job_ids' 2147483600..2147483699 must end by 2147483647 and "
		 "leave out 1000000000..1000065535 (the jobs' own users "
		 "inside the sandbox)");
	load_bad(*state, "max_jobs: 0\n", 1, 1, 11,
		 "expected a number from 1 to 1024 for 'max_jobs', got '0'");
	load_bad(*state, "supervisor_pool: 65\n", 1, 1, 18,
		 "expected a number from 0 to 64 for 'supervisor_pool', got "
		 "'65'");
	load_bad(*state, "anonymous_read: \"yes\"\n", 1, 1, 17,
		 "expected a boolean for 'anonymous_read', got the string"
		 " 'yes'");
	load_bad(*state, "http:\n  trusted_proxies: [10.0.0.0/33]\n", 1, 2, 21,
		 "invalid entry '10.0.0.0/33' in 'trusted_proxies' in 'http';"
		 " expected an IP address or a network such as 10.0.0.0/8 or"
		 " 2001:db8::/32");
	load_bad(*state, "http:\n  allowed_hosts: ['ci.example.com:443']\n",
		 1, 2, 19, "invalid host name 'ci.example.com:443' in"
		 " 'allowed_hosts' in 'http'; expected a name such as"
		 " ci.example.com, without a port (IP addresses are always"
		 " allowed)");
	load_bad(*state, "metrics: open\n", 1, 1, 10,
		 "expected one of public, token for 'metrics', got 'open'");
	load_bad(*state, "projects: {name: x}\n", 1, 1, 11,
		 "expected a list of projects for 'projects', got a mapping");
	load_bad(*state, "- a\n", 1, 1, 1,
		 "expected a mapping of settings at the top of the"
		 " configuration file, got a list");
	load_bad(*state, "log_format: jsno\n", 1, 1, 13,
		 "expected one of text, json for 'log_format', got 'jsno';"
		 " did you mean 'json'?");
	load_bad(*state, "sandbox: off\n", 1, 1, 10,
		 "expected one of strict, none or a mapping such as {mode:"
		 " strict, network: deny} for 'sandbox', got 'off'");
	load_bad(*state, "drain: leave\n", 1, 1, 8,
		 "expected one of detach, wait, cancel for 'drain', got"
		 " 'leave'");
	load_bad(*state, "max_log: 64Q\n", 1, 1, 10,
		 "invalid size '64Q' for 'max_log'; expected a number of"
		 " bytes with an optional K, M or G such as 64M");
	load_bad(*state, "http: {max_body: 10}\n", 1, 1, 18,
		 "'max_body' in 'http' is 10; expected from 1K to 1G");
	load_bad(*state, "public_url: ftp://x\n", 1, 1, 13,
		 "invalid URL 'ftp://x' for 'public_url'; expected http:// or"
		 " https:// and a host, such as https://ci.example.com");
	load_bad(*state, "max_jobs: 2\nmax_jobs: 3\n", 1, 2, 1,
		 "duplicate key 'max_jobs' (first at line 1)");
	load_bad(*state, "listen: [\n", 1, 2, 1,
		 "did not find expected node content (while parsing a flow"
		 " node at line 2, column 1)");
}

/* `images`: defaults, registries with their options, and refusals. */
static void
test_images(void **state)
{
	struct fx *fx = *state;
	struct config_images ci;
	struct config *c;

	c = load_ok(fx, "data_dir: /var/lib/pw\n");
	config_images(c, &ci);
	assert_null(ci.dir);
	assert_int_equal(ci.quota, 20ULL << 30);
	assert_int_equal(ci.nregistries, 0);
	config_destroy(c);
	c = load_ok(fx, "images:\n"
		    "  dir: imgs\n"
		    "  quota: 5G\n"
		    "  registries:\n"
		    "    - {host: 'reg.example.com:5000', insecure: true}\n"
		    "    - {host: r.io, authfile: auth.json}\n");
	config_images(c, &ci);
	assert_non_null(strstr(ci.dir, "/imgs"));
	assert_true(ci.dir[0] == '/');
	assert_int_equal(ci.quota, 5ULL << 30);
	assert_int_equal(ci.nregistries, 2);
	assert_string_equal(ci.registries[0].host, "reg.example.com:5000");
	assert_true(ci.registries[0].insecure);
	assert_null(ci.registries[0].authfile);
	assert_string_equal(ci.registries[1].host, "r.io");
	assert_false(ci.registries[1].insecure);
	assert_true(ci.registries[1].authfile[0] == '/');
	config_destroy(c);
	load_bad(fx, "images:\n  registries:\n    - {insecure: true}\n", 1,
		 3, 7, "a registry in 'images' has no 'host'");
	load_bad(fx, "images:\n  registries:\n    - {host: 'a/b'}\n", 1, 3,
		 14, "invalid registry host 'a/b' in 'images'; expected a "
		 "host[:port] such as registry.example.com:5000");
}

static void
test_bad_duration(void **state)
{
	load_bad(*state, "drain_timeout: 30\n", 1, 1, 16,
		 "invalid duration '30' for 'drain_timeout'; expected a"
		 " number and a unit (h, m, s, ms) such as 30s or 1h30m");
	load_bad(*state, "http:\n  read_timeout: soon\n", 1, 2, 17,
		 "invalid duration 'soon' for 'read_timeout' in 'http';"
		 " expected a number and a unit (h, m, s, ms) such as 30s or"
		 " 1h30m");
	load_bad(*state, "drain_timeout: 25h\n", 1, 1, 16,
		 "'drain_timeout' is 25h; expected from 0ms to 24h");
}

static void
test_bad_listen(void **state)
{
	load_bad(*state, "listen: localhost:8080\n", 1, 1, 9,
		 "invalid address 'localhost:8080' for 'listen': the host"
		 " must be an IP address such as 127.0.0.1 or 0.0.0.0;"
		 " expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080");
	load_bad(*state, "listen: 127.0.0.1\n", 1, 1, 9,
		 "invalid address '127.0.0.1' for 'listen': no ':PORT';"
		 " expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080");
	load_bad(*state, "listen: 127.0.0.1:70000\n", 1, 1, 9,
		 "invalid address '127.0.0.1:70000' for 'listen': the port"
		 " must be a number from 0 to 65535; expected HOST:PORT such"
		 " as 127.0.0.1:8080 or [::1]:8080");
	load_bad(*state, "listen: ::1:80\n", 1, 1, 9,
		 "invalid address '::1:80' for 'listen': an IPv6 address goes"
		 " in brackets; expected HOST:PORT such as 127.0.0.1:8080 or"
		 " [::1]:8080");
}

static void
test_duplicate_project(void **state)
{
	load_bad(*state,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/other.yml\n", 1, 4, 11,
		 "duplicate project name 'demo' (first at line 2)");
}

static void
test_invalid_project(void **state)
{
	load_bad(*state,
		 "projects:\n"
		 "  - name: my project\n"
		 "    pipeline: pipelines/demo.yml\n", 1, 2, 11,
		 "invalid project name 'my project'; expected up to 100"
		 " letters, digits, '_', '.' and '-'");
	load_bad(*state,
		 "projects:\n"
		 "  - name: ..\n"
		 "    pipeline: pipelines/demo.yml\n", 1, 2, 11,
		 "invalid project name '..'; expected up to 100"
		 " letters, digits, '_', '.' and '-'");
	load_bad(*state, "projects:\n  - pipeline: pipelines/demo.yml\n", 1,
		 2, 5, "project #1 has no 'name'");
	load_bad(*state, "projects:\n  - name: x\n", 1, 2, 5,
		 "project 'x' needs 'pipeline' (a pipeline file)"
		 " or 'repo'");
	load_bad(*state, "projects:\n  - demo\n", 1, 2, 5,
		 "expected a project (a mapping with 'name' and 'pipeline')"
		 " in 'projects', got 'demo'");
}

static void
test_pipeline_and_repo(void **state)
{
	load_bad(*state,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    repo: https://example.com/x.git\n", 1, 4, 5,
		 "project 'demo' sets both 'pipeline' and 'repo';"
		 " set one");
}

static void
test_pipeline_missing(void **state)
{
	struct fx *fx = *state;
	char msg[PATH_MAX * 2];

	snprintf(msg, sizeof(msg), "cannot read pipeline file"
		 " '%s/pipelines/nope.yml' in project 'demo': No such file"
		 " or directory", fx->dir);
	load_bad(fx,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/nope.yml\n", 1, 3, 15, msg);
	snprintf(msg, sizeof(msg), "cannot read pipeline file"
		 " '%s/pipelines' in project 'demo': not a regular file",
		 fx->dir);
	load_bad(fx,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines\n", 1, 3, 15, msg);
}

static void
test_unknown_secret(void **state)
{
	load_bad(*state,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    secrets: [DEPLOY_TOKN]\n"
		 "secrets:\n"
		 "  DEPLOY_TOKEN: {file: token}\n", 1, 4, 15,
		 "unknown secret 'DEPLOY_TOKN' in project 'demo': it is not"
		 " defined under 'secrets'; did you mean 'DEPLOY_TOKEN'?");
	load_bad(*state,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    secrets: [A, A]\n"
		 "secrets:\n"
		 "  A: {file: token}\n", 1, 4, 18,
		 "secret 'A' is listed twice in project 'demo'");
}

static void
test_secret_file_missing(void **state)
{
	struct fx *fx = *state;
	char msg[PATH_MAX * 2];

	snprintf(msg, sizeof(msg), "cannot read secret 'TOKEN' from"
		 " '%s/missing': No such file or directory", fx->dir);
	/* The project naming the broken secret gets no second problem. */
	load_bad(fx,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    secrets: [TOKEN]\n"
		 "secrets:\n"
		 "  TOKEN: {file: missing}\n", 1, 6, 17, msg);
	snprintf(msg, sizeof(msg), "secret 'TOKEN': file '%s/empty' is empty",
		 fx->dir);
	load_bad(fx, "secrets:\n  TOKEN: {file: empty}\n", 1, 2, 17, msg);
}

static void
test_secret_env_missing(void **state)
{
	load_bad(*state, "secrets:\n  TOKEN: {env: PW_TEST_UNSET}\n", 1, 2, 16,
		 "secret 'TOKEN': environment variable 'PW_TEST_UNSET' is not"
		 " set");
	load_bad(*state, "secrets:\n  TOKEN: {env: PW_TEST_SECRET, file: x}\n",
		 1, 2, 10, "secret 'TOKEN' sets both 'file' and 'env'; set one");
	load_bad(*state, "secrets:\n  TOKEN: {}\n", 1, 2, 10,
		 "secret 'TOKEN' needs 'file' or 'env'");
	load_bad(*state, "secrets:\n  TOKEN: /run/x\n", 1, 2, 10,
		 "expected {file: PATH} or {env: NAME} for secret 'TOKEN', got"
		 " '/run/x'");
	load_bad(*state, "secrets:\n  9X: {env: PW_TEST_SECRET}\n", 1, 2, 3,
		 "invalid secret name '9X'; expected letters, digits and '_',"
		 " not starting with a digit");
	load_bad(*state, "secrets:\n  T: {env: PW_TEST_SECRET, fil: x}\n", 1,
		 2, 28, "unknown key 'fil' in secret 'T'; did you mean 'file'?");
}

/* No problem ever quotes a secret's value. */
static void
test_secret_never_printed(void **state)
{
	struct fx *fx = *state;
	struct pipeline_problems pp;
	struct config *c = NULL;
	size_t i;

	write_file(fx->dir, "pipewright.yml",
		   "max_jobs: x\n"
		   "secrets:\n"
		   "  A: {file: token}\n"
		   "  B: {env: PW_TEST_SECRET}\n"
		   "  C: {env: PW_TEST_SECRET, bogus: 1}\n");
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), -EINVAL);
	assert_int_equal(pp.count, 2);
	assert_string_equal(pp.items[1].message,
			    "unknown key 'bogus' in secret 'C'");
	for (i = 0; i < pp.count; i++) {
		assert_null(strstr(pp.items[i].message, "s3cret"));
		assert_null(strstr(pp.items[i].message, "from-env"));
	}
	pipeline_problems_free(&pp);
}

/* Problems come sorted by position whatever order they were found in. */
static void
test_problems_sorted(void **state)
{
	struct fx *fx = *state;
	struct pipeline_problems pp;
	struct config *c = NULL;

	write_file(fx->dir, "pipewright.yml",
		   "projects:\n"
		   "  - name: a b\n"
		   "    pipeline: pipelines/demo.yml\n"
		   "secrets:\n"
		   "  X: {env: PW_TEST_UNSET}\n"
		   "max_jobs: x\n");
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), -EINVAL);
	assert_int_equal(pp.count, 3);
	assert_int_equal(pp.items[0].line, 2);
	assert_int_equal(pp.items[1].line, 5);
	assert_int_equal(pp.items[2].line, 6);
	pipeline_problems_free(&pp);
}

/* Two configs loaded from one file share nothing (SIGHUP swaps them). */
static void
test_independent(void **state)
{
	struct fx *fx = *state;
	struct config *a, *b;

	a = load_ok(fx, "max_jobs: 2\nsecrets:\n  A: {file: token}\n");
	b = load_ok(fx, "max_jobs: 3\n");
	assert_int_equal(config_max_jobs(a), 2);
	assert_int_equal(config_max_jobs(b), 3);
	config_destroy(b);
	assert_string_equal(config_secret(a, "A", NULL), "s3cret");
	config_destroy(a);
}

/* Every key of a repo project, set. */
static void
test_repo_full(void **state)
{
	struct fx *fx = *state;
	const struct config_project *p;
	struct forge_secrets fs;
	struct config *c;
	size_t len;

	setenv("PW_TEST_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	c = load_ok(fx,
		    "projects:\n"
		    "  - name: app\n"
		    "    repo: https://git.example.com/acme/app.git\n"
		    "    pipeline_path: ./ci//pipewright.yml\n"
		    "    branches: [main, \"release/*\"]\n"
		    "    forge: gitlab\n"
		    "    forge_repo: Acme/Platform/App\n"
		    "    forge_api: https://git.example.com/api/v4/\n"
		    "    status_token: {file: token}\n"
		    "    status_per_job: true\n"
		    "    webhook_secret: {env: PW_TEST_SECRET}\n"
		    "    webhook_signing_secret: {env: PW_TEST_WHSEC}\n"
		    "    webhook_insecure: true\n"
		    "    clone_token: {file: crlf}\n"
		    "    secrets_on_forks: yes\n"
		    "    build_every_push: true\n"
		    "    schedules:\n"
		    "      - {cron: \"0 3 * * *\", ref: main}\n"
		    "      - cron: 30 4 * * mon-fri\n"
		    "        ref: release/2.x\n");
	p = config_project(c, 0);
	assert_null(config_project_pipeline(p));
	assert_string_equal(config_project_repo(p),
			    "https://git.example.com/acme/app.git");
	assert_string_equal(config_project_pipeline_path(p),
			    "ci/pipewright.yml");
	assert_int_equal(config_project_branch_count(p), 2);
	assert_string_equal(config_project_branch(p, 0), "main");
	assert_string_equal(config_project_branch(p, 1), "release/*");
	assert_null(config_project_branch(p, 2));
	assert_true(config_project_runs_on_branch(p, "main"));
	assert_true(config_project_runs_on_branch(p, "release/1.0"));
	/* `*` stays within one segment of the branch name (glob.h). */
	assert_false(config_project_runs_on_branch(p, "release/1.0/hotfix"));
	assert_false(config_project_runs_on_branch(p, "feature/x"));
	assert_false(config_project_runs_on_branch(p, "mainline"));
	assert_true(config_project_runs_on_branch(p, NULL));
	assert_int_equal(config_project_forge(p), FORGE_GITLAB);
	assert_string_equal(config_project_forge_repo(p),
			    "Acme/Platform/App");
	assert_string_equal(config_project_forge_api(p),
			    "https://git.example.com/api/v4");
	assert_string_equal(config_project_status_token(p), "s3cret");
	assert_true(config_project_status_per_job(p));
	assert_string_equal(config_project_webhook_secret(p, &len),
			    "from-env");
	assert_int_equal(len, 8);
	assert_string_equal(config_project_webhook_signing_secret(p),
			    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	assert_true(config_project_webhook_insecure(p));
	assert_string_equal(config_project_clone_token(p), "line1\nline2");
	assert_true(config_project_secrets_on_forks(p));
	assert_true(config_project_build_every_push(p));
	config_project_forge_secrets(p, &fs);
	assert_string_equal(fs.secret, "from-env");
	assert_int_equal(fs.secret_len, 8);
	assert_string_equal(fs.signing_secret,
			    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	assert_true(fs.insecure);
	assert_int_equal(config_project_schedule_count(p), 2);
	assert_string_equal(config_project_schedule_cron(p, 0), "0 3 * * *");
	assert_string_equal(config_project_schedule_ref(p, 0), "main");
	assert_string_equal(config_project_schedule_cron(p, 1),
			    "30 4 * * mon-fri");
	assert_string_equal(config_project_schedule_ref(p, 1), "release/2.x");
	/* Thu 2024-06-06 05:00 UTC → Fri 04:30. */
	assert_int_equal(cron_next(config_project_schedule(p, 1),
				   1717650000000ULL), 1717734600000ULL);
	assert_null(config_project_schedule(p, 2));
	assert_null(config_project_schedule_cron(p, 2));
	assert_null(config_project_schedule_ref(p, 2));

	/* Webhooks find it by forge and name, whatever the case. */
	assert_ptr_equal(config_project_find_repo(c, FORGE_GITLAB,
						  "acme/platform/app"), p);
	assert_null(config_project_find_repo(c, FORGE_GITHUB,
					     "acme/platform/app"));
	assert_null(config_project_find_repo(c, FORGE_GITLAB, "acme/app"));
	assert_null(config_project_find_repo(c, FORGE_GITLAB, NULL));
	config_destroy(c);
	unsetenv("PW_TEST_WHSEC");
}

/* What a repo project gets by default; forge_repo from each URL form. */
static void
test_repo_defaults(void **state)
{
	struct fx *fx = *state;
	const struct config_project *p;
	struct forge_secrets fs;
	char want[PATH_MAX * 2];
	struct config *c;
	size_t len = 99;

	c = load_ok(fx,
		    "projects:\n"
		    "  - {name: a,"
		    " repo: https://git.example.com/acme/app.git}\n"
		    "  - {name: b, repo: \"git@github.com:Acme/App.git\","
		    " forge: github}\n"
		    "  - {name: c,"
		    " repo: \"ssh://git@host:2222/grp/sub/p.git/\","
		    " forge: gitlab}\n"
		    "  - {name: d, repo: host:x/y, forge: forgejo,"
		    " forge_api: \"http://127.0.0.1:3000/api/v1\"}\n"
		    "  - {name: e, repo: ../repos/e.git}\n"
		    "  - {name: f, repo: /srv/git/f}\n"
		    "  - {name: g, repo: \"https://u:p@h.example/x/y\"}\n"
		    "  - {name: i, repo: /srv/i, forge: gitea,"
		    " forge_api: \"http://git.lan/api/v1\","
		    " forge_api_insecure: true}\n"
		    "  - {name: j, repo: /srv/j, forge: gitea,"
		    " forge_api: \"http://[::1]:3000/api/v1\"}\n"
		    "  - {name: k, repo: /srv/k, forge: gitea,"
		    " forge_api: \"http://LocalHost/api/v1\"}\n"
		    "  - {name: h, pipeline: pipelines/demo.yml}\n");
	assert_string_equal(config_project_forge_api(config_project_find(c, "i")),
			    "http://git.lan/api/v1");
	assert_string_equal(config_project_forge_api(config_project_find(c, "j")),
			    "http://[::1]:3000/api/v1");
	assert_string_equal(config_project_forge_api(config_project_find(c, "k")),
			    "http://LocalHost/api/v1");
	p = config_project_find(c, "a");
	assert_string_equal(config_project_pipeline_path(p), ".pipewright.yml");
	assert_int_equal(config_project_forge(p), FORGE_GENERIC);
	assert_string_equal(config_project_forge_repo(p), "acme/app");
	assert_null(config_project_forge_api(p));
	assert_int_equal(config_project_branch_count(p), 0);
	assert_true(config_project_runs_on_branch(p, "anything/at/all"));
	assert_null(config_project_status_token(p));
	assert_null(config_project_webhook_secret(p, &len));
	assert_int_equal(len, 0);
	assert_null(config_project_webhook_signing_secret(p));
	assert_null(config_project_clone_token(p));
	assert_false(config_project_status_per_job(p));
	assert_false(config_project_webhook_insecure(p));
	assert_false(config_project_secrets_on_forks(p));
	assert_false(config_project_build_every_push(p));
	assert_int_equal(config_project_schedule_count(p), 0);
	config_project_forge_secrets(p, &fs);
	assert_null(fs.secret);
	assert_null(fs.signing_secret);
	assert_false(fs.insecure);

	p = config_project_find(c, "b");
	assert_string_equal(config_project_repo(p),
			    "git@github.com:Acme/App.git");
	assert_string_equal(config_project_forge_repo(p), "Acme/App");
	assert_string_equal(config_project_forge_api(p),
			    "https://api.github.com");
	assert_ptr_equal(config_project_find_repo(c, FORGE_GITHUB, "acme/app"),
			 p);
	p = config_project_find(c, "c");
	assert_string_equal(config_project_forge_repo(p), "grp/sub/p");
	assert_string_equal(config_project_forge_api(p),
			    "https://gitlab.com/api/v4");
	p = config_project_find(c, "d");
	assert_int_equal(config_project_forge(p), FORGE_GITEA);
	assert_string_equal(config_project_forge_repo(p), "x/y");
	assert_string_equal(config_project_forge_api(p),
			    "http://127.0.0.1:3000/api/v1");
	/* A local path is relative to the config's directory. */
	p = config_project_find(c, "e");
	snprintf(want, sizeof(want), "%s/../repos/e.git", fx->dir);
	assert_string_equal(config_project_repo(p), want);
	/* fx->dir is /tmp/pw-test-config-XXXXXX: ".." taken as written. */
	assert_string_equal(config_project_forge_repo(p), "tmp/repos/e");
	p = config_project_find(c, "f");
	assert_string_equal(config_project_repo(p), "/srv/git/f");
	assert_string_equal(config_project_forge_repo(p), "srv/git/f");
	p = config_project_find(c, "g");
	assert_string_equal(config_project_forge_repo(p), "x/y");

	/* A pipeline project has none of it. */
	p = config_project_find(c, "h");
	assert_null(config_project_repo(p));
	assert_null(config_project_pipeline_path(p));
	assert_null(config_project_forge_repo(p));
	assert_null(config_project_forge_api(p));
	assert_int_equal(config_project_forge(p), FORGE_GENERIC);
	assert_null(config_project_find_repo(c, FORGE_GENERIC, "x/y/z"));
	config_destroy(c);

	/* The same repository on two forges is two repositories. */
	c = load_ok(fx,
		    "projects:\n"
		    "  - {name: a, repo: \"git@h:acme/app\", forge: github}\n"
		    "  - {name: b, repo: \"git@h:acme/app\", forge: gitea}\n");
	config_destroy(c);
}

static void
test_repo_bad(void **state)
{
	struct fx *fx = *state;

	load_bad(fx, "projects:\n  - {name: a, repo: \"http://h/x/y\"}\n", 1,
		 2, 21, "invalid repo 'http://h/x/y' in project 'a': plain"
		 " http:// would send the clone token in clear; use https://");
	load_bad(fx, "projects:\n  - {name: a, repo: \"git://h/x/y\"}\n", 1,
		 2, 21, "invalid repo 'git://h/x/y' in project 'a': only"
		 " https://, ssh://, user@host:path and local paths are"
		 " supported");
	load_bad(fx, "projects:\n  - {name: a, repo: \"https://h\"}\n", 1, 2,
		 21, "invalid repo 'https://h' in project 'a': no host and"
		 " path after the scheme");
	load_bad(fx, "projects:\n  - {name: a, repo: -uhost:x}\n", 1, 2, 21,
		 "invalid repo '-uhost:x' in project 'a': it may not start"
		 " with '-'");
	load_bad(fx, "projects:\n  - {name: a, repo: \"git@:x/y\"}\n", 1, 2,
		 21, "invalid repo 'git@:x/y' in project 'a': no host before"
		 " ':'");
	load_bad(fx, "projects:\n  - {name: a, repo: \"/srv/my repo\"}\n", 1,
		 2, 21, "invalid repo '/srv/my repo' in project 'a': it holds"
		 " a space or a control character");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, pipeline_path:"
		 " /etc/passwd}\n", 1, 2, 40, "invalid pipeline_path"
		 " '/etc/passwd' in project 'a'; expected a file in the"
		 " repository: a relative path without '..', such as"
		 " .pipewright.yml");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, pipeline_path:"
		 " ci/../../x}\n", 1, 2, 40, "invalid pipeline_path"
		 " 'ci/../../x' in project 'a'; expected a file in the"
		 " repository: a relative path without '..', such as"
		 " .pipewright.yml");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, pipeline_path:"
		 " ci/}\n", 1, 2, 40, "invalid pipeline_path 'ci/' in project"
		 " 'a'; expected a file in the repository: a relative path"
		 " without '..', such as .pipewright.yml");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge: gitlb}\n", 1,
		 2, 32, "expected one of github, gitlab, gitea, forgejo,"
		 " generic for 'forge' in project 'a', got 'gitlb'; did you"
		 " mean 'gitlab'?");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge: github,"
		 " forge_repo: a/b/c}\n", 1, 2, 52, "invalid forge_repo 'a/b/c'"
		 " in project 'a': GitHub names a repository OWNER/REPO");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge_repo:"
		 " \"a//b\"}\n", 1, 2, 37, "invalid forge_repo 'a//b' in"
		 " project 'a': it has an empty, '.' or '..' part");
	load_bad(fx, "projects:\n  - {name: a, repo: \"https://h/a/b/c\","
		 " forge: gitea}\n", 1, 2, 21, "project 'a': the forge's name"
		 " of the repository, taken from repo, would be 'a/b/c', but"
		 " Gitea names a repository OWNER/REPO; set 'forge_repo'");
	load_bad(fx, "projects:\n  - {name: a, repo: \"h:app.git\","
		 " forge: gitlab}\n", 1, 2, 21, "project 'a': the forge's name"
		 " of the repository, taken from repo, would be 'app', but"
		 " GitLab names a project GROUP/PROJECT; set 'forge_repo'");
	load_bad(fx, "projects:\n  - {name: a, repo: \"h:.git\"}\n", 1, 2, 21,
		 "project 'a': the forge's name of the repository, taken from"
		 " repo, would be '', but it is empty; set 'forge_repo'");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge_api:"
		 " \"ftp://h\"}\n", 1, 2, 36, "invalid URL 'ftp://h' for"
		 " 'forge_api' in project 'a'; expected http:// or https:// and"
		 " a host, such as https://git.example.com/api/v1");
}

/* Keys that need several of them, and pipeline projects. */
static void
test_repo_combinations(void **state)
{
	struct fx *fx = *state;

	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    status_token: {file: token}\n", 1, 4, 5,
		 "project 'a' sets 'status_token', but the generic forge takes"
		 " no commit statuses; set 'forge'");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x/y\n"
		 "    forge: gitea\n"
		 "    status_token: {file: token}\n", 1, 5, 5,
		 "project 'a' sets 'status_token' but no 'forge_api': gitea is"
		 " self-hosted, so its API has no default (such as"
		 " https://git.example.com/api/v1)");
	/* The status token would cross the network in clear. */
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x/y\n"
		 "    forge: gitea\n"
		 "    forge_api: http://git.example.com/api/v1\n", 1, 5, 5,
		 "project 'a' sets 'forge_api' to plain http:// on another"
		 " host: the status token would cross the network in clear;"
		 " use https://, or set 'forge_api_insecure: true'");
	load_bad(fx,
		 "projects:\n"
		 "  - {name: a, repo: /x/y, forge: gitea,"
		 " forge_api: \"http://127.0.0.1.example.com/api\"}\n"
		 "  - {name: b, repo: /x/z, forge: gitea,"
		 " forge_api: \"http://localhost@evil.example/api\"}\n"
		 "  - {name: c, repo: /x/w, forge: gitea,"
		 " forge_api: \"http://[::1]x/api\"}\n", 3, 2, 41,
		 "project 'a' sets 'forge_api' to plain http:// on another"
		 " host: the status token would cross the network in clear;"
		 " use https://, or set 'forge_api_insecure: true'");
	load_bad(fx,
		 "projects:\n"
		 "  - {name: a, pipeline: pipelines/demo.yml,"
		 " forge_api_insecure: true}\n", 1, 2, 45, "project 'a' sets 'forge_api_insecure', which only"
		 " a project with a 'repo' may set");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x/y\n"
		 "    forge: github\n"
		 "    webhook_signing_secret: {file: whsec}\n", 1, 5, 5,
		 "project 'a' sets 'webhook_signing_secret', which only GitLab"
		 " sends; its forge is github");
	load_bad(fx,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    forge: github\n"
		 "    webhook_insecure: true\n", 2, 4, 5,
		 "project 'demo' sets 'forge', which only a project with a"
		 " 'repo' may set");
	load_bad(fx,
		 "projects:\n"
		 "  - name: demo\n"
		 "    pipeline: pipelines/demo.yml\n"
		 "    forge: github\n"
		 "    webhook_insecure: true\n", 2, 5, 5,
		 "project 'demo' sets 'webhook_insecure', which only a project"
		 " with a 'repo' may set");
	/* Two projects on one repository: a webhook could not choose. */
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: https://git.example.com/acme/app.git\n"
		 "    forge: github\n"
		 "  - name: b\n"
		 "    repo: git@git.example.com:other/x.git\n"
		 "    forge: github\n"
		 "    forge_repo: ACME/App\n", 1, 8, 17,
		 "projects 'a' and 'b' both take webhooks of ACME/App; give"
		 " one a different forge_repo");
	load_bad(fx,
		 "projects:\n"
		 "  - {name: a, repo: /srv/app.git}\n"
		 "  - {name: b, repo: /srv/app}\n", 1, 3, 21,
		 "projects 'a' and 'b' both take webhooks of srv/app; give one"
		 " a different forge_repo");
}

static void
test_repo_secrets(void **state)
{
	struct fx *fx = *state;
	struct pipeline_problems pp;
	struct config *c = NULL;
	char msg[PATH_MAX * 2];
	size_t i;

	snprintf(msg, sizeof(msg), "cannot read 'clone_token' in project 'a'"
		 " from '%s/missing': No such file or directory", fx->dir);
	load_bad(fx, "projects:\n  - {name: a, repo: /x, clone_token:"
		 " {file: missing}}\n", 1, 2, 45, msg);
	load_bad(fx, "projects:\n  - {name: a, repo: /x, webhook_secret:"
		 " {env: PW_TEST_UNSET}}\n", 1, 2, 47, "'webhook_secret' in"
		 " project 'a': environment variable 'PW_TEST_UNSET' is not"
		 " set");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, webhook_secret:"
		 " {env: X, file: y}}\n", 1, 2, 41, "'webhook_secret' in"
		 " project 'a' sets both 'file' and 'env'; set one");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, webhook_secret:"
		 " {env: PW_TEST_SECRET, fil: y}}\n", 1, 2, 63,
		 "unknown key 'fil' in"
		 " 'webhook_secret' in project 'a'; did you mean 'file'?");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, webhook_secret:"
		 " [x]}\n", 1, 2, 41, "expected {file: PATH} or {env: NAME}"
		 " for 'webhook_secret' in project 'a', got a list");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge: gitlab,"
		 " forge_repo: g/p, webhook_signing_secret: {file: notwhsec}}"
		 "\n", 1, 2, 81, "'webhook_signing_secret' in project 'a' is"
		 " not a GitLab signing secret: expected 'whsec_' and base64");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, forge: gitlab,"
		 " forge_repo: g/p, webhook_signing_secret: {file: badwhsec}}"
		 "\n", 1, 2, 81, "'webhook_signing_secret' in project 'a' is"
		 " not a GitLab signing secret: expected 'whsec_' and base64");

	/* A token written inline is refused, and never quoted. */
	write_file(fx->dir, "pipewright.yml",
		   "projects:\n"
		   "  - name: a\n"
		   "    repo: /x\n"
		   "    forge: github\n"
		   "    forge_repo: o/r\n"
		   "    status_token: ghp_InlineToken123\n"
		   "    webhook_signing_secret: {env: PW_TEST_SECRET}\n");
	pipeline_problems_init(&pp);
	assert_int_equal(config_load(fx->path, &c, &pp), -EINVAL);
	config_print_problems(stderr, &pp);
	assert_int_equal(pp.count, 3);
	assert_int_equal(pp.items[0].line, 6);
	assert_int_equal(pp.items[0].column, 19);
	assert_string_equal(pp.items[0].message,
			    "expected {file: PATH} or {env: NAME} for"
			    " 'status_token' in project 'a', got a value"
			    " written inline (secrets are read from a file or"
			    " the environment, never written in the"
			    " configuration)");
	/* The GitHub check comes first, then the value's own. */
	assert_int_equal(pp.items[1].line, 7);
	assert_int_equal(pp.items[2].line, 7);
	for (i = 0; i < pp.count; i++) {
		assert_null(strstr(pp.items[i].message, "InlineToken"));
		assert_null(strstr(pp.items[i].message, "from-env"));
	}
	pipeline_problems_free(&pp);
}

static void
test_repo_branches(void **state)
{
	struct fx *fx = *state;
	struct config *c;

	c = load_ok(fx, "projects:\n  - {name: a, repo: /x, branches: main}\n");
	assert_int_equal(config_project_branch_count(config_project(c, 0)), 1);
	assert_true(config_project_runs_on_branch(config_project(c, 0),
						  "main"));
	assert_false(config_project_runs_on_branch(config_project(c, 0),
						   "dev"));
	config_destroy(c);
	load_bad(fx, "projects:\n  - {name: a, repo: /x, branches:"
		 " [\"release/[0-9\"]}\n", 1, 2, 36, "invalid branch pattern"
		 " 'release/[0-9' in project 'a': unclosed '['");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, branches: []}\n", 1,
		 2, 35, "empty 'branches' in project 'a'; leave 'branches' out"
		 " to run on every branch");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, branches: [{}]}\n", 1,
		 2, 36, "expected a branch pattern for 'branches' in project"
		 " 'a', got a mapping");
}

/* `default_branch`: "main" unless set; a branch name, not a ref. */
static void
test_default_branch(void **state)
{
	struct fx *fx = *state;
	struct config *c;

	c = load_ok(fx, "projects:\n"
		    "  - {name: a, repo: /x}\n"
		    "  - {name: b, repo: /y, default_branch: release/2.x}\n"
		    "  - {name: c, pipeline: pipelines/demo.yml,"
		    " default_branch: trunk}\n");
	assert_string_equal(config_project_default_branch(config_project(c, 0)),
			    "main");
	assert_false(config_project_default_branch_set(config_project(c, 0)));
	assert_string_equal(config_project_default_branch(config_project(c, 1)),
			    "release/2.x");
	assert_true(config_project_default_branch_set(config_project(c, 1)));
	/* A project without a repository has a default branch too (caches). */
	assert_string_equal(config_project_default_branch(config_project(c, 2)),
			    "trunk");
	config_destroy(c);
	load_bad(fx, "projects:\n  - {name: a, repo: /x, default_branch:"
		 " refs/heads/main}\n", 1, 2, 41, "invalid default_branch"
		 " 'refs/heads/main' in project 'a'; expected a branch name"
		 " such as main (without refs/heads/)");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, default_branch:"
		 " \"-main\"}\n", 1, 2, 41, "invalid default_branch '-main' in"
		 " project 'a'; expected a branch name such as main (without"
		 " refs/heads/)");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, default_branch:"
		 " \"a b\"}\n", 1, 2, 41, "invalid default_branch 'a b' in"
		 " project 'a'; expected a branch name such as main (without"
		 " refs/heads/)");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, default_branch:"
		 " [main]}\n", 1, 2, 41, "expected a branch name such as main"
		 " for 'default_branch' in project 'a', got a list");
	load_bad(fx, "projects:\n  - {name: a, repo: /x, default_brnach:"
		 " main}\n", 1, 2, 25, "unknown key 'default_brnach' in"
		 " project 'a'; did you mean 'default_branch'?");
}

static void
test_notify(void **state)
{
	struct fx *fx = *state;
	const struct config_project *p;
	const struct config_notify *n;
	struct config *c;

	c = load_ok(fx,
		    "projects:\n"
		    "  - name: demo\n"
		    "    pipeline: pipelines/demo.yml\n"
		    "    notify:\n"
		    "      - webhook: https://hooks.example.com/ci\n"
		    "        secret: {file: token}\n"
		    "        on: [failed, fixed, waiting]\n"
		    "        branches: [main, 'release/*']\n"
		    "        max_age: 2h\n"
		    "      - slack: {file: slackurl}\n"
		    "      - email: {to: [a@example.com, b@example.com],"
		    " from: ci@example.com, smtp: 'smtps://mail.example.com',"
		    " user: ci, password: {file: token}}\n"
		    "        on: failed\n"
		    "        ca_file: ca.pem\n"
		    "        insecure: false\n");
	p = config_project(c, 0);
	assert_int_equal(config_project_notify_count(p), 3);
	n = config_project_notify(p, 0);
	assert_int_equal(n->kind, CONFIG_NOTIFY_WEBHOOK);
	assert_string_equal(n->url, "https://hooks.example.com/ci");
	assert_string_equal(n->secret, "s3cret");
	assert_int_equal(n->secret_len, 6);
	assert_int_equal(n->on, CONFIG_NOTIFY_FAILED | CONFIG_NOTIFY_FIXED |
				CONFIG_NOTIFY_WAITING);
	assert_int_equal(n->nbranches, 2);
	assert_string_equal(n->branches[1], "release/*");
	assert_int_equal(n->max_age_ms, 2 * 3600 * 1000);
	n = config_project_notify(p, 1);
	assert_int_equal(n->kind, CONFIG_NOTIFY_SLACK);
	assert_null(n->url);
	assert_string_equal(n->secret, "https://hooks.slack.com/services/T/B/x");
	/* Defaults: failed and fixed, 24 h, every branch. */
	assert_int_equal(n->on, CONFIG_NOTIFY_FAILED | CONFIG_NOTIFY_FIXED);
	assert_int_equal(n->max_age_ms, CONFIG_NOTIFY_MAX_AGE_MS);
	assert_int_equal(n->nbranches, 0);
	n = config_project_notify(p, 2);
	assert_int_equal(n->kind, CONFIG_NOTIFY_EMAIL);
	assert_string_equal(n->url, "smtps://mail.example.com");
	assert_int_equal(n->nto, 2);
	assert_string_equal(n->to[1], "b@example.com");
	assert_string_equal(n->from, "ci@example.com");
	assert_string_equal(n->user, "ci");
	assert_string_equal(n->password, "s3cret");
	assert_true(n->starttls);
	assert_int_equal(n->on, CONFIG_NOTIFY_FAILED);
	assert_non_null(strstr(n->ca_file, "/ca.pem"));
	assert_null(config_project_notify(p, 3));
	assert_string_equal(config_notify_event_name(CONFIG_NOTIFY_WAITING),
			    "waiting");
	config_destroy(c);
}

#define NOTIFY_HEAD "projects:\n  - name: a\n    pipeline: pipelines/demo.yml\n" \
		    "    notify:\n"

static void
test_notify_bad(void **state)
{
	struct fx *fx = *state;

	load_bad(fx, NOTIFY_HEAD "      - webhook: 'htps//x'\n", 1, 5, 18,
		 "malformed URL 'htps//x' for 'webhook' in notify #1 in"
		 " project 'a' (Bad scheme); expected an http:// or https://"
		 " URL");
	load_bad(fx, NOTIFY_HEAD "      - webhook: 'ftp://x.example.com/'\n", 1,
		 5, 18, "malformed URL 'ftp://x.example.com/' for 'webhook' in"
		 " notify #1 in project 'a' (wrong scheme); expected an http://"
		 " or https:// URL");
	load_bad(fx, NOTIFY_HEAD "      - webhook: 'http://'\n", 1, 5, 18,
		 "malformed URL 'http://' for 'webhook' in notify #1 in"
		 " project 'a' (No host part in the URL); expected an http://"
		 " or https:// URL");
	load_bad(fx, NOTIFY_HEAD "      - {webhook: 'https://x.example.com',"
		 " on: [failed, broken]}\n", 1, 5, 57, "unknown event 'broken' in"
		 " 'on' in notify #1 in project 'a'; expected failed, fixed,"
		 " success, canceled or waiting");
	load_bad(fx, NOTIFY_HEAD "      - {webhook: 'https://x.example.com',"
		 " retries: 3}\n", 1, 5, 44, "unknown key 'retries' in notify #1"
		 " in project 'a'");
	load_bad(fx, NOTIFY_HEAD "      - {webhook: 'https://x.example.com',"
		 " branches: ['[main']}\n", 1, 5, 55, "invalid branch pattern"
		 " '[main' in notify #1 in project 'a': unclosed '['");
	load_bad(fx, NOTIFY_HEAD "      - {on: [failed]}\n", 1, 5, 9,
		 "notify #1 in project 'a' needs one of 'webhook', 'slack' or"
		 " 'email'");
	load_bad(fx, NOTIFY_HEAD "      - {webhook: 'https://x.example.com',"
		 " slack: 'https://y.example.com'}\n", 1, 5, 9, "notify #1 in"
		 " project 'a' sets more than one of 'webhook', 'slack' and"
		 " 'email'; write one entry each");
	load_bad(fx, NOTIFY_HEAD "      - {slack: 'https://y.example.com',"
		 " secret: {file: token}}\n", 1, 5, 42, "'secret' in notify #1"
		 " in project 'a' signs webhooks only");
	load_bad(fx, NOTIFY_HEAD "      - {webhook: 'https://x.example.com',"
		 " secret: hunter2}\n", 1, 5, 52, "expected {file: PATH} or"
		 " {env: NAME} for 'secret' in notify #1 in project 'a', got a"
		 " value written inline (secrets are read from a file or the"
		 " environment, never written in the configuration)");
	load_bad(fx, NOTIFY_HEAD "      - email: {smtp: 'smtp://m.example.com'}\n",
		 1, 5, 16, "'email' in notify #1 in project 'a' needs 'to' (the"
		 " recipients)");
	load_bad(fx, NOTIFY_HEAD "      - email: {to: x@example.com, smtp:"
		 " 'https://m.example.com'}\n", 1, 5, 42, "malformed URL"
		 " 'https://m.example.com' for 'smtp' in 'email' in notify #1 in"
		 " project 'a' (wrong scheme); expected an smtp:// or smtps:// URL"
		 " such as smtps://mail.example.com");
	load_bad(fx, NOTIFY_HEAD "      - email: {to: 'x@example.com\\r\\nBcc:"
		 " y@example.com', smtp: 'smtp://m.example.com'}\n", 1, 5, 21,
		 "invalid address 'x@example.com\\r\\nBcc: y@example.com' in 'to'"
		 " in 'email' in notify #1 in project 'a'; expected such as"
		 " oncall@example.com");
	load_bad(fx, NOTIFY_HEAD "      - slack: {file: notaurl}\n", 1, 5, 16,
		 "malformed URL read for 'slack' in notify #1 in project 'a'"
		 " (wrong scheme); expected an http:// or https:// URL");
	load_bad(fx, NOTIFY_HEAD "      - https://x.example.com\n", 1, 5, 9,
		 "expected {webhook: URL}, {slack: URL} or {email: {...}} for"
		 " notify #1 in project 'a', got 'https://x.example.com'");
}

static void
test_repo_schedules(void **state)
{
	struct fx *fx = *state;

	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules:\n"
		 "      - {cron: \"0 25 * * *\", ref: main}\n", 1, 5, 16,
		 "invalid cron '0 25 * * *': hour 25 out of range 0-23 in"
		 " schedule #1 in project 'a'");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules:\n"
		 "      - {cron: \"0 3 * * *\", ref: main}\n"
		 "      - {cron: \"0 0 30 2 *\", ref: main}\n", 1, 6, 16,
		 "invalid cron '0 0 30 2 *': it never fires: February has no"
		 " day 30 in schedule #2 in project 'a'");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules:\n"
		 "      - cron: \"0 3 * * *\"\n", 1, 5, 9,
		 "schedule #1 in project 'a' needs 'ref' (the branch to run,"
		 " such as main)");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules:\n"
		 "      - ref: main\n", 1, 5, 9,
		 "schedule #1 in project 'a' needs 'cron' (when to run, such"
		 " as \"0 3 * * *\")");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules: [{cron: \"0 3 * * *\", ref: \"a..b\"}]\n", 1,
		 4, 42, "invalid ref 'a..b' in schedule #1 in project 'a';"
		 " expected a branch name such as main");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules: [\"0 3 * * *\"]\n", 1, 4, 17,
		 "expected {cron: SPEC, ref: BRANCH} for schedule #1 in"
		 " project 'a', got the string '0 3 * * *'");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules: [{cron: \"0 3 * * *\", ref: main, tz: UTC}]\n",
		 1, 4, 48, "unknown key 'tz' in schedule #1 in project 'a'");
	load_bad(fx,
		 "projects:\n"
		 "  - name: a\n"
		 "    repo: /x\n"
		 "    schedules: {cron: \"0 3 * * *\"}\n", 1, 4, 16,
		 "expected a list of {cron: SPEC, ref: BRANCH} for 'schedules'"
		 " in project 'a', got a mapping");
}

/* `otel`: the endpoint, headers inline and from a file, defaults. */
static void
test_otel(void **state)
{
	struct fx *fx = *state;
	struct config *c;
	const char *name, *value;
	char yaml[PATH_MAX + 256];

	c = load_ok(fx, "listen: 127.0.0.1:1\n");
	assert_null(config_otel_endpoint(c));
	assert_int_equal(config_otel_header_count(c), 0);
	config_destroy(c);
	snprintf(yaml, sizeof(yaml), "otel:\n  endpoint: http://collector:4318/\n"
		 "  headers: {X-Api-Key: {file: %s/token}, X-Team: ci}\n",
		 fx->dir);
	c = load_ok(fx, yaml);
	assert_string_equal(config_otel_endpoint(c), "http://collector:4318");
	assert_string_equal(config_otel_service_name(c), "pipewright");
	assert_true(config_otel_sample(c) == 1.0);
	assert_int_equal(config_otel_header_count(c), 2);
	config_otel_header(c, 0, &name, &value);
	assert_string_equal(name, "X-Api-Key");
	assert_string_equal(value, "s3cret");
	config_otel_header(c, 1, &name, &value);
	assert_string_equal(name, "X-Team");
	assert_string_equal(value, "ci");
	config_destroy(c);
	c = load_ok(fx, "otel: {endpoint: 'https://otel.example.com/x',"
		    " service_name: ci, sample: 0.25}\n");
	assert_string_equal(config_otel_endpoint(c), "https://otel.example.com/x");
	assert_string_equal(config_otel_service_name(c), "ci");
	assert_true(config_otel_sample(c) == 0.25);
	config_destroy(c);
}

static void
test_otel_bad(void **state)
{
	load_bad(*state, "otel:\n  endpoint: collector:4318\n", 1, 2, 13,
		 "invalid URL 'collector:4318' for 'endpoint' in 'otel';"
		 " expected http:// or https:// and a host, such as"
		 " http://collector:4318");
	load_bad(*state, "otel:\n  endpoint: 'http:// x'\n", 1, 2, 13,
		 "invalid URL 'http:// x' for 'endpoint' in 'otel';"
		 " expected http:// or https:// and a host, such as"
		 " http://collector:4318");
	load_bad(*state, "otel: {endpoint: 'http://c', sample: 1.5}\n", 1, 1,
		 38, "invalid 'sample' '1.5' in 'otel'; expected a number"
		 " from 0 to 1, such as 0.25");
	load_bad(*state, "otel: {endpoint: 'http://c', sample: -0.1}\n", 1, 1,
		 38, "invalid 'sample' '-0.1' in 'otel'; expected a number"
		 " from 0 to 1, such as 0.25");
	load_bad(*state, "otel: {sample: 0.5}\n", 1, 1, 1,
		 "'otel' needs 'endpoint', such as http://collector:4318");
	load_bad(*state, "otel: {endpoint: 'http://c', headers: {'a b': x}}\n",
		 1, 1, 40, "invalid header name 'a b' in 'otel'; expected"
		 " letters, digits and -, not one the sender sets"
		 " (Content-Type)");
	load_bad(*state, "otel: {endpoint: 'http://c', headers: {X-K: {file:"
		 " /nonexistent/k}}}\n", 1, 1, 52, "cannot read header 'X-K' in"
		 " 'otel' from '/nonexistent/k': No such file or directory");
	load_bad(*state, "otel: {endpoit: 'http://c'}\n", 2, 1, 8,
		 "unknown key 'endpoit' in 'otel'; did you mean 'endpoint'?");
}

/* The example configuration in the repository loads. */
static void
test_example(void **state)
{
	struct pipeline_problems pp;
	struct config *c = NULL;
	int rc;

	(void)state;
	pipeline_problems_init(&pp);
	rc = config_load(PW_SOURCE_DIR "/configs/pipewright.yml", &c, &pp);
	config_print_problems(stderr, &pp);
	assert_int_equal(rc, 0);
	assert_string_equal(config_listen(c), "127.0.0.1:8080");
	assert_string_equal(config_data_dir(c),
			    PW_SOURCE_DIR "/configs/../var");
	assert_non_null(config_project_find(c, "demo"));
	config_destroy(c);
	pipeline_problems_free(&pp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_supervisor_pool_default),
		cmocka_unit_test(test_relative_config_path),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_duplicate_project),
		cmocka_unit_test(test_invalid_project),
		cmocka_unit_test(test_pipeline_and_repo),
		cmocka_unit_test(test_pipeline_missing),
		cmocka_unit_test(test_unknown_secret),
		cmocka_unit_test(test_secret_file_missing),
		cmocka_unit_test(test_secret_env_missing),
		cmocka_unit_test(test_secret_never_printed),
		cmocka_unit_test(test_problems_sorted),
		cmocka_unit_test(test_independent),
		cmocka_unit_test(test_repo_full),
		cmocka_unit_test(test_repo_defaults),
		cmocka_unit_test(test_repo_bad),
		cmocka_unit_test(test_repo_combinations),
		cmocka_unit_test(test_repo_secrets),
		cmocka_unit_test(test_repo_branches),
		cmocka_unit_test(test_default_branch),
		cmocka_unit_test(test_repo_schedules),
		cmocka_unit_test(test_otel),
		cmocka_unit_test(test_otel_bad),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_bad),
		cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
