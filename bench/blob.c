/*
 * bench/blob: B9's save and restore of a tree through the blob module
 * (bench/run B9blob; docs/performance.md), one JSON object on stdout.
 *
 *   blob gen DIR BYTES FILES          a deterministic tree to pack
 *   blob pack STORE ROOT [LEVEL THREADS]
 *   blob unpack STORE DIGEST ROOT
 *
 * The tree is what a build leaves: 100 files per directory in two levels,
 * sizes spread from 1 KiB to ~400 KiB (log-uniform, scaled to BYTES), each
 * 4 KiB block either random (object code, compressed assets) or words
 * from a small vocabulary (sources, logs, debug info) with even odds, so
 * zstd halves it, as it does a cargo target/.  LEVEL and THREADS override
 * the module's zstd settings, to measure them.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipewright/blob.h"
#include "../src/blob/blob-int.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fill_block(unsigned char *b, size_t n)
{
	static const char *const words[] = {
		"fn ", "let ", "mut ", "impl ", "struct ", "0x7f3a ", "return ",
		"match ", "Some(x) ", "None ", "self.", "usize ", "-> ", "{\n",
		"}\n", "debug_info ", ".text ", "call ", "mov rax, ", "push ",
	};
	size_t i = 0, w;

	if (next() & 1) {
		for (; i + 8 <= n; i += 8) {
			uint64_t r = next();

			memcpy(b + i, &r, 8);
		}
		return;
	}
	while (i < n) {
		const char *s = words[next() % (sizeof(words) / sizeof(*words))];

		w = strlen(s);
		if (w > n - i)
			w = n - i;
		memcpy(b + i, s, w);
		i += w;
	}
}

static int
gen(const char *dir, uint64_t bytes, unsigned files)
{
	double *w = calloc(files, sizeof(double)), sum = 0;
	unsigned char *buf = malloc(4096);
	char path[4096];
	unsigned i;
	uint64_t total = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return perror(dir), 1;
	for (i = 0; i < files; i++) {
		w[i] = exp(log(1024.0) + (double)(next() % 1000000) / 1e6 *
			   (log(400.0 * 1024) - log(1024.0)));
		sum += w[i];
	}
	for (i = 0; i < files; i++) {
		uint64_t size = (uint64_t)(w[i] / sum * (double)bytes), off;
		int fd;

		if (i == files - 1)
			size = bytes - total;
		snprintf(path, sizeof(path), "%s/d%02u", dir, i / 1000);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/d%02u/s%u", dir, i / 1000,
			 i / 100 % 10);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/d%02u/s%u/f%05u.o", dir,
			 i / 1000, i / 100 % 10, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return perror(path), 1;
		for (off = 0; off < size; off += 4096) {
			size_t n = size - off < 4096 ? size - off : 4096;

			fill_block(buf, n);
			if (write(fd, buf, n) != (ssize_t)n)
				return perror(path), 1;
		}
		close(fd);
		total += size;
	}
	printf("{\"bytes\": %llu, \"files\": %u}\n",
	       (unsigned long long)total, files);
	free(w);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct blob_store *bs;
	double t0, t1;
	int rc;

	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], strtoull(argv[3], NULL, 10),
			   (unsigned)strtoul(argv[4], NULL, 10));
	if (argc < 4 || blob_store_open(argv[2], &bs) < 0) {
		fprintf(stderr, "usage: blob gen DIR BYTES FILES | pack STORE ROOT "
			"[LEVEL THREADS] | unpack STORE DIGEST ROOT\n");
		return 2;
	}
	if (strcmp(argv[1], "pack") == 0) {
		static const char *const paths[] = {".", NULL};
		struct blob_pack_spec spec = {.root = argv[3], .paths = paths,
					      .uid = geteuid()};
		struct blob_pack_result r;

		if (argc == 6) {
			bs->zstd_level = atoi(argv[4]);
			bs->zstd_threads = atoi(argv[5]);
		}
		t0 = now();
		rc = blob_pack(bs, &spec, &r);
		t1 = now();
		if (rc < 0)
			return fprintf(stderr, "pack: %s\n", r.err), 1;
		printf("{\"seconds\": %.3f, \"digest\": \"%s\", \"archive_bytes\": "
		       "%llu, \"content_bytes\": %llu, \"files\": %llu, "
		       "\"zstd_level\": %d, \"zstd_threads\": %d}\n", t1 - t0,
		       r.digest, (unsigned long long)r.archive_bytes,
		       (unsigned long long)r.content_bytes,
		       (unsigned long long)r.files, bs->zstd_level,
		       bs->zstd_threads);
		blob_pack_result_free(&r);
	} else if (strcmp(argv[1], "unpack") == 0 && argc == 5) {
		struct blob_unpack_spec spec = {.root = argv[4],
						.uid = geteuid(),
						.gid = getegid()};
		struct blob_unpack_result r;

		t0 = now();
		rc = blob_unpack(bs, argv[3], &spec, &r);
		t1 = now();
		if (rc < 0)
			return fprintf(stderr, "unpack: %s\n", r.err), 1;
		printf("{\"seconds\": %.3f, \"content_bytes\": %llu, \"files\": "
		       "%llu}\n", t1 - t0, (unsigned long long)r.content_bytes,
		       (unsigned long long)r.files);
	} else {
		return 2;
	}
	blob_store_close(bs);
	return 0;
}
