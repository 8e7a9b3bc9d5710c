/*
 * The supervisor's secret masking (src/supervisor/mask.c), driven directly:
 * the log writer is replaced by one that collects what would reach the log.
 * The encoded forms come from coreutils (base64, basenc --base64url,
 * xxd -p, rev) run on the same values, so the expectations are the
 * standard encodings, not mask.c's own.  Every test also feeds its input
 * split at every position into two reads, which must give the same log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor.h"

/* What reached the log; the one global of this test, reset by each case. */
static struct buf logged;

void
sv_log_write(struct supervisor *sv, const char *data, size_t len)
{
	(void)sv;
	assert_int_equal(buf_append(&logged, data, len), 0);
}

static struct supervisor *
sv_with(const char *const *values)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	size_t i;

	assert_non_null(sv);
	for (i = 0; values[i] != NULL; i++)
		sv_mask_add(&sv->mask, values[i], strlen(values[i]));
	return sv;
}

static void
sv_done(struct supervisor *sv)
{
	sv_mask_free(&sv->mask);
	free(sv);
}

/* in, fed in pieces of at most `piece` bytes (0: whole), gives want. */
static void
expect_masked_in(const char *const *values, const char *in, size_t piece,
		 const char *want)
{
	struct supervisor *sv = sv_with(values);
	size_t n = strlen(in), off = 0, k;

	buf_free(&logged);
	buf_init(&logged, 0);
	while (off < n) {
		k = piece == 0 || n - off < piece ? n - off : piece;
		sv_mask_feed(sv, in + off, k);
		off += k;
	}
	sv_mask_flush(sv);
	assert_int_equal(buf_append(&logged, "", 1), 0);
	assert_string_equal(logged.data, want);
	sv_done(sv);
}

/* Whole, byte by byte, and split in two at every position. */
static void
expect_masked(const char *const *values, const char *in, const char *want)
{
	struct supervisor *sv;
	size_t n = strlen(in), cut;

	expect_masked_in(values, in, 0, want);
	expect_masked_in(values, in, 1, want);
	for (cut = 1; cut < n; cut++) {
		sv = sv_with(values);
		buf_free(&logged);
		buf_init(&logged, 0);
		sv_mask_feed(sv, in, cut);
		sv_mask_feed(sv, in + cut, n - cut);
		sv_mask_flush(sv);
		assert_int_equal(buf_append(&logged, "", 1), 0);
		if (strcmp(logged.data, want) != 0)
			fail_msg("split at %zu: got \"%s\", want \"%s\"", cut,
				 logged.data, want);
		sv_done(sv);
	}
}

static const char *const hunter[] = {"hunter2-secret", NULL};

static void
test_literal(void **state)
{
	(void)state;
	expect_masked(hunter, "pw=hunter2-secret.\n", "pw=***.\n");
	expect_masked(hunter, "hunter2-secrethunter2-secret", "******");
	/* A prefix at the very end is not a secret: it is written as it was. */
	expect_masked(hunter, "ends with hunter2-sec", "ends with hunter2-sec");
}

/*
 * printf %s "$P$S" | base64 for P = "", "X", "XY": the value at each
 * offset within a 3-byte group.  Kept: the characters that also carry
 * bits of the bytes around the value (the padding here).
 */
static void
test_base64_alignments(void **state)
{
	(void)state;
	expect_masked(hunter, "aHVudGVyMi1zZWNyZXQ=\n", "***Q=\n");
	expect_masked(hunter, "WGh1bnRlcjItc2VjcmV0\n", "WG***\n");
	expect_masked(hunter, "WFlodW50ZXIyLXNlY3JldA==\n", "WFl***A==\n");
	/* Inside a longer stream, as in a base64'd config file. */
	expect_masked(hunter, "dG9rZW49aHVudGVyMi1zZWNyZXQK", "dG9rZW49***QK");
}

/* The URL-safe alphabet: bytes whose base64 is all '+' and '/'. */
static void
test_base64_url(void **state)
{
	static const char *const odd[] = {"\xfb\xff\xbe\xfb\xff\xbe\xfb\xff\xbe",
					  NULL};

	(void)state;
	expect_masked(odd, "std +/+++/+++/++ end", "std *** end");
	expect_masked(odd, "url -_---_---_-- end", "url *** end");
}

static void
test_hex(void **state)
{
	(void)state;
	expect_masked(hunter, "68756e746572322d736563726574\n", "***\n");
	expect_masked(hunter, "0x68756E746572322D736563726574!", "0x***!");
	/* Mixed case is not a form we look for. */
	expect_masked(hunter, "68756E746572322d736563726574",
		      "68756E746572322d736563726574");
}

static void
test_reversed(void **state)
{
	(void)state;
	expect_masked(hunter, "rev: terces-2retnuh\n", "rev: ***\n");
}

/* Below 8 bytes only the value itself: its forms are too short to trust. */
static void
test_short_secret(void **state)
{
	static const char *const seven[] = {"abcdefg", NULL};

	(void)state;
	/* abcdefg | base64 = YWJjZGVmZw==, | xxd -p = 61626364656667 */
	expect_masked(seven, "abcdefg YWJjZGVmZw== 61626364656667 gfedcba",
		      "*** YWJjZGVmZw== 61626364656667 gfedcba");
}

/* Overlapping forms and secrets: the longest match wins. */
static void
test_longest_wins(void **state)
{
	static const char *const two[] = {"abc-XYZ-123", "XYZ", NULL};

	(void)state;
	expect_masked(two, "t=abc-XYZ-123 s=XYZ abc-XY",
		      "t=*** s=*** abc-XY");
}

static void
test_limits(void **state)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	char v[16];
	int i;

	(void)state;
	assert_non_null(sv);
	sv_mask_add(&sv->mask, "", 0);
	assert_int_equal(sv->mask.count, 0);
	for (i = 0; i < SV_MAX_MASKS + 5; i++) {
		snprintf(v, sizeof(v), "value-%04d", i);
		sv_mask_add(&sv->mask, v, strlen(v));
	}
	assert_int_equal(sv->mask.count, SV_MAX_MASKS);
	sv_done(sv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_base64_alignments),
		cmocka_unit_test(test_base64_url),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_reversed),
		cmocka_unit_test(test_short_secret),
		cmocka_unit_test(test_longest_wins),
		cmocka_unit_test(test_limits),
	};
	int rc;

	buf_init(&logged, 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	buf_free(&logged);
	return rc;
}
