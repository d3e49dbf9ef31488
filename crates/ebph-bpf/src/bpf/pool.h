/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pools of lookahead rows and index blocks: handed out as profiles first use a call,
 * returned zeroed.
 */
#ifndef EBPH_POOL_H
#define EBPH_POOL_H

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
	return pool_take(&free_indexes, &next_index, &max_indexes, &stats.indexes_used,
			 &stats.indexes_full);
}

#endif
