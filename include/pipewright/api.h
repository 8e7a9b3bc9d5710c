/*
 * api: the REST API v1, its JSON (cJSON) and the OpenAPI document.
 *
 * Handlers act through the daemon's calls (daemon.h) and read the store
 * directly; they check bearer tokens (auth) and answer errors as
 * {"error": {"code", "message"}}.  The api object also counts HTTP
 * requests by route and status for /metrics.
 */
#ifndef PIPEWRIGHT_API_H
#define PIPEWRIGHT_API_H

#include <stddef.h>
#include <stdint.h>

#include "pipewright/http.h"
#include "pipewright/util.h"

struct api;
struct daemon;

int api_create(struct daemon *d, struct api **out) PW_WUR;
void api_destroy(struct api *a);
/* The route table; the handlers' argument is the api object. */
size_t api_routes(const struct api *a, const struct http_route **routes);
/* An http_guard_cb (arg: the api): the Host check (421). */
bool api_guard(struct http_request *req, void *arg);
/* An http_log_cb (arg: the api): counts requests and logs them. */
void api_log_request(void *arg, const struct http_request *req, int status,
		     uint64_t duration_us);

#endif
