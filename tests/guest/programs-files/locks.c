/* Advisory locks: OFD locks between two open file descriptions (EAGAIN),
 * F_OFD_SETLKW blocking until another thread unlocks, F_GETLK/F_OFD_GETLK
 * reporting the holder, POSIX locks against OFD locks, locks dropped on
 * close, flock(2) SH/EX/NB/UN, and the errors. */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/file.h>
#include <sys/syscall.h>

static int set_lock(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len, .l_pid = 0};
  return fcntl(fd, cmd, &fl);
}

static void test_ofd_conflicts(void) {
  int a = open("ofd", O_CREAT | O_RDWR, 0644);
  int b = open("ofd", O_RDWR);
  CHECK(a >= 0 && b >= 0, "open twice");
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 0, 100) == 0, "a write-locks 0..99");
  /* Another description: conflict, EAGAIN (fcntl(2)). */
  EXPECT_ERR(EAGAIN, set_lock(b, F_OFD_SETLK, F_RDLCK, 50, 10));
  EXPECT_ERR(EAGAIN, set_lock(b, F_OFD_SETLK, F_WRLCK, 99, 0));
  CHECK(set_lock(b, F_OFD_SETLK, F_WRLCK, 100, 10) == 0, "next to it is free");
  /* GETLK reports the holder's range and type; l_pid is -1 for OFD locks. */
  struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 1};
  CHECK(fcntl(b, F_OFD_GETLK, &q) == 0, "getlk");
  CHECK(q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 100 && q.l_pid == -1, "holder %d %ld+%ld pid %d",
        q.l_type, (long)q.l_start, (long)q.l_len, q.l_pid);
  /* The same description may change its own lock: downgrade to read. */
  CHECK(set_lock(a, F_OFD_SETLK, F_RDLCK, 0, 100) == 0, "downgrade");
  CHECK(set_lock(b, F_OFD_SETLK, F_RDLCK, 0, 50) == 0, "readers share");
  struct flock q2 = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  CHECK(fcntl(a, F_OFD_GETLK, &q2) == 0 && q2.l_type == F_WRLCK && q2.l_start == 100 && q2.l_len == 10,
        "a sees b's write lock at 100: %d %ld+%ld", q2.l_type, (long)q2.l_start, (long)q2.l_len);
  /* Unlock; a dup of b shares its description and its locks. */
  int b2 = dup(b);
  CHECK(set_lock(b2, F_OFD_SETLK, F_UNLCK, 0, 0) == 0, "unlock through the dup");
  /* (GETLK filled l_pid with -1: OFD requests need it 0 again.) */
  struct flock q4 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  CHECK(fcntl(a, F_OFD_GETLK, &q4) == 0 && q4.l_type == F_UNLCK, "all free for a: %d", q4.l_type);
  /* POSIX locks conflict with OFD locks even in one process. */
  CHECK(set_lock(b, F_OFD_SETLK, F_WRLCK, 200, 10) == 0, "ofd lock");
  EXPECT_ERR(EAGAIN, set_lock(a, F_SETLK, F_WRLCK, 205, 1));
  struct flock q3 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 1};
  CHECK(fcntl(a, F_GETLK, &q3) == 0 && q3.l_type == F_WRLCK && q3.l_pid == -1, "posix getlk sees ofd lock");
  /* Closing the last descriptor of a description drops its OFD locks. */
  close(b);
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 200, 10) != 0, "b2 still holds the description");
  close(b2);
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 200, 10) == 0, "released at the last close");
  /* A POSIX lock is the process's: another description does not conflict
   * with it for this process, and an OFD lock from another description
   * does. */
  int c = open("ofd", O_RDWR);
  CHECK(set_lock(c, F_SETLK, F_WRLCK, 300, 10) == 0, "posix lock");
  CHECK(set_lock(a, F_SETLK, F_WRLCK, 305, 1) == 0, "same process, other fd: no conflict");
  EXPECT_ERR(EAGAIN, set_lock(a, F_OFD_SETLK, F_WRLCK, 300, 1));
  /* Closing any descriptor of the file drops the process's POSIX locks. */
  close(c);
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 300, 10) == 0, "posix locks gone at close");
  /* dup2 over a descriptor and close_range close it: POSIX locks go. */
  int d = open("ofd", O_RDWR), e = open("ofd", O_RDWR);
  CHECK(set_lock(d, F_SETLK, F_WRLCK, 400, 10) == 0, "posix lock via d");
  EXPECT_ERR(EAGAIN, set_lock(a, F_OFD_SETLK, F_WRLCK, 400, 1));
  CHECK(dup2(e, d) == d, "dup2 over d");
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 400, 10) == 0, "dropped by dup2");
  CHECK(set_lock(a, F_OFD_SETLK, F_UNLCK, 400, 10) == 0, "unlock");
  CHECK(set_lock(e, F_SETLK, F_WRLCK, 500, 10) == 0, "posix lock via e");
  CHECK(syscall(SYS_close_range, d, d, 0) == 0, "close_range d");
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 500, 10) == 0, "dropped by close_range");
  close(e);
  /* Errors: OFD with l_pid != 0, bad type, bad whence, a read lock on a
   * write-only descriptor (EBADF), a negative start, a bad pointer. */
  struct flock bad = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
  EXPECT_ERR(EINVAL, fcntl(a, F_OFD_SETLK, &bad));
  EXPECT_ERR(EINVAL, set_lock(a, F_OFD_SETLK, 7, 0, 1));
  struct flock w = {.l_type = F_RDLCK, .l_whence = 9, .l_start = 0, .l_len = 1};
  EXPECT_ERR(EINVAL, fcntl(a, F_OFD_SETLK, &w));
  EXPECT_ERR(EINVAL, set_lock(a, F_OFD_SETLK, F_RDLCK, -5, 1));
  int wo = open("ofd", O_WRONLY);
  EXPECT_ERR(EBADF, set_lock(wo, F_OFD_SETLK, F_RDLCK, 0, 1));
  close(wo);
  EXPECT_ERR(EFAULT, fcntl(a, F_OFD_SETLK, (struct flock*)g_bad));
  EXPECT_ERR(EFAULT, fcntl(a, F_GETLK, (struct flock*)g_bad));
  close(a);
}

/* F_OFD_SETLKW: a second thread blocks on the lock until the holder
 * unlocks. */
static int g_waiter_fd;
static volatile int g_waiter_done;
static void* waiter(void* arg) {
  (void)arg;
  int r = set_lock(g_waiter_fd, F_OFD_SETLKW, F_WRLCK, 0, 10);
  g_waiter_done = r == 0 ? 1 : -1;
  return NULL;
}

static void test_setlkw(void) {
  int a = open("wait", O_CREAT | O_RDWR, 0644);
  g_waiter_fd = open("wait", O_RDWR);
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 5, 1) == 0, "hold");
  pthread_t t;
  pthread_create(&t, NULL, waiter, NULL);
  usleep(100000);
  CHECK(g_waiter_done == 0, "the waiter is blocked (%d)", g_waiter_done);
  CHECK(set_lock(a, F_OFD_SETLK, F_UNLCK, 0, 0) == 0, "unlock");
  pthread_join(t, NULL);
  CHECK(g_waiter_done == 1, "the waiter got the lock (%d)", g_waiter_done);
  EXPECT_ERR(EAGAIN, set_lock(a, F_OFD_SETLK, F_RDLCK, 9, 1));
  close(g_waiter_fd);
  CHECK(set_lock(a, F_OFD_SETLK, F_RDLCK, 9, 1) == 0, "free after the waiter's close");
  close(a);
}

static volatile int g_flock_done;
static int g_flock_fd;
static void* flock_waiter(void* arg) {
  (void)arg;
  g_flock_done = flock(g_flock_fd, LOCK_EX) == 0 ? 1 : -1;
  return NULL;
}

static void test_flock(void) {
  int a = open("fl", O_CREAT | O_RDONLY, 0644); /* flock needs no write access */
  int b = open("fl", O_RDONLY);
  CHECK(flock(a, LOCK_SH) == 0 && flock(b, LOCK_SH) == 0, "two shared");
  EXPECT_ERR(EWOULDBLOCK, flock(b, LOCK_EX | LOCK_NB));
  CHECK(flock(a, LOCK_UN) == 0, "unlock a");
  CHECK(flock(b, LOCK_EX | LOCK_NB) == 0, "upgrade b once alone");
  EXPECT_ERR(EWOULDBLOCK, flock(a, LOCK_SH | LOCK_NB));
  /* flock and fcntl locks are independent. */
  CHECK(set_lock(a, F_OFD_SETLK, F_RDLCK, 0, 0) == 0, "fcntl lock beside flock");
  /* A blocking LOCK_EX waits for the holder. */
  g_flock_fd = a;
  pthread_t t;
  pthread_create(&t, NULL, flock_waiter, NULL);
  usleep(100000);
  CHECK(g_flock_done == 0, "blocked (%d)", g_flock_done);
  close(b); /* the last close releases b's flock */
  pthread_join(t, NULL);
  CHECK(g_flock_done == 1, "got it (%d)", g_flock_done);
  EXPECT_ERR(EINVAL, flock(a, 0));
  EXPECT_ERR(EINVAL, flock(a, LOCK_SH | LOCK_EX));
  EXPECT_ERR(EBADF, flock(-1, LOCK_SH));
  close(a);
}

/* A blocked F_OFD_SETLKW / flock is interruptible: a signal whose
 * handler has no SA_RESTART ends it with EINTR. */
static void on_alarm(int sig) { (void)sig; }

static void test_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  int a = open("intr", O_CREAT | O_RDWR, 0644);
  int b = open("intr", O_RDWR);
  CHECK(set_lock(a, F_OFD_SETLK, F_WRLCK, 0, 0) == 0 && flock(a, LOCK_EX) == 0, "hold both");
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(EINTR, set_lock(b, F_OFD_SETLKW, F_WRLCK, 0, 1));
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(EINTR, flock(b, LOCK_SH));
  close(a);
  CHECK(set_lock(b, F_OFD_SETLKW, F_WRLCK, 0, 1) == 0 && flock(b, LOCK_SH) == 0, "free after close");
  close(b);
}

int main(void) {
  enter_temp_dir();
  test_ofd_conflicts();
  test_setlkw();
  test_flock();
  test_interrupt();
  return finish("locks");
}
