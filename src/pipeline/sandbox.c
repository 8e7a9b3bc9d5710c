/*
 * The job keys that shape its sandbox: `network` (a boolean: it asks for
 * outbound network, which the admin's config grants or not), `resources`
 * (a mapping of limits) and `secrets` (names of secrets the job gets as
 * variables, masked in its log).  What they do is the supervisor's business; here they are only
 * read and checked.
 *
 * Sizes are a number of bytes or a number with K, M or G (powers of 1024);
 * counts are plain numbers.  Every limit has a floor below which a job
 * cannot even start a shell, and a ceiling to catch typos.  The server
 * has ceilings of its own (pipeline_check_ceilings()): a pipeline may ask
 * for less than the server allows, never more, and parsing alone cannot
 * know them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

#define GiB (1024ULL * 1024 * 1024)

/* Where each limit goes, how it is written and its bounds. */
static const struct {
	const char *name;
	bool size;                /* K/M/G suffixes allowed */
	uint64_t min, max;
	size_t off;               /* in struct pl_base */
	size_t roff;              /* in struct pipeline_resources */
} limits[] = {
#define R(f) offsetof(struct pipeline_resources, f)
	{"memory", true, 16ULL << 20, 1024 * GiB,
	 offsetof(struct pl_base, res_memory), R(memory)},
	{"pids", false, 8, 1000000, offsetof(struct pl_base, res_pids),
	 R(pids)},
	{"cpu_seconds", false, 1, 7 * 24 * 3600,
	 offsetof(struct pl_base, res_cpu_seconds), R(cpu_seconds)},
	{"file_size", true, 1ULL << 20, 16 * 1024 * GiB,
	 offsetof(struct pl_base, res_file_size), R(file_size)},
	{"open_files", false, 64, 1 << 20,
	 offsetof(struct pl_base, res_open_files), R(open_files)},
#undef R
};

/* For messages: "16M", "1024G" or a plain count. */
static void
fmt_limit(uint64_t v, bool size, char *out, size_t len)
{
	if (size && v % GiB == 0)
		snprintf(out, len, "%lluG", (unsigned long long)(v / GiB));
	else if (size && v % (1024 * 1024) == 0)
		snprintf(out, len, "%lluM", (unsigned long long)(v >> 20));
	else
		snprintf(out, len, "%llu", (unsigned long long)v);
}

/* "512M" → bytes; -EINVAL if not a size. */
static int
parse_size(const char *s, bool suffixes, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (*end != '\0') {
		if (!suffixes || end[1] != '\0')
			return -EINVAL;
		switch (*end) {
		case 'K': mul = 1024; break;
		case 'M': mul = 1024 * 1024; break;
		case 'G': mul = GiB; break;
		default: return -EINVAL;
		}
	}
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static void
resource(struct pl_walk *w, const struct pl_key *row, const struct ynode *key,
	 const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	uint64_t v = 0;
	size_t i;
	int rc;

	(void)key;
	if (s == NULL)
		return;
	for (i = 0; i < PW_ARRAY_LEN(limits); i++)
		if (strcmp(limits[i].name, row->k.name) == 0)
			break;
	if (i == PW_ARRAY_LEN(limits))
		return;
	rc = parse_size(s, limits[i].size, &v);
	if (rc == 0 && (v < limits[i].min || v > limits[i].max))
		rc = -ERANGE;
	if (rc == -EINVAL) {
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
	} else if (rc < 0) {
		char lo[32], hi[32];

		fmt_limit(limits[i].min, limits[i].size, lo, sizeof(lo));
		fmt_limit(limits[i].max, limits[i].size, hi, sizeof(hi));
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s is %s; expected %s to %s", row->k.name,
				 w->y.where, PQ(w, s), lo, hi);
	} else {
		*(uint64_t *)((char *)w->base + limits[i].off) = v;
		w->base->res_at[i][0] = val->line;
		w->base->res_at[i][1] = val->column;
	}
}

static const struct pl_key resource_rows[] = {
	{{"memory", YN_SCALAR, "a size such as 512M or 2G"}, resource},
	{{"pids", YN_SCALAR, "a number of processes"}, resource},
	{{"cpu_seconds", YN_SCALAR, "a number of seconds"}, resource},
	{{"file_size", YN_SCALAR, "a size such as 1G"}, resource},
	{{"open_files", YN_SCALAR, "a number of files"}, resource},
};
static const struct yamlnode_table resource_keys = PL_TABLE(resource_rows);

void
pipeline_key_resources(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	const char *outer = w->y.where;
	char *where;

	(void)key;
	(void)row;
	where = xasprintf(" in 'resources' of job '%s'", PQ(w, w->base->name));
	w->y.where = where;
	yamlnode_walk_map(&w->y, val, &resource_keys);
	w->y.where = outer;
	free(where);
}

void
pipeline_key_network(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	(void)key;
	if (yamlnode_bool(val, &w->base->network) < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
}

void
pipeline_key_secrets(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	size_t i;

	(void)key;
	(void)row;
	b->secrets = xcalloc(val->count + 1, sizeof(char *));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		const char *s;

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, "a variable name", "secrets");
		if (s == NULL)
			continue;
		if (!pw_env_name_valid(s, strlen(s))) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "invalid secret name '%s'%s; a name is"
					 " letters, digits and '_', not starting"
					 " with a digit", PQ(w, s), w->y.where);
			continue;
		}
		if (pw_env_name_reserved(s, strlen(s))) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "secret '%s'%s: "
					 PW_ENV_RESERVED_PREFIX " variables are"
					 " set by pipewright", PQ(w, s),
					 w->y.where);
			continue;
		}
		if (yamlnode_listed_twice(&w->y, it, "secret", s, b->secrets,
					  b->nsecrets))
			continue;
		b->secrets[b->nsecrets++] = xstrdup(s);
	}
}

bool
pipeline_job_network(const struct pipeline *p, size_t job)
{
	return p->bases[p->jobs[job].base].network;
}

void
pipeline_job_resources(const struct pipeline *p, size_t job,
		       struct pipeline_resources *out)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];

	out->memory = b->res_memory;
	out->pids = b->res_pids;
	out->cpu_seconds = b->res_cpu_seconds;
	out->file_size = b->res_file_size;
	out->open_files = b->res_open_files;
	out->timeout_ms = b->has_timeout ? b->timeout_ms : 0;
}

/* One value above its ceiling, at its position in the file. */
static void
above(const struct pipeline *p, struct pipeline_problems *pp, const int at[2],
      const char *what, const char *val, const char *max)
{
	pipeline_problems_add(pp, p->file, at[0], at[1],
			      "%s: %s is above this server's ceiling of %s",
			      what, val, max);
}

size_t
pipeline_check_ceilings(const struct pipeline *p,
			const struct pipeline_resources *max,
			struct pipeline_problems *pp)
{
	char what[48], v[32], m[32];
	size_t i, k, before = pp->count;

	/* Per base: a matrix job's expansions share their values. */
	for (i = 0; i < p->nbases; i++) {
		const struct pl_base *b = &p->bases[i];

		for (k = 0; k < PW_ARRAY_LEN(limits); k++) {
			uint64_t got = *(const uint64_t *)((const char *)b +
							    limits[k].off);
			uint64_t cap = *(const uint64_t *)((const char *)max +
							    limits[k].roff);

			if (cap == 0 || got <= cap)
				continue;
			snprintf(what, sizeof(what), "resources.%s",
				 limits[k].name);
			fmt_limit(got, limits[k].size, v, sizeof(v));
			fmt_limit(cap, limits[k].size, m, sizeof(m));
			above(p, pp, b->res_at[k], what, v, m);
		}
		if (b->has_timeout && max->timeout_ms != 0 &&
		    b->timeout_ms > max->timeout_ms) {
			pw_duration_format(b->timeout_ms, v, sizeof(v));
			pw_duration_format(max->timeout_ms, m, sizeof(m));
			above(p, pp, b->timeout_at, "timeout", v, m);
		}
	}
	pipeline_problems_sort(pp, before);
	return pp->count - before;
}

const char *const *
pipeline_job_secrets(const struct pipeline *p, size_t job)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];
	static const char *const none[] = {NULL};

	return b->secrets != NULL ? (const char *const *)b->secrets : none;
}
