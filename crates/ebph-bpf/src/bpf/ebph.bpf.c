// SPDX-License-Identifier: GPL-2.0
/*
 * ebph: pH (process homeostasis) in the kernel.
 *
 * Every rule here mirrors crates/ebph-core (the model) and docs/model.md; the differential
 * tests require both to produce the same profiles bit for bit.
 *
 * Hot path (tp_btf/sys_enter): array lookups only, which the verifier inlines: a per-CPU
 * cache says which task-state slot the current task has (task storage, which costs more than
 * all the rest together here, is read only when the task changes on this CPU); then the
 * slot -> profile -> index block -> row. Rows are handed out from a pool as a profile first
 * uses a call, and written only when a bit is new.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebph.h"

char LICENSE[] SEC("license") = "GPL";

#define SIG_IGN_VALUE 1UL
#define SIGKILL 9
#define SIGSTOP 19
#define X86_64_RT_SIGRETURN 15
#define X86_64_EXECVE 59
#define X86_64_EXECVEAT 322

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

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

struct path_buf {
	char path[EBPH_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} scratch SEC(".maps");

/* ---- pools ------------------------------------------------------------------------------ */

static __always_inline __u32 alloc_row(void)
{
	__u32 id;

	if (bpf_map_pop_elem(&free_rows, &id) == 0) {
		__sync_fetch_and_add(&stats.rows_used, 1);
		return id;
	}
	id = __sync_fetch_and_add(&next_row, 1);
	if (id >= max_rows) {
		__sync_fetch_and_add(&stats.rows_full, 1);
		return 0;
	}
	__sync_fetch_and_add(&stats.rows_used, 1);
	return id;
}

/* Zeroes a row and returns it to the pool. */
static __always_inline void free_row(__u32 id)
{
	struct ebph_row *row = bpf_map_lookup_elem(&rows, &id);

	if (!row)
		return;
	__builtin_memset(row, 0, sizeof(*row));
	bpf_map_push_elem(&free_rows, &id, BPF_ANY);
	__sync_fetch_and_sub(&stats.rows_used, 1);
}

static __always_inline __u32 alloc_index(void)
{
	__u32 id;

	if (bpf_map_pop_elem(&free_indexes, &id) == 0) {
		__sync_fetch_and_add(&stats.indexes_used, 1);
		return id;
	}
	id = __sync_fetch_and_add(&next_index, 1);
	if (id >= max_indexes) {
		__sync_fetch_and_add(&stats.indexes_full, 1);
		return 0;
	}
	__sync_fetch_and_add(&stats.indexes_used, 1);
	return id;
}

/* ---- tables ------------------------------------------------------------------------------ */

static __always_inline struct ebph_row *row_of(__u32 index_id, __u32 curr)
{
	struct ebph_index *ix;
	__u32 r;

	if (!index_id)
		return NULL;
	ix = bpf_map_lookup_elem(&indexes, &index_id);
	if (!ix)
		return NULL;
	r = ix->row[curr & (EBPH_MAX_SYSCALLS - 1)];
	if (!r)
		return NULL;
	return bpf_map_lookup_elem(&rows, &r);
}

static __always_inline __u32 prev_call(__u64 lo, __u64 hi, int i)
{
	return (i < 4 ? lo >> (16 * i) : hi >> (16 * (i - 4))) & (EBPH_MAX_SYSCALLS - 1);
}

/* Misses of `curr` after the window (lo, hi) looking `depth` calls back. */
static __always_inline __u32 count_misses(struct ebph_row *row, __u64 lo, __u64 hi, __u32 depth)
{
	__u32 misses = 0;

	if (!row)
		return depth;
#pragma unroll
	for (int i = 0; i < EBPH_LOOKAHEAD; i++) {
		if (i < depth && !((row->flags[prev_call(lo, hi, i)] >> i) & 1))
			misses++;
	}
	return misses;
}

/* Whether the table of `other_index` uses row `r` for `curr` too. */
static __always_inline bool row_shared(__u32 other_index, __u32 curr, __u32 r)
{
	struct ebph_index *other;

	if (!other_index)
		return false;
	other = bpf_map_lookup_elem(&indexes, &other_index);
	return other && other->row[curr & (EBPH_MAX_SYSCALLS - 1)] == r;
}

/* Sets every pair of `curr` after the window in the train table. Rows that the test table
 * shares are copied first. */
static __always_inline void learn(struct ebph_profile *p, __u32 curr, __u64 lo, __u64 hi,
				  __u32 depth)
{
	struct ebph_index *ix;
	struct ebph_row *row;
	__u32 ix_id, r, fresh, old;

	curr &= EBPH_MAX_SYSCALLS - 1;
	ix_id = p->train_index;
	if (!ix_id) {
		fresh = alloc_index();
		if (!fresh)
			return;
		old = __sync_val_compare_and_swap(&p->train_index, 0, fresh);
		if (old) {
			bpf_map_push_elem(&free_indexes, &fresh, BPF_ANY);
			__sync_fetch_and_sub(&stats.indexes_used, 1);
			fresh = old;
		}
		ix_id = fresh;
	}
	ix = bpf_map_lookup_elem(&indexes, &ix_id);
	if (!ix)
		return;
	r = ix->row[curr];
	if (!r) {
		fresh = alloc_row();
		if (!fresh)
			return;
		old = __sync_val_compare_and_swap(&ix->row[curr], 0, fresh);
		if (old) {
			free_row(fresh);
			fresh = old;
		}
		r = fresh;
	} else if (row_shared(p->test_index, curr, r)) {
		/* The test table still uses this row: learn into a copy. */
		struct ebph_row *shared = bpf_map_lookup_elem(&rows, &r), *copy;

		fresh = alloc_row();
		if (!fresh)
			return;
		copy = bpf_map_lookup_elem(&rows, &fresh);
		if (!shared || !copy) {
			free_row(fresh);
			return;
		}
		__builtin_memcpy(copy, shared, sizeof(*copy));
		old = __sync_val_compare_and_swap(&ix->row[curr], r, fresh);
		if (old != r) {
			free_row(fresh);
			fresh = old;
		}
		r = fresh;
	}
	row = bpf_map_lookup_elem(&rows, &r);
	if (!row)
		return;
#pragma unroll
	for (int i = 0; i < EBPH_LOOKAHEAD; i++) {
		if (i < depth) {
			__u32 prev = prev_call(lo, hi, i);
			__u32 *word = (__u32 *)&row->flags[prev & ~3U];

			__sync_fetch_and_or(word, (1U << i) << ((prev & 3) * 8));
		}
	}
}

struct table_ctx {
	__u32 from;
	__u32 to; /* clear: the other table of the profile; copy: the destination */
};

static long clear_entry(__u64 i, struct table_ctx *c)
{
	struct ebph_index *ix = bpf_map_lookup_elem(&indexes, &c->from);
	__u32 r;

	if (!ix)
		return 1;
	r = ix->row[i & (EBPH_MAX_SYSCALLS - 1)];
	if (r) {
		ix->row[i & (EBPH_MAX_SYSCALLS - 1)] = 0;
		if (!row_shared(c->to, i, r))
			free_row(r);
	}
	return 0;
}

/* Empties a table, returning to the pool the rows the profile's other table does not use. */
static __always_inline void clear_table(__u32 index_id, __u32 other_index)
{
	struct table_ctx c = { .from = index_id, .to = other_index };

	if (index_id)
		bpf_loop(EBPH_MAX_SYSCALLS, clear_entry, &c, 0);
}

/* Shares a row of the train table with the test table (copied when training changes it). */
static long share_entry(__u64 i, struct table_ctx *c)
{
	struct ebph_index *src = bpf_map_lookup_elem(&indexes, &c->from);
	struct ebph_index *dst = bpf_map_lookup_elem(&indexes, &c->to);

	if (!src || !dst)
		return 1;
	dst->row[i & (EBPH_MAX_SYSCALLS - 1)] = src->row[i & (EBPH_MAX_SYSCALLS - 1)];
	return 0;
}

/* ---- profile transitions (ebph_core::Profile) -------------------------------------------- */

/* Leaves normal: back to training, test emptied. */
static __always_inline void stop_normal(struct ebph_profile *p)
{
	__u32 test = p->test_index;

	p->status = EBPH_TRAINING;
	if (test) {
		clear_table(test, p->train_index);
		p->test_index = 0;
		bpf_map_push_elem(&free_indexes, &test, BPF_ANY);
		__sync_fetch_and_sub(&stats.indexes_used, 1);
	}
}

/* Becomes normal: test := train; anomalies, train_count, last_mod_count start again. */
static __always_inline void start_normal(struct ebph_profile *p)
{
	struct table_ctx c;
	__u32 test;

	stop_normal(p);
	p->status = EBPH_NORMAL;
	p->anomalies = 0;
	p->train_count = 0;
	p->last_mod_count = 0;
	if (!p->train_index)
		return;
	test = alloc_index();
	if (!test)
		return;
	c.from = p->train_index;
	c.to = test;
	bpf_loop(EBPH_MAX_SYSCALLS, share_entry, &c, 0);
	p->test_index = test;
}

/* Forgets the training data; a frozen profile goes back to training. */
static __always_inline void reset_train(struct ebph_profile *p)
{
	clear_table(p->train_index, p->test_index);
	p->train_count = 0;
	p->last_mod_count = 0;
	p->sequences = 0;
	if (p->status == EBPH_FROZEN)
		p->status = EBPH_TRAINING;
}

/* ---- events -------------------------------------------------------------------------------- */

static __always_inline struct ebph_event *new_event(__u32 type, __u32 slot, struct ebph_profile *p)
{
	struct ebph_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	__u64 id;

	if (!ev) {
		__sync_fetch_and_add(&stats.events_lost, 1);
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	id = bpf_get_current_pid_tgid();
	ev->type = type;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->profile = slot;
	ev->time = bpf_ktime_get_boot_ns();
	if (p) {
		ev->key = p->key;
		ev->anomalies = p->anomalies;
	}
	return ev;
}

static __always_inline void profile_event(__u32 type, __u32 slot, struct ebph_profile *p,
					  __u32 lfc)
{
	struct ebph_event *ev = new_event(type, slot, p);

	if (!ev)
		return;
	ev->lfc = lfc;
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline void record(__u32 kind, __u32 tid, __u32 arg, __u64 now,
				   struct ebph_key *key)
{
	struct ebph_record *rec = bpf_ringbuf_reserve(&records, sizeof(*rec), 0);

	if (!rec) {
		__sync_fetch_and_add(&stats.records_lost, 1);
		return;
	}
	rec->seq = __sync_fetch_and_add(&record_seq, 1);
	rec->now = now;
	rec->kind = kind;
	rec->tid = tid;
	rec->arg = arg;
	rec->_pad = 0;
	if (key)
		rec->key = *key;
	else
		__builtin_memset(&rec->key, 0, sizeof(rec->key));
	bpf_ringbuf_submit(rec, 0);
}

/* ---- per task ------------------------------------------------------------------------------ */

static __always_inline void reset_task(struct ebph_task *t, __u64 owner, __u32 profile)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->owner = owner;
	t->profile = profile;
	t->lf_size = settings.locality_frame;
}

/* Gives `task` a state slot and records it in task storage; NULL when full. */
static __always_inline struct ebph_task *track(struct task_struct *task)
{
	struct ebph_task *t;
	__u32 slot, *stored;

	if (stats.tasks_tracked >= settings.max_tasks)
		goto full;
	if (bpf_map_pop_elem(&free_tasks, &slot)) {
		slot = __sync_fetch_and_add(&next_task, 1);
		if (slot >= max_tasks)
			goto full;
	}
	t = bpf_map_lookup_elem(&task_states, &slot);
	stored = bpf_task_storage_get(&tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t || !stored) {
		bpf_map_push_elem(&free_tasks, &slot, BPF_ANY);
		goto full;
	}
	*stored = slot;
	t->regs = 0;
	t->tid = BPF_CORE_READ(task, pid);
	t->pid = BPF_CORE_READ(task, tgid);
	t->owner = (__u64)task;
	__sync_fetch_and_add(&stats.tasks_tracked, 1);
	__sync_fetch_and_add(&track_gen, 1);
	return t;
full:
	__sync_fetch_and_add(&stats.tasks_full, 1);
	return NULL;
}

/* The state of a tracked `task` (any task, not only the current one). */
static __always_inline struct ebph_task *task_state(struct task_struct *task)
{
	struct ebph_task *t;
	__u32 *slot = bpf_task_storage_get(&tasks, task, 0, 0);

	if (!slot)
		return NULL;
	t = bpf_map_lookup_elem(&task_states, slot);
	return t && t->owner == (__u64)task ? t : NULL;
}

/* Records one call in the locality frame (ebph_core::LocalityFrame::record). */
static __always_inline __u32 locality_record(struct ebph_task *t, bool anomalous)
{
	__u32 size = settings.locality_frame;
	__u32 pos;
	__u64 mask;

	if (t->lf_size != size) {
		t->lf[0] = 0;
		t->lf[1] = 0;
		t->lf_pos = 0;
		t->lf_count = 0;
		t->lf_size = size;
	}
	pos = t->lf_pos & 127;
	mask = 1ULL << (pos & 63);
	if (anomalous && !(t->lf[pos >> 6] & mask)) {
		t->lf[pos >> 6] |= mask;
		t->lf_count++;
	} else if (!anomalous && (t->lf[pos >> 6] & mask)) {
		t->lf[pos >> 6] &= ~mask;
		t->lf_count--;
	}
	pos++;
	t->lf_pos = pos >= size ? 0 : pos;
	return t->lf_count;
}

/* The boot-time clock, read once per call at most, and only when a rule needs it. */
static __always_inline __u64 now_ns(__u64 *cached)
{
	if (!*cached)
		*cached = bpf_ktime_get_boot_ns();
	return *cached;
}

/* One call of a tracked task: ebph_core::Profile::on_call. */
static __always_inline void on_call(struct ebph_task *t, __u32 curr, __u64 now)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	bool froze = false;
	__u32 slot = t->profile, d = t->depth & (EBPH_SIGNAL_FRAMES - 1);
	__u64 lo = t->seq[d][0], hi = t->seq[d][1];
	__u32 len = t->len[d], window = settings.window, depth, misses, lfc, lfc_before;

	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return;
	depth = window > 1 ? window - 1 : 0;
	if (depth > EBPH_LOOKAHEAD)
		depth = EBPH_LOOKAHEAD;
	if (len < depth)
		depth = len;

	/* 1. Training. */
	p->train_count++;
	if (count_misses(row_of(p->train_index, curr), lo, hi, depth)) {
		learn(p, curr, lo, hi, depth);
		p->sequences++;
		p->last_mod_count = 0;
		if (p->status == EBPH_FROZEN)
			p->status = EBPH_TRAINING;
	} else {
		p->last_mod_count++;
		if (p->status == EBPH_TRAINING) {
			__u64 normal_count = p->train_count - p->last_mod_count;

			if (normal_count > 0 && p->train_count * settings.normal_factor_den >
						normal_count * settings.normal_factor) {
				__u64 at = now_ns(&now) + settings.normal_wait_ns;

				froze = true;
				p->status = EBPH_FROZEN;
				p->normal_time = at < settings.normal_wait_ns ? ~0ULL : at;
				profile_event(EBPH_EV_FROZEN, slot, p, t->lf_count);
			}
		}
	}

	/* 2. Frozen long enough: normal (looked at when freezing, then every
	 *    EBPH_NORMAL_CHECK_INTERVAL unchanged calls). */
	if (p->status == EBPH_FROZEN &&
	    (froze || p->last_mod_count % EBPH_NORMAL_CHECK_INTERVAL == 0) &&
	    now_ns(&now) >= p->normal_time) {
		start_normal(p);
		profile_event(EBPH_EV_NORMAL, slot, p, t->lf_count);
	}

	/* 3. Detection and the locality frame. */
	misses = 0;
	if (p->status == EBPH_NORMAL)
		misses = count_misses(row_of(p->test_index, curr), lo, hi, depth);
	t->seq[d][1] = (hi << 16) | (lo >> 48);
	t->seq[d][0] = (lo << 16) | curr;
	if (len < EBPH_LOOKAHEAD)
		t->len[d] = len + 1;
	lfc_before = t->lf_count;
	lfc = locality_record(t, misses > 0);
	if (misses) {
		p->anomalies++;
		__sync_fetch_and_add(&stats.anomalies, 1);
		ev = new_event(EBPH_EV_ANOMALY, slot, p);
		if (ev) {
			ev->syscall = curr;
			ev->misses = misses;
			ev->lfc = lfc;
			ev->seq_len = len + 1;
			ev->sequence[0] = curr;
#pragma unroll
			for (int i = 0; i < EBPH_LOOKAHEAD; i++)
				ev->sequence[i + 1] = i < len ? prev_call(lo, hi, i) : 0;
			bpf_ringbuf_submit(ev, 0);
		}
		if (p->anomalies > settings.anomaly_limit) {
			stop_normal(p);
			profile_event(EBPH_EV_LEFT_NORMAL, slot, p, lfc);
		}
	}

	/* 4. An attack in progress must not be learned as normal. */
	if (lfc > settings.tolerize_limit) {
		if (lfc_before <= settings.tolerize_limit)
			profile_event(EBPH_EV_TOLERIZE_LIMIT, slot, p, lfc);
		reset_train(p);
	}
}

static __always_inline struct ebph_cpu_cache *this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_cache, &zero);
}

/* The state of the current task, or NULL when it is not tracked. `regs` (the task's saved
 * user registers) tells tasks apart without a helper call: on this hot path, every helper
 * call costs more than the rest of the work. */
static __always_inline struct ebph_task *current_task_state(struct ebph_cpu_cache *c, __u64 regs)
{
	struct task_struct *current;
	struct ebph_task *t;
	__u32 slot, *found;

	if (c->regs == regs) {
		slot = c->slot;
		if (slot == EBPH_NO_SLOT) {
			if (c->gen == track_gen)
				return NULL;
		} else {
			t = bpf_map_lookup_elem(&task_states, &slot);
			if (t && t->regs == regs && t->owner)
				return t;
		}
	}
	/* Another task ran here last, or the answer is stale: ask task storage. */
	current = bpf_get_current_task_btf();
	c->regs = regs;
	c->gen = track_gen;
	c->slot = EBPH_NO_SLOT;
	found = bpf_task_storage_get(&tasks, current, 0, 0);
	if (!found)
		return NULL;
	slot = *found;
	t = bpf_map_lookup_elem(&task_states, &slot);
	if (!t || t->owner != (__u64)current)
		return NULL;
	t->regs = regs;
	c->slot = slot;
	return t;
}

/* pH's response, before a call of a task whose LFC is above 0 (ebph_core::delay_for and
 * execve_allowed): hold it delay_factor * 2^LFC with SIGSTOP (the daemon sends SIGCONT when
 * the time is up, and a task continued early is stopped again), and in enforce mode kill a
 * task that tries to exec above suspend-execve (no BPF-LSM here to refuse it cleanly). */
static __always_inline void respond(struct ebph_task *t, long id)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 slot = t->profile, lfc = t->lf_count, exp;
	__u32 *exempted = bpf_map_lookup_elem(&exempt, &slot);
	__u64 now, delay;

	if ((exempted && *exempted) || t->pid == 1)
		return;
	p = bpf_map_lookup_elem(&profiles, &slot);
	now = bpf_ktime_get_boot_ns();
	if (settings.response == EBPH_ENFORCE && settings.suspend_execve && !settings.lsm_execve &&
	    lfc > settings.suspend_execve && (id == X86_64_EXECVE || id == X86_64_EXECVEAT)) {
		bpf_send_signal(SIGKILL);
		ev = new_event(EBPH_EV_EXECVE_REFUSED, slot, p);
		if (ev) {
			ev->syscall = id;
			ev->lfc = lfc;
			bpf_ringbuf_submit(ev, 0);
		}
		return;
	}
	if (now < t->held_until) {
		/* Continued before its time: hold it again. */
		bpf_send_signal(SIGSTOP);
		return;
	}
	exp = lfc > 31 ? 31 : lfc;
	delay = settings.delay_factor_ns > (settings.max_delay_ns >> exp) ? settings.max_delay_ns
									   : settings.delay_factor_ns << exp;
	if (!delay)
		return;
	t->held_until = now + delay;
	bpf_send_signal(SIGSTOP);
	ev = new_event(EBPH_EV_DELAY, slot, p);
	if (ev) {
		ev->syscall = id;
		ev->lfc = lfc;
		ev->delay_ns = delay;
		bpf_ringbuf_submit(ev, 0);
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ebph_sys_enter, struct pt_regs *regs, long id)
{
	struct ebph_cpu_cache *c;
	struct ebph_task *t;
	__u64 now = 0;

	if ((unsigned long)id >= EBPH_MAX_SYSCALLS)
		return 0;
	c = this_cpu();
	if (!c)
		return 0;
	t = current_task_state(c, (__u64)regs);
	if (!t)
		return 0;
	c->calls++;
	if (settings.record) {
		now = bpf_ktime_get_boot_ns();
		record(EBPH_REC_CALL, (__u32)bpf_get_current_pid_tgid(), id, now, NULL);
	}
	if (t->lf_count && settings.response != EBPH_MONITOR)
		respond(t, id);
	on_call(t, id, now);
	if (id == X86_64_RT_SIGRETURN) {
		/* ebph_core::TaskState::signal_returned */
		if (t->overflow) {
			t->overflow--;
			t->seq[t->depth & 3][0] = 0;
			t->seq[t->depth & 3][1] = 0;
			t->len[t->depth & 3] = 0;
		} else if (t->depth) {
			t->depth--;
		}
	}
	return 0;
}

/* Finds or creates the profile of `key`; returns its slot, or -1 when the table is full. */
static __always_inline long profile_slot(struct ebph_key *key, const char *path)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 *found, slot;

	found = bpf_map_lookup_elem(&profile_keys, key);
	if (found)
		return *found;
	slot = __sync_fetch_and_add(&next_profile, 1);
	if (slot >= max_profiles) {
		__sync_fetch_and_add(&stats.profiles_full, 1);
		return -1;
	}
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return -1;
	__builtin_memset(p, 0, sizeof(*p));
	p->key = *key;
	if (bpf_map_update_elem(&profile_keys, key, &slot, BPF_NOEXIST)) {
		/* Another CPU created it first (this slot stays unused), or the map is full. */
		found = bpf_map_lookup_elem(&profile_keys, key);
		if (found)
			return *found;
		__sync_fetch_and_add(&stats.profiles_full, 1);
		return -1;
	}
	__sync_fetch_and_add(&stats.profiles_created, 1);
	ev = new_event(EBPH_EV_PROFILE_CREATED, slot, p);
	if (ev) {
		__builtin_memcpy(ev->path, path, EBPH_PATH_MAX);
		bpf_ringbuf_submit(ev, 0);
	}
	return slot;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ebph_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct ebph_key key = {};
	struct path_buf *buf;
	struct ebph_task *t;
	struct ebph_event *ev;
	struct file *file;
	const char *filename;
	__u32 zero = 0, tid;
	long slot;

	if (settings.daemon_tgid && BPF_CORE_READ(p, tgid) == settings.daemon_tgid)
		return 0;
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	file = BPF_CORE_READ(bprm, file);
	key.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(file, f_inode, i_ino);
	filename = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(buf->path, sizeof(buf->path), filename);
	if (filename != BPF_CORE_READ(bprm, interp)) {
		/* A #! script (or binfmt_misc): bprm->file is the interpreter by now, so the
		 * script is told apart by its path. FNV-1a; never 0. */
		__u64 h = 14695981039346656037ULL;

		for (int i = 0; i < EBPH_PATH_MAX; i++) {
			char c = buf->path[i];

			if (!c)
				break;
			h ^= (__u8)c;
			h *= 1099511628211ULL;
		}
		key.script = h ? h : 1;
	}

	slot = profile_slot(&key, buf->path);
	if (slot < 0)
		return 0;
	t = task_state(p);
	if (!t)
		t = track(p);
	if (!t)
		return 0;
	reset_task(t, (__u64)p, slot);
	t->tid = BPF_CORE_READ(p, pid);
	t->pid = BPF_CORE_READ(p, tgid);
	tid = BPF_CORE_READ(p, pid);
	if (settings.record)
		record(EBPH_REC_EXEC, tid, slot, bpf_ktime_get_boot_ns(), &key);
	ev = new_event(EBPH_EV_EXEC, slot, bpf_map_lookup_elem(&profiles, &(__u32){ slot }));
	if (ev) {
		__builtin_memcpy(ev->path, buf->path, EBPH_PATH_MAX);
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ebph_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ebph_task *pt, *ct;

	pt = task_state(parent);
	if (!pt)
		return 0;
	if (settings.daemon_tgid && BPF_CORE_READ(parent, tgid) == settings.daemon_tgid)
		return 0;
	ct = track(child);
	if (!ct)
		return 0;
	__builtin_memcpy(ct, pt, sizeof(*ct));
	ct->owner = (__u64)child;
	ct->regs = 0;
	ct->tid = BPF_CORE_READ(child, pid);
	ct->pid = BPF_CORE_READ(child, tgid);
	if (settings.record)
		record(EBPH_REC_FORK, BPF_CORE_READ(parent, pid), BPF_CORE_READ(child, pid),
		       bpf_ktime_get_boot_ns(), NULL);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ebph_exit, struct task_struct *p)
{
	struct ebph_task *t;
	__u32 *found, slot;

	found = bpf_task_storage_get(&tasks, p, 0, 0);
	if (!found)
		return 0;
	slot = *found;
	t = bpf_map_lookup_elem(&task_states, &slot);
	if (t && t->owner == (__u64)p) {
		t->owner = 0;
		t->regs = 0;
		bpf_map_push_elem(&free_tasks, &slot, BPF_ANY);
		__sync_fetch_and_sub(&stats.tasks_tracked, 1);
	}
	bpf_task_storage_delete(&tasks, p);
	if (settings.record)
		record(EBPH_REC_EXIT, BPF_CORE_READ(p, pid), 0, bpf_ktime_get_boot_ns(), NULL);
	return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(ebph_signal, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct ebph_task *t;
	__u32 d;

	if ((unsigned long)BPF_CORE_READ(ka, sa.sa_handler) <= SIG_IGN_VALUE)
		return 0; /* default action or ignored: no handler runs */
	t = task_state(bpf_get_current_task_btf());
	if (!t)
		return 0;
	/* ebph_core::TaskState::signal_delivered */
	if (t->depth + 1 < EBPH_SIGNAL_FRAMES)
		t->depth++;
	else
		t->overflow++;
	d = t->depth & (EBPH_SIGNAL_FRAMES - 1);
	t->seq[d][0] = 0;
	t->seq[d][1] = 0;
	t->len[d] = 0;
	if (settings.record)
		record(EBPH_REC_SIGNAL, (__u32)bpf_get_current_pid_tgid(), sig,
		       bpf_ktime_get_boot_ns(), NULL);
	return 0;
}

/* Admin operations, run from userspace with BPF_PROG_TEST_RUN: ctx[0] is the operation
 * (enum ebph_admin_op), ctx[1] the profile's slot; returns 0 or -errno. A raw tracepoint
 * program, never attached: unlike a `syscall` program it is not sleepable, and sleepable
 * programs may not use the queue maps the table pools live in on 6.1 (Debian 12's kernel:
 * "Sleepable programs can only use array, hash, and ringbuf maps"). */
SEC("raw_tp")
int ebph_admin(__u64 *ctx)
{
	__u32 op = ctx[0], slot = ctx[1];
	struct ebph_profile *p;

	if (slot >= next_profile)
		return -ENOENT;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return -ENOENT;
	switch (op) {
	case EBPH_ADMIN_NORMALIZE:
		start_normal(p);
		return 0;
	case EBPH_ADMIN_SENSITIZE:
		reset_train(p);
		return 0;
	case EBPH_ADMIN_TOLERIZE:
		stop_normal(p);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Tracks every task that was running before the engine was attached, under the profile of
 * its executable (run once by the loader, reading a task iterator). A script that was already
 * running is seen as its interpreter: its own path is gone by then. */
SEC("iter/task")
int ebph_associate(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ebph_key key = {};
	struct path_buf *buf;
	struct ebph_task *t;
	struct ebph_event *ev;
	struct file *exe;
	__u32 zero = 0;
	long slot;

	if (!task || (BPF_CORE_READ(task, flags) & PF_KTHREAD))
		return 0;
	if (settings.daemon_tgid && BPF_CORE_READ(task, tgid) == settings.daemon_tgid)
		return 0;
	if (task_state(task))
		return 0;
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	key.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	__builtin_memset(buf, 0, sizeof(*buf));
	slot = profile_slot(&key, buf->path);
	if (slot < 0)
		return 0;
	t = track(task);
	if (!t)
		return 0;
	reset_task(t, (__u64)task, slot);
	t->tid = BPF_CORE_READ(task, pid);
	t->pid = BPF_CORE_READ(task, tgid);
	/* An exec event for the task, without a path: the daemon reads /proc/PID/exe. */
	ev = new_event(EBPH_EV_EXEC, slot, bpf_map_lookup_elem(&profiles, &(__u32){ slot }));
	if (ev) {
		ev->pid = t->pid;
		ev->tid = t->tid;
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}

/* Execve suspension where BPF-LSM is available: the exec fails with EPERM and the task lives
 * on. Loaded only when the loader's probe says BPF-LSM works here. */
SEC("lsm/bprm_check_security")
int BPF_PROG(ebph_bprm_check, struct linux_binprm *bprm, int ret)
{
	struct ebph_task *t;
	struct ebph_event *ev;
	__u32 slot, *exempted;

	if (ret)
		return ret;
	if (settings.response != EBPH_ENFORCE || !settings.suspend_execve)
		return 0;
	t = task_state(bpf_get_current_task_btf());
	if (!t || t->pid == 1 || t->lf_count <= settings.suspend_execve)
		return 0;
	slot = t->profile;
	exempted = bpf_map_lookup_elem(&exempt, &slot);
	if (exempted && *exempted)
		return 0;
	ev = new_event(EBPH_EV_EXECVE_REFUSED, slot, bpf_map_lookup_elem(&profiles, &slot));
	if (ev) {
		ev->syscall = X86_64_EXECVE;
		ev->lfc = t->lf_count;
		bpf_ringbuf_submit(ev, 0);
	}
	return -EPERM;
}
