/*
 * The digest of a cache key's `files`: SHA-256 over each named file's
 * path and contents, in sorted order, found by the packer's own walk
 * (pack_collect), so that the globs, the excludes and the refusal to
 * leave the workspace are the same ones a pack applies.  A symlink counts
 * by its target's text (never followed); directories count by name only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob-int.h"
#include "pipewright/util.h"

#define RESOLVE_HASH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* One entry into md: 0 (hashed, or skipped with a warning) or -errno. */
static int
hash_one(int rootfd, const char *name, EVP_MD_CTX *md,
	 struct blob_pack_result *res, unsigned char *buf)
{
	char target[PATH_MAX], head[64];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = blob_openat2(rootfd, name, O_PATH | O_NOFOLLOW, 0, RESOLVE_HASH);
	if (fd < 0) {
		pack_warn(res, "%s: %s; not hashed", name,
			  fd == -EXDEV ? "leads out of the workspace" :
			  strerror(-fd));
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(fd, "", target, sizeof(target) - 1);
		close(fd);
		if (n < 0)
			return -errno;
		EVP_DigestUpdate(md, "l", 1);
		EVP_DigestUpdate(md, name, strlen(name) + 1);
		EVP_DigestUpdate(md, target, (size_t)n);
		EVP_DigestUpdate(md, "", 1);
		return 0;
	}
	close(fd);
	if (S_ISDIR(st.st_mode)) {
		EVP_DigestUpdate(md, "d", 1);
		EVP_DigestUpdate(md, name, strlen(name) + 1);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		pack_warn(res, "%s: not a regular file; not hashed", name);
		return 0;
	}
	fd = blob_openat2(rootfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0,
			  RESOLVE_HASH);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -errno != 0 ? -errno : -EINVAL;
		close(fd);
		return rc;
	}
	/* The size first: a file's end never runs into the next path. */
	snprintf(head, sizeof(head), "f%llu:", (unsigned long long)st.st_size);
	EVP_DigestUpdate(md, head, strlen(head));
	EVP_DigestUpdate(md, name, strlen(name) + 1);
	while ((n = read(fd, buf, BLOB_IO_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	close(fd);
	return rc;
}

int
blob_hash_files(const char *root, const char *const *patterns,
		char *digest_out, struct blob_pack_result *res)
{
	struct blob_pack_spec spec = {.root = root, .paths = patterns,
				      .max_files = BLOB_HASH_MAX_FILES};
	unsigned char md[EVP_MAX_MD_SIZE], *buf;
	struct pack_list list;
	EVP_MD_CTX *ctx;
	size_t i;
	int rootfd, rc;

	memset(res, 0, sizeof(*res));
	digest_out[0] = '\0';
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = -errno;
		blob_errf(res->err, sizeof(res->err), "%s: %s", root,
			  strerror(errno));
		return rc;
	}
	pack_list_init(&list);
	rc = pack_collect(rootfd, &spec, res, &list);
	ctx = EVP_MD_CTX_new();
	buf = xmalloc(BLOB_IO_CHUNK);
	if (rc == 0 && (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(),
							  NULL)))
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < list.n; i++) {
		rc = hash_one(rootfd, list.names[i], ctx, res, buf);
		if (rc < 0)
			blob_errf(res->err, sizeof(res->err), "%s: %s",
				  list.names[i], strerror(-rc));
	}
	if (rc == 0) {
		EVP_DigestFinal_ex(ctx, md, NULL);
		blob_hex(md, digest_out);
		memcpy(res->digest, digest_out, BLOB_DIGEST_HEX + 1);
		res->files = list.n;
	}
	free(buf);
	EVP_MD_CTX_free(ctx);
	pack_list_free(&list);
	close(rootfd);
	return rc;
}
