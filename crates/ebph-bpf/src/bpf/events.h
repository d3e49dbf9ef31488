/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Events for the daemon (the `events` ring buffer) and the test-only records of everything a
 * task did (`records`).
 */
#ifndef EBPH_EVENTS_H
#define EBPH_EVENTS_H

#include "state.h"

/* Sends an event and wakes the daemon for it. Waking it costs (an irq_work, then an IPI to
 * its CPU): exec events, the frequent ones, do without (see ebph_exec); the ring buffer's
 * own adaptive wake-up would then skip the daemon for every later event too until it reads,
 * so the rest always wake it. */
static __always_inline void send_event(struct ebph_event *ev)
{
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
}

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
	send_event(ev);
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

#endif
