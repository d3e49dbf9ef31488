/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Executable files: who may change one, the #! script behind an exec, and a file's absolute
 * path. Used at exec and at start only, never on the hot path.
 */
#ifndef EBPH_FILES_H
#define EBPH_FILES_H

#include "state.h"
#include <bpf/bpf_core_read.h>

#define __FMODE_EXEC 0x20 /* f_flags: the file was opened to be executed (open_exec) */
#define EBPH_TASK_WORKS_MAX 4096
#define EBPH_PATH_DEPTH 40

/* Where fput() queues a file's release; absent from kallsyms (0) on a kernel that hides it. */
extern const void ____fput __ksym __weak;

/* Whether a user other than root can change the file: see EBPH_PROFILE_UNPRIVILEGED. */
static __always_inline bool unprivileged_file(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	umode_t mode = BPF_CORE_READ(inode, i_mode);

	return BPF_CORE_READ(inode, i_uid.val) != 0 || (mode & 0002) ||
	       ((mode & 0020) && BPF_CORE_READ(inode, i_gid.val) != 0);
}

/* Where fput() puts its task work in a struct file: `f_task_work` since Linux 6.8 or so; until
 * then the union holding it (`f_rcuhead`, or `f_u` before 6.7) was struct file's first
 * member. */
static __always_inline long task_work_offset(void)
{
	if (bpf_core_field_exists(struct file, f_task_work))
		return bpf_core_field_offset(struct file, f_task_work);
	return 0;
}

struct work_walk {
	struct callback_head *work;
	struct file *found;
	long offset;
};

static long work_entry(__u64 i, struct work_walk *w)
{
	struct callback_head *work = w->work;
	struct file *f;

	if (!work)
		return 1;
	if ((const void *)BPF_CORE_READ(work, func) == &____fput) {
		f = (void *)work - w->offset;
		if (BPF_CORE_READ(f, f_flags) & __FMODE_EXEC)
			w->found = f;
	}
	w->work = BPF_CORE_READ(work, next);
	return 0;
}

/*
 * The file of the #! script that `p` (the current task, at sched_process_exec) was exec'd
 * by, or NULL. By then bprm->file is the interpreter: the kernel swapped the script's file
 * for it and dropped the script's last reference with fput(), which, for a user task, queues
 * the release as task work run on the way back to user space, so the file is still alive in
 * the task's list of pending work. Of the files queued there by ____fput that were opened to
 * be executed, the oldest (the list is newest first: files closed on exec come before it) is
 * the script; the interpreter of a nested #! chain and the old executable come after it.
 * A task that closed more than EBPH_TASK_WORKS_MAX files on exec is not looked through.
 */
static __always_inline struct file *script_file(struct task_struct *p)
{
	struct work_walk w = { .work = BPF_CORE_READ(p, task_works), .offset = task_work_offset() };

	if (!&____fput)
		return NULL;
	bpf_loop(EBPH_TASK_WORKS_MAX, work_entry, &w, 0);
	return w.work ? NULL : w.found;
}

/* A script's `script` key field: FNV-1a of its interpreter's device and inode (as in
 * ebph_core::ProfileKey::script_of), never 0. */
static __always_inline __u64 script_key(__u64 dev, __u64 ino)
{
	__u64 h = 14695981039346656037ULL;

#pragma unroll
	for (int i = 0; i < 16; i++) {
		h ^= ((i < 8 ? dev : ino) >> (8 * (i & 7))) & 0xff;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

struct path_walk {
	char buf[2 * EBPH_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_walk);
} path_walks SEC(".maps");

/*
 * Writes the absolute path of `f` (as the current task sees it: from its root, or the root
 * of its mount namespace; symlinks resolved, since it walks the file's own dentries and
 * mounts) to `out`, EBPH_PATH_MAX bytes; false, with `out` unchanged, when the path is longer
 * or deeper than the engine reads.
 */
static __always_inline bool file_path(struct file *f, char *out)
{
	struct task_struct *current = bpf_get_current_task_btf();
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry), *parent;
	struct vfsmount *vfs = BPF_CORE_READ(f, f_path.mnt);
	long mnt_offset = bpf_core_field_offset(struct mount, mnt);
	struct mount *m = (void *)vfs - mnt_offset, *up;
	struct dentry *root = BPF_CORE_READ(current, fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(current, fs, root.mnt);
	__u32 zero = 0, pos = EBPH_PATH_MAX, len;
	struct path_walk *w = bpf_map_lookup_elem(&path_walks, &zero);
	bool done = false;

	if (!w)
		return false;
	/* The path is built leftwards, ending at buf[EBPH_PATH_MAX]. */
	for (int i = 0; i < EBPH_PATH_DEPTH; i++) {
		if (d == root && (void *)m + mnt_offset == (void *)root_mnt) {
			done = true;
			break;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (d == BPF_CORE_READ(m, mnt.mnt_root) || d == parent) {
			up = BPF_CORE_READ(m, mnt_parent);
			if (up == m || !up) {
				done = true;
				break;
			}
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = up;
			continue;
		}
		len = BPF_CORE_READ(d, d_name.len);
		if (len + 1 >= pos)
			return false;
		pos -= len;
		bpf_probe_read_kernel(&w->buf[pos & (EBPH_PATH_MAX - 1)], len & (EBPH_PATH_MAX - 1),
				      BPF_CORE_READ(d, d_name.name));
		pos--;
		w->buf[pos & (EBPH_PATH_MAX - 1)] = '/';
		d = parent;
	}
	if (!done)
		return false;
	if (pos == EBPH_PATH_MAX) {
		pos--;
		w->buf[pos & (EBPH_PATH_MAX - 1)] = '/';
	}
	w->buf[EBPH_PATH_MAX] = 0;
	bpf_probe_read_kernel_str(out, EBPH_PATH_MAX, &w->buf[pos & (EBPH_PATH_MAX - 1)]);
	return true;
}

#endif
