/* A pre-forking server (docs/process.md): the parent listens on
 * 127.0.0.1, forks 4 workers that each accept on the inherited socket,
 * and closes its own copy; clients then check that
 *   - 4 connections held open at once are served by 4 different workers
 *     (a worker keeps its connection until told "bye"), all children;
 *   - 40 more requests in a row are all answered, by workers only;
 *   - with one worker killed (SIGKILL) the others go on accepting;
 *   - SIGTERM ends the workers, reported by waitpid as WIFSIGNALED.
 * Bad input: accept on a socket that does not listen is EINVAL, on a
 * file ENOTSOCK. alarm() bounds every wait. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

#define WORKERS 4

static int read_line(int fd, char* buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0) return -1;
    if (buf[n] == '\n') break;
    n++;
  }
  buf[n] = 0;
  return (int)n;
}

static int write_str(int fd, const char* s) { return write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1; }

/* A worker: accept, answer "pid N*N" to "N", or "pid" to "hold" and then
 * keep the connection until "bye". */
static void worker(int lfd) {
  alarm(60);
  for (;;) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) _exit(2);
    char line[64], out[64];
    while (read_line(c, line, sizeof line) >= 0) {
      if (strcmp(line, "hold") == 0) {
        snprintf(out, sizeof out, "%d\n", (int)getpid());
      } else if (strcmp(line, "bye") == 0) {
        break;
      } else {
        long v = atol(line);
        snprintf(out, sizeof out, "%d %ld\n", (int)getpid(), v * v);
      }
      if (write_str(c, out) != 0) break;
    }
    close(c);
  }
}

static int connect_to(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || connect(s, (struct sockaddr*)&a, sizeof a) != 0) {
    CHECK(0, "connect to 127.0.0.1:%d", port);
    if (s >= 0) close(s);
    return -1;
  }
  return s;
}

static int is_worker(const pid_t* w, int n, int pid) {
  for (int i = 0; i < n; i++)
    if (w[i] == pid) return 1;
  return 0;
}

static void bad_input(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_ERR(EINVAL, accept(s, NULL, NULL));
  close(s);
  int f = open("/tmp/prefork.file", O_CREAT | O_RDWR, 0600);
  EXPECT_ERR(ENOTSOCK, accept(f, NULL, NULL));
  close(f);
  unlink("/tmp/prefork.file");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777);
  signal(SIGPIPE, SIG_IGN);
  alarm(120);
  bad_input();

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(lfd, (struct sockaddr*)&a, sizeof a) == 0, "bind 127.0.0.1:0");
  CHECK(listen(lfd, 64) == 0, "listen");
  socklen_t len = sizeof a;
  CHECK(getsockname(lfd, (struct sockaddr*)&a, &len) == 0, "getsockname");
  int port = ntohs(a.sin_port);

  pid_t w[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i] = fork();
    if (w[i] == 0) worker(lfd);
    CHECK(w[i] > 0, "fork worker %d", i);
  }
  close(lfd); /* the workers' copies keep the socket listening */

  /* 4 connections held at once: 4 different workers, all children. */
  int held[WORKERS];
  pid_t who[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    held[i] = connect_to(port);
    who[i] = -1;
    if (held[i] >= 0) write_str(held[i], "hold\n");
  }
  for (int i = 0; i < WORKERS; i++) {
    char line[64];
    if (held[i] >= 0 && read_line(held[i], line, sizeof line) > 0) who[i] = atoi(line);
    CHECK(is_worker(w, WORKERS, who[i]), "held connection %d answered by a worker (pid %d)", i, (int)who[i]);
    for (int j = 0; j < i; j++) CHECK(who[i] != who[j], "connections %d and %d served by one worker", j, i);
  }
  for (int i = 0; i < WORKERS; i++)
    if (held[i] >= 0) {
      write_str(held[i], "bye\n");
      close(held[i]);
    }

  /* 40 requests in a row, each on its own connection. */
  int answered = 0;
  for (int i = 1; i <= 40; i++) {
    int s = connect_to(port);
    if (s < 0) break;
    char req[32], line[64];
    snprintf(req, sizeof req, "%d\nbye\n", i);
    write_str(s, req);
    int pid = 0;
    long sq = 0;
    if (read_line(s, line, sizeof line) > 0 && sscanf(line, "%d %ld", &pid, &sq) == 2 &&
        is_worker(w, WORKERS, pid) && sq == (long)i * i)
      answered++;
    close(s);
  }
  CHECK(answered == 40, "40 requests answered by workers with the square: %d", answered);

  /* One worker killed: the others go on accepting. */
  kill(w[0], SIGKILL);
  int st = 0;
  CHECK(waitpid(w[0], &st, 0) == w[0] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "worker 0 killed: %#x", st);
  answered = 0;
  for (int i = 0; i < 10; i++) {
    int s = connect_to(port);
    if (s < 0) break;
    char line[64];
    int pid = 0;
    long sq = 0;
    write_str(s, "7\nbye\n");
    if (read_line(s, line, sizeof line) > 0 && sscanf(line, "%d %ld", &pid, &sq) == 2 && pid != w[0] &&
        is_worker(w, WORKERS, pid) && sq == 49)
      answered++;
    close(s);
  }
  CHECK(answered == 10, "after a worker died, 10 requests answered by the others: %d", answered);

  for (int i = 1; i < WORKERS; i++) kill(w[i], SIGTERM);
  for (int i = 1; i < WORKERS; i++) {
    st = 0;
    CHECK(waitpid(w[i], &st, 0) == w[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "worker %d: %#x", i, st);
  }
  /* Every worker gone: nothing listens any more. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = htons(port);
  EXPECT_ERR(ECONNREFUSED, connect(s, (struct sockaddr*)&a, sizeof a));
  close(s);

  if (g_failures == 0) printf("PASS prefork\n");
  return g_failures ? 1 : 0;
}
