/*
 * Trace context and the OTLP/JSON body (include/pipewright/trace.h).
 *
 * The JSON follows opentelemetry-proto's JSON mapping as OTLP/HTTP
 * receivers read it: traceId and spanId as hex strings (not base64),
 * 64-bit integers (times, intValue) as decimal strings, kind and status
 * code as numbers.  Ids come from getrandom(2): a trace id must not be
 * guessable from another run's, and there is no generator state to keep.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pipewright/trace.h"
#include "pipewright/util.h"

static void
random_hex(char *out, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i, got = 0;
	ssize_t r;
	bool zero = true;

	while (got < bytes) {
		r = getrandom(b + got, bytes - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	for (i = 0; i < bytes; i++)
		zero = zero && b[i] == 0;
	if (zero)
		b[bytes - 1] = 1; /* all zeros is the invalid id */
	for (i = 0; i < bytes; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * bytes] = '\0';
}

void
trace_id_new(char out[TRACE_ID_HEX])
{
	random_hex(out, 16);
}

void
trace_span_id_new(char out[TRACE_SPAN_HEX])
{
	random_hex(out, 8);
}

bool
trace_id_valid(const char *s, size_t digits)
{
	bool zero = true;
	size_t i;

	if (s == NULL || strlen(s) != digits)
		return false;
	for (i = 0; i < digits; i++) {
		if (pw_hex_digit((unsigned char)s[i]) < 0 ||
		    (s[i] >= 'A' && s[i] <= 'F'))
			return false;
		zero = zero && s[i] == '0';
	}
	return !zero;
}

bool
trace_sampled(const char *trace_id, double ratio)
{
	unsigned char b[16];
	uint64_t low = 0;
	size_t i;

	if (ratio >= 1.0)
		return true;
	if (ratio <= 0.0 || trace_id == NULL ||
	    !pw_hex_decode(trace_id, strlen(trace_id), b, sizeof(b)))
		return false;
	for (i = 8; i < 16; i++)
		low = low << 8 | b[i];
	/* The top 63 bits against ratio · 2^63, as the SDKs compare. */
	return (low >> 1) < (uint64_t)(ratio * 9223372036854775808.0);
}

void
trace_traceparent(const char *trace_id, const char *span_id, bool sampled,
		  char out[TRACE_PARENT_SIZE])
{
	snprintf(out, TRACE_PARENT_SIZE, "00-%s-%s-%s", trace_id, span_id,
		 sampled ? "01" : "00");
}

static void
add_nanos(cJSON *o, const char *name, uint64_t ms)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRIu64 "000000", ms);
	cJSON_AddStringToObject(o, name, ms == 0 ? "0" : s);
}

static cJSON *
attr_json(const char *key, cJSON *value)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddStringToObject(a, "key", key);
	cJSON_AddItemToObject(a, "value", value);
	return a;
}

static cJSON *
str_value(const char *s)
{
	cJSON *v = cJSON_CreateObject();

	cJSON_AddStringToObject(v, "stringValue", s);
	return v;
}

static void
add_attrs(cJSON *span, const struct trace_attr *attrs, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(span, "attributes");
	char num[32];
	cJSON *v;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct trace_attr *a = &attrs[i];

		if (a->type == TRACE_STR) {
			if (a->s == NULL)
				continue;
			v = str_value(a->s);
		} else if (a->type == TRACE_INT) {
			v = cJSON_CreateObject();
			snprintf(num, sizeof(num), "%" PRId64, a->i);
			cJSON_AddStringToObject(v, "intValue", num);
		} else {
			v = cJSON_CreateObject();
			cJSON_AddBoolToObject(v, "boolValue", a->i != 0);
		}
		cJSON_AddItemToArray(arr, attr_json(a->key, v));
	}
}

static cJSON *
span_json(const struct trace_span *s)
{
	cJSON *o = cJSON_CreateObject(), *st;

	cJSON_AddStringToObject(o, "traceId", s->trace_id);
	cJSON_AddStringToObject(o, "spanId", s->span_id);
	if (s->parent_id != NULL)
		cJSON_AddStringToObject(o, "parentSpanId", s->parent_id);
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddNumberToObject(o, "kind", s->kind);
	add_nanos(o, "startTimeUnixNano", s->start_ms);
	add_nanos(o, "endTimeUnixNano",
		  s->end_ms < s->start_ms ? s->start_ms : s->end_ms);
	add_attrs(o, s->attrs, s->nattrs);
	st = cJSON_AddObjectToObject(o, "status");
	if (s->error) {
		cJSON_AddNumberToObject(st, "code", 2);
		if (s->message != NULL)
			cJSON_AddStringToObject(st, "message", s->message);
	}
	return o;
}

char *
trace_otlp_json(const char *service_name, const char *version,
		const struct trace_span *spans, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *rs, *res, *ss, *scope, *arr;
	char *out;
	size_t i;

	rs = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "resourceSpans"), rs);
	res = cJSON_AddObjectToObject(rs, "resource");
	arr = cJSON_AddArrayToObject(res, "attributes");
	cJSON_AddItemToArray(arr, attr_json("service.name",
					    str_value(service_name)));
	if (version != NULL)
		cJSON_AddItemToArray(arr, attr_json("service.version",
						    str_value(version)));
	ss = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(rs, "scopeSpans"), ss);
	scope = cJSON_AddObjectToObject(ss, "scope");
	cJSON_AddStringToObject(scope, "name", "pipewright");
	if (version != NULL)
		cJSON_AddStringToObject(scope, "version", version);
	arr = cJSON_AddArrayToObject(ss, "spans");
	for (i = 0; i < n; i++) {
		if (!trace_id_valid(spans[i].trace_id, 32) ||
		    !trace_id_valid(spans[i].span_id, 16) ||
		    (spans[i].parent_id != NULL &&
		     !trace_id_valid(spans[i].parent_id, 16)))
			continue;
		cJSON_AddItemToArray(arr, span_json(&spans[i]));
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (out == NULL)
		abort(); /* cJSON fails only when out of memory */
	return out;
}
