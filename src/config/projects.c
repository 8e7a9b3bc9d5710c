/*
 * The `projects` list: each item a mapping read with the project key
 * table, then checked as a whole (a name, unique; `pipeline` or `repo`,
 * not both; the keys of a repo project in repo.c and hooks.c).  A
 * project's pipeline file must exist and be readable now, though it is
 * read again for every run; the secrets it names must be defined under
 * the top-level `secrets`, which is read before projects.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-int.h"

#define CF_MAX_NAME 100       /* bytes of a project name */

#define DEFAULT_KEEP_RUNS 500
#define DEFAULT_KEEP_DAYS 90

/* [A-Za-z0-9_.-]+ but not "." or "..": names become directory names. */
static bool
valid_project_name(const char *s)
{
	const char *p;

	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
	    strlen(s) > CF_MAX_NAME)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

const struct ynode *
config_map_key(const struct ynode *map, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 1 < map->count; i += 2)
		if (map->items[i]->len == len &&
		    memcmp(map->items[i]->str, name, len) == 0)
			return map->items[i];
	return NULL;
}

void
config_key_project_name(struct cf_walk *w, const struct cf_key *row,
			const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (!valid_project_name(s)) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid project name '%s'; expected up to %d"
				 " letters, digits, '_', '.' and '-'",
				 CQ(w, s), CF_MAX_NAME);
		return;
	}
	p->name = xstrdup(s);
	p->name_line = val->line;
}

void
config_key_project_pipeline(struct cf_walk *w, const struct cf_key *row,
			    const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s, *why = NULL;
	struct stat st;
	char *path;
	int fd;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	path = config_path_join(w->c->dir, s);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		why = strerror(errno);
	else if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (fd >= 0)
		close(fd);
	if (why != NULL) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "cannot read pipeline file '%s'%s: %s",
				 CQ(w, path), w->y.where, why);
		free(path);
		return;
	}
	p->pipeline = path;
}

void
config_key_project_secrets(struct cf_walk *w, const struct cf_key *row,
			   const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	struct yamlnode_suggest sg;
	const char *s;
	size_t i, j;

	(void)key;
	p->secrets = xcalloc(val->count + 1, sizeof(*p->secrets));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, "a secret name", row->k.name);
		if (s == NULL)
			continue;
		if (yamlnode_listed_twice(&w->y, it, "secret", s, p->secrets,
					  p->nsecrets))
			continue;
		if (config_secret_find(w->c, s) == NULL) {
			yamlnode_suggest_init(&sg, s);
			for (j = 0; j < w->c->nsecrets; j++)
				yamlnode_suggest_add(&sg,
						     w->c->secrets[j].name);
			yamlnode_problem(&w->y, it->line, it->column,
					 "unknown secret '%s'%s: it is not"
					 " defined under 'secrets'%s%s%s",
					 CQ(w, s), w->y.where,
					 sg.best != NULL ? "; did you mean '" :
					 "", sg.best != NULL ? sg.best : "",
					 sg.best != NULL ? "'?" : "");
			continue;
		}
		p->secrets[p->nsecrets++] = xstrdup(s);
	}
}

/* The value of a key of a mapping, or NULL. */
const struct ynode *
config_map_val(const struct ynode *map, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 1 < map->count; i += 2)
		if (map->items[i]->len == len &&
		    memcmp(map->items[i]->str, name, len) == 0)
			return map->items[i + 1];
	return NULL;
}

/* Checks a project after its keys were read. */
static void
project_check(struct cf_walk *w, const struct ynode *item, size_t idx,
	      const char *label)
{
	struct config *c = w->c;
	struct config_project *p = &c->projects[idx];
	const struct ynode *name = config_map_val(item, "name");
	const struct ynode *repo = config_map_key(item, "repo");
	bool has_pipeline = config_map_key(item, "pipeline") != NULL;
	size_t i;

	if (name == NULL)
		yamlnode_problem(&w->y, item->line, item->column,
				 "%s has no 'name'", label);
	for (i = 0; p->name != NULL && i < idx; i++) {
		if (c->projects[i].name == NULL ||
		    strcmp(c->projects[i].name, p->name) != 0)
			continue;
		yamlnode_problem(&w->y, name->line, name->column,
				 "duplicate project name '%s' (first at line"
				 " %d)", p->name, c->projects[i].name_line);
		free(p->name);
		p->name = NULL;
		break;
	}
	if (has_pipeline && repo != NULL)
		yamlnode_problem(&w->y, repo->line, repo->column,
				 "%s sets both 'pipeline' and 'repo'; set one",
				 label);
	else if (!has_pipeline && repo == NULL)
		yamlnode_problem(&w->y, item->line, item->column,
				 "%s needs 'pipeline' (a pipeline file) or"
				 " 'repo'", label);
	config_repo_check(w, item, p, label);
	if (p->max_jobs == 0)
		p->max_jobs = c->max_jobs;
}

void
config_projects_read(struct cf_walk *w, const struct ynode *seq)
{
	struct config *c = w->c;
	char where[YAMLNODE_QUOTE_SIZE + 32];
	const char *saved = w->y.where;
	size_t i;

	c->projects = xcalloc(seq->count + 1, sizeof(*c->projects));
	for (i = 0; i < seq->count; i++) {
		const struct ynode *item = seq->items[i], *name;
		struct config_project *p = &c->projects[c->nprojects];

		if (!yamlnode_visit(&w->y, item))
			break;
		if (item->kind != YN_MAP) {
			yamlnode_problem(&w->y, item->line, item->column,
					 "expected a project (a mapping with"
					 " 'name' and 'pipeline') in"
					 " 'projects', got %s",
					 yamlnode_describe(&w->y, item));
			continue;
		}
		/* Problems inside name the project, wherever 'name' is. */
		name = config_map_val(item, "name");
		if (name != NULL && name->kind == YN_SCALAR)
			snprintf(where, sizeof(where), " in project '%s'",
				 yamlnode_q(&w->y, name->str, name->len));
		else
			snprintf(where, sizeof(where), " in project #%zu",
				 i + 1);
		w->y.where = where;       /* where + 4 is "project 'x'" */
		p->keep_runs = DEFAULT_KEEP_RUNS;
		p->keep_days = DEFAULT_KEEP_DAYS;
		p->forge = FORGE_GENERIC;
		p->sandbox.limits = c->sandbox.limits;
		config_walk_map(w, item, &config_project_keys, p);
		project_check(w, item, c->nprojects, where + 4);
		c->nprojects++;
		w->y.where = saved;
	}
	w->y.where = saved;
	config_repos_unique(w);
}
