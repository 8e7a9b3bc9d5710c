/*
 * report: JUnit XML as the tools write it (tests/fixtures/junit: pytest
 * and ctest samples made by the tools, Surefire, go-junit-report and
 * cargo2junit by hand in their formats), the refusals (a DOCTYPE, so no
 * billion laughs and no external entity; malformed XML with its
 * position; limits), and the gather over a real workspace: globs, a
 * symlink leading out, a 2 GB sparse file, a FIFO.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipewright/report.h"
#include "pipewright/util.h"
#include "testlib.h"

static char *
slurp(const char *name, size_t *len)
{
	char *path = xasprintf("%s/tests/fixtures/junit/%s", PW_SOURCE_DIR,
			       name);
	FILE *f = fopen(path, "rb");
	char *data = xmalloc(1 << 20);

	if (f == NULL)
		fail_msg("cannot open %s", path);
	*len = fread(data, 1, 1 << 20, f);
	fclose(f);
	free(path);
	return data;
}

static int
parse_fixture(const char *name, struct report_cases *c, char *err,
	      size_t errlen)
{
	struct report_limits lim;
	size_t len;
	char *data = slurp(name, &len);
	int rc;

	report_limits_default(&lim);
	rc = report_junit_parse(data, len, &lim, c, err, errlen);
	free(data);
	return rc;
}

static const struct report_case *
find(const struct report_cases *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	fail_msg("no case '%s'", name);
	return NULL;
}

static void
expect(const struct report_cases *c, const char *name, const char *cls,
       enum report_status st, const char *in_message)
{
	const struct report_case *k = find(c, name);

	assert_string_equal(k->classname, cls);
	if (k->status != st)
		fail_msg("'%s' is %s, expected %s", name,
			 report_status_name(k->status), report_status_name(st));
	if (in_message == NULL)
		return;
	assert_non_null(k->message);
	if (strstr(k->message, in_message) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", name, k->message,
			 in_message);
}

static void
test_pytest(void **state)
{
	struct report_cases c = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("pytest.xml", &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.v[0].suite, "sample");
	expect(&c, "test_adds", "test_sample", REPORT_PASSED, NULL);
	assert_null(find(&c, "test_adds")->message);
	expect(&c, "test_fails", "test_sample", REPORT_FAILED, "lists differ");
	expect(&c, "test_skipped", "test_sample", REPORT_SKIPPED,
	       "not on this platform");
	expect(&c, "test_errors", "test_sample", REPORT_ERROR, "fixture broke");
	expect(&c, "test_reads", "test_sample.TestParser", REPORT_PASSED, NULL);
	report_cases_free(&c);
}

static void
test_ctest(void **state)
{
	struct report_cases c = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("ctest.xml", &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 4);
	expect(&c, "passes", "passes", REPORT_PASSED, NULL);
	/* The why of a ctest failure is in its output. */
	expect(&c, "fails", "fails", REPORT_FAILED, "expected 3, got 4");
	expect(&c, "skips", "skips", REPORT_SKIPPED, "SKIP_RETURN_CODE");
	expect(&c, "disabled", "disabled", REPORT_SKIPPED, NULL);
	report_cases_free(&c);
}

static void
test_surefire(void **state)
{
	struct report_cases c = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("surefire.xml", &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.v[0].suite, "com.example.CalculatorTest");
	expect(&c, "adds", "com.example.CalculatorTest", REPORT_PASSED, NULL);
	assert_int_equal(find(&c, "adds")->duration_ms, 12);
	expect(&c, "divides", "com.example.CalculatorTest", REPORT_FAILED,
	       "expected: <2> but was: <3>");
	expect(&c, "overflows", "com.example.CalculatorTest", REPORT_ERROR,
	       "Index 3 out of bounds");
	expect(&c, "roundsHalfEven", "com.example.CalculatorTest",
	       REPORT_SKIPPED, "not yet");
	/* Passed on Surefire's rerun: a pass (the flakiness shows across
	 * attempts and runs, not within one report). */
	expect(&c, "retriesNetwork", "com.example.CalculatorTest",
	       REPORT_PASSED, NULL);
	report_cases_free(&c);
}

static void
test_go_cargo(void **state)
{
	struct report_cases c = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("go-junit-report.xml", &c, err,
				       sizeof(err)), 0);
	assert_int_equal(c.n, 4);
	expect(&c, "TestTotal/with_discount", "example.com/shop/cart",
	       REPORT_FAILED, "total = 90, want 81");
	assert_string_equal(find(&c, "TestRound")->suite,
			    "example.com/shop/price");
	expect(&c, "TestRemote", "example.com/shop/cart", REPORT_SKIPPED,
	       "no network");
	/* Appended after what was there. */
	assert_int_equal(parse_fixture("cargo2junit.xml", &c, err,
				       sizeof(err)), 0);
	assert_int_equal(c.n, 7);
	expect(&c, "parses_unicode", "shop::parse::tests", REPORT_FAILED,
	       "left: `\"é\"`");
	expect(&c, "ignored_slow", "shop::parse::tests", REPORT_SKIPPED, NULL);
	assert_string_equal(find(&c, "parses_empty")->suite, "cargo test #0");
	report_cases_free(&c);
}

static void
test_refused(void **state)
{
	struct report_cases c = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse_fixture("pytest.xml", &c, err, sizeof(err)), 0);
	assert_int_equal(parse_fixture("bad/laughs.xml", &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "2:"));
	assert_non_null(strstr(err, "DOCTYPE"));
	assert_int_equal(parse_fixture("bad/xxe.xml", &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "DOCTYPE"));
	assert_int_equal(parse_fixture("bad/malformed.xml", &c, err,
				       sizeof(err)), -EINVAL);
	assert_string_equal(err, "5:32: mismatched tag");
	/* What was there before stays, nothing of the refused is added. */
	assert_int_equal(c.n, 5);
	report_cases_free(&c);
}

static void
test_limits(void **state)
{
	struct report_cases c = {0};
	struct report_limits lim;
	struct buf b;
	char err[256];
	int i;

	(void)state;
	report_limits_default(&lim);
	buf_init(&b, 0);
	for (i = 0; i < 40; i++)
		buf_adds(&b, "<testsuite>");
	assert_int_equal(report_junit_parse(b.data, b.len, &lim, &c, err,
					    sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "nested deeper than 32"));
	buf_reset(&b);
	buf_adds(&b, "<testsuite name='s'>");
	for (i = 0; i < 11; i++)
		buf_addf(&b, "<testcase name='t%d'/>", i);
	buf_adds(&b, "</testsuite>");
	lim.cases_max = 10;
	assert_int_equal(report_junit_parse(b.data, b.len, &lim, &c, err,
					    sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "more than 10 test cases"));
	assert_int_equal(c.n, 0);
	lim.cases_max = 11;
	assert_int_equal(report_junit_parse(b.data, b.len, &lim, &c, err,
					    sizeof(err)), 0);
	assert_int_equal(c.n, 11);
	report_cases_free(&c);
	/* A long message is cut at a character's start, never inside. */
	buf_reset(&b);
	buf_adds(&b, "<testsuites><testsuite name='s'><testcase name='t'>"
		 "<failure message='");
	for (i = 0; i < 3000; i++)
		buf_adds(&b, "é");
	buf_adds(&b, "'/></testcase></testsuite></testsuites>");
	report_limits_default(&lim);
	lim.message_max = 101;
	assert_int_equal(report_junit_parse(b.data, b.len, &lim, &c, err,
					    sizeof(err)), 0);
	assert_int_equal(strlen(c.v[0].message), 100);
	report_cases_free(&c);
	/* Not JUnit, a case without a name. */
	assert_int_equal(report_junit_parse("<html/>", 7, &lim, &c, err,
					    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected <testsuites>"));
	assert_int_equal(report_junit_parse("<testsuite><testcase/>"
					    "</testsuite>", 34, &lim, &c, err,
					    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "without a name"));
	buf_free(&b);
}

/*
 * A suite's name is copied into each of its cases: a 64 KiB name over
 * 20,000 one-line cases (a 500 KiB file) would be 1.3 GB of copies.  The
 * parse runs in a child under a 512 MiB address space, so that a parser
 * without the cap fails here (aborts) instead of taking the machine's
 * memory; with it, the document is refused within the default limits.
 * AddressSanitizer reserves terabytes of address space for its shadow, so
 * its build parses without the cap on the address space (a parser without
 * the name cap then takes 1.3 GB, and still fails the test).
 */
static void
test_suite_name_amplified(void **state)
{
	struct rlimit rl = {512UL << 20, 512UL << 20};
	struct report_cases c = {0};
	struct report_limits lim;
	struct buf b;
	char err[256];
	int i, st;
	pid_t pid;

	(void)state;
	report_limits_default(&lim);
	buf_init(&b, 0);
	buf_adds(&b, "<testsuite name='");
	for (i = 0; i < 64 * 1024; i++)
		buf_add(&b, "s", 1);
	buf_adds(&b, "'>");
	for (i = 0; i < 20000; i++)
		buf_addf(&b, "<testcase name='t%d'/>", i);
	buf_adds(&b, "</testsuite>");
	assert_true((uint64_t)b.len < lim.file_max);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

#ifndef __SANITIZE_ADDRESS__
		setrlimit(RLIMIT_AS, &rl);
#else
		(void)rl;
#endif
		rc = report_junit_parse(b.data, b.len, &lim, &c, err,
					sizeof(err));
		_exit(rc == -E2BIG && strstr(err, "names of its cases") != NULL &&
		      c.n == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	buf_free(&b);
}

static void
put(const char *dir, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void
test_gather(void **state)
{
	char dir[] = "/tmp/pw-report-XXXXXX", out[] = "/tmp/pw-outside-XXXXXX";
	const char *globs[] = {"build/test-results/**/*.xml", "missing/*.xml",
			       "top.xml", NULL};
	const char *one = "<testsuite name='s'><testcase name='a' classname="
		"'c'/><testcase name='b' classname='c'><failure/></testcase>"
		"</testsuite>";
	struct report_gathered g;
	struct report_limits lim;
	char *p, *q;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(out));
	p = xasprintf("%s/build/test-results/unit/deep", dir);
	assert_int_equal(pw_mkdirs(p, 0755), 0);
	free(p);
	put(dir, "build/test-results/unit/a.xml", one);
	put(dir, "build/test-results/unit/deep/b.xml", one);
	put(dir, "build/test-results/unit/deep/notes.txt", one);
	put(dir, "build/test-results/bad.xml", "<testsuite><testcase name=");
	put(dir, "top.xml", one);
	put(out, "secret.xml", one);
	/* A link out, to a file and to a directory: never followed. */
	p = xasprintf("%s/secret.xml", out);
	q = xasprintf("%s/build/test-results/unit/link.xml", dir);
	assert_int_equal(symlink(p, q), 0);
	free(p);
	free(q);
	q = xasprintf("%s/build/test-results/out", dir);
	assert_int_equal(symlink(out, q), 0);
	free(q);
	/* 2 GiB, sparse: refused by its size, never read. */
	p = xasprintf("%s/build/test-results/huge.xml", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2LL << 30), 0);
	close(fd);
	free(p);
	p = xasprintf("%s/build/test-results/fifo.xml", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);

	report_limits_default(&lim);
	assert_int_equal(report_gather(dir, globs, &lim, &g), 0);
	assert_int_equal(g.files, 3);
	assert_int_equal(g.cases.n, 6);
	assert_non_null(strstr(g.log, "reports: warning: "
			       "build/test-results/huge.xml is 2.0 GiB; a report"
			       " may be at most 64.0 MiB, nothing kept from it"));
	assert_non_null(strstr(g.log, "build/test-results/bad.xml:1:"));
	assert_non_null(strstr(g.log, "'missing/*.xml' matched no file"));
	assert_non_null(strstr(g.log, "reports: 6 tests from 3 files: 3 passed,"
			       " 3 failed, 0 errors, 0 skipped"));
	assert_null(strstr(g.log, "secret"));
	assert_null(strstr(g.log, "link.xml"));
	assert_null(strstr(g.log, "notes.txt"));
	/* The FIFO is not a regular file: passed by, never opened. */
	assert_null(strstr(g.log, "fifo.xml"));
	report_gathered_free(&g);
	tl_rm_tree(dir);
	tl_rm_tree(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pytest),
		cmocka_unit_test(test_ctest),
		cmocka_unit_test(test_surefire),
		cmocka_unit_test(test_go_cargo),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_suite_name_amplified),
		cmocka_unit_test(test_gather),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
