/*
 * `pipewright serve [--config FILE] [--check]`: the daemon.  --check only
 * reads the configuration and says what is wrong with it (exit 0 or 2),
 * like `httpd -n`.  The listener may be inherited: systemd's socket
 * activation (LISTEN_FDS=1 with LISTEN_PID our pid: descriptor 3), or
 * PIPEWRIGHT_LISTEN_FD (an upgrade hands its socket over that way).  An
 * inherited listener outlives the daemon's restarts, so the port is
 * never free for anyone else to take in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipewright/config.h"
#include "pipewright/daemon.h"

enum { OPT_CONFIG, OPT_CHECK, OPT_HELP };
static const struct cli_opt serve_opts[] = {
	[OPT_CONFIG] = CLI_OPT_CONFIG,
	[OPT_CHECK] = {"check", 0, false, NULL,
		       "check the configuration and exit"},
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage serve_usage = {"serve", "", serve_opts, NULL};

/*
 * The inherited listener: *fd, or -1 if none; CLI_USAGE (said) if the
 * environment names one wrongly.  sd_listen_fds(3)'s protocol, without
 * libsystemd: LISTEN_PID must be ours (the variables may have leaked from
 * a parent), descriptors start at 3, and we take exactly one.
 */
static int
inherited_listener(int *fd)
{
	const char *pw = getenv("PIPEWRIGHT_LISTEN_FD");
	const char *n = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	char *end;
	long v;

	*fd = -1;
	if (pw != NULL && *pw != '\0') {
		v = strtol(pw, &end, 10);
		if (*end != '\0' || v < 3 || v > INT_MAX) {
			fprintf(stderr, "pipewright: PIPEWRIGHT_LISTEN_FD='%s' "
				"is not a descriptor number\n", pw);
			return CLI_USAGE;
		}
		*fd = (int)v;
	} else if (n != NULL && pid != NULL &&
		   strtol(pid, &end, 10) == (long)getpid() && *end == '\0') {
		v = strtol(n, &end, 10);
		if (*end != '\0' || v != 1) {
			fprintf(stderr, "pipewright: LISTEN_FDS='%s': socket "
				"activation must pass exactly one socket (one "
				"ListenStream= in pipewright.socket)\n", n);
			return CLI_USAGE;
		}
		*fd = 3;  /* SD_LISTEN_FDS_START */
	}
	/* Ours only: not for git and the other programs we start. */
	unsetenv("PIPEWRIGHT_LISTEN_FD");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return CLI_OK;
}

static int
check(const char *path)
{
	struct config *c;

	if (cli_config_load(path, &c, NULL) != CLI_OK)
		return CLI_USAGE;
	printf("%s: valid, %zu project%s\n", path, config_project_count(c),
	       config_project_count(c) == 1 ? "" : "s");
	config_destroy(c);
	return CLI_OK;
}

int
cmd_serve(int argc, char **argv)
{
	struct daemon_options opts = {.listen_fd = -1, .upgrade_fd = -1};
	const char *up_env = getenv("PIPEWRIGHT_UPGRADE_FD"), *given = NULL;
	char sup[PATH_MAX], self[PATH_MAX], *err = NULL, *end;
	struct cli_getopt g;
	const char *arg;
	ssize_t n;
	struct daemon *d;
	bool only_check = false;
	int ch, rc;

	cli_getopt_init(&g, &serve_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_CONFIG:
			given = arg;
			break;
		case OPT_CHECK:
			only_check = true;
			break;
		case OPT_HELP:
			cli_usage_print(stdout, &serve_usage);
			return CLI_OK;
		default:
			return cli_usage_error(&serve_usage);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipewright: serve: unexpected argument '%s'\n",
			argv[optind]);
		return cli_usage_error(&serve_usage);
	}
	if ((opts.config_path = cli_config_path(given)) == NULL)
		return CLI_USAGE;
	if (only_check)
		return check(opts.config_path);
	if ((rc = inherited_listener(&opts.listen_fd)) != CLI_OK)
		return rc;
	if (up_env != NULL && *up_env != '\0') {
		long fd = strtol(up_env, &end, 10);

		if (*end != '\0' || fd < 3 || fd > INT_MAX) {
			fprintf(stderr, "pipewright: PIPEWRIGHT_UPGRADE_FD='%s' "
				"is not a descriptor number\n", up_env);
			return CLI_USAGE;
		}
		/* Not for the jobs and helpers we start. */
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
			fprintf(stderr, "pipewright: PIPEWRIGHT_UPGRADE_FD=%ld: "
				"%s\n", fd, strerror(errno));
			return CLI_USAGE;
		}
		opts.upgrade_fd = (int)fd;
	}
	unsetenv("PIPEWRIGHT_UPGRADE_FD");
	/*
	 * An upgrade starts the program by the name it has now, read before
	 * anyone replaces the file (afterwards /proc/self/exe names the old,
	 * deleted one).
	 */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		opts.self_path = self;
	}
	if (cli_supervisor_path(sup, sizeof(sup)) < 0) {
		fprintf(stderr, "pipewright: cannot find pipewright-supervisor "
			"next to this program nor at %s\n", sup);
		return CLI_FAILED;
	}
	opts.supervisor_path = sup;
	rc = daemon_create(&opts, &d, &err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err != NULL ? err : strerror(-rc));
		free(err);
		return rc == -EINVAL ? CLI_USAGE : CLI_FAILED;
	}
	rc = daemon_run(d);
	daemon_destroy(d);
	return rc;
}
