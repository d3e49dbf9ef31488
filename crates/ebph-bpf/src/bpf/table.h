/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Lookahead tables: an index block per table, a row per call; reading pairs and n-grams,
 * learning them, emptying a table and sharing rows between a profile's train and test tables.
 */
#ifndef EBPH_TABLE_H
#define EBPH_TABLE_H

#include "state.h"
#include "pool.h"

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

/*
 * The n-gram ending in the current call: the `k` most recent calls of the window (lo, hi),
 * mixed with k (ebph_core::ngram::ngram_bits; both must change together). Its bits in the
 * call's bitmap are the hash's bits 0-10 and 12-22 (bit 12 as when bitmaps had 4,096 bits,
 * so that bits saved then keep their meaning). k is 1..8.
 */
static __always_inline __u64 mix(__u64 lo, __u64 hi, __u64 k)
{
	__u64 h = lo * 0x9E3779B97F4A7C15ULL ^ hi * 0xC2B2AE3D27D4EB4FULL ^ k * 0x165667B19E3779F9ULL;

	h ^= h >> 32;
	h *= 0xD6E8FEB86659FD93ULL;
	h ^= h >> 32;
	return h;
}

static __always_inline __u64 ngram_hash(__u64 lo, __u64 hi, __u32 k)
{
	if (k < 4)
		lo &= (1ULL << (16 * k)) - 1;
	if (k <= 4)
		hi = 0;
	else if (k < 8)
		hi &= (1ULL << (16 * (k - 4))) - 1;
	return mix(lo, hi, k);
}

/* An executable's bits in the exec row, as an n-gram's (ebph_core::exec_bits). */
static __always_inline __u64 exec_hash(const struct ebph_key *key)
{
	return mix(key->dev, key->ino, key->script);
}

static __always_inline bool ngram_bit(struct ebph_row *row, __u32 bit)
{
	bit &= EBPH_NGRAM_BITS - 1;
	return (row->ngrams[bit >> 3] >> (bit & 7)) & 1;
}

/* Whether the n-gram of hash `h` is in `row` (a missing row knows none). */
static __always_inline bool ngram_known(struct ebph_row *row, __u64 h)
{
	return row && ngram_bit(row, h) && ngram_bit(row, h >> 12);
}

static __always_inline void set_ngram_bit(struct ebph_row *row, __u32 bit)
{
	__u32 *word;

	bit &= EBPH_NGRAM_BITS - 1;
	word = (__u32 *)&row->ngrams[(bit >> 5) << 2];
	__sync_fetch_and_or(word, 1U << (bit & 31));
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

struct list_ctx {
	struct ebph_row *row;
	__u64 ep;
};

static long list_endpoint(__u64 i, struct list_ctx *c)
{
	__u64 *slot = (__u64 *)&c->row->flags[(i & (EBPH_ENDPOINTS_LISTED - 1)) * 8];

	return __sync_val_compare_and_swap(slot, 0, c->ep) == 0 ? 1 : 0;
}

/*
 * Sets every pair of `curr` after the window in the train table of the profile in `slot`, and
 * the bits of its n-gram (hash `h`) unless `k` is 0; for the endpoint row (depth 0), `lo` is
 * the endpoint to list. Rows that the test table shares are copied first. `slot_curr` is slot | curr << 32 and `depth_k` depth | k << 8 (a function
 * has at most five arguments).
 *
 * learn() is a global function: the verifier checks it once, on its own, instead of along
 * every path of the call that reaches it (which, inlined, took it past its limit of a million
 * instructions). learn_here() is the same as a static function, for the programs that run
 * with preemption off (the exec hook), where verifiers since Linux 6.10 allow no global
 * function call.
 */
static __always_inline int learn_body(__u64 slot_curr, __u64 lo, __u64 hi, __u64 h, __u32 depth_k)
{
	struct ebph_profile *p;
	struct ebph_index *ix;
	struct ebph_row *row;
	__u32 slot = (__u32)slot_curr, curr = slot_curr >> 32;
	__u32 depth = depth_k & 0xff, k = (depth_k >> 8) & 0xff;
	__u32 ix_id, r, fresh, old;

	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return 0;
	curr &= EBPH_MAX_SYSCALLS - 1;
	ix_id = p->train_index;
	if (!ix_id) {
		fresh = alloc_index_for(p);
		if (!fresh)
			return 0;
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
		return 0;
	r = ix->row[curr];
	if (!r) {
		fresh = alloc_row_for(p);
		if (!fresh)
			return 0;
		old = __sync_val_compare_and_swap(&ix->row[curr], 0, fresh);
		if (old) {
			free_row(fresh);
			fresh = old;
		}
		r = fresh;
	} else if (row_shared(p->test_index, curr, r)) {
		/* The test table still uses this row: learn into a copy. */
		struct ebph_row *shared = bpf_map_lookup_elem(&rows, &r), *copy;

		fresh = alloc_row_for(p);
		if (!fresh)
			return 0;
		copy = bpf_map_lookup_elem(&rows, &fresh);
		if (!shared || !copy) {
			free_row(fresh);
			return 0;
		}
		/* One helper call, not 768 bytes of unrolled copies on every path through here. */
		if (bpf_probe_read_kernel(copy, sizeof(*copy), shared)) {
			free_row(fresh);
			return 0;
		}
		old = __sync_val_compare_and_swap(&ix->row[curr], r, fresh);
		if (old != r) {
			free_row(fresh);
			fresh = old;
		}
		r = fresh;
	}
	row = bpf_map_lookup_elem(&rows, &r);
	if (!row)
		return 0;
#pragma unroll
	for (int i = 0; i < EBPH_LOOKAHEAD; i++) {
		if (i < depth) {
			__u32 prev = prev_call(lo, hi, i);
			__u32 *word = (__u32 *)&row->flags[prev & ~3U];

			__sync_fetch_and_or(word, (1U << i) << ((prev & 3) * 8));
		}
	}
	if (k) {
		set_ngram_bit(row, h);
		set_ngram_bit(row, h >> 12);
	}
	/* The endpoint row also lists its endpoints (lo) in the first free of its slots. */
	if (curr == EBPH_ENDPOINT_ROW && lo)
		bpf_loop(EBPH_ENDPOINTS_LISTED, list_endpoint, &(struct list_ctx){ .row = row, .ep = lo }, 0);
	return 0;
}

__noinline int learn(__u64 slot_curr, __u64 lo, __u64 hi, __u64 h, __u32 depth_k)
{
	return learn_body(slot_curr, lo, hi, h, depth_k);
}

static __noinline int learn_here(__u64 slot_curr, __u64 lo, __u64 hi, __u64 h, __u32 depth_k)
{
	return learn_body(slot_curr, lo, hi, h, depth_k);
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

#endif
