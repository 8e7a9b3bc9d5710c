/*
 * `pipewright upgrade [--config FILE]`: asks the daemon to replace itself
 * with the configured binary (SIGUSR2, src/daemon/upgrade.c) and says how
 * it went.  The daemon answers no request about it, so this watches what
 * an upgrade leaves behind: the old pid gone and the pid file naming a
 * live new one (success), or <data_dir>/upgrade.result written after we
 * began and saying "failed: ..." (the old daemon goes on).  It waits up to
 * upgrade_timeout plus a margin, since the daemon itself gives up on the
 * new binary after upgrade_timeout.
 *
 * A pid is only ever compared with the pid file and /proc; a zombie counts
 * as gone, since the old daemon's parent (a shell, a test) may not have
 * reaped it yet.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "pipewright/config.h"
#include "pipewright/util.h"

#define UPGRADE_POLL_MS 50
#define UPGRADE_MARGIN_MS 10000 /* past upgrade_timeout: the daemon's word */

enum { OPT_CONFIG, OPT_HELP };
static const struct cli_opt upgrade_opts[] = {
	[OPT_CONFIG] = CLI_OPT_CONFIG,
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage upgrade_usage = {"upgrade", "", upgrade_opts,
	"Starts the configured binary in place of the running daemon, "
	"without downtime."};

/* The pid the file names, or 0. */
static long
read_pid(const char *path)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	long pid = 0;

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		pid = strtol(buf, NULL, 10);
	fclose(f);
	return pid > 0 ? pid : 0;
}

/* Exists and is not a zombie. */
static bool
alive(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return kill((pid_t)pid, 0) == 0 || errno == EPERM;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold anything, so the last ')'. */
	p = strrchr(buf, ')');
	return p == NULL || p[1] == '\0' || p[2] != 'Z';
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * "failed: ..." if the result file was written at or after `since` and
 * does not say "ok"; NULL otherwise.  `since` is taken from the coarse clock, the
 * one file times come from, so a file written after it is never older.
 */
static char *
failure(const char *path, const struct timespec *since)
{
	struct stat st;
	char buf[1024];
	FILE *f;

	if (stat(path, &st) < 0 ||
	    st.st_mtim.tv_sec < since->tv_sec ||
	    (st.st_mtim.tv_sec == since->tv_sec &&
	     st.st_mtim.tv_nsec < since->tv_nsec))
		return NULL;
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	/* The daemon truncates, then writes a line: wait for its end. */
	if (strchr(buf, '\n') == NULL)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	/* Anything but "ok PID" written since we began is a failure. */
	if (strncmp(buf, "ok ", 3) == 0)
		return NULL;
	return strncmp(buf, "failed:", 7) == 0 ? xstrdup(buf) :
						xasprintf("failed: %s", buf);
}

static int
watch(const struct config *c, long old)
{
	const char *pid_file = config_pid_file(c);
	char *result = NULL, *why;
	uint64_t deadline = mono_ms() + config_upgrade_timeout_ms(c) +
			    UPGRADE_MARGIN_MS;
	struct timespec since, nap = {0, UPGRADE_POLL_MS * 1000000L};
	long now;
	int rc = CLI_FAILED;

	clock_gettime(CLOCK_REALTIME_COARSE, &since);
	result = xasprintf("%s/upgrade.result", config_data_dir(c));
	if (kill((pid_t)old, SIGUSR2) < 0) {
		fprintf(stderr, "pipewright: cannot signal the daemon (pid "
			"%ld): %s\n", old, strerror(errno));
		free(result);
		return CLI_FAILED;
	}
	for (;;) {
		now = read_pid(pid_file);
		if (!alive(old) && now != 0 && now != old && alive(now)) {
			printf("upgraded: pid %ld \u2192 %ld\n", old, now);
			rc = CLI_OK;
			break;
		}
		if ((why = failure(result, &since)) != NULL) {
			fprintf(stderr, "pipewright: upgrade %s; the daemon "
				"(pid %ld) goes on\n", why, old);
			free(why);
			break;
		}
		if (!alive(old) && (now == 0 || now == old || !alive(now))) {
			/* Give the new one a moment to write its pid. */
			if (mono_ms() > deadline) {
				fprintf(stderr, "pipewright: the daemon (pid "
					"%ld) exited and no new one serves; "
					"see its log\n", old);
				break;
			}
		}
		if (mono_ms() > deadline) {
			fprintf(stderr, "pipewright: no result within %.1f s "
				"(upgrade_timeout + %d s): the daemon (pid %ld)"
				" did not finish the upgrade; see its log and "
				"%s\n", (double)(config_upgrade_timeout_ms(c) +
						  UPGRADE_MARGIN_MS) / 1000,
				UPGRADE_MARGIN_MS / 1000, old, result);
			break;
		}
		nanosleep(&nap, NULL);
	}
	free(result);
	return rc;
}

int
cmd_upgrade(int argc, char **argv)
{
	const char *path = NULL, *arg;
	struct cli_getopt g;
	struct config *c = NULL;
	long pid;
	int ch, rc;

	cli_getopt_init(&g, &upgrade_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_CONFIG:
			path = arg;
			break;
		case OPT_HELP:
			cli_usage_print(stdout, &upgrade_usage);
			return CLI_OK;
		default:
			return cli_usage_error(&upgrade_usage);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pipewright: upgrade: unexpected argument "
			"'%s'\n", argv[optind]);
		return cli_usage_error(&upgrade_usage);
	}
	if ((path = cli_config_path(path)) == NULL ||
	    cli_config_load(path, &c, NULL) != CLI_OK)
		return CLI_USAGE;
	pid = read_pid(config_pid_file(c));
	if (pid == 0 || !alive(pid)) {
		fprintf(stderr, "pipewright: no daemon is running for %s "
			"(%s %s)\n", path, pid == 0 ? "no pid in" :
			"no live process named by", config_pid_file(c));
		config_destroy(c);
		return CLI_FAILED;
	}
	rc = watch(c, pid);
	config_destroy(c);
	return rc;
}
