/*
 * The keys a pipeline file may use, as data: one table per kind of
 * mapping (top level, job, retry, cache and its key, artifacts, a needs
 * item), each row naming the key, the YAML
 * kinds its value may have, how to say what was expected, and the
 * handler that reads it.  docs/pipeline.md describes the same rows.
 *
 * yamlnode_walk_map() is the only place that looks keys up (as for the
 * configuration): it reports an unknown key with the closest allowed one,
 * refuses a value of the wrong kind before any handler sees it, and hands
 * the rest to the handlers through pipeline_call_row().  Handlers may
 * therefore assume the kind, and only check the content.
 */
#include "pipeline-int.h"

#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP

static const struct pl_key top_rows[] = {
	{{"stages", L, "a list of stage names"}, pipeline_top_stages},
	{{"env", M, "a mapping of variables to values"}, pipeline_top_env},
	{{"jobs", M, "a mapping of job names to jobs"}, pipeline_top_jobs},
	{{"default", M, "a mapping of job keys every job takes unless it sets"
	  " them"}, pipeline_top_default},
};
const struct yamlnode_table pipeline_top_keys = PL_TABLE(top_rows);

static const struct pl_key job_rows[] = {
	{{"stage", S, "a stage name"}, pipeline_key_stage},
	{{"script", S | L, "a string or a list of strings"},
	 pipeline_key_script},
	{{"needs", L, "a list of job names or {job: NAME, artifacts: false}"},
	 pipeline_key_needs},
	{{"env", M, "a mapping of variables to values"}, pipeline_key_env},
	{{"timeout", S, "a duration such as 10m"}, pipeline_key_timeout},
	{{"retry", S | M, "a number or a mapping with 'max' and 'when'"},
	 pipeline_key_retry},
	{{"lost_retries", S, "a number from 0 to 10"},
	 pipeline_key_lost_retries},
	{{"allow_failure", S, "a boolean"}, pipeline_key_allow_failure},
	{{"when", S, "one of on_success, on_failure, always, manual"},
	 pipeline_key_when},
	{{"branches", S | L, "a branch pattern or a list of them"},
	 pipeline_key_branches},
	{{"matrix", M, "a mapping of variables to lists of values"},
	 pipeline_key_matrix},
	{{"working_dir", S, "a relative path"}, pipeline_key_working_dir},
	{{"environment", S, "an environment name"}, pipeline_key_environment},
	{{"network", S, "a boolean"}, pipeline_key_network},
	{{"user", S, "a uid (0 to 65535) or a user name, and an optional "
	 "':' gid or group"}, pipeline_key_user},
	{{"resources", M, "a mapping of limits (memory, pids, cpu_seconds,"
	 " file_size, open_files)"}, pipeline_key_resources},
	{{"secrets", L, "a list of secret names"}, pipeline_key_secrets},
	{{"cache", M | L, "a mapping {key, paths} or a list of them"},
	 pipeline_key_cache},
	{{"artifacts", M, "a mapping with 'paths'"}, pipeline_key_artifacts},
	{{"services", M, "a mapping of service names to services"},
	 pipeline_key_services},
	{{"reports", M, "a mapping such as {junit: [paths]}"},
	 pipeline_key_reports},
	{{"image", S, "an image reference such as registry.example.com/rust:1.80"
	  " or oci:/srv/images/tools:1"}, pipeline_key_image},
};
const struct yamlnode_table pipeline_job_keys = PL_TABLE(job_rows);

static const struct pl_key retry_rows[] = {
	{{"max", S, "a number from 0 to 10"}, pipeline_key_retry_max},
	{{"when", S | L, "a list of failed, timed_out"},
	 pipeline_key_retry_when},
};
const struct yamlnode_table pipeline_retry_keys = PL_TABLE(retry_rows);

static const struct pl_key cache_rows[] = {
	{{"key", S | M, "a string or a mapping {prefix, files}"},
	 pipeline_key_cache_key},
	{{"paths", S | L, "a path or a list of paths"},
	 pipeline_key_cache_paths},
	{{"restore_keys", S | L, "a key prefix or a list of them"},
	 pipeline_key_cache_restore_keys},
	{{"policy", S, "one of pull, push, pull-push"},
	 pipeline_key_cache_policy},
};
const struct yamlnode_table pipeline_cache_keys = PL_TABLE(cache_rows);

static const struct pl_key cache_key_rows[] = {
	{{"prefix", S, "a string"}, pipeline_key_cache_prefix},
	{{"files", S | L, "a file path or a list of them"},
	 pipeline_key_cache_files},
};
const struct yamlnode_table pipeline_cache_key_keys =
	PL_TABLE(cache_key_rows);

static const struct pl_key artifacts_rows[] = {
	{{"paths", S | L, "a path or a list of paths"},
	 pipeline_key_artifacts_paths},
	{{"exclude", S | L, "a path or a list of paths"},
	 pipeline_key_artifacts_exclude},
	{{"when", S, "one of on_success, on_failure, always"},
	 pipeline_key_artifacts_when},
	{{"expire_in", S, "a duration such as 7d"},
	 pipeline_key_artifacts_expire_in},
	{{"name", S, "a name"}, pipeline_key_artifacts_name},
};
const struct yamlnode_table pipeline_artifacts_keys =
	PL_TABLE(artifacts_rows);

static const struct pl_key reports_rows[] = {
	{{"junit", S | L, "a path or a list of paths"},
	 pipeline_key_reports_junit},
};
const struct yamlnode_table pipeline_reports_keys = PL_TABLE(reports_rows);

static const struct pl_key need_rows[] = {
	{{"job", S, "a job name"}, pipeline_key_need_job},
	{{"artifacts", S, "a boolean"}, pipeline_key_need_artifacts},
};
const struct yamlnode_table pipeline_need_keys = PL_TABLE(need_rows);

static const struct pl_key service_rows[] = {
	{{"command", S | L, "a command or a list of arguments"},
	 pipeline_key_svc_command},
	{{"setup", S | L, "a command or a list of commands"},
	 pipeline_key_svc_setup},
	{{"env", M, "a mapping of variables to values"}, pipeline_key_svc_env},
	{{"needs", L, "a list of service names"}, pipeline_key_svc_needs},
	{{"ready", M, "a mapping {tcp: PORT}, {http: URL} or {command: CMD}"},
	 pipeline_key_svc_ready},
	{{"ready_timeout", S, "a duration such as 30s"},
	 pipeline_key_svc_ready_timeout},
};
const struct yamlnode_table pipeline_service_keys = PL_TABLE(service_rows);

/* How the shared walk hands a pair to a pl_key row's handler. */
YAMLNODE_CALL_ROW(pipeline_call_row, struct pl_key, struct pl_walk)
