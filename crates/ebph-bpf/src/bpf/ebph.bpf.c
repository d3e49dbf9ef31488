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

/*
 * This file holds the programs; the rest is split by concern, each header including what it
 * uses (build.rs compiles each on its own): state.h (maps, settings, counters), events.h,
 * files.h (scripts, owners, paths), pool.h (rows and index blocks), table.h (lookahead
 * tables), task.h (per-task state), transitions.h (pH's rules), respond.h (delays and
 * execve suspension), endpoints.h (network endpoints).
 */
#include "state.h"
#include "events.h"
#include "files.h"
#include "pool.h"
#include "table.h"
#include "task.h"
#include "transitions.h"
#include "respond.h"
#include "endpoints.h"

/*
 * Where tracepoints run their programs preemptibly (newer kernels), a program preempted on a
 * CPU makes the kernel skip every other run of it there until it resumes (its per-CPU
 * recursion guard; counted as the program's recursion misses): an exec, a fork or an exit
 * the engine never sees. The lifecycle programs therefore keep preemption off from their
 * first instruction (a kfunc since Linux 6.10; before that, tracepoints ran them with
 * preemption off anyway). The hot path does without: its runs are short and a missed call
 * costs one call's learning, not a task's identity.
 */
extern void bpf_preempt_disable(void) __ksym __weak;
extern void bpf_preempt_enable(void) __ksym __weak;

static __always_inline bool preempt_off(void)
{
	if (!bpf_ksym_exists(bpf_preempt_disable))
		return false;
	bpf_preempt_disable();
	return true;
}

static __always_inline void preempt_on(bool off)
{
	if (off && bpf_ksym_exists(bpf_preempt_enable))
		bpf_preempt_enable();
}

SEC("tp_btf/sys_enter")
int BPF_PROG(ebph_sys_enter, struct pt_regs *regs, long id)
{
	struct ebph_cpu_cache *c;
	struct ebph_task *t;
	__u64 now = 0, not_mmap;
	bool heap = false;

	if ((unsigned long)id >= EBPH_HEAP_MMAP)
		return 0;
	c = this_cpu();
	if (!c)
		return 0;
	t = current_task_state(c, (__u64)regs);
	if (!t)
		return 0;
	c->calls++;
	/* An mmap that grows the heap (ebph_core::is_heap_mmap: anonymous memory, no PROT_EXEC,
	 * no MAP_FIXED(_NOREPLACE)) is recorded as the pseudo-call EBPH_HEAP_MMAP, and with
	 * skip_heap_mmap not seen (ebph_core::Settings::seen_as); without, it is the mmap it is.
	 * It is told from `id ^ mmap`, which the compiler may not turn back into `id == mmap`: a
	 * test of `id` itself would make the verifier walk on_call() once more with `id` known
	 * to be mmap, which takes Linux 6.12's past its limit. */
	not_mmap = (__u64)id ^ X86_64_MMAP;
	barrier_var(not_mmap);
	if (!not_mmap && (regs->r10 & (EBPH_MAP_ANONYMOUS | EBPH_MAP_FIXED_ANY)) == EBPH_MAP_ANONYMOUS &&
	    !(regs->dx & EBPH_PROT_EXEC))
		heap = true;
	if (settings.record) {
		now = bpf_ktime_get_boot_ns();
		record(EBPH_REC_CALL, (__u32)bpf_get_current_pid_tgid(), heap ? EBPH_HEAP_MMAP : id,
		       now, NULL);
	}
	if (!heap || !settings.skip_heap_mmap)
		on_call(t, id, now);
	if (names_endpoint(id) && settings.watch_endpoints) {
		__u64 ep = endpoint_of(regs, id);

		if (ep) {
			if (settings.record)
				record(EBPH_REC_ENDPOINT, (__u32)bpf_get_current_pid_tgid(), id, now,
				       &(struct ebph_key){ .dev = ep });
			endpoint_seen(t, ep);
		}
	}
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
	/* After the call is counted: the anomalous call itself is the one held. */
	if (t->lf_count && settings.response != EBPH_MONITOR)
		respond(t, id);
	return 0;
}

/* The daemon and its children (the keeper, which continues held processes) are never
 * tracked: a keeper held by the engine could never continue anyone. */
static __always_inline bool is_daemon(struct task_struct *p)
{
	__u32 daemon = settings.daemon_tgid;

	return daemon && (BPF_CORE_READ(p, tgid) == daemon ||
			  BPF_CORE_READ(p, real_parent, tgid) == daemon);
}

static __always_inline int on_exec(struct task_struct *p, struct linux_binprm *bprm)
{
	struct ebph_key key = {};
	struct path_buf *buf;
	struct ebph_task *t;
	struct ebph_event *ev;
	struct file *file, *script = NULL;
	const char *filename;
	struct new_profile np = {};
	__u32 zero = 0, tid, from = 0;
	bool novel = false;
	long slot;

	if (is_daemon(p))
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
		/* A #! script (or binfmt_misc): bprm->file is the interpreter by now. The script is
		 * keyed by its own file (however it was named: symlinks, relative paths) and its
		 * interpreter; when its file cannot be found, it runs as its interpreter. */
		script = script_file(p);
		if (script) {
			key.script = script_key(key.dev, key.ino);
			key.dev = BPF_CORE_READ(script, f_inode, i_sb, s_dev);
			key.ino = BPF_CORE_READ(script, f_inode, i_ino);
			file = script;
		} else {
			__sync_fetch_and_add(&stats.scripts_unseen, 1);
		}
	}

	np.path = buf->path;
	np.file = file;
	np.resolve = script != NULL;
	np.by_task = true;
	slot = profile_slot(&key, &np);
	if (slot < 0)
		return 0;
	t = task_state(p);
	if (t) {
		from = t->profile;
		novel = exec_seen(t, &key, buf->path);
		end_run(t);
		profile_put(t->profile); /* it leaves its old program's profile */
	} else {
		t = track(p);
		if (!t) {
			profile_put(slot);
			return 0;
		}
	}
	reset_task(t, (__u64)p, slot);
	if (novel)
		locality_record(t, true); /* the new program starts with the novel exec */
	t->tid = BPF_CORE_READ(p, pid);
	t->pid = BPF_CORE_READ(p, tgid);
	if (novel)
		refuse_novel_exec(t, from, buf->path);
	tid = BPF_CORE_READ(p, pid);
	if (settings.record)
		record(EBPH_REC_EXEC, tid, slot, bpf_ktime_get_boot_ns(), &key);
	ev = new_event(EBPH_EV_EXEC, slot, bpf_map_lookup_elem(&profiles, &(__u32){ slot }));
	if (ev) {
		__builtin_memcpy(ev->path, buf->path, EBPH_PATH_MAX);
		/* No wake-up: waking the daemon from here (an irq_work, then an IPI to its CPU)
		 * cost most of an exec's ~20 us here; it reads exec events with the next event
		 * that does wake it, or within its one-second tick. */
		bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ebph_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	bool off = preempt_off();

	on_exec(p, bprm);
	preempt_on(off);
	return 0;
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	struct ebph_task *pt, *ct;

	pt = task_state(parent);
	if (!pt)
		return 0;
	if (is_daemon(parent))
		return 0;
	ct = track(child);
	if (!ct)
		return 0;
	__builtin_memcpy(ct, pt, sizeof(*ct));
	profile_get(ct->profile);
	ct->run = 0; /* the child's run starts afresh */
	ct->owner = (__u64)child;
	ct->regs = 0;
	ct->tid = BPF_CORE_READ(child, pid);
	ct->pid = BPF_CORE_READ(child, tgid);
	if (settings.record)
		record(EBPH_REC_FORK, BPF_CORE_READ(parent, pid), BPF_CORE_READ(child, pid),
		       bpf_ktime_get_boot_ns(), NULL);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ebph_fork, struct task_struct *parent, struct task_struct *child)
{
	bool off = preempt_off();

	on_fork(parent, child);
	preempt_on(off);
	return 0;
}

static __always_inline int on_exit(struct task_struct *p)
{
	struct ebph_task *t;
	__u32 *found, slot;

	found = bpf_task_storage_get(&tasks, p, 0, 0);
	if (!found)
		return 0;
	slot = *found;
	t = bpf_map_lookup_elem(&task_states, &slot);
	if (t && t->owner == (__u64)p) {
		end_run(t);
		profile_put(t->profile);
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

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ebph_exit, struct task_struct *p)
{
	bool off = preempt_off();

	on_exit(p);
	preempt_on(off);
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
	else if (t->overflow < 0xffff)
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
	__u32 op = ctx[0], slot = ctx[1], id;
	struct ebph_profile *p;

	switch (op) {
	case EBPH_ADMIN_TAKE_ROW:
		id = alloc_row();
		return id ? (int)id : -ENOSPC;
	case EBPH_ADMIN_TAKE_INDEX:
		id = alloc_index();
		return id ? (int)id : -ENOSPC;
	case EBPH_ADMIN_TAKE_PROFILE: {
		long taken = take_profile_slot();

		if (taken < 0)
			return -ENOSPC;
		__sync_fetch_and_add(&stats.profiles_created, 1);
		return taken;
	}
	}
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
	case EBPH_ADMIN_DELETE:
		return delete_profile(p, slot);
	default:
		return -EINVAL;
	}
}

/* Tracks every task that was running before the engine was attached, under the profile of
 * its executable (run once by the loader, reading a task iterator). A #! script that was
 * already running is seen as its interpreter: the loader finds such scripts in /proc first
 * (running_scripts), and they get their own profile. */
SEC("iter/task")
int ebph_associate(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ebph_key key = {};
	struct path_buf *buf;
	struct ebph_task *t;
	struct ebph_event *ev;
	struct ebph_running_script *script;
	struct new_profile np = {};
	struct file *exe;
	__u32 zero = 0, pid;
	long slot;

	if (!task || (BPF_CORE_READ(task, flags) & PF_KTHREAD))
		return 0;
	if (is_daemon(task))
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
	pid = BPF_CORE_READ(task, tgid);
	script = bpf_map_lookup_elem(&running_scripts, &pid);
	np.path = buf->path;
	if (script && script->interp_dev == key.dev && script->interp_ino == key.ino) {
		key = script->key;
		__builtin_memcpy(buf->path, script->path, EBPH_PATH_MAX);
		np.unprivileged = script->unprivileged;
	} else {
		np.file = exe;
		np.resolve = true;
	}
	slot = profile_slot(&key, &np);
	if (slot < 0)
		return 0;
	t = track(task);
	if (!t) {
		profile_put(slot);
		return 0;
	}
	reset_task(t, (__u64)task, slot);
	t->tid = BPF_CORE_READ(task, pid);
	t->pid = BPF_CORE_READ(task, tgid);
	/* An exec event for the task, without a path: the daemon reads /proc/PID/exe. */
	ev = new_event(EBPH_EV_EXEC, slot, bpf_map_lookup_elem(&profiles, &(__u32){ slot }));
	if (ev) {
		ev->pid = t->pid;
		ev->tid = t->tid;
		send_event(ev);
	}
	return 0;
}

/* Whether `bprm` would be a novel exec of the profile in `slot` (exec_seen()), told before
 * the exec: only for an ELF program (a #! script's key needs its interpreter, known only
 * later: sched_process_exec kills those) at the first stage of the exec. */
static __always_inline bool novel_exec_ahead(__u32 slot, struct linux_binprm *bprm)
{
	struct ebph_profile *p = bpf_map_lookup_elem(&profiles, &slot);
	struct ebph_key key = {};
	struct file *file;
	char magic[4];

	if (!settings.watch_execs || !p || p->status != EBPH_NORMAL)
		return false;
	if (BPF_CORE_READ(bprm, filename) != BPF_CORE_READ(bprm, interp))
		return false;
	if (bpf_probe_read_kernel(magic, sizeof(magic), &bprm->buf) || magic[0] != 0x7f ||
	    magic[1] != 'E' || magic[2] != 'L' || magic[3] != 'F')
		return false;
	file = BPF_CORE_READ(bprm, file);
	key.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(file, f_inode, i_ino);
	return !ngram_known(row_of(p->test_index, EBPH_EXEC_ROW), exec_hash(&key));
}

static __always_inline void refused_novel_event(__u32 type, __u32 slot, struct ebph_profile *p,
						struct ebph_task *t, struct linux_binprm *bprm)
{
	struct ebph_event *ev = new_event(type, slot, p);

	if (!ev)
		return;
	ev->syscall = X86_64_EXECVE;
	ev->lfc = t->lf_count;
	bpf_probe_read_kernel_str(ev->path, sizeof(ev->path), BPF_CORE_READ(bprm, filename));
	send_event(ev);
}

/* Execve suspension where BPF-LSM is available: the exec fails with EPERM and the task lives
 * on. Loaded only when the loader's probe says BPF-LSM works here. In enforce mode it refuses
 * a task above suspend-execve, and a novel exec of a normal profile (counted as its anomaly
 * and reported as one; nothing is learned: the exec did not happen). */
SEC("lsm/bprm_check_security")
int BPF_PROG(ebph_bprm_check, struct linux_binprm *bprm, int ret)
{
	struct ebph_profile *p;
	struct ebph_task *t;
	struct ebph_event *ev;
	__u32 slot;

	if (ret)
		return ret;
	if (settings.response != EBPH_ENFORCE)
		return 0;
	t = task_state(bpf_get_current_task_btf());
	if (!t || t->pid == 1)
		return 0;
	slot = t->profile;
	if (exempted(slot))
		return 0;
	p = bpf_map_lookup_elem(&profiles, &slot);
	if (settings.suspend_execve && t->lf_count > settings.suspend_execve) {
		ev = new_event(EBPH_EV_EXECVE_REFUSED, slot, p);
		if (ev) {
			ev->syscall = X86_64_EXECVE;
			ev->lfc = t->lf_count;
			send_event(ev);
		}
		return -EPERM;
	}
	if (!p || !novel_exec_ahead(slot, bprm))
		return 0;
	p->anomalies++;
	__sync_fetch_and_add(&stats.anomalies, 1);
	refused_novel_event(EBPH_EV_NOVEL_EXEC, slot, p, t, bprm);
	refused_novel_event(EBPH_EV_EXECVE_REFUSED, slot, p, t, bprm);
	return -EPERM;
}
