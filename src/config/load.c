/*
 * config_load(): the file → a yamlnode tree → a complete config, or every
 * problem found; config_free() for both outcomes.
 *
 * Defaults are set before the walk, so that keys simply overwrite them;
 * the ones that depend on other keys (public_url on listen, data_dir on
 * the file's place, pid_file on data_dir, a project's max_jobs on the
 * global one) are filled in after it.  A config owns every byte it
 * points to and nothing else, which is what lets the daemon hold two
 * during a reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-int.h"

static const struct yamlnode_rules rules = {
	.what = "configuration",
	.max_problems = CF_MAX_PROBLEMS,
	.max_visits = CF_MAX_VISITS,
	.max_text = 0,          /* bytes not counted: visits bound it */
	.nonempty = true,       /* no key takes an empty string */
};

/* The path made absolute against the working directory, and its dir. */
static int
locate(const char *path, char **abs, char **dir)
{
	char *cwd, *slash;

	if (path[0] == '/') {
		*abs = xstrdup(path);
	} else {
		cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return -errno;
		*abs = config_path_join(cwd, path);
		free(cwd);
	}
	slash = strrchr(*abs, '/');
	*dir = slash == *abs ? xstrdup("/") :
	    xstrndup(*abs, (size_t)(slash - *abs));
	return 0;
}

static void
set_defaults(struct config *c)
{
	const char *why;

	if (config_listen_parse("127.0.0.1:8080", c, &why) < 0)
		abort();
	c->max_jobs = 4;
	c->supervisor_pool = CONFIG_POOL_AUTO;
	c->anonymous_read = false;
	c->drain = CONFIG_DRAIN_DETACH;
	c->drain_timeout_ms = 30 * 1000;
	c->kill_grace_ms = 10 * 1000;
	c->upgrade_timeout_ms = 60 * 1000;
	c->log_format = CONFIG_LOG_TEXT;
	config_limits_builtin(&c->sandbox.limits);
	c->sandbox.mode = CONFIG_SANDBOX_STRICT;
	c->sandbox.network = CONFIG_NETWORK_DENY;
	c->artifacts_max_size = 1024ULL * 1024 * 1024;
	c->artifacts_expire_in_ms = 30ULL * 86400 * 1000;
	c->artifacts_keep_latest = true;
	c->caches_max_size = 10ULL * 1024 * 1024 * 1024;
	c->caches_max_age_ms = 30ULL * 86400 * 1000;
	c->http_max_body = 1024 * 1024;
	c->http_max_connections = 256;
	c->http_read_timeout_ms = 10 * 1000;
	c->http_idle_timeout_ms = 60 * 1000;
	c->http_max_connections_per_address = 64;
	c->http_header_timeout_ms = 10 * 1000;
	c->http_max_auth_failures = 10;
	c->job_ids_first = CONFIG_JOB_IDS_FIRST;
	c->job_ids_count = CONFIG_JOB_IDS_COUNT;
}

static void
finish_defaults(struct config *c)
{
	size_t i;

	if (c->public_url == NULL)
		c->public_url = xasprintf("http://%s", c->listen);
	if (c->data_dir == NULL)
		c->data_dir = config_path_join(c->dir, "var");
	if (c->pid_file == NULL)
		c->pid_file = config_path_join(c->data_dir, "pipewright.pid");
	c->db_path = config_path_join(c->data_dir, "pipewright.db");
	for (i = 0; i < c->nprojects; i++) {
		if (c->projects[i].max_jobs == 0)
			c->projects[i].max_jobs = c->max_jobs;
		config_sandbox_inherit(&c->sandbox, &c->projects[i].sandbox);
	}
}

static void
walk(struct cf_walk *w, const struct ytree *t)
{
	if (t->root == NULL || yamlnode_is_null(t->root))
		return;         /* an empty file: every default */
	if (t->root->kind != YN_MAP) {
		yamlnode_problem(&w->y, t->root->line, t->root->column,
				 "expected a mapping of settings at the top of"
				 " the configuration file, got %s",
				 yamlnode_describe(&w->y, t->root));
		return;
	}
	config_walk_map(w, t->root, &config_top_keys, w->c);
	if (w->secrets != NULL && !w->y.stop)
		config_secrets_read(w, w->secrets);
	if (w->projects != NULL && !w->y.stop)
		config_projects_read(w, w->projects);
}

int
config_load(const char *path, struct config **out,
	    struct pipeline_problems *problems)
{
	struct cf_walk *w = xcalloc(1, sizeof(*w));
	struct config *c = xcalloc(1, sizeof(*c));
	char *data = NULL;
	struct ytree t;
	size_t len = 0;
	int rc;

	*out = NULL;
	yamlnode_walk_init(&w->y, path, problems, &rules);
	w->c = c;
	set_defaults(c);
	rc = locate(path, &c->path, &c->dir);
	if (rc == 0)
		rc = pw_read_file(path, CONFIG_MAX_BYTES, &data, &len);
	if (rc == -EFBIG)
		yamlnode_problem(&w->y, 0, 0, "file is larger than %d bytes",
				 CONFIG_MAX_BYTES);
	else if (rc < 0)
		yamlnode_problem(&w->y, 0, 0,
				 "cannot read the configuration: %s",
				 strerror(-rc));
	else if (yamlnode_load(data, len, "a configuration file",
			       yamlnode_walk_report, &w->y, &t) == 0) {
		walk(w, &t);
		yamlnode_free(&t);
	}
	free(data);
	if (w->y.added > 0 || w->y.too_many ||
	    problems->count > w->y.first) {
		yamlnode_walk_sort(&w->y);
		config_free(c);
		free(w);
		return -EINVAL;
	}
	finish_defaults(c);
	free(w);
	*out = c;
	return 0;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nprojects; i++)
		config_project_free(&c->projects[i]);
	free(c->projects);
	config_images_free(c->images);
	config_sandbox_free(&c->sandbox);
	for (i = 0; i < c->nsecrets; i++)
		config_secret_free(&c->secrets[i]);
	free(c->secrets);
	free(c->path);
	free(c->dir);
	free(c->listen);
	free(c->listen_host);
	free(c->public_url);
	free(c->data_dir);
	free(c->pid_file);
	free(c->binary);
	free(c->db_path);
	config_http_free(c);
	config_otel_free(c);
	free(c);
}

void
config_destroy(struct config *c)
{
	config_free(c);
}
