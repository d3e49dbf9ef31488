/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types ebph reads, declared for CO-RE: libbpf relocates every field access
 * against the running kernel's BTF by name, so offsets here do not matter, and no
 * 100,000-line vmlinux.h is needed to build.
 */
#ifndef EBPH_VMLINUX_MIN_H
#define EBPH_VMLINUX_MIN_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
#define true 1
#define false 0
typedef int pid_t;
typedef __u32 dev_t;
typedef unsigned short umode_t;

/* UAPI constants (include/uapi/linux/bpf.h); stable by definition. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_QUEUE = 22,
	BPF_MAP_TYPE_RINGBUF = 27,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
};
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};
enum {
	BPF_F_NO_PREALLOC = 1,
};
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_LOCAL_STORAGE_GET_F_CREATE = 1,
};
#define PF_KTHREAD 0x00200000
#define EPERM 1
#define ENOENT 2
#define EINVAL 22
#define ENOSPC 28
#define EBUSY 16

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct pt_regs {
	long unsigned int r9;
	long unsigned int r8;
	long unsigned int r10;
	long unsigned int dx;
	long unsigned int si;
	long unsigned int ax;
};

struct file;
struct fs_struct;

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *);
};

struct mm_struct {
	struct file *exe_file;
};

struct task_struct {
	unsigned int flags;
	pid_t pid;
	pid_t tgid;
	struct mm_struct *mm;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	u64 start_boottime;
	struct callback_head *task_works;
	struct fs_struct *fs;
};

struct bpf_iter_meta {
	void *seq;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
};

struct super_block {
	dev_t s_dev;
};

typedef struct {
	unsigned int val;
} kuid_t;

typedef struct {
	unsigned int val;
} kgid_t;

struct inode {
	umode_t i_mode;
	kuid_t i_uid;
	kgid_t i_gid;
	long unsigned int i_ino;
	struct super_block *i_sb;
};

struct qstr {
	unsigned int len;
	const unsigned char *name;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
};

struct vfsmount {
	struct dentry *mnt_root;
};

/* fs/mount.h: a vfsmount is the `mnt` member of its mount. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct fs_struct {
	struct path root;
};

/* fput() queues a file's last release as task work, in the file itself (see files.h). */
struct file {
	struct path f_path;
	struct inode *f_inode;
	unsigned int f_flags;
	struct callback_head f_task_work;
};


struct linux_binprm {
	char buf[256];
	struct file *file;
	const char *filename;
	const char *interp;
};

struct sigaction {
	void *sa_handler;
};

struct k_sigaction {
	struct sigaction sa;
};

struct kernel_siginfo {
	int si_signo;
};

#pragma clang attribute pop

#endif
