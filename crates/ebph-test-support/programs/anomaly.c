/* The thesis's anomaly.c: prints one extra line when given an argument. Line-buffered, as
 * on a terminal, so that each line is its own write. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Execute this fake anomaly when we provide an argument */
	if (argc > 1)
		printf("Oops!\n");
	/* Say hello */
	printf("Hello world!\n");
	return 0;
}
