/*
 * A command's options as one table (struct cli_opt rows), from which both
 * getopt's tables and the command's --help are made, so that what a
 * command accepts and what its help says cannot drift apart.  `pipewright
 * help CMD` runs `CMD --help`: there is no second text to keep in step.
 *
 * Errors are said the same way for every command: "pipewright: CMD:
 * unknown option '--x'" and "pipewright: CMD: --x needs an argument",
 * then the usage on stderr (exit 2, the caller's part).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_opt_print(FILE *f, const struct cli_opt *o)
{
	const char *p, *nl;
	char left[64];

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name,
			 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	/* Lines after the first line up under it; so does all of it after
	 * an option too long for its column. */
	if (strlen(left) > 22) {
		fprintf(f, "  %s\n", left);
		left[0] = '\0';
	}
	for (p = o->help; p != NULL; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		fprintf(f, "  %-22s %.*s\n", p == o->help ? left : "",
			(int)(nl != NULL ? nl - p : (long)strlen(p)), p);
	}
}

void
cli_usage_print(FILE *f, const struct cli_usage *u)
{
	const struct cli_opt *o;
	bool options = false;

	for (o = u->opts; o->name != NULL; o++)
		options |= strcmp(o->name, "help") != 0;
	fprintf(f, "usage: pipewright %s%s%s%s\n", u->name,
		options ? " [OPTIONS]" : "", *u->args ? " " : "", u->args);
	for (o = u->opts; o->name != NULL; o++)
		cli_opt_print(f, o);
	if (u->notes != NULL)
		fprintf(f, "%s\n", u->notes);
}

int
cli_usage_error(const struct cli_usage *u)
{
	cli_usage_print(stderr, u);
	return CLI_USAGE;
}

void
cli_getopt_init(struct cli_getopt *g, const struct cli_usage *u)
{
	const struct cli_opt *o;
	char *so = g->so;
	size_t n = 0;

	g->u = u;
	*so++ = ':';  /* a missing argument answers ':', not '?' */
	for (o = u->opts; o->name != NULL; o++, n++) {
		if (n == CLI_OPTS_MAX)
			abort(); /* a table longer than CLI_OPTS_MAX */
		g->lo[n] = (struct option){o->name, o->has_arg ?
			required_argument : no_argument, NULL, 256 + (int)n};
		if (o->short_name) {
			*so++ = (char)o->short_name;
			if (o->has_arg)
				*so++ = ':';
		}
	}
	g->lo[n] = (struct option){NULL, 0, NULL, 0};
	*so = '\0';
	opterr = 0;
	optind = 1;
}

int
cli_getopt_next(struct cli_getopt *g, int argc, char **argv,
		const char **arg)
{
	const struct cli_opt *o;
	int ch, n = 0;

	ch = getopt_long(argc, argv, g->so, g->lo, NULL);
	*arg = optarg;
	if (ch == -1)
		return CLI_OPT_END;
	if (ch >= 256)
		return ch - 256;
	for (o = g->u->opts; o->name != NULL && ch != ':' && ch != '?';
	     o++, n++)
		if (o->short_name == ch)
			return n;
	if (ch == ':')
		fprintf(stderr, "pipewright: %s: %s needs an argument\n",
			g->u->name, argv[optind - 1]);
	else
		fprintf(stderr, "pipewright: %s: unknown option '%s'\n",
			g->u->name, argv[optind - 1]);
	return CLI_OPT_BAD;
}

int
cli_env_arg(const char *arg)
{
	size_t k = strcspn(arg, "=");

	if (arg[k] != '=' || !pw_env_name_valid(arg, k)) {
		fprintf(stderr, "pipewright: --env: expected KEY=VALUE with "
			"KEY a variable name, got '%s'\n", arg);
		return -1;
	}
	if (pw_env_name_reserved(arg, k)) {
		fprintf(stderr, "pipewright: --env: %.*s is set by pipewright "
			"and cannot be set\n", (int)k, arg);
		return -1;
	}
	return (int)k;
}
