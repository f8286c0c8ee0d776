/* mount(2) and umount2(2) of tmpfs (linux/sys_mount.cc): a fresh file
 * system on a directory, its options, /proc/mounts, nested mounts, and the
 * errors. Natively it runs in a private mount namespace of its own. */
#include "check.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>

/* True when /proc/mounts has a line "SOURCE PATH TYPE ...". */
static int listed(const char* path, const char* type) {
  FILE* f = fopen("/proc/mounts", "r");
  if (!f) return -1;
  char line[512], want[300];
  snprintf(want, sizeof(want), " %s %s ", path, type);
  int found = 0;
  while (fgets(line, sizeof(line), f))
    if (strstr(line, want)) found = 1;
  fclose(f);
  return found;
}

int main(void) {
  enter_temp_dir();
  if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);  /* natively */
  char abs[128];
  snprintf(abs, sizeof(abs), "%s/m", g_dir);
  CHECK(mkdir("m", 0755) == 0, "mkdir");
  struct stat before, st;
  CHECK(stat("m", &before) == 0, "stat");
  int fd = open("m/old", O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0, "a file under the mount point");
  close(fd);

  CHECK(mount("none", "m", "tmpfs", 0, "mode=0700,size=1m") == 0, "mount tmpfs");
  struct statfs sf;
  CHECK(statfs("m", &sf) == 0 && sf.f_type == 0x01021994, "TMPFS_MAGIC: %lx", (long)sf.f_type);
  CHECK(stat("m", &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_dev != before.st_dev,
        "mode %o, a new device", st.st_mode & 07777);
  EXPECT_ERR(ENOENT, access("m/old", F_OK));  /* hidden under the mount */
  CHECK(listed(abs, "tmpfs") == 1, "/proc/mounts lists %s", abs);

  /* size=1m: 2 MiB does not fit. */
  fd = open("m/big", O_CREAT | O_WRONLY, 0644);
  static char chunk[65536];
  long total = 0, w;
  while (total < (2 << 20) && (w = write(fd, chunk, sizeof(chunk))) > 0) total += w;
  CHECK(total < (2 << 20) && errno == ENOSPC, "size=1m stops at %ld bytes", total);
  close(fd);
  unlink("m/big");

  /* A mount on a mount: the lower one is busy until the upper one goes. */
  CHECK(mkdir("m/sub", 0755) == 0, "mkdir in the tmpfs");
  CHECK(mount("none", "m/sub", "tmpfs", 0, NULL) == 0, "nested mount");
  EXPECT_ERR(EBUSY, umount2("m", 0));
  CHECK(umount2("m/sub", 0) == 0, "umount the nested one");
  CHECK(mount(NULL, "m", NULL, MS_REMOUNT, "mode=0700") == 0, "remount");
  fd = open("m/f", O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && write(fd, "x", 1) == 1, "a file in the tmpfs");
  close(fd);
  CHECK(umount("m") == 0, "umount");
  EXPECT_ERR(ENOENT, access("m/f", F_OK));
  CHECK(access("m/old", F_OK) == 0, "the directory's own file is back");
  CHECK(listed(abs, "tmpfs") == 0, "/proc/mounts no longer lists it");

  /* Errors. */
  EXPECT_ERR(ENODEV, mount("none", "m", "nosuchfs", 0, NULL));
  EXPECT_ERR(ENOENT, mount("none", "missing", "tmpfs", 0, NULL));
  EXPECT_ERR(ENOTDIR, mount("none", "m/old", "tmpfs", 0, NULL));
  EXPECT_ERR(EFAULT, mount("none", (char*)16, "tmpfs", 0, NULL));
  EXPECT_ERR(EFAULT, mount("none", "m", (char*)16, 0, NULL));
  EXPECT_ERR(EINVAL, mount("none", "m", "tmpfs", 0, "mode=99999"));
  EXPECT_ERR(EINVAL, mount("none", "m", "tmpfs", 0, "nosuchoption=1"));
  EXPECT_ERR(EINVAL, mount(NULL, "m", NULL, MS_REMOUNT, NULL));  /* not a mount point */
  EXPECT_ERR(EINVAL, umount2("m", 0));
  EXPECT_ERR(EINVAL, umount2("m", 0x100));
  EXPECT_ERR(ENOENT, umount2("missing", 0));
  EXPECT_ERR(EFAULT, umount2((char*)16, 0));
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "propagation change");
  unlink("m/old");
  rmdir("m");
  return finish("mount");
}
