/*
 * Names network endpoints: for each argument `c:ADDR:PORT` (connect) or `b:ADDR:PORT` (bind),
 * a new UDP socket of the address's family binds or connects to it (a UDP connect sends
 * nothing); `s:`, `m:` and `M:` send one datagram to it, with sendto, sendmsg and sendmmsg;
 * `f:` sends on a new TCP socket with MSG_FASTOPEN (which connects). IPv6 addresses are
 * written in brackets: `c:[::1]:80`. Sends go to loopback only in the tests (a datagram to
 * any other address would leave the machine). Failures are fine: the engine sees the call
 * either way.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char spec[128], *addr, *port;
		struct sockaddr_in in = { .sin_family = AF_INET };
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
		int v6, fd;

		snprintf(spec, sizeof(spec), "%s", argv[i]);
		addr = spec + 2;
		v6 = addr[0] == '[';
		if (v6) {
			addr++;
			port = strchr(addr, ']');
			*port = 0;
			port += 2;
		} else {
			port = strrchr(addr, ':');
			*port++ = 0;
		}
		fd = socket(v6 ? AF_INET6 : AF_INET, spec[0] == 'f' ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (v6) {
			inet_pton(AF_INET6, addr, &in6.sin6_addr);
			in6.sin6_port = htons(atoi(port));
		} else {
			inet_pton(AF_INET, addr, &in.sin_addr);
			in.sin_port = htons(atoi(port));
		}
		void *sa = v6 ? (void *)&in6 : (void *)&in;
		socklen_t len = v6 ? sizeof(in6) : sizeof(in);
		char byte = 'x';
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr msg = { .msg_name = sa, .msg_namelen = len, .msg_iov = &iov,
				      .msg_iovlen = 1 };
		struct mmsghdr mmsg = { .msg_hdr = msg };

		switch (spec[0]) {
		case 'b':
			bind(fd, sa, len);
			break;
		case 's':
			sendto(fd, &byte, 1, 0, sa, len);
			break;
		case 'm':
			sendmsg(fd, &msg, 0);
			break;
		case 'M':
			sendmmsg(fd, &mmsg, 1, 0);
			break;
		case 'f':
			sendto(fd, &byte, 1, MSG_FASTOPEN, sa, len);
			break;
		default:
			connect(fd, sa, len);
		}
		close(fd);
	}
	return 0;
}
