/*
 * A small line-based service on 127.0.0.1:PORT (argv[1]) with a backend on 127.0.0.1:BACKEND
 * (argv[2]), one connection at a time:
 *   HELLO NAME        replies "hello NAME"
 *   LOOKUP [PORT]     asks the backend (or, the bug, any local port it is given) and replies
 *                     with its answer
 *   DEBUG COMMAND     the other bug: runs COMMAND with /bin/sh and replies with its status
 *   QUIT              exits
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (void *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	int backend = atoi(argv[2]), one = 1, s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (void *)&a, sizeof(a)) || listen(s, 8)) {
		perror("service");
		return 1;
	}
	for (;;) {
		char line[512] = "", reply[600];
		int c = accept(s, NULL, NULL);
		ssize_t n;

		if (c < 0)
			continue;
		n = read(c, line, sizeof(line) - 1);
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = 0;
		if (strncmp(line, "HELLO ", 6) == 0) {
			snprintf(reply, sizeof(reply), "hello %s\n", line + 6);
		} else if (strncmp(line, "LOOKUP", 6) == 0) {
			int port = line[6] == ' ' ? atoi(line + 7) : backend;
			int b = dial(port);
			char answer[256] = "";

			if (b >= 0) {
				write(b, "?\n", 2);
				n = read(b, answer, sizeof(answer) - 1);
				answer[n > 0 ? n : 0] = 0;
				close(b);
			}
			snprintf(reply, sizeof(reply), "lookup %s\n", b >= 0 ? answer : "failed");
		} else if (strncmp(line, "DEBUG ", 6) == 0) {
			int status = 0;
			pid_t pid = fork();

			if (pid == 0) {
				execl("/bin/sh", "sh", "-c", line + 6, (char *)NULL);
				_exit(127);
			}
			waitpid(pid, &status, 0);
			snprintf(reply, sizeof(reply), "debug %d\n", status);
		} else if (strcmp(line, "QUIT") == 0) {
			write(c, "bye\n", 4);
			close(c);
			return 0;
		} else {
			snprintf(reply, sizeof(reply), "what?\n");
		}
		write(c, reply, strlen(reply));
		close(c);
	}
}
