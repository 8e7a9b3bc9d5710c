/*
 * The job's seccomp filter, loaded by the job's init after the mounts are
 * made and inherited by everything the job runs.
 *
 * The rules and why they are what they are: src/supervisor/gen/
 * seccomp-gen.c, which compiles them with libseccomp at build time into
 * sv-seccomp-bpf.h.  Loading the finished program is one prctl() here,
 * instead of a libseccomp compile in every job's init (about 2 ms of the
 * start) and libseccomp mapped into every supervisor.  The caller has set
 * no_new_privs, which an unprivileged filter load requires.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

#include "supervisor.h"
#include "sv-seccomp-bpf.h"

int
sv_seccomp_load(void)
{
	struct sock_fprog prog = {
		.len = (unsigned short)PW_ARRAY_LEN(sv_seccomp_insns),
		.filter = (struct sock_filter *)sv_seccomp_insns,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
}
