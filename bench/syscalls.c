/*
 * Per-call cost of common system calls, lmbench style: each line printed is
 * "NAME NANOSECONDS_PER_OPERATION". Run by bench/overhead with nothing, an empty sys_enter
 * program, and ebph attached.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
}

#define MEASURE(name, n, body)                                   \
	do {                                                     \
		for (long i = 0; i < (n) / 10; i++) {            \
			body;                                    \
		}                                                \
		double t0 = now();                               \
		for (long i = 0; i < (n); i++) {                 \
			body;                                    \
		}                                                \
		printf("%s %.1f\n", name, (now() - t0) / (n));   \
		fflush(stdout);                                  \
	} while (0)

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;
	char buf[1];
	int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
	struct stat st;

	signal(SIGUSR1, on_signal);
	MEASURE("getpid", 2000000 * scale, syscall(SYS_getpid));
	MEASURE("read", 1000000 * scale, read(zero, buf, 1));
	MEASURE("write", 1000000 * scale, write(null, buf, 1));
	MEASURE("open+close", 300000 * scale, close(open("/dev/null", O_RDONLY)));
	MEASURE("stat", 500000 * scale, stat("/etc/passwd", &st));
	MEASURE("signal", 300000 * scale, kill(getpid(), SIGUSR1));
	/* Calls whose arguments ebph reads (watch-endpoints): a UDP socket connected again and
	 * again to the same loopback port (nothing is sent)... */
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	MEASURE("connect", 300000 * scale, connect(udp, (void *)&sa, sizeof(sa)));
	/* A send that names its address (a UDP datagram to that loopback port, which nobody
	 * reads): ebph reads it as it reads connect's. */
	int datagrams = socket(AF_INET, SOCK_DGRAM, 0);
	MEASURE("sendto", 300000 * scale, sendto(datagrams, buf, 1, 0, (void *)&sa, sizeof(sa)));
	/* An mmap that grows the heap: ebph reads its arguments, and with skip-heap-mmap does not
	 * see it (its munmap it does). */
	MEASURE("mmap+munmap", 300000 * scale,
		munmap(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 4096));
	MEASURE("fork+exit", 3000 * scale, {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	});
	MEASURE("fork+execve", 1500 * scale, {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	});
	return 0;
}
