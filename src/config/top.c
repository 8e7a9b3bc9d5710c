/*
 * Top-level keys with rules of their own: the listen address, the public
 * URL, the words of drain and log_format, and the http and job_ids
 * mappings.
 *
 * The listen address is HOST:PORT with HOST an IP address (IPv6 in
 * brackets): the daemon binds it without a name lookup, so a name that
 * resolves differently tomorrow cannot move it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"

int
config_listen_parse(const char *s, struct config *c, const char **why)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&c->listen_ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->listen_ss;
	const char *colon, *host = s, *p;
	size_t hlen;
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned long port = 0;
	bool v6 = false;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL) {
			*why = "no ']' after the IPv6 address";
			return -EINVAL;
		}
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
		if (*colon != ':') {
			*why = "no ':PORT' after the address";
			return -EINVAL;
		}
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*why = "no ':PORT'";
			return -EINVAL;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL) {
			*why = "an IPv6 address goes in brackets";
			return -EINVAL;
		}
	}
	if (hlen == 0 || hlen >= sizeof(buf)) {
		*why = "the host must be an IP address";
		return -EINVAL;
	}
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p != '\0' || port > 65535) {
		*why = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	memset(&c->listen_ss, 0, sizeof(c->listen_ss));
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
		c->listen_sslen = sizeof(*in6);
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, buf, &in4->sin_addr) != 1) {
			*why = "the host must be an IP address such as"
			    " 127.0.0.1 or 0.0.0.0";
			return -EINVAL;
		}
		c->listen_sslen = sizeof(*in4);
	}
	free(c->listen);
	free(c->listen_host);
	c->listen = xstrdup(s);
	c->listen_host = xstrdup(buf);
	c->listen_port = (int)port;
	return 0;
}

void
config_key_listen(struct cf_walk *w, const struct cf_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *s, *why = "";

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (config_listen_parse(s, w->c, &why) < 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid address '%s' for 'listen': %s;"
				 " expected HOST:PORT such as 127.0.0.1:8080"
				 " or [::1]:8080", CQ(w, s), why);
}

void
config_key_public_url(struct cf_walk *w, const struct cf_key *row,
		      const struct ynode *key, const struct ynode *val)
{
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
		if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f)
			rest = NULL;
	if (rest == NULL || *rest == '\0' || *rest == '/') {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid URL '%s' for 'public_url'; expected"
				 " http:// or https:// and a host, such as"
				 " https://ci.example.com", CQ(w, s));
		return;
	}
	len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		len--;
	free(w->c->public_url);
	w->c->public_url = xstrndup(s, len);
	w->c->public_url_set = true;
}

/* The index of the word val names in words[], or -1 (reported). */
int
config_pick(struct cf_walk *w, const struct cf_key *row,
	    const struct ynode *val, const char *const *words, size_t n)
{
	struct yamlnode_suggest sg;
	size_t i;

	if (val->kind == YN_SCALAR && !yamlnode_is_null(val)) {
		for (i = 0; i < n; i++)
			if (strcmp(val->str, words[i]) == 0)
				return (int)i;
		yamlnode_suggest_init(&sg, val->str);
		for (i = 0; i < n; i++)
			yamlnode_suggest_add(&sg, words[i]);
		if (sg.best != NULL) {
			yamlnode_problem(&w->y, val->line, val->column,
					 "expected %s for '%s'%s, got %s; did"
					 " you mean '%s'?", row->k.expected,
					 row->k.name, w->y.where,
					 yamlnode_describe(&w->y, val),
					 sg.best);
			return -1;
		}
	}
	yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
	return -1;
}

void
config_key_drain(struct cf_walk *w, const struct cf_key *row,
		 const struct ynode *key, const struct ynode *val)
{
	/* In enum config_drain's order. */
	static const char *const words[] = {"detach", "wait", "cancel"};
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i >= 0)
		w->c->drain = (enum config_drain)i;
}

void
config_key_log_format(struct cf_walk *w, const struct cf_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	static const char *const words[] = {"text", "json"};
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i >= 0)
		w->c->log_format = i == 0 ? CONFIG_LOG_TEXT : CONFIG_LOG_JSON;
}

void
config_key_http(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;

	(void)row;
	(void)key;
	w->y.where = " in 'http'";
	config_walk_map(w, val, &config_http_keys, w->c);
	w->y.where = saved;
}

void
config_key_artifacts(struct cf_walk *w, const struct cf_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;

	(void)row;
	(void)key;
	w->y.where = " in 'artifacts'";
	config_walk_map(w, val, &config_artifacts_keys, w->c);
	w->y.where = saved;
}

void
config_key_caches(struct cf_walk *w, const struct cf_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;

	(void)row;
	(void)key;
	w->y.where = " in 'caches'";
	config_walk_map(w, val, &config_caches_keys, w->c);
	w->y.where = saved;
}

void
config_key_job_ids(struct cf_walk *w, const struct cf_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;
	unsigned long long first, last;

	(void)row;
	(void)key;
	w->y.where = " in 'job_ids'";
	config_walk_map(w, val, &config_job_ids_keys, w->c);
	w->y.where = saved;
	first = w->c->job_ids_first;
	last = first + w->c->job_ids_count - 1;
	/* Inside uids 1..65535 of every job map to the ones after this. */
	if (last > 2147483647ULL ||
	    (first <= CONFIG_JOB_SUBID_BASE + 65535ULL &&
	     last >= CONFIG_JOB_SUBID_BASE))
		yamlnode_problem(&w->y, val->line, val->column,
				 "'job_ids' %llu..%llu must end by 2147483647 "
				 "and leave out %llu..%llu (the jobs' own "
				 "users inside the sandbox)", first, last,
				 (unsigned long long)CONFIG_JOB_SUBID_BASE,
				 CONFIG_JOB_SUBID_BASE + 65535ULL);
}
