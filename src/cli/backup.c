/*
 * `pipewright backup [--config FILE] OUT`: an online copy of the daemon's
 * database while it serves.  The copy is one step of the store
 * (store_backup_file: VACUUM INTO from a read-only connection), so the
 * daemon keeps answering and committing throughout, and the copy is the
 * state of one moment: every run committed before the backup began is in
 * it.  OUT must not exist (exit 2, nothing touched): a backup never
 * replaces a file, so a mistyped name cannot destroy the previous one.
 * Restoring is docs/operations.md's "Backup and restore".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pipewright/config.h"
#include "pipewright/store.h"

enum { OPT_CONFIG, OPT_HELP };
static const struct cli_opt backup_opts[] = {
	[OPT_CONFIG] = CLI_OPT_CONFIG,
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage backup_usage = {"backup", "OUT", backup_opts,
	"OUT is a new file: an existing one is never replaced.  Safe while "
	"the daemon serves."};

int
cmd_backup(int argc, char **argv)
{
	const char *path = NULL, *out, *db, *arg;
	struct cli_getopt g;
	struct store_file_info info;
	struct config *c = NULL;
	char *err = NULL;
	struct stat st;
	int ch, rc;

	cli_getopt_init(&g, &backup_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_CONFIG:
			path = arg;
			break;
		case OPT_HELP:
			cli_usage_print(stdout, &backup_usage);
			return CLI_OK;
		default:
			return cli_usage_error(&backup_usage);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "pipewright: backup: %s\n", optind < argc ?
			"one OUT file, please" : "no OUT file given");
		return cli_usage_error(&backup_usage);
	}
	out = argv[optind];
	if ((path = cli_config_path(path)) == NULL)
		return CLI_USAGE;
	if (lstat(out, &st) == 0) {
		fprintf(stderr, "pipewright: %s exists; a backup never replaces"
			" a file, give a new name\n", out);
		return CLI_USAGE;
	}
	if (cli_config_load(path, &c, NULL) != CLI_OK)
		return CLI_USAGE;
	db = config_db_path(c);
	if (stat(db, &st) < 0) {
		fprintf(stderr, "pipewright: no database at %s: %s (has a "
			"daemon served with this configuration?)\n", db,
			strerror(errno));
		config_destroy(c);
		return CLI_FAILED;
	}
	rc = store_backup_file(db, out, &info, &err);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", err != NULL ? err :
			strerror(-rc));
		free(err);
		config_destroy(c);
		return rc == -EEXIST ? CLI_USAGE : CLI_FAILED;
	}
	printf("%s: copied %s: %llu bytes, %llu run%s, schema version %d\n",
	       out, db, (unsigned long long)info.bytes,
	       (unsigned long long)info.runs, info.runs == 1 ? "" : "s",
	       info.schema_version);
	config_destroy(c);
	return CLI_OK;
}
