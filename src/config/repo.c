/*
 * Where a project's repository is and which forge serves it: `repo`,
 * `pipeline_path`, `forge`, `forge_repo`, `forge_api`, and the checks
 * that need several of them (config_repo_check, after a project's keys
 * are read; config_repos_unique, after all projects are).
 *
 * `repo` is an https:// or ssh:// URL, scp-like [user@]host:path (git's
 * rule: a ':' before any '/'), or a local path, made absolute against
 * the config's directory.  Plain http:// is refused: the clone token
 * would cross the network in clear.  So is a forge_api over http:// to a
 * host other than loopback (the status token), unless the project says
 * forge_api_insecure: true.  Nothing starting with '-' gets
 * through, so a repo can never read as an option to git.
 *
 * forge_repo is what webhooks are matched by; by default it is the
 * repository's path, less a leading '/' and a trailing ".git", so
 * https://git.example.com/acme/app.git and git@host:acme/app.git both
 * give acme/app (a local path: the absolute path, its ".." resolved as
 * written).  Two projects on one forge repository would make a
 * webhook ambiguous, so that is refused (config_repos_unique); a webhook
 * URL's ?project=NAME picks a project explicitly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-int.h"

#define DEFAULT_PIPELINE_PATH ".pipewright.yml"

/* Keys that mean something only for a project with a repo. */
static const char *const repo_only[] = {
	"pipeline_path", "forge", "forge_repo", "forge_api", "status_token",
	"status_per_job", "webhook_secret", "webhook_signing_secret",
	"webhook_insecure", "clone_token", "secrets_on_forks",
	"build_every_push", "forge_api_insecure",
};

static bool
has_space_or_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

/*
 * Classifies a repo: NULL and *path (the part forge_repo is derived
 * from; *local set for a local path), or why it is refused.
 */
static const char *
repo_parse(const char *s, const char **path, bool *local)
{
	const char *sep = strstr(s, "://"), *colon, *slash, *host;

	*local = false;
	if (has_space_or_control(s))
		return "it holds a space or a control character";
	if (s[0] == '-')
		return "it may not start with '-'";
	if (sep != NULL) {
		size_t n = (size_t)(sep - s);

		if (n == 4 && strncmp(s, "http", 4) == 0)
			return "plain http:// would send the clone token"
			    " in clear; use https://";
		if (!(n == 5 && strncmp(s, "https", 5) == 0) &&
		    !(n == 3 && strncmp(s, "ssh", 3) == 0))
			return "only https://, ssh://, user@host:path and"
			    " local paths are supported";
		host = sep + 3;
		slash = strchr(host, '/');
		if (slash == NULL || slash == host)
			return "no host and path after the scheme";
		*path = slash;
		return NULL;
	}
	colon = strchr(s, ':');
	slash = strchr(s, '/');
	if (colon != NULL && (slash == NULL || colon < slash)) {
		host = strchr(s, '@');
		host = host != NULL && host < colon ? host + 1 : s;
		if (host == colon)
			return "no host before ':'";
		*path = colon + 1;
		return NULL;
	}
	*local = true;
	*path = s;
	return NULL;
}

void
config_key_project_repo(struct cf_walk *w, const struct cf_key *row,
			const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s, *path, *why;
	bool local;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	why = repo_parse(s, &path, &local);
	if (why != NULL) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid repo '%s'%s: %s", CQ(w, s),
				 w->y.where, why);
		return;
	}
	p->repo = local ? config_path_join(w->c->dir, s) : xstrdup(s);
	if (p->forge_repo == NULL) {    /* messages on forge_repo point here */
		p->forge_repo_line = val->line;
		p->forge_repo_column = val->column;
	}
}

/* Relative, inside the repository: "./" and "//" dropped, no "..". */
static char *
pipeline_path_norm(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	const char *seg = s, *end;
	size_t n;

	if (s[0] == '/' || has_space_or_control(s) || strchr(s, '\\'))
		goto bad;
	while (*seg != '\0') {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			goto bad;
		if (n > 0 && !(n == 1 && seg[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, seg, n);
			o += n;
		}
		if (end == NULL)
			break;
		if (end[1] == '\0')
			goto bad;       /* a directory */
		seg = end + 1;
	}
	*o = '\0';
	if (o == out)
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

void
config_key_project_pipeline_path(struct cf_walk *w, const struct cf_key *row,
				 const struct ynode *key,
				 const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	p->pipeline_path = pipeline_path_norm(s);
	if (p->pipeline_path == NULL)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid pipeline_path '%s'%s; expected a file"
				 " in the repository: a relative path without"
				 " '..', such as .pipewright.yml", CQ(w, s),
				 w->y.where);
}

void
config_key_project_forge(struct cf_walk *w, const struct cf_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	static const char *const words[] = {
		"github", "gitlab", "gitea", "forgejo", "generic",
	};
	struct config_project *p = w->target;
	struct yamlnode_suggest sg;
	const char *s;
	size_t i;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL || forge_kind_parse(s, &p->forge) == 0)
		return;
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < PW_ARRAY_LEN(words); i++)
		yamlnode_suggest_add(&sg, words[i]);
	yamlnode_problem(&w->y, val->line, val->column,
			 "expected %s for 'forge'%s, got %s%s%s%s",
			 row->k.expected, w->y.where,
			 yamlnode_describe(&w->y, val),
			 sg.best != NULL ? "; did you mean '" : "",
			 sg.best != NULL ? sg.best : "",
			 sg.best != NULL ? "'?" : "");
}

void
config_key_project_forge_repo(struct cf_walk *w, const struct cf_key *row,
			      const struct ynode *key,
			      const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	p->forge_repo = xstrdup(s);
	p->forge_repo_line = -val->line;        /* < 0: written, not derived */
	p->forge_repo_column = val->column;
}

void
config_key_project_forge_api(struct cf_walk *w, const struct cf_key *row,
			     const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s, *rest = NULL;
	size_t len;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	if (rest == NULL || *rest == '\0' || *rest == '/' ||
	    has_space_or_control(s)) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid URL '%s' for 'forge_api'%s; expected"
				 " http:// or https:// and a host, such as"
				 " https://git.example.com/api/v1", CQ(w, s),
				 w->y.where);
		return;
	}
	len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		len--;
	p->forge_api = xstrndup(s, len);
}

/*
 * True for http://localhost, http://127.x.y.z and http://[::1] (with or
 * without a port or path): a status token sent there never leaves the
 * host.
 */
static bool
http_loopback(const char *url)
{
	const char *h = url + 7, *end;
	size_t n;

	end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)) != NULL)
		return false;   /* userinfo: not a form worth trusting */
	if (strncmp(h, "[::1]", 5) == 0)
		return h + 5 == end || h[5] == ':';
	n = strcspn(h, ":/?#");
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if (strncmp(h, "127.", 4) != 0)
		return false;
	/* A dotted quad: only digits and dots up to the port. */
	return strspn(h, "0123456789.") == n;
}

/* An absolute path with "." and ".." resolved as written (it need not
 * exist): /etc/pw/../repos/app → /repos/app. */
static char *
path_clean(const char *path)
{
	char *out = xmalloc(strlen(path) + 2), *o = out;
	const char *seg = path, *end;
	size_t n;

	for (;;) {
		while (*seg == '/')
			seg++;
		if (*seg == '\0')
			break;
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > out && *--o != '/')
				;
		} else if (!(n == 1 && seg[0] == '.')) {
			*o++ = '/';
			memcpy(o, seg, n);
			o += n;
		}
		seg += n;
	}
	*o = '\0';
	return out;
}

/* The default forge_repo: path less leading '/', trailing '/' and ".git". */
static char *
forge_repo_derive(const char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len >= 4 && memcmp(path + len - 4, ".git", 4) == 0)
		len -= 4;
	while (len > 0 && path[len - 1] == '/')
		len--;
	return xstrndup(path, len);
}

/* NULL if forge_repo is a name the forge can have, else why not. */
static const char *
forge_repo_check(const char *s, enum forge_kind forge)
{
	const char *seg = s, *end;
	size_t n, slashes = 0;

	if (*s == '\0')
		return "it is empty";
	if (has_space_or_control(s))
		return "it holds a space or a control character";
	for (;;) {
		end = strchr(seg, '/');
		n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return "it has an empty, '.' or '..' part";
		if (end == NULL)
			break;
		slashes++;
		seg = end + 1;
	}
	if ((forge == FORGE_GITHUB || forge == FORGE_GITEA) && slashes != 1)
		return forge == FORGE_GITHUB ? "GitHub names a repository"
		    " OWNER/REPO" : "Gitea names a repository OWNER/REPO";
	if (forge == FORGE_GITLAB && slashes == 0)
		return "GitLab names a project GROUP/PROJECT";
	return NULL;
}

static void
forge_repo_finish(struct cf_walk *w, struct config_project *p,
		  const char *label)
{
	const char *path, *why;
	bool local, derived = p->forge_repo == NULL;
	int line = p->forge_repo_line < 0 ? -p->forge_repo_line :
	    p->forge_repo_line;

	if (derived) {
		if (repo_parse(p->repo, &path, &local) != NULL)
			return;         /* cannot happen: repo was checked */
		if (local) {
			char *clean = path_clean(path);

			p->forge_repo = forge_repo_derive(clean);
			free(clean);
		} else {
			p->forge_repo = forge_repo_derive(path);
		}
	}
	why = forge_repo_check(p->forge_repo, p->forge);
	if (why == NULL)
		return;
	if (derived)
		yamlnode_problem(&w->y, line, p->forge_repo_column,
				 "%s: the forge's name of the repository, taken"
				 " from repo, would be '%s', but %s; set"
				 " 'forge_repo'", label, CQ(w, p->forge_repo),
				 why);
	else
		yamlnode_problem(&w->y, line, p->forge_repo_column,
				 "invalid forge_repo '%s' in %s: %s",
				 CQ(w, p->forge_repo), label, why);
	free(p->forge_repo);
	p->forge_repo = NULL;
}

void
config_repo_check(struct cf_walk *w, const struct ynode *item,
		  struct config_project *p, const char *label)
{
	const struct ynode *k;
	size_t i;

	if (config_map_key(item, "repo") == NULL) {
		for (i = 0; i < PW_ARRAY_LEN(repo_only); i++) {
			k = config_map_key(item, repo_only[i]);
			if (k != NULL)
				yamlnode_problem(&w->y, k->line, k->column,
						 "%s sets '%s', which only a"
						 " project with a 'repo' may"
						 " set", label, repo_only[i]);
		}
		return;
	}
	if (p->repo == NULL)
		return;         /* refused already */
	if (p->pipeline_path == NULL &&
	    config_map_key(item, "pipeline_path") == NULL)
		p->pipeline_path = xstrdup(DEFAULT_PIPELINE_PATH);
	forge_repo_finish(w, p, label);
	if (p->forge_api == NULL && forge_default_api(p->forge) != NULL)
		p->forge_api = xstrdup(forge_default_api(p->forge));
	k = config_map_key(item, "status_token");
	if (k != NULL && p->forge == FORGE_GENERIC)
		yamlnode_problem(&w->y, k->line, k->column,
				 "%s sets 'status_token', but the generic forge"
				 " takes no commit statuses; set 'forge'",
				 label);
	else if (k != NULL && p->forge_api == NULL)
		yamlnode_problem(&w->y, k->line, k->column,
				 "%s sets 'status_token' but no 'forge_api':"
				 " %s is self-hosted, so its API has no default"
				 " (such as https://git.example.com/api/v1)",
				 label, forge_kind_name(p->forge));
	k = config_map_key(item, "forge_api");
	if (k != NULL && p->forge_api != NULL && !p->forge_api_insecure &&
	    strncmp(p->forge_api, "http://", 7) == 0 &&
	    !http_loopback(p->forge_api))
		yamlnode_problem(&w->y, k->line, k->column,
				 "%s sets 'forge_api' to plain http:// on"
				 " another host: the status token would cross"
				 " the network in clear; use https://, or set"
				 " 'forge_api_insecure: true'", label);
	k = config_map_key(item, "webhook_signing_secret");
	if (k != NULL && p->forge != FORGE_GITLAB)
		yamlnode_problem(&w->y, k->line, k->column,
				 "%s sets 'webhook_signing_secret', which only"
				 " GitLab sends; its forge is %s", label,
				 forge_kind_name(p->forge));
}

void
config_repos_unique(struct cf_walk *w)
{
	struct config *c = w->c;
	size_t i, j;

	for (i = 0; i < c->nprojects; i++) {
		struct config_project *b = &c->projects[i];

		if (b->forge_repo == NULL || b->name == NULL)
			continue;
		for (j = 0; j < i; j++) {
			struct config_project *a = &c->projects[j];

			if (a->forge_repo == NULL || a->name == NULL ||
			    a->forge != b->forge ||
			    strcasecmp(a->forge_repo, b->forge_repo) != 0)
				continue;
			yamlnode_problem(&w->y, b->forge_repo_line < 0 ?
					 -b->forge_repo_line :
					 b->forge_repo_line,
					 b->forge_repo_column,
					 "projects '%s' and '%s' both take"
					 " webhooks of %s; give one a different"
					 " forge_repo", a->name, b->name,
					 CQ(w, b->forge_repo));
			break;
		}
	}
}
