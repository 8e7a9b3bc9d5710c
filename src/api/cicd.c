/*
 * OpenTelemetry's CI/CD metrics in the /metrics exposition, named as
 * OpenTelemetry's Prometheus exporters name them (dots as underscores,
 * the unit as a suffix): cicd_pipeline_run_duration_seconds (histogram),
 * cicd_pipeline_run_active and cicd_worker_count.  The figures are the
 * daemon's (api_stats); this file only writes them out.
 */
#include "api-int.h"

static void
label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_addf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_add(b, "\\n", 2);
		else
			buf_add(b, s, 1);
	}
}

static void
labels(struct buf *b, const struct api_run_duration *s)
{
	buf_adds(b, "{cicd_pipeline_name=\"");
	label(b, s->project);
	buf_addf(b, "\",cicd_pipeline_run_state=\"%s\",cicd_pipeline_result=\"%s\"",
		 s->state, s->result);
}

void
api_cicd_metrics(struct buf *b, const struct api_stats *st)
{
	uint64_t cum;
	size_t i, k;

	buf_adds(b, "# HELP cicd_pipeline_run_duration_seconds Duration of"
		 " pipeline runs, by pipeline, run state and result.\n"
		 "# TYPE cicd_pipeline_run_duration_seconds histogram\n");
	for (i = 0; i < st->nrun_durations; i++) {
		const struct api_run_duration *s = &st->run_durations[i];

		for (k = 0, cum = 0; k < API_DURATION_BUCKETS; k++) {
			cum += s->buckets[k];
			buf_adds(b, "cicd_pipeline_run_duration_seconds_bucket");
			labels(b, s);
			if (k + 1 < API_DURATION_BUCKETS)
				buf_addf(b, ",le=\"%g\"} %llu\n",
					 st->duration_bounds[k],
					 (unsigned long long)cum);
			else
				buf_addf(b, ",le=\"+Inf\"} %llu\n",
					 (unsigned long long)cum);
		}
		buf_adds(b, "cicd_pipeline_run_duration_seconds_sum");
		labels(b, s);
		buf_addf(b, "} %.3f\n", s->sum_s);
		buf_adds(b, "cicd_pipeline_run_duration_seconds_count");
		labels(b, s);
		buf_addf(b, "} %llu\n", (unsigned long long)s->count);
	}
	buf_adds(b, "# HELP cicd_pipeline_run_active Pipeline runs now, by"
		 " pipeline and state.\n"
		 "# TYPE cicd_pipeline_run_active gauge\n");
	for (i = 0; i < st->nrun_active; i++) {
		const struct api_run_active *a = &st->run_active[i];
		static const char *const states[] = {"pending", "executing"};

		for (k = 0; k < 2; k++) {
			buf_adds(b, "cicd_pipeline_run_active{cicd_pipeline_name=\"");
			label(b, a->project);
			buf_addf(b, "\",cicd_pipeline_run_state=\"%s\"} %llu\n",
				 states[k], (unsigned long long)(k == 0 ?
				 a->pending : a->executing));
		}
	}
	buf_addf(b, "# HELP cicd_worker_count Job slots, by state (busy:"
		 " a job runs in it).\n"
		 "# TYPE cicd_worker_count gauge\n"
		 "cicd_worker_count{cicd_worker_state=\"busy\"} %d\n"
		 "cicd_worker_count{cicd_worker_state=\"available\"} %d\n",
		 st->jobs_running, (int)st->worker_slots > st->jobs_running ?
		 (int)st->worker_slots - st->jobs_running : 0);
}
