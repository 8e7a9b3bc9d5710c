/*
 * Build-time generator of the job's seccomp filter: compiles the rules
 * below with libseccomp and writes the resulting BPF program as a C header
 * (sv-seccomp-bpf.h) that pipewright-supervisor includes.
 *
 * Why at build time: compiling the filter with libseccomp in every job's
 * init cost about 2 ms of the start (three architectures, 40 rules, then
 * the BPF generation), and linking libseccomp made every supervisor exec
 * map and relocate one more library.  The program is a pure function of
 * these rules and the architectures, so it is computed once here; the
 * supervisor loads it with prctl(PR_SET_SECCOMP) and links libc only.
 *
 * The rules (docs/internals/sandbox.md, "seccomp"): default allow; the
 * calls listed get EPERM rather than a kill, so that a build tool probing
 * for a feature gets an error it already handles.  The job has no
 * capabilities anyway; the filter is the second wall, and the one that
 * keeps the kernel's less travelled paths (new mount API, bpf, keyrings,
 * perf) out of reach.  unshare/clone asking for CLONE_NEWUSER are refused
 * because a new user namespace would give the job a full set of
 * capabilities again, over namespaces of its own.  clone3 passes its flags
 * in memory a filter cannot read, so it gets ENOSYS and glibc falls back
 * to clone, whose flags we can check.  ptrace stays allowed: gdb, strace
 * and LeakSanitizer need it, and the PID namespace leaves nothing of the
 * host to trace.  The same rules for x86_64, x86 and x32, so that a 32-bit
 * binary cannot take a side door; any other architecture is killed
 * (libseccomp's default for an architecture not in the filter).
 *
 * Sockets: only AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK may be created
 * (socket, socketpair); any other family gets EAFNOSUPPORT, the answer of
 * a kernel without it.  AF_VSOCK is the reason: the network namespace does
 * not cover it, so a job would share the host's vsock port space (a VM's
 * agents listen there); the rarely used families (AF_KEY, AF_ALG, AF_RDS,
 * AF_TIPC, bluetooth...) are kernel code a build never needs.  Two side
 * doors are closed with it: the x86 socketcall() multiplexer, whose
 * arguments are in memory (libseccomp turns the socket rules into
 * socketcall(SYS_SOCKET / SYS_SOCKETPAIR) rules without the family, which
 * it cannot read: EAFNOSUPPORT for every family there; a 32-bit program
 * must use the direct socket() call, i386 has it since Linux 4.3), and
 * io_uring, whose IORING_OP_SOCKET makes sockets without a
 * system call the filter sees (io_uring_* get ENOSYS; libuv, liburing users
 * and runtimes fall back to plain system calls).
 *
 * A prefix written here by hand, in front of libseccomp's program, does
 * what libseccomp cannot express (one comparison per argument and rule):
 *  - personality(): only 0, PER_LINUX32, UNAME26, ADDR_NO_RANDOMIZE and
 *    their combinations, and the 0xffffffff query; PER_BSD and the other
 *    execution domains, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO... get EPERM.
 *    Docker allows the same minus ADDR_NO_RANDOMIZE; we allow it because it
 *    only weakens the job's own processes (no_new_privs: nothing of the job
 *    gains privileges through exec) and gdb, rr and sanitizer re-execs use
 *    it.  The kernel reads the argument as an unsigned int, so the prefix
 *    checks the low 32 bits, as the kernel will use them.
 *  - a ceiling: a system call number above the highest this libseccomp
 *    knows gets ENOSYS, so a kernel newer than the build gives a job none
 *    of its new calls (each a path this list has never been reviewed
 *    against); C libraries and runtimes treat ENOSYS as "fall back".  -1
 *    passes untouched: it is how a tracer cancels a call.
 *
 *   seccomp-gen OUT.h
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PW_LEN(a) (sizeof(a) / sizeof((a)[0]))

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

/* ENOSYS rather than EPERM: callers treat it as "not in this kernel". */
static const char *const nosys[] = {
	"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

/*
 * The families a job may create sockets of; any other one is refused.
 * libseccomp takes one comparison per argument and rule, and its rules for
 * one call are alternatives: so the complement, as "== f" for each gap and
 * ">= 17" above AF_NETLINK (16).  The comparison is on all 64 bits on
 * x86_64: a family with high bits set (the kernel would see the low 32)
 * is >= 17 and refused too.
 */
static int
socket_rules(scmp_filter_ctx ctx, int nr)
{
	scmp_datum_t f;
	int rc;

	for (f = 0; f < AF_NETLINK; f++) {
		if (f == AF_UNIX || f == AF_INET || f == AF_INET6)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, f, 0));
		if (rc < 0)
			return rc;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
				SCMP_A0(SCMP_CMP_GE, AF_NETLINK + 1, 0));
}

static int
rules(scmp_filter_ctx ctx)
{
	size_t i;
	int rc, nr;

	/* The native arch is in already; the others may be too (-EEXIST). */
	rc = seccomp_arch_add(ctx, SCMP_ARCH_X86_64);
	if (rc == 0 || rc == -EEXIST)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
	if (rc == 0 || rc == -EEXIST)
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	for (i = 0; i < PW_LEN(denied); i++) {
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;  /* not on these architectures */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < PW_LEN(nosys); i++) {
		nr = seccomp_syscall_resolve_name(nosys[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (rc < 0)
			return rc;
	}
	if ((rc = socket_rules(ctx, SCMP_SYS(socket))) < 0 ||
	    (rc = socket_rules(ctx, SCMP_SYS(socketpair))) < 0)
		return rc;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
				      CLONE_NEWUSER));
	if (rc < 0)
		return rc;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
					CLONE_NEWUSER));
}

/* The highest system call number libseccomp knows for arch, from base. */
static uint32_t
known_max(uint32_t arch, uint32_t base)
{
	uint32_t n, max = base;
	char *name;

	for (n = base; n < base + 4096; n++) {
		name = seccomp_syscall_resolve_num_arch(arch, (int)n);
		if (name != NULL)
			max = n;
		free(name);
	}
	return max;
}

#define X32_BIT 0x40000000u
/* Personalities a job may set: these bits only (and the query, ~0). */
#define PERS_ALLOWED (PER_LINUX32 | UNAME26 | ADDR_NO_RANDOMIZE)

enum { L_X86_64, L_X32, L_I386, L_PERS, L_NOSYS, L_EPERM, L_REST, L_COUNT };

struct prog {
	struct sock_filter insn[64];
	size_t n;
	size_t label[L_COUNT];
	int jt[64], jf[64];       /* a label, or -1: the next instruction */
};

static void
emit(struct prog *p, uint16_t code, uint32_t k, int jt, int jf)
{
	if (p->n == PW_LEN(p->insn)) {
		fprintf(stderr, "seccomp-gen: the prefix outgrew its array\n");
		exit(1);
	}
	p->insn[p->n] = (struct sock_filter)BPF_STMT(code, k);
	p->jt[p->n] = jt;
	p->jf[p->n] = jf;
	p->n++;
}

#define LD(off) emit(p, BPF_LD | BPF_W | BPF_ABS, (off), -1, -1)
#define JEQ(k, t, f) emit(p, BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define JGT(k, t, f) emit(p, BPF_JMP | BPF_JGT | BPF_K, (k), (t), (f))
#define JGE(k, t, f) emit(p, BPF_JMP | BPF_JGE | BPF_K, (k), (t), (f))
#define JSET(k, t, f) emit(p, BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))
#define RET(k) emit(p, BPF_RET | BPF_K, (k), -1, -1)
#define LABEL(l) (p->label[l] = p->n)

static uint32_t
nr_of(uint32_t arch, const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(arch, name);

	if (nr < 0) {
		fprintf(stderr, "seccomp-gen: no %s on arch %#x\n", name, arch);
		exit(1);
	}
	return (uint32_t)nr;
}

/*
 * The hand-written prefix (see the top of the file): personality() and
 * the ceiling.  It ends by falling into libseccomp's program (L_REST),
 * which makes its own architecture check.  Offsets: seccomp_data.nr,
 * .arch, and the low half of .args[0] (x86 is little-endian).
 */
static int
prefix(struct prog *p)
{
	const uint32_t nr = offsetof(struct seccomp_data, nr);
	const uint32_t arch = offsetof(struct seccomp_data, arch);
	const uint32_t a0 = offsetof(struct seccomp_data, args[0]);
	size_t i;
	int to;

	memset(p, 0, sizeof(*p));
	LD(nr);
	JEQ(0xffffffffu, L_REST, -1);
	LD(arch);
	JEQ(AUDIT_ARCH_X86_64, L_X86_64, -1);
	JEQ(AUDIT_ARCH_I386, L_I386, L_REST);
	LABEL(L_X86_64);
	LD(nr);
	JGE(X32_BIT, L_X32, -1);
	JEQ(nr_of(SCMP_ARCH_X86_64, "personality"), L_PERS, -1);
	JGT(known_max(SCMP_ARCH_X86_64, 0), L_NOSYS, L_REST);
	LABEL(L_X32);
	JEQ(nr_of(SCMP_ARCH_X32, "personality"), L_PERS, -1);
	JGT(known_max(SCMP_ARCH_X32, X32_BIT), L_NOSYS, L_REST);
	LABEL(L_I386);
	LD(nr);
	JEQ(nr_of(SCMP_ARCH_X86, "personality"), L_PERS, -1);
	JGT(known_max(SCMP_ARCH_X86, 0), L_NOSYS, L_REST);
	LABEL(L_PERS);
	LD(a0);
	JEQ(0xffffffffu, L_REST, -1);
	JSET(~(uint32_t)PERS_ALLOWED, L_EPERM, L_REST);
	LABEL(L_NOSYS);
	RET(SECCOMP_RET_ERRNO | ENOSYS);
	LABEL(L_EPERM);
	RET(SECCOMP_RET_ERRNO | EPERM);
	LABEL(L_REST);
	/* Resolve the labels into the 8-bit forward offsets BPF takes. */
	for (i = 0; i < p->n; i++) {
		if (BPF_CLASS(p->insn[i].code) != BPF_JMP)
			continue;
		to = p->jt[i] < 0 ? (int)i + 1 : (int)p->label[p->jt[i]];
		if (to <= (int)i || to - (int)i - 1 > 255)
			return -1;
		p->insn[i].jt = (uint8_t)(to - (int)i - 1);
		to = p->jf[i] < 0 ? (int)i + 1 : (int)p->label[p->jf[i]];
		if (to <= (int)i || to - (int)i - 1 > 255)
			return -1;
		p->insn[i].jf = (uint8_t)(to - (int)i - 1);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char tmpl[] = "/tmp/pw-seccomp-gen.XXXXXX";
	struct sock_filter *insn;
	struct prog pre;
	struct stat st;
	scmp_filter_ctx ctx;
	unsigned char *bpf;
	size_t n, i;
	FILE *out;
	int fd, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp-gen OUT.h\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL || (rc = rules(ctx)) < 0) {
		fprintf(stderr, "seccomp-gen: building the rules failed\n");
		return 1;
	}
	fd = mkstemp(tmpl);
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) < 0 ||
	    fstat(fd, &st) < 0 || st.st_size == 0 ||
	    st.st_size % sizeof(struct sock_filter) != 0) {
		fprintf(stderr, "seccomp-gen: exporting the filter failed\n");
		return 1;
	}
	unlink(tmpl);
	bpf = malloc((size_t)st.st_size);
	if (bpf == NULL || pread(fd, bpf, (size_t)st.st_size, 0) != st.st_size)
		return 1;
	close(fd);
	seccomp_release(ctx);
	n = (size_t)st.st_size / sizeof(struct sock_filter);
	insn = (struct sock_filter *)(void *)bpf;
	out = fopen(argv[1], "w");
	if (out == NULL) {
		perror(argv[1]);
		return 1;
	}
	if (prefix(&pre) < 0) {
		fprintf(stderr, "seccomp-gen: the prefix does not assemble\n");
		return 1;
	}
	fprintf(out, "/* Generated by src/supervisor/gen/seccomp-gen.c: "
		"do not edit. */\n"
		"static const struct sock_filter sv_seccomp_insns[%zu] = {\n",
		pre.n + n);
	for (i = 0; i < pre.n; i++)
		fprintf(out, "\t{0x%04x, %u, %u, 0x%08x},\n", pre.insn[i].code,
			pre.insn[i].jt, pre.insn[i].jf, pre.insn[i].k);
	for (i = 0; i < n; i++)
		fprintf(out, "\t{0x%04x, %u, %u, 0x%08x},\n", insn[i].code,
			insn[i].jt, insn[i].jf, insn[i].k);
	fprintf(out, "};\n");
	free(bpf);
	return fclose(out) == 0 ? 0 : 1;
}
