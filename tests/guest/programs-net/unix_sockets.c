/* AF_UNIX sockets through the Linux ABI (linux/sys_socket.cc, net/unix,
 * docs/net.md): socketpair, path and abstract names, listen/accept,
 * shutdown, EOF/EPIPE/SIGPIPE, MSG_* flags, poll/epoll readiness, ioctls,
 * options, datagrams and seqpackets, SCM_RIGHTS and SCM_CREDENTIALS, and
 * what bad input gets. Threads stand in for processes. Passes on Linux
 * too (tests/guest/net.cmake runs it there as well). One "FAIL ..." line
 * per failed check, "PASS unix_sockets" at the end. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../include/guest_check.h"

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ /* linux/sockios.h, which musl does not ship */
#endif

static void* volatile g_bad = (void*)16; /* unmapped */
static volatile int g_sigpipes;

static void on_sigpipe(int sig) { (void)sig, ++g_sigpipes; }

static socklen_t path_addr(struct sockaddr_un* a, const char* path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path, path);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static socklen_t abstract_addr(struct sockaddr_un* a, const char* name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  memcpy(a->sun_path + 1, name, strlen(name));
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static int pair(int type, int sv[2]) {
  int r = socketpair(AF_UNIX, type, 0, sv);
  CHECK(r == 0, "socketpair type %d", type);
  return r;
}

static void test_socketpair_stream(void) {
  int sv[2];
  if (pair(SOCK_STREAM, sv)) return;
  char buf[64];
  CHECK(write(sv[0], "hello", 5) == 5, "write");
  int n = -1;
  CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 5, "FIONREAD %d", n);
  CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n > 0, "SIOCOUTQ while unread %d", n);
  CHECK(recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0, "peek");
  CHECK(read(sv[1], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "read");
  CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n == 0, "SIOCOUTQ after read %d", n);
  EXPECT_ERR(EAGAIN, recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
  /* A stream has no boundaries: two writes read as one. */
  CHECK(send(sv[1], "ab", 2, 0) == 2 && send(sv[1], "cd", 2, 0) == 2, "two sends");
  CHECK(recv(sv[0], buf, 4, MSG_WAITALL) == 4 && memcmp(buf, "abcd", 4) == 0, "one read");

  struct stat st;
  CHECK(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat S_IFSOCK mode %o", st.st_mode);
  char link[64], want[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", sv[0]);
  ssize_t ln = readlink(link, buf, sizeof buf - 1);
  if (ln > 0) buf[ln] = 0;
  snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)st.st_ino);
  CHECK(ln > 0 && strcmp(buf, want) == 0, "fd link '%s', want '%s'", ln > 0 ? buf : "", want);

  int v = -1;
  socklen_t len = sizeof v;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM && len == 4, "SO_TYPE %d", v);
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 && v == AF_UNIX, "SO_DOMAIN %d", v);
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == 0, "SO_PROTOCOL %d", v);
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 0, "SO_ACCEPTCONN %d", v);
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0, "SO_ERROR %d", v);
  struct ucred uc;
  len = sizeof uc;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof uc && uc.pid == getpid() &&
            uc.uid == geteuid() && uc.gid == getegid(),
        "SO_PEERCRED pid %d uid %u gid %u", uc.pid, uc.uid, uc.gid);
  v = 65536;
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0, "SO_SNDBUF set");
  len = sizeof v;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 && v == 131072, "SO_SNDBUF doubled: %d", v);
  struct sockaddr_un a;
  len = sizeof a;
  CHECK(getsockname(sv[0], (struct sockaddr*)&a, &len) == 0 && len == 2 && a.sun_family == AF_UNIX,
        "getsockname unnamed len %u", len);
  len = sizeof a;
  CHECK(getpeername(sv[0], (struct sockaddr*)&a, &len) == 0 && len == 2, "getpeername unnamed len %u", len);

  /* shutdown(SHUT_WR): the peer reads EOF and sees POLLRDHUP; writing is EPIPE. */
  CHECK(shutdown(sv[0], SHUT_WR) == 0, "shutdown");
  struct pollfd p = {sv[1], POLLIN | POLLRDHUP, 0};
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP) &&
            !(p.revents & POLLHUP),
        "poll after peer SHUT_WR revents %#x", p.revents);
  CHECK(read(sv[1], buf, sizeof buf) == 0, "EOF");
  g_sigpipes = 0;
  EXPECT_ERR(EPIPE, send(sv[0], "x", 1, MSG_NOSIGNAL));
  CHECK(g_sigpipes == 0, "MSG_NOSIGNAL raised SIGPIPE");
  EXPECT_ERR(EPIPE, write(sv[0], "x", 1));
  CHECK(g_sigpipes == 1, "SIGPIPE count %d", g_sigpipes);
  /* The other direction still works. */
  CHECK(write(sv[1], "back", 4) == 4 && read(sv[0], buf, 4) == 4, "reverse direction");
  close(sv[0]);
  p.events = POLLIN | POLLOUT | POLLRDHUP;
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & (POLLHUP | POLLIN | POLLRDHUP)) == (POLLHUP | POLLIN | POLLRDHUP),
        "poll after peer close %#x", p.revents);
  EXPECT_ERR(EPIPE, send(sv[1], "x", 1, MSG_NOSIGNAL));
  close(sv[1]);

  /* Closing with unread data resets the peer. */
  if (pair(SOCK_STREAM, sv)) return;
  CHECK(write(sv[1], "lost", 4) == 4, "write");
  close(sv[0]);
  EXPECT_ERR(ECONNRESET, read(sv[1], buf, sizeof buf));
  CHECK(read(sv[1], buf, sizeof buf) == 0, "then EOF");
  close(sv[1]);

  /* SOCK_NONBLOCK | SOCK_CLOEXEC */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "flags");
  CHECK((fcntl(sv[0], F_GETFL) & O_NONBLOCK) && (fcntl(sv[1], F_GETFD) & FD_CLOEXEC), "flags set");
  EXPECT_ERR(EAGAIN, read(sv[0], buf, 1));
  close(sv[0]);
  close(sv[1]);
}

/* SO_SNDBUF bounds what is in flight: a non-blocking writer stops with
 * EAGAIN, poll says not writable, and draining makes it writable. */
static void test_buffer_limit(void) {
  int sv[2];
  if (pair(SOCK_STREAM, sv)) return;
  int v = 16384;
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0, "SO_SNDBUF");
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  static char chunk[4096];
  long total = 0;
  for (int i = 0; i < 10000; ++i) {
    ssize_t w = write(sv[0], chunk, sizeof chunk);
    if (w < 0) {
      CHECK(errno == EAGAIN, "full: errno %d", errno);
      break;
    }
    total += w;
  }
  CHECK(total > 0 && total <= 65536, "bytes in flight %ld", total);
  struct pollfd p = {sv[0], POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 0, "not writable when full: %#x", p.revents);
  static char sink[1 << 16];
  long got = 0;
  while (got < total) {
    ssize_t r = read(sv[1], sink, sizeof sink);
    if (r <= 0) break;
    got += r;
  }
  CHECK(got == total, "drained %ld of %ld", got, total);
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLOUT), "writable after draining");
  close(sv[0]);
  close(sv[1]);
}

struct bulk {
  int fd;
  long bytes;
  unsigned sum;
};

static void* bulk_writer(void* arg) {
  struct bulk* b = arg;
  static unsigned char buf[10000];
  long left = b->bytes;
  unsigned k = 0;
  while (left > 0) {
    size_t n = left < (long)sizeof buf ? (size_t)left : sizeof buf;
    for (size_t i = 0; i < n; ++i) buf[i] = (unsigned char)(k++ * 7);
    ssize_t w = write(b->fd, buf, n);
    if (w != (ssize_t)n) return (void*)1;
    left -= n;
  }
  return NULL;
}

static void test_bulk_threads(void) {
  int sv[2];
  if (pair(SOCK_STREAM, sv)) return;
  struct bulk b = {sv[0], 3 << 20, 0};
  pthread_t t;
  pthread_create(&t, NULL, bulk_writer, &b);
  static unsigned char buf[65536];
  long got = 0;
  unsigned k = 0;
  int bad = 0;
  while (got < b.bytes) {
    ssize_t r = recv(sv[1], buf, sizeof buf, MSG_WAITALL);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i)
      if (buf[i] != (unsigned char)(k++ * 7)) bad = 1;
    got += r;
  }
  void* ret;
  pthread_join(t, &ret);
  CHECK(got == b.bytes && !bad && ret == NULL, "bulk: %ld of %ld bytes, corrupt %d", got, b.bytes, bad);
  close(sv[0]);
  close(sv[1]);
}

static void* accept_thread(void* arg) {
  int l = *(int*)arg;
  int c = accept(l, NULL, NULL);
  if (c < 0) return (void*)1;
  char buf[8];
  if (read(c, buf, 4) != 4 || memcmp(buf, "ping", 4) != 0) return (void*)2;
  if (write(c, "pong", 4) != 4) return (void*)3;
  close(c);
  return NULL;
}

static void test_path_names(void) {
  struct sockaddr_un a, b;
  socklen_t al = path_addr(&a, "s1"), bl;
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(l >= 0, "socket");
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(ENOENT, connect(c, (struct sockaddr*)&a, al));
  CHECK(bind(l, (struct sockaddr*)&a, al) == 0, "bind");
  struct stat st;
  CHECK(stat("s1", &st) == 0 && S_ISSOCK(st.st_mode), "the name is a socket inode, mode %o", st.st_mode);
  EXPECT_ERR(EADDRINUSE, bind(l, (struct sockaddr*)&a, al)); /* the name exists */
  bl = path_addr(&b, "s1-other");
  EXPECT_ERR(EINVAL, bind(l, (struct sockaddr*)&b, bl)); /* already bound */
  EXPECT_ERR(ENOENT, stat("s1-other", &st));
  int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(EADDRINUSE, bind(l2, (struct sockaddr*)&a, al));
  close(l2);
  EXPECT_ERR(ECONNREFUSED, connect(c, (struct sockaddr*)&a, al)); /* bound, not listening */
  int fd = open("plain", O_CREAT | O_WRONLY, 0644);
  close(fd);
  bl = path_addr(&b, "plain");
  EXPECT_ERR(ECONNREFUSED, connect(c, (struct sockaddr*)&b, bl));
  EXPECT_ERR(EINVAL, accept(l, NULL, NULL)); /* not listening */
  CHECK(listen(l, 5) == 0, "listen");
  int v = 0;
  socklen_t len = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1, "SO_ACCEPTCONN %d", v);
  fcntl(l, F_SETFL, O_NONBLOCK);
  EXPECT_ERR(EAGAIN, accept(l, NULL, NULL));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0, "epoll add");
  CHECK(epoll_wait(ep, &ev, 1, 0) == 0, "listener idle");
  CHECK(connect(c, (struct sockaddr*)&a, al) == 0, "connect");
  CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && (ev.events & EPOLLIN), "listener readable");
  EXPECT_ERR(EISCONN, connect(c, (struct sockaddr*)&a, al));
  len = sizeof b;
  memset(&b, 0, sizeof b);
  int s = accept4(l, (struct sockaddr*)&b, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECK(s >= 0 && len == 2 && b.sun_family == AF_UNIX, "accept4: peer unnamed, len %u", len);
  CHECK((fcntl(s, F_GETFL) & O_NONBLOCK) && (fcntl(s, F_GETFD) & FD_CLOEXEC), "accept4 flags");
  len = sizeof b;
  CHECK(getsockname(s, (struct sockaddr*)&b, &len) == 0 && len == al && strcmp(b.sun_path, "s1") == 0,
        "accepted end's name '%s' len %u", b.sun_path, len);
  len = sizeof b;
  CHECK(getpeername(c, (struct sockaddr*)&b, &len) == 0 && len == al && strcmp(b.sun_path, "s1") == 0,
        "client's peer '%s' len %u", b.sun_path, len);
  /* A short buffer gets part of the name and the real length. */
  len = 4;
  memset(&b, 0, sizeof b);
  CHECK(getpeername(c, (struct sockaddr*)&b, &len) == 0 && len == al && b.sun_path[0] == 's' && b.sun_path[1] == '1' && b.sun_path[2] == 0,
        "truncated name, len %u", len);
  struct ucred uc;
  len = sizeof uc;
  CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && uc.pid == getpid(), "peer cred of accepted");
  CHECK(write(c, "hi", 2) == 2, "client write");
  char buf[8];
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, 1000) == 1 && read(s, buf, 8) == 2, "server read");
  close(s);
  close(c);

  /* A blocking accept in another thread. */
  fcntl(l, F_SETFL, 0);
  pthread_t t;
  pthread_create(&t, NULL, accept_thread, &l);
  c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr*)&a, al) == 0, "connect 2");
  CHECK(write(c, "ping", 4) == 4 && read(c, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0, "ping-pong");
  void* ret;
  pthread_join(t, &ret);
  CHECK(ret == NULL, "accept thread %p", ret);
  close(c);

  /* Backlog 0 admits one waiting connection; then EAGAIN (non-blocking). */
  CHECK(listen(l, 0) == 0, "listen 0");
  int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(connect(c1, (struct sockaddr*)&a, al) == 0, "first connect");
  EXPECT_ERR(EAGAIN, connect(c2, (struct sockaddr*)&a, al));
  /* The listener goes away: the waiting connection is reset. */
  close(l);
  EXPECT_ERR(ECONNRESET, read(c1, buf, 1));
  close(c1);
  close(c2);
  close(ep);
  /* unlink removes the name. */
  CHECK(unlink("s1") == 0 && unlink("plain") == 0, "unlink");
  c = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(ENOENT, connect(c, (struct sockaddr*)&a, al));
  close(c);
}

static void test_abstract_names(void) {
  struct sockaddr_un a, b;
  char name[32];
  snprintf(name, sizeof name, "capsule-unix-%d", getpid());
  socklen_t al = abstract_addr(&a, name);
  int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK(bind(l, (struct sockaddr*)&a, al) == 0 && listen(l, 4) == 0, "bind abstract");
  int l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  EXPECT_ERR(EADDRINUSE, bind(l2, (struct sockaddr*)&a, al));
  close(l2);
  socklen_t len = sizeof b;
  CHECK(getsockname(l, (struct sockaddr*)&b, &len) == 0 && len == al && b.sun_path[0] == 0 &&
            memcmp(b.sun_path + 1, name, strlen(name)) == 0,
        "abstract name back, len %u", len);
  int st = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(ECONNREFUSED, connect(st, (struct sockaddr*)&a, al)); /* a stream to a seqpacket listener */
  close(st);
  int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK(connect(c, (struct sockaddr*)&a, al) == 0, "connect abstract");
  int s = accept(l, NULL, NULL);
  CHECK(s >= 0, "accept");
  /* Seqpacket keeps boundaries; a short buffer truncates (MSG_TRUNC). */
  CHECK(send(c, "first", 5, 0) == 5 && send(c, "second", 6, 0) == 6, "two records");
  char buf[16];
  struct iovec iov = {buf, 3};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  CHECK(recvmsg(s, &m, 0) == 3 && (m.msg_flags & MSG_TRUNC), "truncated record, flags %#x", m.msg_flags);
  CHECK(recv(s, buf, sizeof buf, 0) == 6 && memcmp(buf, "second", 6) == 0, "next record whole");
  close(c);
  CHECK(recv(s, buf, sizeof buf, 0) == 0, "seqpacket EOF");
  close(s);
  close(l);
  /* Autobind: bind with the family alone picks an abstract name. */
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(bind(d, (struct sockaddr*)&a, sizeof(sa_family_t)) == 0, "autobind");
  len = sizeof b;
  CHECK(getsockname(d, (struct sockaddr*)&b, &len) == 0 && len == 8 && b.sun_path[0] == 0, "autobind name len %u", len);
  close(d);
}

static void test_datagrams(void) {
  int sv[2];
  if (pair(SOCK_DGRAM, sv)) return;
  char buf[64];
  CHECK(send(sv[0], "one", 3, 0) == 3 && send(sv[0], "", 0, 0) == 0 && send(sv[0], "three", 5, 0) == 5, "sends");
  int n = -1;
  CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 3, "FIONREAD: next datagram %d", n);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 3, "first");
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 0, "empty datagram");
  CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 5, "MSG_TRUNC gives the real length");
  EXPECT_ERR(EAGAIN, recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
  close(sv[0]);
  close(sv[1]);

  /* Named datagram sockets: sendto a path, recvfrom says who sent. */
  struct sockaddr_un a, b, from;
  socklen_t al = path_addr(&a, "d1"), bl = path_addr(&b, "d2");
  int r = socket(AF_UNIX, SOCK_DGRAM, 0), w = socket(AF_UNIX, SOCK_DGRAM, 0), x = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(bind(r, (struct sockaddr*)&a, al) == 0 && bind(w, (struct sockaddr*)&b, bl) == 0, "bind d1 d2");
  CHECK(sendto(w, "hey", 3, 0, (struct sockaddr*)&a, al) == 3, "sendto path");
  socklen_t fl = sizeof from;
  CHECK(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl) == 3 && fl == bl &&
            strcmp(from.sun_path, "d2") == 0,
        "recvfrom d2, len %u", fl);
  CHECK(sendto(x, "anon", 4, 0, (struct sockaddr*)&a, al) == 4, "sendto from unnamed");
  fl = sizeof from;
  CHECK(recvfrom(r, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl) == 4 && fl == 0, "unnamed sender len %u", fl);
  EXPECT_ERR(ENOTCONN, send(x, "a", 1, 0));
  /* Connected to w: r takes datagrams from w only. */
  CHECK(connect(r, (struct sockaddr*)&b, bl) == 0, "connect dgram");
  EXPECT_ERR(EPERM, sendto(x, "no", 2, 0, (struct sockaddr*)&a, al));
  CHECK(sendto(w, "yes", 3, 0, (struct sockaddr*)&a, al) == 3, "from the peer");
  CHECK(recv(r, buf, sizeof buf, 0) == 3, "got it");
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  CHECK(connect(r, &unspec, sizeof unspec) == 0, "dissolve");
  CHECK(sendto(x, "now", 3, 0, (struct sockaddr*)&a, al) == 3, "anyone again");
  CHECK(recv(r, buf, sizeof buf, 0) == 3, "got it 2");
  /* An unconnected receiver's queue holds max_dgram_qlen + 1 (Linux: 11). */
  int sent = 0;
  for (int i = 0; i < 100; ++i) {
    if (sendto(x, "q", 1, MSG_DONTWAIT, (struct sockaddr*)&a, al) != 1) {
      CHECK(errno == EAGAIN, "queue full errno %d", errno);
      break;
    }
    ++sent;
  }
  CHECK(sent == 11, "datagrams queued %d", sent);
  /* The receiver goes away: a connected sender gets ECONNREFUSED. */
  CHECK(connect(w, (struct sockaddr*)&a, al) == 0, "w connects to r");
  close(r);
  EXPECT_ERR(ECONNREFUSED, send(w, "x", 1, 0));
  EXPECT_ERR(ECONNREFUSED, sendto(x, "x", 1, 0, (struct sockaddr*)&a, al));
  close(w);
  close(x);
  unlink("d1");
  unlink("d2");
  /* Oversized datagrams. */
  if (pair(SOCK_DGRAM, sv)) return;
  int v = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  static char big[65536];
  EXPECT_ERR(EMSGSIZE, send(sv[0], big, sizeof big, 0));
  close(sv[0]);
  close(sv[1]);
}

static int send_fds(int s, const int* fds, int n, int flags) {
  char data = 'F';
  struct iovec iov = {&data, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int) * 4)];
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                     .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  return (int)sendmsg(s, &m, flags);
}

/* Receives one message; returns the number of descriptors put in fds. */
static int recv_fds(int s, int* fds, int max, size_t space, int flags, int* msg_flags) {
  char data;
  struct iovec iov = {&data, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int) * 8)];
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = space};
  if (recvmsg(s, &m, flags) != 1) return -1;
  *msg_flags = m.msg_flags;
  int n = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k && n < max; ++i) memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  return n;
}

static void test_scm_rights(void) {
  int sv[2], pf[2];
  if (pair(SOCK_STREAM, sv)) return;
  CHECK(pipe(pf) == 0, "pipe");
  CHECK(send_fds(sv[0], &pf[1], 1, 0) == 1, "send a pipe's write end");
  int got[8], fl = 0;
  CHECK(recv_fds(sv[1], got, 8, CMSG_SPACE(sizeof(int) * 8), MSG_CMSG_CLOEXEC, &fl) == 1, "one fd received");
  char buf[8];
  CHECK(write(got[0], "via", 3) == 3 && read(pf[0], buf, 3) == 3 && memcmp(buf, "via", 3) == 0,
        "the received fd is the same pipe");
  CHECK(fcntl(got[0], F_GETFD) & FD_CLOEXEC, "MSG_CMSG_CLOEXEC");
  close(got[0]);
  /* Too little control space: MSG_CTRUNC, the extra descriptors closed. */
  int two[2] = {pf[0], pf[1]};
  CHECK(send_fds(sv[0], two, 2, 0) == 1, "send two");
  int n = recv_fds(sv[1], got, 8, CMSG_LEN(sizeof(int)), 0, &fl);
  CHECK(n == 1 && (fl & MSG_CTRUNC), "one fits: %d, flags %#x", n, fl);
  for (int i = 0; i < n; ++i) close(got[i]);
  /* A message dropped unread closes what it carried: the pipe's last
   * writer goes with it, so the reader sees EOF. */
  CHECK(send_fds(sv[0], &pf[1], 1, 0) == 1, "send again");
  close(pf[1]);
  close(sv[0]);
  close(sv[1]);
  CHECK(read(pf[0], buf, sizeof buf) == 0, "EOF: the in-flight writer was closed");
  close(pf[0]);
  /* Bad descriptors in SCM_RIGHTS. */
  if (pair(SOCK_DGRAM, sv)) return;
  int badfd = 999;
  EXPECT_ERR(EBADF, send_fds(sv[0], &badfd, 1, 0));
  close(sv[0]);
  close(sv[1]);
}

static void test_scm_credentials(void) {
  int sv[2];
  if (pair(SOCK_DGRAM, sv)) return;
  int on = 1;
  CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
  CHECK(send(sv[0], "c", 1, 0) == 1, "send");
  char data;
  struct iovec iov = {&data, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(struct ucred))];
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  CHECK(recvmsg(sv[1], &m, 0) == 1, "recvmsg");
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  struct ucred uc = {0};
  if (c && c->cmsg_type == SCM_CREDENTIALS) memcpy(&uc, CMSG_DATA(c), sizeof uc);
  CHECK(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && uc.pid == getpid() &&
            uc.uid == geteuid(),
        "credentials pid %d uid %u", uc.pid, uc.uid);
  /* Sending one's own credentials explicitly. */
  struct msghdr s = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  c = CMSG_FIRSTHDR(&s);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred me = {getpid(), geteuid(), getegid()};
  memcpy(CMSG_DATA(c), &me, sizeof me);
  CHECK(sendmsg(sv[0], &s, 0) == 1, "sendmsg SCM_CREDENTIALS");
  CHECK(recv(sv[1], &data, 1, 0) == 1, "received");
  close(sv[0]);
  close(sv[1]);
}

static void test_mmsg(void) {
  int sv[2];
  if (pair(SOCK_DGRAM, sv)) return;
  char a[] = "aa", b[] = "bbb";
  struct iovec iv[2] = {{a, 2}, {b, 3}};
  struct mmsghdr out[2] = {{.msg_hdr = {.msg_iov = &iv[0], .msg_iovlen = 1}},
                           {.msg_hdr = {.msg_iov = &iv[1], .msg_iovlen = 1}}};
  CHECK(sendmmsg(sv[0], out, 2, 0) == 2 && out[0].msg_len == 2 && out[1].msg_len == 3, "sendmmsg");
  char r1[8], r2[8], r3[8];
  struct iovec rv[3] = {{r1, 8}, {r2, 8}, {r3, 8}};
  struct mmsghdr in[3] = {{.msg_hdr = {.msg_iov = &rv[0], .msg_iovlen = 1}},
                          {.msg_hdr = {.msg_iov = &rv[1], .msg_iovlen = 1}},
                          {.msg_hdr = {.msg_iov = &rv[2], .msg_iovlen = 1}}};
  CHECK(recvmmsg(sv[1], in, 3, MSG_WAITFORONE, NULL) == 2 && in[0].msg_len == 2 && in[1].msg_len == 3,
        "recvmmsg WAITFORONE");
  close(sv[0]);
  close(sv[1]);
}

static void test_epoll(void) {
  int sv[2];
  if (pair(SOCK_STREAM, sv)) return;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = sv[1]};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0, "add");
  CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && ev.events == EPOLLOUT, "writable only: %#x", ev.events);
  CHECK(epoll_wait(ep, &ev, 1, 0) == 0, "edge-triggered: once");
  CHECK(write(sv[0], "x", 1) == 1, "write");
  CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && (ev.events & EPOLLIN), "readable: %#x", ev.events);
  shutdown(sv[0], SHUT_WR);
  CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && (ev.events & EPOLLRDHUP), "EPOLLRDHUP: %#x", ev.events);
  close(ep);
  close(sv[0]);
  close(sv[1]);
}

static void test_bad_input(void) {
  EXPECT_ERR(EAFNOSUPPORT, socket(255, SOCK_STREAM, 0));
  EXPECT_ERR(EPROTONOSUPPORT, socket(AF_UNIX, SOCK_STREAM, 5));
  EXPECT_ERR(ESOCKTNOSUPPORT, socket(AF_UNIX, SOCK_RDM, 0));
  EXPECT_ERR(EINVAL, socket(AF_UNIX, 11, 0));
  EXPECT_ERR(EINVAL, socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
  int sv[2];
  EXPECT_ERR(EFAULT, socketpair(AF_UNIX, SOCK_STREAM, 0, (int*)g_bad));
  int pf[2];
  pipe(pf);
  struct sockaddr_un a;
  socklen_t al = path_addr(&a, "bad1");
  EXPECT_ERR(ENOTSOCK, bind(pf[0], (struct sockaddr*)&a, al));
  EXPECT_ERR(ENOTSOCK, listen(pf[0], 1));
  EXPECT_ERR(ENOTSOCK, getsockopt(pf[0], SOL_SOCKET, SO_TYPE, sv, (socklen_t[]){4}));
  EXPECT_ERR(EBADF, connect(-1, (struct sockaddr*)&a, al));
  close(pf[0]);
  close(pf[1]);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, 1));
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, sizeof a + 1));
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, 200));
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, -1));
  EXPECT_ERR(EFAULT, bind(s, (struct sockaddr*)g_bad, al));
  EXPECT_ERR(EFAULT, connect(s, (struct sockaddr*)g_bad, al));
  a.sun_family = AF_INET;
  EXPECT_ERR(EINVAL, bind(s, (struct sockaddr*)&a, al));
  EXPECT_ERR(EINVAL, connect(s, (struct sockaddr*)&a, al));
  a.sun_family = AF_UNIX;
  EXPECT_ERR(EINVAL, connect(s, (struct sockaddr*)&a, 2));
  /* A sun_path of all 108 bytes with no NUL is a 108-byte name. */
  struct sockaddr_un full;
  full.sun_family = AF_UNIX;
  memset(full.sun_path, 'z', sizeof full.sun_path);
  CHECK(bind(s, (struct sockaddr*)&full, sizeof full) == 0, "bind with an unterminated 108-byte path");
  char name[109];
  memset(name, 'z', 108);
  name[108] = 0;
  struct stat st;
  CHECK(stat(name, &st) == 0 && S_ISSOCK(st.st_mode), "its inode");
  unlink(name);
  close(s);

  s = socket(AF_UNIX, SOCK_STREAM, 0);
  char buf[8];
  EXPECT_ERR(ENOTCONN, send(s, "x", 1, 0));
  EXPECT_ERR(EINVAL, recv(s, buf, 1, 0));
  EXPECT_ERR(EINVAL, accept(s, NULL, NULL));
  EXPECT_ERR(EINVAL, listen(s, 1)); /* unbound */
  EXPECT_ERR(ENOTCONN, getpeername(s, (struct sockaddr*)&a, (socklen_t[]){sizeof a}));
  EXPECT_ERR(EFAULT, getsockname(s, (struct sockaddr*)&a, (socklen_t*)g_bad));
  EXPECT_ERR(EINVAL, getsockname(s, (struct sockaddr*)&a, (socklen_t[]){-1}));
  EXPECT_ERR(EFAULT, getsockname(s, (struct sockaddr*)g_bad, (socklen_t[]){sizeof a}));
  int v = 1;
  EXPECT_ERR(EINVAL, setsockopt(s, SOL_SOCKET, SO_PASSCRED, &v, 2));
  EXPECT_ERR(EFAULT, setsockopt(s, SOL_SOCKET, SO_PASSCRED, g_bad, 4));
  EXPECT_ERR(ENOPROTOOPT, setsockopt(s, SOL_SOCKET, 9999, &v, 4));
  EXPECT_ERR(EOPNOTSUPP, getsockopt(s, 6 /* IPPROTO_TCP */, 1, &v, (socklen_t[]){4}));
  EXPECT_ERR(EFAULT, getsockopt(s, SOL_SOCKET, SO_TYPE, &v, (socklen_t*)g_bad));
  EXPECT_ERR(EINVAL, shutdown(s, 7));
  close(s);
  s = socket(AF_UNIX, SOCK_DGRAM, 0);
  EXPECT_ERR(EOPNOTSUPP, listen(s, 1));
  EXPECT_ERR(EOPNOTSUPP, accept(s, NULL, NULL));
  close(s);
  if (pair(SOCK_STREAM, sv)) return;
  EXPECT_ERR(EFAULT, send(sv[0], g_bad, 4, 0));
  CHECK(send(sv[0], "abcd", 4, 0) == 4, "send");
  EXPECT_ERR(EFAULT, recv(sv[1], g_bad, 4, 0));
  CHECK(recv(sv[1], buf, 4, 0) == 4 && memcmp(buf, "abcd", 4) == 0, "data kept after EFAULT");
  EXPECT_ERR(EISCONN, sendto(sv[0], "x", 1, 0, (struct sockaddr*)&a, al));
  /* Raw calls: musl's wrappers copy the msghdr themselves. */
  EXPECT_ERR(EFAULT, syscall(SYS_sendmsg, sv[0], g_bad, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_recvmsg, sv[1], g_bad, MSG_DONTWAIT));
  struct iovec iov = {buf, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = 8};
  CHECK(sendmsg(sv[0], &m, 0) == 1, "short control buffer: ignored (no header fits)");
  char cbuf[CMSG_SPACE(4)];
  struct cmsghdr* c = (struct cmsghdr*)cbuf;
  c->cmsg_len = 100; /* longer than the buffer */
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  m.msg_control = cbuf;
  m.msg_controllen = sizeof cbuf;
  EXPECT_ERR(EINVAL, sendmsg(sv[0], &m, 0));
  c->cmsg_len = CMSG_LEN(4);
  c->cmsg_type = 77;
  EXPECT_ERR(EINVAL, sendmsg(sv[0], &m, 0));
  m.msg_control = g_bad;
  EXPECT_ERR(EFAULT, syscall(SYS_sendmsg, sv[0], &m, 0));
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  signal(SIGPIPE, on_sigpipe);
  /* A scratch directory for path names (/tmp on the host). */
  mkdir("/tmp", 01777);
  char dir[] = "/tmp/capsule-unix-XXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0) {
    printf("FAIL: no scratch directory (errno %d)\n", errno);
    return 1;
  }
  test_socketpair_stream();
  test_buffer_limit();
  test_bulk_threads();
  test_path_names();
  test_abstract_names();
  test_datagrams();
  test_scm_rights();
  test_scm_credentials();
  test_mmsg();
  test_epoll();
  test_bad_input();
  chdir("/");
  rmdir(dir);
  if (g_failures) {
    printf("%d checks failed in unix_sockets\n", g_failures);
    return 1;
  }
  printf("PASS unix_sockets\n");
  return 0;
}
