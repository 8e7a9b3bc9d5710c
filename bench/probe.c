/*
 * bench/probe: how long the daemon takes to answer, sampled at a steady
 * pace rather than flooded.
 *
 *   probe latency PORT PATH SECONDS INTERVAL_US OUT
 *       GET PATH on 127.0.0.1:PORT over one keep-alive connection every
 *       INTERVAL_US for SECONDS, or until a file OUT.stop appears; each
 *       latency (ms) goes to OUT, one a line; prints JSON with the count,
 *       errors and percentiles
 *   probe ready PORT PATH TIMEOUT_MS
 *       GET PATH in a tight loop (a fresh connection each time, 1 ms
 *       apart) until it answers 200; prints CLOCK_REALTIME in ms then
 *
 * A flood (wrk) measures a server saturated by its own load generator;
 * the question of B4 and B8 is whether a job's flood makes the daemon
 * slow for everyone else, so the probe asks gently and keeps asking, and
 * a connection lost or refused is an error counted, not a pause.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

/* One request on fd; the status code, or -1 if the connection failed. */
static int
get(int fd, const char *path)
{
	char req[512], buf[65536], *end, *cl;
	size_t have = 0, want;
	ssize_t r;
	int status;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		 path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	for (;;) {
		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strcasestr(buf, "content-length:");
		want = (size_t)(end + 4 - buf) +
		       (cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
		if (have >= want)
			break;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100 * (double)n);

	return n == 0 ? 0 : v[i < n ? i : n - 1];
}

static int
latency(int port, const char *path, double secs, long interval_us,
	const char *out)
{
	size_t n = 0, cap = 1 << 16;
	double *v = malloc(cap * sizeof(*v)), start, next, t;
	long errors = 0;
	FILE *f;
	int fd = -1;
	struct timespec ts;
	char stop[4200];

	snprintf(stop, sizeof(stop), "%s.stop", out);
	start = next = mono_ms();
	while ((t = mono_ms()) - start < secs * 1e3 && access(stop, F_OK) < 0) {
		if (fd < 0 && (fd = dial(port)) < 0) {
			errors++;
		} else {
			t = mono_ms();
			if (get(fd, path) != 200) {
				errors++;
				close(fd);
				fd = -1;
			} else {
				if (n == cap)
					v = realloc(v, (cap *= 2) * sizeof(*v));
				v[n++] = mono_ms() - t;
			}
		}
		next += (double)interval_us / 1e3;
		t = next - mono_ms();
		if (t > 0) {
			ts.tv_sec = (time_t)(t / 1e3);
			ts.tv_nsec = (long)((t - (double)ts.tv_sec * 1e3) * 1e6);
			nanosleep(&ts, NULL);
		} else {
			next = mono_ms(); /* late: do not burst to catch up */
		}
	}
	if (fd >= 0)
		close(fd);
	if ((f = fopen(out, "w")) == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.4f\n", v[i]);
	fclose(f);
	qsort(v, n, sizeof(*v), cmp);
	printf("{\"requests\": %zu, \"errors\": %ld, \"p50_ms\": %.3f, "
	       "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, "
	       "\"max_ms\": %.3f}\n", n, errors, pct(v, n, 50), pct(v, n, 90),
	       pct(v, n, 99), pct(v, n, 99.9), n ? v[n - 1] : 0);
	free(v);
	return 0;
}

static int
ready(int port, const char *path, double timeout_ms)
{
	double start = mono_ms();
	struct timespec ts, one_ms = {0, 1000000};
	int fd, status;

	while (mono_ms() - start < timeout_ms) {
		fd = dial(port);
		status = fd < 0 ? -1 : get(fd, path);
		if (fd >= 0)
			close(fd);
		if (status == 200) {
			clock_gettime(CLOCK_REALTIME, &ts);
			printf("%.3f\n", (double)ts.tv_sec * 1e3 +
			       (double)ts.tv_nsec / 1e6);
			return 0;
		}
		nanosleep(&one_ms, NULL);
	}
	return 1;
}

int
main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "latency") == 0)
		return latency(atoi(argv[2]), argv[3], atof(argv[4]),
			       atol(argv[5]), argv[6]);
	if (argc == 5 && strcmp(argv[1], "ready") == 0)
		return ready(atoi(argv[2]), argv[3], atof(argv[4]));
	fprintf(stderr, "usage: probe latency PORT PATH SECONDS INTERVAL_US OUT"
		" | probe ready PORT PATH TIMEOUT_MS\n");
	return 2;
}
