/*
 * util: durations, `$VAR` expansion, the capped buffer, reading files with a cap, env names,
 * directories made and removed, hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipewright/util.h"

static void
test_duration_parse(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{"90s", 90000}, {"10m", 600000}, {"1h30m", 5400000},
		{"1h", 3600000}, {"500ms", 500}, {"1m30s", 90000},
		{"2h0m5s", 7205000}, {"1s250ms", 1250}, {"0s", 0},
		{"7d", 7 * 86400000ULL}, {"1d12h", 129600000},
	};
	static const char *const bad[] = {
		"", "10", "10x", "s", "1m1h", "1s1s", "-5s", "1.5s", "10 s",
		"99999999999999999999s", "1ms1s", "1h1d", "1d1d", "d",
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(good); i++) {
		assert_int_equal(pw_duration_parse(good[i].s, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < PW_ARRAY_LEN(bad); i++)
		assert_int_equal(pw_duration_parse(bad[i], &ms), -EINVAL);
}

static void
test_expand(void **state)
{
	static const char *const env[] = {
		"BRANCH=main", "OS=linux", "EMPTY=", "OS=bsd", "A_1=x", NULL,
	};
	static const struct {
		const char *in;
		const char *out;
	} good[] = {
		{"plain", "plain"},
		{"", ""},
		{"cargo-$BRANCH", "cargo-main"},
		{"cargo-${BRANCH}-x", "cargo-main-x"},
		{"$OS", "bsd"},                 /* the last one set wins */
		{"a${EMPTY}b", "ab"},
		{"$BRANCH.$A_1", "main.x"},
		{"${A_1}1", "x1"},
		{"$A_1$A_1", "xx"},
		{"cost$$", "cost$"},
		{"$$BRANCH", "$BRANCH"},
		{"target/$OS/", "target/bsd/"},
	};
	char err[128], *out;
	size_t i, at;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(good); i++) {
		assert_int_equal(pw_expand(good[i].in, env, &out, err,
					   sizeof(err)), 0);
		assert_string_equal(out, good[i].out);
		free(out);
		assert_int_equal(pw_expand_check(good[i].in, &at, err,
						 sizeof(err)), 0);
	}
	out = (char *)1;
	assert_int_equal(pw_expand("x-$NOPE-y", env, &out, err, sizeof(err)),
			 -ENOENT);
	assert_null(out);
	assert_string_equal(err, "unknown variable $NOPE");
	assert_int_equal(pw_expand("${BRANCHES}", env, &out, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "unknown variable $BRANCHES");
	assert_int_equal(pw_expand("$BRANCH", NULL, &out, err, sizeof(err)),
			 -ENOENT);
	/* Only the syntax is checked without variables. */
	assert_int_equal(pw_expand_check("x-$NOPE", NULL, err, sizeof(err)), 0);

	assert_int_equal(pw_expand("a-${BRANCH", env, &out, err, sizeof(err)),
			 -EINVAL);
	assert_null(out);
	assert_string_equal(err, "'${' at character 3 is not closed by '}'");
	assert_int_equal(pw_expand_check("a-${BRANCH", &at, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(at, 2);
	assert_int_equal(pw_expand_check("${}", &at, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "empty '${}' at character 1");
	assert_int_equal(at, 0);
	assert_int_equal(pw_expand_check("x${A:-b}", &at, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "'${A:-b}' at character 2 is not a variable"
			    " name (letters, digits and '_'; no defaults or"
			    " other forms)");
	assert_int_equal(pw_expand_check("v1-$", &at, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "'$' at character 4 is not followed by a name"
			    " or '{'; write '$$' for a '$'");
	assert_int_equal(at, 3);
	assert_int_equal(pw_expand("$1", env, &out, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(pw_expand_check("${9X}", NULL, err, sizeof(err)),
			 -EINVAL);
}

static void
test_duration_format(void **state)
{
	char out[32];

	(void)state;
	pw_duration_format(250, out, sizeof(out));
	assert_string_equal(out, "250ms");
	pw_duration_format(1250, out, sizeof(out));
	assert_string_equal(out, "1.25s");
	pw_duration_format(90000, out, sizeof(out));
	assert_string_equal(out, "1m30s");
	pw_duration_format(5400000, out, sizeof(out));
	assert_string_equal(out, "1h30m");
	pw_duration_format(600000, out, sizeof(out));
	assert_string_equal(out, "10m");
	pw_duration_format(3600500, out, sizeof(out));
	assert_string_equal(out, "1h");
	pw_duration_format(45000, out, sizeof(out));
	assert_string_equal(out, "45s");
}

static void
test_buf_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_int_equal(buf_append(&b, "6789", 4), -E2BIG);
	assert_int_equal(b.len, 5);
	assert_int_equal(buf_printf(&b, "%d", 678), 0);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_append(&b, "9", 1), -E2BIG);
	buf_free(&b);

	/* Unlimited: the void appenders, which cannot fail. */
	buf_init(&b, 0);
	buf_add(&b, "ab", 2);
	buf_adds(&b, "cd");
	buf_addf(&b, "%s-%d", "e", 7);
	assert_string_equal(b.data, "abcde-7");
	assert_int_equal(b.len, 7);
	buf_free(&b);
}

static void
test_read_file(void **state)
{
	char path[] = "/tmp/pw-util.XXXXXX";
	char *data;
	size_t len;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	assert_int_equal(pw_read_file(path, 6, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	assert_int_equal(pw_read_file(path, 5, &data, &len), -EFBIG);
	unlink(path);
	assert_int_equal(pw_read_file(path, 5, &data, &len), -ENOENT);
}

static void
test_env_name(void **state)
{
	(void)state;
	assert_true(pw_env_name_valid("A", 1));
	assert_true(pw_env_name_valid("_", 1));
	assert_true(pw_env_name_valid("a_B9", 4));
	assert_true(pw_env_name_valid("PATH=x", 4)); /* only n bytes count */
	assert_false(pw_env_name_valid("", 0));
	assert_false(pw_env_name_valid("9A", 2));
	assert_false(pw_env_name_valid("A-B", 3));
	assert_false(pw_env_name_valid("A B", 3));
	assert_false(pw_env_name_valid("A=B", 3));
	assert_false(pw_env_name_valid("\xc3\xa9", 2)); /* no locale letters */
	assert_true(pw_env_name_reserved("PIPEWRIGHT_RUN_ID", 17));
	assert_true(pw_env_name_reserved("PIPEWRIGHT_", 11));
	assert_true(pw_env_name_reserved("PIPEWRIGHT", 10));
	assert_false(pw_env_name_reserved("PIPEWRIGHT_X", 9));
	assert_false(pw_env_name_reserved("PIPEWRIGHTX", 11));
	assert_false(pw_env_name_reserved("pipewright_x", 12));
}

static mode_t
current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

static void
test_mkdirs(void **state)
{
	char top[] = "/tmp/pw-util.XXXXXX", path[256], file[256];
	char longp[PATH_MAX + 16];
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(path, sizeof(path), "%s/a/b/c", top);
	assert_int_equal(pw_mkdirs(path, 0750), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750 & ~current_umask());
	/* Again, and with a trailing '/': what is there is fine. */
	assert_int_equal(pw_mkdirs(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/", top);
	assert_int_equal(pw_mkdirs(path, 0750), 0);
	/* A file on the way. */
	snprintf(file, sizeof(file), "%s/a/f", top);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/a/f/d", top);
	assert_int_equal(pw_mkdirs(path, 0700), -ENOTDIR);
	/* One directory in a parent that exists, and two missing under it. */
	snprintf(path, sizeof(path), "%s/a/b/d", top);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700 & ~current_umask());
	snprintf(path, sizeof(path), "%s/a/b/d/e/f", top);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(pw_mkdirs(longp, 0700), -ENAMETOOLONG);
	assert_int_equal(pw_mkdirs("", 0700), -ENOENT);
	assert_int_equal(pw_remove_tree(top), 0);
}

static void
test_remove_tree(void **state)
{
	char top[] = "/tmp/pw-util.XXXXXX", outside[] = "/tmp/pw-util.XXXXXX";
	char path[256], kept[256];
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(top));
	assert_non_null(mkdtemp(outside));
	snprintf(kept, sizeof(kept), "%s/kept", outside);
	fd = open(kept, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* A tree with files, an empty directory and links out of it. */
	snprintf(path, sizeof(path), "%s/a/b/c", top);
	assert_int_equal(pw_mkdirs(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/file", top);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/a/link-dir", top);
	assert_int_equal(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/a/b/link-file", top);
	assert_int_equal(symlink(kept, path), 0);
	/* The links go; what they point at stays. */
	assert_int_equal(pw_remove_tree(top), 0);
	assert_int_equal(lstat(top, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(kept, &st), 0);
	/* Absent: nothing to do.  A file: removed. */
	assert_int_equal(pw_remove_tree(top), 0);
	assert_int_equal(pw_remove_tree(kept), 0);
	assert_int_equal(lstat(kept, &st), -1);
	/* A link to a directory given itself: the link goes, not the dir. */
	snprintf(path, sizeof(path), "%s-link", outside);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(pw_remove_tree(path), 0);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(stat(outside, &st), 0);
	assert_int_equal(pw_remove_tree(outside), 0);
	assert_int_equal(lstat(outside, &st), -1);
}

static void
test_hex(void **state)
{
	unsigned char out[4];

	(void)state;
	assert_int_equal(pw_hex_digit('0'), 0);
	assert_int_equal(pw_hex_digit('9'), 9);
	assert_int_equal(pw_hex_digit('a'), 10);
	assert_int_equal(pw_hex_digit('F'), 15);
	assert_int_equal(pw_hex_digit('g'), -1);
	assert_int_equal(pw_hex_digit('G'), -1);
	assert_int_equal(pw_hex_digit('/'), -1);
	assert_int_equal(pw_hex_digit(':'), -1);
	assert_int_equal(pw_hex_digit('\0'), -1);
	assert_int_equal(pw_hex_digit(0xb0), -1);
	assert_true(pw_hex_decode("00fF7a", 6, out, 3));
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0x7a);
	assert_true(pw_hex_decode("", 0, out, 0));
	/* Exactly 2*n digits, nothing else. */
	assert_false(pw_hex_decode("00ff7", 5, out, 3));
	assert_false(pw_hex_decode("00ff7a00", 8, out, 3));
	assert_false(pw_hex_decode("00fg7a", 6, out, 3));
	assert_false(pw_hex_decode("00 f7a", 6, out, 3));
	assert_false(pw_hex_decode("0x0f7a", 6, out, 3));
}

/* Sizes for log lines: binary units, a decimal only below 10. */
static void
test_size_format(void **state)
{
	static const struct {
		uint64_t n;
		const char *s;
	} rows[] = {
		{0, "0 bytes"}, {1, "1 byte"}, {1023, "1023 bytes"},
		{1024, "1 KiB"}, {1536, "1.5 KiB"}, {10 * 1024 - 1, "10 KiB"},
		{412ULL << 20, "412 MiB"}, {(1ULL << 30) - 1, "1 GiB"},
		{3328599654ULL, "3.1 GiB"}, {1ULL << 30, "1 GiB"},
		{(1ULL << 20) * 1023 + 1000000, "1 GiB"},
		{UINT64_MAX, "16 EiB"},
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(rows); i++) {
		pw_size_format(rows[i].n, out, sizeof(out));
		assert_string_equal(out, rows[i].s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_env_name),
		cmocka_unit_test(test_mkdirs),
		cmocka_unit_test(test_remove_tree),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_size_format),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
