/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pools of lookahead rows and index blocks: handed out as profiles first use a call,
 * returned zeroed.
 */
#ifndef EBPH_POOL_H
#define EBPH_POOL_H

#include "state.h"

/* Takes an entry from a pool: a freed one from `queue`, else the next never used (`next`,
 * below `*max`); 0 when the pool is exhausted. `used` and `full` count. Always inlined, so
 * the verifier sees the one map each call site names. */
static __always_inline __u32 pool_take(void *queue, __u64 *next, const volatile __u32 *max,
				       __u64 *used, __u64 *full)
{
	__u32 id;

	if (bpf_map_pop_elem(queue, &id) == 0) {
		__sync_fetch_and_add(used, 1);
		return id;
	}
	id = __sync_fetch_and_add(next, 1);
	if (id >= *max) {
		__sync_fetch_and_add(full, 1);
		return 0;
	}
	__sync_fetch_and_add(used, 1);
	return id;
}

static __always_inline __u32 alloc_row(void)
{
	return pool_take(&free_rows, &next_row, &max_rows, &stats.rows_used, &stats.rows_full);
}

/* Zeroes a row and returns it to the pool. (The zeroes are copied from `zero_row` by one
 * helper call: a 768-byte memset, inlined at every caller, is more than the verifier takes.) */
static __always_inline void free_row(__u32 id)
{
	struct ebph_row *row = bpf_map_lookup_elem(&rows, &id), *zero;
	__u32 first = 0;

	zero = bpf_map_lookup_elem(&zero_row, &first);
	if (!row || !zero)
		return;
	bpf_probe_read_kernel(row, sizeof(*row), zero);
	bpf_map_push_elem(&free_rows, &id, BPF_ANY);
	__sync_fetch_and_sub(&stats.rows_used, 1);
}

static __always_inline __u32 alloc_index(void)
{
	return pool_take(&free_indexes, &next_index, &max_indexes, &stats.indexes_used,
			 &stats.indexes_full);
}

/* The last eighth of each pool (profiles, rows, index blocks) is kept for executables only
 * root can change: whatever other users run, root's programs still get profiles and learn.
 * (See docs/engine.md, "Capacity and eviction".) */
static __always_inline bool reserve_only(__u64 used, __u32 max)
{
	return used + (max >> 3) >= max;
}

/* Whether an entry of a pool with `used` of `max` taken may go to a profile of an executable
 * other users can change (`unprivileged`); a refusal is counted. */
static __always_inline bool may_take(bool unprivileged, __u64 used, __u32 max)
{
	if (unprivileged && reserve_only(used, max)) {
		__sync_fetch_and_add(&stats.reserve_denied, 1);
		return false;
	}
	return true;
}

static __always_inline bool unprivileged_profile(struct ebph_profile *p)
{
	return p->flags & EBPH_PROFILE_UNPRIVILEGED;
}

/* A row or an index block for profile `p`'s tables. */
static __always_inline __u32 alloc_row_for(struct ebph_profile *p)
{
	if (!may_take(unprivileged_profile(p), stats.rows_used, max_rows))
		return 0;
	return alloc_row();
}

static __always_inline __u32 alloc_index_for(struct ebph_profile *p)
{
	if (!may_take(unprivileged_profile(p), stats.indexes_used, max_indexes))
		return 0;
	return alloc_index();
}

#endif
