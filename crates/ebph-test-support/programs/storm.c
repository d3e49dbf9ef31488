/*
 * An anomaly storm on demand. "train": eight harmless calls in the same order, many times.
 * "storm N": N of the same calls in a scrambled order, nearly every one an anomaly for a
 * profile trained on the first.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const long calls[] = {
	SYS_getpid, SYS_getuid, SYS_getgid, SYS_geteuid,
	SYS_getegid, SYS_getppid, SYS_getpgrp, SYS_gettid,
};

int main(int argc, char **argv)
{
	unsigned int state = 12345;

	if (argc > 1 && strcmp(argv[1], "train") == 0) {
		for (int round = 0; round < 200; round++)
			for (int i = 0; i < 8; i++)
				syscall(calls[i]);
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "storm") == 0) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++) {
			state = state * 1103515245 + 12345;
			syscall(calls[(state >> 16) % 8]);
		}
		return 0;
	}
	return 2;
}
