/*
 * Unit tests of the trace module: ids (length, hex, never all zeros),
 * the W3C traceparent, the sampling decision from the trace id, and the
 * OTLP/JSON body parsed back with cJSON (ids, kinds, parent links, times
 * in nanoseconds as strings, attributes by type, status).
 */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipewright/trace.h"

static void
test_ids(void **state)
{
	char t[TRACE_ID_HEX], s[TRACE_SPAN_HEX], t2[TRACE_ID_HEX];

	(void)state;
	trace_id_new(t);
	trace_id_new(t2);
	trace_span_id_new(s);
	assert_int_equal(strlen(t), 32);
	assert_int_equal(strlen(s), 16);
	assert_true(trace_id_valid(t, 32));
	assert_true(trace_id_valid(s, 16));
	assert_string_not_equal(t, t2);
	assert_false(trace_id_valid("00000000000000000000000000000000", 32));
	assert_false(trace_id_valid("0123456789ABCDEF", 16)); /* lower case */
	assert_false(trace_id_valid("0123456789abcde", 16));
	assert_false(trace_id_valid("0123456789abcdeg", 16));
	assert_false(trace_id_valid(NULL, 16));
}

static void
test_traceparent(void **state)
{
	char tp[TRACE_PARENT_SIZE];

	(void)state;
	trace_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
			  true, tp);
	assert_string_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-"
			    "00f067aa0ba902b7-01");
	trace_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
			  false, tp);
	assert_string_equal(tp + strlen(tp) - 3, "-00");
}

static void
test_sampled(void **state)
{
	const char *low = "ffffffffffffffff0000000000000001";
	const char *high = "0000000000000001ffffffffffffffff";

	(void)state;
	assert_true(trace_sampled(high, 1.0));
	assert_false(trace_sampled(low, 0.0));
	/* Decided by the last 8 bytes only. */
	assert_true(trace_sampled(low, 0.5));
	assert_false(trace_sampled(high, 0.5));
	assert_true(trace_sampled(high, 1.0));
	assert_false(trace_sampled("nothex", 0.5));
}

static const char *
attr_str(cJSON *span, const char *key, const char *type)
{
	cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItem(span, "attributes")) {
		if (strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) == 0) {
			cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(a,
						       "value"), type);

			return v == NULL ? NULL : cJSON_IsBool(v) ?
			       (cJSON_IsTrue(v) ? "true" : "false") :
			       v->valuestring;
		}
	}
	return NULL;
}

static void
test_json(void **state)
{
	const char *tid = "4bf92f3577b34da6a3ce929d0e0e4736";
	struct trace_attr attrs[] = {
		{"cicd.pipeline.name", TRACE_STR, "app", 0},
		{"left.out", TRACE_STR, NULL, 0},
		{"pipewright.attempt.number", TRACE_INT, NULL, 2},
		{"flag", TRACE_BOOL, NULL, 1},
	};
	struct trace_span sp[] = {
		{tid, "00f067aa0ba902b7", NULL, "RUN app", TRACE_KIND_SERVER,
		 1700000000123, 1700000001000, false, NULL, attrs, 4},
		{tid, "1111111111111111", "00f067aa0ba902b7", "build",
		 TRACE_KIND_INTERNAL, 1700000000500, 1700000000400, true,
		 "exit 3", NULL, 0},
		{tid, "bad", NULL, "dropped", TRACE_KIND_INTERNAL, 1, 2, false,
		 NULL, NULL, 0},
	};
	char *body = trace_otlp_json("svc", "1.2", sp, 3);
	cJSON *doc = cJSON_Parse(body), *rs, *ss, *spans, *s0, *s1, *st;

	(void)state;
	assert_non_null(doc);
	rs = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "resourceSpans"), 0);
	assert_string_equal(attr_str(cJSON_GetObjectItem(rs, "resource"),
				     "service.name", "stringValue"), "svc");
	ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(ss, "scope"),
						"name")->valuestring, "pipewright");
	spans = cJSON_GetObjectItem(ss, "spans");
	assert_int_equal(cJSON_GetArraySize(spans), 2);
	s0 = cJSON_GetArrayItem(spans, 0);
	s1 = cJSON_GetArrayItem(spans, 1);
	assert_string_equal(cJSON_GetObjectItem(s0, "traceId")->valuestring, tid);
	assert_null(cJSON_GetObjectItem(s0, "parentSpanId"));
	assert_int_equal(cJSON_GetObjectItem(s0, "kind")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(s0, "startTimeUnixNano")->valuestring,
			    "1700000000123000000");
	assert_string_equal(attr_str(s0, "cicd.pipeline.name", "stringValue"),
			    "app");
	assert_null(attr_str(s0, "left.out", "stringValue"));
	assert_string_equal(attr_str(s0, "pipewright.attempt.number",
				     "intValue"), "2");
	assert_string_equal(attr_str(s0, "flag", "boolValue"), "true");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(s0, "status"),
					"code"));
	assert_string_equal(cJSON_GetObjectItem(s1, "parentSpanId")->valuestring,
			    "00f067aa0ba902b7");
	assert_int_equal(cJSON_GetObjectItem(s1, "kind")->valueint, 1);
	/* An end before the start is taken as the start. */
	assert_string_equal(cJSON_GetObjectItem(s1, "endTimeUnixNano")->valuestring,
			    "1700000000500000000");
	st = cJSON_GetObjectItem(s1, "status");
	assert_int_equal(cJSON_GetObjectItem(st, "code")->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(st, "message")->valuestring,
			    "exit 3");
	cJSON_Delete(doc);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_sampled),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
