/*
 * The supervisor's `user:` resolution (src/supervisor/user.c), driven
 * directly on roots made by the test: a job's root may be an image's,
 * whose /etc/passwd and /etc/group are the image author's to write.  So
 * besides the ordinary lookups: malformed lines, ids past the mapped
 * range, a passwd that is a symlink out of the root (absolute or
 * through ..: read inside the root, never the host's), a directory, and
 * one larger than the cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor.h"
#include "testlib.h"

struct root {
	char dir[64];
};

static void
put(const struct root *r, const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", r->dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	struct root *r = calloc(1, sizeof(*r));
	char etc[96];

	assert_non_null(r);
	snprintf(r->dir, sizeof(r->dir), "/tmp/pw-user.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(etc, sizeof(etc), "%s/etc", r->dir);
	assert_int_equal(mkdir(etc, 0755), 0);
	put(r, "etc/passwd",
	    "root:x:0:0:root:/root:/bin/sh\n"
	    "# a comment\n"
	    "broken line without colons\n"
	    "bad:x:notanumber:5::/:/bin/sh\n"
	    "builder:x:1000:1001:Builder:/home/b:/bin/sh\n"
	    "huge:x:70000:70000::/:/bin/sh\n"
	    "short:x:1200\n"
	    "last:x:1300:1301::/:/bin/sh");  /* no final newline */
	put(r, "etc/group", "root:x:0:\nstaff:x:50:builder\nbig:x:99999:\n");
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	struct root *r = *state;

	tl_rm_tree(r->dir);
	free(r);
	return 0;
}

/* Resolves spec; 0 and the ids, or the error and its message. */
static int
resolve(const struct root *r, const char *spec, uid_t *u, gid_t *g,
	char *err)
{
	*u = 12345;
	*g = 12345;
	err[0] = '\0';
	return sv_user_resolve(r->dir, spec, u, g, err, 256);
}

static void
test_names_and_numbers(void **state)
{
	struct root *r = *state;
	char err[256];
	uid_t u;
	gid_t g;

	assert_int_equal(resolve(r, "builder", &u, &g, err), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 1001);
	/* A number takes its entry's group, or its own value. */
	assert_int_equal(resolve(r, "1000", &u, &g, err), 0);
	assert_int_equal(g, 1001);
	assert_int_equal(resolve(r, "4242", &u, &g, err), 0);
	assert_int_equal(u, 4242);
	assert_int_equal(g, 4242);
	assert_int_equal(resolve(r, "builder:staff", &u, &g, err), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 50);
	assert_int_equal(resolve(r, "0:7", &u, &g, err), 0);
	assert_int_equal(u, 0);
	assert_int_equal(g, 7);
	assert_int_equal(resolve(r, "last", &u, &g, err), 0);
	assert_int_equal(u, 1300);
	assert_int_equal(g, 1301);
}

static void
test_refusals(void **state)
{
	struct root *r = *state;
	char err[256];
	uid_t u;
	gid_t g;

	assert_int_equal(resolve(r, "nobody-here", &u, &g, err), -ENOENT);
	assert_string_equal(err, "user 'nobody-here' is not in the image's "
			    "/etc/passwd");
	assert_int_equal(resolve(r, "bad", &u, &g, err), -ENOENT);
	assert_int_equal(resolve(r, "broken line without colons", &u, &g,
				 err), -ENOENT);
	assert_int_equal(resolve(r, "huge", &u, &g, err), -ERANGE);
	assert_string_equal(err, "user 'huge' is uid 70000, gid 70000: a "
			    "job's ids are 0 to 65535");
	assert_int_equal(resolve(r, "builder:big", &u, &g, err), -ERANGE);
	assert_int_equal(resolve(r, "builder:wheel", &u, &g, err), -ENOENT);
	assert_string_equal(err, "group 'wheel' is not in the image's "
			    "/etc/group");
	assert_int_equal(u, 12345);  /* untouched on failure */
	/* A line short of a group field still names its uid. */
	assert_int_equal(resolve(r, "short", &u, &g, err), 0);
	assert_int_equal(u, 1200);
	assert_int_equal(g, 1200);
}

/* Links out of the root resolve inside it: never the host's files. */
static void
test_links_stay_inside(void **state)
{
	struct root *r = *state;
	char path[256], err[256];
	uid_t u;
	gid_t g;

	snprintf(path, sizeof(path), "%s/etc/passwd", r->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	/* /etc/passwd inside the root is the link itself: a loop. */
	assert_true(resolve(r, "root", &u, &g, err) < 0);
	assert_non_null(strstr(err, "cannot read the image's /etc/passwd"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("../../../../../../etc/passwd", path), 0);
	assert_true(resolve(r, "root", &u, &g, err) < 0);
	/* The host's users are not the image's, by number either. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/real", path), 0);
	put(r, "etc/real", "inside:x:77:78::/:/bin/sh\n");
	assert_int_equal(resolve(r, "inside", &u, &g, err), 0);
	assert_int_equal(u, 77);
	assert_int_equal(g, 78);
}

static void
test_not_a_file_and_too_big(void **state)
{
	struct root *r = *state;
	char path[256], err[256];
	uid_t u;
	gid_t g;
	int fd;

	snprintf(path, sizeof(path), "%s/etc/passwd", r->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(resolve(r, "root", &u, &g, err) < 0);
	assert_non_null(strstr(err, "cannot read the image's /etc/passwd"));
	/* A number needs no passwd at all. */
	assert_int_equal(resolve(r, "1000", &u, &g, err), 0);
	assert_int_equal(g, 1000);
	assert_int_equal(rmdir(path), 0);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64LL << 20), 0);  /* sparse */
	close(fd);
	assert_true(resolve(r, "root", &u, &g, err) < 0);
	assert_non_null(strstr(err, strerror(EFBIG)));
}

/*
 * An image may hold FIFOs (the layer scan keeps them): one at /etc/passwd
 * must be refused, not opened; an open for reading waits for a writer
 * that never comes, and the supervisor (host root) with it.
 */
static void
test_fifo_passwd(void **state)
{
	struct root *r = *state;
	char path[256], err[256];
	uid_t u;
	gid_t g;

	snprintf(path, sizeof(path), "%s/etc/passwd", r->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_true(resolve(r, "root", &u, &g, err) < 0);
	assert_non_null(strstr(err, "cannot read the image's /etc/passwd"));
}

/* Without a root of its own, the host's: named so in messages. */
static void
test_host_root(void **state)
{
	char err[256];
	uid_t u;
	gid_t g;

	(void)state;
	assert_int_equal(sv_user_resolve("/", "root", &u, &g, err, 256), 0);
	assert_int_equal(u, 0);
	assert_int_equal(sv_user_resolve("/", "no-such-user-xyz", &u, &g, err,
					 256), -ENOENT);
	assert_string_equal(err, "user 'no-such-user-xyz' is not in the "
			    "host's /etc/passwd");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_and_numbers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_stay_inside, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_a_file_and_too_big,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_passwd, setup,
						teardown),
		cmocka_unit_test(test_host_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
