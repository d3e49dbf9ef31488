// SPDX-License-Identifier: GPL-2.0
/*
 * Does this kernel let ebph use BPF-LSM? The loader loads and attaches this program, then
 * runs one exec of its own and checks that the hook counted it: feature probes that do not
 * load are not to be trusted, and where `bpf` is not among the kernel's active LSMs an LSM
 * program loads and attaches but is never called.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Execs the hook has seen. */
__u64 calls;

SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_probe, struct linux_binprm *bprm, int ret)
{
	__sync_fetch_and_add(&calls, 1);
	return ret;
}
