/*
 * A program to misbehave on demand. Without arguments: a few calls (and, with SPREE_EXEC set,
 * an exec of /bin/true, or of SPREE_EXEC when it is a path). "once": one unusual call first. "spree": many unusual calls first.
 * "forks": many unusual calls, then ten forks, each waited for (calls that a stop restarts).
 * "exit": it exits right after its first call (the exit itself is the unusual call). With
 * SPREE_MARKER=PATH it creates PATH right after the unusual calls. When the exec is refused,
 * it says why and goes on running.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *marker = getenv("SPREE_MARKER");

	getpid();
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		_exit(0);
	if (argc > 1 && strcmp(argv[1], "once") == 0)
		getppid();
	if (argc > 1 && (strcmp(argv[1], "spree") == 0 || strcmp(argv[1], "forks") == 0)) {
		for (int i = 0; i < 2; i++) {
			getppid();
			getuid();
			umask(022);
			getgid();
			geteuid();
			getpgrp();
			getegid();
		}
	}
	if (argc > 1 && strcmp(argv[1], "forks") == 0) {
		for (int i = 0; i < 10; i++) {
			pid_t child = fork();

			if (child == 0)
				_exit(0);
			if (child < 0 || waitpid(child, NULL, 0) != child)
				return 1;
		}
	}
	if (marker)
		close(creat(marker, 0600));
	write(1, "done\n", 5);
	if (getenv("SPREE_EXEC")) {
		const char *program = getenv("SPREE_EXEC")[0] == '/' ? getenv("SPREE_EXEC") : "/bin/true";

		execl(program, "true", (char *)NULL);
		printf("exec refused: %s\n", strerror(errno));
		printf("still running\n");
	}
	return 0;
}
