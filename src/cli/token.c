/*
 * `pipewright token create --config FILE --name NAME --scope SCOPE`:
 * makes an API token, stores its SHA-256 under NAME in the daemon's
 * database and prints the token itself once, on stdout alone so that a
 * script can capture it.  The database is written through the store like
 * any write of the daemon: one store_write, the loop run until it is
 * committed, the store closed.
 *
 * Names are what the audit trail shows as the actor, so they are short
 * and plain, unique, and not "webhook" or "schedule", which the daemon
 * writes there for its own actors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "cli.h"
#include "pipewright/auth.h"
#include "pipewright/config.h"
#include "pipewright/store.h"

#define TOKEN_NAME_MAX 64

struct token_insert {
	const char *name;
	const char *scope;
	char hex[AUTH_HASH_HEX];
	int rc;
	bool done;
};

enum { OPT_CONFIG, OPT_NAME, OPT_SCOPE, OPT_HELP };
static const struct cli_opt token_opts[] = {
	[OPT_CONFIG] = CLI_OPT_CONFIG,
	[OPT_NAME] = {"name", 'n', true, "NAME", "required; unique, shown in "
		      "the audit trail\n([A-Za-z0-9_.-], up to 64)"},
	[OPT_SCOPE] = {"scope", 's', true, "SCOPE", "required; read, operate "
		       "(trigger, cancel, rerun,\napprove) or admin"},
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
_Static_assert(TOKEN_NAME_MAX == 64, "--name's help says 64");
static const struct cli_usage token_usage = {"token create", "", token_opts,
	"The token is printed once on stdout; only its SHA-256 is stored."};

static bool
valid_token_name(const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > TOKEN_NAME_MAX)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

static int
insert_fn(struct store_tx *tx, void *arg)
{
	struct token_insert *in = arg;

	return store_tx_token_insert(tx, in->name, in->scope, in->hex,
				     pw_now_ms());
}

static void
insert_done(int rc, void *arg)
{
	struct token_insert *in = arg;

	in->rc = rc;
	in->done = true;
}

static void
store_closed(void *arg)
{
	*(bool *)arg = true;
}

/* Stores the hash under the name: 0 or the store's error. */
static int
store_token(const struct config *c, struct token_insert *in)
{
	struct store *s = NULL;
	uv_loop_t loop;
	char *err = NULL;
	bool closed = false;
	int rc;

	if (mkdir(config_data_dir(c), 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pipewright: cannot create %s: %s\n",
			config_data_dir(c), strerror(errno));
		return -errno;
	}
	rc = uv_loop_init(&loop);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", uv_strerror(rc));
		return rc;
	}
	rc = store_open(&loop, config_db_path(c), &s, &err);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", err != NULL ? err :
			strerror(-rc));
		free(err);
		uv_loop_close(&loop);
		return rc;
	}
	store_write(s, insert_fn, insert_done, in);
	while (!in->done)
		uv_run(&loop, UV_RUN_ONCE);
	store_close(s, store_closed, &closed);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "pipewright: warning: the loop did not"
			" close cleanly\n");
	return in->rc;
}

static int
token_create(int argc, char **argv)
{
	const char *path = NULL, *name = NULL;
	const char *scope_arg = NULL, *arg;
	struct cli_getopt g;
	struct token_insert in = {0};
	char token[AUTH_TOKEN_LEN + 1];
	enum auth_scope scope;
	struct config *c = NULL;
	int ch, rc;

	cli_getopt_init(&g, &token_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_CONFIG:
			path = arg;
			break;
		case OPT_NAME:
			name = arg;
			break;
		case OPT_SCOPE:
			scope_arg = arg;
			break;
		case OPT_HELP:
			cli_usage_print(stdout, &token_usage);
			return CLI_OK;
		default:
			return cli_usage_error(&token_usage);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipewright: unexpected argument '%s'\n",
			argv[optind]);
		return cli_usage_error(&token_usage);
	}
	if (name == NULL || scope_arg == NULL) {
		fprintf(stderr, "pipewright: token create needs --name and"
			" --scope\n");
		return cli_usage_error(&token_usage);
	}
	if (!valid_token_name(name)) {
		fprintf(stderr, "pipewright: invalid token name '%s': use up"
			" to %d letters, digits, '_', '.' and '-'\n", name,
			TOKEN_NAME_MAX);
		return CLI_USAGE;
	}
	if (strcmp(name, "webhook") == 0 || strcmp(name, "schedule") == 0) {
		fprintf(stderr, "pipewright: the token name '%s' is reserved"
			" for the daemon's own actions\n", name);
		return CLI_USAGE;
	}
	if (auth_scope_parse(scope_arg, &scope) < 0) {
		fprintf(stderr, "pipewright: invalid scope '%s': expected"
			" read, operate or admin\n", scope_arg);
		return CLI_USAGE;
	}
	if (cli_config_load(path, &c, NULL) != CLI_OK)
		return CLI_USAGE;
	if (auth_token_new(token) < 0 || auth_hash(token, in.hex) < 0) {
		fprintf(stderr, "pipewright: cannot make a random token\n");
		config_destroy(c);
		return CLI_FAILED;
	}
	in.name = name;
	in.scope = auth_scope_name(scope);
	rc = store_token(c, &in);
	if (rc == -EEXIST)
		fprintf(stderr, "pipewright: a token named '%s' already"
			" exists\n", name);
	else if (rc < 0 && in.done)
		fprintf(stderr, "pipewright: cannot store the token in %s:"
			" %s\n", config_db_path(c), strerror(-rc));
	config_destroy(c);
	if (rc == 0) {
		printf("%s\n", token);
		fflush(stdout);
		fprintf(stderr, "token '%s' (scope %s) created; it is shown"
			" only this once\n", name, auth_scope_name(scope));
	}
	OPENSSL_cleanse(token, sizeof(token));
	if (rc == -EEXIST)
		return CLI_USAGE;
	return rc == 0 ? CLI_OK : CLI_FAILED;
}

int
cmd_token(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&token_usage);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_usage_print(stdout, &token_usage);
		return CLI_OK;
	}
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc - 1, argv + 1);
	fprintf(stderr, "pipewright: unknown token command '%s'\n", argv[1]);
	return cli_usage_error(&token_usage);
}
