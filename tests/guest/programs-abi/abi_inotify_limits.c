/* inotify's limits (issue 17, docs/limits.md, docs/inotify.md):
 * inotify_add_watch past /proc/sys/fs/inotify/max_user_watches is ENOSPC,
 * inotify_init past max_user_instances is EMFILE; rm_watch and close give
 * the room back. The sysctls are written in the VM only (on the host they
 * are the machine's); there the program checks that they read as numbers. */
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define DIR_ "/tmp/abi_inotify_limits"

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static long get(const char* name) {
  char path[128], b[32] = {0};
  snprintf(path, sizeof path, "/proc/sys/fs/inotify/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n > 0 ? atol(b) : -1;
}

static int set(const char* name, long v) {
  char path[128], b[32];
  snprintf(path, sizeof path, "/proc/sys/fs/inotify/%s", name);
  int len = snprintf(b, sizeof b, "%ld\n", v);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  ssize_t n = write(fd, b, (size_t)len);
  close(fd);
  return n == len ? 0 : -1;
}

int main(void) {
  long watches = get("max_user_watches"), instances = get("max_user_instances");
  CHECK(watches > 0 && instances > 0, "limits %ld %ld", watches, instances);
  if (!in_capsule()) return finish("abi_inotify_limits");

  mkdir("/tmp", 01777);
  CHECK(mkdir(DIR_, 0755) == 0 || errno == EEXIST, "mkdir: %s", strerror(errno));
  enum { FILES = 12 };
  char names[FILES][64];
  for (int i = 0; i < FILES; ++i) {
    snprintf(names[i], sizeof names[i], DIR_ "/f%d", i);
    close(open(names[i], O_CREAT | O_WRONLY, 0644));
  }
  /* Watches: 10 distinct files, then ENOSPC; the same file again is no
   * new watch (it updates the mask); rm_watch gives one back. */
  CHECK(set("max_user_watches", 10) == 0, "lower max_user_watches: %s", strerror(errno));
  int in = inotify_init1(IN_CLOEXEC);
  int wd[FILES];
  int made = 0;
  for (; made < FILES; ++made) {
    wd[made] = inotify_add_watch(in, names[made], IN_MODIFY);
    if (wd[made] < 0) break;
  }
  CHECK(made == 10 && errno == ENOSPC, "%d watches, then errno %d (%s)", made, errno, strerror(errno));
  CHECK(inotify_add_watch(in, names[0], IN_ATTRIB) == wd[0], "an existing watch is updated at the limit");
  CHECK(inotify_rm_watch(in, wd[3]) == 0, "rm_watch");
  CHECK(inotify_add_watch(in, names[10], IN_MODIFY) >= 0, "one more after rm_watch: %s", strerror(errno));
  EXPECT_ERR(ENOSPC, inotify_add_watch(in, names[11], IN_MODIFY));
  /* A second instance shares the bound; closing the first frees its. */
  int in2 = inotify_init1(IN_CLOEXEC);
  EXPECT_ERR(ENOSPC, inotify_add_watch(in2, names[11], IN_MODIFY));
  close(in);
  CHECK(inotify_add_watch(in2, names[11], IN_MODIFY) >= 0, "after closing the first instance: %s", strerror(errno));
  close(in2);
  CHECK(set("max_user_watches", watches) == 0, "restore max_user_watches");

  /* Instances: two more than now, then EMFILE. */
  int probe = inotify_init1(IN_CLOEXEC);
  close(probe);
  CHECK(set("max_user_instances", 2) == 0, "lower max_user_instances: %s", strerror(errno));
  int a = inotify_init1(IN_CLOEXEC), b = inotify_init1(IN_CLOEXEC);
  CHECK(a >= 0 && b >= 0, "two instances");
  EXPECT_ERR(EMFILE, inotify_init1(IN_CLOEXEC));
  close(a);
  int c = inotify_init1(IN_CLOEXEC);
  CHECK(c >= 0, "one again after a close: %s", strerror(errno));
  close(b);
  close(c);
  CHECK(set("max_user_instances", instances) == 0, "restore max_user_instances");
  for (int i = 0; i < FILES; ++i) unlink(names[i]);
  rmdir(DIR_);
  return finish("abi_inotify_limits");
}
