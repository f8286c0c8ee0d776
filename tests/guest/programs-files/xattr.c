/* Extended attributes: the twelve xattr calls and the errors Linux gives
 * (checked first on a Linux host's tmpfs). Run with no argument it works in
 * a fresh directory under /tmp (ramfs in the VM); natively, give it a
 * directory on a tmpfs (/dev/shm) to compare: `xattr /dev/shm`.
 *
 * Bad input and what it gets: unknown namespace EOPNOTSUPP, "user." with
 * no name EINVAL, an empty or 256-byte name ERANGE, a value over 64 KiB
 * E2BIG, bad flags EINVAL, bad pointers EFAULT, a closed descriptor
 * EBADF, a missing file ENOENT, user.* on a symlink or FIFO EPERM (set) /
 * ENODATA (get), a malformed ACL EINVAL (a wrong version EOPNOTSUPP), a
 * default ACL on a file EACCES, an O_PATH descriptor EBADF. */
#include "check.h"

#include <sys/xattr.h>

#ifndef ENODATA
#define ENODATA 61
#endif

static char g_base[128];

static void test_basic(void) {
  CHECK(close(open("f", O_CREAT | O_WRONLY, 0644)) == 0, "create");
  const char val[] = {'a', 0, 'b', '\377', 'c'};
  char buf[64];
  CHECK(setxattr("f", "user.one", val, sizeof val, 0) == 0, "set user.one: %s", strerror(errno));
  CHECK(getxattr("f", "user.one", NULL, 0) == (ssize_t)sizeof val, "size query");
  CHECK(getxattr("f", "user.one", buf, 0) == (ssize_t)sizeof val, "size 0 with a buffer");
  memset(buf, 0x55, sizeof buf);
  CHECK(getxattr("f", "user.one", buf, sizeof buf) == (ssize_t)sizeof val && memcmp(buf, val, sizeof val) == 0,
        "value byte-exact");
  CHECK(buf[sizeof val] == 0x55, "nothing written past the value");
  EXPECT_ERR(ERANGE, getxattr("f", "user.one", buf, 4));
  EXPECT_ERR(ENODATA, getxattr("f", "user.none", buf, sizeof buf));
  /* CREATE / REPLACE. */
  EXPECT_ERR(EEXIST, setxattr("f", "user.one", "x", 1, XATTR_CREATE));
  EXPECT_ERR(ENODATA, setxattr("f", "user.two", "x", 1, XATTR_REPLACE));
  CHECK(setxattr("f", "user.two", "22", 2, XATTR_CREATE) == 0, "CREATE");
  CHECK(setxattr("f", "user.two", "333", 3, XATTR_REPLACE) == 0, "REPLACE");
  CHECK(getxattr("f", "user.two", buf, sizeof buf) == 3 && memcmp(buf, "333", 3) == 0, "replaced value");
  EXPECT_ERR(EINVAL, setxattr("f", "user.two", "x", 1, 4));
  EXPECT_ERR(EINVAL, setxattr("f", "user.two", "x", 1, -1));
  /* An empty value is a value. */
  CHECK(setxattr("f", "user.empty", "", 0, 0) == 0, "empty value");
  CHECK(getxattr("f", "user.empty", buf, sizeof buf) == 0, "empty value reads back as 0 bytes");
  /* Other namespaces (we are root). */
  CHECK(setxattr("f", "trusted.t", "T", 1, 0) == 0, "trusted: %s", strerror(errno));
  CHECK(setxattr("f", "security.s", "S", 1, 0) == 0, "security: %s", strerror(errno));
  CHECK(getxattr("f", "trusted.t", buf, sizeof buf) == 1 && buf[0] == 'T', "trusted value");
  CHECK(getxattr("f", "security.s", buf, sizeof buf) == 1 && buf[0] == 'S', "security value");
  EXPECT_ERR(EOPNOTSUPP, setxattr("f", "foo.bar", "x", 1, 0));
  EXPECT_ERR(EOPNOTSUPP, getxattr("f", "foo.bar", buf, sizeof buf));
  EXPECT_ERR(EOPNOTSUPP, removexattr("f", "foo.bar"));
  EXPECT_ERR(EOPNOTSUPP, setxattr("f", "user", "x", 1, 0));
  EXPECT_ERR(EINVAL, setxattr("f", "user.", "x", 1, 0));
  EXPECT_ERR(EINVAL, getxattr("f", "user.", buf, sizeof buf));
  /* remove. */
  CHECK(removexattr("f", "user.two") == 0, "remove");
  EXPECT_ERR(ENODATA, getxattr("f", "user.two", buf, sizeof buf));
  EXPECT_ERR(ENODATA, removexattr("f", "user.two"));
}

static void test_list(void) {
  CHECK(close(open("l", O_CREAT | O_WRONLY, 0644)) == 0, "create");
  char buf[256];
  CHECK(listxattr("l", buf, sizeof buf) == 0, "a new file lists nothing");
  CHECK(setxattr("l", "user.b", "1", 1, 0) == 0, "set b");
  CHECK(setxattr("l", "user.a", "1", 1, 0) == 0, "set a");
  CHECK(setxattr("l", "trusted.z", "1", 1, 0) == 0, "set trusted.z");
  static const char want[] = "user.b\0user.a\0trusted.z";  /* tmpfs: in the order they were set */
  ssize_t n = listxattr("l", NULL, 0);
  CHECK(n == (ssize_t)sizeof want, "size query %zd", n);
  n = listxattr("l", buf, sizeof buf);
  CHECK(n == (ssize_t)sizeof want && memcmp(buf, want, sizeof want) == 0, "names %zd", n);
  EXPECT_ERR(ERANGE, listxattr("l", buf, 5));
  CHECK(removexattr("l", "user.a") == 0, "remove a");
  n = listxattr("l", buf, sizeof buf);
  CHECK(n == 17 && memcmp(buf, "user.b\0trusted.z", 17) == 0, "after remove %zd", n);
  CHECK(setxattr("l", "user.b", "2", 1, XATTR_REPLACE) == 0, "replace b");
  n = listxattr("l", buf, sizeof buf);
  CHECK(n == 17 && memcmp(buf, "user.b\0trusted.z", 17) == 0, "a replaced one keeps its place %zd", n);
}

static void test_limits(void) {
  CHECK(close(open("m", O_CREAT | O_WRONLY, 0644)) == 0, "create");
  char name[300];
  memset(name, 'n', sizeof name);
  memcpy(name, "user.", 5);
  name[255] = 0;
  CHECK(setxattr("m", name, "v", 1, 0) == 0, "a 255-byte name: %s", strerror(errno));
  name[255] = 'n';
  name[256] = 0;
  EXPECT_ERR(ERANGE, setxattr("m", name, "v", 1, 0));
  EXPECT_ERR(ERANGE, getxattr("m", name, NULL, 0));
  EXPECT_ERR(ERANGE, removexattr("m", name));
  EXPECT_ERR(ERANGE, setxattr("m", "", "v", 1, 0));
  EXPECT_ERR(ERANGE, getxattr("m", "", NULL, 0));
  size_t big = 65536;
  char* v = malloc(big + 1);
  for (size_t i = 0; i <= big; ++i) v[i] = (char)(i * 31 + 7);
  CHECK(setxattr("m", "user.big", v, big, 0) == 0, "a 64 KiB value: %s", strerror(errno));
  EXPECT_ERR(E2BIG, setxattr("m", "user.big2", v, big + 1, 0));
  char* back = malloc(big + 100);
  CHECK(getxattr("m", "user.big", back, big + 100) == (ssize_t)big && memcmp(back, v, big) == 0, "64 KiB back");
  EXPECT_ERR(ERANGE, getxattr("m", "user.big", back, big - 1));
  free(v);
  free(back);
}

static void test_faults(void) {
  CHECK(close(open("e", O_CREAT | O_WRONLY, 0644)) == 0, "create");
  char buf[16];
  EXPECT_ERR(EFAULT, setxattr("e", g_bad, "v", 1, 0));
  EXPECT_ERR(EFAULT, setxattr("e", "user.x", g_bad, 1, 0));
  EXPECT_ERR(EFAULT, setxattr(g_bad, "user.x", "v", 1, 0));
  CHECK(setxattr("e", "user.x", "v", 1, 0) == 0, "set");
  EXPECT_ERR(EFAULT, getxattr("e", "user.x", g_bad, sizeof buf));
  EXPECT_ERR(EFAULT, getxattr("e", g_bad, buf, sizeof buf));
  EXPECT_ERR(EFAULT, listxattr("e", g_bad, sizeof buf));
  EXPECT_ERR(EFAULT, removexattr("e", g_bad));
  EXPECT_ERR(ENOENT, getxattr("missing", "user.x", buf, sizeof buf));
  EXPECT_ERR(ENOENT, setxattr("missing", "user.x", "v", 1, 0));
  EXPECT_ERR(ENOTDIR, listxattr("e/x", buf, sizeof buf));
  EXPECT_ERR(EBADF, fgetxattr(-1, "user.x", buf, sizeof buf));
  EXPECT_ERR(EBADF, fsetxattr(999, "user.x", "v", 1, 0));
  EXPECT_ERR(EBADF, flistxattr(999, buf, sizeof buf));
  EXPECT_ERR(EBADF, fremovexattr(999, "user.x"));
}

static void test_links_and_special(void) {
  CHECK(close(open("target", O_CREAT | O_WRONLY, 0644)) == 0, "create");
  CHECK(symlink("target", "link") == 0, "symlink");
  char buf[64];
  /* The plain forms follow the link; the l- forms name the link. */
  CHECK(setxattr("link", "user.via", "1", 1, 0) == 0, "set through the link");
  CHECK(getxattr("target", "user.via", buf, sizeof buf) == 1, "landed on the target");
  EXPECT_ERR(ENODATA, lgetxattr("link", "user.via", buf, sizeof buf));
  EXPECT_ERR(EPERM, lsetxattr("link", "user.x", "1", 1, 0));
  CHECK(llistxattr("link", buf, sizeof buf) == 0, "the link lists nothing");
  CHECK(listxattr("link", buf, sizeof buf) == 9, "the target lists user.via");
  CHECK(lsetxattr("link", "trusted.l", "L", 1, 0) == 0, "trusted.* on a symlink: %s", strerror(errno));
  CHECK(lgetxattr("link", "trusted.l", buf, sizeof buf) == 1 && buf[0] == 'L', "trusted.* back from the link");
  CHECK(lremovexattr("link", "trusted.l") == 0, "lremovexattr");
  EXPECT_ERR(ENODATA, getxattr("target", "trusted.l", buf, sizeof buf));
  CHECK(lremovexattr("target", "user.via") == 0, "lremovexattr on a file");
  /* A FIFO: user.* is for files and directories only. */
  CHECK(mkfifo("fifo", 0644) == 0, "mkfifo");
  EXPECT_ERR(EPERM, setxattr("fifo", "user.x", "1", 1, 0));
  EXPECT_ERR(ENODATA, getxattr("fifo", "user.x", buf, sizeof buf));
  CHECK(setxattr("fifo", "security.x", "1", 1, 0) == 0, "security.* on a FIFO");
  /* Directories. */
  CHECK(mkdir("d", 0755) == 0, "mkdir");
  CHECK(setxattr("d", "user.dir", "D", 1, 0) == 0, "user.* on a directory");
  CHECK(getxattr("d/", "user.dir", buf, sizeof buf) == 1, "back, with a slash");
}

static void test_fd_forms(void) {
  int fd = open("fdf", O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0, "create");
  char buf[64];
  CHECK(fsetxattr(fd, "user.fd", "F", 1, 0) == 0, "fsetxattr");
  CHECK(fgetxattr(fd, "user.fd", buf, sizeof buf) == 1 && buf[0] == 'F', "fgetxattr");
  CHECK(flistxattr(fd, buf, sizeof buf) == 8 && strcmp(buf, "user.fd") == 0, "flistxattr");
  CHECK(getxattr("fdf", "user.fd", buf, sizeof buf) == 1, "seen by path");
  CHECK(fremovexattr(fd, "user.fd") == 0, "fremovexattr");
  EXPECT_ERR(ENODATA, fgetxattr(fd, "user.fd", buf, sizeof buf));
  close(fd);
  /* A read-only descriptor may still set (permission is the file's). */
  fd = open("fdf", O_RDONLY);
  CHECK(fsetxattr(fd, "user.ro", "R", 1, 0) == 0, "fsetxattr on O_RDONLY");
  close(fd);
  /* O_PATH descriptors do not count (EBADF, as Linux 6.18 on the host). */
  fd = open("fdf", O_PATH);
  CHECK(fd >= 0, "O_PATH");
  EXPECT_ERR(EBADF, fgetxattr(fd, "user.ro", buf, sizeof buf));
  EXPECT_ERR(EBADF, flistxattr(fd, buf, sizeof buf));
  EXPECT_ERR(EBADF, fsetxattr(fd, "user.p", "P", 1, 0));
  EXPECT_ERR(EBADF, fremovexattr(fd, "user.p"));
  close(fd);
  /* A directory descriptor. */
  fd = open(".", O_RDONLY | O_DIRECTORY);
  CHECK(fsetxattr(fd, "user.cwd", "C", 1, 0) == 0, "on a directory fd");
  CHECK(fremovexattr(fd, "user.cwd") == 0, "remove on a directory fd");
  close(fd);
}

/* POSIX ACLs in their xattr form: a version word, then {tag, perm, id}. */
struct acl_entry {
  uint16_t tag, perm;
  uint32_t id;
};
struct acl {
  uint32_t version;
  struct acl_entry e[6];
};
enum { USER_OBJ = 1, USER = 2, GROUP_OBJ = 4, GROUP = 8, MASK = 0x10, OTHER = 0x20 };

static void test_acl(void) {
  CHECK(close(open("a", O_CREAT | O_WRONLY, 0600)) == 0, "create");
  struct stat st;
  char buf[128];
  EXPECT_ERR(ENODATA, getxattr("a", "system.posix_acl_access", buf, sizeof buf));
  /* Equivalent to a mode: the mode changes, no ACL is kept. */
  struct acl m = {2, {{USER_OBJ, 7, 0}, {GROUP_OBJ, 5, 0}, {OTHER, 4, 0}}};
  CHECK(setxattr("a", "system.posix_acl_access", &m, 4 + 3 * 8, 0) == 0, "minimal ACL: %s", strerror(errno));
  CHECK(stat("a", &st) == 0 && (st.st_mode & 07777) == 0754, "mode from the ACL %o", st.st_mode & 07777);
  EXPECT_ERR(ENODATA, getxattr("a", "system.posix_acl_access", buf, sizeof buf));
  /* An extended one is kept byte-exact; the group bits show the mask. */
  /* Entries without a qualifier read back with id -1 (ACL_UNDEFINED_ID),
   * whatever was written there. */
  struct acl x0 = {2, {{USER_OBJ, 6, 0}, {USER, 4, 1000}, {GROUP_OBJ, 4, 0}, {MASK, 5, 7}, {OTHER, 0, 0}}};
  struct acl x = {2, {{USER_OBJ, 6, -1}, {USER, 4, 1000}, {GROUP_OBJ, 4, -1}, {MASK, 5, -1}, {OTHER, 0, -1}}};
  size_t xn = 4 + 5 * 8;
  CHECK(setxattr("a", "system.posix_acl_access", &x0, xn, 0) == 0, "extended ACL: %s", strerror(errno));
  CHECK(getxattr("a", "system.posix_acl_access", buf, sizeof buf) == (ssize_t)xn && memcmp(buf, &x, xn) == 0,
        "ACL byte-exact");
  CHECK(stat("a", &st) == 0 && (st.st_mode & 07777) == 0650, "mode with the mask %o", st.st_mode & 07777);
  ssize_t n = listxattr("a", buf, sizeof buf);
  CHECK(n == 24 && strcmp(buf, "system.posix_acl_access") == 0, "listed %zd", n);
  /* Malformed: wrong version (EOPNOTSUPP), a missing OTHER, a bad tag, a bad size. */
  struct acl bad = x;
  bad.version = 1;
  EXPECT_ERR(EOPNOTSUPP, setxattr("a", "system.posix_acl_access", &bad, xn, 0));
  EXPECT_ERR(EINVAL, setxattr("a", "system.posix_acl_access", &x, xn - 8, 0));
  EXPECT_ERR(EINVAL, setxattr("a", "system.posix_acl_access", &x, xn - 3, 0));
  bad = x;
  bad.e[1].tag = 0x40;
  EXPECT_ERR(EINVAL, setxattr("a", "system.posix_acl_access", &bad, xn, 0));
  EXPECT_ERR(EACCES, setxattr("a", "system.posix_acl_default", &x, xn, 0));
  EXPECT_ERR(EOPNOTSUPP, setxattr("a", "system.other", &x, xn, 0));
  CHECK(removexattr("a", "system.posix_acl_access") == 0, "remove the ACL");
  EXPECT_ERR(ENODATA, getxattr("a", "system.posix_acl_access", buf, sizeof buf));
  /* Removing or emptying an absent ACL is fine (default on a file too). */
  CHECK(removexattr("a", "system.posix_acl_access") == 0, "remove an absent ACL");
  CHECK(removexattr("a", "system.posix_acl_default") == 0, "remove an absent default ACL");
  CHECK(setxattr("a", "system.posix_acl_default", "", 0, 0) == 0, "an empty default ACL on a file");
  CHECK(setxattr("a", "system.posix_acl_access", "", 0, 0) == 0, "an empty ACL");
  /* Symlinks have no ACLs. */
  CHECK(symlink("a", "alink") == 0, "symlink");
  EXPECT_ERR(EOPNOTSUPP, lgetxattr("alink", "system.posix_acl_access", buf, sizeof buf));
  EXPECT_ERR(EOPNOTSUPP, lremovexattr("alink", "system.posix_acl_access"));
  EXPECT_ERR(EOPNOTSUPP, lsetxattr("alink", "system.posix_acl_access", &x, xn, 0));
  /* Directories keep a default ACL. */
  CHECK(mkdir("ad", 0755) == 0, "mkdir");
  CHECK(setxattr("ad", "system.posix_acl_default", &x, xn, 0) == 0, "default ACL: %s", strerror(errno));
  CHECK(getxattr("ad", "system.posix_acl_default", buf, sizeof buf) == (ssize_t)xn && memcmp(buf, &x, xn) == 0,
        "default ACL byte-exact");
  CHECK(stat("ad", &st) == 0 && (st.st_mode & 07777) == 0755, "a default ACL leaves the mode");
}

static void test_pseudo(void) {
  char buf[64];
  /* procfs has no xattrs: get fails, list is empty. */
  EXPECT_ERR(EOPNOTSUPP, getxattr("/proc/self/status", "user.x", buf, sizeof buf));
  EXPECT_ERR(EOPNOTSUPP, getxattr("/proc/self/status", "security.selinux", buf, sizeof buf));
  CHECK(listxattr("/proc/self/status", buf, sizeof buf) == 0, "procfs list");
  EXPECT_ERR(EOPNOTSUPP, setxattr("/proc/self/status", "user.x", "1", 1, 0));
  /* /dev (devtmpfs on Linux) and sysfs answer ENODATA. */
  EXPECT_ERR(ENODATA, getxattr("/dev/null", "security.selinux", buf, sizeof buf));
  CHECK(listxattr("/dev/null", buf, sizeof buf) == 0, "/dev/null list");
  EXPECT_ERR(ENODATA, getxattr("/sys/kernel", "security.selinux", buf, sizeof buf));
  CHECK(listxattr("/sys/kernel", buf, sizeof buf) == 0, "sysfs list");
}

int main(int argc, char** argv) {
  (void)enter_temp_dir; /* check.h's: this program picks its own base */
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777);
  snprintf(g_base, sizeof g_base, "%s/xattr.XXXXXX", argc > 1 ? argv[1] : "/tmp");
  if (!mkdtemp(g_base) || chdir(g_base) != 0) {
    printf("FAIL cannot make a temp directory: %s\n", strerror(errno));
    return 1;
  }
  test_basic();
  test_list();
  test_limits();
  test_faults();
  test_links_and_special();
  test_fd_forms();
  test_acl();
  test_pseudo();
  return finish("xattr");
}
