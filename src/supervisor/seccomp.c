/*
 * The job's seccomp filter (libseccomp), loaded by the job's init after
 * the mounts are made and inherited by everything the job runs.
 *
 * Default allow; the calls listed get EPERM rather than a kill, so that a
 * build tool probing for a feature gets an error it already handles.  The
 * job has no capabilities anyway; the filter is the second wall, and the
 * one that keeps the kernel's less travelled paths (new mount API, bpf,
 * keyrings, perf) out of reach.  unshare/clone asking for CLONE_NEWUSER
 * are refused because a new user namespace would give the job a full set
 * of capabilities again, over namespaces of its own.  clone3 passes its
 * flags in memory a filter cannot read, so it gets ENOSYS and glibc falls
 * back to clone, whose flags we can check.  ptrace stays allowed: gdb,
 * strace and LeakSanitizer need it, and the PID namespace leaves nothing
 * of the host to trace.
 *
 * The same rules for x86_64, x86 and x32, so that a 32-bit binary cannot
 * take a side door.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>

#include "supervisor.h"

static const char *const denied[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot",
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr",
	"kexec_load", "kexec_file_load", "reboot",
	"init_module", "finit_module", "delete_module", "create_module",
	"bpf", "keyctl", "add_key", "request_key", "perf_event_open",
	"open_by_handle_at", "name_to_handle_at",
	"swapon", "swapoff", "acct", "settimeofday", "clock_settime",
	"adjtimex", "clock_adjtime", "iopl", "ioperm", "setns",
	"userfaultfd",
};

int
sv_seccomp_load(void)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc, nr;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL)
		return -ENOMEM;
	/* The native arch is in already; the others may be too (-EEXIST). */
	rc = seccomp_arch_add(ctx, SCMP_ARCH_X86_64);
	if (rc == 0 || rc == -EEXIST)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (rc == 0 || rc == -EEXIST)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	if (rc < 0 && rc != -EEXIST)
		goto out;
	for (i = 0; i < PW_ARRAY_LEN(denied); i++) {
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;  /* not on these architectures */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0)
			goto out;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		goto out;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
				      CLONE_NEWUSER));
	if (rc < 0)
		goto out;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
				      CLONE_NEWUSER));
	if (rc < 0)
		goto out;
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}
