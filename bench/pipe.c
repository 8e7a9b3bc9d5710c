/*
 * bench/pipe: B4's writer, and its transport floor.
 *
 *   pipe write BYTES SIZE    write BYTES to stdout in write(2)s of SIZE
 *                            bytes, each a run of lines of at most 128
 *                            bytes ending in '\n' (the job's script)
 *   pipe measure BYTES SIZE  the same writer into a plain pipe, read by a
 *                            loop of 64 KiB reads; prints JSON with MiB/s
 *
 * The daemon's log transport (job → supervisor → log file → daemon →
 * store) can be no faster than a pipe read by a loop that does nothing
 * with the bytes; "measure" is that loop, with the very writer the job
 * runs, so the two differ only in what pipewright adds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
writer(int fd, long long bytes, size_t size)
{
	char *buf = malloc(size);
	size_t i, n;
	ssize_t w;

	if (buf == NULL)
		return 1;
	for (i = 0; i < size; i++)
		buf[i] = i % 128 == 127 || i == size - 1 ? '\n' : 'a' + i % 26;
	while (bytes > 0) {
		n = bytes < (long long)size ? (size_t)bytes : size;
		w = write(fd, buf, n);
		if (w <= 0)
			return 1;
		bytes -= w;
	}
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	static char buf[65536];
	long long bytes, got = 0;
	size_t size;
	double t0, t;
	int fds[2], status;
	ssize_t r;
	pid_t pid;

	if (argc != 4 || (bytes = atoll(argv[2])) < 1 ||
	    (size = (size_t)atol(argv[3])) < 1) {
		fprintf(stderr, "usage: pipe write|measure BYTES SIZE\n");
		return 2;
	}
	if (strcmp(argv[1], "write") == 0)
		return writer(1, bytes, size);
	if (pipe(fds) < 0)
		return 1;
	t0 = now();
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(writer(fds[1], bytes, size));
	}
	close(fds[1]);
	while ((r = read(fds[0], buf, sizeof(buf))) > 0)
		got += r;
	waitpid(pid, &status, 0);
	t = now() - t0;
	if (got != bytes || status != 0)
		return 1;
	printf("{\"bytes\": %lld, \"write_size\": %zu, \"seconds\": %.3f, "
	       "\"mib_per_s\": %.1f}\n", bytes, size, t,
	       (double)bytes / (1 << 20) / t);
	return 0;
}
