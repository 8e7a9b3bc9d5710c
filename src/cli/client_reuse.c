/*
 * `pipewright artifacts RUN` downloads a run's artifacts, `pipewright
 * cache list|rm PROJECT` shows and deletes a project's caches.
 *
 * A download goes to a hidden temporary name in the target directory,
 * is checked against the size and SHA-256 digest the listing gave, and
 * only then renamed to <name>.tar.zst: an interrupted or damaged
 * transfer never leaves a file with the final name.  The archives are
 * saved as they are (zstd-compressed tar; `tar --zstd -xf` unpacks one);
 * --path fetches one file of an artifact instead.  Downloads have no
 * total timeout (a large archive may take long); TCP keep-alive notices
 * a server that went away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client.h"

#define CACHE_PAGE "200" /* entries asked for per page by `cache list` */

/* A file name made of a server-given name: only [A-Za-z0-9._-] kept. */
static char *
local_name(const char *s, const char *suffix)
{
	char *out = xasprintf("%s%s", *s != '\0' && strcmp(s, ".") != 0 &&
			      strcmp(s, "..") != 0 ? s : "_", suffix), *p;
	size_t n = strlen(out) - strlen(suffix);

	for (p = out; p < out + n; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		      *p == '_'))
			*p = '_';
	return out;
}

static void
human_size(double bytes, char *out, size_t len)
{
	if (bytes >= 1024.0 * 1024 * 1024)
		snprintf(out, len, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
	else if (bytes >= 1024.0 * 1024)
		snprintf(out, len, "%.1f MiB", bytes / (1024.0 * 1024));
	else if (bytes >= 1024.0)
		snprintf(out, len, "%.1f KiB", bytes / 1024.0);
	else
		snprintf(out, len, "%.0f B", bytes);
}

/* ---- artifacts ---- */

struct art_opts {
	const char *dir;      /* -o */
	const char *name;     /* --name */
	const char *path;     /* --path */
	bool list;            /* --list */
};

static const struct cli_opt art_opts[] = {
	{"output", 'o', true, "DIR", "save into DIR (default: the current "
	 "directory)"},
	{"name", 0, true, "NAME", "only the artifact NAME"},
	{"path", 0, true, "P", "only the file P of the artifact (with --name),"
	 "\nsaved as its last component"},
	{"list", 'l', false, NULL, "list the artifacts, download nothing"},
	CLI_OPT_NONE,
};

static int
art_option(void *ctx, size_t opt, const char *arg)
{
	struct art_opts *o = ctx;

	switch (opt) {
	case 0:
		o->dir = arg;
		break;
	case 1:
		o->name = arg;
		break;
	case 2:
		o->path = arg;
		break;
	default:
		o->list = true;
		break;
	}
	return 0;
}

static const struct client_spec art_spec = {
	.name = "artifacts", .args = "RUN", .opts = art_opts, .min_args = 1,
	.max_args = 1, .json = true, .option = art_option,
};

/* A download in progress: the temporary file and its digest so far. */
struct sink {
	int fd;
	uint64_t bytes;
	EVP_MD_CTX *md;
	int err;              /* errno of a failed write */
};

static int
sink_write(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;
	ssize_t w;
	size_t off;

	for (off = 0; off < len; off += (size_t)w) {
		w = write(s->fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			s->err = errno;
			return -1;
		}
	}
	s->bytes += len;
	if (s->md != NULL)
		EVP_DigestUpdate(s->md, data, len);
	return 0;
}

/*
 * GET path into dir/file through a temporary name; checked against size
 * and digest when they are given (digest NULL: not checked).
 */
static int
download(struct client *c, const char *path, const char *dir,
	 const char *file, double size, const char *digest)
{
	struct sink s = {.fd = -1};
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], *tmp, *dest, *shown;
	unsigned mdlen = 0, i;
	bool transport;
	int rc;

	tmp = xasprintf("%s/.%s.part-%ld", dir, file, (long)getpid());
	dest = xasprintf("%s/%s", dir, file);
	shown = term_escape_str(dest);
	s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s.fd < 0) {
		fprintf(stderr, "pipewright: cannot write %s: %s\n", shown,
			strerror(errno));
		rc = CLI_FAILED;
		goto out;
	}
	if (digest != NULL) {
		s.md = EVP_MD_CTX_new();
		if (s.md == NULL || EVP_DigestInit_ex(s.md, EVP_sha256(),
						      NULL) != 1)
			abort(); /* out of memory */
	}
	rc = client_stream(c, path, true, NULL, sink_write, &s, &transport);
	if (transport)
		client_transport_error(c, c->last_rc);
	if (rc == CLI_OK && s.err != 0) {
		fprintf(stderr, "pipewright: cannot write %s: %s\n", shown,
			strerror(s.err));
		rc = CLI_FAILED;
	}
	if (rc == CLI_OK && size >= 0 && (double)s.bytes != size) {
		fprintf(stderr, "pipewright: %s: got %llu bytes, the server "
			"listed %.0f\n", shown, (unsigned long long)s.bytes,
			size);
		rc = CLI_FAILED;
	}
	if (rc == CLI_OK && s.md != NULL) {
		EVP_DigestFinal_ex(s.md, md, &mdlen);
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (strcmp(hex, digest) != 0) {
			fprintf(stderr, "pipewright: %s: its SHA-256 is %s, the "
				"server listed %s\n", shown, hex, digest);
			rc = CLI_FAILED;
		}
	}
	if (rc == CLI_OK && (fsync(s.fd) < 0 || close(s.fd) < 0)) {
		s.fd = -1;
		fprintf(stderr, "pipewright: cannot write %s: %s\n", shown,
			strerror(errno));
		rc = CLI_FAILED;
	}
	if (rc == CLI_OK) {
		s.fd = -1;
		if (rename(tmp, dest) < 0) {
			fprintf(stderr, "pipewright: cannot write %s: %s\n",
				shown, strerror(errno));
			rc = CLI_FAILED;
		}
	}
	if (rc != CLI_OK)
		unlink(tmp);
	else
		printf("%s (%llu bytes)\n", shown, (unsigned long long)s.bytes);
out:
	if (s.fd >= 0)
		close(s.fd);
	EVP_MD_CTX_free(s.md);
	free(shown);
	free(dest);
	free(tmp);
	return rc;
}

static void
print_artifacts(const cJSON *items)
{
	static const char *const cols[] = {"NAME", "JOB", "SIZE", "FILES",
					   "EXPIRES"};
	struct table *t = table_create(5, cols);
	const cJSON *it;
	char size[32], files[32], when[64];

	cJSON_ArrayForEach(it, items) {
		char *name = term_escape_str(json_str(it, "name"));
		char *job = term_escape_str(json_str(it, "job"));
		const char *row[5] = {name, job, size, files, when};

		human_size(json_num(it, "size", 0), size, sizeof(size));
		snprintf(files, sizeof(files), "%.0f",
			 json_num(it, "files", 0));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
								  "expired")))
			snprintf(when, sizeof(when), "expired");
		else if (json_str(it, "expires") == NULL)
			snprintf(when, sizeof(when), "never");
		else
			fmt_time(json_str(it, "expires"), when, sizeof(when));
		table_add(t, row);
		free(name);
		free(job);
	}
	if (table_rows(t) == 0)
		printf("(no artifacts)\n");
	else
		table_print(t, stdout, "");
	table_destroy(t);
}

int
cmd_artifacts(int argc, char **argv)
{
	struct art_opts o = {.dir = "."};
	struct client_response r = {0};
	struct client c;
	const cJSON *items, *it;
	char *path, *esc, *pesc, *file;
	const char *name, *base;
	struct stat st;
	uint64_t run;
	int rc, found = 0, one;

	rc = client_parse(&c, &art_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	if ((rc = client_run_id(c.args[0], &run)) != CLI_OK)
		goto out;
	if (o.path != NULL && o.name == NULL) {
		fprintf(stderr, "pipewright: artifacts: --path needs --name\n");
		rc = CLI_USAGE;
		goto out;
	}
	if (!o.list && (stat(o.dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "pipewright: artifacts: %s is not a directory\n",
			o.dir);
		rc = CLI_USAGE;
		goto out;
	}
	if (o.path != NULL) {
		esc = client_escape(&c, o.name);
		pesc = client_escape(&c, o.path);
		path = xasprintf("/api/v1/runs/%llu/artifacts/%s?path=%s",
				 (unsigned long long)run, esc, pesc);
		base = strrchr(o.path, '/');
		file = local_name(base != NULL ? base + 1 : o.path, "");
		rc = download(&c, path, o.dir, file, -1, NULL);
		free(file);
		free(path);
		free(pesc);
		free(esc);
		goto out;
	}
	path = xasprintf("/api/v1/runs/%llu/artifacts", (unsigned long long)run);
	rc = client_call(&c, "GET", path, NULL, &r);
	free(path);
	if (rc != CLI_OK)
		goto out;
	items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
	if (o.list) {
		if (c.json)
			client_print_json(r.json);
		else
			print_artifacts(items);
		goto out;
	}
	cJSON_ArrayForEach(it, items) {
		name = json_str(it, "name");
		if (name == NULL || (o.name != NULL && strcmp(name, o.name) != 0))
			continue;
		found++;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
								  "expired"))) {
			char *shown = term_escape_str(name);
			char when[64];

			fmt_time(json_str(it, "expires"), when, sizeof(when));
			fprintf(stderr, "pipewright: artifact '%s' of run %llu "
				"expired (%s): not downloaded\n", shown,
				(unsigned long long)run, when);
			free(shown);
			rc = CLI_FAILED;
			continue;
		}
		esc = client_escape(&c, name);
		path = xasprintf("/api/v1/runs/%llu/artifacts/%s",
				 (unsigned long long)run, esc);
		file = local_name(name, ".tar.zst");
		one = download(&c, path, o.dir, file, json_num(it, "size", -1),
			       json_str(it, "digest"));
		if (one != CLI_OK)
			rc = one;
		free(file);
		free(path);
		free(esc);
	}
	if (o.name != NULL && found == 0) {
		char *shown = term_escape_str(o.name);

		fprintf(stderr, "pipewright: run %llu has no artifact '%s'\n",
			(unsigned long long)run, shown);
		free(shown);
		rc = CLI_FAILED;
	} else if (found == 0) {
		printf("(no artifacts)\n");
	}
out:
	client_response_free(&r);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

/* ---- caches ---- */

struct cache_opts {
	const char *scope;
};

static const struct cli_opt cache_opts[] = {
	{"scope", 0, true, "S", "rm: only the entry of this scope\n"
	 "(branch:NAME, pr:N, tag:T; default: every scope)"},
	CLI_OPT_NONE,
};

static int
cache_option(void *ctx, size_t opt, const char *arg)
{
	(void)opt;
	((struct cache_opts *)ctx)->scope = arg;
	return 0;
}

static const struct client_spec cache_spec = {
	.name = "cache", .args = "list PROJECT | rm PROJECT KEY",
	.opts = cache_opts, .min_args = 2, .max_args = 3, .json = true,
	.option = cache_option,
};

static int
cache_list(struct client *c, const char *project)
{
	static const char *const cols[] = {"KEY", "SCOPE", "SIZE", "CREATED",
					   "LAST USED"};
	struct table *t = table_create(5, cols);
	cJSON *all = cJSON_CreateArray(), *out;
	char *p = client_escape(c, project), *path, *cursor = NULL;
	char size[32], created[64], used[64];
	struct client_response r;
	const cJSON *it;
	int rc;

	do {
		path = xasprintf("/api/v1/projects/%s/caches?limit=" CACHE_PAGE
				 "%s%s", p, cursor != NULL ? "&cursor=" : "",
				 cursor != NULL ? cursor : "");
		rc = client_call(c, "GET", path, NULL, &r);
		free(path);
		free(cursor);
		cursor = NULL;
		if (rc != CLI_OK) {
			client_response_free(&r);
			goto out;
		}
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.json,
									"items")) {
			char *key = term_escape_str(json_str(it, "key"));
			char *scope = term_escape_str(json_str(it, "scope"));
			const char *row[5] = {key, scope, size, created, used};

			human_size(json_num(it, "size", 0), size, sizeof(size));
			fmt_time(json_str(it, "created"), created,
				 sizeof(created));
			fmt_time(json_str(it, "last_used"), used, sizeof(used));
			table_add(t, row);
			cJSON_AddItemToArray(all, cJSON_Duplicate(it, 1));
			free(key);
			free(scope);
		}
		if (json_str(r.json, "next_cursor") != NULL)
			cursor = xstrdup(json_str(r.json, "next_cursor"));
		client_response_free(&r);
	} while (cursor != NULL);
	if (c->json) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, "items", all);
		all = NULL;
		client_print_json(out);
		cJSON_Delete(out);
	} else if (table_rows(t) == 0) {
		printf("(no caches)\n");
	} else {
		table_print(t, stdout, "");
	}
out:
	cJSON_Delete(all);
	table_destroy(t);
	free(p);
	return rc;
}

static int
cache_rm(struct client *c, const char *project, const char *key,
	 const char *scope)
{
	struct client_response r = {0};
	char *p = client_escape(c, project), *k = client_escape(c, key);
	char *s = scope != NULL ? client_escape(c, scope) : NULL, *path;
	char *shown;
	int rc;

	path = xasprintf("/api/v1/projects/%s/caches/%s%s%s", p, k,
			 s != NULL ? "?scope=" : "", s != NULL ? s : "");
	rc = client_call(c, "DELETE", path, NULL, &r);
	if (rc == CLI_OK) {
		if (c->json) {
			client_print_json(r.json);
		} else {
			shown = term_escape_str(key);
			printf("deleted cache '%s' (%.0f entr%s)\n", shown,
			       json_num(r.json, "deleted", 0),
			       json_num(r.json, "deleted", 0) == 1 ? "y" :
								     "ies");
			free(shown);
		}
	}
	client_response_free(&r);
	free(path);
	free(s);
	free(k);
	free(p);
	return rc;
}

int
cmd_cache(int argc, char **argv)
{
	struct cache_opts o = {0};
	struct client c;
	int rc;

	rc = client_parse(&c, &cache_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	if (strcmp(c.args[0], "list") == 0 && c.nargs == 2 &&
	    o.scope == NULL) {
		rc = cache_list(&c, c.args[1]);
	} else if (strcmp(c.args[0], "rm") == 0 && c.nargs == 3) {
		rc = cache_rm(&c, c.args[1], c.args[2], o.scope);
	} else {
		fprintf(stderr, "pipewright: cache: expected 'list PROJECT' "
			"or 'rm PROJECT KEY [--scope S]'\n");
		rc = CLI_USAGE;
	}
out:
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
