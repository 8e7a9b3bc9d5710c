/*
 * `services`: processes a job's script needs beside it (a database, a
 * neighbour service), each a mapping with `command`, `setup`, `env`,
 * `needs`, `ready` and `ready_timeout`.  Read and checked here, with the
 * start order worked out (`needs` among the job's services, cycles
 * refused); starting, readying and stopping them is the supervisor's.
 *
 * Values are kept as written: `$NAME` in a command, a setup line or an
 * env value is expanded by the supervisor when the service starts, with
 * the job's environment and the service's own (PIPEWRIGHT_SERVICE_DIR
 * among them), so only the syntax of each reference is checked here.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

#define PL_SVC_DEFAULT_READY_MS (60ULL * 1000)
#define PL_SVC_MAX_READY_MS (60ULL * 60 * 1000)
#define PL_SVC_MAX_NAME 32

static const char *const ready_kinds[] = {"tcp", "http", "command"};

static struct pl_service *
cur(struct pl_walk *w)
{
	return &w->base->services[w->base->nservices - 1];
}

/* A service's name: also a file name (its log) and a stream's name. */
static bool
service_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > PL_SVC_MAX_NAME || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	/* "job" names the job's own log among the streams. */
	if (strcmp(s, "job") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

/* Each item a non-empty string whose $NAMEs parse; copied into *out. */
static void
strings(struct pl_walk *w, const struct ynode *val, const char *key,
	char ***out, size_t *n)
{
	const struct ynode *one[1] = {val};
	const struct ynode *const *items = one;
	size_t count = 1, i;

	if (val->kind == YN_SEQ) {
		items = (const struct ynode *const *)val->items;
		count = val->count;
	}
	if (count == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty '%s'%s; expected at least one item",
				 key, w->y.where);
		return;
	}
	if (count > PIPELINE_MAX_PATHS) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "too many items in '%s'%s (%zu); at most %d",
				 key, w->y.where, count, PIPELINE_MAX_PATHS);
		return;
	}
	pw_strv_free(*out);
	*out = xcalloc(count + 1, sizeof(char *));
	*n = 0;
	for (i = 0; i < count; i++) {
		const char *s;

		if (val->kind == YN_SEQ && !yamlnode_visit(&w->y, items[i]))
			return;
		s = yamlnode_string(&w->y, items[i], "a string", key);
		if (s == NULL)
			continue;
		if (*s == '\0') {
			yamlnode_problem(&w->y, items[i]->line,
					 items[i]->column, "empty item in '%s'%s",
					 key, w->y.where);
			continue;
		}
		if (!pipeline_expand_ok(w, items[i], s, key))
			continue;
		(*out)[(*n)++] = xstrdup(s);
	}
}

void
pipeline_key_svc_command(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	struct pl_service *sv = cur(w);
	size_t n = 0;

	(void)key;
	sv->shell = val->kind == YN_SCALAR;
	strings(w, val, row->k.name, &sv->command, &n);
}

void
pipeline_key_svc_setup(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	size_t n = 0;

	(void)key;
	strings(w, val, row->k.name, &cur(w)->setup, &n);
}

void
pipeline_key_svc_env(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	struct pl_service *sv = cur(w);
	size_t n = 0, i;

	(void)row;
	(void)key;
	pw_strv_free(sv->env);
	sv->env = NULL;
	pipeline_env_parse(w, val, &sv->env, &n);
	sv->env = xrealloc(sv->env, (n + 1) * sizeof(char *));
	sv->env[n] = NULL;
	for (i = 0; i + 1 < val->count; i += 2) {
		const struct ynode *vn = val->items[i + 1];

		if (vn->kind == YN_SCALAR && strlen(vn->str) == vn->len)
			(void)pipeline_expand_ok(w, vn, vn->str, "env");
	}
}

void
pipeline_key_svc_needs(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	struct pl_service *sv = cur(w);
	size_t i;

	(void)key;
	free(sv->needs);
	sv->needs = xcalloc(val->count + 1, sizeof(*sv->needs));
	sv->nneeds = 0;
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		const char *s;

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, "a service name", row->k.name);
		if (s == NULL)
			continue;
		sv->needs[sv->nneeds++] = it;
	}
}

void
pipeline_key_svc_ready(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	struct pl_service *sv = cur(w);
	const struct ynode *k, *v;
	const char *s;
	unsigned long port;
	size_t i;

	(void)row;
	(void)key;
	if (val->count != 2) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "'ready'%s needs exactly one of tcp, http or"
				 " command, e.g. ready: {tcp: 5432}",
				 w->y.where);
		return;
	}
	k = val->items[0];
	v = val->items[1];
	for (i = 0; i < PW_ARRAY_LEN(ready_kinds); i++)
		if (strcmp(k->str, ready_kinds[i]) == 0)
			break;
	if (i == PW_ARRAY_LEN(ready_kinds)) {
		struct yamlnode_suggest sg;

		yamlnode_suggest_init(&sg, k->str);
		for (i = 0; i < PW_ARRAY_LEN(ready_kinds); i++)
			yamlnode_suggest_add(&sg, ready_kinds[i]);
		yamlnode_problem(&w->y, k->line, k->column,
				 "unknown check '%s' in 'ready'%s; expected"
				 " tcp, http or command%s", PQ(w, k->str),
				 w->y.where, yamlnode_suggest_hint(&w->y, &sg));
		return;
	}
	if (v->kind != YN_SCALAR) {
		yamlnode_type_error(&w->y, v, i == 0 ? "a port number" :
				    i == 1 ? "a URL" : "a command", k->str);
		return;
	}
	s = yamlnode_string(&w->y, v, "a string", k->str);
	if (s == NULL)
		return;
	free(sv->ready);
	sv->ready = NULL;
	if (i == 0) {
		if (yamlnode_uint(v, 65535, &port) < 0 || port == 0) {
			yamlnode_problem(&w->y, v->line, v->column,
					 "invalid port '%s' for 'tcp'%s;"
					 " expected a number from 1 to 65535"
					 " (the service listens on 127.0.0.1)",
					 PQ(w, s), w->y.where);
			return;
		}
		sv->ready = xasprintf("tcp:%lu", port);
	} else if (i == 1) {
		if (strncmp(s, "http://", 7) != 0 ||
		    pipeline_control_at(s, strlen(s)) >= 0 ||
		    strchr(s, ' ') != NULL) {
			yamlnode_problem(&w->y, v->line, v->column,
					 "invalid URL '%s' for 'http'%s;"
					 " expected http://127.0.0.1:PORT/PATH"
					 " (no https: the service is the job's"
					 " own, on loopback)", PQ(w, s),
					 w->y.where);
			return;
		}
		sv->ready = xasprintf("http:%s", s);
	} else {
		if (*s == '\0') {
			yamlnode_problem(&w->y, v->line, v->column,
					 "empty command for 'ready'%s",
					 w->y.where);
			return;
		}
		sv->ready = xasprintf("command:%s", s);
	}
}

void
pipeline_key_svc_ready_timeout(struct pl_walk *w, const struct pl_key *row,
			       const struct ynode *key,
			       const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	uint64_t ms;

	(void)key;
	if (s == NULL)
		return;
	if (pw_duration_parse(s, &ms) < 0 || ms == 0 ||
	    ms > PL_SVC_MAX_READY_MS) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for 'ready_timeout'%s;"
				 " expected more than 0 and at most 1h, e.g."
				 " 30s", PQ(w, s), w->y.where);
		return;
	}
	cur(w)->ready_timeout_ms = ms;
}

/* The start order: `needs` first, else file order; cycles reported. */
static void
order(struct pl_walk *w, struct pl_base *b, const struct ynode *at)
{
	size_t n = b->nservices, i, k, j, done = 0;
	long *dep;
	bool *placed = xcalloc(n + 1, sizeof(bool)), bad = false;

	b->svc_order = xcalloc(n + 1, sizeof(size_t));
	for (i = 0; i < n; i++) {
		struct pl_service *s = &b->services[i];

		dep = xcalloc(s->nneeds + 1, sizeof(long));
		for (k = 0; k < s->nneeds; k++) {
			const struct ynode *it = s->needs[k];

			dep[k] = -1;
			for (j = 0; j < n; j++)
				if (strcmp(b->services[j].name, it->str) == 0)
					dep[k] = (long)j;
			if (dep[k] < 0 || dep[k] == (long)i) {
				yamlnode_problem(&w->y, it->line, it->column,
						 "%s '%s' in 'needs' of service"
						 " '%s' of job '%s'%s",
						 dep[k] < 0 ? "unknown service"
						 : "service needs itself:",
						 PQ(w, it->str), PQ(w, s->name),
						 PQ(w, b->name), dep[k] < 0 ?
						 "; expected one of the job's"
						 " services" : "");
				bad = true;
			}
		}
		s->dep = dep;
	}
	if (bad)
		goto out;
	/* Kahn's algorithm, taking the first ready one in file order. */
	while (done < n) {
		for (i = 0; i < n; i++) {
			bool ready = !placed[i];

			for (k = 0; ready && k < b->services[i].nneeds; k++)
				ready = placed[b->services[i].dep[k]];
			if (ready)
				break;
		}
		if (i == n) {
			for (i = 0; i < n && placed[i]; i++)
				;
			yamlnode_problem(&w->y, at->line, at->column,
					 "the services of job '%s' need each"
					 " other in a cycle (through '%s');"
					 " 'needs' must give a start order",
					 PQ(w, b->name),
					 PQ(w, b->services[i].name));
			goto out;
		}
		placed[i] = true;
		b->svc_order[done++] = i;
	}
out:
	free(placed);
}

static void
publish(struct pipeline_service *pub, const struct pl_service *s)
{
	static const char *const none[] = {NULL};

	*pub = (struct pipeline_service){
		.name = s->name,
		.command = (const char *const *)s->command,
		.shell = s->shell,
		.setup = s->setup != NULL ? (const char *const *)s->setup
					  : none,
		.env = s->env != NULL ? (const char *const *)s->env : none,
		.ready = s->ready,
		.ready_timeout_ms = s->ready_timeout_ms,
	};
}

void
pipeline_key_services(struct pl_walk *w, const struct pl_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	const char *outer = w->y.where;
	size_t n = val->count / 2, i, k;

	(void)row;
	if (n == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty 'services'%s; leave the key out, or"
				 " name a service", w->y.where);
		return;
	}
	if (n > PIPELINE_MAX_SERVICES) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "too many services%s (%zu); at most %d",
				 w->y.where, n, PIPELINE_MAX_SERVICES);
		return;
	}
	b->services = xcalloc(n, sizeof(*b->services));
	for (i = 0; i < n && !w->y.stop; i++) {
		const struct ynode *kn = val->items[2 * i];
		const struct ynode *vn = val->items[2 * i + 1];
		struct pl_service *s;
		char *where;

		if (!yamlnode_visit(&w->y, kn) || !yamlnode_visit(&w->y, vn))
			break;
		if (!service_name_ok(kn->str)) {
			yamlnode_problem(&w->y, kn->line, kn->column,
					 "invalid service name '%s'%s; expected"
					 " 1 to %d of a-z, 0-9, '_' and '-',"
					 " starting with a letter, not 'job'",
					 PQ(w, kn->str), w->y.where,
					 PL_SVC_MAX_NAME);
			continue;
		}
		if (vn->kind != YN_MAP) {
			yamlnode_type_error(&w->y, vn, "a mapping with"
					    " 'command'", kn->str);
			continue;
		}
		s = &b->services[b->nservices++];
		s->name = xstrdup(kn->str);
		s->ready_timeout_ms = PL_SVC_DEFAULT_READY_MS;
		where = xasprintf(" in service '%s' of job '%s'",
				  PQ(w, s->name), PQ(w, b->name));
		w->y.where = where;
		yamlnode_walk_map(&w->y, vn, &pipeline_service_keys);
		w->y.where = outer;
		free(where);
		if (s->command == NULL && !w->y.stop)
			yamlnode_problem(&w->y, vn->line, vn->column,
					 "service '%s' of job '%s' has no"
					 " 'command'; expected what runs it,"
					 " e.g. command: [redis-server]",
					 PQ(w, s->name), PQ(w, b->name));
	}
	for (i = 0; i < b->nservices; i++)
		for (k = 0; k < i; k++)
			if (strcmp(b->services[i].name,
				   b->services[k].name) == 0)
				yamlnode_problem(&w->y, key->line, key->column,
						 "service '%s' is written twice"
						 "%s", PQ(w, b->services[i].name),
						 w->y.where);
	if (w->y.stop)
		return;
	order(w, b, key);
	b->svc_pub = xcalloc(b->nservices + 1, sizeof(*b->svc_pub));
	for (i = 0; i < b->nservices; i++)
		publish(&b->svc_pub[i], &b->services[b->svc_order[i]]);
}

void
pipeline_services_free(struct pl_base *b)
{
	size_t i;

	for (i = 0; i < b->nservices; i++) {
		struct pl_service *s = &b->services[i];

		free(s->name);
		pw_strv_free(s->command);
		pw_strv_free(s->setup);
		pw_strv_free(s->env);
		free(s->needs);
		free(s->dep);
		free(s->ready);
	}
	free(b->services);
	free(b->svc_order);
	free(b->svc_pub);
}

size_t
pipeline_job_service_count(const struct pipeline *p, size_t job)
{
	return p->bases[p->jobs[job].base].nservices;
}

const struct pipeline_service *
pipeline_job_service(const struct pipeline *p, size_t job, size_t i)
{
	return &p->bases[p->jobs[job].base].svc_pub[i];
}
