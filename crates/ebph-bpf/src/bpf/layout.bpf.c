// SPDX-License-Identifier: GPL-2.0
/*
 * Never loaded. The ring buffers' payloads (struct ebph_event, struct ebph_record,
 * struct ebph_hold) and the enums of ebph.h are nowhere else in the engine's BTF as types
 * the skeleton can see, so this object declares one of each: its skeleton then generates
 * their Rust types (src/layout.rs takes every offset the loader reads from them, and every
 * number it writes or compares from the enums' constants), and build.rs reads the names of
 * the event types from its BTF (src/abi.rs's EventType).
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include "ebph.h"

char LICENSE[] SEC("license") = "GPL";

struct ebph_event event;
struct ebph_record record;
struct ebph_hold hold;

enum ebph_event_type event_type;
enum ebph_record_kind record_kind;
enum ebph_status status;
enum ebph_response response;
enum ebph_admin_op admin_op;
enum ebph_profile_flags profile_flags;
