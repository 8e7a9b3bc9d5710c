/*
 * The keys a configuration file may use, as data: one table per kind of
 * mapping (top level, http, project, secret, schedule).  Each row names
 * the key, the YAML kinds its value may have, how to say what was
 * expected, the handler, and for the generic handlers of values.c the
 * field they fill and its bounds.  docs/operations.md describes the same rows.
 *
 * config_walk_map() hands a mapping and a table to yamlnode's walk, the
 * only place that looks keys up (as for pipeline files): it reports an
 * unknown key with the closest allowed one, refuses a value of the wrong
 * kind before any handler sees it, and hands the rest to the handlers,
 * with w->target set to what the generic ones fill.
 */
#include <stddef.h>

#include "config-int.h"

#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP
#define C(field) offsetof(struct config, field)
#define P(field) offsetof(struct config_project, field)
#define SEC 1000ULL
#define MIB (1024ULL * 1024)

static void
keep_projects(struct cf_walk *w, const struct cf_key *row,
	      const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	w->projects = val;
}

static void
keep_secrets(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	w->secrets = val;
}

static const struct cf_key top_rows[] = {
	{{"listen", S, "an address such as 127.0.0.1:8080"}, config_key_listen,
	 0, 0, 0},
	{{"public_url", S, "a URL such as https://ci.example.com"},
	 config_key_public_url, 0, 0, 0},
	{{"data_dir", S, "a directory"}, config_key_path, C(data_dir), 0, 0},
	{{"pid_file", S, "a file name"}, config_key_path, C(pid_file), 0, 0},
	{{"max_jobs", S, "a number from 1 to 1024"}, config_key_uint,
	 C(max_jobs), 1, 1024},
	{{"supervisor_pool", S, "a number from 0 to 64"}, config_key_uint,
	 C(supervisor_pool), 0, CONFIG_POOL_MAX},
	{{"anonymous_read", S, "a boolean"}, config_key_bool,
	 C(anonymous_read), 0, 0},
	{{"drain", S, "one of detach, wait, cancel"}, config_key_drain,
	 0, 0, 0},
	{{"drain_timeout", S, "a duration such as 30s"}, config_key_duration,
	 C(drain_timeout_ms), 0, 24 * 3600 * SEC},
	{{"kill_grace", S, "a duration such as 10s"}, config_key_duration,
	 C(kill_grace_ms), 0, 3600 * SEC},
	{{"binary", S, "a program's path"}, config_key_path, C(binary), 0, 0},
	{{"upgrade_timeout", S, "a duration such as 60s"}, config_key_duration,
	 C(upgrade_timeout_ms), SEC, 3600 * SEC},
	{{"log_format", S, "one of text, json"}, config_key_log_format,
	 0, 0, 0},
	{{"max_log", S, "a size such as 64M"}, config_key_size,
	 C(sandbox.limits.max_log), 4096, 1024 * 1024 * MIB},
	{{"sandbox", S | M, "one of strict, none, or a mapping such as"
	 " {mode: strict, network: deny}"}, config_key_sandbox, 0, 0, 0},
	{{"metrics", S, "one of public, token"}, config_key_metrics, 0, 0, 0},
	{{"http", M, "a mapping of HTTP limits"}, config_key_http, 0, 0, 0},
	{{"job_ids", M, "a mapping {first: UID, count: N}"}, config_key_job_ids,
	 0, 0, 0},
	{{"artifacts", M, "a mapping such as {max_size: 1G, expire_in: 30d}"},
	 config_key_artifacts, 0, 0, 0},
	{{"caches", M, "a mapping such as {max_size: 10G, max_age: 30d}"},
	 config_key_caches, 0, 0, 0},
	{{"projects", L, "a list of projects"}, keep_projects, 0, 0, 0},
	{{"secrets", M, "a mapping of secret names to {file: PATH} or"
	 " {env: NAME}"}, keep_secrets, 0, 0, 0},
	{{"images", M, "a mapping such as {quota: 20G, registries: [...]}"},
	 config_key_images, 0, 0, 0},
	{{"otel", M, "a mapping such as {endpoint: http://collector:4318}"},
	 config_key_otel, 0, 0, 0},
};
const struct yamlnode_table config_top_keys = CF_TABLE(top_rows);

static const struct cf_key http_rows[] = {
	{{"max_body", S, "a size such as 1M"}, config_key_size,
	 C(http_max_body), 1024, 1024 * MIB},
	{{"max_connections", S, "a number from 1 to 100000"}, config_key_uint,
	 C(http_max_connections), 1, 100000},
	{{"read_timeout", S, "a duration such as 10s"}, config_key_duration,
	 C(http_read_timeout_ms), 1, 3600 * SEC},
	{{"idle_timeout", S, "a duration such as 60s"}, config_key_duration,
	 C(http_idle_timeout_ms), 1, 3600 * SEC},
	{{"max_connections_per_address", S, "a number from 1 to 100000"},
	 config_key_uint, C(http_max_connections_per_address), 1, 100000},
	{{"header_timeout", S, "a duration such as 10s"}, config_key_duration,
	 C(http_header_timeout_ms), 1, 3600 * SEC},
	{{"max_auth_failures", S, "a number from 1 to 100000"}, config_key_uint,
	 C(http_max_auth_failures), 1, 100000},
	{{"trusted_proxies", L, "a list of addresses or networks"},
	 config_key_http_trusted_proxies, 0, 0, 0},
	{{"allowed_hosts", L, "a list of host names"},
	 config_key_http_allowed_hosts, 0, 0, 0},
};
const struct yamlnode_table config_http_keys = CF_TABLE(http_rows);

/* Retention of artifacts and caches (docs/operations.md). */
static const struct cf_key artifacts_rows[] = {
	{{"max_size", S, "a size such as 1G"}, config_key_size,
	 C(artifacts_max_size), 1024, 1024 * 1024 * MIB},
	{{"expire_in", S, "a duration such as 30d"}, config_key_duration,
	 C(artifacts_expire_in_ms), SEC, 3660 * 86400 * SEC},
	{{"keep_latest", S, "a boolean"}, config_key_bool,
	 C(artifacts_keep_latest), 0, 0},
};
const struct yamlnode_table config_artifacts_keys = CF_TABLE(artifacts_rows);

static const struct cf_key caches_rows[] = {
	{{"max_size", S, "a size such as 10G"}, config_key_size,
	 C(caches_max_size), 1024, 1024 * 1024 * 1024 * MIB},
	{{"max_age", S, "a duration such as 30d"}, config_key_duration,
	 C(caches_max_age_ms), SEC, 3660 * 86400 * SEC},
};
const struct yamlnode_table config_caches_keys = CF_TABLE(caches_rows);

/* Host uids for sandboxed jobs; docs/operations.md says why this range. */
static const struct cf_key job_ids_rows[] = {
	{{"first", S, "a uid from 65536 to 2147483647"}, config_key_uint,
	 C(job_ids_first), 65536, 2147483647},
	{{"count", S, "a number from 1 to 1048576"}, config_key_uint,
	 C(job_ids_count), 1, 1048576},
};
const struct yamlnode_table config_job_ids_keys = CF_TABLE(job_ids_rows);

static const struct cf_key project_rows[] = {
	{{"name", S, "a project name"}, config_key_project_name, 0, 0, 0},
	{{"pipeline", S, "a pipeline file"}, config_key_project_pipeline,
	 0, 0, 0},
	{{"repo", S, "a repository URL"}, config_key_project_repo, 0, 0, 0},
	{{"max_jobs", S, "a number from 1 to 1024"}, config_key_uint,
	 P(max_jobs), 1, 1024},
	{{"cancel_superseded", S, "a boolean"}, config_key_bool,
	 P(cancel_superseded), 0, 0},
	{{"secrets", L, "a list of secret names"}, config_key_project_secrets,
	 0, 0, 0},
	{{"keep_runs", S, "a number from 1 to 1000000"}, config_key_uint,
	 P(keep_runs), 1, 1000000},
	{{"keep_days", S, "a number from 0 to 36500"}, config_key_uint,
	 P(keep_days), 0, 36500},
	/* Projects with a repo (repo.c, hooks.c). */
	{{"pipeline_path", S, "a file in the repository"},
	 config_key_project_pipeline_path, 0, 0, 0},
	{{"branches", S | L, "a branch pattern or a list of them"},
	 config_key_project_branches, 0, 0, 0},
	{{"default_branch", S, "a branch name such as main"},
	 config_key_project_default_branch, 0, 0, 0},
	{{"forge", S, "one of github, gitlab, gitea, forgejo, generic"},
	 config_key_project_forge, 0, 0, 0},
	{{"forge_repo", S, "the forge's name of the repository, such as"
	 " acme/app"}, config_key_project_forge_repo, 0, 0, 0},
	{{"forge_api", S, "a URL such as https://git.example.com/api/v1"},
	 config_key_project_forge_api, 0, 0, 0},
	/* Secret-valued: any kind, so that the handler, not the generic
	 * type error, answers an inline value (it must not be quoted). */
	{{"status_token", S | L | M, "{file: PATH} or {env: NAME}"},
	 config_key_project_secret, P(status_token), 0, 0},
	{{"webhook_secret", S | L | M, "{file: PATH} or {env: NAME}"},
	 config_key_project_secret, P(webhook_secret), 0, 0},
	{{"webhook_signing_secret", S | L | M, "{file: PATH} or {env: NAME}"},
	 config_key_project_secret, P(webhook_signing_secret), 0, 0},
	{{"clone_token", S | L | M, "{file: PATH} or {env: NAME}"},
	 config_key_project_secret, P(clone_token), 0, 0},
	{{"status_per_job", S, "a boolean"}, config_key_bool,
	 P(status_per_job), 0, 0},
	{{"webhook_insecure", S, "a boolean"}, config_key_bool,
	 P(webhook_insecure), 0, 0},
	{{"forge_api_insecure", S, "a boolean"}, config_key_bool,
	 P(forge_api_insecure), 0, 0},
	{{"secrets_on_forks", S, "a boolean"}, config_key_bool,
	 P(secrets_on_forks), 0, 0},
	{{"sandbox", S | M, "one of strict, none, or a mapping such as"
	 " {network: allow}"}, config_key_project_sandbox, 0, 0, 0},
	{{"build_every_push", S, "a boolean"}, config_key_bool,
	 P(build_every_push), 0, 0},
	{{"badge", S, "one of public, token"}, config_key_project_badge,
	 0, 0, 0},
	{{"schedules", L, "a list of {cron: SPEC, ref: BRANCH}"},
	 config_key_project_schedules, 0, 0, 0},
	{{"notify", L, "a list of {webhook: URL}, {slack: URL} or"
	 " {email: {...}} entries"}, config_key_project_notify, 0, 0, 0},
};
const struct yamlnode_table config_project_keys = CF_TABLE(project_rows);

static const struct cf_key schedule_rows[] = {
	{{"cron", S, "a cron spec such as \"0 3 * * *\""},
	 config_key_schedule_cron, 0, 0, 0},
	{{"ref", S, "a branch name such as main"}, config_key_schedule_ref,
	 0, 0, 0},
};
const struct yamlnode_table config_schedule_keys = CF_TABLE(schedule_rows);

static const struct cf_key secret_rows[] = {
	{{"file", S, "a file name"}, config_key_secret_file, 0, 0, 0},
	{{"env", S, "an environment variable name"}, config_key_secret_env,
	 0, 0, 0},
};
const struct yamlnode_table config_secret_keys = CF_TABLE(secret_rows);

/* How the shared walk hands a pair to a cf_key row's handler. */
YAMLNODE_CALL_ROW(config_call_row, struct cf_key, struct cf_walk)

void
config_walk_map(struct cf_walk *w, const struct ynode *map,
		const struct yamlnode_table *tab, void *target)
{
	void *saved = w->target;

	w->target = target;
	yamlnode_walk_map(&w->y, map, tab);
	w->target = saved;
}
