/*
 * Names network endpoints: for each argument `c:ADDR:PORT` (connect) or `b:ADDR:PORT` (bind),
 * a new UDP socket of the address's family binds or connects to it (a UDP connect sends
 * nothing). IPv6 addresses are written in brackets: `c:[::1]:80`. Failures are fine: the
 * engine sees the call either way.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
		fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
		if (v6) {
			inet_pton(AF_INET6, addr, &in6.sin6_addr);
			in6.sin6_port = htons(atoi(port));
		} else {
			inet_pton(AF_INET, addr, &in.sin_addr);
			in.sin_port = htons(atoi(port));
		}
		if (spec[0] == 'b')
			bind(fd, v6 ? (void *)&in6 : (void *)&in, v6 ? sizeof(in6) : sizeof(in));
		else
			connect(fd, v6 ? (void *)&in6 : (void *)&in, v6 ? sizeof(in6) : sizeof(in));
		close(fd);
	}
	return 0;
}
