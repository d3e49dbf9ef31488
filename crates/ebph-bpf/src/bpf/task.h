/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-task state: slots in `task_states`, found through task storage or, on the hot path,
 * through the per-CPU cache; the locality frame.
 */
#ifndef EBPH_TASK_H
#define EBPH_TASK_H

#include "state.h"
#include <bpf/bpf_core_read.h>

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

#endif
