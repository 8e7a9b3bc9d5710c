/*
 * Who may reach the API and how: the `http` mapping's lists
 * (trusted_proxies, allowed_hosts), the `metrics` word at top level and a
 * project's `badge` word, and their accessors.
 *
 * trusted_proxies are IP addresses or CIDR networks, checked here with the
 * http module's own parser so that what loads is what the server accepts.
 * allowed_hosts are DNS names (the Host header check against DNS
 * rebinding, done by the API); they are kept lower-case without a
 * trailing dot, the form the check compares.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"
#include "pipewright/http.h"

/* Frees a NULL-terminated list. */
void
config_http_free(struct config *c)
{
	pw_strv_free(c->http_trusted_proxies);
	pw_strv_free(c->http_allowed_hosts);
}

void
config_key_http_trusted_proxies(struct cf_walk *w, const struct cf_key *row,
				const struct ynode *key,
				const struct ynode *val)
{
	struct config *c = w->c;
	struct http_net net;
	const char *s;
	size_t i;

	(void)key;
	pw_strv_free(c->http_trusted_proxies);
	c->http_trusted_proxies = xcalloc(val->count + 1, sizeof(char *));
	c->http_ntrusted_proxies = 0;
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, "an address or network such as"
				    " 10.0.0.0/8", row->k.name);
		if (s == NULL)
			continue;
		if (http_net_parse(s, &net) < 0) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "invalid entry '%s' in"
					 " 'trusted_proxies'%s; expected an IP"
					 " address or a network"
					 " such as 10.0.0.0/8 or 2001:db8::/32",
					 CQ(w, s), w->y.where);
			continue;
		}
		c->http_trusted_proxies[c->http_ntrusted_proxies++] =
			xstrdup(s);
	}
}

/* Whether s is a DNS name: letters, digits, '-' and '.', no empty label. */
static bool
host_name_ok(const char *s)
{
	size_t i, label = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return i > 0 && i <= 253;
}

void
config_key_http_allowed_hosts(struct cf_walk *w, const struct cf_key *row,
			      const struct ynode *key, const struct ynode *val)
{
	struct config *c = w->c;
	const char *s;
	char *h;
	size_t i, j, len;

	(void)key;
	pw_strv_free(c->http_allowed_hosts);
	c->http_allowed_hosts = xcalloc(val->count + 1, sizeof(char *));
	c->http_nallowed_hosts = 0;
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it,
				    "a host name such as ci.example.com",
				    row->k.name);
		if (s == NULL)
			continue;
		len = strlen(s);
		if (len > 1 && s[len - 1] == '.')
			len--;
		h = xstrndup(s, len);
		for (j = 0; h[j] != '\0'; j++)
			h[j] = (char)tolower((unsigned char)h[j]);
		if (!host_name_ok(h)) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "invalid host name '%s' in"
					 " 'allowed_hosts'%s; expected a name"
					 " such as ci.example.com, without a"
					 " port (IP addresses are always"
					 " allowed)", CQ(w, s), w->y.where);
			free(h);
			continue;
		}
		c->http_allowed_hosts[c->http_nallowed_hosts++] = h;
	}
}

/* 0 for "public", 1 for "token", -1 (reported) otherwise. */
static int
public_or_token(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	if (s == NULL)
		return -1;
	if (strcmp(s, "public") == 0)
		return 0;
	if (strcmp(s, "token") == 0)
		return 1;
	yamlnode_problem(&w->y, val->line, val->column,
			 "expected one of public, token for '%s'%s, got '%s'",
			 row->k.name, w->y.where, CQ(w, s));
	return -1;
}

void
config_key_metrics(struct cf_walk *w, const struct cf_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	int v = public_or_token(w, row, val);

	(void)key;
	if (v >= 0)
		w->c->metrics_public = v == 0;
}

void
config_key_project_badge(struct cf_walk *w, const struct cf_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	int v = public_or_token(w, row, val);

	(void)key;
	if (v >= 0)
		p->badge_token = v == 1;
}

size_t
config_http_max_connections_per_address(const struct config *c)
{
	return c->http_max_connections_per_address;
}

uint64_t
config_http_header_timeout_ms(const struct config *c)
{
	return c->http_header_timeout_ms;
}

unsigned
config_http_max_auth_failures(const struct config *c)
{
	return (unsigned)c->http_max_auth_failures;
}

const char *const *
config_http_trusted_proxies(const struct config *c, size_t *n)
{
	*n = c->http_ntrusted_proxies;
	return (const char *const *)c->http_trusted_proxies;
}

const char *const *
config_http_allowed_hosts(const struct config *c, size_t *n)
{
	*n = c->http_nallowed_hosts;
	return (const char *const *)c->http_allowed_hosts;
}

bool
config_metrics_public(const struct config *c)
{
	return c->metrics_public;
}

bool
config_project_badge_public(const struct config_project *p)
{
	return !p->badge_token;
}
