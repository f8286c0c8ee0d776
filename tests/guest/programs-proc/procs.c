/* /proc/<pid> for every process (docs/pseudo-fs.md "procfs"): the parent
 * reads its children's stat, status, cmdline, environ, comm, fd/, cwd,
 * exe, maps, limits and task/ while they sleep, and a zombie's; /proc
 * lists them all; a reaped child's directory is gone. Passes on the
 * host's Linux too. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

/* The whole of a /proc file (NUL bytes kept); its length, -1 if it cannot
 * be read. */
static long slurp(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t n = 0;
  for (int i = 0; i < 64 && n + 1 < cap; ++i) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  close(fd);
  return (long)n;
}

static long slurp_pid(int pid, const char* what, char* buf, size_t cap) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
  return slurp(path, buf, cap);
}

/* The field after "key:\t" in a status text ("" if none). */
static const char* status_field(const char* text, const char* key, char* out, size_t cap) {
  out[0] = 0;
  size_t kl = strlen(key);
  for (const char* l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
      const char* v = l + kl + 1;
      while (*v == '\t' || *v == ' ') ++v;
      size_t n = 0;
      while (v[n] && v[n] != '\n' && n + 1 < cap) out[n] = v[n], ++n;
      out[n] = 0;
      break;
    }
  }
  return out;
}

struct Stat {
  int pid, ppid, pgrp, session, threads;
  char comm[32], state;
};

static int read_stat(int pid, struct Stat* s) {
  char buf[1024];
  if (slurp_pid(pid, "stat", buf, sizeof buf) <= 0) return -1;
  char* open_paren = strchr(buf, '(');
  char* close_paren = strrchr(buf, ')');
  if (!open_paren || !close_paren) return -1;
  memset(s, 0, sizeof *s);
  s->pid = atoi(buf);
  size_t n = (size_t)(close_paren - open_paren - 1);
  if (n >= sizeof s->comm) n = sizeof s->comm - 1;
  memcpy(s->comm, open_paren + 1, n);
  /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
   * utime stime cutime cstime priority nice num_threads */
  long f[20];
  char st;
  if (sscanf(close_paren + 2, "%c %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", &st, &f[0],
             &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13], &f[14],
             &f[15], &f[16]) != 18)
    return -1;
  s->state = st;
  s->ppid = (int)f[0];
  s->pgrp = (int)f[1];
  s->session = (int)f[2];
  s->threads = (int)f[16];
  return 0;
}

/* Whether /proc lists pid. */
static int listed(int pid) {
  DIR* d = opendir("/proc");
  if (!d) return 0;
  int found = 0;
  struct dirent* e;
  while ((e = readdir(d)))
    if (atoi(e->d_name) == pid) found = 1;
  closedir(d);
  return found;
}

/* Until the child's state letter is `want` (a sleeping child is S once it
 * blocks): bounded, 2000 looks with a yield between. */
static char wait_state(int pid, char want) {
  struct Stat s = {0};
  for (int i = 0; i < 2000; ++i) {
    if (read_stat(pid, &s) == 0 && s.state == want) return want;
    usleep(1000);
  }
  return s.state;
}

static void sleeping_children(const char* self) {
  int ready[2], go[2];
  CHECK(pipe(ready) == 0 && pipe(go) == 0, "pipes");
  char self_cmdline[512];
  long self_len = slurp("/proc/self/cmdline", self_cmdline, sizeof self_cmdline);
  CHECK(self_len > 0, "own cmdline");

  pid_t a = fork();
  if (a == 0) {
    /* Marks of its own the parent looks for: a cwd, a descriptor on a
     * file, a mapping of it, a name, a process group. */
    setpgid(0, 0);
    if (chdir("/tmp") != 0) _exit(90);
    int fd = open("/tmp/procs-marker", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 17) != 17) _exit(91);
    if (ftruncate(fd, 8192) != 0) _exit(92);
    if (mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) _exit(93);
    struct rlimit rl = {1000, 2000};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(94);
    int fdm = open("/proc/self/comm", O_WRONLY);
    if (fdm < 0 || write(fdm, "marked", 6) != 6) _exit(95);
    close(fdm);
    if (write(ready[1], "r", 1) != 1) _exit(96);
    char c;
    _exit(read(go[0], &c, 1) == 1 ? 0 : 97);
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "child a ready");
  CHECK(wait_state(a, 'S') == 'S', "child a sleeping in read is S");

  struct Stat s;
  CHECK(read_stat(a, &s) == 0, "/proc/%d/stat", a);
  CHECK(s.pid == a && s.ppid == getpid() && s.pgrp == a && s.session == getsid(0) && s.threads == 1,
        "stat: pid %d ppid %d pgrp %d session %d threads %d", s.pid, s.ppid, s.pgrp, s.session, s.threads);
  CHECK(strcmp(s.comm, "marked") == 0, "stat comm '%s'", s.comm);

  char buf[4096], v[128];
  CHECK(slurp_pid(a, "status", buf, sizeof buf) > 0, "status");
  char want[32];
  snprintf(want, sizeof want, "%d", (int)getpid());
  CHECK(strcmp(status_field(buf, "PPid", v, sizeof v), want) == 0, "status PPid '%s'", v);
  snprintf(want, sizeof want, "%d", (int)a);
  CHECK(strcmp(status_field(buf, "Pid", v, sizeof v), want) == 0, "status Pid '%s'", v);
  CHECK(strcmp(status_field(buf, "Tgid", v, sizeof v), want) == 0, "status Tgid '%s'", v);
  CHECK(strncmp(status_field(buf, "State", v, sizeof v), "S", 1) == 0, "status State '%s'", v);
  CHECK(strcmp(status_field(buf, "Name", v, sizeof v), "marked") == 0, "status Name '%s'", v);
  CHECK(slurp_pid(a, "comm", buf, sizeof buf) > 0 && strcmp(buf, "marked\n") == 0, "comm '%s'", buf);

  /* fork copied the memory: the same arguments and environment. */
  long n = slurp_pid(a, "cmdline", buf, sizeof buf);
  CHECK(n == self_len && memcmp(buf, self_cmdline, (size_t)n) == 0, "child's cmdline is the parent's (%ld bytes)",
        n);
  char self_env[4096];
  long en = slurp("/proc/self/environ", self_env, sizeof self_env);
  n = slurp_pid(a, "environ", buf, sizeof buf);
  CHECK(n == en && memcmp(buf, self_env, (size_t)n) == 0, "child's environ is the parent's (%ld vs %ld)", n, en);

  char path[96], link[256];
  snprintf(path, sizeof path, "/proc/%d/cwd", a);
  ssize_t ln = readlink(path, link, sizeof link - 1);
  CHECK(ln == 4 && memcmp(link, "/tmp", 4) == 0, "cwd -> '%.*s'", (int)(ln > 0 ? ln : 0), link);
  snprintf(path, sizeof path, "/proc/%d/fd/17", a);
  ln = readlink(path, link, sizeof link - 1);
  CHECK(ln > 0 && (size_t)ln == strlen("/tmp/procs-marker") && memcmp(link, "/tmp/procs-marker", (size_t)ln) == 0,
        "fd/17 -> '%.*s'", (int)(ln > 0 ? ln : 0), link);
  snprintf(path, sizeof path, "/proc/%d/fd/18", a);
  EXPECT_ERR(ENOENT, readlink(path, link, sizeof link));
  snprintf(path, sizeof path, "/proc/%d/fdinfo/17", a);
  CHECK(slurp(path, buf, sizeof buf) > 0 && strstr(buf, "flags:\t0100002"), "fdinfo/17: '%s'", buf);
  /* A magic link: opening it opens the child's file. */
  snprintf(path, sizeof path, "/proc/%d/fd/17", a);
  int fd = open(path, O_RDONLY);
  struct stat st1, st2;
  CHECK(fd >= 0 && fstat(fd, &st1) == 0 && stat("/tmp/procs-marker", &st2) == 0 && st1.st_ino == st2.st_ino,
        "open of fd/17 is the marker file");
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "/proc/%d/exe", a);
  char self_exe[256];
  ssize_t sn = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  ln = readlink(path, link, sizeof link - 1);
  CHECK(ln > 0 && ln == sn && memcmp(link, self_exe, (size_t)ln) == 0, "exe is the parent's");
  (void)self;

  CHECK(slurp_pid(a, "maps", buf, sizeof buf) > 0 && strstr(buf, "/tmp/procs-marker"), "maps names the mapping");
  CHECK(slurp_pid(a, "limits", buf, sizeof buf) > 0 && strstr(buf, "Max open files            1000                 2000"),
        "limits shows the child's RLIMIT_NOFILE");
  int nfd = 0;
  snprintf(path, sizeof path, "/proc/%d/fd", a);
  DIR* d = opendir(path);
  CHECK(d != NULL, "opendir %s", path);
  int saw17 = 0;
  struct dirent* e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    ++nfd;
    if (strcmp(e->d_name, "17") == 0) saw17 = 1;
  }
  if (d) closedir(d);
  CHECK(saw17 && nfd >= 4, "fd/ lists 17 (%d entries)", nfd);
  snprintf(path, sizeof path, "/proc/%d/task", a);
  d = opendir(path);
  int tasks = 0, saw_a = 0;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    ++tasks;
    if (atoi(e->d_name) == a) saw_a = 1;
  }
  if (d) closedir(d);
  CHECK(tasks == 1 && saw_a, "task/ holds the child alone (%d)", tasks);
  snprintf(path, sizeof path, "task/%d/stat", a);
  CHECK(slurp_pid(a, path, buf, sizeof buf) > 0 && atoi(buf) == a, "task/<tid>/stat");
  CHECK(listed(a) && listed(getpid()), "/proc lists the child and the parent");

  /* Our own view is unchanged: /proc/self is us. */
  snprintf(want, sizeof want, "%d", (int)getpid());
  ln = readlink("/proc/self", link, sizeof link - 1);
  CHECK(ln > 0 && (size_t)ln == strlen(want) && memcmp(link, want, (size_t)ln) == 0, "/proc/self");
  CHECK(read_stat(getpid(), &s) == 0 && s.state == 'R', "own state R (%c)", s.state);

  CHECK(write(go[1], "g", 1) == 1, "release a");
  int ws;
  CHECK(waitpid(a, &ws, 0) == a && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child a status %#x", ws);
  close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
  unlink("/tmp/procs-marker");
}

static void zombie(void) {
  pid_t z = fork();
  if (z == 0) _exit(3);
  CHECK(wait_state(z, 'Z') == 'Z', "an exited, unwaited child is Z");
  struct Stat s;
  CHECK(read_stat(z, &s) == 0 && s.ppid == getpid(), "zombie's stat: ppid %d", s.ppid);
  char buf[4096], v[64];
  CHECK(slurp_pid(z, "status", buf, sizeof buf) > 0 &&
            strcmp(status_field(buf, "State", v, sizeof v), "Z (zombie)") == 0,
        "zombie's status State '%s'", v);
  CHECK(slurp_pid(z, "cmdline", buf, sizeof buf) == 0, "a zombie's cmdline is empty");
  CHECK(listed(z), "/proc lists the zombie");
  char path[64], link[64];
  snprintf(path, sizeof path, "/proc/%d/cwd", z);
  EXPECT_ERR(ENOENT, readlink(path, link, sizeof link));
  int ws;
  CHECK(waitpid(z, &ws, 0) == z && WIFEXITED(ws) && WEXITSTATUS(ws) == 3, "reaped");
  CHECK(!listed(z), "/proc no longer lists it");
  snprintf(path, sizeof path, "/proc/%d/stat", z);
  EXPECT_ERR(ENOENT, open(path, O_RDONLY));
  snprintf(path, sizeof path, "/proc/%d", z);
  struct stat st;
  EXPECT_ERR(ENOENT, stat(path, &st));
}

/* Many children at once, all listed with their parent. */
static void many(void) {
  enum { N = 12 };
  pid_t kids[N];
  int go[2];
  CHECK(pipe(go) == 0, "pipe");
  for (int i = 0; i < N; ++i) {
    kids[i] = fork();
    if (kids[i] == 0) {
      char c;
      close(go[1]);
      _exit(read(go[0], &c, 1) == 0 ? 0 : 1);
    }
  }
  close(go[0]);
  for (int i = 0; i < N; ++i) {
    struct Stat s;
    CHECK(listed(kids[i]) && read_stat(kids[i], &s) == 0 && s.ppid == getpid(), "child %d listed, ppid", i);
  }
  close(go[1]);
  for (int i = 0; i < N; ++i) {
    int ws;
    CHECK(waitpid(kids[i], &ws, 0) == kids[i] && ws == 0, "child %d", i);
  }
}

int main(int argc, char** argv) {
  (void)argc;
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777);
  sleeping_children(argv[0]);
  zombie();
  many();
  char buf[64];
  EXPECT_ERR(ENOENT, open("/proc/2147483647/stat", O_RDONLY));
  EXPECT_ERR(ENOENT, open("/proc/99999999999/stat", O_RDONLY));
  (void)buf;
  if (g_failures == 0) printf("PASS procs\n");
  return g_failures ? 1 : 0;
}
