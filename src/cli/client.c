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
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define MAX_OPTS 16

static const struct client_opt common_opts[] = {
	{"server", 0, true, "URL", "the daemon (default $PIPEWRIGHT_URL or "
	 CLIENT_DEFAULT_URL ")"},
	{"json", 0, false, NULL, "print the server's JSON, for scripts"},
	{"help", 'h', false, NULL, "show this help"},
};
enum { OPT_SERVER, OPT_JSON, OPT_HELP, NCOMMON };

static void
print_opt(FILE *f, const struct client_opt *o)
{
	char left[64];

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name,
			 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-22s %s\n", left, o->help);
}

static void
print_usage(FILE *f, const struct client_spec *spec)
{
	const struct client_opt *o;
	size_t i;

	fprintf(f, "usage: pipewright %s [OPTIONS] %s\n", spec->name,
		spec->args);
	for (o = spec->opts; o != NULL && o->name != NULL; o++)
		print_opt(f, o);
	for (i = 0; i < NCOMMON; i++)
		if (i != OPT_JSON || spec->json)
			print_opt(f, &common_opts[i]);
}

static int
usage_error(const struct client_spec *spec)
{
	print_usage(stderr, spec);
	return CLI_USAGE;
}

/* Fills getopt's tables: a command's rows first (val = index), then ours. */
static void
build_getopt(const struct client_spec *spec, struct option *lo, char *so)
{
	const struct client_opt *o;
	size_t n = 0, i;

	*so++ = ':';
	for (o = spec->opts; o != NULL && o->name != NULL; o++, n++) {
		lo[n] = (struct option){o->name, o->has_arg ? required_argument :
					no_argument, NULL, 256 + (int)n};
		if (o->short_name) {
			*so++ = (char)o->short_name;
			if (o->has_arg)
				*so++ = ':';
		}
	}
	for (i = 0; i < NCOMMON; i++, n++)
		lo[n] = (struct option){common_opts[i].name,
			common_opts[i].has_arg ? required_argument :
			no_argument, NULL, 512 + (int)i};
	lo[n] = (struct option){NULL, 0, NULL, 0};
	*so++ = 'h';
	*so = '\0';
}

/* getopt's answer for a short option: the row it names, as a long one. */
static int
short_to_long(const struct client_spec *spec, int ch)
{
	const struct client_opt *o;
	int n = 0;

	if (ch == 'h')
		return 512 + OPT_HELP;
	for (o = spec->opts; o != NULL && o->name != NULL; o++, n++)
		if (o->short_name == ch)
			return 256 + n;
	return ch;
}

/*
 * Ctrl-C during a request (a long `logs -f`) exits 130 like every other
 * command; nothing is left to clean up that the kernel does not.
 */
static void
on_interrupt(int sig)
{
	(void)sig;
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
	struct option lo[MAX_OPTS + NCOMMON + 1];
	char so[2 * MAX_OPTS + 4];
	const char *env = getenv("PIPEWRIGHT_URL");
	const char *server = env != NULL && *env != '\0' ? env :
						       CLIENT_DEFAULT_URL;
	int ch, rc;

	memset(c, 0, sizeof(*c));
	build_getopt(spec, lo, so);
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		ch = short_to_long(spec, ch);
		if (ch == 512 + OPT_SERVER) {
			server = optarg;
		} else if (ch == 512 + OPT_JSON && spec->json) {
			c->json = true;
		} else if (ch == 512 + OPT_HELP) {
			print_usage(stdout, spec);
			return -1;
		} else if (ch >= 256 && ch < 512) {
			rc = spec->option(ctx, (size_t)(ch - 256), optarg);
			if (rc != 0)
				return rc;
		} else if (ch == ':') {
			fprintf(stderr, "pipewright: %s: %s needs an "
				"argument\n", spec->name, argv[optind - 1]);
			return usage_error(spec);
		} else {
			fprintf(stderr, "pipewright: %s: unknown option "
				"'%s'\n", spec->name, argv[optind - 1]);
			return usage_error(spec);
		}
	}
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->nargs < spec->min_args ||
	    (spec->max_args >= 0 && c->nargs > spec->max_args)) {
		fprintf(stderr, "pipewright: %s: expected %s\n", spec->name,
			spec->args);
		return usage_error(spec);
	}
	rc = set_server(c, server);
	if (rc != CLI_OK)
		return rc;
	signal(SIGINT, on_interrupt);
	c->token = getenv("PIPEWRIGHT_TOKEN");
	if (c->token != NULL && *c->token == '\0')
		c->token = NULL;
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
