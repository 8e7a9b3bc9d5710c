/*
 * The cache directory's files (image-int.h has the layout): reading an
 * OCI layout skopeo wrote, holding a root with a shared flock, moving a
 * finished bundle into place, and collection.  Every function blocks:
 * worker threads only.
 *
 * A root is complete once its directory has its name: the bundle is
 * finished, recorded and measured under tmp/ and renamed into roots/ in
 * one step.  A holder opens roots/<hex>.lock, takes a shared flock and
 * only then checks that the root is there; collection takes the
 * exclusive flock without waiting and renames the root away while
 * holding it, so a root is never removed under a job, and a job never
 * holds a root that is being removed.  Lock files are never removed
 * (empty, one per digest ever used): one unlinked while a holder waits
 * in flock would leave that holder locking a file nobody else locks.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-int.h"

#define JSON_MAX (4 << 20)
#define OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

void
image_sha256_hex(const void *data, size_t len, char hex[IMAGE_HEX + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

void
image_meta_free(struct image_meta *m)
{
	size_t i;

	pw_strv_free(m->env);
	free(m->workdir);
	free(m->user);
	for (i = 0; i < m->nlayers; i++)
		free(m->layers[i].path);
	free(m->layers);
	*m = (struct image_meta){0};
}

static bool
hex_ok(const char *s)
{
	size_t i;

	for (i = 0; i < IMAGE_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[IMAGE_HEX] == '\0';
}

/* "sha256:<hex>" of a descriptor into hex; false if it is not one. */
static bool
desc_hex(const cJSON *desc, char hex[IMAGE_HEX + 1])
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(desc, "digest");

	if (!cJSON_IsString(d) || strncmp(d->valuestring, "sha256:", 7) != 0 ||
	    strlen(d->valuestring) != 7 + IMAGE_HEX ||
	    !hex_ok(d->valuestring + 7))
		return false;
	memcpy(hex, d->valuestring + 7, IMAGE_HEX + 1);
	return true;
}

/* A blob of the layout, checked against its name. */
static int
blob_read(const char *layout, const char *hex, cJSON **out, char *raw_hex)
{
	char *path = xasprintf("%s/blobs/sha256/%s", layout, hex);
	char got[IMAGE_HEX + 1];
	char *data = NULL;
	size_t len;
	int rc;

	rc = pw_read_file(path, JSON_MAX, &data, &len);
	free(path);
	if (rc < 0)
		return rc;
	image_sha256_hex(data, len, got);
	if (strcmp(got, hex) != 0) {
		free(data);
		return -EBADMSG;
	}
	if (raw_hex != NULL)
		memcpy(raw_hex, got, IMAGE_HEX + 1);
	*out = cJSON_ParseWithLength(data, len);
	free(data);
	return *out == NULL ? -EBADMSG : 0;
}

static char *
json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring[0] != '\0' ?
		       xstrdup(v->valuestring) : NULL;
}

static char **
json_strv(const cJSON *arr)
{
	const cJSON *it;
	char **v = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *));
	size_t n = 0;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && strchr(it->valuestring, '=') != NULL)
			v[n++] = xstrdup(it->valuestring);
	return v;
}

static int
layers_read(const char *layout, const cJSON *man, struct image_meta *m,
	    char **err)
{
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(man, "layers"), *l;
	size_t n = 0;

	if (!cJSON_IsArray(ls) || cJSON_GetArraySize(ls) > IMAGE_MAX_LAYERS) {
		*err = xasprintf("its manifest has no list of layers, or more "
				 "than %d", IMAGE_MAX_LAYERS);
		return -EBADMSG;
	}
	m->layers = xcalloc((size_t)cJSON_GetArraySize(ls) + 1,
			    sizeof(*m->layers));
	cJSON_ArrayForEach(l, ls) {
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(l,
								   "mediaType");
		struct image_layer *x = &m->layers[n];

		if (!desc_hex(l, x->hex) || !cJSON_IsString(mt) ||
		    (strncmp(mt->valuestring, OCI_LAYER, strlen(OCI_LAYER)) &&
		     strncmp(mt->valuestring, DOCKER_LAYER,
			     strlen(DOCKER_LAYER)))) {
			*err = xasprintf("layer %zu has no sha256 digest or a "
					 "media type that is not a tar", n + 1);
			return -EBADMSG;
		}
		x->path = xasprintf("%s/blobs/sha256/%s", layout, x->hex);
		x->index = n++;
		m->nlayers = n;
	}
	for (n = 0; n < m->nlayers; n++)
		m->layers[n].count = m->nlayers;
	return 0;
}

int
image_layout_read(const char *layout, struct image_meta *m, char **err)
{
	char *path = xasprintf("%s/index.json", layout), *data = NULL;
	cJSON *idx = NULL, *man = NULL, *cfg = NULL;
	const cJSON *ms, *c;
	char chex[IMAGE_HEX + 1];
	size_t len;
	int rc;

	*m = (struct image_meta){0};
	*err = NULL;
	rc = pw_read_file(path, JSON_MAX, &data, &len);
	free(path);
	if (rc == 0 && (idx = cJSON_ParseWithLength(data, len)) == NULL)
		rc = -EBADMSG;
	free(data);
	ms = idx != NULL ? cJSON_GetObjectItemCaseSensitive(idx, "manifests") :
			   NULL;
	if (rc < 0 || !cJSON_IsArray(ms) || cJSON_GetArraySize(ms) != 1 ||
	    !desc_hex(cJSON_GetArrayItem(ms, 0), m->hex)) {
		*err = xstrdup("the copy has no single manifest");
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = blob_read(layout, m->hex, &man, NULL)) < 0) {
		*err = xasprintf("its manifest sha256:%s: %s", m->hex,
				 rc == -EBADMSG ? "does not match its digest"
				 " or is not JSON" : strerror(-rc));
		goto out;
	}
	c = cJSON_GetObjectItemCaseSensitive(man, "config");
	if (!desc_hex(c, chex) || (rc = blob_read(layout, chex, &cfg, NULL))) {
		*err = xstrdup("its config is missing or does not match its"
			       " digest");
		rc = rc < 0 ? rc : -EBADMSG;
		goto out;
	}
	c = cJSON_GetObjectItemCaseSensitive(cfg, "config");
	if (cJSON_IsObject(c)) {
		const cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "Env");

		if (cJSON_IsArray(env))
			m->env = json_strv(env);
		m->workdir = json_str(c, "WorkingDir");
		m->user = json_str(c, "User");
	}
	if (m->env == NULL)
		m->env = xcalloc(1, sizeof(char *));
	rc = layers_read(layout, man, m, err);
out:
	cJSON_Delete(idx);
	cJSON_Delete(man);
	cJSON_Delete(cfg);
	if (rc < 0)
		image_meta_free(m);
	return rc;
}

int
image_source_get(const char *dir, const char *src_hex, char hex[IMAGE_HEX + 1])
{
	char *path = xasprintf("%s/sources/%s", dir, src_hex), *data = NULL;
	size_t len;
	int rc;

	rc = pw_read_file(path, 256, &data, &len);
	free(path);
	if (rc < 0)
		return rc;
	if (len != IMAGE_HEX || (data[IMAGE_HEX] = '\0', !hex_ok(data)))
		rc = -ENOENT;
	else
		memcpy(hex, data, IMAGE_HEX + 1);
	free(data);
	return rc;
}

static int
write_file(const char *path, const char *data, size_t len)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(tmp);
		return -errno;
	}
	if (write(fd, data, len) != (ssize_t)len)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

void
image_source_put(const char *dir, const char *src_hex, const char *hex)
{
	char *path = xasprintf("%s/sources/%s", dir, src_hex);

	(void)write_file(path, hex, IMAGE_HEX); /* only a shortcut */
	free(path);
}

static int
record_read(const char *dir, const char *hex, struct image_meta *m)
{
	char *path = xasprintf("%s/roots/%s/image.json", dir, hex), *data;
	const cJSON *env;
	cJSON *o;
	size_t len;
	int rc;

	rc = pw_read_file(path, JSON_MAX, &data, &len);
	free(path);
	if (rc < 0)
		return rc;
	o = cJSON_ParseWithLength(data, len);
	free(data);
	if (o == NULL)
		return -EBADMSG;
	*m = (struct image_meta){0};
	memcpy(m->hex, hex, IMAGE_HEX + 1);
	env = cJSON_GetObjectItemCaseSensitive(o, "env");
	m->env = cJSON_IsArray(env) ? json_strv(env) :
				      xcalloc(1, sizeof(char *));
	m->workdir = json_str(o, "workdir");
	m->user = json_str(o, "user");
	cJSON_Delete(o);
	return 0;
}

int
image_root_hold(const char *dir, const char *hex, int *fd,
		struct image_meta *m)
{
	char *lock = xasprintf("%s/roots/%s.lock", dir, hex);
	int rc;

	*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(lock);
	if (*fd < 0)
		return -errno;
	/* Collection holds it exclusively only while it renames a root. */
	if (flock(*fd, LOCK_SH) < 0 || futimens(*fd, NULL) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = record_read(dir, hex, m);
	if (rc == 0)
		return 0;
fail:
	close(*fd);
	*fd = -1;
	return rc == -EBADMSG ? -ENOENT : rc;
}

/* Bytes a tree takes on disk, never following a link; depth-capped. */
static uint64_t
tree_size_at(int dfd, int depth)
{
	struct dirent *de;
	struct stat st;
	uint64_t n = 0;
	DIR *d = fdopendir(dfd);
	int fd;

	if (d == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		n += (uint64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || depth > 256)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			n += tree_size_at(fd, depth + 1);
	}
	closedir(d);
	return n;
}

static uint64_t
tree_size(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? 0 : tree_size_at(fd, 0);
}

static char *
record_json(const struct image_meta *m)
{
	cJSON *o = cJSON_CreateObject(), *env = cJSON_CreateArray();
	char *s, **e;

	cJSON_AddStringToObject(o, "digest", m->hex);
	for (e = m->env; e != NULL && *e != NULL; e++)
		cJSON_AddItemToArray(env, cJSON_CreateString(*e));
	cJSON_AddItemToObject(o, "env", env);
	if (m->workdir != NULL)
		cJSON_AddStringToObject(o, "workdir", m->workdir);
	if (m->user != NULL)
		cJSON_AddStringToObject(o, "user", m->user);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int
image_root_commit(const char *dir, const char *bundle,
		  const struct image_meta *m, char **err)
{
	char *path = xasprintf("%s/image.json", bundle);
	char *dest = xasprintf("%s/roots/%s", dir, m->hex);
	char *json = record_json(m), size[32];
	int rc;

	*err = NULL;
	rc = write_file(path, json, strlen(json));
	free(path);
	free(json);
	if (rc == 0) {
		snprintf(size, sizeof(size), "%llu",
			 (unsigned long long)tree_size(bundle));
		path = xasprintf("%s/size", bundle);
		rc = write_file(path, size, strlen(size));
		free(path);
	}
	if (rc == 0 && rename(bundle, dest) < 0) {
		rc = -errno;
		/* Made meanwhile by another process: theirs is the same. */
		if (rc == -EEXIST || rc == -ENOTEMPTY) {
			rc = 0;
			pw_remove_tree(bundle);
		}
	}
	if (rc < 0)
		*err = xasprintf("cannot store the root: %s", strerror(-rc));
	free(dest);
	return rc;
}

/* ---- collection ---- */

struct root_ent {
	char hex[IMAGE_HEX + 1];
	uint64_t bytes;
	struct timespec used;
};

static int
by_use(const void *a, const void *b)
{
	const struct root_ent *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->hex, y->hex);
}

static size_t
roots_list(const char *dir, struct root_ent **out)
{
	char *rdir = xasprintf("%s/roots", dir), *p, *data;
	struct root_ent *v = NULL;
	size_t n = 0, cap = 0, len;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(rdir);

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != IMAGE_HEX || !hex_ok(de->d_name))
			continue;
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		memcpy(v[n].hex, de->d_name, IMAGE_HEX + 1);
		p = xasprintf("%s/%s/size", rdir, de->d_name);
		if (pw_read_file(p, 64, &data, &len) == 0) {
			v[n].bytes = strtoull(data, NULL, 10);
			free(data);
		}
		free(p);
		p = xasprintf("%s/%s.lock", rdir, de->d_name);
		if (stat(p, &st) == 0)
			v[n].used = st.st_mtim;
		free(p);
		n++;
	}
	if (d != NULL)
		closedir(d);
	free(rdir);
	qsort(v, n, sizeof(*v), by_use);
	*out = v;
	return n;
}

/* Removes the root unless someone holds it; true if it did. */
static bool
root_remove(const char *dir, const char *hex)
{
	char *lock = xasprintf("%s/roots/%s.lock", dir, hex);
	char *root = xasprintf("%s/roots/%s", dir, hex);
	char *gone = xasprintf("%s/tmp/gone-%s", dir, hex);
	bool done = false;
	int fd;

	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		pw_remove_tree(gone);
		/* The lock file stays: a holder that opened it and waits in
		 * flock must lock the file the next collection locks. */
		done = rename(root, gone) == 0;
		close(fd);
		if (done)
			pw_remove_tree(gone);
	} else if (fd >= 0) {
		close(fd);
	}
	free(lock);
	free(root);
	free(gone);
	return done;
}

int64_t
image_collect(const char *dir, uint64_t quota)
{
	struct root_ent *v;
	uint64_t total = 0;
	int64_t removed = 0;
	size_t i, n = roots_list(dir, &v);

	for (i = 0; i < n; i++)
		total += v[i].bytes;
	for (i = 0; i < n && (quota == 0 || total > quota); i++) {
		if (!root_remove(dir, v[i].hex))
			continue;
		total -= v[i].bytes;
		removed += (int64_t)v[i].bytes;
	}
	free(v);
	return removed;
}
