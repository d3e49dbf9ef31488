/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pH's responses: delays (SIGSTOP, continued by the daemon) and execve suspension where no
 * BPF-LSM program refuses the exec.
 */
#ifndef EBPH_RESPOND_H
#define EBPH_RESPOND_H

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

#endif
