/*
 * pipewright's entry point: finds the subcommand in the table and runs it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cli_command commands[] = {
	{"run", "run a pipeline here, as the server would", cmd_run},
	{"validate", "check pipeline files", cmd_validate},
	{"serve", "run the daemon", cmd_serve},
	{"status", "the latest runs of each project", cmd_status},
	{"runs", "a project's runs", cmd_runs},
	{"show", "a run with its jobs and attempts", cmd_show},
	{"logs", "a job's log (-f follows it), or the run's own", cmd_logs},
	{"trigger", "start a run", cmd_trigger},
	{"rerun", "rerun the failed or named jobs", cmd_rerun},
	{"cancel", "cancel a run", cmd_cancel},
	{"approve", "approve a manual job", cmd_approve},
	{"queue", "show, pause or resume the queue", cmd_queue},
	{"artifacts", "download a run's artifacts", cmd_artifacts},
	{"tests", "a run's test results (--failed: the failures)", cmd_tests},
	{"cache", "list or delete a project's caches", cmd_cache},
	{"token", "make an API token (printed once)", cmd_token},
	{"backup", "copy the database while the daemon serves", cmd_backup},
	{"doctor", "check the database, files and disk of a daemon",
	 cmd_doctor},
	{"upgrade", "replace the running daemon without downtime",
	 cmd_upgrade},
	{"version", "print the version", cmd_version},
	{"help", "show this help, or a command's", cmd_help},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pipewright COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < PW_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pipewright COMMAND --help' shows a command's options.\n"
		   "exit status: 0 success, 1 failed, 2 invalid input or "
		   "usage, 130 interrupted\n");
}

/* `help CMD` is `CMD --help`: a command's usage has one source. */
static int
cmd_help(int argc, char **argv)
{
	char *args[] = {NULL, (char *)"--help", NULL};
	size_t i;

	if (argc > 1 && (strcmp(argv[1], "help") == 0 ||
			 strcmp(argv[1], "--help") == 0 ||
			 strcmp(argv[1], "-h") == 0)) {
		printf("usage: pipewright help [COMMAND]\n"
		       "The commands, or COMMAND's usage (as COMMAND --help)."
		       "\n");
		return CLI_OK;
	}
	if (argc > 1) {
		for (i = 0; i < PW_ARRAY_LEN(commands); i++) {
			if (strcmp(commands[i].name, argv[1]) == 0) {
				args[0] = argv[1];
				return commands[i].run(2, args);
			}
		}
	}
	usage(stdout);
	return CLI_OK;
}

static int
cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
			 strcmp(argv[1], "-h") == 0)) {
		printf("usage: pipewright version\n");
		return CLI_OK;
	}
	printf("pipewright %s\n", PW_VERSION);
	return CLI_OK;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv);
	for (i = 0; i < PW_ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "pipewright: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
