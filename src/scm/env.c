/*
 * What git runs with, and what of it may be shown.
 *
 * git gets a complete environment of our making, nothing inherited from
 * the daemon: a short PATH, LANG=C so that its messages are the ones
 * documented, an empty HOME and GIT_CONFIG_NOSYSTEM/GIT_CONFIG_GLOBAL so
 * that no user or system gitconfig (credential helpers, url rewrites,
 * hooks paths) applies, GIT_TERMINAL_PROMPT=0 and ssh in batch mode so
 * that a repository asking for a password fails at once instead of
 * waiting for a terminal nobody watches.  Our own settings go through
 * GIT_CONFIG_COUNT/KEY_n/VALUE_n, which git reads as command-line config:
 * that is where safe.directory is honoured and where the clone token's
 * http.extraHeader stays out of argv (anyone can read argv in ps; the
 * environment only root and the owner can).
 *
 * The log shows every command git ran and what it said; the token, its
 * base64 and the header are scrubbed from it all the same, in case a git
 * trace or a server echo ever puts them there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "scm-int.h"

/* Settings for every git call; the header is added after these. */
static const char *const scm_config[][2] = {
	/* The daemon runs as root; a workspace may belong to a job's uid. */
	{"safe.directory", "*"},
	/* No "using master as the default branch" hint in the log. */
	{"init.defaultBranch", "main"},
	{"advice.detachedHead", "false"},
	/* gc after a fetch in the foreground: nothing left running when the
	 * next fetch into the mirror starts. */
	{"gc.autoDetach", "false"},
};

char *
scm_auth_header(const char *token)
{
	char *plain = xasprintf("x-access-token:%s", token);
	size_t n = strlen(plain);
	unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	char *header;

	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)n);
	header = xasprintf("Authorization: Basic %s", (char *)b64);
	free(b64);
	/* The plain form is a secret too; leave no copy behind. */
	explicit_bzero(plain, n);
	free(plain);
	return header;
}

char **
scm_env_new(const char *home, const char *header)
{
	size_t nconf = PW_ARRAY_LEN(scm_config) + (header != NULL ? 1 : 0);
	char **env = xcalloc(10 + 2 * nconf + 1, sizeof(*env));
	size_t i, n = 0;

	env[n++] = xstrdup(SCM_PATH);
	env[n++] = xasprintf("HOME=%s", home);
	env[n++] = xstrdup("LANG=C");
	env[n++] = xstrdup("LC_ALL=C");
	env[n++] = xstrdup("GIT_TERMINAL_PROMPT=0");
	env[n++] = xstrdup("GIT_SSH_COMMAND=ssh -o BatchMode=yes");
	env[n++] = xstrdup("GIT_CONFIG_NOSYSTEM=1");
	env[n++] = xstrdup("GIT_CONFIG_GLOBAL=/dev/null");
	env[n++] = xasprintf("GIT_CONFIG_COUNT=%zu", nconf);
	for (i = 0; i < PW_ARRAY_LEN(scm_config); i++) {
		env[n++] = xasprintf("GIT_CONFIG_KEY_%zu=%s", i, scm_config[i][0]);
		env[n++] = xasprintf("GIT_CONFIG_VALUE_%zu=%s", i,
				     scm_config[i][1]);
	}
	if (header != NULL) {
		env[n++] = xasprintf("GIT_CONFIG_KEY_%zu=http.extraHeader", i);
		env[n++] = xasprintf("GIT_CONFIG_VALUE_%zu=%s", i, header);
	}
	env[n] = NULL;
	return env;
}

void
scm_env_free(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
}

char *
scm_redact_url(const char *url)
{
	const char *user = strstr(url, "://");
	const char *end, *at, *colon;

	if (user == NULL)
		return xstrdup(url);
	user += 3;
	end = user + strcspn(user, "/?#");
	at = memrchr(user, '@', (size_t)(end - user));
	if (at == NULL)
		return xstrdup(url);
	colon = memchr(user, ':', (size_t)(at - user));
	if (colon == NULL)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int)(colon + 1 - url), url, at);
}

void
scm_log_scrubbed(struct buf *b, const char *data, size_t len,
		 char *const *secrets, size_t n)
{
	size_t i, k, at = 0;

	while (at < len) {
		size_t best = len, blen = 0;

		/* The earliest secret from here, the longest if two start there. */
		for (k = 0; k < n; k++) {
			size_t sl = secrets[k] != NULL ? strlen(secrets[k]) : 0;

			if (sl == 0 || sl > len - at)
				continue;
			for (i = at; i + sl <= len && i <= best; i++) {
				if (memcmp(data + i, secrets[k], sl) != 0)
					continue;
				if (i < best || sl > blen) {
					best = i;
					blen = sl;
				}
				break;
			}
		}
		/* A full log drops the rest: -E2BIG is the limit doing its job. */
		if (buf_append(b, data + at, best - at) < 0)
			return;
		if (blen == 0)
			return;
		if (buf_append(b, "***", 3) < 0)
			return;
		at = best + blen;
	}
}

char *
scm_mirror_ref(const char *fetch_ref)
{
	const char *p = fetch_ref + strlen("refs/");
	struct buf b;

	buf_init(&b, 0);
	buf_adds(&b, "refs/pipewright/");
	for (; *p != '\0'; p++) {
		if (*p == '/')
			buf_adds(&b, "%2F");
		else if (*p == '%')
			buf_adds(&b, "%25");
		else
			buf_add(&b, p, 1);
	}
	return buf_steal(&b);
}
