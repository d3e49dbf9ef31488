/*
 * How long holds last. "train": a loop of getpid. "measure": one unusual call (getppid),
 * then the same loop; each call is timed (the clock is read through the vDSO, without a
 * system call) and, once all are done, its time in ns is printed, one per line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CALLS 48

static long long now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	int measure = argc > 1 && strcmp(argv[1], "measure") == 0;
	long long took[CALLS + 1];
	int n = 0;

	if (measure) {
		long long t = now();

		syscall(SYS_getppid);
		took[n++] = now() - t;
	}
	for (int i = 0; i < CALLS; i++) {
		long long t = now();

		syscall(SYS_getpid);
		took[n++] = now() - t;
	}
	if (measure)
		for (int i = 0; i < n; i++)
			printf("%lld\n", took[i]);
	return 0;
}
