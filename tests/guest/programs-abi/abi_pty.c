/* Pseudo-terminals: /dev/ptmx and devpts (linux/pty_file.cc,
 * drivers/tty/pty.cc, docs/pty.md). posix_openpt/grantpt/unlockpt/ptsname,
 * the lock (EIO while locked), /dev/pts/N coming and going, termios and
 * the window size on both sides, the line discipline between them (echo,
 * ONLCR, editing, raw mode), packet mode, TIOCGPTPEER, poll/epoll on both
 * sides, EIO on the master once every slave is closed, the hang-up of the
 * slave when the master closes, and the slave as a controlling terminal
 * (open without O_NOCTTY by a session leader, TIOCSCTTY, /dev/tty, ^C →
 * SIGINT, SIGWINCH on a resize, SIGHUP to the session leader on hang-up,
 * SIGTTIN/SIGTTOU for a background group).
 * Bad input gets what Linux gives: EFAULT for bad pointers, ENOTTY for
 * unknown or master-only ioctls on the slave, ENOENT for a number nobody
 * holds. Every wait is bounded by alarm(). The same run passes on the
 * host. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif
#ifndef TIOCGPKT
#define TIOCGPKT 0x80045438
#endif
#ifndef TIOCGPTLCK
#define TIOCGPTLCK 0x80045439
#endif

static int open_master(void) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(m >= 0, "posix_openpt: %s", strerror(errno));
  return m;
}

/* Unlocks the pair and returns its slave's name. */
static void slave_name(int m, char* name, size_t cap) {
  CHECK(grantpt(m) == 0, "grantpt: %s", strerror(errno));
  CHECK(unlockpt(m) == 0, "unlockpt: %s", strerror(errno));
  const char* n = ptsname(m);
  CHECK(n != NULL, "ptsname: %s", strerror(errno));
  snprintf(name, cap, "%s", n ? n : "?");
}

static int open_pair(int* s, char* name, size_t cap) {
  int m = open_master();
  slave_name(m, name, cap);
  *s = open(name, O_RDWR | O_NOCTTY);
  CHECK(*s >= 0, "open %s: %s", name, strerror(errno));
  return m;
}

/* Reads what is there now (the fd is switched to non-blocking for it). */
static ssize_t read_now(int fd, char* buf, size_t cap) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  ssize_t n = read(fd, buf, cap);
  fcntl(fd, F_SETFL, fl);
  return n;
}

/* Reads until what arrived contains `want` (bounded: 2 s without new data).
 * Linux moves bytes between the two ends from a work queue, so an echo or
 * the slave's output may reach the master in pieces and a moment after the
 * call that made it. Returns the byte count (0-terminated in buf). */
static ssize_t read_until(int fd, char* buf, size_t cap, const char* want) {
  size_t got = 0;
  buf[0] = 0;
  while (got + 1 < cap && !strstr(buf, want)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) break;
    ssize_t n = read_now(fd, buf + got, cap - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = 0;
  }
  return (ssize_t)got;
}

/* FIONREAD once the count has reached `want` (bounded), for the same reason. */
static int fionread_reaching(int fd, int want) {
  int avail = -1;
  for (int i = 0; i < 200; ++i) {
    if (ioctl(fd, FIONREAD, &avail) != 0 || avail >= want) break;
    usleep(10000);
  }
  return avail;
}

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* Linux releases a pair from a work queue: /dev/pts/N may outlive the
 * close by a moment. True once stat says ENOENT (bounded wait). */
static int gone(const char* name) {
  struct stat st;
  for (int i = 0; i < 200; ++i) {
    if (stat(name, &st) == -1 && errno == ENOENT) return 1;
    usleep(10000);
  }
  return 0;
}

/* Linux hands the master's writes to the slave asynchronously (a work
 * queue): wait, bounded, until the slave has them. */
static short ready(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 2000) == 1 ? p.revents : 0;
}

static void test_open_and_lock(void) {
  int m = open_master();
  struct stat st;
  CHECK(fstat(m, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2,
        "master is c 5:2 (mode %o rdev %lx)", st.st_mode, (long)st.st_rdev);
  unsigned n = 12345;
  EXPECT_OK(ioctl(m, TIOCGPTN, &n));
  char name[64];
  snprintf(name, sizeof name, "/dev/pts/%u", n);
  CHECK(stat(name, &st) == 0, "stat %s: %s", name, strerror(errno));
  CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 + n / 256 && minor(st.st_rdev) == n % 256,
        "%s is c %u:%u (mode %o)", name, major(st.st_rdev), minor(st.st_rdev), st.st_mode);
  int lck = -1;
  EXPECT_OK(ioctl(m, TIOCGPTLCK, &lck));
  CHECK(lck == 1, "a new pair is locked (%d)", lck);
  EXPECT_ERR(EIO, open(name, O_RDWR | O_NOCTTY));
  /* Bad input. */
  EXPECT_ERR(EFAULT, ioctl(m, TIOCGPTN, BAD_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TIOCSPTLCK, BAD_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TCGETS, BAD_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TCSETS, KERNEL_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TIOCGWINSZ, BAD_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TIOCSWINSZ, BAD_PTR));
  EXPECT_ERR(EFAULT, ioctl(m, TIOCPKT, BAD_PTR));
  EXPECT_ERR(ENOTTY, ioctl(m, 0x54ff, &lck));
  EXPECT_ERR(ENOTTY, ioctl(m, 0x12345678, &lck));
  EXPECT_ERR(ENOENT, open("/dev/pts/9999", O_RDWR | O_NOCTTY));
  EXPECT_ERR(ENOENT, open("/dev/pts/abc", O_RDWR | O_NOCTTY));
  /* A fresh master with no slave yet: writable, nothing to read. */
  CHECK(revents(m, POLLIN | POLLOUT) == POLLOUT, "fresh master revents %x", revents(m, POLLIN | POLLOUT));
  char buf[16];
  EXPECT_ERR(EAGAIN, read_now(m, buf, sizeof buf));

  char pname[64];
  slave_name(m, pname, sizeof pname);
  CHECK(strcmp(pname, name) == 0, "ptsname %s, TIOCGPTN says %s", pname, name);
  EXPECT_OK(ioctl(m, TIOCGPTLCK, &lck));
  CHECK(lck == 0, "unlocked (%d)", lck);
  int s = open(name, O_RDWR | O_NOCTTY);
  CHECK(s >= 0, "open %s: %s", name, strerror(errno));
  CHECK(isatty(m) && isatty(s), "both sides are terminals");
  const char* tn = ttyname(s);
  CHECK(tn && strcmp(tn, name) == 0, "ttyname(slave) %s", tn ? tn : strerror(errno));
  tn = ttyname(m);
  CHECK(tn && strcmp(tn, "/dev/ptmx") == 0, "ttyname(master) %s", tn ? tn : strerror(errno));
  /* Master-only requests on the slave, unknown ones: ENOTTY. */
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCGPTN, &n));
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCSPTLCK, &lck));
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCGPTLCK, &lck));
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCPKT, &lck));
  EXPECT_ERR(ENOTTY, ioctl(s, 0x54ff, &lck));
  /* Not our controlling terminal: ENOTTY for its group and session. */
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCGPGRP, &lck));
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCGSID, &lck));
  EXPECT_ERR(ENOTTY, ioctl(m, TIOCGSID, &lck));
  /* /dev/pts lists it. */
  DIR* d = opendir("/dev/pts");
  int listed = 0, ptmx = 0;
  for (struct dirent* e; d && (e = readdir(d));) {
    if (strcmp(e->d_name, name + 9) == 0) listed = 1;
    if (strcmp(e->d_name, "ptmx") == 0) ptmx = 1;
  }
  if (d) closedir(d);
  CHECK(listed && ptmx, "/dev/pts lists %s (%d) and ptmx (%d)", name + 9, listed, ptmx);
  /* Two pairs get two numbers. */
  int m2 = open_master();
  unsigned n2 = n;
  EXPECT_OK(ioctl(m2, TIOCGPTN, &n2));
  CHECK(n2 != n, "second pair's number %u differs from %u", n2, n);
  close(m2);
  close(s);
  close(m);
  CHECK(gone(name), "%s gone after both sides closed", name);
}

static void test_termios_and_data(void) {
  char name[64], buf[64];
  int s, m = open_pair(&s, name, sizeof name);
  struct termios ts, tm;
  EXPECT_OK(tcgetattr(s, &ts));
  CHECK(ts.c_iflag == (ICRNL | IXON) && ts.c_oflag == (OPOST | ONLCR), "slave iflag %o oflag %o", ts.c_iflag,
        ts.c_oflag);
  CHECK((ts.c_lflag & (ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN)) == (ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN),
        "slave lflag %o", ts.c_lflag);
  CHECK(ts.c_cc[VINTR] == 3 && ts.c_cc[VERASE] == 0x7f && ts.c_cc[VEOF] == 4, "c_cc");
  EXPECT_OK(tcgetattr(m, &tm));
  CHECK(memcmp(&tm, &ts, sizeof tm) == 0, "the master answers the slave's termios");
  /* Window size: set on one side, seen on both. */
  struct winsize w = {0};
  EXPECT_OK(ioctl(s, TIOCGWINSZ, &w));
  CHECK(w.ws_row == 0 && w.ws_col == 0, "new pair 0x0 (%dx%d)", w.ws_row, w.ws_col);
  w.ws_row = 30, w.ws_col = 100;
  EXPECT_OK(ioctl(m, TIOCSWINSZ, &w));
  memset(&w, 0, sizeof w);
  EXPECT_OK(ioctl(s, TIOCGWINSZ, &w));
  CHECK(w.ws_row == 30 && w.ws_col == 100, "slave sees 30x100 (%dx%d)", w.ws_row, w.ws_col);
  w.ws_row = 50, w.ws_col = 132;
  EXPECT_OK(ioctl(s, TIOCSWINSZ, &w));
  memset(&w, 0, sizeof w);
  EXPECT_OK(ioctl(m, TIOCGWINSZ, &w));
  CHECK(w.ws_row == 50 && w.ws_col == 132, "master sees 50x132 (%dx%d)", w.ws_row, w.ws_col);

  /* Master → slave through the line discipline; echo back with ONLCR. */
  CHECK(revents(m, POLLIN | POLLOUT) == POLLOUT, "idle master revents %x", revents(m, POLLIN | POLLOUT));
  CHECK(revents(s, POLLIN | POLLOUT) == POLLOUT, "idle slave revents %x", revents(s, POLLIN | POLLOUT));
  EXPECT_OK(write(m, "hi", 2));
  CHECK(!(revents(s, POLLIN) & POLLIN), "no line yet: slave not readable");
  EXPECT_OK(write(m, "\n", 1));
  CHECK(ready(s, POLLIN) & POLLIN, "a line: slave readable");
  int avail = -1;
  EXPECT_OK(ioctl(s, FIONREAD, &avail));
  CHECK(avail == 3, "slave FIONREAD %d", avail);
  ssize_t r = read(s, buf, sizeof buf);
  CHECK(r == 3 && memcmp(buf, "hi\n", 3) == 0, "slave read %zd", r);
  r = read_until(m, buf, sizeof buf, "\r\n");
  CHECK(r == 4 && memcmp(buf, "hi\r\n", 4) == 0, "echo %zd", r);
  /* Slave → master with ONLCR; FIONREAD, poll and epoll on the master. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, got;
  EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev));
  CHECK(epoll_wait(ep, &got, 1, 0) == 0, "epoll: master idle");
  EXPECT_OK(write(s, "yo\n", 3));
  CHECK(epoll_wait(ep, &got, 1, 1000) == 1 && got.data.u32 == 7 && (got.events & EPOLLIN), "epoll: master readable");
  avail = fionread_reaching(m, 4);
  CHECK(avail == 4, "master FIONREAD %d", avail);
  r = read_until(m, buf, sizeof buf, "\r\n");
  CHECK(r == 4 && memcmp(buf, "yo\r\n", 4) == 0, "master read %zd", r);
  close(ep);
  /* epoll on the slave: a line makes it readable. */
  ep = epoll_create1(0);
  ev.events = EPOLLIN;
  ev.data.u32 = 9;
  EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
  CHECK(epoll_wait(ep, &got, 1, 0) == 0, "epoll: slave idle");
  EXPECT_OK(write(m, "ep\n", 3));
  CHECK(epoll_wait(ep, &got, 1, 2000) == 1 && got.data.u32 == 9 && (got.events & EPOLLIN), "epoll: slave readable");
  r = read(s, buf, sizeof buf);
  CHECK(r == 3, "slave read %zd", r);
  CHECK(epoll_wait(ep, &got, 1, 0) == 0, "epoll: slave idle again");
  close(ep);
  read_until(m, buf, sizeof buf, "ep\r\n"); /* the echo */
  /* Canonical editing: DEL erases, ^U kills the line. */
  EXPECT_OK(write(m, "abc\x7f\x7f" "d\n", 7));
  r = read(s, buf, sizeof buf);
  CHECK(r == 3 && memcmp(buf, "ad\n", 3) == 0, "edited line %zd '%.*s'", r, (int)(r > 0 ? r : 0), buf);
  EXPECT_OK(write(m, "gone\x15kept\n", 10));
  r = read(s, buf, sizeof buf);
  CHECK(r == 5 && memcmp(buf, "kept\n", 5) == 0, "killed line %zd", r);
  read_until(m, buf, sizeof buf, "kept\r\n"); /* the echo */
  /* Termios set through the master: raw mode on the slave. */
  struct termios raw = ts;
  cfmakeraw(&raw);
  EXPECT_OK(tcsetattr(m, TCSANOW, &raw));
  EXPECT_OK(tcgetattr(s, &ts));
  CHECK(!(ts.c_lflag & (ICANON | ECHO)) && !(ts.c_oflag & OPOST), "raw through the master");
  EXPECT_OK(write(m, "\r\x03", 2));
  r = read(s, buf, sizeof buf);
  CHECK(r == 2 && buf[0] == '\r' && buf[1] == 3, "raw input %zd", r);
  EXPECT_ERR(EAGAIN, read_now(m, buf, sizeof buf)); /* no echo */
  EXPECT_OK(write(s, "\n", 1));
  r = read(m, buf, sizeof buf);
  CHECK(r == 1 && buf[0] == '\n', "raw output %zd", r);
  EXPECT_ERR(EAGAIN, read_now(s, buf, sizeof buf));
  /* TCSAFLUSH drops pending input. */
  EXPECT_OK(write(m, "zz", 2));
  CHECK(ready(s, POLLIN) & POLLIN, "raw input arrived");
  EXPECT_OK(tcsetattr(s, TCSAFLUSH, &raw));
  EXPECT_ERR(EAGAIN, read_now(s, buf, sizeof buf));
  close(s);
  close(m);
}

static void test_packet(void) {
  char name[64], buf[64];
  int s, m = open_pair(&s, name, sizeof name);
  int on = 1, v = 0;
  EXPECT_OK(ioctl(m, TIOCPKT, &on));
  EXPECT_OK(ioctl(m, TIOCGPKT, &v));
  CHECK(v == 1, "TIOCGPKT %d", v);
  EXPECT_OK(write(s, "ab", 2));
  buf[0] = 9;
  ssize_t r = read(m, buf, 1); /* room for the 0 only: the data stays */
  CHECK(r == 1 && buf[0] == 0, "one-byte packet read %zd %d", r, buf[0]);
  r = read(m, buf, sizeof buf);
  CHECK(r == 3 && buf[0] == 0 && buf[1] == 'a' && buf[2] == 'b', "data packet %zd %d", r, buf[0]);
  struct {
    const char* what;
    int expect;
  } steps[] = {{"TCIFLUSH", TIOCPKT_FLUSHREAD},   {"TCIOFLUSH", TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE},
               {"TCOFLUSH", TIOCPKT_FLUSHWRITE},  {"IXON off", TIOCPKT_NOSTOP},
               {"IXON on", TIOCPKT_DOSTOP},       {"TCOOFF", TIOCPKT_STOP},
               {"TCOON", TIOCPKT_START}};
  struct termios t;
  tcgetattr(s, &t);
  for (int i = 0; i < 7; ++i) {
    switch (i) {
      case 0: tcflush(s, TCIFLUSH); break;
      case 1: tcflush(s, TCIOFLUSH); break;
      case 2: tcflush(s, TCOFLUSH); break;
      case 3: t.c_iflag &= ~IXON; tcsetattr(s, TCSANOW, &t); break;
      case 4: t.c_iflag |= IXON; tcsetattr(s, TCSANOW, &t); break;
      case 5: tcflow(s, TCOOFF); break;
      case 6: tcflow(s, TCOON); break;
    }
    short re = revents(m, POLLIN | POLLPRI);
    CHECK((re & (POLLIN | POLLPRI)) == (POLLIN | POLLPRI), "%s: master revents %x", steps[i].what, re);
    buf[0] = 0x7f;
    r = read_now(m, buf, sizeof buf);
    CHECK(r == 1 && buf[0] == steps[i].expect, "%s: status %zd byte %d, expected %d", steps[i].what, r, buf[0],
          steps[i].expect);
  }
  /* The master's own flush sends no status. */
  tcflush(m, TCIFLUSH);
  EXPECT_ERR(EAGAIN, read_now(m, buf, sizeof buf));
  on = 0;
  EXPECT_OK(ioctl(m, TIOCPKT, &on));
  EXPECT_OK(write(s, "c", 1));
  r = read(m, buf, sizeof buf);
  CHECK(r == 1 && buf[0] == 'c', "packet mode off %zd", r);
  close(s);
  close(m);
}

static void test_peer_and_hangup(void) {
  char name[64], buf[64];
  int s, m = open_pair(&s, name, sizeof name);
  int s2 = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  CHECK(s2 >= 0, "TIOCGPTPEER: %s", strerror(errno));
  struct stat a, b;
  CHECK(fstat(s, &a) == 0 && fstat(s2, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev &&
            a.st_rdev == b.st_rdev,
        "the peer is the same slave");
  const char* tn = ttyname(s2);
  CHECK(tn && strcmp(tn, name) == 0, "ttyname(peer) %s", tn ? tn : strerror(errno));
  /* Every slave closed: the master reads what is left, then EIO; it
   * reports POLLHUP; writes still succeed. */
  EXPECT_OK(write(s, "bye\n", 4));
  close(s);
  close(s2);
  short re = revents(m, POLLIN | POLLOUT);
  CHECK((re & POLLHUP) && (re & POLLIN), "slaves gone with data: revents %x", re);
  ssize_t r = read(m, buf, sizeof buf);
  CHECK(r == 5 && memcmp(buf, "bye\r\n", 5) == 0, "data before EIO %zd", r);
  re = revents(m, POLLIN | POLLOUT);
  CHECK(re == (POLLOUT | POLLHUP), "slaves gone: master revents %x", re);
  EXPECT_ERR(EIO, read(m, buf, sizeof buf));
  EXPECT_OK(write(m, "x", 1));
  CHECK(stat(name, &a) == 0, "%s stays while the master is open", name);
  /* Reopened: the master reads again. */
  s = open(name, O_RDWR | O_NOCTTY);
  CHECK(s >= 0, "reopen %s: %s", name, strerror(errno));
  tcflush(s, TCIFLUSH);
  EXPECT_OK(write(s, "z", 1));
  /* The echo of the "x" written while no slave was open may come first. */
  size_t have = 0;
  for (int i = 0; i < 3 && (have == 0 || buf[have - 1] != 'z'); ++i) {
    r = read(m, buf + have, sizeof buf - have);
    if (r > 0) have += (size_t)r;
  }
  CHECK(have >= 1 && buf[have - 1] == 'z' && (have == 1 || (have == 2 && buf[0] == 'x')), "after reopen %zu", have);
  /* The master closes: the name goes, the slave is hung up. */
  close(m);
  CHECK(gone(name), "%s gone with its master", name);
  re = revents(s, POLLIN | POLLOUT);
  CHECK((re & (POLLIN | POLLOUT | POLLERR | POLLHUP)) == (POLLIN | POLLOUT | POLLERR | POLLHUP), "hung-up revents %x",
        re);
  r = read(s, buf, sizeof buf);
  CHECK(r == 0, "hung-up read %zd (%s)", r, strerror(errno));
  EXPECT_ERR(EIO, write(s, "x", 1));
  struct termios t;
  EXPECT_ERR(EIO, tcgetattr(s, &t));
  struct winsize w;
  EXPECT_ERR(EIO, ioctl(s, TIOCGWINSZ, &w));
  int pg = 1;
  EXPECT_ERR(ENOTTY, ioctl(s, TIOCSPGRP, &pg));
  close(s);
}

/* A child that makes the slave its controlling terminal and reports on
 * `rep`. */
static int wait_child(pid_t pid) {
  int st = -1;
  alarm(30);
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
  alarm(0);
  return st;
}

static void test_controlling(void) {
  char name[64], buf[256];
  int s, m = open_pair(&s, name, sizeof name);
  close(s);
  int rep[2];
  CHECK(pipe(rep) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGINT, SIG_DFL); /* a shell's background job starts with it ignored */
    close(m);
    close(rep[0]);
    /* Not a session leader: no controlling terminal by open or TIOCSCTTY. */
    int s0 = open(name, O_RDWR);
    int r0 = s0 >= 0 ? ioctl(s0, TIOCSCTTY, 0) : -2;
    int e0 = errno;
    int g0 = s0 >= 0 ? ioctl(s0, TIOCGPGRP, &r0) : -2;
    int e1 = errno;
    close(s0);
    setsid();
    int s1 = open(name, O_RDWR); /* without O_NOCTTY: ours now */
    pid_t fg = tcgetpgrp(s1);
    pid_t sid = -1;
    ioctl(s1, TIOCGSID, &sid);
    int t = open("/dev/tty", O_RDWR); /* the controlling terminal */
    const char* tn = t >= 0 ? ttyname(t) : NULL;
    struct stat ts;
    int t_ok = t >= 0 && isatty(t) && tcgetpgrp(t) == getpid() && tn && strcmp(tn, "/dev/tty") == 0 &&
               fstat(t, &ts) == 0 && major(ts.st_rdev) == 5 && minor(ts.st_rdev) == 0 &&
               write(t, "via-tty\n", 8) == 8;
    char msg[200];
    snprintf(msg, sizeof msg, "%d %d %d %d %d %d %d", r0, e0, g0, e1, fg == getpid(), sid == getpid(), t_ok);
    write(rep[1], msg, strlen(msg) + 1);
    alarm(30);
    read(s1, msg, sizeof msg); /* ^C ends this */
    _exit(3);
  }
  close(rep[1]);
  alarm(30);
  ssize_t r = read(rep[0], buf, sizeof buf - 1);
  alarm(0);
  buf[r > 0 ? r : 0] = 0;
  int r0, e0, g0, e1, fg_ok, sid_ok, tty_ok;
  CHECK(sscanf(buf, "%d %d %d %d %d %d %d", &r0, &e0, &g0, &e1, &fg_ok, &sid_ok, &tty_ok) == 7, "child report '%s'",
        buf);
  CHECK(r0 == -1 && e0 == EPERM, "TIOCSCTTY by a non-leader: %d errno %d", r0, e0);
  CHECK(g0 == -1 && e1 == ENOTTY, "TIOCGPGRP without a controlling tty: %d errno %d", g0, e1);
  CHECK(fg_ok && sid_ok, "opened by a session leader: foreground %d session %d", fg_ok, sid_ok);
  CHECK(tty_ok, "/dev/tty is the slave (ttyname /dev/tty, c 5:0)");
  r = read_until(m, buf, sizeof buf, "\r\n");
  CHECK(r == 9 && memcmp(buf, "via-tty\r\n", 9) == 0, "written through /dev/tty (%zd)", r);
  int pg = 0;
  EXPECT_OK(ioctl(m, TIOCGPGRP, &pg));
  CHECK(pg == pid, "master TIOCGPGRP %d, child %d", pg, pid);
  int sid = 0;
  EXPECT_OK(ioctl(m, TIOCGSID, &sid));
  CHECK(sid == pid, "master TIOCGSID %d", sid);
  EXPECT_OK(write(m, "\x03", 1));
  int st = wait_child(pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "^C: status %x", st);
  r = read_until(m, buf, sizeof buf, "^C");
  CHECK(r >= 2 && memcmp(buf, "^C", 2) == 0, "echo of ^C (%zd)", r);
  close(rep[0]);
  close(m);
}

static void test_sigwinch(void) {
  char name[64], buf[128];
  int s, m = open_pair(&s, name, sizeof name);
  int rep[2];
  CHECK(pipe(rep) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(m);
    close(rep[0]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, NULL);
    setsid();
    int ok = ioctl(s, TIOCSCTTY, 0) == 0;
    write(rep[1], &ok, sizeof ok);
    alarm(30);
    int sig = sigwaitinfo(&set, NULL);
    struct winsize w = {0};
    ioctl(s, TIOCGWINSZ, &w);
    snprintf(buf, sizeof buf, "%d %d %d", sig, w.ws_row, w.ws_col);
    write(rep[1], buf, strlen(buf) + 1);
    _exit(0);
  }
  close(rep[1]);
  int ok = 0;
  alarm(30);
  CHECK(read(rep[0], &ok, sizeof ok) == sizeof ok && ok, "TIOCSCTTY by a session leader");
  /* Another session cannot take it. */
  int eperm = 0;
  pid_t other = fork();
  if (other == 0) {
    setsid();
    _exit(ioctl(s, TIOCSCTTY, 0) == -1 && errno == EPERM ? 0 : 1);
  }
  eperm = wait_child(other);
  CHECK(WIFEXITED(eperm) && WEXITSTATUS(eperm) == 0, "TIOCSCTTY of a taken terminal: EPERM (%x)", eperm);
  struct winsize w = {.ws_row = 40, .ws_col = 120};
  EXPECT_OK(ioctl(m, TIOCSWINSZ, &w));
  ssize_t r = read(rep[0], buf, sizeof buf - 1);
  alarm(0);
  buf[r > 0 ? r : 0] = 0;
  CHECK(strcmp(buf, "28 40 120") == 0, "SIGWINCH and the new size: '%s'", buf);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %x", st);
  close(rep[0]);
  close(s);
  close(m);
}

static void test_hangup_signal(void) {
  char name[64];
  int s, m = open_pair(&s, name, sizeof name);
  int rep[2];
  CHECK(pipe(rep) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGHUP, SIG_DFL);
    close(m);
    close(rep[0]);
    setsid();
    int ok = ioctl(s, TIOCSCTTY, 0) == 0;
    write(rep[1], &ok, sizeof ok);
    alarm(30);
    for (int i = 0; i < 100; ++i) pause();
    _exit(4);
  }
  close(rep[1]);
  close(s);
  int ok = 0;
  alarm(30);
  CHECK(read(rep[0], &ok, sizeof ok) == sizeof ok && ok, "TIOCSCTTY");
  alarm(0);
  close(m); /* hang-up: the session leader gets SIGHUP */
  int st = wait_child(pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP, "hang-up: status %x", st);
  close(rep[0]);
}

/* In a session leader's child (the slave its controlling terminal): what
 * a background group gets. Returns one code per case. */
static int background(int s, int how) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0); /* a background group of the session */
    signal(SIGTTIN, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    alarm(30);
    char c;
    struct termios t;
    switch (how) {
      case 0: _exit(read(s, &c, 1) == -1 ? 10 + errno : 1); /* SIGTTIN stops it */
      case 1:
        signal(SIGTTIN, SIG_IGN);
        _exit(read(s, &c, 1) == -1 ? 10 + errno : 1); /* EIO */
      case 2: _exit(write(s, "bg\n", 3) == 3 ? 0 : 1); /* no TOSTOP: written */
      case 3: _exit(write(s, "bg\n", 3) == 3 ? 0 : 1); /* TOSTOP: SIGTTOU stops it */
      case 4:
        tcgetattr(s, &t);
        _exit(tcsetattr(s, TCSANOW, &t) == 0 ? 0 : 10 + errno); /* SIGTTOU stops it */
      default:
        signal(SIGTTOU, SIG_IGN);
        tcgetattr(s, &t);
        _exit(tcsetattr(s, TCSANOW, &t) == 0 ? 0 : 10 + errno); /* ignored: goes on */
    }
  }
  int st = 0;
  waitpid(pid, &st, WUNTRACED);
  if (WIFSTOPPED(st)) {
    int sig = WSTOPSIG(st);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return 100 + sig;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

static void test_job_control(void) {
  char name[64], buf[128];
  int s, m = open_pair(&s, name, sizeof name);
  int rep[2];
  CHECK(pipe(rep) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(m);
    close(rep[0]);
    setsid();
    ioctl(s, TIOCSCTTY, 0);
    int r[6];
    for (int i = 0; i < 3; ++i) r[i] = background(s, i);
    struct termios t;
    tcgetattr(s, &t);
    t.c_lflag |= TOSTOP;
    tcsetattr(s, TCSANOW, &t);
    for (int i = 3; i < 6; ++i) r[i] = background(s, i);
    snprintf(buf, sizeof buf, "%d %d %d %d %d %d", r[0], r[1], r[2], r[3], r[4], r[5]);
    write(rep[1], buf, strlen(buf) + 1);
    _exit(0);
  }
  close(rep[1]);
  alarm(60);
  ssize_t r = read(rep[0], buf, sizeof buf - 1);
  alarm(0);
  buf[r > 0 ? r : 0] = 0;
  char want[64];
  snprintf(want, sizeof want, "%d %d %d %d %d %d", 100 + SIGTTIN, 10 + EIO, 0, 100 + SIGTTOU, 100 + SIGTTOU, 0);
  CHECK(strcmp(buf, want) == 0,
        "background read / read with SIGTTIN ignored / write / TOSTOP write / tcsetattr / tcsetattr with SIGTTOU "
        "ignored: '%s', expected '%s'",
        buf, want);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "leader status %x", st);
  r = read_until(m, buf, sizeof buf, "bg\r\n");
  CHECK(r == 4 && memcmp(buf, "bg\r\n", 4) == 0, "the background write without TOSTOP (%zd)", r);
  close(rep[0]);
  close(s);
  close(m);
}

/* 256 KiB each way in raw mode, through a child on the other side: the
 * queues fill, writers wait, nothing is lost or reordered. */
static void test_bulk(void) {
  enum { N = 256 * 1024 };
  char name[64];
  int s, m = open_pair(&s, name, sizeof name);
  struct termios raw;
  tcgetattr(s, &raw);
  cfmakeraw(&raw);
  EXPECT_OK(tcsetattr(s, TCSANOW, &raw));
  static unsigned char out[N], in[N];
  for (int i = 0; i < N; ++i) out[i] = (unsigned char)(i * 131 + i / 256);
  pid_t pid = fork();
  if (pid == 0) { /* the slave side: echo back what it reads, then send it all */
    close(m);
    alarm(60);
    size_t got = 0;
    while (got < N) {
      ssize_t r = read(s, in + got, N - got);
      if (r <= 0) _exit(2);
      got += (size_t)r;
    }
    size_t put = 0;
    while (put < N) {
      ssize_t w = write(s, in + put, N - put);
      if (w <= 0) _exit(3);
      put += (size_t)w;
    }
    _exit(0);
  }
  close(s);
  alarm(60);
  size_t put = 0;
  while (put < N) {
    ssize_t w = write(m, out + put, N - put);
    if (w <= 0) break;
    put += (size_t)w;
  }
  CHECK(put == N, "master wrote %zu of %d", put, N);
  size_t got = 0;
  while (got < N) {
    ssize_t r = read(m, in + got, N - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  alarm(0);
  CHECK(got == N && memcmp(in, out, N) == 0, "master read back %zu of %d bytes intact", got, N);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "slave side status %x", st);
  close(m);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_open_and_lock();
  test_termios_and_data();
  test_packet();
  test_peer_and_hangup();
  test_controlling();
  test_sigwinch();
  test_hangup_signal();
  test_job_control();
  test_bulk();
  return finish("abi_pty");
}
