/*
 * Unit tests for the api module: its handlers behind a real HTTP server on
 * 127.0.0.1, port 0, with a real store (a SQLite file in a fresh
 * temporary directory) and a fake api_env in place of the daemon.  The
 * fake's trigger writes the run to the store as the daemon would (no
 * scheduler, no jobs); its other operations record what they were asked.
 *
 * A client on a second thread sends requests over blocking sockets and
 * records its first failed check in the fixture; the main thread runs the
 * loop until the client is done and asserts on the record, and on what
 * the fake env saw, once the loop has ended.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipewright/api.h"
#include "pipewright/auth.h"
#include "pipewright/config.h"
#include "pipewright/pipeline.h"
#include "pipewright/store.h"

static const double bounds[API_DURATION_BUCKETS] = {
	0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 1e300,
};

struct fx;
typedef void (*client_fn)(struct fx *fx);

struct fx {
	char dir[64];
	char db[128];
	uv_loop_t loop;
	struct store *store;
	struct config *config;
	struct api *api;
	struct http_server *http;
	uv_async_t done;
	pthread_t th;
	int port;
	client_fn client;
	char fail[1024];           /* the client's first failed check */
	/* tokens, by scope */
	char reader[AUTH_TOKEN_LEN + 1], operator[AUTH_TOKEN_LEN + 1];
	char admin[AUTH_TOKEN_LEN + 1];
	/* what the fake env was asked */
	int triggers;
	char trigger_actor[64], trigger_env[256];
	int pauses;
	char pause_actor[64];
	int blob_opens, blob_closes, extracts, cache_deletes;
	char cache_delete_actor[64];
};

/* ---- the fake env (loop thread) ---- */

static const struct config *
env_config(void *ctx)
{
	return ((struct fx *)ctx)->config;
}

static const char *
env_public_url(void *ctx)
{
	(void)ctx;
	return "http://pw.test";
}

static bool
env_ready(void *ctx)
{
	(void)ctx;
	return true;
}

struct fake_trigger {
	struct store_run_new run;
	uint64_t id;
	api_done_cb cb;
	void *arg;
};

static int
trigger_fn(struct store_tx *tx, void *arg)
{
	struct fake_trigger *t = arg;

	return store_tx_run_insert(tx, &t->run, &t->id);
}

static void
trigger_done(int rc, void *arg)
{
	struct fake_trigger *t = arg;

	t->cb(rc, t->id, rc < 0 ? "cannot record the run" : NULL, t->arg);
	free(t);
}

/* What the daemon does first: the run, committed, before the answer. */
static void
env_trigger(void *ctx, const struct api_trigger *tr, api_done_cb cb, void *arg)
{
	struct fx *fx = ctx;
	struct fake_trigger *t = xcalloc(1, sizeof(*t));
	size_t i;

	fx->triggers++;
	snprintf(fx->trigger_actor, sizeof(fx->trigger_actor), "%s", tr->actor);
	fx->trigger_env[0] = '\0';
	for (i = 0; tr->env != NULL && tr->env[i] != NULL; i++)
		snprintf(fx->trigger_env + strlen(fx->trigger_env),
			 sizeof(fx->trigger_env) - strlen(fx->trigger_env),
			 "%s%s", i > 0 ? " " : "", tr->env[i]);
	t->run = (struct store_run_new){
		.project = "demo", .status = "queued", .trigger = tr->trigger,
		.actor = "operator", .created_at = pw_now_ms(),
	};
	t->cb = cb;
	t->arg = arg;
	store_write(fx->store, trigger_fn, trigger_done, t);
}

static void
env_refuse(void *ctx, uint64_t run, const char *actor, api_done_cb cb,
	   void *arg)
{
	(void)ctx;
	(void)actor;
	cb(-ENOENT, run, "no such run here", arg);
}

static void
env_rerun(void *ctx, uint64_t run, const char *const *names, const char *actor,
	  api_done_cb cb, void *arg)
{
	(void)names;
	env_refuse(ctx, run, actor, cb, arg);
}

static void
env_approve(void *ctx, uint64_t run, const char *job, const char *actor,
	    api_done_cb cb, void *arg)
{
	(void)job;
	env_refuse(ctx, run, actor, cb, arg);
}

static void
env_queue_pause(void *ctx, bool paused, const char *actor, api_done_cb cb,
		void *arg)
{
	struct fx *fx = ctx;

	(void)paused;
	fx->pauses++;
	snprintf(fx->pause_actor, sizeof(fx->pause_actor), "%s", actor);
	cb(0, 0, NULL, arg);
}

static void
env_queue_state(void *ctx, bool *paused, size_t *queued, size_t *running)
{
	(void)ctx;
	*paused = false;
	*queued = 0;
	*running = 0;
}

static int
env_follow(void *ctx, uint64_t attempt, uint64_t offset,
	   const struct api_follow_cbs *cbs, void **handle)
{
	(void)ctx;
	(void)attempt;
	(void)offset;
	(void)cbs;
	(void)handle;
	return -ENOENT;
}

static void
env_unfollow(void *ctx, void *handle)
{
	(void)ctx;
	(void)handle;
}

static void
env_stats(void *ctx, struct api_stats *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->duration_bounds = bounds;
}

/* Blobs are files named by their digest in <dir>/blobs. */
static int
env_blob_open(void *ctx, const char *digest, int *fd, uint64_t *size,
	      void **handle)
{
	struct fx *fx = ctx;
	struct stat st;
	char path[256];
	int f;

	snprintf(path, sizeof(path), "%s/blobs/%s", fx->dir, digest);
	if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	assert_int_equal(fstat(f, &st), 0);
	fx->blob_opens++;
	*fd = f;
	*size = (uint64_t)st.st_size;
	*handle = xmalloc(sizeof(int));
	*(int *)*handle = f;
	return 0;
}

static void
env_blob_close(void *ctx, void *handle)
{
	struct fx *fx = ctx;

	fx->blob_closes++;
	close(*(int *)handle);
	free(handle);
}

/* The one file every archive holds: a.txt, "hello\n". */
static void
env_blob_extract(void *ctx, const char *digest, const char *path,
		 api_extract_cb cb, void *arg)
{
	struct fx *fx = ctx;
	FILE *f;
	int fd;

	(void)digest;
	fx->extracts++;
	if (strcmp(path, "dir/a.txt") != 0) {
		cb(-ENOENT, -1, 0, arg);
		return;
	}
	f = tmpfile();
	assert_non_null(f);
	fputs("hello\n", f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	cb(0, fd, 6, arg);
}

struct fake_delete {
	const char *project, *key, *scope;
	uint64_t n;
	api_done_cb cb;
	void *arg;
};

static int
cache_delete_fn(struct store_tx *tx, void *arg)
{
	struct fake_delete *c = arg;

	return store_tx_cache_delete(tx, c->project, c->key, c->scope, &c->n);
}

static void
cache_delete_done(int rc, void *arg)
{
	struct fake_delete *c = arg;

	c->cb(rc, c->n, NULL, c->arg);
	free(c);
}

/* What the daemon does (less its audit row): the rows, committed. */
static void
env_cache_delete(void *ctx, const char *project, const char *key,
		 const char *scope, const char *actor, api_done_cb cb,
		 void *arg)
{
	struct fx *fx = ctx;
	struct fake_delete *c = xcalloc(1, sizeof(*c));

	fx->cache_deletes++;
	snprintf(fx->cache_delete_actor, sizeof(fx->cache_delete_actor), "%s",
		 actor);
	*c = (struct fake_delete){project, key, scope, 0, cb, arg};
	store_write(fx->store, cache_delete_fn, cache_delete_done, c);
}

/* ---- the client (its own thread) ---- */

static void
check(struct fx *fx, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok || fx->fail[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(fx->fail, sizeof(fx->fail), fmt, ap);
	va_end(ap);
}

/*
 * One request on its own connection; the answer's status, and its body
 * into body (NUL-terminated, cut at len).  token NULL: none.
 */
static int
request(struct fx *fx, const char *method, const char *path,
	const char *token, const char *json, char *body, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char out[2048], auth[128] = "", type[96] = "", in[65536], *p;
	size_t got = 0;
	ssize_t n;
	int fd, status = -1;

	sa.sin_port = htons((uint16_t)fx->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		check(fx, false, "connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (token != NULL)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
			 token);
	if (json != NULL)
		snprintf(type, sizeof(type), "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n", strlen(json));
	snprintf(out, sizeof(out), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\n%s%s\r\n%s", method, path, auth, type,
		 json != NULL ? json : "");
	if (write(fd, out, strlen(out)) != (ssize_t)strlen(out))
		check(fx, false, "write: %s", strerror(errno));
	while (got < sizeof(in) - 1 &&
	       (n = read(fd, in + got, sizeof(in) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	in[got] = '\0';
	if (sscanf(in, "HTTP/1.1 %d", &status) != 1)
		check(fx, false, "%s %s: no status in '%.80s'", method, path, in);
	p = strstr(in, "\r\n\r\n");
	snprintf(body, len, "%s", p != NULL ? p + 4 : "");
	return status;
}

/* A request that must answer status, and a body that holds want. */
static void
expect(struct fx *fx, const char *method, const char *path, const char *token,
       const char *json, int status, const char *want)
{
	char body[8192];
	int got = request(fx, method, path, token, json, body, sizeof(body));

	check(fx, got == status, "%s %s: status %d, wanted %d (%s)", method,
	      path, got, status, body);
	check(fx, want == NULL || strstr(body, want) != NULL,
	      "%s %s: '%s' not in %s", method, path, want, body);
}

static void *
client_main(void *arg)
{
	struct fx *fx = arg;

	fx->client(fx);
	uv_async_send(&fx->done);
	return NULL;
}

/* ---- fixture (loop thread) ---- */

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
on_http_closed(void *arg)
{
	(void)arg;
}

static void
on_done(uv_async_t *h)
{
	struct fx *fx = h->data;

	http_server_close(fx->http, on_http_closed, NULL);
	uv_close((uv_handle_t *)&fx->done, NULL);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
load_config(struct fx *fx, const char *extra)
{
	struct pipeline_problems pp;
	char path[256], text[1024];

	snprintf(path, sizeof(path), "%s/demo.yml", fx->dir);
	write_file(path, "jobs:\n  build:\n    script: [\"true\"]\n");
	snprintf(text, sizeof(text),
		 "listen: 127.0.0.1:0\ndata_dir: %s/data\n%s"
		 "projects:\n  - name: demo\n    pipeline: demo.yml\n",
		 fx->dir, extra);
	snprintf(path, sizeof(path), "%s/pipewright.yml", fx->dir);
	write_file(path, text);
	pipeline_problems_init(&pp);
	if (config_load(path, &fx->config, &pp) < 0) {
		config_print_problems(stderr, &pp);
		fail_msg("config_load");
	}
	pipeline_problems_free(&pp);
}

struct token_write {
	const char *name, *scope;
	char hash[AUTH_HASH_HEX];
	int rc; /* 1 until done */
};

static int
token_fn(struct store_tx *tx, void *arg)
{
	struct token_write *t = arg;

	return store_tx_token_insert(tx, t->name, t->scope, t->hash,
				     pw_now_ms());
}

static void
token_done(int rc, void *arg)
{
	((struct token_write *)arg)->rc = rc;
}

static void
add_token(struct fx *fx, const char *name, const char *scope, char *token)
{
	struct token_write t = {name, scope, {0}, 1};

	assert_int_equal(auth_token_new(token), 0);
	assert_int_equal(auth_hash(token, t.hash), 0);
	store_write(fx->store, token_fn, token_done, &t);
	while (t.rc == 1)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(t.rc, 0);
}

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	char *err = NULL;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pw-api-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/pipewright.db", fx->dir);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	if (store_open(&fx->loop, fx->db, &fx->store, &err) < 0)
		fail_msg("store_open: %s", err);
	add_token(fx, "reader", "read", fx->reader);
	add_token(fx, "operator", "operate", fx->operator);
	add_token(fx, "admin", "admin", fx->admin);
	*state = fx;
	return 0;
}

static void
on_store_closed(void *arg)
{
	(void)arg;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	store_close(fx->store, on_store_closed, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	config_destroy(fx->config);
	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Serves the api with config `extra` until the client is done. */
static void
serve(struct fx *fx, const char *extra, client_fn client)
{
	struct api_env env = {
		.store = fx->store,
		.config = env_config,
		.public_url = env_public_url,
		.ready = env_ready,
		.trigger = env_trigger,
		.cancel = env_refuse,
		.rerun = env_rerun,
		.approve = env_approve,
		.queue_pause = env_queue_pause,
		.queue_state = env_queue_state,
		.follow = env_follow,
		.unfollow = env_unfollow,
		.stats = env_stats,
		.blob_open = env_blob_open,
		.blob_close = env_blob_close,
		.blob_extract = env_blob_extract,
		.cache_delete = env_cache_delete,
		.loop = &fx->loop,
		.ctx = fx,
	};
	const struct http_route *routes;
	char host[64];
	size_t n;

	load_config(fx, extra);
	assert_int_equal(api_create(&env, &fx->api), 0);
	n = api_routes(fx->api, &routes);
	assert_int_equal(http_server_create(&fx->loop, NULL, routes, n, fx->api,
					    &fx->http), 0);
	http_server_set_log(fx->http, api_log_request, fx->api);
	http_server_set_guard(fx->http, api_guard, fx->api);
	assert_int_equal(http_server_listen(fx->http, "127.0.0.1:0", -1, host,
					    sizeof(host), &fx->port), 0);
	fx->client = client;
	fx->done.data = fx;
	uv_async_init(&fx->loop, &fx->done, on_done);
	assert_int_equal(pthread_create(&fx->th, NULL, client_main, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	pthread_join(fx->th, NULL);
	api_destroy(fx->api);
	if (fx->fail[0] != '\0')
		fail_msg("%s", fx->fail);
}

/* ---- tests ---- */

static void
c_trigger(struct fx *fx)
{
	char body[8192];
	int st;

	st = request(fx, "POST", "/api/v1/projects/demo/runs", fx->operator,
		     "{\"env\": {\"GREETING\": \"hi\"}}", body, sizeof(body));
	check(fx, st == 201, "trigger: %d %s", st, body);
	check(fx, strstr(body, "\"id\":1,\"project\":\"demo\",\"status\":"
				"\"queued\",\"trigger\":\"api\"") != NULL,
	      "trigger answered %s", body);
	check(fx, strstr(body, "\"url\":\"http://pw.test/api/v1/runs/1\"") !=
			  NULL, "trigger answered %s", body);
	/* What the answer said is what the store has. */
	expect(fx, "GET", "/api/v1/runs/1", fx->reader, NULL, 200,
	       "\"id\":1,\"project\":\"demo\",\"status\":\"queued\"");
	expect(fx, "GET", "/api/v1/projects/demo/runs", fx->reader, NULL, 200,
	       "{\"items\":[{\"id\":1,");
}

/* A trigger is answered with the run the env committed to the store. */
static void
test_trigger_makes_run(void **state)
{
	struct fx *fx = *state;

	serve(fx, "", c_trigger);
	assert_int_equal(fx->triggers, 1);
	assert_string_equal(fx->trigger_actor, "token operator");
	assert_string_equal(fx->trigger_env, "GREETING=hi");
}

static void
c_env_names(struct fx *fx)
{
	const char *runs = "/api/v1/projects/demo/runs";

	expect(fx, "POST", runs, fx->operator, "{\"env\": {\"PIPEWRIGHT_JOB\": "
	       "\"x\"}}", 400, "env 'PIPEWRIGHT_JOB': PIPEWRIGHT_* variables "
	       "are set by pipewright");
	expect(fx, "POST", runs, fx->operator, "{\"env\": {\"1BAD\": \"x\"}}",
	       400, "env '1BAD': expected a variable name with a string value");
	expect(fx, "POST", runs, fx->operator, "{\"env\": {\"A-B\": \"x\"}}",
	       400, "env 'A-B': expected a variable name");
	expect(fx, "POST", runs, fx->operator, "{\"env\": {\"N\": 1}}", 400,
	       "env 'N': expected a variable name with a string value");
	/* Only PIPEWRIGHT_ with its underscore is reserved (docs/pipeline.md). */
	expect(fx, "POST", runs, fx->operator, "{\"env\": {\"PIPEWRIGHTX\": "
	       "\"1\", \"_x\": \"2\"}}", 201, "\"status\":\"queued\"");
}

/* The trigger's env names follow the one rule of util (pw_env_name_*). */
static void
test_trigger_env_names(void **state)
{
	struct fx *fx = *state;

	serve(fx, "", c_env_names);
	assert_int_equal(fx->triggers, 1);
	assert_string_equal(fx->trigger_env, "PIPEWRIGHTX=1 _x=2");
}

static void
c_scopes(struct fx *fx)
{
	static const char *const bare = "{\"error\":{\"code\":\"unauthorized\"";

	/* none */
	expect(fx, "GET", "/healthz", NULL, NULL, 200, "ok");
	expect(fx, "GET", "/readyz", NULL, NULL, 200, "ready");
	expect(fx, "GET", "/api/v1/openapi.json", NULL, NULL, 200, "openapi");
	/* read */
	expect(fx, "GET", "/api/v1/projects", NULL, NULL, 401, bare);
	expect(fx, "GET", "/api/v1/projects", "pw_nosuchtoken", NULL, 401,
	       "the bearer token is not valid");
	expect(fx, "GET", "/api/v1/projects", fx->reader, NULL, 200,
	       "\"name\":\"demo\"");
	expect(fx, "GET", "/api/v1/runs/1/events", NULL, NULL, 401, bare);
	expect(fx, "GET", "/api/v1/outbox", NULL, NULL, 401, bare);
	expect(fx, "GET", "/api/v1/queue", fx->reader, NULL, 200,
	       "\"paused\":false");
	expect(fx, "GET", "/metrics", NULL, NULL, 401, bare);
	expect(fx, "GET", "/metrics", fx->reader, NULL, 200,
	       "pipewright_queue_depth 0");
	expect(fx, "GET", "/badge/demo.svg", NULL, NULL, 200, "<svg");
	expect(fx, "GET", "/badge/nosuch.svg", NULL, NULL, 401, bare);
	/* operate */
	expect(fx, "POST", "/api/v1/projects/demo/runs", NULL, "{}", 401, bare);
	expect(fx, "POST", "/api/v1/projects/demo/runs", fx->reader, "{}", 403,
	       "the token 'reader' lacks the 'operate' scope");
	expect(fx, "POST", "/api/v1/runs/7/cancel", fx->reader, NULL, 403,
	       "lacks the 'operate' scope");
	expect(fx, "POST", "/api/v1/runs/7/cancel", fx->operator, NULL, 404,
	       "no such run here");
	expect(fx, "POST", "/api/v1/runs/7/rerun", fx->reader, NULL, 403,
	       "lacks the 'operate' scope");
	expect(fx, "POST", "/api/v1/runs/7/jobs/build/approve", fx->reader,
	       NULL, 403, "lacks the 'operate' scope");
	/* admin */
	expect(fx, "POST", "/api/v1/queue/pause", fx->operator, NULL, 403,
	       "the token 'operator' lacks the 'admin' scope");
	expect(fx, "POST", "/api/v1/queue/resume", fx->operator, NULL, 403,
	       "lacks the 'admin' scope");
	expect(fx, "POST", "/api/v1/queue/pause", fx->admin, NULL, 200,
	       "\"paused\":false");
	expect(fx, "GET", "/api/v1/audit", fx->operator, NULL, 403,
	       "the token 'operator' lacks the 'admin' scope");
	expect(fx, "GET", "/api/v1/audit", fx->admin, NULL, 200,
	       "{\"items\":[],\"next_cursor\":null}");
	/* hook: the signature, not a token */
	expect(fx, "POST", "/hooks/generic?project=demo", NULL, "{}", 401,
	       "the webhook's signature is not valid");
}

/* Each route asks for its table row's scope, and nothing more. */
static void
test_scopes(void **state)
{
	struct fx *fx = *state;

	serve(fx, "", c_scopes);
	assert_int_equal(fx->triggers, 0);
	assert_int_equal(fx->pauses, 1);
	assert_string_equal(fx->pause_actor, "token admin");
}

static void
c_anonymous(struct fx *fx)
{
	expect(fx, "GET", "/api/v1/projects", NULL, NULL, 200, "demo");
	expect(fx, "GET", "/metrics", NULL, NULL, 200, "pipewright_runs");
	/* A bad token is refused even where none is needed. */
	expect(fx, "GET", "/api/v1/projects", "pw_nosuchtoken", NULL, 401,
	       "the bearer token is not valid");
	expect(fx, "POST", "/api/v1/projects/demo/runs", NULL, "{}", 401,
	       "a bearer token is required");
	expect(fx, "POST", "/api/v1/queue/pause", NULL, NULL, 401,
	       "a bearer token is required");
	expect(fx, "GET", "/api/v1/audit", NULL, NULL, 401,
	       "a bearer token is required");
}

/* anonymous_read opens reads only; metrics: public opens /metrics. */
static void
test_scopes_anonymous_read(void **state)
{
	serve(*state, "anonymous_read: true\n", c_anonymous);
}

static void
c_public_metrics(struct fx *fx)
{
	expect(fx, "GET", "/metrics", NULL, NULL, 200, "pipewright_runs");
	expect(fx, "GET", "/api/v1/projects", NULL, NULL, 401,
	       "a bearer token is required");
}

static void
test_scopes_metrics_public(void **state)
{
	serve(*state, "metrics: public\n", c_public_metrics);
}

static void
c_metrics_unreadable(struct fx *fx)
{
	char body[16384];
	int st;

	st = request(fx, "GET", "/metrics", fx->reader, NULL, body,
		     sizeof(body));
	check(fx, st == 200, "metrics: %d %s", st, body);
	check(fx, strstr(body, "# pipewright_runs and pipewright_queue_depth "
			       "left out: cannot read the runs: ") != NULL,
	      "metrics do not say what is left out: %s", body);
	/* Not a depth of 0 that is not known: left out. */
	check(fx, strstr(body, "\npipewright_queue_depth ") == NULL,
	      "metrics show a queue depth they could not count: %s", body);
	check(fx, strstr(body, "pipewright_store_commits_total ") != NULL,
	      "metrics left out more than the runs: %s", body);
}

/*
 * The store failing to count the runs is said, not lost in the text's
 * error code: /metrics leaves the counts out and says why.
 */
static void
test_metrics_store_error(void **state)
{
	struct fx *fx = *state;
	sqlite3 *db;

	/* Another process breaking the schema makes the count fail. */
	assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE runs RENAME TO gone",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	serve(fx, "", c_metrics_unreadable);
}

static void
c_missing(struct fx *fx)
{
	expect(fx, "GET", "/api/v1/runs/99", fx->reader, NULL, 404,
	       "{\"error\":{\"code\":\"not_found\",\"message\":\"no run 99\"}}");
	expect(fx, "GET", "/api/v1/runs/99/events", fx->reader, NULL, 404,
	       "{\"error\":{\"code\":\"not_found\",\"message\":\"no run 99\"}}");
	expect(fx, "GET", "/api/v1/runs/99/jobs/build/log", fx->reader, NULL,
	       404, "no run 99");
	expect(fx, "GET", "/api/v1/runs/x", fx->reader, NULL, 400,
	       "run id must be a positive integer, got 'x'");
	expect(fx, "GET", "/api/v1/projects/nosuch/runs", fx->reader, NULL,
	       404, "no project 'nosuch'");
}

/* A run that is not in the store: 404 with a JSON error. */
static void
test_missing_run(void **state)
{
	serve(*state, "", c_missing);
}

/* ---- artifacts and caches ---- */

#define DIGEST_APP \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_OLD \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_LOST \
	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define APP_BYTES (5 * 1024 * 1024 + 17)

struct rows {
	uint64_t run;
	int rc; /* 1 until done */
};

static int
rows_fn(struct store_tx *tx, void *arg)
{
	struct rows *r = arg;
	struct store_run_new run = {
		.project = "demo", .status = "success", .trigger = "api",
		.branch = "main", .created_at = 1,
	};
	struct store_artifact_new art = {
		.job_idx = 0, .job_name = "build", .files = 2,
		.created_ms = 1000, .expires_ms = 0,
	};
	struct store_cache_new c = {
		.project = "demo", .scope = "branch:main", .key = "cargo-1",
		.digest = DIGEST_OLD, .size = 42, .created_ms = 1000,
	};
	bool won;
	int rc;

	if ((rc = store_tx_run_insert(tx, &run, &r->run)) < 0)
		return rc;
	art.run = r->run;
	art.name = "app";
	art.digest = DIGEST_APP;
	art.size = APP_BYTES;
	if ((rc = store_tx_artifact_insert(tx, &art)) < 0)
		return rc;
	art.name = "old \"one\"";
	art.digest = DIGEST_OLD;
	art.expires_ms = 86400000;
	if ((rc = store_tx_artifact_insert(tx, &art)) < 0 ||
	    (rc = store_tx_artifact_expire(tx, r->run, art.name,
					   90000000)) < 0)
		return rc;
	art.name = "lost";
	art.digest = DIGEST_LOST;
	art.expires_ms = 0;
	if ((rc = store_tx_artifact_insert(tx, &art)) < 0 ||
	    (rc = store_tx_cache_insert(tx, &c, &won)) < 0)
		return rc;
	c.scope = "pr:3";
	c.key = "cargo-2";
	c.created_ms = 2000;
	return store_tx_cache_insert(tx, &c, &won);
}

static void
rows_done(int rc, void *arg)
{
	((struct rows *)arg)->rc = rc;
}

/* A run with artifacts app (a blob file), old (expired), lost (no blob). */
static void
artifact_rows(struct fx *fx)
{
	struct rows r = {0, 1};
	char path[256];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/blobs", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/blobs/%s", fx->dir, DIGEST_APP);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < APP_BYTES; i++)
		fputc((int)((i * 7 + i / 4096) & 0xff), f);
	assert_int_equal(fclose(f), 0);
	store_write(fx->store, rows_fn, rows_done, &r);
	while (r.rc == 1)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.run, 1);
}

/*
 * A whole GET on its own connection: status, the head (cut at headlen)
 * and the body, de-chunked (caller frees *body).
 */
static int
fetch(struct fx *fx, const char *path, char *head, size_t headlen,
      char **body, size_t *len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct buf in, out;
	char req[512], tmp[65536], *p, *end;
	unsigned long n;
	ssize_t got;
	int fd, status = -1;

	sa.sin_port = htons((uint16_t)fx->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	/*
	 * A small receive window: the server's writes back up and it must
	 * wait for the connection to drain, as it would for a slow client.
	 */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){4096}, sizeof(int));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		check(fx, false, "connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Connection: close\r\nAuthorization: Bearer %s\r\n\r\n",
		 path, fx->reader);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		check(fx, false, "write: %s", strerror(errno));
	buf_init(&in, 0);
	while ((got = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&in, tmp, (size_t)got);
	close(fd);
	buf_add(&in, "", 1);
	buf_init(&out, 0);
	*body = NULL;
	*len = 0;
	p = strstr(in.data, "\r\n\r\n");
	if (sscanf(in.data, "HTTP/1.1 %d", &status) != 1 || p == NULL) {
		check(fx, false, "GET %s: no answer", path);
		buf_free(&in);
		return -1;
	}
	snprintf(head, headlen, "%.*s", (int)(p - in.data), in.data);
	p += 4;
	if (strstr(head, "Transfer-Encoding: chunked") == NULL) {
		buf_add(&out, p, in.len - 1 - (size_t)(p - in.data));
	} else {
		for (;;) {
			n = strtoul(p, &end, 16);
			if (end == p || strncmp(end, "\r\n", 2) != 0) {
				check(fx, false, "GET %s: bad chunk", path);
				break;
			}
			if (n == 0)
				break;
			buf_add(&out, end + 2, n);
			p = end + 2 + n + 2;
		}
	}
	buf_free(&in);
	buf_add(&out, "", 1);
	*len = out.len - 1;
	*body = out.data;
	return status;
}

static void
c_artifacts(struct fx *fx)
{
	char head[2048], *body;
	size_t len, i;
	int st, fd;
	bool same;

	expect(fx, "GET", "/api/v1/runs/1/artifacts", fx->reader, NULL, 200,
	       "{\"items\":[{\"name\":\"app\",\"job\":\"build\",\"size\":5242897,"
	       "\"files\":2,\"digest\":\"" DIGEST_APP "\",\"created\":"
	       "\"1970-01-01T00:00:01.000Z\",\"expires\":null,\"expired\":false,"
	       "\"url\":\"http://pw.test/api/v1/runs/1/artifacts/app\"}");
	expect(fx, "GET", "/api/v1/runs/1/artifacts", fx->reader, NULL, 200,
	       "\"name\":\"old \\\"one\\\"\",\"job\":\"build\"");
	expect(fx, "GET", "/api/v1/runs/1/artifacts", fx->reader, NULL, 200,
	       "\"expires\":\"1970-01-02T00:00:00.000Z\",\"expired\":true,"
	       "\"url\":\"http://pw.test/api/v1/runs/1/artifacts/"
	       "old%20%22one%22\"");
	expect(fx, "GET", "/api/v1/runs/1/artifacts", NULL, NULL, 401,
	       "a bearer token is required");
	expect(fx, "GET", "/api/v1/runs/9/artifacts", fx->reader, NULL, 404,
	       "no run 9");
	expect(fx, "GET", "/api/v1/runs/9/artifacts/app", fx->reader, NULL,
	       404, "no run 9");
	expect(fx, "GET", "/api/v1/runs/1/artifacts/nosuch", fx->reader, NULL,
	       404, "run 1 has no artifact 'nosuch'");
	expect(fx, "GET", "/api/v1/runs/1/artifacts/old%20%22one%22",
	       fx->reader, NULL, 410, "{\"error\":{\"code\":\"gone\","
	       "\"message\":\"artifact 'old \\\"one\\\"' of job 'build' in run 1 "
	       "expired at 1970-01-02T00:00:00.000Z\"}}");
	expect(fx, "GET", "/api/v1/runs/1/artifacts/lost", fx->reader, NULL,
	       404, "the archive of artifact 'lost' of run 1 cannot be read");

	/* The archive, whole, more than the connection takes at once. */
	st = fetch(fx, "/api/v1/runs/1/artifacts/app", head, sizeof(head),
		   &body, &len);
	check(fx, st == 200, "download: %d %s", st, head);
	check(fx, strstr(head, "Content-Type: application/zstd") != NULL &&
		  strstr(head, "Content-Disposition: attachment; "
			 "filename=\"1-app.tar.zst\"") != NULL &&
		  strstr(head, "ETag: \"" DIGEST_APP "\"") != NULL,
	      "download head: %s", head);
	check(fx, len == APP_BYTES, "download: %zu bytes, not %d", len,
	      APP_BYTES);
	same = len == APP_BYTES;
	for (i = 0; same && i < len; i++)
		same = (unsigned char)body[i] == ((i * 7 + i / 4096) & 0xff);
	check(fx, same, "download: the bytes differ at %zu", i - 1);
	free(body);

	/* HEAD: the same head, no body. */
	st = request(fx, "HEAD", "/api/v1/runs/1/artifacts/app", fx->reader,
		     NULL, head, sizeof(head));
	check(fx, st == 200 && head[0] == '\0', "HEAD: %d '%s'", st, head);

	/* One file of it. */
	st = fetch(fx, "/api/v1/runs/1/artifacts/app?path=dir/a.txt", head,
		   sizeof(head), &body, &len);
	check(fx, st == 200 && len == 6 && memcmp(body, "hello\n", 6) == 0,
	      "?path=: %d %s", st, body);
	check(fx, strstr(head, "Content-Type: application/octet-stream") !=
			  NULL && strstr(head, "filename=\"a.txt\"") != NULL,
	      "?path= head: %s", head);
	free(body);
	expect(fx, "GET", "/api/v1/runs/1/artifacts/app?path=nope",
	       fx->reader, NULL, 404,
	       "no file 'nope' in artifact 'app' of run 1");
	expect(fx, "GET", "/api/v1/runs/1/artifacts/app?path=../x",
	       fx->reader, NULL, 400, "without '.' or '..' segments, got '../x'");
	expect(fx, "GET", "/api/v1/runs/1/artifacts/app?path=/etc/passwd",
	       fx->reader, NULL, 400, "path must be relative");

	/* A client that leaves halfway: the server lets go of the blob. */
	{
		struct sockaddr_in sa = {.sin_family = AF_INET};
		char req[512], tmp[4096];

		sa.sin_port = htons((uint16_t)fx->port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		check(fx, fd >= 0 && connect(fd, (struct sockaddr *)&sa,
					     sizeof(sa)) == 0, "connect");
		snprintf(req, sizeof(req), "GET /api/v1/runs/1/artifacts/app "
			 "HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
			 "Bearer %s\r\n\r\n", fx->reader);
		check(fx, write(fd, req, strlen(req)) == (ssize_t)strlen(req),
		      "write");
		check(fx, read(fd, tmp, sizeof(tmp)) > 0, "read");
		close(fd);
	}

	/* Caches. */
	expect(fx, "GET", "/api/v1/projects/demo/caches", fx->reader, NULL, 200,
	       "{\"items\":[{\"key\":\"cargo-2\",\"scope\":\"pr:3\",\"size\":42,"
	       "\"digest\":\"" DIGEST_OLD "\",\"created\":"
	       "\"1970-01-01T00:00:02.000Z\",\"last_used\":"
	       "\"1970-01-01T00:00:02.000Z\"},{\"key\":\"cargo-1\"");
	expect(fx, "GET", "/api/v1/projects/demo/caches?limit=1", fx->reader,
	       NULL, 200, "\"next_cursor\":\"2\"");
	expect(fx, "GET", "/api/v1/projects/demo/caches?limit=1&cursor=2",
	       fx->reader, NULL, 200, "\"key\":\"cargo-1\",\"scope\":"
	       "\"branch:main\"");
	expect(fx, "GET", "/api/v1/projects/nosuch/caches", fx->reader, NULL,
	       404, "no project 'nosuch'");
	expect(fx, "DELETE", "/api/v1/projects/demo/caches/cargo-1",
	       fx->operator, NULL, 403, "lacks the 'admin' scope");
	expect(fx, "DELETE", "/api/v1/projects/nosuch/caches/cargo-1",
	       fx->admin, NULL, 404, "no project 'nosuch'");
	expect(fx, "DELETE", "/api/v1/projects/demo/caches/cargo-1?scope=pr:3",
	       fx->admin, NULL, 404,
	       "project 'demo' has no cache 'cargo-1' in scope pr:3");
	expect(fx, "DELETE", "/api/v1/projects/demo/caches/cargo-1",
	       fx->admin, NULL, 200,
	       "{\"key\":\"cargo-1\",\"scope\":null,\"deleted\":1}");
	expect(fx, "DELETE", "/api/v1/projects/demo/caches/cargo-1",
	       fx->admin, NULL, 404, "project 'demo' has no cache 'cargo-1'");
	expect(fx, "GET", "/api/v1/projects/demo/caches", fx->reader, NULL, 200,
	       "{\"items\":[{\"key\":\"cargo-2\",\"scope\":\"pr:3\"");
}

/*
 * Artifacts listed, streamed whole, one file of one; 404, 410; caches
 * listed and deleted by an admin.  Every blob opened is closed, also by
 * the download whose client left.
 */
static void
test_artifacts_caches(void **state)
{
	struct fx *fx = *state;

	artifact_rows(fx);
	serve(fx, "", c_artifacts);
	assert_int_equal(fx->blob_opens, 3);
	assert_int_equal(fx->blob_closes, 3);
	assert_int_equal(fx->extracts, 2);
	assert_int_equal(fx->cache_deletes, 3);
	assert_string_equal(fx->cache_delete_actor, "token admin");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trigger_makes_run, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trigger_env_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes_anonymous_read,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes_metrics_public,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_run, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_metrics_store_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_artifacts_caches, setup,
						teardown),
	};

	/*
	 * The daemon ignores SIGPIPE (serve does); this process plays both the
	 * server and its clients, and a client that leaves halfway must give
	 * the server EPIPE, not end the test.
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
