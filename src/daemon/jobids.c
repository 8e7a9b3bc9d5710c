/*
 * The host ids of sandboxed jobs (config `job_ids`), never the
 * workspace's.
 *
 * A run takes one uid of the range (its gid is the same number, and the
 * supervisor gives the job no supplementary groups) when its first
 * attempt is prepared, and holds it as long as the run is in memory: the
 * jobs of one run share its workspace, so they share its uid; two runs in
 * memory at once never share one.  The uid is recorded with each attempt,
 * so a daemon that adopts a running attempt after a restart or an upgrade
 * gives its run that same uid back (jobids_adopt) before any new job
 * starts, and never hands it to another run.  The lowest free uid is
 * taken, so the uids in use stay few and predictable.
 *
 * Each job's workspace is given to the run's uid (the whole tree,
 * symlinks themselves) when it is made (jobws.c): the checkout is
 * written as root, and the job must neither read it through some group
 * of the checkout nor be unable to write it.  The run's directory and
 * its checkout stay root's; no job sees them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon-int.h"

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The lowest uid of the range no other live run holds; 0 if none. */
static uint32_t
lowest_free(struct daemon *d, const struct live_run *self)
{
	struct live_run *lr;
	uint32_t first, count, next, *taken = NULL;
	size_t n = 0, cap = 0, i;

	config_job_ids(d->config, &first, &count);
	for (lr = d->runs; lr != NULL; lr = lr->next) {
		if (lr == self || lr->job_uid < first ||
		    lr->job_uid - first >= count)
			continue;
		taken = xgrow(taken, &cap, n + 1, sizeof(*taken));
		taken[n++] = lr->job_uid;
	}
	if (n > 0)
		qsort(taken, n, sizeof(*taken), cmp_u32);
	next = first;
	for (i = 0; i < n && taken[i] <= next; i++)
		if (taken[i] == next)
			next++;
	free(taken);
	return next - first < count ? next : 0;
}

int
jobids_assign(struct daemon *d, struct live_run *lr)
{
	uint32_t first, count, uid;

	/* The run's own mode: a reload may have changed its project's. */
	if (sched_run_sandbox(lr->run) != EXEC_SANDBOX_STRICT)
		return 0;
	if (lr->job_uid == 0) {
		uid = lowest_free(d, lr);
		if (uid == 0) {
			config_job_ids(d->config, &first, &count);
			log_warnx("run=%llu: every uid of job_ids (%u from %u) "
				  "is held by another run",
				  (unsigned long long)lr->id, count, first);
			return -EUSERS;
		}
		lr->job_uid = uid;
	}
	sched_run_set_ids(lr->run, lr->job_uid, lr->job_uid);
	return 0;
}

void
jobids_adopt(struct live_run *lr, uint32_t uid)
{
	struct stat st;

	/*
	 * Recorded by a daemon from before job_ids: the job runs as the
	 * workspace's owner (the old fixed uid).  The run keeps that uid,
	 * so that its next jobs do not take the workspace from it.
	 */
	if (uid == 0 && stat(lr->workspace, &st) == 0 && st.st_uid != 0)
		uid = (uint32_t)st.st_uid;
	if (uid == 0 || lr->job_uid == uid)
		return;
	if (lr->job_uid != 0)
		log_warnx("run=%llu: attempts recorded with uids %u and %u; "
			  "keeping %u", (unsigned long long)lr->id, lr->job_uid,
			  uid, lr->job_uid);
	else
		lr->job_uid = uid;
	sched_run_set_ids(lr->run, lr->job_uid, lr->job_uid);
}
