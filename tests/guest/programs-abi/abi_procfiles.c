/* /proc and /dev entries programs open (issue 18): /proc/self/mem (pread
 * and pwrite at an address of the process, EIO where nothing is mapped, a
 * short count at the end of a mapping), /proc/self/ns/ (links reading
 * "kind:[inode]", stat through them giving that inode, openable),
 * /proc/sys/kernel/{hostname,domainname} against sethostname/
 * setdomainname (in a new UTS namespace on the host, so the host's names
 * stay), and a survey of the per-process, global, sysctl and /dev files
 * with the formats Linux gives them. */
#include "check.h"

#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

/* The whole file (NUL-terminated) into buf; its length, or -errno. */
static long slurp(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  size_t n = 0;
  for (int i = 0; i < 64 && n + 1 < cap; ++i) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  close(fd);
  return (long)n;
}

static void test_mem(void) {
  long page = sysconf(_SC_PAGESIZE);
  char* m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap");
  CHECK(munmap(m + 2 * page, page) == 0, "munmap the third page");
  for (long i = 0; i < 2 * page; ++i) m[i] = (char)(i * 7);
  int fd = open("/proc/self/mem", O_RDWR);
  CHECK(fd >= 0, "open /proc/self/mem: %s", strerror(errno));
  if (fd < 0) return;
  char buf[256];
  CHECK(pread(fd, buf, sizeof buf, (off_t)(uintptr_t)(m + 100)) == (ssize_t)sizeof buf, "pread at an address");
  int same = 1;
  for (int i = 0; i < (int)sizeof buf; ++i) same &= buf[i] == (char)((100 + i) * 7);
  CHECK(same, "pread reads the memory");
  /* Across pages, up to the end of the mapping: a short count. */
  char* big = malloc(3 * page);
  ssize_t n = pread(fd, big, 3 * page, (off_t)(uintptr_t)(m + page + 10));
  CHECK(n == page - 10, "read up to the unmapped page: %zd", n);
  CHECK(n > 0 && big[0] == (char)((page + 10) * 7), "its first byte");
  free(big);
  /* Nothing mapped: EIO. */
  EXPECT_ERR(EIO, pread(fd, buf, 16, (off_t)(uintptr_t)(m + 2 * page)));
  EXPECT_ERR(EIO, pread(fd, buf, 16, 0));
  EXPECT_ERR(EIO, pwrite(fd, "x", 1, (off_t)(uintptr_t)(m + 2 * page)));
  /* A write lands in memory. */
  CHECK(pwrite(fd, "hello", 5, (off_t)(uintptr_t)(m + 4000)) == 5, "pwrite");
  CHECK(memcmp(m + 4000, "hello", 5) == 0, "memory changed by pwrite");
  /* lseek to an address, then read and write at the file position. */
  CHECK(lseek(fd, (off_t)(uintptr_t)m, SEEK_SET) == (off_t)(uintptr_t)m, "lseek to an address");
  CHECK(read(fd, buf, 4) == 4 && buf[1] == (char)7, "read at the position");
  CHECK(write(fd, "ab", 2) == 2 && m[4] == 'a' && m[5] == 'b', "write at the position");
  /* A bad buffer on our side: EFAULT. */
  EXPECT_ERR(EFAULT, syscall(SYS_pread64, fd, BAD_PTR, 16, (off_t)(uintptr_t)m));
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600 && S_ISREG(st.st_mode), "mem is 0600: %o", st.st_mode);
  close(fd);
  munmap(m, 2 * page);
}

static void test_ns(void) {
  static const char* names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                                "time", "time_for_children", "user", "uts"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    char path[64], link[64], kind[32];
    snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    CHECK(n > 0, "readlink %s: %s", path, strerror(errno));
    if (n <= 0) continue;
    link[n] = 0;
    snprintf(kind, sizeof kind, "%s", names[i]);
    char* us = strstr(kind, "_for_children");
    if (us) *us = 0;
    unsigned long ino = 0;
    char k[32] = "";
    CHECK(sscanf(link, "%31[a-z]:[%lu]", k, &ino) == 2 && !strcmp(k, kind) && link[n - 1] == ']', "%s reads %s", path, link);
    struct stat st, lst;
    CHECK(stat(path, &st) == 0 && st.st_ino == ino, "stat %s: ino %lu, link says %lu", path, (unsigned long)st.st_ino, ino);
    CHECK(lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode), "lstat %s is a link", path);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    if (fd >= 0) {
      CHECK(fstat(fd, &st) == 0 && st.st_ino == ino, "fstat %s", path);
      close(fd);
    }
    if (in_capsule()) {
      static const unsigned long init_ino[] = {4026531835, 4026531839, 4026531832, 4026531833, 4026531836,
                                               4026531836, 4026531834, 4026531834, 4026531837, 4026531838};
      CHECK(ino == init_ino[i], "%s: the initial namespace's inode %lu", path, ino);
    }
  }
  struct stat a, b;
  CHECK(stat("/proc/thread-self/ns/uts", &a) == 0 && stat("/proc/self/ns/uts", &b) == 0 && a.st_ino == b.st_ino,
        "a thread's namespace is its process's");
}

/* In a child: on the host inside a new UTS namespace (the host keeps its
 * names); in Capsule directly. */
static void test_uts_names(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!in_capsule() && unshare(CLONE_NEWUTS) != 0) _exit(0); /* cannot: nothing to check */
    char buf[128];
    int bad = 0;
    if (setdomainname("example.org", 11) != 0) bad |= 1;
    if (slurp("/proc/sys/kernel/domainname", buf, sizeof buf) != 12 || strcmp(buf, "example.org\n")) bad |= 2;
    int fd = open("/proc/sys/kernel/domainname", O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, "lan\n", 4) != 4) bad |= 4;
    if (fd >= 0) close(fd);
    struct utsname u;
    if (uname(&u) != 0 || strcmp(u.domainname, "lan")) bad |= 8;
    if (sethostname("box-7", 5) != 0) bad |= 16;
    if (slurp("/proc/sys/kernel/hostname", buf, sizeof buf) != 6 || strcmp(buf, "box-7\n")) bad |= 32;
    fd = open("/proc/sys/kernel/hostname", O_WRONLY);
    if (fd < 0 || write(fd, "box-8", 5) != 5) bad |= 64;
    if (fd >= 0) close(fd);
    if (uname(&u) != 0 || strcmp(u.nodename, "box-8")) bad |= 128;
    /* Too long: the sysctl keeps the first 64 bytes (setdomainname
     * would say EINVAL). */
    char longname[80];
    memset(longname, 'x', sizeof longname);
    fd = open("/proc/sys/kernel/domainname", O_WRONLY);
    if (fd < 0 || write(fd, longname, 70) != 70) bad |= 256;
    if (fd >= 0) close(fd);
    if (uname(&u) != 0 || strlen(u.domainname) != 64) bad |= 512;
    errno = 0;
    if (setdomainname(longname, 65) != -1 || errno != EINVAL) bad |= 1024;
    _exit(bad ? 100 + __builtin_ctz(bad) : 0); /* 100 + the first failing bit */
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "uts child exit %d (100 + the failing step)",
        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int starts(const char* s, const char* p) { return strncmp(s, p, strlen(p)) == 0; }

static void test_survey(void) {
  static char buf[65536];
  char path[64];
  long n;
  /* Per process. */
  n = slurp("/proc/self/stat", buf, sizeof buf);
  snprintf(path, sizeof path, "%d (", (int)getpid());
  CHECK(n > 0 && starts(buf, path), "stat: %.40s", buf);
  n = slurp("/proc/self/statm", buf, sizeof buf);
  long v[7];
  CHECK(n > 0 && sscanf(buf, "%ld %ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 7,
        "statm: %s", buf);
  n = slurp("/proc/self/status", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "Name:\t") && strstr(buf, "\nPid:\t") && strstr(buf, "\nVmRSS:"), "status");
  n = slurp("/proc/self/limits", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "Limit                     Soft Limit           Hard Limit           Units"), "limits");
  n = slurp("/proc/self/cgroup", buf, sizeof buf);
  CHECK(n > 0 && strstr(buf, "::"), "cgroup: %s", buf);
  n = slurp("/proc/self/mountinfo", buf, sizeof buf);
  CHECK(n > 0 && strstr(buf, " - proc proc "), "mountinfo mentions proc");
  n = slurp("/proc/self/environ", buf, sizeof buf);
  CHECK(n >= 0, "environ");
  n = slurp("/proc/self/cmdline", buf, sizeof buf);
  CHECK(n > 0 && strstr(buf, "abi_procfiles"), "cmdline: %s", buf);
  n = slurp("/proc/self/auxv", buf, sizeof buf);
  CHECK(n > 0 && n % 16 == 0, "auxv: %ld bytes", n);
  n = slurp("/proc/self/oom_score_adj", buf, sizeof buf);
  CHECK(n > 0 && buf[n - 1] == '\n', "oom_score_adj: %s", buf);
  n = slurp("/proc/self/loginuid", buf, sizeof buf);
  CHECK(n > 0 && strspn(buf, "0123456789") == (size_t)n, "loginuid: %s", buf);
  n = slurp("/proc/self/sessionid", buf, sizeof buf);
  CHECK(n > 0 && strspn(buf, "0123456789") == (size_t)n, "sessionid: %s", buf);
  n = slurp("/proc/self/attr/current", buf, sizeof buf);
  CHECK(n == -EINVAL || n > 0, "attr/current: EINVAL without an LSM: %ld", n);
  n = slurp("/proc/self/personality", buf, sizeof buf);
  CHECK(n == 9 && !strcmp(buf, "00000000\n"), "personality: %s", buf);
  n = slurp("/proc/self/coredump_filter", buf, sizeof buf);
  CHECK(n == 9 && buf[8] == '\n', "coredump_filter: %s", buf);
  n = slurp("/proc/self/uid_map", buf, sizeof buf);
  CHECK(n > 0 && buf[n - 1] == '\n', "uid_map: %s", buf);
  if (in_capsule()) CHECK(!strcmp(buf, "         0          0 4294967295\n"), "uid_map: %s", buf);
  n = slurp("/proc/self/setgroups", buf, sizeof buf);
  CHECK(n == 6 && !strcmp(buf, "allow\n"), "setgroups: %s", buf);
  n = slurp("/proc/self/comm", buf, sizeof buf);
  CHECK(n > 0 && !strcmp(buf, "abi_procfiles\n"), "comm: %s", buf);
  /* timerslack_ns: 50 us by default; a write is what prctl reports. */
  n = slurp("/proc/self/timerslack_ns", buf, sizeof buf);
  CHECK(n > 0 && atol(buf) == prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), "timerslack_ns %s", buf);
  int fd = open("/proc/self/timerslack_ns", O_WRONLY);
  CHECK(fd >= 0 && write(fd, "120000", 6) == 6, "write timerslack_ns");
  if (fd >= 0) close(fd);
  CHECK(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 120000, "prctl sees the new slack");
  n = slurp("/proc/self/timerslack_ns", buf, sizeof buf);
  CHECK(!strcmp(buf, "120000\n"), "timerslack_ns reads %s", buf);
  prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0);

  /* Global. */
  n = slurp("/proc/loadavg", buf, sizeof buf);
  double l1, l5, l15;
  int run, total, last;
  CHECK(n > 0 && sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &total, &last) == 6, "loadavg: %s", buf);
  n = slurp("/proc/uptime", buf, sizeof buf);
  CHECK(n > 0 && sscanf(buf, "%lf %lf", &l1, &l5) == 2, "uptime: %s", buf);
  n = slurp("/proc/stat", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "cpu  ") && strstr(buf, "\nbtime "), "stat");
  n = slurp("/proc/meminfo", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "MemTotal:") && strstr(buf, "\nMemAvailable:"), "meminfo");
  n = slurp("/proc/cpuinfo", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "processor\t: 0"), "cpuinfo");
  n = slurp("/proc/version", buf, sizeof buf);
  CHECK(n > 0 && starts(buf, "Linux version "), "version");
  n = slurp("/proc/filesystems", buf, sizeof buf);
  CHECK(n > 0 && strstr(buf, "nodev\tproc\n"), "filesystems");
  struct {
    const char* path;
    const char* digits_or_text;
  } sysctl[] = {
      {"/proc/sys/kernel/osrelease", NULL},      {"/proc/sys/kernel/pid_max", "0123456789"},
      {"/proc/sys/kernel/threads-max", "0123456789"}, {"/proc/sys/kernel/ngroups_max", "0123456789"},
      {"/proc/sys/kernel/cap_last_cap", "0123456789"}, {"/proc/sys/vm/overcommit_memory", "012"},
      {"/proc/sys/fs/file-max", "0123456789"},  {"/proc/sys/fs/nr_open", "0123456789"},
      {"/proc/sys/kernel/shmmax", "0123456789"}, {"/proc/sys/kernel/shmmni", "0123456789"},
      {"/proc/sys/kernel/msgmax", "0123456789"}, {"/proc/sys/kernel/msgmnb", "0123456789"},
      {"/proc/sys/kernel/msgmni", "0123456789"}, {"/proc/sys/kernel/sem", "0123456789\t"},
      {"/proc/sys/kernel/randomize_va_space", "012"}, {"/proc/sys/net/core/somaxconn", "0123456789"},
      {"/proc/sys/vm/mmap_min_addr", "0123456789"}, {"/proc/sys/kernel/overflowuid", "0123456789"},
  };
  for (size_t i = 0; i < sizeof sysctl / sizeof sysctl[0]; ++i) {
    n = slurp(sysctl[i].path, buf, sizeof buf);
    CHECK(n > 1 && buf[n - 1] == '\n', "%s: %ld", sysctl[i].path, n);
    if (n > 1 && sysctl[i].digits_or_text)
      CHECK(strspn(buf, sysctl[i].digits_or_text) == (size_t)n - 1, "%s: %s", sysctl[i].path, buf);
  }
  /* A read-only sysctl refuses a write open, even for root. */
  EXPECT_ERR(EACCES, open("/proc/sys/kernel/osrelease", O_WRONLY));
  n = slurp("/proc/sys/kernel/random/boot_id", buf, sizeof buf);
  CHECK(n == 37 && buf[8] == '-' && buf[13] == '-', "boot_id: %s", buf);
  char first[64];
  snprintf(first, sizeof first, "%.40s", buf);
  CHECK(slurp("/proc/sys/kernel/random/boot_id", buf, sizeof buf) == 37 && !strcmp(buf, first), "boot_id is stable");
  n = slurp("/proc/sys/kernel/random/uuid", buf, sizeof buf);
  CHECK(n == 37 && buf[14] == '4', "uuid (version 4): %s", buf);
  CHECK(slurp("/proc/sys/kernel/random/uuid", first, sizeof first) == 37 && strcmp(buf, first), "uuid changes");

  /* /dev. */
  CHECK(slurp("/dev/zero", buf, 16) == 15 && buf[0] == 0, "/dev/zero");
  CHECK(slurp("/dev/null", buf, 16) == 0, "/dev/null");
  fd = open("/dev/full", O_WRONLY);
  errno = 0;
  CHECK(fd >= 0 && write(fd, "x", 1) == -1 && errno == ENOSPC, "/dev/full: ENOSPC");
  if (fd >= 0) close(fd);
  CHECK(slurp("/dev/urandom", buf, 33) == 32, "/dev/urandom");
  CHECK(slurp("/dev/random", buf, 33) == 32, "/dev/random");
  static const char* links[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd"};
  for (int i = 0; i < 4; ++i) {
    struct stat st;
    CHECK(lstat(links[i], &st) == 0 && S_ISLNK(st.st_mode), "%s is a link", links[i]);
  }
  struct stat st;
  CHECK(stat("/dev/fd/1", &st) == 0, "/dev/fd/1");
  CHECK(stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 01777) == 01777, "/dev/shm is 1777");
}

int main(void) {
  test_mem();
  test_ns();
  test_uts_names();
  test_survey();
  return finish("abi_procfiles");
}
