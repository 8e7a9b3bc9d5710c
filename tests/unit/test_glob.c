/*
 * glob: the one matcher for branch filters and workspace paths.  `*`
 * and `?` stop at '/', `**` as a segment spans any depth (none
 * included), a trailing '/' names a directory and what it holds,
 * brackets and escapes as fnmatch reads them; glob_check() refuses what
 * would silently match nothing, glob_path_check() what leaves a
 * workspace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipewright/glob.h"
#include "pipewright/util.h"

struct pair {
	const char *pattern;
	const char *s;
};

static void
expect_matches(const struct pair *yes, size_t nyes, const struct pair *no,
	       size_t nno)
{
	size_t i;

	for (i = 0; i < nyes; i++) {
		if (!glob_match(yes[i].pattern, yes[i].s))
			fail_msg("'%s' should match '%s'", yes[i].pattern,
				 yes[i].s);
	}
	for (i = 0; i < nno; i++) {
		if (glob_match(no[i].pattern, no[i].s))
			fail_msg("'%s' should not match '%s'", no[i].pattern,
				 no[i].s);
	}
}

static void
test_star_stays_in_a_segment(void **state)
{
	static const struct pair yes[] = {
		{"release/*", "release/1.0"},
		{"feature/*", "feature/a"},
		{"*", "main"},
		{"*", ".hidden"},
		{"*.c", "main.c"},
		{"src/*.c", "src/main.c"},
		{"a*b*c", "aXXbYYc"},
		{"*", ""},
		{"v?.?", "v1.2"},
		{"??", "é!"},            /* '?' is one character, not a byte */
		{"main", "main"},
	};
	static const struct pair no[] = {
		{"release/*", "release/1.0/hotfix"},
		{"feature/*", "feature/a/b"},
		{"*", "a/b"},
		{"*", ".hidden/x"},
		{"*.c", "src/main.c"},
		{"release/*", "releases/1.0"},
		{"a?b", "a/b"},
		{"main", "main2"},
		{"main", "mai"},
		{"???", "é!"},
	};

	(void)state;
	expect_matches(yes, PW_ARRAY_LEN(yes), no, PW_ARRAY_LEN(no));
}

static void
test_globstar(void **state)
{
	static const struct pair yes[] = {
		{"**/*.d", "a.d"},
		{"**/*.d", "x/y/a.d"},
		{"**", "a"},
		{"**", "a/b/c"},
		{"release/**", "release/1.0/rc"},
		{"release/**", "release/1.0"},
		{"a/**/b", "a/b"},
		{"a/**/b", "a/x/b"},
		{"a/**/b", "a/x/y/b"},
		{"**/target/**", "target/x"},
		{"**/target/**", "deep/er/target/x/y"},
		{"src/**/*.rs", "src/main.rs"},
		{"src/**/*.rs", "src/a/b/lib.rs"},
		{"**/**/x", "x"},
		{"a**", "abc"},          /* not a whole segment: one '*' */
	};
	static const struct pair no[] = {
		{"**/*.d", "a.c"},
		{"**/*.d", "x/y/a.c"},
		{"release/**", "releases/1.0"},
		{"a/**/b", "a/b/c"},
		{"a/**/b", "b"},
		{"src/**/*.rs", "lib/a.rs"},
		{"a**", "a/b"},
		{"x**y", "x/y"},
	};

	(void)state;
	expect_matches(yes, PW_ARRAY_LEN(yes), no, PW_ARRAY_LEN(no));
}

static void
test_trailing_slash(void **state)
{
	static const struct pair yes[] = {
		{"target/", "target"},
		{"target/", "target/release/app"},
		{".cargo/registry/", ".cargo/registry"},
		{".cargo/registry/", ".cargo/registry/index/x"},
		{"build-*/", "build-1/obj/a.o"},
	};
	static const struct pair no[] = {
		{"target/", "targets"},
		{"target/", "x/target"},
		{"target/", "target2/a"},
		{"build-*/", "build/a"},
	};

	(void)state;
	expect_matches(yes, PW_ARRAY_LEN(yes), no, PW_ARRAY_LEN(no));
}

static void
test_brackets_and_escapes(void **state)
{
	static const struct pair yes[] = {
		{"v[0-9]*", "v1.2"},
		{"[!a]*", "b"},
		{"[^a]", "b"},
		{"[]]", "]"},
		{"[!]]", "a"},
		{"[a-]", "-"},
		{"[[:digit:]]x", "7x"},
		{"[[:upper:][:digit:]]", "Q"},
		{"\\*", "*"},
		{"\\?", "?"},
		{"a\\[b", "a[b"},
		{"[!a]", "é"},           /* a wider character: negations only */
		{"release/[0-9", "release/[0-9"}, /* unchecked: '[' literal */
		{"[\\]]", "]"},
	};
	static const struct pair no[] = {
		{"v[0-9]*", "vx"},
		{"[!a]*", "a"},
		{"[]]", "a"},
		{"[[:digit:]]x", "ax"},
		{"\\*", "x"},
		{"[a-c]", "d"},
		{"[a-c]", "é"},
		{"[!a]", "a"},
		{"a[/]b", "a/b"},
	};

	(void)state;
	expect_matches(yes, PW_ARRAY_LEN(yes), no, PW_ARRAY_LEN(no));
	assert_false(glob_match(NULL, "x"));
	assert_false(glob_match("x", NULL));
}

/* Many `**` against a deep path: a table, not a search that explodes. */
static void
test_many_globstars(void **state)
{
	struct buf p, s;
	size_t i;

	(void)state;
	buf_init(&p, 0);
	buf_init(&s, 0);
	for (i = 0; i < 40; i++)
		buf_adds(&p, "**/");
	buf_adds(&p, "z");
	for (i = 0; i < 1000; i++)
		buf_adds(&s, "a/");
	buf_adds(&s, "y");
	assert_false(glob_match(p.data, s.data));
	buf_adds(&s, "/z");
	assert_true(glob_match(p.data, s.data));
	buf_reset(&p);
	for (i = 0; i < 200; i++)
		buf_adds(&p, "*a");
	buf_reset(&s);
	for (i = 0; i < 300; i++)
		buf_adds(&s, "a");
	buf_adds(&s, "b");
	assert_false(glob_match(p.data, s.data));
	buf_free(&p);
	buf_free(&s);
}

static void
test_check(void **state)
{
	static const struct {
		const char *pattern;
		const char *err;
	} cases[] = {
		{"main", NULL},
		{"release/**", NULL},
		{"[[:alpha:]]*", NULL},
		{"[]]", NULL},
		{"a\\*", NULL},
		{"", "empty pattern"},
		{"release/[0-9", "unclosed '['"},
		{"[[:alfa:]]", "unknown character class"},
		{"[[:alpha]", "unclosed '[:'"},
		{"a\\", "ends with a lone '\\'"},
		{"a\\/b", "'\\/': a '/' cannot be escaped"},
		{"a[/]b", "'/' inside '[...]', which matches one character of"
		 " a name"},
		{"[é]", "a character other than ASCII inside '[...]'"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(cases); i++) {
		const char *err = glob_check(cases[i].pattern);

		if (cases[i].err == NULL)
			assert_null(err);
		else
			assert_string_equal(err, cases[i].err);
	}
}

static void
test_path_check(void **state)
{
	static const struct {
		const char *pattern;
		const char *err;
	} cases[] = {
		{"target/", NULL},
		{"a/b/../c", "it has a '..' component"},
		{"..", "it has a '..' component"},
		{"../x", "it has a '..' component"},
		{"x/..", "it has a '..' component"},
		{"..x/y..", NULL},
		{"./a", NULL},
		{"/etc/shadow", "it is absolute"},
		{"", "it is empty"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(cases); i++) {
		const char *err = glob_path_check(cases[i].pattern);

		if (cases[i].err == NULL)
			assert_null(err);
		else
			assert_string_equal(err, cases[i].err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_star_stays_in_a_segment),
		cmocka_unit_test(test_globstar),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_brackets_and_escapes),
		cmocka_unit_test(test_many_globstars),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_path_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
