/*
 * The client commands' common part: their options (--server, --json and
 * each command's own, parsed from a table), and one blocking request
 * helper over libcurl's easy interface.  The server is --server, else
 * $PIPEWRIGHT_URL, else http://127.0.0.1:8080; the token, from
 * $PIPEWRIGHT_TOKEN, goes out as "Authorization: Bearer ..." and is never
 * printed (verbose mode stays off).  TLS is verified; only http and https
 * are spoken; redirects are not followed, so the token goes nowhere else.
 *
 * An error answer is printed as "pipewright: MESSAGE (STATUS CODE)" from
 * the API's {"error": {"code", "message"}}; a server that cannot be
 * reached as "pipewright: cannot reach URL: REASON".  Both exit 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "pipewright/curlx.h"

static const struct cli_opt common_opts[] = {
	{"server", 0, true, "URL", "the daemon (default $PIPEWRIGHT_URL or "
	 CLIENT_DEFAULT_URL ")"},
	{"json", 0, false, NULL, "print the server's JSON, for scripts"},
	CLI_OPT_HELP,
};

/*
 * The command's options table: its own rows first (their indexes are the
 * ones spec->option is given), then the common ones it takes.  Returns
 * how many are its own.
 */
static size_t
make_usage(const struct client_spec *spec, struct cli_opt *rows,
	   struct cli_usage *u)
{
	const struct cli_opt *o;
	size_t n = 0, own, i;

	for (o = spec->opts; o != NULL && o->name != NULL; o++) {
		if (n + PW_ARRAY_LEN(common_opts) >= CLI_OPTS_MAX)
			abort(); /* a table longer than CLI_OPTS_MAX */
		rows[n++] = *o;
	}
	own = n;
	for (i = 0; i < PW_ARRAY_LEN(common_opts); i++)
		if (strcmp(common_opts[i].name, "json") != 0 || spec->json)
			rows[n++] = common_opts[i];
	rows[n] = (struct cli_opt)CLI_OPT_NONE;
	*u = (struct cli_usage){spec->name, spec->args, rows, NULL};
	return own;
}

/*
 * Ctrl-C during a request (a long `logs -f`) exits 130 like every other
 * command, saying so (on a new line: it may cut a log's); nothing is left
 * to clean up that the kernel does not.  write(2) and _exit(2) only: both
 * are safe in a signal handler.
 */
static void
on_interrupt(int sig)
{
	static const char msg[] = "\npipewright: interrupted\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(CLI_INTERRUPTED);
}

static int
set_server(struct client *c, const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || (strncmp(url, "http://", 7) != 0 &&
		       strncmp(url, "https://", 8) != 0)) {
		fprintf(stderr, "pipewright: invalid server URL '%s'; expected "
			"http://HOST:PORT or https://...\n", url);
		return CLI_USAGE;
	}
	free(c->server);
	c->server = xstrndup(url, n);
	return CLI_OK;
}

int
client_parse(struct client *c, const struct client_spec *spec, void *ctx,
	     int argc, char **argv)
{
	struct cli_opt rows[CLI_OPTS_MAX + 1];
	struct cli_usage u;
	struct cli_getopt g;
	const char *env = getenv("PIPEWRIGHT_URL");
	const char *server = env != NULL && *env != '\0' ? env :
						       CLIENT_DEFAULT_URL;
	const char *arg, *name, *why;
	size_t own;
	int ch, rc;

	memset(c, 0, sizeof(*c));
	own = make_usage(spec, rows, &u);
	cli_getopt_init(&g, &u);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		if (ch == CLI_OPT_BAD)
			return cli_usage_error(&u);
		name = rows[ch].name;
		if ((size_t)ch < own) {
			rc = spec->option(ctx, (size_t)ch, arg);
			if (rc != 0)
				return rc;
		} else if (strcmp(name, "server") == 0) {
			server = arg;
		} else if (strcmp(name, "json") == 0) {
			c->json = true;
		} else {
			cli_usage_print(stdout, &u);
			return -1;
		}
	}
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->nargs < spec->min_args ||
	    (spec->max_args >= 0 && c->nargs > spec->max_args)) {
		fprintf(stderr, "pipewright: %s: expected %s\n", spec->name,
			spec->args);
		return cli_usage_error(&u);
	}
	rc = set_server(c, server);
	if (rc != CLI_OK)
		return rc;
	signal(SIGINT, on_interrupt);
	c->token = getenv("PIPEWRIGHT_TOKEN");
	if (c->token != NULL && *c->token == '\0')
		c->token = NULL;
	if (curlx_load(&why) < 0) {
		fprintf(stderr, "pipewright: %s; this command talks to the "
			"server through libcurl\n", why);
		return CLI_FAILED;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c->curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "pipewright: cannot initialise libcurl\n");
		return CLI_FAILED;
	}
	return CLI_OK;
}

void
client_done(struct client *c)
{
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->server);
	c->server = NULL;
	c->curl = NULL;
}

int
client_run_id(const char *arg, uint64_t *id)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v == 0) {
		fprintf(stderr, "pipewright: '%s' is not a run id; expected "
			"a positive number\n", arg);
		return CLI_USAGE;
	}
	*id = v;
	return CLI_OK;
}

char *
client_escape(struct client *c, const char *segment)
{
	char *e = curl_easy_escape(c->curl, segment, 0);
	char *s;

	if (e == NULL)
		abort(); /* out of memory */
	s = xstrdup(e);
	curl_free(e);
	return s;
}

void
client_print_json(const cJSON *json)
{
	char *s = cJSON_Print(json);
	const unsigned char *u;

	if (s == NULL)
		abort();
	/*
	 * cJSON escapes C0 but writes C1 (U+009B is CSI) as UTF-8; they only
	 * occur inside strings, where \u00NN means the same to a parser.
	 */
	for (u = (const unsigned char *)s; *u != '\0'; u++) {
		if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] < 0xa0) {
			printf("\\u%04x", u[1]);
			u++;
		} else {
			putchar(*u);
		}
	}
	putchar('\n');
	cJSON_free(s);
}

const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double
json_num(const cJSON *obj, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}
