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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../linux_init.h"

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
  if (what) {
    printf("start_init: FAIL %s: %s\n", what, strerror(errno));
    end(1);
  }
}

static void enter_disk(void) {
  die(linux_mount_vda("/newroot"));
  if (chdir("/newroot") != 0) die("chdir /newroot");
  if (umount2("/dev", MNT_DETACH) != 0) die("umount /dev");
  if (chroot(".") != 0) die("chroot");
  if (chdir("/") != 0) die("chdir /");
}

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
  static struct linux_exec x;
  die(linux_read_exec("/exec", &x));  /* from the initramfs, before any chroot */
  mkdir("/dev", 0755);
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY) die("mount /dev");
  for (int i = 0; i < nmods; ++i) die(linux_load_module(mods[i]));
  if (disk) enter_disk();
  die(linux_mount_basics());
  int status;
  die(linux_run_exec(&x, &status));
  printf("start_init: %s exited (status 0x%x)\n", x.argv[0], status);
  end(0);
  return 0;
}
