/*
 * `pipewright doctor [--config FILE]`: what is wrong with a daemon's state,
 * one line per check, exit 0 if nothing is a problem (warnings included),
 * 1 if something is, 2 for bad usage.
 *
 * Read-only, and so safe while the daemon serves: the configuration is
 * loaded as `serve --check` loads it, the database is read on read-only
 * connections (store_check_file: PRAGMA integrity_check, the schema
 * version, what is still running), the directories are listed, sockets
 * are connected to and closed, and whether a daemon holds the pid file's
 * lock is read from /proc/locks rather than by taking the lock, which
 * could make a daemon starting at that moment fail.  A --fix is out of
 * scope on purpose: the hints say what to remove, and the operator does.
 *
 * Disk space: a problem when the state directory's filesystem has less
 * than both 1% and 100 MiB free, a warning under both 10% and 1 GiB.  Both
 * limits must be crossed, so that neither a large disk at 0.5% (still tens
 * of gigabytes) nor a small one with 500 MiB left (still plenty) is called
 * full.  The same percentages apply to inodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli.h"
#include "doctor.h"

#define MIB (1024ULL * 1024)
#define DISK_PROBLEM_BYTES (100 * MIB)
#define DISK_WARNING_BYTES (1024 * MIB)

static const char *const level_names[] = {
	[DOCTOR_OK] = "ok",
	[DOCTOR_WARNING] = "warning",
	[DOCTOR_PROBLEM] = "problem",
};

void
doctor_item(struct doctor_items *it, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (it->n++ >= DOCTOR_MAX_ITEMS)
		return;
	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_addf(&it->b, "%s%s", it->b.len > 0 ? "\n" : "", s);
	free(s);
}

void
doctor_say(struct doctor *d, enum doctor_level lv, const char *check,
	   struct doctor_items *it, const char *fmt, ...)
{
	const char *p, *nl;
	va_list ap;

	if (lv == DOCTOR_PROBLEM)
		d->problems++;
	else if (lv == DOCTOR_WARNING)
		d->warnings++;
	printf("%-8s %s: ", level_names[lv], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (it == NULL)
		return;
	for (p = it->b.data; p != NULL && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		printf("           %.*s\n", (int)(nl != NULL ? nl - p :
							  (long)strlen(p)), p);
		if (nl == NULL)
			break;
	}
	if (it->n > DOCTOR_MAX_ITEMS)
		printf("           ... and %zu more\n",
		       it->n - DOCTOR_MAX_ITEMS);
	buf_free(&it->b);
	it->n = 0;
}

/* ---- daemon: who holds the pid file's lock ---- */

/*
 * The pid of the flock(2) on the file with this device and inode, from
 * /proc/locks: 1 found (*pid may be -1 if the kernel does not say), 0 not
 * locked, -errno if /proc/locks cannot be read.
 */
static int
flock_holder(dev_t dev, ino_t ino, long *pid)
{
	unsigned int maj, min;
	unsigned long long inode;
	char line[256], type[16];
	FILE *f;
	int found = 0;

	f = fopen("/proc/locks", "re");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10953718 0 EOF" */
		if (sscanf(line, "%*s %15s %*s %*s %ld %x:%x:%llu", type, pid,
			   &maj, &min, &inode) != 5 ||
		    strcmp(type, "FLOCK") != 0)
			continue;
		if (inode == (unsigned long long)ino && maj == major(dev) &&
		    min == minor(dev)) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static void
check_daemon(struct doctor *d)
{
	const char *path = config_pid_file(d->config);
	char text[32] = "";
	struct stat st;
	long pid = -1;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		doctor_say(d, DOCTOR_OK, "daemon", NULL, "not running (no pid "
			   "file %s)", path);
		return;
	}
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	text[strcspn(text, "\n")] = '\0';
	rc = fstat(fd, &st) < 0 ? -errno : flock_holder(st.st_dev, st.st_ino,
							&pid);
	close(fd);
	if (rc < 0)
		doctor_say(d, DOCTOR_WARNING, "daemon", NULL, "cannot tell "
			   "whether a daemon holds %s: %s (the pid file says "
			   "%s)", path, strerror(-rc), *text ? text : "nothing");
	else if (rc == 1)
		doctor_say(d, DOCTOR_OK, "daemon", NULL, "running: pid %s holds "
			   "the lock on %s", pid > 0 ? text : "?", path);
	else
		doctor_say(d, DOCTOR_OK, "daemon", NULL, "not running (nobody "
			   "holds the lock on %s)", path);
}

/* ---- the store and its schema ---- */

static void
check_store(struct doctor *d)
{
	struct store_file_check *c = &d->first;
	struct doctor_items it = {0};
	const char *p, *nl;
	char *err = NULL;
	struct stat st;
	int rc;

	buf_init(&it.b, 0);
	if (stat(d->db, &st) < 0) {
		doctor_say(d, DOCTOR_WARNING, "store", NULL, "no database at %s"
			   " (%s): a daemon makes it when it first starts; if "
			   "one has served here, restore the latest backup",
			   d->db, strerror(errno));
		return;
	}
	rc = store_check_file(d->db, c, &err);
	if (rc < 0) {
		doctor_say(d, DOCTOR_PROBLEM, "store", NULL, "%s: stop the "
			   "daemon and restore the latest backup "
			   "(docs/operations.md, Backup and restore)",
			   err != NULL ? err : strerror(-rc));
		free(err);
		return;
	}
	if (c->ok) {
		doctor_say(d, DOCTOR_OK, "store", NULL, "%s: integrity_check "
			   "ok, %llu bytes", d->db,
			   (unsigned long long)st.st_size);
	} else {
		for (p = c->integrity; p != NULL && *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			doctor_item(&it, "%.*s", (int)(nl != NULL ? nl - p :
						 (long)strlen(p)), p);
			if (nl == NULL)
				break;
		}
		/* A listing that failed too is part of the same damage. */
		if (err != NULL)
			doctor_item(&it, "%s", err);
		doctor_say(d, DOCTOR_PROBLEM, "store", &it, "%s fails "
			   "integrity_check: stop the daemon and restore the "
			   "latest backup (docs/operations.md, Backup and "
			   "restore)", d->db);
	}
	buf_free(&it.b);
	d->listed = err == NULL;
	if (err != NULL && c->ok)
		doctor_say(d, DOCTOR_PROBLEM, "store", NULL, "%s", err);
	free(err);

	if (c->schema_version > c->schema_known)
		doctor_say(d, DOCTOR_PROBLEM, "schema", NULL, "version %d is "
			   "newer than this pipewright knows (%d): run the "
			   "pipewright that wrote it, or restore a backup made "
			   "before the upgrade", c->schema_version,
			   c->schema_known);
	else if (c->schema_version < c->schema_known)
		doctor_say(d, DOCTOR_OK, "schema", NULL, "version %d; the "
			   "daemon migrates it to %d when it starts",
			   c->schema_version, c->schema_known);
	else
		doctor_say(d, DOCTOR_OK, "schema", NULL, "version %d, the "
			   "newest this pipewright knows", c->schema_version);
}

/* ---- disk ---- */

static void
human(uint64_t bytes, char *out, size_t len)
{
	if (bytes >= 1024 * MIB)
		snprintf(out, len, "%.1f GiB", (double)bytes / (1024.0 * MIB));
	else if (bytes >= MIB)
		snprintf(out, len, "%.1f MiB", (double)bytes / MIB);
	else
		snprintf(out, len, "%llu KiB", (unsigned long long)bytes / 1024);
}

static void
check_disk(struct doctor *d)
{
	enum doctor_level lv = DOCTOR_OK;
	uint64_t total, avail;
	char a[32], t[32], *dir, *slash;
	struct statvfs vfs;
	double pct, ipct = 100;
	int rc;

	/* Before the first start, the filesystem it will be made on. */
	dir = xstrdup(config_data_dir(d->config));
	while ((rc = statvfs(dir, &vfs)) < 0 && errno == ENOENT &&
	       (slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (rc < 0) {
		doctor_say(d, DOCTOR_WARNING, "disk", NULL, "cannot look at %s:"
			   " %s", dir, strerror(errno));
		free(dir);
		return;
	}
	total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	pct = total > 0 ? 100.0 * (double)avail / (double)total : 100;
	if (vfs.f_files > 0)
		ipct = 100.0 * (double)vfs.f_favail / (double)vfs.f_files;
	if ((pct < 1 && avail < DISK_PROBLEM_BYTES) || ipct < 1)
		lv = DOCTOR_PROBLEM;
	else if ((pct < 10 && avail < DISK_WARNING_BYTES) || ipct < 10)
		lv = DOCTOR_WARNING;
	human(avail, a, sizeof(a));
	human(total, t, sizeof(t));
	doctor_say(d, lv, "disk", NULL, "%s: %s free of %s (%.1f%%), %.1f%% of "
		   "inodes free%s", dir, a, t, pct, ipct,
		   lv == DOCTOR_PROBLEM ? ": writes will fail (503); free "
					  "space now (old runs go with "
					  "keep_runs/keep_days)" :
		   lv == DOCTOR_WARNING ? ": running out; free space or lower "
					  "keep_runs/keep_days" : "");
	free(dir);
}

/* ---- the command ---- */

enum { OPT_CONFIG, OPT_HELP };
static const struct cli_opt doctor_opts[] = {
	[OPT_CONFIG] = CLI_OPT_CONFIG,
	[OPT_HELP] = CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage doctor_usage = {"doctor", "", doctor_opts,
	"Checks the configuration, the database, orphaned files, supervisors "
	"and disk\nspace; changes nothing, safe while the daemon serves.  "
	"Exit 0: no problem,\n1: a problem (each line says what to do)."};

int
cmd_doctor(int argc, char **argv)
{
	const char *path = NULL, *arg;
	struct cli_getopt g;
	struct doctor d = {0};
	struct config *c = NULL;
	size_t problems;
	int ch;

	cli_getopt_init(&g, &doctor_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		switch (ch) {
		case OPT_CONFIG:
			path = arg;
			break;
		case OPT_HELP:
			cli_usage_print(stdout, &doctor_usage);
			return CLI_OK;
		default:
			return cli_usage_error(&doctor_usage);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pipewright: unexpected argument '%s'\n",
			argv[optind]);
		return cli_usage_error(&doctor_usage);
	}
	if ((path = cli_config_path(path)) == NULL)
		return CLI_USAGE;
	if (cli_config_load(path, &c, &problems) != CLI_OK) {
		doctor_say(&d, DOCTOR_PROBLEM, "config", NULL, "%s: %zu "
			   "problem%s (above): fix them; nothing else can be "
			   "checked without it", path, problems,
			   problems == 1 ? "" : "s");
		return CLI_FAILED;
	}
	d.config = c;
	d.db = config_db_path(c);
	d.attempts_dir = xasprintf("%s/attempts", config_data_dir(c));
	d.workspaces_dir = xasprintf("%s/workspaces", config_data_dir(c));
	doctor_say(&d, DOCTOR_OK, "config", NULL, "%s: valid, %zu project%s",
		   config_path(c), config_project_count(c),
		   config_project_count(c) == 1 ? "" : "s");
	check_daemon(&d);
	check_store(&d);
	doctor_dirs(&d);
	check_disk(&d);
	printf("%d problem%s, %d warning%s\n", d.problems,
	       d.problems == 1 ? "" : "s", d.warnings,
	       d.warnings == 1 ? "" : "s");
	store_file_check_free(&d.first);
	free(d.attempts_dir);
	free(d.workspaces_dir);
	config_destroy(c);
	return d.problems > 0 ? CLI_FAILED : CLI_OK;
}
