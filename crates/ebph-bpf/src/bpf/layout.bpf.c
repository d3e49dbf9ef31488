// SPDX-License-Identifier: GPL-2.0
/*
 * Never loaded. The ring buffers' payloads (struct ebph_event, struct ebph_record,
 * struct ebph_hold) are
 * nowhere else in the engine's BTF as types the skeleton can see, so this object declares
 * one of each: its skeleton then generates their Rust types, from which src/layout.rs takes
 * every offset the loader reads.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include "ebph.h"

char LICENSE[] SEC("license") = "GPL";

struct ebph_event event;
struct ebph_record record;
struct ebph_hold hold;
