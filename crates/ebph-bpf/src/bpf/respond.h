/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pH's responses: delays (SIGSTOP, continued by the keeper) and execve suspension where no
 * BPF-LSM program refuses the exec.
 */
#ifndef EBPH_RESPOND_H
#define EBPH_RESPOND_H

#include "events.h"
#include "task.h"
#include <bpf/bpf_core_read.h>

/* Stops the current process until `until` (boot clock): first a record for the keeper, who
 * continues it then, and only if that record has room, the SIGSTOP. The signal takes effect
 * when the current call returns. Returns whether the process was stopped. */
static __always_inline bool hold(__u64 until)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ebph_hold *h = bpf_ringbuf_reserve(&holds, sizeof(*h), 0);
	__u64 id;

	if (!h) {
		/* The keeper is behind: better not held than held for ever. */
		__sync_fetch_and_add(&stats.holds_dropped, 1);
		return false;
	}
	id = bpf_get_current_pid_tgid();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->start_time = BPF_CORE_READ(task, group_leader, start_boottime);
	h->until = until;
	if (bpf_send_signal(SIGSTOP)) {
		bpf_ringbuf_discard(h, 0);
		return false;
	}
	bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
	return true;
}

/* pH's response, at the sys_enter of a call that leaves the task's LFC above 0 (the call
 * itself counted: the anomalous call is the one held; ebph_core::delay_for and
 * execve_allowed): if the LFC exceeds delay_threshold, hold it delay_factor * 2^LFC with
 * SIGSTOP (the keeper sends SIGCONT when the time is up, and a task continued early is
 * stopped again), and in enforce mode kill a task that tries to exec above suspend-execve (no
 * BPF-LSM here to refuse it cleanly). A task that is exiting is never held. */
static __always_inline void respond(struct ebph_task *t, long id)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 slot = t->profile, lfc = t->lf_count, exp;
	__u32 *exempted = bpf_map_lookup_elem(&exempt, &slot);
	__u64 now, delay;

	if ((exempted && *exempted) || t->pid == 1 || id == X86_64_EXIT || id == X86_64_EXIT_GROUP)
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
			send_event(ev);
		}
		return;
	}
	if (now < t->held_until) {
		/* Continued before its time: hold it again, to the same end. */
		hold(t->held_until & ~EBPH_HELD_CALL);
		return;
	}
	/* The call held last, entered again once its time is up: most likely the same call
	 * restarted. A stop makes a call that was about to sleep (accept, read, wait4, ...) and
	 * every fork start again from sys_enter; holding it again each time would hold it for
	 * ever (with fold-loops the repeat does not even move the LFC). It runs, once. */
	if ((t->held_until & EBPH_HELD_CALL) == (__u64)id + 1) {
		t->held_until &= ~EBPH_HELD_CALL;
		return;
	}
	if (lfc <= settings.delay_threshold)
		return;
	exp = lfc > 31 ? 31 : lfc;
	delay = settings.delay_factor_ns > (settings.max_delay_ns >> exp) ? settings.max_delay_ns
									   : settings.delay_factor_ns << exp;
	if (!delay || !hold(now + delay))
		return;
	t->held_until = ((now + delay) & ~EBPH_HELD_CALL) | ((__u64)id + 1);
	ev = new_event(EBPH_EV_DELAY, slot, p);
	if (ev) {
		ev->syscall = id;
		ev->lfc = lfc;
		ev->delay_ns = delay;
		send_event(ev);
	}
}

/* Whether the tasks of the profile in `slot` are on the allowlist. */
static __always_inline bool exempted(__u32 slot)
{
	__u32 *on = bpf_map_lookup_elem(&exempt, &slot);

	return on && *on;
}

/* Enforce mode: a novel exec (exec_seen()) that got through, a #! script's where BPF-LSM
 * could not tell, or any where there is no BPF-LSM: the new program is killed before it runs
 * an instruction. `from` is the slot of the profile that executed it; `path` (EBPH_PATH_MAX
 * bytes of map memory) the program's path, which the event carries (an execve_refused event
 * with a path: refused as a novel exec, not for its LFC). */
static __always_inline void refuse_novel_exec(struct ebph_task *t, __u32 from, char *path)
{
	struct ebph_event *ev;

	if (settings.response != EBPH_ENFORCE || t->pid == 1 || exempted(from))
		return;
	bpf_send_signal(SIGKILL);
	ev = new_event(EBPH_EV_EXECVE_REFUSED, from, bpf_map_lookup_elem(&profiles, &from));
	if (ev) {
		ev->syscall = X86_64_EXECVE;
		ev->lfc = t->lf_count;
		__builtin_memcpy(ev->path, path, EBPH_PATH_MAX);
		send_event(ev);
	}
}

#endif
