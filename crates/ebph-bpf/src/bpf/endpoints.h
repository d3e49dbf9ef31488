/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network endpoints (ebph_core::Endpoint): what a bind, a connect or a send with an address
 * names, as a class that generalises, learned and tested per profile like an executable
 * (exec_seen()). Only those calls pay for it.
 */
#ifndef EBPH_ENDPOINTS_H
#define EBPH_ENDPOINTS_H

#include "events.h"
#include "table.h"
#include "task.h"
#include "transitions.h"

#define EBPH_AF_INET 2
#define EBPH_AF_INET6 10

enum ebph_address_class {
	EBPH_CLASS_ANY = 1,
	EBPH_CLASS_LOOPBACK = 2,
	EBPH_CLASS_PRIVATE = 3,
	EBPH_CLASS_LINK_LOCAL = 4,
	EBPH_CLASS_MULTICAST = 5,
	EBPH_CLASS_PUBLIC = 6,
};

/* ebph_core::AddressClass::of_v4, of the address's four bytes in network order. */
static __always_inline __u32 class_v4(__u8 a0, __u8 a1, __u8 a2, __u8 a3)
{
	if (!a0 && !a1 && !a2 && !a3)
		return EBPH_CLASS_ANY;
	if (a0 == 127)
		return EBPH_CLASS_LOOPBACK;
	if (a0 == 10 || (a0 == 172 && a1 >= 16 && a1 < 32) || (a0 == 192 && a1 == 168) ||
	    (a0 == 100 && a1 >= 64 && a1 < 128))
		return EBPH_CLASS_PRIVATE;
	if (a0 == 169 && a1 == 254)
		return EBPH_CLASS_LINK_LOCAL;
	if (a0 >= 224)
		return EBPH_CLASS_MULTICAST;
	return EBPH_CLASS_PUBLIC;
}

/* ebph_core::AddressClass::of_v6, of the address's sixteen bytes. */
static __always_inline __u32 class_v6(const __u8 *a)
{
	__u64 hi = 0, lo = 0;

#pragma unroll
	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | a[i];
		lo = lo << 8 | a[i + 8];
	}
	if (!hi && (lo >> 32) == 0xffff) /* ::ffff:a.b.c.d */
		return class_v4(a[12], a[13], a[14], a[15]);
	if (!hi && !lo)
		return EBPH_CLASS_ANY;
	if (!hi && lo == 1)
		return EBPH_CLASS_LOOPBACK;
	if ((a[0] & 0xfe) == 0xfc)
		return EBPH_CLASS_PRIVATE;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return EBPH_CLASS_LINK_LOCAL;
	if (a[0] == 0xff)
		return EBPH_CLASS_MULTICAST;
	return EBPH_CLASS_PUBLIC;
}

/* ebph_core::Direction */
#define EBPH_CONNECT 1 /* a remote endpoint: connect, or a send with an address */
#define EBPH_BIND 2

/* The endpoint (ebph_core::Endpoint::id) of the sockaddr of `len` bytes at `uaddr` in user
 * memory, named in `direction`; 0 for another family, an address too short or unreadable. */
static __always_inline __u64 endpoint_at(const void *uaddr, __u64 len, __u64 direction)
{
	__u8 sa[28] = {};
	__u64 family, port, class;

	if (!uaddr || len < 16)
		return 0;
	if (bpf_probe_read_user(sa, len >= sizeof(sa) ? sizeof(sa) : 16, uaddr))
		return 0;
	family = sa[0] | (__u64)sa[1] << 8;
	port = (__u64)sa[2] << 8 | sa[3];
	if (family == EBPH_AF_INET) {
		class = class_v4(sa[4], sa[5], sa[6], sa[7]);
		family = 4;
	} else if (family == EBPH_AF_INET6 && len >= 24) {
		class = class_v6(&sa[8]);
		family = 6;
	} else {
		return 0;
	}
	return port | class << 16 | family << 24 | direction << 32;
}

/* The first two fields of struct user_msghdr: where the address is, and its length. */
struct ebph_msg_name {
	const void *name;
	__u32 namelen;
	__u32 _pad;
};

/* Whether call `id` may name an endpoint (ebph_core::endpoint_direction, by name): the cost
 * of endpoints is paid by these calls alone. */
static __always_inline bool names_endpoint(long id)
{
	return id == X86_64_CONNECT || id == X86_64_BIND || id == X86_64_SENDTO ||
	       id == X86_64_SENDMSG || id == X86_64_SENDMMSG;
}

/* The endpoint call `id` names (one for which names_endpoint() holds), from its arguments
 * in `regs`: connect's and bind's address; sendto's destination (UDP datagrams, TCP Fast
 * Open), none when it sends on a connected socket; sendmsg's msg_name, and that of
 * sendmmsg's first message. 0 when there is none, or it is not an internet address. */
static __always_inline __u64 endpoint_of(struct pt_regs *regs, long id)
{
	struct ebph_msg_name m;

	if (id == X86_64_CONNECT)
		return endpoint_at((const void *)regs->si, regs->dx, EBPH_CONNECT);
	if (id == X86_64_BIND)
		return endpoint_at((const void *)regs->si, regs->dx, EBPH_BIND);
	if (id == X86_64_SENDTO)
		return endpoint_at((const void *)regs->r8, regs->r9, EBPH_CONNECT);
	/* sendmsg: a struct user_msghdr; sendmmsg: an array of struct mmsghdr, each beginning
	 * with one. */
	if (bpf_probe_read_user(&m, sizeof(m), (const void *)regs->si))
		return 0;
	return endpoint_at(m.name, m.namelen, EBPH_CONNECT);
}

/* A task of the profile in t->profile bound, connected or sent to endpoint `ep` (its call already
 * counted): ebph_core::Profile::on_endpoint. Learned in the train table's endpoint row (bits,
 * and listed in a free slot of its flags), tested against the test table's; a novel endpoint
 * is an anomaly, entered in the task's locality frame at once. */
static __always_inline void endpoint_seen(struct ebph_task *t, __u64 ep)
{
	struct ebph_profile *p;
	struct ebph_event *ev;
	__u32 slot = t->profile;
	__u64 h = mix(ep, 0, 0);

	p = bpf_map_lookup_elem(&profiles, &slot);
	if (!p)
		return;
	if (!ngram_known(row_of(p->train_index, EBPH_ENDPOINT_ROW), h)) {
		learn(slot | (__u64)EBPH_ENDPOINT_ROW << 32, ep, 0, h, 1 << 8);
		lesson(t, p);
	}
	if (p->status != EBPH_NORMAL || ngram_known(row_of(p->test_index, EBPH_ENDPOINT_ROW), h))
		return;
	t->run |= EBPH_RUN_ANOMALOUS;
	p->anomalies++;
	__sync_fetch_and_add(&stats.anomalies, 1);
	locality_record(t, true);
	ev = report_anomaly(p, slot) ? new_event(EBPH_EV_NOVEL_ENDPOINT, slot, p) : NULL;
	if (ev) {
		ev->lfc = t->lf_count;
		ev->endpoint = ep;
		send_event(ev);
	}
	if (p->anomalies > settings.anomaly_limit) {
		stop_normal(p);
		profile_event(EBPH_EV_LEFT_NORMAL, slot, p, t->lf_count);
	}
}

#endif
