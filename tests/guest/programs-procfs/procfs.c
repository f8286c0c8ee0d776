/* procfs and sysfs as programs read them: /proc/self/{exe,fd,fdinfo,maps,
 * status,stat,cmdline,environ,auxv,comm,cwd,limits,mounts,oom_score_adj,
 * task}, /proc/{cpuinfo,meminfo,stat,uptime,loadavg,sys/kernel/...} and
 * /sys/devices/system/cpu. Runs natively on Linux too (the expectations
 * are Linux's). Optional arguments: cpus=N and mem=MiB, the VM's size, to
 * check the counts against. "PASS procfs" when every check passed. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

#include "check.h"

static char* volatile g_bad = (char*)16; /* unmapped */
extern char** environ;

static int g_argc;
static char** g_argv;

static void test_exe(void) {
  char link[4096], real[4096];
  ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
  CHECK(n > 0, "readlink exe");
  if (n <= 0) return;
  link[n] = 0;
  CHECK(link[0] == '/', "absolute: %s", link);
  CHECK(realpath(g_argv[0], real) != NULL, "realpath argv[0] %s", g_argv[0]);
  CHECK(strcmp(link, real) == 0, "exe %s vs argv[0] %s", link, real);
  /* Following the link opens the program: its ELF header. */
  int fd = open("/proc/self/exe", O_RDONLY);
  char hdr[4] = {0};
  CHECK(fd >= 0 && read(fd, hdr, 4) == 4 && memcmp(hdr, "\177ELF", 4) == 0, "open exe");
  struct stat a, b;
  CHECK(stat("/proc/self/exe", &a) == 0 && stat(real, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        "stat through the link");
  close(fd);
  /* lstat: a symlink; a short buffer truncates without a NUL. */
  CHECK(lstat("/proc/self/exe", &a) == 0 && S_ISLNK(a.st_mode), "lstat");
  char two[2];
  CHECK(readlink("/proc/self/exe", two, 2) == 2 && two[0] == '/', "truncated readlink");
  EXPECT_ERR(EFAULT, readlink("/proc/self/exe", g_bad, 10));
  /* /proc/self is this process. */
  n = readlink("/proc/self", link, sizeof(link) - 1);
  CHECK(n > 0, "readlink self");
  if (n > 0) {
    link[n] = 0;
    CHECK(atoi(link) == getpid(), "self -> %s, pid %d", link, getpid());
  }
}

static int cmp_int(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

static void test_fds(void) {
  int a = open("/proc/self/status", O_RDONLY);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  char tmpl[] = "/tmp/procfs-XXXXXX";
  mkdir("/tmp", 01777);
  int f = mkstemp(tmpl);
  CHECK(f >= 0, "mkstemp");
  CHECK(write(f, "hello procfs", 12) == 12, "write");
  DIR* d = opendir("/proc/self/fd");
  CHECK(d != NULL, "opendir fd");
  if (!d) return;
  int listed[256], nl = 0;
  struct dirent* e;
  while ((e = readdir(d)) && nl < 256) {
    if (e->d_name[0] == '.') continue;
    CHECK(e->d_type == DT_LNK, "d_type %d for %s", e->d_type, e->d_name);
    listed[nl++] = atoi(e->d_name);
  }
  /* What is open, by fcntl. */
  int open_fds[256], no = 0;
  for (int fd = 0; fd < 1024 && no < 256; ++fd)
    if (fcntl(fd, F_GETFD) >= 0) open_fds[no++] = fd;
  qsort(listed, nl, sizeof(int), cmp_int);
  CHECK(nl == no, "%d listed, %d open", nl, no);
  for (int i = 0; i < nl && i < no; ++i) CHECK(listed[i] == open_fds[i], "fd %d vs %d", listed[i], open_fds[i]);
  closedir(d);

  char path[64], link[4096];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", f);
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  CHECK(n > 0, "readlink fd");
  if (n > 0) {
    link[n] = 0;
    CHECK(strcmp(link, tmpl) == 0, "fd link %s vs %s", link, tmpl);
  }
  /* Reopening gives the same file, with its own offset. */
  int g = open(path, O_RDONLY);
  char buf[32] = {0};
  CHECK(g >= 0 && read(g, buf, sizeof(buf)) == 12 && memcmp(buf, "hello procfs", 12) == 0, "reopen: %s", buf);
  CHECK(g != f && lseek(f, 0, SEEK_CUR) == 12, "own description");
  close(g);
  /* Even after the name is gone. */
  unlink(tmpl);
  n = readlink(path, link, sizeof(link) - 1);
  CHECK(n > 0, "readlink unlinked");
  if (n > 0) {
    link[n] = 0;
    CHECK(strstr(link, "(deleted)") != NULL, "unlinked link %s", link);
  }
  g = open(path, O_RDONLY);
  memset(buf, 0, sizeof(buf));
  CHECK(g >= 0 && pread(g, buf, 5, 6) == 5 && memcmp(buf, "procf", 5) == 0, "reopen unlinked");
  close(g);

  snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
  n = readlink(path, link, sizeof(link) - 1);
  CHECK(n > 0, "readlink pipe");
  if (n > 0) {
    link[n] = 0;
    struct stat st;
    fstat(p[0], &st);
    char want[64];
    snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
    CHECK(strcmp(link, want) == 0, "pipe link %s vs %s", link, want);
  }
  /* Reopening a pipe's end for writing writes into the pipe. */
  g = open(path, O_WRONLY);
  int wrote = g >= 0 && write(g, "x", 1) == 1;
  CHECK(wrote, "reopen pipe");
  CHECK(wrote && read(p[0], buf, 1) == 1 && buf[0] == 'x', "through the reopened pipe");
  if (g >= 0) close(g);

  /* Objects of the anonymous inode file system. */
  int efd = eventfd(0, 0), epfd = epoll_create1(0);
  struct {
    int fd;
    const char* want;
  } anon[] = {{efd, "anon_inode:[eventfd]"}, {epfd, "anon_inode:[eventpoll]"}};
  for (int i = 0; i < 2; ++i) {
    snprintf(path, sizeof(path), "/proc/self/fd/%d", anon[i].fd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) link[n] = 0;
    CHECK(anon[i].fd >= 0 && n > 0 && strcmp(link, anon[i].want) == 0, "%s -> %s", path, n > 0 ? link : "");
    close(anon[i].fd);
  }

  /* fdinfo: the offset and the flags. */
  lseek(f, 3, SEEK_SET);
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", f);
  char* info = slurp(path, NULL);
  CHECK(info != NULL, "fdinfo");
  if (info) {
    const char* pos = field(info, "pos:");
    const char* fl = field(info, "flags:");
    CHECK(pos && atol(pos) == 3, "pos in %s", info);
    CHECK(fl && (strtol(fl, NULL, 8) & O_ACCMODE) == O_RDWR, "flags in %s", info);
    free(info);
  }
  /* A directory's descriptor names the directory. */
  const char* dirs[] = {"/tmp", "/proc/self/fd", "/"};
  for (int i = 0; i < 3; ++i) {
    int dfd = open(dirs[i], O_RDONLY | O_DIRECTORY);
    char want[64];
    if (i == 1) snprintf(want, sizeof(want), "/proc/%d/fd", getpid());
    else snprintf(want, sizeof(want), "%s", dirs[i]);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", dfd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) link[n] = 0;
    CHECK(dfd >= 0 && n > 0 && strcmp(link, want) == 0, "dir fd of %s -> %s", dirs[i], n > 0 ? link : "");
    close(dfd);
  }
  snprintf(path, sizeof(path), "/proc/self/fd/%d", 999);
  EXPECT_ERR(ENOENT, readlink(path, link, sizeof(link)));
  EXPECT_ERR(ENOENT, open("/proc/self/fdinfo/999", O_RDONLY));
  EXPECT_ERR(ENOENT, open("/proc/self/fd/abc", O_RDONLY));
  close(f);
  close(p[0]);
  close(p[1]);
  close(a);
}

static int g_go;
static void* sleeper(void* arg) {
  while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE)) usleep(1000);
  return arg;
}

static void on_signal(int sig) { (void)sig; }

static int threads_field(void) {
  char* s = slurp("/proc/self/status", NULL);
  if (!s) return -1;
  const char* t = field(s, "Threads:");
  int n = t ? atoi(t) : -1;
  free(s);
  return n;
}

static void test_status_threads(void) {
  char* s = slurp("/proc/self/status", NULL);
  CHECK(s != NULL, "status");
  if (!s) return;
  const char* name = field(s, "Name:");
  const char* pid = field(s, "Pid:");
  const char* ppid = field(s, "PPid:");
  const char* uid = field(s, "Uid:");
  const char* vmrss = field(s, "VmRSS:");
  const char* vmsize = field(s, "VmSize:");
  const char* cpus = field(s, "Cpus_allowed_list:");
  const char* sigblk = field(s, "SigBlk:");
  const char* state = field(s, "State:");
  CHECK(name && pid && ppid && uid && vmrss && vmsize && cpus && sigblk && state, "fields in\n%s", s);
  if (pid) CHECK(atoi(pid) == getpid(), "Pid %d", atoi(pid));
  if (uid) CHECK((uid_t)atoi(uid) == getuid(), "Uid");
  if (vmrss) CHECK(atol(vmrss) > 0, "VmRSS");
  if (vmsize && vmrss) CHECK(atol(vmsize) >= atol(vmrss), "VmSize >= VmRSS");
  if (state) CHECK(strstr(state, "R (running)") != NULL, "State %.20s", state);
  free(s);
  /* The signal masks: a blocked, an ignored and a caught signal. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGUSR2, SIG_IGN);
  signal(SIGHUP, on_signal);
  s = slurp("/proc/self/status", NULL);
  unsigned long long blk = 0, ign = 0, cgt = 0;
  CHECK(s && field(s, "SigBlk:") && field(s, "SigIgn:") && field(s, "SigCgt:"), "masks");
  if (s && field(s, "SigBlk:") && field(s, "SigIgn:") && field(s, "SigCgt:")) {
    blk = strtoull(field(s, "SigBlk:"), NULL, 16);
    ign = strtoull(field(s, "SigIgn:"), NULL, 16);
    cgt = strtoull(field(s, "SigCgt:"), NULL, 16);
  }
  CHECK(blk & (1ull << (SIGUSR1 - 1)), "SigBlk %llx", blk);
  CHECK(ign & (1ull << (SIGUSR2 - 1)), "SigIgn %llx", ign);
  CHECK((cgt & (1ull << (SIGHUP - 1))) && !(cgt & (1ull << (SIGUSR2 - 1))), "SigCgt %llx", cgt);
  free(s);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  signal(SIGUSR2, SIG_DFL);
  signal(SIGHUP, SIG_DFL);

  CHECK(threads_field() == 1, "one thread: %d", threads_field());
  pthread_t t[3];
  for (int i = 0; i < 3; ++i) CHECK(pthread_create(&t[i], NULL, sleeper, NULL) == 0, "pthread_create");
  CHECK(threads_field() == 4, "four threads: %d", threads_field());
  /* A thread's name is its task's comm. */
  CHECK(pthread_setname_np(t[1], "worker-one") == 0, "setname");
  pid_t first_tid = 0;
  /* Each thread has /proc/self/task/<tid>. */
  DIR* d = opendir("/proc/self/task");
  int n = 0, has_self = 0;
  struct dirent* e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    ++n;
    if (atoi(e->d_name) == (int)syscall(SYS_gettid)) has_self = 1;
    char p2[300];
    snprintf(p2, sizeof(p2), "/proc/self/task/%s/comm", e->d_name);
    char* c = slurp(p2, NULL);
    if (c && strcmp(c, "worker-one\n") == 0) first_tid = atoi(e->d_name);
    free(c);
  }
  CHECK(first_tid != 0, "a task named worker-one");
  if (d) closedir(d);
  CHECK(n == 4 && has_self, "task lists %d threads, self %d", n, has_self);
  __atomic_store_n(&g_go, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);
  /* A joined thread may still be leaving the kernel (Linux too wakes the
   * joiner before the thread is gone from the group): wait up to 2 s. */
  int left = threads_field();
  for (int i = 0; i < 200 && left != 1; ++i) {
    usleep(10000);
    left = threads_field();
  }
  CHECK(left == 1, "back to one: %d", left);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/status", getpid());
  s = slurp(path, NULL);
  CHECK(s && field(s, "Pid:") && atoi(field(s, "Pid:")) == getpid(), "task status");
  free(s);
  char link[64];
  ssize_t k = readlink("/proc/thread-self", link, sizeof(link) - 1);
  if (k > 0) link[k] = 0;
  char want[64];
  snprintf(want, sizeof(want), "%d/task/%d", getpid(), (int)syscall(SYS_gettid));
  CHECK(k > 0 && strcmp(link, want) == 0, "thread-self %s", k > 0 ? link : "");
}

static void test_maps(void) {
  size_t len = 3 * 4096;
  char* m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap");
  m[0] = 1;
  char* s = slurp("/proc/self/maps", NULL);
  CHECK(s != NULL, "maps");
  if (!s) return;
  /* Our region lies in one rw-p line (Linux may merge it with a
   * neighbour). */
  int ours = 0;
  CHECK(strstr(s, "[stack]\n") != NULL, "[stack]");
  CHECK(strstr(s, "[vdso]\n") != NULL, "[vdso]");
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = 0;
  /* The program's text: r-xp, named by its path; and the line format. */
  int text = 0, lines = 0;
  for (char* line = s; *line;) {
    char* end = strchr(line, '\n');
    if (!end) break;
    *end = 0;
    unsigned long lo, hi, off, ino;
    char perms[5];
    unsigned maj, min;
    int pos = 0;
    int k = sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &lo, &hi, perms, &off, &maj, &min, &ino, &pos);
    CHECK(k == 7 && lo < hi && (lo & 4095) == 0 && (hi & 4095) == 0, "line '%s'", line);
    if (k == 7 && strcmp(perms, "r-xp") == 0 && pos && strcmp(line + pos, exe) == 0) {
      text = 1;
      uintptr_t main_addr = (uintptr_t)&test_maps;
      if (main_addr >= lo && main_addr < hi) text = 2;
      CHECK(ino != 0, "text inode");
    }
    if (k == 7 && strcmp(perms, "rw-p") == 0 && lo <= (unsigned long)m && hi >= (unsigned long)(m + len)) ours = 1;
    /* A name starts at column 73 (Linux pads). */
    if (k == 7 && pos && line[pos]) CHECK(pos >= 73, "name at column %d: '%s'", pos, line);
    ++lines;
    line = end + 1;
  }
  CHECK(text == 2, "text mapping %d of %s", text, exe);
  CHECK(ours, "our mapping %p-%p", (void*)m, (void*)(m + len));
  CHECK(lines >= 4, "%d lines", lines);
  free(s);
  /* A fixed mapping with its own protection is a line of its own, at the
   * address it got. */
  char* r = mmap(m + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(r == m + 4096, "mmap fixed");
  char want[64];
  snprintf(want, sizeof(want), "%08lx-%08lx r--p ", (unsigned long)r, (unsigned long)(r + 4096));
  s = slurp("/proc/self/maps", NULL);
  CHECK(s && strstr(s, want) != NULL, "%s in\n%s", want, s ? s : "");
  free(s);
  munmap(m, len);
  s = slurp("/proc/self/maps", NULL);
  CHECK(s && strstr(s, want) == NULL, "unmapped region gone");
  free(s);
}

static void test_cmdline_environ_auxv(void) {
  size_t n;
  char* s = slurp("/proc/self/cmdline", &n);
  CHECK(s != NULL, "cmdline");
  if (s) {
    size_t off = 0;
    for (int i = 0; i < g_argc; ++i) {
      size_t l = strlen(g_argv[i]) + 1;
      CHECK(off + l <= n && memcmp(s + off, g_argv[i], l) == 0, "argv[%d] %s", i, g_argv[i]);
      off += l;
    }
    CHECK(off == n, "cmdline %zu bytes, argv %zu", n, off);
    free(s);
  }
  s = slurp("/proc/self/environ", &n);
  CHECK(s != NULL, "environ");
  if (s && environ[0]) CHECK(n > strlen(environ[0]) && strcmp(s, environ[0]) == 0, "environ[0] %s", environ[0]);
  free(s);
  s = slurp("/proc/self/auxv", &n);
  CHECK(s && n % 16 == 0 && n >= 32, "auxv %zu bytes", n);
  if (s) {
    unsigned long* v = (unsigned long*)s;
    int pagesz = 0, entry = 0;
    for (size_t i = 0; i + 1 < n / 8; i += 2) {
      if (v[i] == AT_PAGESZ) pagesz = v[i + 1] == 4096;
      if (v[i] == AT_ENTRY) entry = v[i + 1] == getauxval(AT_ENTRY);
    }
    CHECK(pagesz && entry && v[n / 8 - 2] == AT_NULL, "auxv entries");
    free(s);
  }
  s = slurp("/proc/self/comm", NULL);
  const char* base = strrchr(g_argv[0], '/') ? strrchr(g_argv[0], '/') + 1 : g_argv[0];
  char want[17];
  snprintf(want, sizeof(want), "%.15s\n", base);
  CHECK(s && strcmp(s, want) == 0, "comm %s vs %s", s ? s : "", want);
  free(s);
  /* comm is writable (the bytes as written, up to 15). */
  int fd = open("/proc/self/comm", O_WRONLY);
  CHECK(fd >= 0 && write(fd, "renamed", 7) == 7, "write comm");
  if (fd >= 0) close(fd);
  s = slurp("/proc/self/comm", NULL);
  CHECK(s && strcmp(s, "renamed\n") == 0, "comm now %s", s ? s : "");
  free(s);
}

static void test_stat_line(void) {
  char* s = slurp("/proc/self/stat", NULL);
  CHECK(s != NULL, "stat");
  if (!s) return;
  CHECK(atoi(s) == getpid(), "pid field");
  char* rp = strrchr(s, ')');
  CHECK(strchr(s, '(') && rp, "comm in parentheses");
  if (rp) {
    int fields = 2;
    for (char* p = rp + 1; *p; ++p)
      if (*p == ' ' && p[1] && p[1] != '\n') ++fields;
    CHECK(fields == 52, "%d fields: %s", fields, s);
    char state = rp[2];
    CHECK(state == 'R', "state %c", state);
    /* Field 20: num_threads. */
    char* p = rp + 2;
    for (int i = 3; i < 20; ++i) p = strchr(p, ' ') + 1;
    CHECK(atoi(p) == 1, "num_threads %d", atoi(p));
  }
  free(s);
  s = slurp("/proc/self/statm", NULL);
  long size = 0, res = 0;
  CHECK(s && sscanf(s, "%ld %ld", &size, &res) == 2 && size > 0 && res > 0 && res <= size, "statm %s", s ? s : "");
  free(s);
}

static void test_misc_self(void) {
  char cwd[4096], link[4096];
  CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
  ssize_t n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
  if (n > 0) link[n] = 0;
  CHECK(n > 0 && strcmp(link, cwd) == 0, "cwd %s vs %s", n > 0 ? link : "", cwd);
  mkdir("/tmp", 01777);
  CHECK(chdir("/tmp") == 0, "chdir");
  n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
  if (n > 0) link[n] = 0;
  CHECK(n > 0 && strcmp(link, "/tmp") == 0, "cwd after chdir %s", n > 0 ? link : "");
  struct stat a, b;
  CHECK(stat("/proc/self/cwd", &a) == 0 && stat("/tmp", &b) == 0 && a.st_ino == b.st_ino, "cwd follows");
  CHECK(chdir(cwd) == 0, "chdir back");
  n = readlink("/proc/self/root", link, sizeof(link) - 1);
  CHECK(n == 1 && link[0] == '/', "root");

  char* s = slurp("/proc/self/limits", NULL);
  CHECK(s && strncmp(s, "Limit", 5) == 0 && strstr(s, "Max open files"), "limits");
  free(s);
  s = slurp("/proc/self/mounts", NULL);
  CHECK(s && strstr(s, " /proc proc ") && strstr(s, " /sys sysfs "), "mounts:\n%s", s ? s : "");
  free(s);
  s = slurp("/proc/mounts", NULL);
  CHECK(s && strstr(s, " /proc proc "), "/proc/mounts");
  free(s);
  s = slurp("/proc/self/mountinfo", NULL);
  CHECK(s && strstr(s, " - proc "), "mountinfo:\n%s", s ? s : "");
  free(s);

  /* oom_score_adj takes a number in [-1000, 1000]. */
  int fd = open("/proc/self/oom_score_adj", O_WRONLY);
  CHECK(fd >= 0, "open oom_score_adj");
  CHECK(write(fd, "100\n", 4) == 4, "write 100");
  EXPECT_ERR(EINVAL, write(fd, "5000\n", 5));
  EXPECT_ERR(EINVAL, write(fd, "abc\n", 4));
  EXPECT_ERR(EFAULT, write(fd, g_bad, 4));
  close(fd);
  s = slurp("/proc/self/oom_score_adj", NULL);
  CHECK(s && strcmp(s, "100\n") == 0, "oom_score_adj %s", s ? s : "");
  free(s);

  /* /proc lists this process. */
  DIR* d = opendir("/proc");
  int self = 0, pid = 0;
  struct dirent* e;
  while (d && (e = readdir(d))) {
    if (strcmp(e->d_name, "self") == 0) self = 1;
    if (atoi(e->d_name) == getpid()) pid = 1;
  }
  if (d) closedir(d);
  CHECK(self && pid, "/proc lists self %d and pid %d", self, pid);
  EXPECT_ERR(ENOENT, open("/proc/nonexistent", O_RDONLY));
  EXPECT_ERR(ENOENT, open("/proc/999999/status", O_RDONLY));
}

static int count_cpu_list(const char* s) {
  int n = 0;
  while (s && *s && *s != '\n') {
    int a = atoi(s), b = a;
    while (isdigit((unsigned char)*s)) ++s;
    if (*s == '-') {
      b = atoi(++s);
      while (isdigit((unsigned char)*s)) ++s;
    }
    n += b - a + 1;
    if (*s == ',') ++s;
  }
  return n;
}

static void test_system(int want_cpus, long want_mem_mib) {
  char* s = slurp("/proc/cpuinfo", NULL);
  CHECK(s != NULL, "cpuinfo");
  int procs = 0;
  for (const char* p = s; p && (p = strstr(p, "processor\t: ")); ++p) ++procs;
  long onln = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(procs == onln, "cpuinfo %d vs sysconf %ld", procs, onln);
  CHECK(s && field(s, "model name\t: ") && field(s, "flags\t\t: ") && field(s, "vendor_id\t: "), "cpuinfo fields");
  const char* mhz = s ? field(s, "cpu MHz\t\t: ") : NULL;
  CHECK(mhz && atof(mhz) > 100, "cpu MHz %s", mhz ? mhz : "");
  free(s);
  s = slurp("/sys/devices/system/cpu/online", NULL);
  CHECK(s && count_cpu_list(s) == onln, "online %s vs %ld", s ? s : "", onln);
  free(s);
  s = slurp("/sys/devices/system/cpu/possible", NULL);
  CHECK(s && count_cpu_list(s) >= onln, "possible %s", s ? s : "");
  free(s);
  struct stat st;
  CHECK(stat("/sys/devices/system/cpu/cpu0", &st) == 0 && S_ISDIR(st.st_mode), "cpu0");
  if (want_cpus) {
    CHECK(onln == want_cpus, "%ld CPUs online, the VM has %d", onln, want_cpus);
    char path[64];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", want_cpus - 1);
    CHECK(stat(path, &st) == 0, "%s", path);
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", want_cpus);
    EXPECT_ERR(ENOENT, stat(path, &st));
  }
  s = slurp("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
  CHECK(s && strchr(s, '[') && strchr(s, ']'), "thp %s", s ? s : "");
  free(s);

  s = slurp("/proc/meminfo", NULL);
  const char* total = s ? field(s, "MemTotal:") : NULL;
  const char* freek = s ? field(s, "MemFree:") : NULL;
  const char* avail = s ? field(s, "MemAvailable:") : NULL;
  CHECK(total && freek && avail && field(s, "SwapTotal:") && field(s, "Cached:"), "meminfo fields");
  if (total && freek) CHECK(atol(total) > 0 && atol(freek) <= atol(total), "MemFree <= MemTotal");
  if (total && want_mem_mib)
    CHECK(atol(total) <= want_mem_mib * 1024 && atol(total) >= want_mem_mib * 1024 / 2, "MemTotal %ld kB for %ld MiB",
          atol(total), want_mem_mib);
  free(s);

  s = slurp("/proc/stat", NULL);
  CHECK(s && strncmp(s, "cpu ", 4) == 0 && field(s, "btime ") && field(s, "procs_running "), "stat");
  if (s) {
    int cpus = 0;
    for (const char* p = s; (p = strstr(p, "\ncpu")); ++p) ++cpus;
    CHECK(cpus == onln, "%d cpuN lines", cpus);
    CHECK(atol(field(s, "btime ")) > 1500000000L, "btime");
  }
  free(s);

  double up1 = 0, up2 = 0, idle = -1;
  s = slurp("/proc/uptime", NULL);
  CHECK(s && sscanf(s, "%lf %lf", &up1, &idle) == 2 && up1 > 0 && idle >= 0, "uptime %s", s ? s : "");
  free(s);
  struct timespec ts = {0, 30 * 1000 * 1000};
  nanosleep(&ts, NULL);
  s = slurp("/proc/uptime", NULL);
  CHECK(s && sscanf(s, "%lf", &up2) == 1 && up2 > up1, "uptime %f then %f", up1, up2);
  free(s);
  s = slurp("/proc/loadavg", NULL);
  double l1;
  int run, all;
  CHECK(s && sscanf(s, "%lf %*f %*f %d/%d", &l1, &run, &all) == 3 && run >= 1 && all >= run, "loadavg %s", s ? s : "");
  free(s);
  s = slurp("/proc/version", NULL);
  CHECK(s && strncmp(s, "Linux version ", 14) == 0, "version");
  free(s);
  s = slurp("/proc/filesystems", NULL);
  CHECK(s && strstr(s, "\tproc\n") && strstr(s, "\ttmpfs\n"), "filesystems");
  free(s);

  struct utsname u;
  uname(&u);
  s = slurp("/proc/sys/kernel/osrelease", NULL);
  char want[80];
  snprintf(want, sizeof(want), "%s\n", u.release);
  CHECK(s && strcmp(s, want) == 0, "osrelease %s vs %s", s ? s : "", u.release);
  free(s);
  s = slurp("/proc/sys/kernel/ostype", NULL);
  CHECK(s && strcmp(s, "Linux\n") == 0, "ostype");
  free(s);
  s = slurp("/proc/sys/kernel/pid_max", NULL);
  CHECK(s && atol(s) >= 32768, "pid_max");
  free(s);
  char* b1 = slurp("/proc/sys/kernel/random/boot_id", NULL);
  char* b2 = slurp("/proc/sys/kernel/random/boot_id", NULL);
  char* u1 = slurp("/proc/sys/kernel/random/uuid", NULL);
  char* u2 = slurp("/proc/sys/kernel/random/uuid", NULL);
  CHECK(b1 && b2 && strlen(b1) == 37 && strcmp(b1, b2) == 0 && b1[14] == '4', "boot_id %s", b1 ? b1 : "");
  CHECK(u1 && u2 && strlen(u1) == 37 && strcmp(u1, u2) != 0, "uuid %s %s", u1 ? u1 : "", u2 ? u2 : "");
  free(b1), free(b2), free(u1), free(u2);
  s = slurp("/proc/sys/vm/overcommit_memory", NULL);
  CHECK(s && (s[0] >= '0' && s[0] <= '2') && s[1] == '\n', "overcommit_memory");
  free(s);
  s = slurp("/proc/sys/fs/pipe-max-size", NULL);
  CHECK(s && atol(s) >= 4096, "pipe-max-size");
  free(s);

  /* Read-only files: root may open /proc/cpuinfo for writing and every
   * write fails with EIO; sysctl files refuse the open with EACCES. */
  int fd = open("/proc/cpuinfo", O_WRONLY);
  if (fd >= 0) {
    EXPECT_ERR(EIO, write(fd, "x", 1));
    close(fd);
  } else {
    CHECK(errno == EACCES, "open cpuinfo for writing");
  }
  EXPECT_ERR(EACCES, open("/proc/sys/kernel/osrelease", O_WRONLY));
  EXPECT_ERR(EACCES, open("/sys/devices/system/cpu/online", O_WRONLY));
  EXPECT_ERR(EFAULT, read(open("/proc/cpuinfo", O_RDONLY), g_bad, 100));
  EXPECT_ERR(EISDIR, open("/proc/self", O_WRONLY));
  /* statfs tells the file systems apart (procps checks /proc's type). */
  struct statfs sf;
  CHECK(statfs("/proc", &sf) == 0 && sf.f_type == 0x9fa0, "statfs /proc type %lx", (long)sf.f_type);
  CHECK(statfs("/sys", &sf) == 0 && sf.f_type == 0x62656572, "statfs /sys type %lx", (long)sf.f_type);
  /* No files are made in /proc. */
  CHECK(mkdir("/proc/newdir", 0755) == -1 && (errno == EPERM || errno == EACCES || errno == ENOENT), "mkdir in /proc");
  CHECK(open("/proc/newfile", O_CREAT | O_WRONLY, 0644) == -1, "create in /proc");
}

static void test_hostname(void) {
  struct utsname u;
  uname(&u);
  char* s = slurp("/proc/sys/kernel/hostname", NULL);
  char want[80];
  snprintf(want, sizeof(want), "%s\n", u.nodename);
  CHECK(s && strcmp(s, want) == 0, "hostname %s vs %s", s ? s : "", u.nodename);
  free(s);
  if (getenv("PROCFS_TEST_NO_HOSTNAME")) return;  /* natively: do not rename the host */
  CHECK(sethostname("capsule-test", 12) == 0, "sethostname");
  s = slurp("/proc/sys/kernel/hostname", NULL);
  CHECK(s && strcmp(s, "capsule-test\n") == 0, "hostname now %s", s ? s : "");
  free(s);
  int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, "via-proc\n", 9) == 9, "write hostname");
  if (fd >= 0) close(fd);
  uname(&u);
  CHECK(strcmp(u.nodename, "via-proc") == 0, "uname after the write: %s", u.nodename);
}

int main(int argc, char** argv) {
  g_argc = argc;
  g_argv = argv;
  int cpus = 0;
  long mem = 0;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "cpus=", 5) == 0) cpus = atoi(argv[i] + 5);
    if (strncmp(argv[i], "mem=", 4) == 0) mem = atol(argv[i] + 4);
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  test_exe();
  test_fds();
  test_status_threads();
  test_maps();
  test_cmdline_environ_auxv();
  test_stat_line();
  test_misc_self();
  test_system(cpus, mem);
  test_hostname();
  if (g_failures) {
    printf("%d checks failed\n", g_failures);
    return 1;
  }
  printf("PASS procfs\n");
  return 0;
}
