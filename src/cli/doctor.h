/*
 * `pipewright doctor`'s parts, shared by doctor.c (the command, the
 * configuration, the store, the daemon's lock, the disk) and
 * doctor_dirs.c (the directories and supervisors compared with the store).
 *
 * Every check prints one line, "ok", "warning" or "problem", its name and
 * what it found with what to do about it, then the items it is about
 * indented below.  Nothing is ever changed: the hints say what to remove.
 */
#ifndef PIPEWRIGHT_CLI_DOCTOR_H
#define PIPEWRIGHT_CLI_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/config.h"
#include "pipewright/store.h"
#include "pipewright/util.h"

#define DOCTOR_MAX_ITEMS 50  /* items shown under one check; then a count */

enum doctor_level {
	DOCTOR_OK,
	DOCTOR_WARNING,
	DOCTOR_PROBLEM,
};

/* The lines under a check, gathered before its line says how many. */
struct doctor_items {
	struct buf b;        /* "\n"-separated, the first DOCTOR_MAX_ITEMS */
	size_t n;            /* all of them */
};

struct doctor {
	const struct config *config;
	const char *db;                /* config_db_path */
	char *attempts_dir;            /* <data_dir>/attempts, as the daemon's */
	char *workspaces_dir;          /* <data_dir>/workspaces */
	bool listed;                   /* `first` has the store's listing */
	struct store_file_check first; /* taken before the files are looked at */
	int problems, warnings;
};

void doctor_item(struct doctor_items *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the check's line and its items (it may be NULL), frees them. */
void doctor_say(struct doctor *d, enum doctor_level lv, const char *check,
		struct doctor_items *it, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* doctor_dirs.c: workspaces, attempts, supervisors, running attempts. */
void doctor_dirs(struct doctor *d);

#endif
