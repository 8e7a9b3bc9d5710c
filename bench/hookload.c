/*
 * bench/hookload: B2's load — signed GitHub push deliveries, as a forge
 * sends them, to a webhook endpoint.
 *
 *   hookload PORT PATH PAYLOAD SECRET N CONNS keepalive|close MAX_S OUT
 *
 * N POSTs of the JSON in file PAYLOAD to 127.0.0.1:PORT PATH, from CONNS
 * connections at once (one thread each, each waiting for its answer
 * before it sends again), until N are answered or MAX_S seconds passed.
 * Every request is its own delivery: a distinct X-GitHub-Delivery, the
 * payload's 40-hex "after" replaced by a commit of its own (same length,
 * so every body is as long as PAYLOAD; made of the request's index and
 * of this process's salt, so that a second run against the same daemon
 * sends new pushes, not replays of the first one's, which the daemon
 * rightly answers with their first run), and X-Hub-Signature-256 the
 * HMAC-SHA256 of those bytes under the string in file SECRET (its first
 * line), computed per request as a forge does.  With `close` each
 * request opens its own connection and says Connection: close; the
 * latency then includes the connect.
 *
 * Each latency (ms, from before the connect or send to the last byte of
 * the answer) goes to OUT, one a line; the run ids of 2xx answers
 * ({"run": N, ...}) to OUT.runs.  Prints one JSON object: requests,
 * seconds, rate, 2xx/other/errors, percentiles, and how many distinct run
 * ids the 2xx answers named.
 *
 * wrk would need the HMAC in Lua per request; plain sockets and libcrypto
 * keep the load generator cheap and the signature real.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define RESP_MAX 65536

struct shared {
	int port;
	const char *path;
	const char *payload; /* the template */
	size_t len;
	size_t after;        /* offset of the 40 hex digits to replace */
	const char *secret;
	long n;
	int keepalive;
	double deadline;     /* mono ms */
	uint64_t salt;       /* this run's, in every commit */
	atomic_long next;    /* the next request's index */
	double *lat;         /* per request, ms; < 0: not answered */
	long *run;           /* per request: run id of a 2xx, else 0 */
	int *status;         /* per request: HTTP status, 0: error */
};

static int
send_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Reads one answer: the status, and the run id of a {"run": N} body; -1
 * if the connection failed or closed early.
 */
static int
recv_answer(int fd, long *run)
{
	static __thread char buf[RESP_MAX + 1];
	size_t have = 0, need = 0;
	char *eoh = NULL, *cl, *r;
	long clen = -1;
	ssize_t got;
	int status;

	for (;;) {
		if (have >= RESP_MAX)
			return -1;
		got = recv(fd, buf + have, RESP_MAX - have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		have += (size_t)got;
		buf[have] = '\0';
		if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			if (cl == NULL || cl > eoh)
				return -1; /* both servers send one */
			clen = strtol(cl + 17, NULL, 10);
			need = (size_t)(eoh + 4 - buf) + (size_t)clen;
		}
		if (eoh != NULL && have >= need)
			break;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	*run = 0;
	if ((r = strstr(eoh, "\"run\":")) != NULL)
		*run = strtol(r + 6, NULL, 10);
	return status;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void *
worker(void *arg)
{
	struct shared *s = arg;
	char *body = malloc(s->len + 1), *head = malloc(1024);
	unsigned char mac[EVP_MAX_MD_SIZE], sha[20];
	unsigned int maclen;
	char sig[2 * EVP_MAX_MD_SIZE + 1], commit[41];
	int fd = -1, hlen, status;
	long i, run;
	double t0;

	memcpy(body, s->payload, s->len);
	while ((i = atomic_fetch_add(&s->next, 1)) < s->n) {
		if (mono_ms() > s->deadline)
			break;
		/* A commit of its own: 40 hex digits from index and salt. */
		memset(sha, 0, sizeof(sha));
		memcpy(sha, &i, sizeof(i));
		memcpy(sha + 8, &s->salt, sizeof(s->salt));
		sha[19] = 0xb2;
		hex(sha, sizeof(sha), commit);
		memcpy(body + s->after, commit, 40);
		if (HMAC(EVP_sha256(), s->secret, (int)strlen(s->secret),
			 (unsigned char *)body, s->len, mac, &maclen) == NULL)
			break;
		hex(mac, maclen, sig);
		hlen = snprintf(head, 1024,
				"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				"User-Agent: GitHub-Hookshot/bench\r\n"
				"Content-Type: application/json\r\n"
				"X-GitHub-Event: push\r\n"
				"X-GitHub-Delivery: bench-%d-%ld\r\n"
				"X-Hub-Signature-256: sha256=%s\r\n"
				"Content-Length: %zu\r\n%s\r\n",
				s->path, s->port, (int)getpid(), i, sig,
				s->len, s->keepalive ? "" :
						       "Connection: close\r\n");
		t0 = mono_ms();
		if (fd < 0 && (fd = dial(s->port)) < 0) {
			s->status[i] = 0;
			continue;
		}
		/* Head and body in one write: one segment where they fit. */
		char *req = malloc((size_t)hlen + s->len);
		memcpy(req, head, (size_t)hlen);
		memcpy(req + hlen, body, s->len);
		status = send_all(fd, req, (size_t)hlen + s->len) < 0 ? -1 :
			 recv_answer(fd, &run);
		free(req);
		s->lat[i] = mono_ms() - t0;
		s->status[i] = status < 0 ? 0 : status;
		s->run[i] = status >= 200 && status < 300 ? run : 0;
		if (status < 0 || !s->keepalive) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(body);
	free(head);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		perror(path);
		exit(2);
	}
	p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

static double
pct(const double *v, long n, double q)
{
	long k;

	if (n == 0)
		return 0;
	k = (long)(q / 100.0 * (double)n + 0.999999) - 1;
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

int
main(int argc, char **argv)
{
	struct shared s = {0};
	pthread_t *th;
	size_t slen;
	char *secret, *a, *outp;
	double t0, secs, *lat;
	long i, done = 0, ok = 0, other = 0, errs = 0, nruns = 0, distinct = 0;
	long *runs;
	int conns;
	FILE *out;

	if (argc != 10) {
		fprintf(stderr, "usage: hookload PORT PATH PAYLOAD SECRET N CONNS "
			"keepalive|close MAX_S OUT\n");
		return 2;
	}
	s.port = atoi(argv[1]);
	s.path = argv[2];
	s.payload = slurp(argv[3], &s.len);
	secret = slurp(argv[4], &slen);
	secret[strcspn(secret, "\r\n")] = '\0';
	s.secret = secret;
	s.n = atol(argv[5]);
	conns = atoi(argv[6]);
	s.keepalive = strcmp(argv[7], "keepalive") == 0;
	a = strstr(s.payload, "\"after\":");
	if (a == NULL || (a = strchr(a + 8, '"')) == NULL ||
	    strspn(a + 1, "0123456789abcdef") < 40) {
		fprintf(stderr, "hookload: no \"after\": \"<40 hex>\" in %s\n",
			argv[3]);
		return 2;
	}
	s.after = (size_t)(a + 1 - s.payload);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		s.salt = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		s.salt ^= (uint64_t)getpid() << 40;
	}
	s.lat = malloc((size_t)s.n * sizeof(double));
	s.run = calloc((size_t)s.n, sizeof(long));
	s.status = calloc((size_t)s.n, sizeof(int));
	for (i = 0; i < s.n; i++)
		s.lat[i] = -1;
	th = calloc((size_t)conns, sizeof(*th));
	t0 = mono_ms();
	s.deadline = t0 + atof(argv[8]) * 1e3;
	for (i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, worker, &s);
	for (i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	secs = (mono_ms() - t0) / 1e3;

	outp = argv[9];
	out = fopen(outp, "w");
	lat = malloc((size_t)s.n * sizeof(double));
	runs = malloc((size_t)s.n * sizeof(long));
	for (i = 0; i < s.n; i++) {
		if (s.lat[i] < 0)
			continue; /* never sent (deadline) */
		done++;
		if (s.status[i] >= 200 && s.status[i] < 300) {
			ok++;
			if (s.run[i] > 0)
				runs[nruns++] = s.run[i];
		} else if (s.status[i] == 0) {
			errs++;
		} else {
			other++;
		}
		lat[done - 1] = s.lat[i];
		if (out != NULL)
			fprintf(out, "%.3f\n", s.lat[i]);
	}
	if (out != NULL)
		fclose(out);
	qsort(runs, (size_t)nruns, sizeof(long), cmp_long);
	{
		char rp[4096];
		FILE *rf;

		snprintf(rp, sizeof(rp), "%s.runs", outp);
		rf = fopen(rp, "w");
		for (i = 0; i < nruns; i++) {
			if (i == 0 || runs[i] != runs[i - 1])
				distinct++;
			if (rf != NULL)
				fprintf(rf, "%ld\n", runs[i]);
		}
		if (rf != NULL)
			fclose(rf);
	}
	qsort(lat, (size_t)done, sizeof(double), cmp_double);
	printf("{\"requests\": %ld, \"wanted\": %ld, \"connections\": %d, "
	       "\"mode\": \"%s\", \"body_bytes\": %zu, \"seconds\": %.3f, "
	       "\"rps\": %.1f, \"ok\": %ld, \"non2xx\": %ld, \"errors\": %ld, "
	       "\"run_ids\": %ld, \"distinct_run_ids\": %ld, "
	       "\"pct_ms\": {\"50\": %.3f, \"90\": %.3f, \"99\": %.3f, "
	       "\"99.9\": %.3f}, \"max_ms\": %.3f}\n",
	       done, s.n, conns, s.keepalive ? "keepalive" : "close", s.len,
	       secs, (double)done / secs, ok, other, errs, nruns, distinct,
	       pct(lat, done, 50), pct(lat, done, 90), pct(lat, done, 99),
	       pct(lat, done, 99.9), done > 0 ? lat[done - 1] : 0.0);
	return 0;
}
