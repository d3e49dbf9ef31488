// SPDX-License-Identifier: GPL-2.0
/*
 * Does this kernel let ebph use BPF-LSM? The loader loads and attaches this do-nothing
 * program to find out (feature probes that do not load are not to be trusted).
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_probe, struct linux_binprm *bprm, int ret)
{
	return ret;
}
