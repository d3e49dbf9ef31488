/* Four threads, each making its own calls; the main thread waits for them. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

static void *work(void *arg)
{
	long n = (long)arg;
	for (int i = 0; i < 40; i++) {
		int fd = open("/dev/null", O_WRONLY);
		if (n % 2)
			getppid();
		write(fd, "x", 1);
		close(fd);
		getpid();
	}
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}
