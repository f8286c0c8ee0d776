/* inotify(7): inotify_init/inotify_init1/inotify_add_watch/inotify_rm_watch,
 * every event and flag, the order and coalescing of events in the queue,
 * the queue limit (IN_Q_OVERFLOW), reading (record layout, EINVAL for a
 * small buffer, FIONREAD), readiness in poll/select/epoll, a reader thread
 * woken by another thread's change, and bad input. The expected sequences
 * are what Linux 6.x queues (checked on the host: this program also runs
 * natively). Works in a fresh directory under /tmp. */
/* abi-test: TIMEOUT 300 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>

static char g_dir[64];

static const char* path(const char* rel) {
  static char bufs[4][256];
  static int i;
  char* b = bufs[i++ & 3];
  snprintf(b, 256, "%s/%s", g_dir, rel);
  return b;
}

/* Names for watch descriptors in the expected strings ("d CREATE f"). */
static struct {
  int wd;
  const char* name;
} g_names[32];
static int g_nnames;
static void name_wd(int wd, const char* n) {
  g_names[g_nnames].wd = wd;
  g_names[g_nnames++].name = n;
}
static const char* wd_name(int wd) {
  static char b[16];
  for (int i = g_nnames - 1; i >= 0; --i)
    if (g_names[i].wd == wd) return g_names[i].name;
  snprintf(b, sizeof b, "%d", wd);
  return b;
}

static const struct {
  uint32_t bit;
  const char* name;
} g_bits[] = {
    {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},       {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},   {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},         {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};

static uint32_t g_cookies[64];
static int g_ncookies;

/* Reads everything queued (fd must be nonblocking) and renders it as
 * "wd MASK name;..." — cookies go to g_cookies. Returns the text. */
static const char* drain(int fd) {
  static char out[4096];
  char buf[8192] __attribute__((aligned(8)));
  size_t o = 0;
  out[0] = 0;
  g_ncookies = 0;
  for (int round = 0; round < 16; ++round) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t p = 0; p < n;) {
      struct inotify_event* e = (struct inotify_event*)(buf + p);
      if (o) o += snprintf(out + o, sizeof out - o, ";");
      o += snprintf(out + o, sizeof out - o, "%s ", wd_name(e->wd));
      int first = 1;
      for (size_t i = 0; i < sizeof g_bits / sizeof g_bits[0]; ++i)
        if (e->mask & g_bits[i].bit) {
          o += snprintf(out + o, sizeof out - o, "%s%s", first ? "" : "|", g_bits[i].name);
          first = 0;
        }
      if (e->len) o += snprintf(out + o, sizeof out - o, " %s", e->name);
      if (e->mask & (IN_MOVED_FROM | IN_MOVED_TO)) g_cookies[g_ncookies++ & 63] = e->cookie;
      else CHECK(e->cookie == 0, "cookie %u on a non-move event", e->cookie);
      p += sizeof *e + e->len;
      if (o > sizeof out - 300) break;
    }
  }
  return out;
}

#define EXPECT_EVENTS(fd, want)                                                  \
  do {                                                                           \
    const char* got_ = drain(fd);                                                \
    CHECK(strcmp(got_, want) == 0, "events\n   got: %s\n  want: %s", got_, want); \
  } while (0)

static void touch(const char* rel) {
  int fd = open(path(rel), O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0, "create %s: %s", rel, strerror(errno));
  close(fd);
}

static void write_file(const char* rel, const char* s) {
  int fd = open(path(rel), O_WRONLY | O_APPEND);
  CHECK(fd >= 0, "open %s", rel);
  CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write %s", rel);
  close(fd);
}

/* --- creation and flags of the instance -------------------------------- */

static void test_init(void) {
  int fd = EXPECT_OK(inotify_init());
  CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC), "inotify_init: no cloexec");
  CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "inotify_init: blocking");
  CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY, "read-only file: %x", fcntl(fd, F_GETFL));
  close(fd);
  fd = EXPECT_OK(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "IN_CLOEXEC");
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "IN_NONBLOCK");
  char b[64];
  EXPECT_ERR(EAGAIN, read(fd, b, sizeof b));
  int n = -1;
  CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 0, "FIONREAD empty: %d", n);
  EXPECT_ERR(EBADF, write(fd, b, 8)); /* opened read-only */
  close(fd);
  EXPECT_ERR(EINVAL, inotify_init1(1));
  EXPECT_ERR(EINVAL, inotify_init1(IN_NONBLOCK | 0x100));
  /* /proc/sys/fs/inotify: the limits, readable. */
  const char* names[] = {"max_queued_events", "max_user_watches", "max_user_instances"};
  for (int i = 0; i < 3; ++i) {
    char p[80];
    snprintf(p, sizeof p, "/proc/sys/fs/inotify/%s", names[i]);
    int pf = open(p, O_RDONLY);
    CHECK(pf >= 0, "open %s: %s", p, strerror(errno));
    if (pf < 0) continue;
    char t[32] = {0};
    ssize_t r = read(pf, t, sizeof t - 1);
    CHECK(r > 1 && t[r - 1] == '\n' && atol(t) > 0, "%s: '%s'", p, t);
    close(pf);
  }
}

static long proc_value(const char* name) {
  char p[80], t[32] = {0};
  snprintf(p, sizeof p, "/proc/sys/fs/inotify/%s", name);
  int pf = open(p, O_RDONLY);
  if (pf < 0) return -1;
  ssize_t r = read(pf, t, sizeof t - 1);
  close(pf);
  return r > 0 ? atol(t) : -1;
}

/* --- bad input ------------------------------------------------------------ */

static void test_errors(void) {
  int in = inotify_init1(IN_NONBLOCK);
  touch("efile");
  int pfd[2];
  pipe(pfd);
  /* The mask is checked before the descriptor: no known bit, or an unknown one. */
  EXPECT_ERR(EINVAL, inotify_add_watch(-1, g_dir, 0));
  EXPECT_ERR(EINVAL, inotify_add_watch(-1, g_dir, IN_CREATE | 0x10000));
  EXPECT_ERR(EINVAL, inotify_add_watch(in, g_dir, IN_CREATE | 0x10000));
  EXPECT_ERR(EBADF, inotify_add_watch(-1, g_dir, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
  EXPECT_ERR(EBADF, inotify_add_watch(-1, g_dir, IN_MODIFY));
  EXPECT_ERR(EBADF, inotify_add_watch(999, g_dir, IN_MODIFY));
  EXPECT_ERR(EINVAL, inotify_add_watch(pfd[0], g_dir, IN_MODIFY));
  EXPECT_ERR(EINVAL, inotify_add_watch(in, g_dir, 0));
  EXPECT_ERR(EINVAL, inotify_add_watch(in, g_dir, IN_ALL_EVENTS | IN_MASK_ADD | IN_MASK_CREATE));
  EXPECT_ERR(ENOENT, inotify_add_watch(in, path("nothing"), IN_MODIFY));
  EXPECT_ERR(ENOENT, inotify_add_watch(in, "", IN_MODIFY));
  EXPECT_ERR(ENOTDIR, inotify_add_watch(in, path("efile/x"), IN_MODIFY));
  EXPECT_ERR(ENOTDIR, inotify_add_watch(in, path("efile"), IN_MODIFY | IN_ONLYDIR));
  EXPECT_ERR(EFAULT, syscall(SYS_inotify_add_watch, in, BAD_PTR, IN_MODIFY));
  EXPECT_ERR(EFAULT, syscall(SYS_inotify_add_watch, in, KERNEL_PTR, IN_MODIFY));
  int wd = EXPECT_OK(inotify_add_watch(in, path("efile"), IN_MODIFY));
  CHECK(wd >= 1, "first wd %d", wd);
  EXPECT_ERR(EEXIST, inotify_add_watch(in, path("efile"), IN_ATTRIB | IN_MASK_CREATE));
  EXPECT_ERR(EBADF, inotify_rm_watch(-1, wd));
  EXPECT_ERR(EBADF, inotify_rm_watch(999, wd));
  EXPECT_ERR(EINVAL, inotify_rm_watch(pfd[0], wd));
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, wd + 100));
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, -1));
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, 0));
  EXPECT_OK(inotify_rm_watch(in, wd));
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, wd));
  /* pread is ESPIPE; lseek a no-op returning 0 (noop_llseek). */
  name_wd(wd, "e");
  EXPECT_EVENTS(in, "e IGNORED");
  char b[64];
  EXPECT_ERR(ESPIPE, pread(in, b, sizeof b, 0));
  CHECK(lseek(in, 0, SEEK_SET) == 0, "lseek");
  int w2 = EXPECT_OK(inotify_add_watch(in, path("efile"), IN_MODIFY));
  CHECK(w2 > wd, "watch descriptors are not reused at once: %d after %d", w2, wd);
  write_file("efile", "x");
  EXPECT_ERR(EFAULT, syscall(SYS_read, in, BAD_PTR, 64));
  inotify_rm_watch(in, w2);
  drain(in);
  close(pfd[0]);
  close(pfd[1]);
  close(in);
  unlink(path("efile"));
}

/* --- events on a watched directory's children ------------------------------ */

static void test_directory(void) {
  int in = inotify_init1(IN_NONBLOCK);
  mkdir(path("d"), 0755);
  int d = EXPECT_OK(inotify_add_watch(in, path("d"), IN_ALL_EVENTS));
  name_wd(d, "d");
  int fd = EXPECT_OK(open(path("d/f"), O_CREAT | O_WRONLY, 0644));
  EXPECT_EVENTS(in, "d CREATE f;d OPEN f");
  CHECK(write(fd, "hello", 5) == 5, "write");
  CHECK(write(fd, "hello", 5) == 5, "write");
  /* Two identical events in a row are one (coalescing). */
  EXPECT_EVENTS(in, "d MODIFY f");
  CHECK(write(fd, "", 0) == 0, "empty write");
  EXPECT_EVENTS(in, "");
  close(fd);
  EXPECT_EVENTS(in, "d CLOSE_WRITE f");
  fd = open(path("d/f"), O_RDONLY);
  char b[16];
  CHECK(read(fd, b, sizeof b) == 10, "read");
  CHECK(read(fd, b, sizeof b) == 0, "read at EOF");
  CHECK(pread(fd, b, 4, 1) == 4, "pread");
  close(fd);
  EXPECT_EVENTS(in, "d OPEN f;d ACCESS f;d CLOSE_NOWRITE f");
  fd = open(path("d/f"), O_RDWR);
  close(fd);
  EXPECT_EVENTS(in, "d OPEN f;d CLOSE_WRITE f");
  /* O_TRUNC of an existing file: OPEN, then MODIFY. */
  fd = open(path("d/f"), O_WRONLY | O_TRUNC);
  close(fd);
  EXPECT_EVENTS(in, "d OPEN f;d MODIFY f;d CLOSE_WRITE f");
  chmod(path("d/f"), 0600);
  EXPECT_EVENTS(in, "d ATTRIB f");
  truncate(path("d/f"), 3);
  EXPECT_EVENTS(in, "d MODIFY f");
  /* utimensat: both times ATTRIB, atime alone ACCESS, mtime alone MODIFY. */
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  utimensat(AT_FDCWD, path("d/f"), ts, 0);
  EXPECT_EVENTS(in, "d ATTRIB f");
  ts[1].tv_nsec = UTIME_OMIT;
  utimensat(AT_FDCWD, path("d/f"), ts, 0);
  EXPECT_EVENTS(in, "d ACCESS f");
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = 0;
  utimensat(AT_FDCWD, path("d/f"), ts, 0);
  EXPECT_EVENTS(in, "d MODIFY f");
  /* fd-based changes reach the parent too. */
  fd = open(path("d/f"), O_WRONLY);
  fchmod(fd, 0644);
  ftruncate(fd, 0);
  close(fd);
  EXPECT_EVENTS(in, "d OPEN f;d ATTRIB f;d MODIFY f;d CLOSE_WRITE f");
  mkdir(path("d/sub"), 0755);
  EXPECT_EVENTS(in, "d CREATE|ISDIR sub");
  chmod(path("d/sub"), 0700);
  EXPECT_EVENTS(in, "d ATTRIB|ISDIR sub");
  symlink("f", path("d/link"));
  mknod(path("d/fifo"), S_IFIFO | 0644, 0);
  link(path("d/f"), path("d/hard"));
  EXPECT_EVENTS(in, "d CREATE link;d CREATE fifo;d CREATE hard");
  rename(path("d/f"), path("d/g"));
  EXPECT_EVENTS(in, "d MOVED_FROM f;d MOVED_TO g");
  CHECK(g_ncookies == 2 && g_cookies[0] == g_cookies[1] && g_cookies[0] != 0, "one cookie for both halves: %u %u",
        g_cookies[0], g_cookies[1]);
  uint32_t c1 = g_cookies[0];
  rename(path("d/sub"), path("d/sub2"));
  EXPECT_EVENTS(in, "d MOVED_FROM|ISDIR sub;d MOVED_TO|ISDIR sub2");
  CHECK(g_ncookies == 2 && g_cookies[0] == g_cookies[1] && g_cookies[0] != c1, "a new cookie: %u after %u",
        g_cookies[0], c1);
  unlink(path("d/g"));
  unlink(path("d/hard"));
  unlink(path("d/link"));
  unlink(path("d/fifo"));
  rmdir(path("d/sub2"));
  EXPECT_EVENTS(in, "d DELETE g;d DELETE hard;d DELETE link;d DELETE fifo;d DELETE|ISDIR sub2");
  /* Reading the directory itself: events without a name. */
  DIR* dir = opendir(path("d"));
  while (readdir(dir)) {
  }
  closedir(dir);
  EXPECT_EVENTS(in, "d OPEN|ISDIR;d ACCESS|ISDIR;d CLOSE_NOWRITE|ISDIR");
  chmod(path("d"), 0750);
  EXPECT_EVENTS(in, "d ATTRIB|ISDIR");
  /* Removing the watched directory: DELETE_SELF, then the watch goes. */
  rmdir(path("d"));
  EXPECT_EVENTS(in, "d DELETE_SELF;d IGNORED");
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, d));
  close(in);
}

/* --- a file's own watch, with its directory's ------------------------------- */

static void test_file(void) {
  int in = inotify_init1(IN_NONBLOCK), fd_x;
  mkdir(path("e"), 0755);
  touch("e/f");
  int d = EXPECT_OK(inotify_add_watch(in, path("e"), IN_ALL_EVENTS));
  int f = EXPECT_OK(inotify_add_watch(in, path("e/f"), IN_ALL_EVENTS));
  name_wd(d, "d");
  name_wd(f, "f");
  CHECK(f != d, "two watches");
  write_file("e/f", "abc");
  /* The parent's event first, then the file's own. */
  EXPECT_EVENTS(in, "d OPEN f;f OPEN;d MODIFY f;f MODIFY;d CLOSE_WRITE f;f CLOSE_WRITE");
  /* A second name: the file's link count changes (ATTRIB on the file only). */
  link(path("e/f"), path("e/f2"));
  EXPECT_EVENTS(in, "f ATTRIB;d CREATE f2");
  unlink(path("e/f"));
  EXPECT_EVENTS(in, "f ATTRIB;d DELETE f");
  /* A move: MOVED_FROM/MOVED_TO on the directory, MOVE_SELF on the file. */
  mkdir(path("e2"), 0755);
  int d2 = EXPECT_OK(inotify_add_watch(in, path("e2"), IN_ALL_EVENTS));
  name_wd(d2, "d2");
  rename(path("e/f2"), path("e2/m"));
  EXPECT_EVENTS(in, "d MOVED_FROM f2;d2 MOVED_TO m;f MOVE_SELF");
  CHECK(g_ncookies == 2 && g_cookies[0] == g_cookies[1], "cookie across directories");
  /* Replacing a watched file: it loses its last link. */
  touch("e2/t");
  int t = EXPECT_OK(inotify_add_watch(in, path("e2/t"), IN_ALL_EVENTS));
  name_wd(t, "t");
  drain(in);
  rename(path("e2/m"), path("e2/t"));
  EXPECT_EVENTS(in, "d2 MOVED_FROM m;d2 MOVED_TO t;t ATTRIB;f MOVE_SELF;t DELETE_SELF;t IGNORED");
  /* The last link goes: ATTRIB, DELETE_SELF, the watch goes, DELETE. */
  unlink(path("e2/t"));
  EXPECT_EVENTS(in, "f ATTRIB;f DELETE_SELF;f IGNORED;d2 DELETE t");
  /* Unlinked while open: DELETE_SELF waits for the last close. */
  fd_x = open(path("e/x"), O_CREAT | O_RDWR, 0644);
  int x = EXPECT_OK(inotify_add_watch(in, path("e/x"), IN_ALL_EVENTS));
  name_wd(x, "x");
  drain(in);
  unlink(path("e/x"));
  write(fd_x, "z", 1);
  EXPECT_EVENTS(in, "x ATTRIB;d DELETE x;d MODIFY x;x MODIFY");
  close(fd_x);
  EXPECT_EVENTS(in, "d CLOSE_WRITE x;x CLOSE_WRITE;x DELETE_SELF;x IGNORED");
  /* A watched subdirectory removed: its events, then the parent's. */
  mkdir(path("e/s"), 0755);
  int s = EXPECT_OK(inotify_add_watch(in, path("e/s"), IN_ALL_EVENTS));
  name_wd(s, "s");
  drain(in);
  rename(path("e/s"), path("e2/s"));
  EXPECT_EVENTS(in, "d MOVED_FROM|ISDIR s;d2 MOVED_TO|ISDIR s;s MOVE_SELF");
  rmdir(path("e2/s"));
  EXPECT_EVENTS(in, "s DELETE_SELF;s IGNORED;d2 DELETE|ISDIR s");
  inotify_rm_watch(in, d);
  inotify_rm_watch(in, d2);
  EXPECT_EVENTS(in, "d IGNORED;d2 IGNORED");
  rmdir(path("e"));
  rmdir(path("e2"));
  EXPECT_EVENTS(in, "");
  close(in);
}

/* --- the watch flags ------------------------------------------------------------ */

static void test_flags(void) {
  int in = inotify_init1(IN_NONBLOCK);
  touch("g");
  /* IN_ONESHOT: one event, then the watch goes (IN_IGNORED). */
  int w = EXPECT_OK(inotify_add_watch(in, path("g"), IN_MODIFY | IN_ONESHOT));
  name_wd(w, "g");
  write_file("g", "1");
  write_file("g", "2");
  EXPECT_EVENTS(in, "g MODIFY;g IGNORED");
  EXPECT_ERR(EINVAL, inotify_rm_watch(in, w));
  /* A second add replaces the mask (same wd); IN_MASK_ADD ORs. */
  w = EXPECT_OK(inotify_add_watch(in, path("g"), IN_MODIFY));
  name_wd(w, "g");
  CHECK(inotify_add_watch(in, path("g"), IN_ATTRIB) == w, "same wd");
  write_file("g", "3");
  chmod(path("g"), 0600);
  EXPECT_EVENTS(in, "g ATTRIB");
  CHECK(inotify_add_watch(in, path("g"), IN_MODIFY | IN_MASK_ADD) == w, "same wd with IN_MASK_ADD");
  write_file("g", "4");
  chmod(path("g"), 0644);
  EXPECT_EVENTS(in, "g MODIFY;g ATTRIB");
  /* IN_MASK_CREATE: a new watch only. */
  EXPECT_ERR(EEXIST, inotify_add_watch(in, path("g"), IN_OPEN | IN_MASK_CREATE));
  touch("g2");
  int w2 = EXPECT_OK(inotify_add_watch(in, path("g2"), IN_OPEN | IN_MASK_CREATE));
  CHECK(w2 != w, "a new watch");
  /* Through a symlink: the target, unless IN_DONT_FOLLOW. */
  symlink("g", path("gl"));
  CHECK(inotify_add_watch(in, path("gl"), IN_ATTRIB | IN_MODIFY) == w, "the link's target is the same watch");
  int wl = EXPECT_OK(inotify_add_watch(in, path("gl"), IN_ATTRIB | IN_DONT_FOLLOW));
  name_wd(wl, "l");
  CHECK(wl != w, "the link itself");
  struct timespec ts[2] = {{5, 0}, {6, 0}};
  utimensat(AT_FDCWD, path("gl"), ts, AT_SYMLINK_NOFOLLOW);
  EXPECT_EVENTS(in, "l ATTRIB");
  utimensat(AT_FDCWD, path("gl"), ts, 0);
  EXPECT_EVENTS(in, "g ATTRIB");
  /* IN_ONLYDIR on a directory is fine. */
  mkdir(path("h"), 0755);
  int wh = EXPECT_OK(inotify_add_watch(in, path("h"), IN_CREATE | IN_ONLYDIR));
  name_wd(wh, "h");
  /* A mask with no event bits but a flag is accepted (and reports nothing). */
  int wn = inotify_add_watch(in, path("g2"), IN_DONT_FOLLOW);
  CHECK(wn == w2, "flags-only mask replaces: %d (%s)", wn, strerror(errno));
  int fd = open(path("g2"), O_RDONLY);
  close(fd);
  EXPECT_EVENTS(in, "");
  /* IN_EXCL_UNLINK: no more events for a child once it is unlinked. */
  int w_ex = EXPECT_OK(inotify_add_watch(in, path("h"), IN_MODIFY | IN_EXCL_UNLINK));
  CHECK(w_ex == wh, "same directory watch");
  fd = open(path("h/x"), O_CREAT | O_WRONLY, 0644);
  write(fd, "a", 1);
  EXPECT_EVENTS(in, "h MODIFY x");
  unlink(path("h/x"));
  write(fd, "b", 1);
  EXPECT_EVENTS(in, "");
  close(fd);
  inotify_add_watch(in, path("h"), IN_MODIFY);
  fd = open(path("h/y"), O_CREAT | O_WRONLY, 0644);
  unlink(path("h/y"));
  write(fd, "b", 1);
  EXPECT_EVENTS(in, "h MODIFY y");
  close(fd);
  /* Closing the instance drops its watches. */
  close(in);
  unlink(path("gl"));
  unlink(path("g"));
  unlink(path("g2"));
  rmdir(path("h"));
}

/* --- reading: layout, small buffers, FIONREAD, bad buffers ----------------------- */

static void test_read(void) {
  int in = inotify_init1(IN_NONBLOCK);
  mkdir(path("r"), 0755);
  int d = inotify_add_watch(in, path("r"), IN_CREATE | IN_DELETE);
  touch("r/a");                 /* name "a": len 16 */
  touch("r/0123456789abcdef");  /* 16 bytes + NUL: len 32 */
  int n = -1;
  CHECK(ioctl(in, FIONREAD, &n) == 0 && n == 16 + 16 + 16 + 32, "FIONREAD %d", n);
  char buf[256] __attribute__((aligned(8)));
  EXPECT_ERR(EINVAL, read(in, buf, 16));
  EXPECT_ERR(EINVAL, read(in, buf, 31));
  memset(buf, 0x55, sizeof buf);
  /* Room for one and a half events: one. */
  CHECK(read(in, buf, 40) == 32, "one whole event");
  struct inotify_event* e = (struct inotify_event*)buf;
  CHECK(e->wd == d && e->mask == IN_CREATE && e->cookie == 0 && e->len == 16, "record %d %x %u %u", e->wd, e->mask,
        e->cookie, e->len);
  CHECK(strcmp(e->name, "a") == 0, "name");
  for (int i = 2; i < 16; ++i) CHECK(e->name[i] == 0, "padding byte %d is %d", i, e->name[i]);
  CHECK(ioctl(in, FIONREAD, &n) == 0 && n == 48, "FIONREAD %d", n);
  CHECK(read(in, buf, sizeof buf) == 48, "the other");
  CHECK(e->len == 32 && strcmp(e->name, "0123456789abcdef") == 0, "long name len %u", e->len);
  for (int i = 17; i < 32; ++i) CHECK(e->name[i] == 0, "padding byte %d", i);
  /* A nameless event fits 16 bytes exactly. */
  int f = inotify_add_watch(in, path("r/a"), IN_ATTRIB);
  chmod(path("r/a"), 0600);
  CHECK(read(in, buf, 16) == 16 && e->wd == f && e->mask == IN_ATTRIB && e->len == 0, "nameless event");
  EXPECT_ERR(EFAULT, syscall(SYS_ioctl, in, FIONREAD, BAD_PTR));
  /* A bad buffer: EFAULT, and the event is gone (Linux drops it). */
  chmod(path("r/a"), 0644);
  EXPECT_ERR(EFAULT, syscall(SYS_read, in, BAD_PTR, sizeof buf));
  CHECK(ioctl(in, FIONREAD, &n) == 0 && n == 0, "the event was consumed: %d", n);
  unlink(path("r/a"));
  unlink(path("r/0123456789abcdef"));
  rmdir(path("r"));
  close(in);
}

/* --- the queue limit ------------------------------------------------------------ */

static void test_overflow(void) {
  long max = proc_value("max_queued_events");
  CHECK(max > 0 && max <= 1 << 20, "max_queued_events %ld", max);
  if (max <= 0 || max > 1 << 20) return;
  int in = inotify_init1(IN_NONBLOCK);
  touch("o");
  int w = inotify_add_watch(in, path("o"), IN_ATTRIB | IN_MODIFY);
  int fd = open(path("o"), O_WRONLY);
  /* Alternate two events so that none coalesce. */
  for (long i = 0; i < max + 10; ++i) {
    if (i & 1) fchmod(fd, 0644);
    else write(fd, "x", 1);
  }
  static char buf[65536] __attribute__((aligned(8)));
  long events = 0, overflows = 0, bad = 0;
  for (int round = 0; round < 100000; ++round) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t p = 0; p < n;) {
      struct inotify_event* e = (struct inotify_event*)(buf + p);
      if (e->mask == IN_Q_OVERFLOW) {
        ++overflows;
        if (e->wd != -1 || e->len != 0 || events != max) ++bad;
      } else if (e->wd != w || e->mask != ((events & 1) ? IN_ATTRIB : IN_MODIFY)) {
        ++bad;
      }
      ++events;
      p += sizeof *e + e->len;
    }
  }
  CHECK(events == max + 1 && overflows == 1 && bad == 0, "%ld events, %ld overflows, %ld bad (limit %ld)", events,
        overflows, bad, max);
  /* Room again. */
  write(fd, "x", 1);
  name_wd(w, "o");
  EXPECT_EVENTS(in, "o MODIFY");
  close(fd);
  unlink(path("o"));
  close(in);
}

/* --- readiness and blocking --------------------------------------------------------- */

static int g_in_thread;
static char g_thread_got[300];

static void* reader(void* arg) {
  (void)arg;
  char buf[256] __attribute__((aligned(8)));
  ssize_t n = read(g_in_thread, buf, sizeof buf);
  struct inotify_event* e = (struct inotify_event*)buf;
  if (n > 0) snprintf(g_thread_got, sizeof g_thread_got, "%zd %x %s", n, e->mask, e->len ? e->name : "");
  else snprintf(g_thread_got, sizeof g_thread_got, "error %d", errno);
  return NULL;
}

static void test_readiness(void) {
  int in = inotify_init1(IN_NONBLOCK);
  mkdir(path("p"), 0755);
  inotify_add_watch(in, path("p"), IN_CREATE);
  struct pollfd p = {in, POLLIN | POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 0, "nothing queued: not ready (%x)", p.revents);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 7};
  EXPECT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev));
  struct epoll_event out[2];
  CHECK(epoll_wait(ep, out, 2, 0) == 0, "epoll: not ready");
  touch("p/x");
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN, "poll: readable (%x)", p.revents);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(in, &rs);
  struct timeval tv = {0, 0};
  CHECK(select(in + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(in, &rs), "select: readable");
  int r = epoll_wait(ep, out, 2, 1000);
  CHECK(r == 1 && out[0].events == EPOLLIN && out[0].data.u32 == 7, "epoll: %d %x", r, r > 0 ? out[0].events : 0);
  CHECK(epoll_wait(ep, out, 2, 0) == 0, "edge-triggered: once");
  drain(in);
  CHECK(poll(&p, 1, 0) == 0, "drained: not ready");
  /* A blocked epoll_wait is woken by a change. */
  touch("p/y");
  CHECK(epoll_wait(ep, out, 2, 5000) == 1, "epoll woken");
  drain(in);
  close(ep);
  close(in);
  /* A thread blocked in read on a blocking instance, woken by this one. */
  g_in_thread = inotify_init1(0);
  inotify_add_watch(g_in_thread, path("p"), IN_CREATE | IN_DELETE);
  pthread_t th;
  pthread_create(&th, NULL, reader, NULL);
  usleep(100000); /* lets the reader block first (not needed for the result) */
  touch("p/z");
  pthread_join(th, NULL);
  char want[64];
  snprintf(want, sizeof want, "32 %x z", IN_CREATE);
  CHECK(strcmp(g_thread_got, want) == 0, "reader thread got '%s', want '%s'", g_thread_got, want);
  close(g_in_thread);
  unlink(path("p/x"));
  unlink(path("p/y"));
  unlink(path("p/z"));
  rmdir(path("p"));
}

/* --- IN_UNMOUNT (where this process may mount) ------------------------------------- */

static void test_unmount(void) {
  mkdir(path("m"), 0755);
  if (mount("none", path("m"), "tmpfs", 0, NULL) != 0) {
    printf("note: mount not permitted (%s): IN_UNMOUNT not checked\n", strerror(errno));
    rmdir(path("m"));
    return;
  }
  touch("m/f");
  int in = inotify_init1(IN_NONBLOCK);
  int w = EXPECT_OK(inotify_add_watch(in, path("m/f"), IN_ALL_EVENTS));
  int wr = EXPECT_OK(inotify_add_watch(in, path("m"), IN_CREATE));
  name_wd(w, "f");
  name_wd(wr, "root");
  CHECK(umount(path("m")) == 0, "umount: %s", strerror(errno));
  const char* got = drain(in);
  /* In the order the watches were added; IGNORED never carries ISDIR. */
  CHECK(strcmp(got, "f UNMOUNT;f IGNORED;root UNMOUNT|ISDIR;root IGNORED") == 0,
        "unmount events: %s", got);
  close(in);
  rmdir(path("m"));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777); /* the VM's root may have none */
  snprintf(g_dir, sizeof g_dir, "/tmp/abi_inotify.XXXXXX");
  if (!mkdtemp(g_dir)) {
    printf("FAIL mkdtemp: %s\n", strerror(errno));
    return 1;
  }
  test_init();
  test_errors();
  test_directory();
  test_file();
  test_flags();
  test_read();
  test_overflow();
  test_readiness();
  test_unmount();
  rmdir(g_dir);
  return finish("abi_inotify");
}
