/*
 * trace: OpenTelemetry trace context and the OTLP/HTTP JSON body of a
 * batch of spans.  Pure functions: ids from getrandom(2), a W3C
 * traceparent, the sampling decision, and spans as an
 * ExportTraceServiceRequest (opentelemetry-proto's JSON mapping: ids as
 * lower-case hex, times as decimal strings of Unix nanoseconds, enums as
 * numbers).  Who builds the spans (the daemon, from store rows) and who
 * sends them (notify, from the outbox) is not its concern.
 * See docs/operations.md ("Traces").
 */
#ifndef PIPEWRIGHT_TRACE_H
#define PIPEWRIGHT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_HEX 33      /* 32 hex digits and the NUL */
#define TRACE_SPAN_HEX 17    /* 16 hex digits and the NUL */
#define TRACE_PARENT_SIZE 56 /* "00-<32>-<16>-01" and the NUL */

/* A new random trace id / span id (never all zeros), lower-case hex. */
void trace_id_new(char out[TRACE_ID_HEX]);
void trace_span_id_new(char out[TRACE_SPAN_HEX]);
/* Whether s is a valid trace id (32) or span id (16): hex, not all 0. */
bool trace_id_valid(const char *s, size_t digits);

/*
 * Whether a trace is sampled at `ratio` (0..1): decided from the trace
 * id alone (its last 8 bytes against ratio · 2^64, as OpenTelemetry's
 * TraceIdRatioBased sampler does), so every span of a run agrees, after
 * a restart too, without storing the decision.
 */
bool trace_sampled(const char *trace_id, double ratio);

/* "00-<trace>-<span>-01" (sampled) or "-00" into out. */
void trace_traceparent(const char *trace_id, const char *span_id,
		       bool sampled, char out[TRACE_PARENT_SIZE]);

enum trace_kind {
	TRACE_KIND_INTERNAL = 1,
	TRACE_KIND_SERVER = 2,
};

enum trace_attr_type { TRACE_STR, TRACE_INT, TRACE_BOOL };

struct trace_attr {
	const char *key;
	enum trace_attr_type type;
	const char *s;           /* TRACE_STR; NULL: the attribute is left out */
	int64_t i;               /* TRACE_INT, TRACE_BOOL (0/1) */
};

struct trace_span {
	const char *trace_id;    /* 32 hex */
	const char *span_id;     /* 16 hex */
	const char *parent_id;   /* 16 hex, or NULL for a root span */
	const char *name;
	enum trace_kind kind;
	uint64_t start_ms, end_ms; /* UTC ms; end < start is taken as start */
	bool error;              /* status ERROR (else UNSET) */
	const char *message;     /* the status's message, or NULL */
	const struct trace_attr *attrs;
	size_t nattrs;
};

/*
 * The OTLP/JSON body for spans (one resource with service.name, one
 * scope "pipewright" with version), caller frees.  Spans whose ids are
 * not valid hex are left out.
 */
char *trace_otlp_json(const char *service_name, const char *version,
		      const struct trace_span *spans, size_t n);

#endif
