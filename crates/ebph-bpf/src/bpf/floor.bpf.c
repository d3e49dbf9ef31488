// SPDX-License-Identifier: GPL-2.0
/*
 * The floor: an empty tp_btf/sys_enter program. What it costs per call is the least any
 * per-call tracer costs on this kernel; the overhead benchmark measures ebph against it.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	return 0;
}
