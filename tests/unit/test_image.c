/*
 * image: references as a pipeline writes them (what is taken, what skopeo
 * is given, the registry it is looked up by, and what is refused), the
 * pipeline's `image:` and `default:`, and collection under the quota,
 * which never removes a root someone holds a shared flock on.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>

#include "pipewright/image.h"
#include "pipewright/pipeline.h"
#include "image-int.h"
#include "testlib.h"

static void
test_refs_taken(void **state)
{
	static const struct {
		const char *in, *source, *registry;
	} ok[] = {
		{"debian:bookworm", "docker://debian:bookworm", "docker.io"},
		{"library/debian", "docker://library/debian", "docker.io"},
		{"registry.example.com/rust:1.80",
		 "docker://registry.example.com/rust:1.80",
		 "registry.example.com"},
		{"127.0.0.1:5000/pw/bb:1", "docker://127.0.0.1:5000/pw/bb:1",
		 "127.0.0.1:5000"},
		{"localhost/x", "docker://localhost/x", "localhost"},
		{"docker://quay.io/a/b-c_d.e:v1.2-3",
		 "docker://quay.io/a/b-c_d.e:v1.2-3", "quay.io"},
		{"r.io/x@sha256:"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "docker://r.io/x@sha256:"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 "r.io"},
		{"oci:/srv/images/tools:2026-11", "oci:/srv/images/tools:2026-11",
		 NULL},
		{"docker-archive:/srv/x.tar", "docker-archive:/srv/x.tar", NULL},
	};
	struct image_ref r;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(image_ref_parse(ok[i].in, &r, &err), 0);
		assert_null(err);
		assert_string_equal(r.source, ok[i].source);
		if (ok[i].registry == NULL)
			assert_null(r.registry);
		else
			assert_string_equal(r.registry, ok[i].registry);
		image_ref_free(&r);
	}
}

static void
test_refs_refused(void **state)
{
	static const struct {
		const char *in, *says;
	} bad[] = {
		{"", "empty"},
		{"Debian", "not a valid reference"},
		{"a b", "space"},
		{"oci:relative/x", "absolute"},
		{"oci:/srv/../etc:t", "'..'"},
		{"docker-archive:x.tar", "absolute"},
		{"dir:/srv/x", "unknown transport 'dir:'"},
		{"containers-storage:/x", "unknown transport"},
		{"r.io/x@sha256:abc", "digest"},
		{"r.io/x:", "not a valid reference"},
		{"r.io//x", "not a valid reference"},
		{"r.io/x:-bad", "not a valid reference"},
	};
	struct image_ref r;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(image_ref_parse(bad[i].in, &r, &err), -EINVAL);
		assert_non_null(err);
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("'%s': '%s' does not say '%s'", bad[i].in, err,
				 bad[i].says);
		free(err);
	}
}

static void
test_pipeline_default(void **state)
{
	static const char yml[] =
		"default: {image: 'oci:/srv/a:1', timeout: 5m}\n"
		"jobs:\n"
		"  a: {script: [true]}\n"
		"  b: {image: 'r.io/b:2', script: [true]}\n";
	static const char bad[] =
		"default:\n"
		"  script: [x]\n"
		"  image: 'dir:/x'\n"
		"jobs:\n"
		"  a: {script: [true]}\n";
	static const char twice[] =
		"default: {timeout: 5x}\n"
		"jobs:\n"
		"  a: {script: [true], image: 'dir:/x'}\n"
		"  b: {script: [true]}\n"
		"  c: {script: [true]}\n";
	struct pipeline_problems pp;
	struct pipeline *p;

	(void)state;
	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_parse("ci.yml", yml, strlen(yml), &p, &pp), 0);
	assert_string_equal(pipeline_job_image(p, 0), "oci:/srv/a:1");
	assert_string_equal(pipeline_job_image(p, 1), "r.io/b:2");
	assert_int_equal(pipeline_job_timeout_ms(p, 0), 5 * 60 * 1000);
	assert_int_equal(pipeline_job_timeout_ms(p, 1), 5 * 60 * 1000);
	pipeline_destroy(p);
	assert_int_equal(pipeline_parse("ci.yml", bad, strlen(bad), &p, &pp),
			 -EINVAL);
	assert_int_equal(pp.count, 2);
	/* Each where it was written in the default. */
	assert_int_equal(pp.items[0].line, 2);
	assert_non_null(strstr(pp.items[0].message, "cannot set 'script'"));
	assert_int_equal(pp.items[1].line, 3);
	assert_int_equal(pp.items[1].column, 10);
	assert_non_null(strstr(pp.items[1].message, "unknown transport"));
	pipeline_problems_free(&pp);
	/* A bad default value is one problem, not one per job. */
	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_parse("ci.yml", twice, strlen(twice), &p,
					&pp), -EINVAL);
	assert_int_equal(pp.count, 2);
	assert_int_equal(pp.items[0].line, 1);
	assert_non_null(strstr(pp.items[0].message, "in job 'a'"));
	assert_int_equal(pp.items[1].line, 3);
	pipeline_problems_free(&pp);
}

/* A complete root of `kib` KiB (by its size file) last used at `when`. */
static void
fake_root(const char *dir, char c, unsigned kib, time_t when)
{
	char hex[65], path[512];
	struct timespec ts[2] = {{when, 0}, {when, 0}};
	FILE *f;

	memset(hex, c, 64);
	hex[64] = '\0';
	snprintf(path, sizeof(path), "%s/roots/%s/rootfs", dir, hex);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/roots/%s/size", dir, hex);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%u", kib * 1024);
	fclose(f);
	snprintf(path, sizeof(path), "%s/roots/%s.lock", dir, hex);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool
has_root(const char *dir, char c)
{
	char path[512], hex[65];
	struct stat st;

	memset(hex, c, 64);
	hex[64] = '\0';
	snprintf(path, sizeof(path), "%s/roots/%s", dir, hex);
	return stat(path, &st) == 0;
}

static void
test_collect(void **state)
{
	char dir[] = "/tmp/pw-image.XXXXXX", path[512], hex[65];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	fake_root(dir, 'a', 100, 1000);   /* oldest, held below */
	fake_root(dir, 'b', 100, 2000);
	fake_root(dir, 'c', 100, 3000);   /* newest */
	memset(hex, 'a', 64);
	hex[64] = '\0';
	snprintf(path, sizeof(path), "%s/roots/%s.lock", dir, hex);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	/* 300 KiB over a quota of 250: the oldest would go, but it is held,
	 * so the next oldest goes instead; then it is under. */
	assert_int_equal(image_collect(dir, 250 * 1024), 100 * 1024);
	assert_true(has_root(dir, 'a'));
	assert_false(has_root(dir, 'b'));
	assert_true(has_root(dir, 'c'));
	/* Released: collected as any other. */
	close(fd);
	assert_int_equal(image_collect(dir, 0), 200 * 1024);
	assert_false(has_root(dir, 'a'));
	assert_false(has_root(dir, 'c'));
	assert_int_equal(tl_rm_tree(dir), 0);
}

/*
 * A holder opens the lock file, then blocks in flock while a collection
 * holds it exclusively and removes the root; meanwhile the root is made
 * again.  Woken, the holder locks the file it opened: that must be the
 * file the next collection locks, or the root is removed under its job.
 */
static void
test_collect_held_after_wait(void **state)
{
	char dir[] = "/tmp/pw-image.XXXXXX", path[512], hex[65];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	fake_root(dir, 'a', 100, 1000);
	memset(hex, 'a', 64);
	hex[64] = '\0';
	snprintf(path, sizeof(path), "%s/roots/%s.lock", dir, hex);
	fd = open(path, O_RDWR);         /* opened, not yet locked */
	assert_true(fd >= 0);
	assert_int_equal(image_collect(dir, 0), 100 * 1024);
	assert_false(has_root(dir, 'a'));
	fake_root(dir, 'a', 100, 1000);  /* pulled again meanwhile */
	assert_int_equal(flock(fd, LOCK_SH), 0);
	assert_int_equal(image_collect(dir, 0), 0);
	assert_true(has_root(dir, 'a'));
	close(fd);
	assert_int_equal(tl_rm_tree(dir), 0);
}

/* A tar layer of `count` files named <i> followed by `len` x's. */
static void
write_layer(const char *path, int count, size_t len)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char name[300];
	int i;

	assert_true(len + 8 < sizeof(name));
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < count; i++) {
		size_t d = (size_t)snprintf(name, sizeof(name), "%d", i);

		memset(name + d, 'x', len);
		name[d + len] = '\0';
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* The names a scan keeps are capped in bytes: past the cap, refused. */
static void
test_scan_name_bytes(void **state)
{
	char dir[] = "/tmp/pw-scan.XXXXXX", path[512];
	struct image_layer l = {.index = 0, .count = 1};
	char *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/layer.tar", dir);
	write_layer(path, 20, 200);       /* about 4 KiB of names */
	l.path = path;
	memset(l.hex, 'f', IMAGE_HEX);
	assert_int_equal(image_scan_layers(&l, 1, 64 * 1024, &err), 0);
	assert_null(err);
	assert_int_equal(image_scan_layers(&l, 1, 2048, &err), -EPERM);
	assert_non_null(err);
	assert_non_null(strstr(err, "the image's names exceed 2048 bytes in all"));
	assert_non_null(strstr(err, "layer 1 of 1"));
	free(err);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs_taken),
		cmocka_unit_test(test_refs_refused),
		cmocka_unit_test(test_pipeline_default),
		cmocka_unit_test(test_collect),
		cmocka_unit_test(test_collect_held_after_wait),
		cmocka_unit_test(test_scan_name_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
