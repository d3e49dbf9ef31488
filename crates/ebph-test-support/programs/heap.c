/*
 * Maps memory five ways between two getppid() calls (the markers a test looks for), in this
 * order: anonymous read-write memory (heap growth), anonymous executable memory, anonymous
 * memory at a fixed address (over the previous mapping), a file, and an anonymous PROT_NONE
 * reservation (heap growth again).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	char *code;

	getppid();
	mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mmap(code, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	getppid();
	close(fd);
	return 0;
}
