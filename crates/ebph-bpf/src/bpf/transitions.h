/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Profiles: finding or creating one at exec, and every transition of pH's rules
 * (ebph_core::Profile): training, freezing, normal, anomalies, the limits.
 */
#ifndef EBPH_TRANSITIONS_H
#define EBPH_TRANSITIONS_H

#include "events.h"
#include "files.h"
#include "pool.h"
#include "table.h"
#include "task.h"

/* A tracked task holds a reference on its profile (`tasks`): a profile is deleted only when
 * none does. profile_slot() takes one; these take and drop the others. */
static __always_inline void profile_get(__u32 slot)
{
	struct ebph_profile *p = bpf_map_lookup_elem(&profiles, &slot);

	if (p)
		__sync_fetch_and_add(&p->tasks, 1);
}

static __always_inline void profile_put(__u32 slot)
{
	struct ebph_profile *p = bpf_map_lookup_elem(&profiles, &slot);

	if (p && __sync_fetch_and_sub(&p->tasks, 1) == 1)
		p->last_used = bpf_ktime_get_boot_ns();
}

/* A profile slot: a deleted one first, else the next never used; -1 when full. */
static __always_inline long take_profile_slot(void)
{
	__u32 slot;

	if (bpf_map_pop_elem(&free_profiles, &slot)) {
		slot = __sync_fetch_and_add(&next_profile, 1);
		if (slot >= max_profiles) {
			__sync_fetch_and_add(&stats.profiles_full, 1);
			return -1;
		}
	}
	__sync_fetch_and_add(&stats.profiles_used, 1);
	return slot;
}

/* Whether user `uid` may have a new profile made for an executable (`unprivileged`: see
 * EBPH_PROFILE_UNPRIVILEGED): for users other than root, not more than `user_profiles` a
 * minute (every attempt counts), and not from the reserve. The first refusal of a minute
 * by the budget is an event. */
static __always_inline bool may_create(__u32 uid, bool unprivileged)
{
	struct ebph_budget fresh = {}, *b;
	struct ebph_event *ev;
	__u64 now;

	if (!uid || !settings.user_profiles)
		return may_take(unprivileged, stats.profiles_used, max_profiles);
	now = bpf_ktime_get_boot_ns();
	b = bpf_map_lookup_elem(&budgets, &uid);
	if (!b) {
		fresh.window = now;
		bpf_map_update_elem(&budgets, &uid, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&budgets, &uid);
		if (!b)
			return false;
	}
	if (now - b->window >= 60000000000ULL) {
		b->window = now;
		b->created = 0;
		b->warned = 0;
	}
	if (__sync_fetch_and_add(&b->created, 1) < settings.user_profiles)
		return may_take(unprivileged, stats.profiles_used, max_profiles);
	__sync_fetch_and_add(&stats.budget_denied, 1);
	if (!__sync_lock_test_and_set(&b->warned, 1)) {
		ev = new_event(EBPH_EV_PROFILE_BUDGET_SPENT, 0, NULL);
		if (ev) {
			ev->uid = uid;
			ev->misses = settings.user_profiles;
			send_event(ev);
		}
	}
	return false;
}

/* What a new profile is made of, besides its key; read only when the profile is new. */
struct new_profile {
	const char *path;  /* the name it was run by (or empty: not known) */
	struct file *file; /* its file, or NULL: `path` and `unprivileged` say all */
	bool resolve;      /* report the file's absolute path even if `path` is absolute */
	bool by_task;      /* made for the current task's exec: its user's budget applies */
	bool unprivileged; /* when there is no `file` */
};

/* The slot of the profile for `key`, created if it is new (see struct new_profile) and
 * reported with its path: the file's absolute one when there is a file and either `resolve`
 * is set or `path` is relative. -1 when there is no room (or none this user may take:
 * may_create()), or when the profile is being deleted right now. The caller gets a reference
 * on it (see profile_get). */
static __always_inline long profile_slot(struct ebph_key *key, struct new_profile *np)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 *found, slot, uid;
	bool unprivileged;
	long taken;

	found = bpf_map_lookup_elem(&profile_keys, key);
	if (found) {
		slot = *found;
		p = bpf_map_lookup_elem(&profiles, &slot);
		if (!p)
			return -1;
		/* Taken before `deleted` is read; the deletion sets `deleted` before it reads
		 * `tasks` (both atomic): one of the two sees the other. */
		__sync_fetch_and_add(&p->tasks, 1);
		if (p->deleted) {
			__sync_fetch_and_sub(&p->tasks, 1);
			return -1;
		}
		return slot;
	}
	unprivileged = np->file ? unprivileged_file(np->file) : np->unprivileged;
	uid = np->by_task ? (__u32)bpf_get_current_uid_gid() : 0;
	if (!may_create(uid, unprivileged))
		return -1;
	taken = take_profile_slot();
	if (taken < 0)
		return -1;
	slot = taken;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return -1;
	__builtin_memset(p, 0, sizeof(*p));
	p->key = *key;
	p->tasks = 1;
	p->uid = uid;
	p->flags = unprivileged ? EBPH_PROFILE_UNPRIVILEGED : 0;
	p->last_used = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&profile_keys, key, &slot, BPF_NOEXIST)) {
		/* Another CPU created it first, or the map is full: the slot goes back. */
		p->tasks = 0;
		p->deleted = 1;
		bpf_map_push_elem(&free_profiles, &slot, BPF_ANY);
		__sync_fetch_and_sub(&stats.profiles_used, 1);
		found = bpf_map_lookup_elem(&profile_keys, key);
		if (found) {
			profile_get(*found);
			return *found;
		}
		__sync_fetch_and_add(&stats.profiles_full, 1);
		return -1;
	}
	__sync_fetch_and_add(&stats.profiles_created, 1);
	ev = new_event(EBPH_EV_PROFILE_CREATED, slot, p);
	if (ev) {
		ev->uid = uid;
		if (!np->file || !(np->resolve || np->path[0] != '/') ||
		    !file_path(np->file, ev->path))
			__builtin_memcpy(ev->path, np->path, EBPH_PATH_MAX);
		send_event(ev);
	}
	return slot;
}

/* Leaves normal: back to training, test emptied. */
static __always_inline void stop_normal(struct ebph_profile *p)
{
	__u32 test = p->test_index;

	p->status = EBPH_TRAINING;
	p->repeats = 0;
	if (test) {
		clear_table(test, p->train_index);
		p->test_index = 0;
		bpf_map_push_elem(&free_indexes, &test, BPF_ANY);
		__sync_fetch_and_sub(&stats.indexes_used, 1);
	}
}

/* Whether to report an anomaly of profile `p` (an event, a log line, a row in the history):
 * the first EBPH_REPORTS_PER_SECOND of each second are; the rest are counted, and the count
 * is reported (an EBPH_EV_ANOMALIES_SUPPRESSED event) at the first anomaly of a later second. So one
 * program in an anomaly storm costs the log and the database at most that many entries a
 * second. (Threads on other CPUs may race on these counters: they stay approximate.) */
static __always_inline bool report_anomaly(struct ebph_profile *p, __u32 slot)
{
	__u64 now = bpf_ktime_get_boot_ns(), suppressed;
	struct ebph_event *ev;

	if (now - p->report_window >= 1000000000ULL) {
		suppressed = p->suppressed;
		p->report_window = now;
		p->reported = 0;
		p->suppressed = 0;
		if (suppressed) {
			ev = new_event(EBPH_EV_ANOMALIES_SUPPRESSED, slot, p);
			if (ev) {
				ev->misses = suppressed > 0xffffffffULL ? 0xffffffffU : suppressed;
				send_event(ev);
			}
		}
	}
	if (p->reported < EBPH_REPORTS_PER_SECOND) {
		p->reported++;
		return true;
	}
	p->suppressed++;
	__sync_fetch_and_add(&stats.anomalies_suppressed, 1);
	return false;
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
	p->train_partial = 0;
	if (!p->train_index)
		return;
	test = alloc_index_for(p);
	if (!test)
		return;
	c.from = p->train_index;
	c.to = test;
	bpf_loop(EBPH_MAX_SYSCALLS, share_entry, &c, 0);
	p->test_index = test;
}

/* Deletes profile `p` (in `slot`) if no task uses it: its key is forgotten (the next exec
 * of its program makes a new one), its tables go back to the pools, and the slot to
 * free_profiles, still marked deleted (so that an exec that found it just before sees so). */
static __always_inline int delete_profile(struct ebph_profile *p, __u32 slot)
{
	struct ebph_key key;
	__u32 train, *exempted;

	if (__sync_lock_test_and_set(&p->deleted, 1))
		return -ENOENT; /* deleted already */
	if (p->tasks) {
		p->deleted = 0;
		return -EBUSY;
	}
	key = p->key;
	bpf_map_delete_elem(&profile_keys, &key);
	stop_normal(p);
	train = p->train_index;
	if (train) {
		clear_table(train, 0);
		bpf_map_push_elem(&free_indexes, &train, BPF_ANY);
		__sync_fetch_and_sub(&stats.indexes_used, 1);
	}
	__builtin_memset(p, 0, sizeof(*p));
	p->deleted = 1;
	/* The slot's next profile is not on the allowlist unless the daemon says so. */
	exempted = bpf_map_lookup_elem(&exempt, &slot);
	if (exempted)
		*exempted = 0;
	bpf_map_push_elem(&free_profiles, &slot, BPF_ANY);
	__sync_fetch_and_sub(&stats.profiles_used, 1);
	return 0;
}

/* Forgets the training data; a frozen profile goes back to training. */
static __always_inline void reset_train(struct ebph_profile *p)
{
	clear_table(p->train_index, p->test_index);
	p->train_count = 0;
	p->last_mod_count = 0;
	p->sequences = 0;
	p->repeats = 0;
	p->train_partial = 1;
	if (p->status == EBPH_FROZEN)
		p->status = EBPH_TRAINING;
}


/* The boot-time clock, read once per call at most, and only when a rule needs it. */
static __always_inline __u64 now_ns(__u64 *cached)
{
	if (!*cached)
		*cached = bpf_ktime_get_boot_ns();
	return *cached;
}

/* Whether `curr` is one of the `fold` (at most 4) most recent of the `len` calls in `lo`. */
static __always_inline bool folds(__u64 lo, __u32 len, __u32 fold, __u32 curr)
{
	if (fold > len)
		fold = len;
	return (fold > 0 && curr == (lo & 0xffff)) || (fold > 1 && curr == ((lo >> 16) & 0xffff)) ||
	       (fold > 2 && curr == ((lo >> 32) & 0xffff)) || (fold > 3 && curr == (lo >> 48));
}

/* The train table learned something new in t's run (ebph_core::Profile::lesson): the counts
 * towards freezing and towards accept_after start again; a frozen profile trains again. */
static __always_inline void lesson(struct ebph_task *t, struct ebph_profile *p)
{
	t->run |= EBPH_RUN_CHANGED_TRAIN;
	p->repeats = 0;
	p->sequences++;
	p->last_mod_count = 0;
	if (p->status == EBPH_FROZEN)
		p->status = EBPH_TRAINING;
}

/* One call of a tracked task: ebph_core::Profile::on_call. */
static __always_inline void on_call(struct ebph_task *t, __u32 curr, __u64 now)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	struct ebph_row *row;
	bool froze = false, new_pairs, new_ngram, novel = false;
	__u32 slot = t->profile, d = t->depth & (EBPH_SIGNAL_FRAMES - 1);
	__u64 lo = t->seq[d][0], hi = t->seq[d][1], h = 0;
	__u32 len = t->len[d], window = settings.window, depth, misses, lfc, lfc_before, k;
	__u32 detector = settings.detector;

	/* A call among the last fold_loops calls seen (ebph_core::Sequence::folds): a small
	 * loop turning again, not seen at all. The 4 most recent calls are all in `lo`. Nor is
	 * brk with skip_brk (ebph_core::Settings::seen_as; sys_enter drops the heap's mmaps). */
	if (folds(lo, len, settings.fold_loops, curr) || (curr == X86_64_BRK && settings.skip_brk))
		return;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return;
	depth = window > 1 ? window - 1 : 0;
	if (depth > EBPH_LOOKAHEAD)
		depth = EBPH_LOOKAHEAD;
	if (len < depth)
		depth = len;
	k = settings.ngram_length > 1 ? settings.ngram_length - 1 : 1;
	if (k > EBPH_LOOKAHEAD)
		k = EBPH_LOOKAHEAD;
	if (len < k)
		k = len;
	if (k)
		h = ngram_hash(lo, hi, k);

	/* 1. Training: pairs and n-grams are always learned; what was new counts when the
	 *    detector uses it. */
	p->train_count++;
	row = row_of(p->train_index, curr);
	new_pairs = count_misses(row, lo, hi, depth) > 0;
	new_ngram = k && !ngram_known(row, h);
	if (new_pairs || new_ngram)
		learn(slot | (__u64)curr << 32, lo, hi, h, depth | k << 8);
	if ((new_pairs && (detector & EBPH_DETECT_PAIRS)) ||
	    (new_ngram && (detector & EBPH_DETECT_NGRAMS))) {
		lesson(t, p);
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
	if (p->status == EBPH_NORMAL) {
		row = row_of(p->test_index, curr);
		if (detector & EBPH_DETECT_PAIRS)
			misses = count_misses(row, lo, hi, depth);
		novel = (detector & EBPH_DETECT_NGRAMS) && k && !ngram_known(row, h);
	}
	t->seq[d][1] = (hi << 16) | (lo >> 48);
	t->seq[d][0] = (lo << 16) | curr;
	if (len < EBPH_LOOKAHEAD)
		t->len[d] = len + 1;
	lfc_before = t->lf_count;
	lfc = locality_record(t, misses || novel);
	if (misses || novel) {
		t->run |= EBPH_RUN_ANOMALOUS;
		p->anomalies++;
		__sync_fetch_and_add(&stats.anomalies, 1);
		ev = report_anomaly(p, slot) ? new_event(EBPH_EV_ANOMALY, slot, p) : NULL;
		if (ev) {
			ev->syscall = curr;
			ev->misses = misses;
			ev->novel_ngram = novel;
			ev->lfc = lfc;
			ev->seq_len = len + 1;
			ev->sequence[0] = curr;
#pragma unroll
			for (int i = 0; i < EBPH_LOOKAHEAD; i++)
				ev->sequence[i + 1] = i < len ? prev_call(lo, hi, i) : 0;
			send_event(ev);
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
		t->run |= EBPH_RUN_CHANGED_TRAIN;
	}
}

/* A task of the profile in t->profile executed the program of `key`, whose path is `path`
 * (EBPH_PATH_MAX bytes of map memory): ebph_core::Profile::on_exec, before the exec ends the
 * task's run. The executable is learned in the train table's exec row as an n-gram is, and a
 * normal profile whose test table lacks it made a novel exec: an anomaly. Returns whether it
 * did; the caller enters it in the locality frame the new program starts with. */
static __always_inline bool exec_seen(struct ebph_task *t, const struct ebph_key *key, char *path)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 slot = t->profile;
	__u64 h;

	if (!settings.watch_execs)
		return false;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return false;
	h = exec_hash(key);
	if (!ngram_known(row_of(p->train_index, EBPH_EXEC_ROW), h)) {
		learn_here(slot | (__u64)EBPH_EXEC_ROW << 32, 0, 0, h, 1 << 8);
		lesson(t, p);
	}
	if (p->status != EBPH_NORMAL || ngram_known(row_of(p->test_index, EBPH_EXEC_ROW), h))
		return false;
	t->run |= EBPH_RUN_ANOMALOUS;
	p->anomalies++;
	__sync_fetch_and_add(&stats.anomalies, 1);
	ev = report_anomaly(p, slot) ? new_event(EBPH_EV_NOVEL_EXEC, slot, p) : NULL;
	if (ev) {
		ev->lfc = 1;
		__builtin_memcpy(ev->path, path, EBPH_PATH_MAX);
		send_event(ev);
	}
	if (p->anomalies > settings.anomaly_limit) {
		stop_normal(p);
		profile_event(EBPH_EV_LEFT_NORMAL, slot, p, 1);
	}
	return true;
}

/* The task's run of its program ends (exit, or exec of another program): ebph_core::
 * Profile::end_run. A run that made an anomalous call and changed nothing in the train
 * table repeats what the train table learned earlier; `accept_after` of them in a row and a
 * normal profile accepts it (becomes normal anew with its train table, a superset of its
 * test table unless `train_partial`). */
static __always_inline void end_run(struct ebph_task *t)
{
	struct ebph_profile *p;
	__u32 slot = t->profile, run = t->run;

	t->run = 0;
	if (!settings.accept_after ||
	    (run & (EBPH_RUN_CHANGED_TRAIN | EBPH_RUN_ANOMALOUS)) != EBPH_RUN_ANOMALOUS)
		return;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p || p->status != EBPH_NORMAL || p->train_partial)
		return;
	p->repeats++;
	if (p->repeats < settings.accept_after)
		return;
	start_normal(p);
	profile_event(EBPH_EV_ACCEPTED, slot, p, t->lf_count);
}

#endif
