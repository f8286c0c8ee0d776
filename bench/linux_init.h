/* What the benchmark programs do as the Linux guest's /init (next to
 * bench/boot's vmlinux, Debian's cloud kernel): load the kernel's own
 * virtio modules, mount what a program expects, and run the program that
 * the initramfs's /exec names (bench/net/servers.py, bench/disk/start.py
 * write it). Each returns NULL on success, or what failed (errno says why)
 * for the caller's die(). */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* /m/NAME.ko, loaded with finit_module (already loaded is fine). */
static inline const char* linux_load_module(const char* name) {
  static char path[128];
  snprintf(path, sizeof path, "/m/%s.ko", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return path;
  int r = (int)syscall(SYS_finit_module, fd, "", 0);
  int e = errno;
  close(fd);
  errno = e;
  return r != 0 && e != EEXIST ? path : NULL;
}

/* /dev/vda (waited for: virtio_blk probes it after its module loads, up to
 * 5 s) mounted as ext4 on `dir`, made if missing. */
static inline const char* linux_mount_vda(const char* dir) {
  struct stat st;
  for (int i = 0; i < 500 && stat("/dev/vda", &st) != 0; ++i) usleep(10000);
  mkdir(dir, 0755);
  if (mount("/dev/vda", dir, "ext4", 0, NULL) != 0) return "mount /dev/vda";
  return NULL;
}

/* /proc, /dev (devtmpfs; already mounted is fine) and a tmpfs /tmp. */
static inline const char* linux_mount_basics(void) {
  mkdir("/proc", 0555);
  mkdir("/dev", 0755);
  mkdir("/tmp", 01777);
  if (mount("proc", "/proc", "proc", 0, NULL) != 0) return "mount /proc";
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY) return "mount /dev";
  if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL) != 0) return "mount /tmp";
  return NULL;
}

/* The program /exec names: NUL-terminated words, first the KEY=VALUE
 * environment, then the program (an absolute path) and its arguments. */
struct linux_exec {
  char buf[8192];
  char* words[128];
  char** env;   /* NULL-terminated */
  char** argv;  /* NULL-terminated */
};

static inline const char* linux_read_exec(const char* path, struct linux_exec* x) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return path;
  ssize_t len = read(fd, x->buf, sizeof x->buf - 1);
  close(fd);
  if (len <= 0 || x->buf[len - 1] != '\0') {
    errno = EINVAL;
    return "/exec: not NUL-terminated words";
  }
  int n = 0;
  for (char* w = x->buf; w < x->buf + len && n < 126; w += strlen(w) + 1) x->words[n++] = w;
  int env_end = 0;
  while (env_end < n && x->words[env_end][0] != '/' && strchr(x->words[env_end], '=')) ++env_end;
  if (env_end == n) {
    errno = EINVAL;
    return "/exec names no program";
  }
  /* words: env..., NULL, argv..., NULL (the arguments move up one). */
  memmove(x->words + env_end + 1, x->words + env_end, (size_t)(n - env_end) * sizeof(char*));
  x->words[env_end] = NULL;
  x->words[n + 1] = NULL;
  x->env = x->words;
  x->argv = x->words + env_end + 1;
  return NULL;
}

/* Runs it as a child and waits: its wait status in *status. */
static inline const char* linux_run_exec(const struct linux_exec* x, int* status) {
  pid_t pid = fork();
  if (pid < 0) return "fork";
  if (pid == 0) {
    execve(x->argv[0], x->argv, x->env);
    printf("linux_init: FAIL %s: %s\n", x->argv[0], strerror(errno));
    fflush(stdout);
    _exit(127);
  }
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return "waitpid";
  return NULL;
}
