/* Signal handlers that make calls, nested two deep: SIGUSR1's handler raises SIGUSR2. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_usr2(int sig)
{
	(void)sig;
	getppid();
	getuid();
}

static void on_usr1(int sig)
{
	(void)sig;
	getgid();
	kill(getpid(), SIGUSR2);
	getegid();
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	for (int i = 0; i < 20; i++) {
		kill(getpid(), SIGUSR1);
		getpid();
		if (i % 3 == 0)
			kill(getpid(), SIGUSR2);
		geteuid();
	}
	return 0;
}
