/*
 * The on-call client commands (status, runs, show, logs, trigger, rerun,
 * cancel, approve): private to src/cli/client*.c.
 *
 * A command describes its options and positional arguments in a
 * `struct client_spec`; client_parse() adds the options every client
 * command takes (--server, --json, --help) and fills a `struct client`.
 * Requests go through libcurl's easy interface: a command line may block.
 * Every function that talks to the server prints what went wrong itself
 * and returns an exit status (enum cli_exit): CLI_FAILED when the server
 * could not be reached or answered with an error, CLI_USAGE for local
 * mistakes.  The token ($PIPEWRIGHT_TOKEN) is sent, never printed.
 */
#ifndef PIPEWRIGHT_CLI_CLIENT_H
#define PIPEWRIGHT_CLI_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "cli.h"

#define CLIENT_DEFAULT_URL "http://127.0.0.1:8080"
#define CLIENT_CONNECT_TIMEOUT_MS 10000
#define CLIENT_TIMEOUT_MS 60000        /* whole request; none on follow */
#define CLIENT_JSON_MAX (64 << 20)     /* a JSON answer larger fails */
#define CLIENT_ERROR_MAX (64 << 10)    /* error bodies kept for the message */

/* What a command accepts, for parsing and --help. */
struct client_spec {
	const char *name;               /* "runs" */
	const char *args;               /* "PROJECT" */
	const struct cli_opt *opts;     /* its own, besides the common ones;
					   ends with CLI_OPT_NONE; may be NULL */
	int min_args, max_args;         /* positional; max -1: no limit */
	bool json;                      /* takes --json */
	/*
	 * Called for each of `opts` in the order given: the row's index and
	 * its argument (NULL without).  Returns 0, or CLI_USAGE after
	 * printing why.
	 */
	int (*option)(void *ctx, size_t opt, const char *arg);
};

struct client {
	char *server;           /* base URL, no trailing '/'; owned */
	const char *token;      /* $PIPEWRIGHT_TOKEN or NULL; not owned */
	bool json;              /* --json: print the server's JSON */
	char **args;            /* positional arguments (into argv) */
	int nargs;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode last_rc;       /* client_stream's transfer outcome */
};

/*
 * Parses argv (argv[0] is the command's name) by `spec` and readies c.
 * Returns CLI_OK; CLI_USAGE after printing the usage to stderr; or -1
 * after printing --help to stdout (the command then exits 0).
 * client_done() frees what c holds, also after a failed parse.
 */
int client_parse(struct client *c, const struct client_spec *spec,
		 void *ctx, int argc, char **argv);
void client_done(struct client *c);

/* A server's answer: its status and body. */
struct client_response {
	long status;        /* HTTP status, 0 if none arrived */
	struct buf body;    /* capped at CLIENT_JSON_MAX */
	cJSON *json;        /* the body parsed, or NULL; owned */
};

void client_response_free(struct client_response *r);

/*
 * Sends METHOD path (path begins with "/api/v1/...", already encoded)
 * with `body` as JSON if not NULL, and reads a JSON answer into *r.
 * CLI_OK for a 2xx answer with a JSON body; otherwise prints the reason
 * (the server's {"error": ...} message, or why it could not be reached)
 * and returns CLI_FAILED or CLI_USAGE.  Free *r in either case.
 */
int client_call(struct client *c, const char *method, const char *path,
		const cJSON *body, struct client_response *r) PW_WUR;

/*
 * Receives the body of a 2xx answer, as it arrives.  Returns 0, or
 * nonzero to stop the transfer.
 */
typedef int (*client_sink)(void *arg, const char *data, size_t len);

/*
 * GET path with the body of a 2xx answer passed to `sink` (no total
 * timeout when `follow`), and `headers` (may be NULL) added.  Returns
 * CLI_OK after a complete answer; after a failure of the transfer,
 * CLI_FAILED with *transport set (the caller may retry), having printed
 * nothing; after an error answer, CLI_FAILED having printed it.
 */
int client_stream(struct client *c, const char *path, bool follow,
		  struct curl_slist *headers, client_sink sink, void *arg,
		  bool *transport) PW_WUR;

/* Prints why a transfer failed ("cannot reach URL: reason"). */
void client_transport_error(struct client *c, CURLcode rc);

/* One path segment, percent-encoded (caller frees). */
char *client_escape(struct client *c, const char *segment);

/* A run id argument: a positive integer, else CLI_USAGE after saying so. */
int client_run_id(const char *arg, uint64_t *id) PW_WUR;

/* --json: the answer pretty-printed to stdout. */
void client_print_json(const cJSON *json);

/* JSON getters that accept anything: NULL or 0 when absent or mistyped. */
const char *json_str(const cJSON *obj, const char *key);
double json_num(const cJSON *obj, const char *key, double dflt);

/*
 * client_fmt.c: tables and times.  A table collects rows of strings and
 * prints them with aligned columns (the last one unpadded), like
 * `pipewright run`'s summary.
 */
struct table;

struct table *table_create(size_t ncols, const char *const *headers);
/* Copies the row's ncols strings (NULL prints "-"). */
void table_add(struct table *t, const char *const *cells);
void table_print(struct table *t, FILE *f, const char *indent);
size_t table_rows(const struct table *t);
void table_destroy(struct table *t);

/* An RFC 3339 time ("2026-11-23T22:16:27.123Z") in UTC ms; 0 if invalid. */
uint64_t fmt_parse_time(const char *s);
/* A time for people: local "YYYY-MM-DD HH:MM:SS", or "-". */
void fmt_time(const char *rfc3339, char *out, size_t len);
/*
 * From started to finished (or to now, when running), as "1m30s"; "-"
 * when it did not start.
 */
void fmt_span(const char *started, const char *finished, char *out,
	      size_t len);

/* The run list's columns (ID STATUS BRANCH COMMIT TRIGGER CREATED DURATION). */
struct table *fmt_runs_table(const cJSON *items);
/* A run's jobs (JOB STAGE STATUS ATTEMPTS DURATION). */
struct table *fmt_jobs_table(const cJSON *jobs);
/* Every attempt of every job (JOB ATTEMPT STATUS EXIT DURATION REASON). */
struct table *fmt_attempts_table(const cJSON *jobs);

#endif
