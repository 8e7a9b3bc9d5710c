/*
 * libFuzzer target for restoring an archive (blob_unpack_file,
 * src/blob/unpack.c): the input is the archive, as a blob's bytes (a tar,
 * plain or zstd-compressed), unpacked into a fresh root directory.  It
 * may be taken or refused, never crash, and nothing may appear outside the
 * root: the root's parent holds only the root, the archive and an empty
 * sentinel directory after every input (entries with `..`, absolute
 * names, symlinks planted to lead out and hard links to host files are
 * what the corpus starts from, fuzz/corpus/unpack/).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipewright/blob.h"
#include "pipewright/util.h"

static char base[64];

static void
cleanup(void)
{
	pw_remove_tree(base);
}

/* Entries of dir (not counting . and ..), or -1. */
static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blob_unpack_spec spec;
	struct blob_unpack_result res;
	char root[128], in[128], sentinel[128];
	int fd;

	if (base[0] == '\0') {
		snprintf(base, sizeof(base), "/tmp/fuzz_unpack-XXXXXX");
		if (mkdtemp(base) == NULL)
			abort();
		atexit(cleanup);
	}
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(in, sizeof(in), "%s/in", base);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", base);
	if (pw_remove_tree(root) < 0 || mkdir(root, 0755) < 0 ||
	    (mkdir(sentinel, 0755) < 0 && errno != EEXIST))
		abort();
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	memset(&spec, 0, sizeof(spec));
	spec.root = root;
	spec.uid = geteuid();
	spec.gid = getegid();
	spec.max_bytes = 64 << 20;
	spec.max_files = 10000;
	(void)blob_unpack_file(in, &spec, &res);
	if (memchr(res.err, '\0', sizeof(res.err)) == NULL)
		abort();
	/* Nothing beside the root, nothing in the sentinel. */
	if (entries(base) != 3 || entries(sentinel) != 0)
		abort();
	return 0;
}
