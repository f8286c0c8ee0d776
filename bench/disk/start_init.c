/* bench/disk: /init of the Linux guest for the program-start figures
 * (bench/disk/start.py): a large program (Debian's JVM) started from an
 * initramfs or from an ext4 disk, as Capsule starts it with --root initrd
 * and --root disk.
 *
 * Arguments (the kernel passes the words after "--"):
 *   [--poweroff] [--linux MOD...] [--disk]
 * Loads the modules from /m (the cloud kernel builds virtio as modules),
 * reads /exec from the initramfs (NUL-terminated words: KEY=VALUE
 * environment, then the program and its arguments), and with --disk
 * mounts /dev/vda (the same tree as an ext4 image; the host attaches it
 * with snapshot=on, so writes never reach the file) and changes root to
 * it. Then /proc, /dev and a tmpfs /tmp, the program as a child, its
 * status printed, and the power off. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int poweroff;

static void end(int status) {
  fflush(stdout);
  if (poweroff) {
    sync();
    reboot(RB_POWER_OFF);
  }
  exit(status);
}

static void die(const char* what) {
  printf("start_init: FAIL %s: %s\n", what, strerror(errno));
  end(1);
}

static void load_modules(char** mods, int n) {
  for (int i = 0; i < n; ++i) {
    char path[128];
    snprintf(path, sizeof path, "/m/%s.ko", mods[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) die(path);
    close(fd);
  }
}

static void enter_disk(void) {
  struct stat st;
  for (int i = 0; i < 500 && stat("/dev/vda", &st) != 0; ++i) usleep(10000);
  mkdir("/newroot", 0755);
  if (mount("/dev/vda", "/newroot", "ext4", 0, NULL) != 0) die("mount /dev/vda");
  if (chdir("/newroot") != 0) die("chdir /newroot");
  if (umount2("/dev", MNT_DETACH) != 0) die("umount /dev");
  if (chroot(".") != 0) die("chroot");
  if (chdir("/") != 0) die("chdir /");
}

static char g_exec[8192];

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char** mods = NULL;
  int nmods = 0, disk = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--poweroff") == 0) {
      poweroff = 1;
    } else if (strcmp(argv[i], "--disk") == 0) {
      disk = 1;
    } else if (strcmp(argv[i], "--linux") == 0) {
      mods = argv + i + 1;
      while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) ++i, ++nmods;
    } else {
      printf("usage: start_init [--poweroff] [--linux MOD...] [--disk]\n");
      end(2);
    }
  }
  int fd = open("/exec", O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("/exec");
  ssize_t len = read(fd, g_exec, sizeof g_exec - 1);
  close(fd);
  if (len <= 0 || g_exec[len - 1] != '\0') {
    errno = EINVAL;
    die("/exec: not NUL-terminated words");
  }
  mkdir("/dev", 0755);
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY) die("mount /dev");
  load_modules(mods, nmods);
  if (disk) enter_disk();
  mkdir("/proc", 0555);
  mkdir("/dev", 0755);
  mkdir("/tmp", 01777);
  if (mount("proc", "/proc", "proc", 0, NULL) != 0) die("mount /proc");
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY) die("mount /dev");
  if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL) != 0) die("mount /tmp");
  char* words[128];
  int n = 0;
  for (char* w = g_exec; w < g_exec + len && n < 127; w += strlen(w) + 1) words[n++] = w;
  words[n] = NULL;
  int env_end = 0;
  while (env_end < n && words[env_end][0] != '/' && strchr(words[env_end], '=')) ++env_end;
  if (env_end == n) {
    errno = EINVAL;
    die("/exec names no program");
  }
  char* env[128];
  for (int i = 0; i < env_end; ++i) env[i] = words[i];
  env[env_end] = NULL;
  char** prog = words + env_end;
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execve(prog[0], prog, env);
    die(prog[0]);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  printf("start_init: %s exited (status 0x%x)\n", prog[0], status);
  end(0);
  return 0;
}
