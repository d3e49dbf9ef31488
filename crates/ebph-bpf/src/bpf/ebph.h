/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layout shared by the BPF program and its Rust loader (crates/ebph-bpf/src/abi.rs).
 * Every struct has explicit padding; its size is asserted below and the loader checks the
 * same sizes on its side.
 */
#ifndef EBPH_H
#define EBPH_H

#include "vmlinux_min.h"

#define EBPH_MAX_SYSCALLS 512 /* table dimension: calls 0..509, the endpoint and exec rows */
#define EBPH_EXEC_ROW (EBPH_MAX_SYSCALLS - 1) /* ebph_core::Syscall::EXEC: what a program executed */
#define EBPH_ENDPOINT_ROW (EBPH_MAX_SYSCALLS - 2) /* ebph_core::Syscall::ENDPOINT: its endpoints */
/* ebph_core::Syscall::HEAP_MMAP: an mmap that grows the heap (heap_mmap()), never a row */
#define EBPH_HEAP_MMAP (EBPH_MAX_SYSCALLS - 3)
#define EBPH_ENDPOINTS_LISTED (EBPH_MAX_SYSCALLS / 8) /* ebph_core::ENDPOINTS_LISTED */
#define EBPH_LOOKAHEAD 8      /* distances 1..8 */
#define EBPH_SIGNAL_FRAMES 4  /* base window + 3 nested handlers */
#define EBPH_PATH_MAX 256
#define EBPH_REPORTS_PER_SECOND 100 /* anomaly events of one profile in one second */
#define EBPH_NGRAM_BITS 2048 /* a call's n-gram bitmap (ebph_core::NGRAM_BITS) */
#define EBPH_NGRAM_MAX 9     /* the longest n-gram: the call and 8 before it */

enum ebph_status {
	EBPH_TRAINING = 0,
	EBPH_FROZEN = 1,
	EBPH_NORMAL = 2,
};

/* Written by userspace at any time; read on every call. */
struct ebph_settings {
	__u32 window;
	__u32 locality_frame;
	__u32 normal_factor;
	__u32 normal_factor_den;
	__u64 normal_wait_ns;
	__u32 anomaly_limit;
	__u32 tolerize_limit;
	__u32 daemon_tgid; /* never traced */
	__u32 record;      /* test-only: send every task event to the records ring */
	__u32 max_tasks;
	__u32 response;       /* enum ebph_response */
	__u64 delay_factor_ns; /* a task with LFC n > delay_threshold is held this << n */
	__u64 max_delay_ns;
	__u32 suspend_execve; /* enforce: a task with LFC above this may not exec (0 = off) */
	__u32 lsm_execve;     /* the BPF-LSM program refuses execs, so sys_enter need not kill */
	__u32 user_profiles;  /* new profiles a user other than root may cause a minute (0: any) */
	__u16 detector;       /* EBPH_DETECT_*: what makes a call anomalous */
	__u8 ngram_length;    /* calls per n-gram, 2..EBPH_NGRAM_MAX */
	__u8 fold_loops;      /* a call among the last fold_loops (0..4) calls seen is not seen */
	__u32 accept_after;   /* a normal profile accepts what this many runs repeated (0: never) */
	__u8 skip_brk;        /* brk is not seen (ebph_core::Settings::seen_as) */
	__u8 watch_execs;     /* profiles learn what they execute; normal ones flag novel execs */
	__u8 watch_endpoints; /* the same for the endpoints they bind, connect and send to */
	__u8 skip_heap_mmap;  /* an mmap that grows the heap is not seen (Settings::seen_as) */
	__u32 delay_threshold; /* a task is held only while its LFC exceeds this (0: pH) */
};

/* ebph_core::Detector::bits */
#define EBPH_DETECT_PAIRS 1
#define EBPH_DETECT_NGRAMS 2

enum ebph_response {
	EBPH_MONITOR = 0,
	EBPH_DELAY = 1,
	EBPH_ENFORCE = 2,
};

/* An executable: device (kernel encoding, major << 20 | minor) and inode; for a #! script,
 * the script file's device and inode, and a hash of its interpreter's (never 0). */
struct ebph_key {
	__u64 dev;
	__u64 ino;
	__u64 script;
};

struct ebph_profile {
	struct ebph_key key;
	__u64 train_count;
	__u64 last_mod_count;
	__u64 sequences;
	__u64 anomalies;
	__u64 normal_time; /* boot-time clock, ns */
	__u32 status;
	__u32 train_index; /* slot in `indexes`, 0 = no table yet */
	__u32 test_index;
	/* Anomaly reports (events) in the current second, which began at report_window (boot
	 * clock), and the anomalies of that second not reported: see report_anomaly(). */
	__u32 reported;
	__u64 report_window;
	__u64 suppressed;
	/* Tracked tasks using this profile (each holds a reference), and whether it is being
	 * (or was) deleted: a deleted profile's slot keeps `deleted` set until it is reused. */
	__u32 tasks;
	__u32 deleted;
	/* Boot clock: when it was created, or when its last task let it go (LRU eviction). */
	__u64 last_used;
	__u32 flags; /* EBPH_PROFILE_* */
	__u32 uid;   /* the user whose exec created it */
	/* Runs in a row that repeated behaviour the test table lacks, teaching the train table
	 * nothing (ebph_core::Profile::end_run); and whether the train table was emptied since
	 * the profile became normal (then nothing is accepted). */
	__u32 repeats;
	__u32 train_partial;
};

/* The executable is owned by, or writable by, a user other than root (the file's owner is
 * not root, or it is world-writable, or group-writable by a group other than root's): its
 * profile may not use the pools' reserve, and is evicted first. */
enum ebph_profile_flags {
	EBPH_PROFILE_UNPRIVILEGED = 1,
};

/* Which row of `rows` holds flags[curr][*], for each curr; 0 = none. */
struct ebph_index {
	__u32 row[EBPH_MAX_SYSCALLS];
};

/* What a table knows about one call `curr`: flags[prev] bit i set = prev was seen i + 1 calls
 * before curr; ngrams: a Bloom-like bitmap of the n-grams ending in curr (two bits each, see
 * ngram_hash()). */
struct ebph_row {
	__u8 flags[EBPH_MAX_SYSCALLS];
	__u8 ngrams[EBPH_NGRAM_BITS / 8];
};

/* Per task (thread): a slot of the `task_states` array; task storage holds the slot. */
struct ebph_task {
	__u64 owner; /* the task_struct this slot belongs to; 0 = free */
	__u64 regs;  /* its saved user registers (sys_enter's `regs`), once seen; 0 = not yet */
	__u32 tid;
	__u32 pid;
	__u32 profile;
	__u8 depth; /* current signal frame */
	__u8 lf_pos;
	__u8 lf_count;
	__u8 lf_size;
	__u16 overflow; /* signals delivered with every frame in use (saturates) */
	__u8 run;       /* EBPH_RUN_*: what the task did in its current run (ebph_core::Run) */
	__u8 _pad;
	__u8 len[EBPH_SIGNAL_FRAMES];
	/* Per frame: the 8 previous calls, 16 bits each, most recent in the low bits of [0]. */
	__u64 seq[EBPH_SIGNAL_FRAMES][2];
	__u64 lf[2];
	/* Boot clock, to 1024 ns: stopped for a delay until then. Its low 10 bits are the call
	 * last held, plus 1 (0: none; EBPH_HELD_CALL, see respond()). */
	__u64 held_until;
};

#define EBPH_HELD_CALL 0x3ffULL

/* struct ebph_task's `run`. */
#define EBPH_RUN_CHANGED_TRAIN 1 /* taught the train table something, or emptied it */
#define EBPH_RUN_ANOMALOUS 2     /* made an anomalous call */

/* What an event reports: the one declaration of the kinds the engine reports. Each is named
 * EBPH_EV_ and its `type` in the daemon's events (docs/events.md) in capitals; the loader
 * reads names and numbers from this enum's BTF (layout.bpf.c, build.rs), and ebph-api's
 * EventKind gives each name its fields and its text. */
enum ebph_event_type {
	EBPH_EV_PROFILE_CREATED = 1,
	EBPH_EV_EXEC = 2,
	EBPH_EV_ANOMALY = 3,
	EBPH_EV_FROZEN = 4,
	EBPH_EV_NORMAL = 5,
	EBPH_EV_LEFT_NORMAL = 6,
	EBPH_EV_TOLERIZE_LIMIT = 7,
	EBPH_EV_DELAY = 8,
	EBPH_EV_EXECVE_REFUSED = 9,
	EBPH_EV_ANOMALIES_SUPPRESSED = 10, /* `misses` anomalies of the profile were not reported */
	EBPH_EV_PROFILE_BUDGET_SPENT = 11, /* user `uid` reached `misses` new profiles this minute */
	EBPH_EV_ACCEPTED = 12,   /* a normal profile accepted what accept_after runs repeated */
	EBPH_EV_NOVEL_EXEC = 13, /* a normal profile executed `path`, which it never ran */
	EBPH_EV_NOVEL_ENDPOINT = 14, /* a normal profile used `endpoint`, which it never used */
};

struct ebph_event {
	__u32 type;
	__u32 pid;
	__u32 tid;
	__u32 profile;
	__u64 time; /* boot-time clock, ns */
	struct ebph_key key;
	__u32 syscall;
	__u32 misses;
	__u32 lfc;
	__u32 seq_len;
	__u16 sequence[EBPH_LOOKAHEAD + 1]; /* newest (the call itself) first */
	__u16 novel_ngram; /* anomaly: the call ended an n-gram the profile never saw */
	__u32 uid; /* the user of the task (profile created, budget) */
	__u64 anomalies;
	char path[EBPH_PATH_MAX];
	__u64 delay_ns; /* delay: how long the task is held */
	__u64 endpoint; /* novel endpoint: ebph_core::Endpoint::id */
};

/* A hold, for the keeper (the `holds` ring buffer): every SIGSTOP the engine sends has one,
 * written before the signal is sent, so that no process is stopped without the keeper
 * knowing when to continue it. */
struct ebph_hold {
	__u32 pid;
	__u32 tid;
	__u64 start_time; /* the process's start, boot clock ns: tells it from a reused pid */
	__u64 until;      /* boot clock ns: continue it then */
};

enum ebph_record_kind {
	EBPH_REC_EXEC = 1,
	EBPH_REC_FORK = 2,
	EBPH_REC_SIGNAL = 3,
	EBPH_REC_CALL = 4,
	EBPH_REC_EXIT = 5,
	EBPH_REC_ENDPOINT = 6, /* after the CALL of a bind, connect or send: key.dev is the endpoint */
};

/* Test-only recording of what a task did, in the order the engine saw it. */
struct ebph_record {
	__u64 seq;
	__u64 now;
	__u32 kind;
	__u32 tid;
	__u32 arg; /* CALL: the call; FORK: the child; EXEC: the profile slot; ENDPOINT: the call */
	__u32 _pad;
	struct ebph_key key;
};

/* Per CPU: the task that last entered a call here, known by its saved user registers (each
 * task's are at the top of its own kernel stack), and its slot (or EBPH_NO_SLOT, valid while
 * `track_gen` is unchanged). */
#define EBPH_NO_SLOT 0xffffffffU
#define EBPH_NORMAL_CHECK_INTERVAL 64 /* ebph_core::NORMAL_CHECK_INTERVAL */
struct ebph_cpu_cache {
	__u64 regs;
	__u32 slot;
	__u32 gen;
	__u64 calls; /* calls of tracked tasks on this CPU */
};

struct ebph_stats {
	__u64 profiles_created;
	__u64 profiles_full;
	__u64 rows_full;
	__u64 indexes_full;
	__u64 tasks_full;
	__u64 tasks_tracked;
	__u64 events_lost;
	__u64 records_lost;
	__u64 anomalies;
	__u64 rows_used;
	__u64 indexes_used;
	__u64 holds_dropped; /* holds not made: the keeper's queue was full */
	__u64 anomalies_suppressed; /* anomalies counted but not reported (report_anomaly) */
	__u64 profiles_used;
	__u64 budget_denied;  /* new profiles refused: the user's budget for the minute was spent */
	__u64 reserve_denied; /* profiles, rows, index blocks refused: only the reserve was left */
	__u64 scripts_unseen; /* #! scripts whose file could not be found: run as the interpreter */
};

/* A #! script that was running before the engine was attached, found by the loader in /proc
 * (the kernel keeps no trace of it): its key, its interpreter, whose task it is. */
struct ebph_running_script {
	struct ebph_key key;
	__u64 interp_dev;
	__u64 interp_ino;
	__u32 unprivileged;
	__u32 _pad;
	char path[EBPH_PATH_MAX];
};

/* Per user other than root: new profiles in the current minute (see may_create()). */
struct ebph_budget {
	__u64 window; /* boot clock: the minute began then */
	__u32 created;
	__u32 warned;
};

enum ebph_admin_op {
	EBPH_ADMIN_NORMALIZE = 1,
	EBPH_ADMIN_SENSITIZE = 2,
	EBPH_ADMIN_TOLERIZE = 3,
	/* Allocations for a profile the loader writes itself (an import): the result is the id
	 * taken, as the engine's own allocations take them, so both can run at once. */
	EBPH_ADMIN_TAKE_ROW = 4,
	EBPH_ADMIN_TAKE_INDEX = 5,
	EBPH_ADMIN_TAKE_PROFILE = 6,
	/* Deletes a profile no task uses: its tables go back to the pools, its slot to
	 * free_profiles. -EBUSY while a task uses it. */
	EBPH_ADMIN_DELETE = 7,
};

/* The sizes the loader relies on: a change here must change crates/ebph-bpf/src too. */
_Static_assert(sizeof(struct ebph_settings) == 96, "struct ebph_settings");
_Static_assert(sizeof(struct ebph_key) == 24, "struct ebph_key");
_Static_assert(sizeof(struct ebph_profile) == 128, "struct ebph_profile");
_Static_assert(sizeof(struct ebph_index) == 4 * EBPH_MAX_SYSCALLS, "struct ebph_index");
_Static_assert(sizeof(struct ebph_row) == EBPH_MAX_SYSCALLS + EBPH_NGRAM_BITS / 8, "struct ebph_row");
_Static_assert(sizeof(struct ebph_task) == 128, "struct ebph_task");
_Static_assert(sizeof(struct ebph_event) == 368, "struct ebph_event");
_Static_assert(sizeof(struct ebph_record) == 56, "struct ebph_record");
_Static_assert(sizeof(struct ebph_cpu_cache) == 24, "struct ebph_cpu_cache");
_Static_assert(sizeof(struct ebph_stats) == 136, "struct ebph_stats");
_Static_assert(sizeof(struct ebph_hold) == 24, "struct ebph_hold");
_Static_assert(sizeof(struct ebph_running_script) == 304, "struct ebph_running_script");

#endif
