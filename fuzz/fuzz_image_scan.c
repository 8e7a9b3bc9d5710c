/*
 * libFuzzer target for the layer scan (src/image/scan.c) and image
 * references (src/image/ref.c).  The first byte picks which: odd, the
 * rest is a reference (NUL-free, as a pipeline's string is); even, the
 * rest is split at the first "\n--\n" into two layers (tar, plain or
 * compressed) scanned in order, as umoci would apply them.  Either may be
 * taken or refused, never crash; a refusal always says why.  Seeds in
 * fuzz/corpus/image_scan/ start from the hostile shapes the image tests
 * use (`../`, a write through a symlink, a device node).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image-int.h"

static int
layer_fd(const uint8_t *data, size_t len)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	return fd;
}

static void
scan(const uint8_t *data, size_t len)
{
	static const char sep[] = "\n--\n";
	const uint8_t *cut = memmem(data, len, sep, sizeof(sep) - 1);
	size_t n1 = cut != NULL ? (size_t)(cut - data) : len;
	struct image_layer l[2] = {{0}};
	int fd[2];
	size_t i, n = cut != NULL ? 2 : 1;
	char *err = NULL;
	int rc;

	fd[0] = layer_fd(data, n1);
	fd[1] = cut != NULL ? layer_fd(cut + sizeof(sep) - 1,
				     len - n1 - (sizeof(sep) - 1)) : -1;
	for (i = 0; i < n; i++) {
		l[i].path = xasprintf("/proc/self/fd/%d", fd[i]);
		memset(l[i].hex, 'a', IMAGE_HEX);
		l[i].index = i;
		l[i].count = n;
	}
	rc = image_scan_layers(l, n, IMAGE_SCAN_NAME_BYTES, &err);
	if (rc < 0 && (err == NULL || err[0] == '\0'))
		abort();
	if (rc == 0 && err != NULL)
		abort();
	free(err);
	for (i = 0; i < n; i++) {
		free(l[i].path);
		close(fd[i]);
	}
}

static void
ref(const uint8_t *data, size_t len)
{
	char *s = xstrndup((const char *)data, len), *err = NULL;
	struct image_ref r;

	if (image_ref_parse(s, &r, &err) == 0) {
		if (r.source == NULL || err != NULL)
			abort();
		image_ref_free(&r);
	} else if (err == NULL) {
		abort();
	}
	free(err);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (data[0] & 1)
		ref(data + 1, len - 1);
	else
		scan(data + 1, len - 1);
	return 0;
}
