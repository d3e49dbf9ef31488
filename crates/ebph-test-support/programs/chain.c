/* A fork+exec chain: chain N forks a child that execs `chain N-1` (and, at the end, the
 * program named by CHAIN_LAST); each parent waits for its child. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	char next[16];
	pid_t child;

	getpid();
	child = fork();
	if (child == 0) {
		if (n > 0) {
			snprintf(next, sizeof(next), "%d", n - 1);
			execl(argv[0], argv[0], next, (char *)NULL);
		} else {
			execl(getenv("CHAIN_LAST"), "last", (char *)NULL);
		}
		_exit(127);
	}
	waitpid(child, NULL, 0);
	return 0;
}
