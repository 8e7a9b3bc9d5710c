/*
 * pipewright's entry point: finds the subcommand in the table and runs it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cli_command commands[] = {
	{"run", "[-f FILE] [--jobs N] [--only JOB]... [--env KEY=VALUE]... "
		"[--approve JOB]... [--branch B] [--grace DURATION]",
	 "run a pipeline here, as the server would", cmd_run},
	{"validate", "FILE...", "check pipeline files", cmd_validate},
	{"serve", "[--config FILE] [--check]", "run the daemon", cmd_serve},
	{"status", "[PROJECT]", "the latest runs of each project", cmd_status},
	{"runs", "PROJECT [--status S] [--branch B] [--limit N]",
	 "a project's runs", cmd_runs},
	{"show", "RUN", "a run with its jobs and attempts", cmd_show},
	{"logs", "[-f] RUN JOB [--attempt N]", "a job's log; -f follows it",
	 cmd_logs},
	{"trigger", "PROJECT [--ref REF] [--commit SHA] [--env K=V]...",
	 "start a run", cmd_trigger},
	{"rerun", "RUN [--failed | JOB...]", "rerun the failed or named jobs",
	 cmd_rerun},
	{"cancel", "RUN", "cancel a run", cmd_cancel},
	{"approve", "RUN JOB", "approve a manual job", cmd_approve},
	{"queue", "[pause | resume]", "show, pause or resume the queue",
	 cmd_queue},
	{"token", "create [--config FILE] --name NAME --scope SCOPE",
	 "make an API token (printed once)", cmd_token},
	{"backup", "[--config FILE] OUT",
	 "copy the database while the daemon serves", cmd_backup},
	{"doctor", "[--config FILE]",
	 "check the database, files and disk of a daemon", cmd_doctor},
	{"upgrade", "[--config FILE]",
	 "replace the running daemon without downtime", cmd_upgrade},
	{"version", "", "print the version", cmd_version},
	{"help", "", "show this help", cmd_help},
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

static int
cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1) {
		for (i = 0; i < PW_ARRAY_LEN(commands); i++) {
			if (strcmp(commands[i].name, argv[1]) == 0) {
				printf("usage: pipewright %s %s\n",
				       commands[i].name, commands[i].usage);
				return CLI_OK;
			}
		}
	}
	usage(stdout);
	return CLI_OK;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
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
