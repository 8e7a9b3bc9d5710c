/*
 * daemon: `pipewright serve` — one libuv loop that serves HTTP, schedules
 * runs and jobs with sched and exec, and keeps every run, job, attempt and
 * log byte in the store.
 *
 * Only serve's three calls are public: the api is handed what it needs as
 * a struct api_env (src/daemon/apienv.c fills it from the operations in
 * daemon-int.h), never the daemon itself.
 */
#ifndef PIPEWRIGHT_DAEMON_H
#define PIPEWRIGHT_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipewright/util.h"

/*
 * In the workspaces and attempts directories: where the daemon moves a
 * run's trees it is removing (off its loop); not a run's, so `doctor`
 * passes over it.
 */
#define DAEMON_FILES_GONE ".gone"

struct daemon;

struct daemon_options {
	const char *config_path;
	const char *supervisor_path; /* the pipewright-supervisor binary */
	int listen_fd;            /* an inherited listener, or -1 */
	int upgrade_fd;           /* started by an upgrade: the old daemon's
	                             socket (ready is reported on it, its end
	                             is heard on it), or -1 */
	const char *self_path;    /* this program, for upgrades (config
	                             `binary` overrides it); NULL: none */
};

/* Loads the config, opens the store, listens.  *err for people. */
int daemon_create(const struct daemon_options *opts, struct daemon **out,
		  char **err) PW_WUR;
/* Runs until SIGTERM/SIGINT and the drain; returns the exit status. */
int daemon_run(struct daemon *d);
void daemon_destroy(struct daemon *d);

#endif
