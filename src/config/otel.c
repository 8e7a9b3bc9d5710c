/*
 * The `otel` mapping: where the daemon's spans go.
 *
 *     otel:
 *       endpoint: http://collector:4318      # spans go to <endpoint>/v1/traces
 *       headers: {X-Api-Key: {file: /etc/pipewright/otel.key}, X-Team: ci}
 *       service_name: pipewright
 *       sample: 1.0
 *       max_age: 24h                         # then a batch is given up
 *
 * Absent: no traces.  Header values written inline are kept as they
 * are; {file: PATH} or {env: NAME} read like secrets (and, like them,
 * never appear in a message).  The endpoint is checked here so that a
 * typo is a problem at load with its position, not a retry loop later.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-int.h"

#define OTEL_MAX_HEADERS 32

static void
otel_endpoint(struct cf_walk *w, const struct cf_key *row,
	      const struct ynode *key, const struct ynode *val)
{
	struct cf_otel *o = w->target;
	const char *s, *rest = NULL;
	size_t len, i;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	for (i = 0; rest != NULL && rest[i] != '\0'; i++)
		if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f ||
		    rest[i] == '?' || rest[i] == '#')
			rest = NULL;
	if (rest == NULL || *rest == '\0' || *rest == '/' || *rest == ':') {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid URL '%s' for 'endpoint' in 'otel';"
				 " expected http:// or https:// and a host,"
				 " such as http://collector:4318", CQ(w, s));
		return;
	}
	len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		len--;
	free(o->endpoint);
	o->endpoint = xstrndup(s, len);
}

static void
otel_service_name(struct cf_walk *w, const struct cf_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	struct cf_otel *o = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	free(o->service_name);
	o->service_name = xstrdup(s);
}

static void
otel_sample(struct cf_walk *w, const struct cf_key *row,
	    const struct ynode *key, const struct ynode *val)
{
	struct cf_otel *o = w->target;
	const char *s;
	char *end;
	double v;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || isnan(v) || v < 0.0 || v > 1.0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid 'sample' '%s' in 'otel'; expected a"
				 " number from 0 to 1, such as 0.25", CQ(w, s));
		return;
	}
	o->sample = v;
}

/* An HTTP header name: a token (RFC 9110), and not one the sender sets. */
static bool
header_name_ok(const char *s, size_t len)
{
	static const char *const ours[] = {"content-type", "content-length",
					   "host", "expect"};
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return false;
	for (i = 0; i < PW_ARRAY_LEN(ours); i++)
		if (strcasecmp(s, ours[i]) == 0)
			return false;
	return true;
}

static void
otel_headers(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *key, const struct ynode *map)
{
	struct cf_otel *o = w->target;
	char label[YAMLNODE_QUOTE_SIZE + 48];
	const char *saved = w->slabel;
	size_t i, n = map->count / 2;

	(void)row;
	(void)key;
	if (n > OTEL_MAX_HEADERS) {
		yamlnode_problem(&w->y, map->line, map->column,
				 "too many 'headers' in 'otel': %zu; at most %d",
				 n, OTEL_MAX_HEADERS);
		return;
	}
	o->headers = xcalloc(n + 1, sizeof(*o->headers));
	for (i = 0; i + 1 < map->count; i += 2) {
		const struct ynode *k = map->items[i], *v = map->items[i + 1];
		struct cf_secret *h;

		if (!yamlnode_visit(&w->y, k) || !yamlnode_visit(&w->y, v))
			return;
		if (!header_name_ok(k->str, k->len)) {
			yamlnode_problem(&w->y, k->line, k->column,
					 "invalid header name '%s' in 'otel';"
					 " expected letters, digits and -, not"
					 " one the sender sets (Content-Type)",
					 yamlnode_q(&w->y, k->str, k->len));
			continue;
		}
		h = &o->headers[o->nheaders++];
		h->name = xstrdup(k->str);
		if (v->kind == YN_SCALAR) {
			/* Not quoted in problems: it may be a token. */
			if (v->len == 0 || memchr(v->str, '\r', v->len) ||
			    memchr(v->str, '\n', v->len) ||
			    strlen(v->str) != v->len) {
				yamlnode_problem(&w->y, v->line, v->column,
						 "invalid value for header '%s'"
						 " in 'otel'; expected text on"
						 " one line, or {file: PATH}",
						 h->name);
				continue;
			}
			h->value = xstrdup(v->str);
			h->len = v->len;
			continue;
		}
		snprintf(label, sizeof(label), "header '%s' in 'otel'",
			 h->name);
		w->slabel = label;
		config_secret_value(w, v, h);
		w->slabel = saved;
		if (h->value != NULL &&
		    (memchr(h->value, '\r', h->len) ||
		     memchr(h->value, '\n', h->len)))
			yamlnode_problem(&w->y, v->line, v->column,
					 "the value of header '%s' in 'otel'"
					 " has a line break", h->name);
	}
}

static const struct cf_key otel_rows[] = {
	{{"endpoint", YN_SCALAR, "a URL such as http://collector:4318"},
	 otel_endpoint, 0, 0, 0},
	{{"headers", YN_MAP, "a mapping of header names to values or"
	 " {file: PATH}"}, otel_headers, 0, 0, 0},
	{{"service_name", YN_SCALAR, "a name such as pipewright"},
	 otel_service_name, 0, 0, 0},
	{{"sample", YN_SCALAR, "a number from 0 to 1"}, otel_sample, 0, 0, 0},
	{{"max_age", YN_SCALAR, "a duration from 1s to 720h"},
	 config_key_duration, offsetof(struct cf_otel, max_age_ms), 1000,
	 720ULL * 3600 * 1000},
};
static const struct yamlnode_table otel_keys = CF_TABLE(otel_rows);

void
config_key_otel(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	struct cf_otel *o;
	const char *saved = w->y.where;

	(void)row;
	config_otel_free(w->c);
	o = w->c->otel = xcalloc(1, sizeof(*o));
	o->sample = 1.0;
	o->max_age_ms = 24ULL * 3600 * 1000;
	w->y.where = " in 'otel'";
	config_walk_map(w, val, &otel_keys, o);
	w->y.where = saved;
	/* A bad endpoint has its own problem already. */
	if (o->endpoint == NULL && !yamlnode_map_has(val, "endpoint"))
		yamlnode_problem(&w->y, key->line, key->column,
				 "'otel' needs 'endpoint', such as"
				 " http://collector:4318");
	if (o->service_name == NULL)
		o->service_name = xstrdup("pipewright");
}

void
config_otel_free(struct config *c)
{
	struct cf_otel *o = c->otel;
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nheaders; i++)
		config_secret_free(&o->headers[i]);
	free(o->headers);
	free(o->endpoint);
	free(o->service_name);
	free(o);
	c->otel = NULL;
}

const char *
config_otel_endpoint(const struct config *c)
{
	return c->otel != NULL ? c->otel->endpoint : NULL;
}

const char *
config_otel_service_name(const struct config *c)
{
	return c->otel != NULL ? c->otel->service_name : "pipewright";
}

double
config_otel_sample(const struct config *c)
{
	return c->otel != NULL ? c->otel->sample : 0.0;
}

uint64_t
config_otel_max_age_ms(const struct config *c)
{
	return c->otel != NULL ? c->otel->max_age_ms : 0;
}

size_t
config_otel_header_count(const struct config *c)
{
	return c->otel != NULL ? c->otel->nheaders : 0;
}

void
config_otel_header(const struct config *c, size_t i, const char **name,
		   const char **value)
{
	*name = c->otel->headers[i].name;
	*value = c->otel->headers[i].value != NULL ?
			 c->otel->headers[i].value : "";
}
