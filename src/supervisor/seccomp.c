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
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

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

/*
 * A second filter, stacked on the first, for a workspace idmapped to
 * root's ids on disk (idmap.c): a mode with S_ISUID or S_ISGID given to
 * chmod, fchmod(at/at2), open(at)/creat, mkdir(at) or mknod(at) is
 * refused (EPERM), and openat2, whose mode sits in a struct a filter
 * cannot read, is ENOSYS (callers fall back to openat).  Otherwise a job
 * could leave a setuid-root program in the checkout.  Hand-written: a
 * dozen checks, x86-64 (and x32) and i386 numbers, the mode's argument
 * index per call; the low half of each argument (little-endian).
 */

struct setid_call {
	uint32_t nr64, nr32;      /* x86-64 (x32 with X32_BIT), i386 */
	uint32_t arg;             /* the mode's index */
};

enum { TO_NEXT = -1, TO_I386 = 0, TO_ALLOW, TO_DENY, TO_NOSYS, TO_COUNT };

struct setid_prog {
	struct sock_filter f[96];
	int jt[96], jf[96];
	size_t n, label[TO_COUNT];
};

static void
setid_emit(struct setid_prog *p, uint16_t code, uint32_t k, int jt, int jf)
{
	p->f[p->n] = (struct sock_filter)BPF_STMT(code, k);
	p->jt[p->n] = jt;
	p->jf[p->n] = jf;
	p->n++;
}

/* One architecture's checks; nr64: the x86-64 numbers, else i386's. */
static void
setid_block(struct setid_prog *p, const struct setid_call *calls, size_t n,
	    bool nr64)
{
	size_t i;

	setid_emit(p, BPF_LD | BPF_W | BPF_ABS,
		   offsetof(struct seccomp_data, nr), TO_NEXT, TO_NEXT);
	if (nr64)  /* x32: the same numbers with the X32 bit */
		setid_emit(p, BPF_ALU | BPF_AND | BPF_K, ~0x40000000u, TO_NEXT,
			   TO_NEXT);
	for (i = 0; i < n; i++) {
		/* Not this call: skip its two checks. */
		setid_emit(p, BPF_JMP | BPF_JEQ | BPF_K,
			   nr64 ? calls[i].nr64 : calls[i].nr32, TO_NEXT,
			   -2 - (int)p->n - 3);
		setid_emit(p, BPF_LD | BPF_W | BPF_ABS,
			   (uint32_t)(offsetof(struct seccomp_data, args) +
				      calls[i].arg * 8), TO_NEXT, TO_NEXT);
		setid_emit(p, BPF_JMP | BPF_JSET | BPF_K, S_ISUID | S_ISGID,
			   TO_DENY, TO_ALLOW);
	}
	setid_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 437 /* openat2 */, TO_NOSYS,
		   TO_ALLOW);
}

int
sv_seccomp_load_setid(void)
{
	static const struct setid_call calls[] = {
		{90, 15, 1},    /* chmod */
		{91, 94, 1},    /* fchmod */
		{268, 306, 2},  /* fchmodat */
		{452, 452, 2},  /* fchmodat2 */
		{2, 5, 2},      /* open */
		{257, 295, 3},  /* openat */
		{85, 8, 1},     /* creat */
		{83, 39, 1},    /* mkdir */
		{258, 296, 2},  /* mkdirat */
		{133, 14, 1},   /* mknod */
		{259, 297, 2},  /* mknodat */
	};
	struct setid_prog p;
	struct sock_fprog prog;
	size_t i;
	int to;

	memset(&p, 0, sizeof(p));
	setid_emit(&p, BPF_LD | BPF_W | BPF_ABS,
		   offsetof(struct seccomp_data, arch), TO_NEXT, TO_NEXT);
	setid_emit(&p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, TO_I386,
		   TO_NEXT);
	/* Another architecture: the first filter's business. */
	setid_emit(&p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, TO_NEXT,
		   TO_ALLOW);
	setid_block(&p, calls, PW_ARRAY_LEN(calls), true);
	p.label[TO_I386] = p.n;
	setid_block(&p, calls, PW_ARRAY_LEN(calls), false);
	p.label[TO_ALLOW] = p.n;
	setid_emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, TO_NEXT, TO_NEXT);
	p.label[TO_DENY] = p.n;
	setid_emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM, TO_NEXT,
		   TO_NEXT);
	p.label[TO_NOSYS] = p.n;
	setid_emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, TO_NEXT,
		   TO_NEXT);
	/* Labels (or, below -1, an absolute index -2 - i) into offsets. */
	for (i = 0; i < p.n; i++) {
		if (BPF_CLASS(p.f[i].code) != BPF_JMP)
			continue;
		to = p.jt[i] == TO_NEXT ? (int)i + 1 : p.jt[i] < -1 ?
		     -2 - p.jt[i] : (int)p.label[p.jt[i]];
		p.f[i].jt = (uint8_t)(to - (int)i - 1);
		to = p.jf[i] == TO_NEXT ? (int)i + 1 : p.jf[i] < -1 ?
		     -2 - p.jf[i] : (int)p.label[p.jf[i]];
		p.f[i].jf = (uint8_t)(to - (int)i - 1);
	}
	prog.len = (unsigned short)p.n;
	prog.filter = p.f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ?
	       -errno : 0;
}
