/*
 * JUnit XML → test cases, with expat.  The format has no standard; what
 * is read is what the tools write (docs/internals/report.md):
 * <testsuites> or a bare <testsuite> at the top, suites possibly nested,
 * <testcase name classname file time> holding at most one of <failure>,
 * <error>, <skipped> (ctest writes `status="disabled"|"notrun"` beside a
 * <skipped>).  Everything else (properties, system-out, Surefire's
 * rerun elements) is walked past.
 *
 * Hostile input: a document type declaration stops the parser at once,
 * before any entity can be declared (billion laughs, external entities);
 * expat never reads a file or URL itself.  Nesting, the number of cases,
 * the text kept of a message and the bytes of names kept (a suite's name
 * is copied into each of its cases, so a long one would multiply) are
 * capped here; the file size by the caller.  A document is kept whole
 * or not at all: cases go to a list of their own and are moved to the
 * caller's only at the end.
 */
#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/report.h"
#include "pipewright/util.h"

static const char *const status_names[REPORT_NSTATUS] = {
	"passed", "failed", "error", "skipped",
};

const char *
report_status_name(enum report_status s)
{
	return (unsigned)s < REPORT_NSTATUS ? status_names[s] : "?";
}

int
report_status_parse(const char *s)
{
	int i;

	for (i = 0; i < REPORT_NSTATUS; i++)
		if (strcmp(status_names[i], s) == 0)
			return i;
	return -1;
}

void
report_limits_default(struct report_limits *l)
{
	*l = (struct report_limits){
		.file_max = REPORT_FILE_MAX,
		.total_max = REPORT_TOTAL_MAX,
		.files_max = REPORT_FILES_MAX,
		.cases_max = REPORT_CASES_MAX,
		.depth_max = REPORT_DEPTH_MAX,
		.message_max = REPORT_MESSAGE_MAX,
	};
}

static void
case_free(struct report_case *c)
{
	free(c->suite);
	free(c->classname);
	free(c->name);
	free(c->file);
	free(c->message);
}

void
report_cases_free(struct report_cases *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		case_free(&c->v[i]);
	free(c->v);
	*c = (struct report_cases){0};
}

/* Suites are nested at most depth_max deep: a stack of their names. */
struct parse {
	XML_Parser xp;
	const struct report_limits *lim;
	size_t before;           /* cases the caller had */
	struct report_cases got;
	unsigned depth;
	char **suites;           /* names by depth (NULL where not a suite) */
	bool in_case;            /* inside a <testcase> */
	unsigned case_depth;     /* the <testcase>'s level, from 1 */
	uint64_t kept;           /* bytes of the names kept with the cases */
	bool in_text;            /* collecting a result element's text */
	struct buf msg;          /* the message being collected */
	bool root_seen;
	int rc;                  /* 0, or the error that stopped us */
	char *err;
	size_t errlen;
};

static void
fail(struct parse *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fail(struct parse *p, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->rc != 0)
		return;
	p->rc = rc;
	n = snprintf(p->err, p->errlen, "%lu:%lu: ",
		     (unsigned long)XML_GetCurrentLineNumber(p->xp),
		     (unsigned long)XML_GetCurrentColumnNumber(p->xp) + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	XML_StopParser(p->xp, XML_FALSE);
}

static const char *
attr(const XML_Char **atts, const char *name)
{
	size_t i;

	for (i = 0; atts[i] != NULL; i += 2)
		if (strcmp(atts[i], name) == 0)
			return atts[i + 1];
	return NULL;
}

/*
 * Seconds as the tools write them ("0.004", "12", "1,234.5" from some
 * Surefire versions, "" or junk from others) → ms; junk is 0, never an
 * error: a duration is not worth refusing a report for.
 */
static uint64_t
seconds_ms(const char *s)
{
	uint64_t whole = 0, frac = 0, scale = 1000;

	if (s == NULL)
		return 0;
	for (; *s != '\0' && *s != '.'; s++) {
		if (*s == ',')
			continue;
		if (*s < '0' || *s > '9' || whole > UINT64_MAX / 10000)
			return 0;
		whole = whole * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && scale > 1; s++) {
			scale /= 10;
			frac += (uint64_t)(*s - '0') * scale;
		}
	return whole * 1000 + frac;
}

static struct report_case *
current(struct parse *p)
{
	return &p->got.v[p->got.n - 1];
}

/* Appends up to message_max bytes, never cutting a UTF-8 character. */
static void
msg_add(struct parse *p, const char *s, size_t len)
{
	size_t room = p->lim->message_max > p->msg.len ?
		p->lim->message_max - p->msg.len : 0;

	if (len > room) {
		len = room;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	if (len > 0)
		buf_add(&p->msg, s, len);
}

static void
case_start(struct parse *p, const XML_Char **atts)
{
	const char *name = attr(atts, "name");
	const char *cls = attr(atts, "classname");
	const char *file = attr(atts, "file");
	const char *suite = NULL, *st;
	struct report_case *c;
	unsigned i;

	if (name == NULL || *name == '\0') {
		fail(p, -EINVAL, "a <testcase> without a name");
		return;
	}
	if (p->before + p->got.n >= p->lim->cases_max) {
		fail(p, -E2BIG, "more than %zu test cases", p->lim->cases_max);
		return;
	}
	for (i = p->depth; i-- > 0;)
		if (p->suites[i] != NULL) {
			suite = p->suites[i];
			break;
		}
	/* A suite's name is written once and kept with each of its cases:
	 * the copies are bounded like a file, not by the file's size. */
	p->kept += strlen(name) + (suite != NULL ? strlen(suite) : 0) +
		(cls != NULL ? strlen(cls) : 0) +
		(file != NULL ? strlen(file) : 0);
	if (p->kept > p->lim->file_max) {
		fail(p, -E2BIG, "the names of its cases pass %llu bytes"
		     " together (a suite's name counts once per case)",
		     (unsigned long long)p->lim->file_max);
		return;
	}
	if (p->got.n == p->got.cap) {
		p->got.cap = p->got.cap ? 2 * p->got.cap : 16;
		p->got.v = xrealloc(p->got.v, p->got.cap * sizeof(*p->got.v));
	}
	c = &p->got.v[p->got.n++];
	*c = (struct report_case){
		.suite = xstrdup(suite != NULL ? suite : ""),
		.classname = xstrdup(cls != NULL ? cls : ""),
		.name = xstrdup(name),
		.file = file != NULL ? xstrdup(file) : NULL,
		.status = REPORT_PASSED,
		.duration_ms = seconds_ms(attr(atts, "time")),
	};
	/* ctest: a disabled test has no <skipped>, only its status. */
	st = attr(atts, "status");
	if (st != NULL && (strcmp(st, "disabled") == 0 ||
			   strcmp(st, "notrun") == 0))
		c->status = REPORT_SKIPPED;
	p->in_case = true;
	p->case_depth = p->depth;
}

/* <failure>, <error>, <skipped> directly inside a case. */
static void
result_start(struct parse *p, enum report_status st, const XML_Char **atts)
{
	struct report_case *c = current(p);
	const char *m = attr(atts, "message");

	/* A failure beats a skip written beside it; the first failure's
	 * message is the one kept. */
	if (c->status == REPORT_FAILED || c->status == REPORT_ERROR)
		return;
	c->status = st;
	buf_reset(&p->msg);
	if (m != NULL && *m != '\0') {
		msg_add(p, m, strlen(m));
		msg_add(p, "\n", 1);
	}
	p->in_text = true;
}

static void XMLCALL
on_start(void *arg, const XML_Char *el, const XML_Char **atts)
{
	struct parse *p = arg;
	bool top = !p->root_seen;

	if (p->depth >= p->lim->depth_max) {
		fail(p, -E2BIG, "elements nested deeper than %u",
		     p->lim->depth_max);
		return;
	}
	p->root_seen = true;
	p->suites[p->depth] = NULL;
	p->depth++;
	if (top && strcmp(el, "testsuites") != 0 &&
	    strcmp(el, "testsuite") != 0) {
		fail(p, -EINVAL, "<%.40s> at the top; expected <testsuites>"
		     " or <testsuite> (JUnit XML)", el);
		return;
	}
	if (strcmp(el, "testsuite") == 0 && !p->in_case) {
		const char *n = attr(atts, "name");

		p->suites[p->depth - 1] = xstrdup(n != NULL ? n : "");
		return;
	}
	if (strcmp(el, "testcase") == 0 && !p->in_case) {
		case_start(p, atts);
		return;
	}
	if (!p->in_case || p->depth != p->case_depth + 1 || p->in_text)
		return;
	if (strcmp(el, "failure") == 0)
		result_start(p, REPORT_FAILED, atts);
	else if (strcmp(el, "error") == 0)
		result_start(p, REPORT_ERROR, atts);
	else if (strcmp(el, "skipped") == 0)
		result_start(p, REPORT_SKIPPED, atts);
	else if (strcmp(el, "system-out") == 0 &&
		 (current(p)->status == REPORT_FAILED ||
		  current(p)->status == REPORT_ERROR) &&
		 current(p)->message == NULL) {
		/* ctest's <failure message=""/> leaves the why in the
		 * output. */
		buf_reset(&p->msg);
		p->in_text = true;
	}
}

static void XMLCALL
on_end(void *arg, const XML_Char *el)
{
	struct parse *p = arg;

	(void)el;
	if (p->depth == 0)
		return;
	p->depth--;
	free(p->suites[p->depth]);
	p->suites[p->depth] = NULL;
	if (p->in_text && p->depth == p->case_depth) {
		struct report_case *c = current(p);

		p->in_text = false;
		while (p->msg.len > 0 && (p->msg.data[p->msg.len - 1] == '\n' ||
					  p->msg.data[p->msg.len - 1] == ' '))
			p->msg.len--;
		free(c->message);
		c->message = p->msg.len > 0 ?
			xstrndup(p->msg.data, p->msg.len) : NULL;
	}
	if (p->in_case && p->depth + 1 == p->case_depth)
		p->in_case = false;
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct parse *p = arg;

	if (p->in_text && len > 0)
		msg_add(p, s, (size_t)len);
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int has_internal_subset)
{
	struct parse *p = arg;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(p, -EINVAL, "a document type declaration (<!DOCTYPE>); JUnit"
	     " reports have none, and entities are never expanded");
}

int
report_junit_parse(const char *data, size_t len,
		   const struct report_limits *lim, struct report_cases *out,
		   char *err, size_t errlen)
{
	struct parse p = {
		.lim = lim, .before = out->n, .err = err, .errlen = errlen,
	};
	size_t i;
	int rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "%zu bytes; at most %d", len, INT32_MAX);
		return -E2BIG;
	}
	p.xp = XML_ParserCreate("UTF-8");
	if (p.xp == NULL)
		abort();
	p.suites = xcalloc(lim->depth_max + 1, sizeof(char *));
	buf_init(&p.msg, 0);
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, on_start, on_end);
	XML_SetCharacterDataHandler(p.xp, on_text);
	XML_SetStartDoctypeDeclHandler(p.xp, on_doctype);
	/* Belt and braces: no parameter entities, nothing external. */
	XML_SetParamEntityParsing(p.xp, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(p.xp, data, (int)len, XML_TRUE) == XML_STATUS_ERROR &&
	    p.rc == 0) {
		p.rc = -EINVAL;
		snprintf(err, errlen, "%lu:%lu: %s",
			 (unsigned long)XML_GetCurrentLineNumber(p.xp),
			 (unsigned long)XML_GetCurrentColumnNumber(p.xp) + 1,
			 XML_ErrorString(XML_GetErrorCode(p.xp)));
	}
	rc = p.rc;
	XML_ParserFree(p.xp);
	for (i = 0; i <= lim->depth_max; i++)
		free(p.suites[i]);
	free(p.suites);
	buf_free(&p.msg);
	if (rc < 0) {
		report_cases_free(&p.got);
		return rc;
	}
	if (p.got.n > 0 && out->n + p.got.n > out->cap) {
		out->cap = out->n + p.got.n;
		out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
	}
	if (p.got.n > 0)
		memcpy(out->v + out->n, p.got.v, p.got.n * sizeof(*p.got.v));
	out->n += p.got.n;
	free(p.got.v);
	return 0;
}
