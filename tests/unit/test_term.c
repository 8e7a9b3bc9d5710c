/*
 * term_escape (src/cli/escape.c): what the command line lets through to a
 * terminal.  Each case is the text a job could print and what the
 * operator sees; a stream is fed in every possible two-chunk split, which
 * must show the same as the whole text at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/cli/cli.h"
#include "pipewright/util.h"

static char *
esc(const char *s, size_t len, unsigned flags)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(term_escape(&b, s, len, flags | TERM_ESC_FINAL), len);
	return buf_steal(&b);
}

/* As a stream cut at `cut`: the held bytes go again in front of the rest. */
static char *
esc_split(const char *s, size_t len, size_t cut, unsigned flags)
{
	struct buf b, held;
	size_t used;

	buf_init(&b, 0);
	buf_init(&held, 0);
	assert_int_equal(buf_append(&held, s, cut), 0);
	used = term_escape(&b, held.data ? held.data : "", held.len, flags);
	assert_true(used <= held.len);
	assert_true(held.len - used < 64);
	memmove(held.data, held.data + used, held.len - used);
	held.len -= used;
	assert_int_equal(buf_append(&held, s + cut, len - cut), 0);
	assert_int_equal(term_escape(&b, held.data ? held.data : "", held.len,
				     flags | TERM_ESC_FINAL), held.len);
	buf_free(&held);
	return buf_steal(&b);
}

static void
check(const char *in, size_t len, unsigned flags, const char *want)
{
	char *got = esc(in, len, flags);
	size_t cut;

	assert_string_equal(got, want);
	free(got);
	for (cut = 0; cut <= len; cut++) {
		got = esc_split(in, len, cut, flags);
		assert_string_equal(got, want);
		free(got);
	}
}

#define CHECK(in, flags, want) check((in), sizeof(in) - 1, (flags), (want))

static void
test_controls(void **state)
{
	(void)state;
	CHECK("plain text\tand a tab\n", 0, "plain text\tand a tab\n");
	CHECK("a\033]52;c;c2VjcmV0\007b", 0, "a\\x1b]52;c;c2VjcmV0\\x07b");
	CHECK("over\rwrite", 0, "over\\x0dwrite");
	CHECK("line\r\n", 0, "line\r\n");
	CHECK("end\r", 0, "end\\x0d");
	CHECK("\033[2J\177\001", 0, "\\x1b[2J\\x7f\\x01");
	CHECK("nul\0byte", 0, "nul\\x00byte");
}

static void
test_c1_and_utf8(void **state)
{
	(void)state;
	CHECK("csi\302\2332J", 0, "csi\\u009b2J");
	CHECK("nel\302\205", 0, "nel\\u0085");
	CHECK("raw\233x", 0, "raw\\x9bx");
	/* Printable UTF-8 stays: U+00A0, é, €, an emoji. */
	CHECK("\302\240caf\303\251 \342\202\254 \360\237\230\200", 0,
	      "\302\240caf\303\251 \342\202\254 \360\237\230\200");
	/* Overlong ESC, a surrogate, past U+10FFFF, a cut sequence. */
	CHECK("\300\233", 0, "\\xc0\\x9b");
	CHECK("\340\201\233", 0, "\\xe0\\x81\\x9b");
	CHECK("\355\240\200", 0, "\\xed\\xa0\\x80");
	CHECK("\364\220\200\200", 0, "\\xf4\\x90\\x80\\x80");
	CHECK("cut\342\202", 0, "cut\\xe2\\x82");
}

static void
test_sgr(void **state)
{
	(void)state;
	CHECK("\033[31mred\033[0m", TERM_ESC_SGR, "\033[31mred\033[0m");
	CHECK("\033[38;2;1;2;3mrgb\033[m", TERM_ESC_SGR,
	      "\033[38;2;1;2;3mrgb\033[m");
	CHECK("\033[31mred\033[0m", 0, "\\x1b[31mred\\x1b[0m");
	/* Only colours: clearing, moving, OSC and C1 stay escaped. */
	CHECK("\033[2J\033[1;1H\033]0;title\007", TERM_ESC_SGR,
	      "\\x1b[2J\\x1b[1;1H\\x1b]0;title\\x07");
	CHECK("\302\23331m", TERM_ESC_SGR, "\\u009b31m");
	CHECK("\033[31", TERM_ESC_SGR, "\\x1b[31");
	CHECK("\033", TERM_ESC_SGR, "\\x1b");
}

static void
test_str(void **state)
{
	char *s = term_escape_str("main\033]52;c;eA==\007");

	(void)state;
	assert_string_equal(s, "main\\x1b]52;c;eA==\\x07");
	free(s);
	assert_null(term_escape_str(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_c1_and_utf8),
		cmocka_unit_test(test_sgr),
		cmocka_unit_test(test_str),
	};

	return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
