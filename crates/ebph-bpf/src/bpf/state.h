/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything the engine keeps: call and signal numbers it acts on, capacities (fixed by the
 * loader), settings (written by userspace), counters, and the maps. Every other header of
 * the engine includes it.
 */
#ifndef EBPH_STATE_H
#define EBPH_STATE_H

#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include "ebph.h"

#define SIG_IGN_VALUE 1UL
#define SIGKILL 9
#define SIGSTOP 19
#define X86_64_EXIT 60
#define X86_64_EXIT_GROUP 231
#define X86_64_RT_SIGRETURN 15
#define X86_64_EXECVE 59
#define X86_64_EXECVEAT 322
#define X86_64_BRK 12
#define X86_64_MMAP 9
#define EBPH_PROT_EXEC 0x4
#define EBPH_MAP_ANONYMOUS 0x20
#define EBPH_MAP_FIXED_ANY (0x10 | 0x100000) /* MAP_FIXED, MAP_FIXED_NOREPLACE */
#define X86_64_CONNECT 42
#define X86_64_BIND 49
#define X86_64_SENDTO 44
#define X86_64_SENDMSG 46
#define X86_64_SENDMMSG 307

/* Capacities, fixed at load time by the loader (which sizes the maps to match). */
const volatile __u32 max_profiles = 16384;
const volatile __u32 max_indexes = 4096;
const volatile __u32 max_rows = 32768;
const volatile __u32 max_tasks = 65536;

struct ebph_settings settings = {
	.window = 9,
	.locality_frame = 128,
	.normal_factor = 128,
	.normal_factor_den = 32,
	.normal_wait_ns = 7ULL * 24 * 3600 * 1000000000ULL,
	.anomaly_limit = 30,
	.tolerize_limit = 12,
	.max_tasks = 65536,
	.detector = EBPH_DETECT_PAIRS,
	.ngram_length = 7,
};
/* Changes whenever a task starts being tracked: invalidates cached "not tracked" answers. */
__u32 track_gen;
struct ebph_stats stats;
__u64 next_profile;
__u64 next_index = 1; /* slot 0 means "none" */
__u64 next_row = 1;
__u64 next_task;
__u64 record_seq;

/* The slot of each tracked task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct ebph_task);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 65536);
	__type(value, __u32);
} free_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ebph_cpu_cache);
} cpu_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ebph_profile);
} profiles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ebph_key);
	__type(value, __u32);
} profile_keys SEC(".maps");

/* Profile slots freed by deletion, taken before never-used ones. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16384);
	__type(value, __u32);
} free_profiles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ebph_index);
} indexes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4096);
	__type(value, __u32);
} free_indexes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct ebph_row);
} rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32768);
	__type(value, __u32);
} free_rows SEC(".maps");

/* A row of zeroes, never written: what free_row() copies into a freed row. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ebph_row);
} zero_row SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Holds, for the keeper (see struct ebph_hold): 64 KiB, about 2,700 holds it has not read. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} holds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1); /* sized by the loader when recording is wanted */
} records SEC(".maps");

/* Profiles whose tasks are never held nor refused (the allowlist), by slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} exempt SEC(".maps");

/* New profiles per user other than root, this minute. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ebph_budget);
} budgets SEC(".maps");

/* Scripts running at start, by process id: filled by the loader before ebph_associate runs
 * (not preallocated: used once, and usually almost empty). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ebph_running_script);
} running_scripts SEC(".maps");

struct path_buf {
	char path[EBPH_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} scratch SEC(".maps");

#endif
