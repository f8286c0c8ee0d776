/* File permissions for non-root credentials (fs/vfs/permission.cc): as
 * root, a tree in a fresh mkdtemp directory under /tmp; then forked
 * children check Linux's discretionary access control with the errno
 * Linux gives (EACCES for a missing permission, EPERM for a missing
 * privilege or ownership):
 *  - "user": uid/gid 65534 with supplementary group 100 (setgroups,
 *    setgid, setuid): search on the walk, read/write on open, O_TRUNC,
 *    O_CREAT, write+search on the parent for every name change, the sticky
 *    bit, chmod/chown/utimensat/truncate, access, execve, mknod, the
 *    set-id bits a write or chown clears, a set-group-ID directory.
 *  - "euid": real uid 0, effective 65534: access(2) asks as the real user,
 *    AT_EACCESS and open as the effective one.
 *  - "caps": stays uid 0 and drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
 *    CAP_FOWNER, CAP_CHOWN, CAP_MKNOD one after the other (capset): each
 *    check bites once its capability is gone.
 * The host's fs.protected_hardlinks=1 (Debian's default) is what Capsule
 * implements: a hard link to another user's file it cannot read and write
 * is EPERM. Root's own view (x needs an x bit) at the end. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>

#define NOBODY 65534
#define GROUP 100

/* linux/capability.h (musl has none). */
#define CAP_VERSION_3 0x20080522
#define CAP_CHOWN 0
#define CAP_DAC_OVERRIDE 1
#define CAP_DAC_READ_SEARCH 2
#define CAP_FOWNER 3
#define CAP_FSETID 4
#define CAP_MKNOD 27
struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};

static char T[64];

/* T/name, in one of 8 rotating buffers. */
static const char* P(const char* name) {
  static char bufs[8][256];
  static int next;
  char* b = bufs[next++ & 7];
  snprintf(b, 256, "%s/%s", T, name);
  return b;
}

static void make_file(const char* name, mode_t mode, uid_t uid, gid_t gid, const char* text) {
  int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  CHECK(fd >= 0, "create %s: %s", name, strerror(errno));
  if (fd < 0) return;
  if (text) CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", name);
  close(fd);
  CHECK(chown(P(name), uid, gid) == 0, "chown %s: %s", name, strerror(errno));
  CHECK(chmod(P(name), mode) == 0, "chmod %s: %s", name, strerror(errno));
}

static void make_dir(const char* name, mode_t mode, uid_t uid, gid_t gid) {
  CHECK(mkdir(P(name), 0700) == 0, "mkdir %s: %s", name, strerror(errno));
  CHECK(chown(P(name), uid, gid) == 0, "chown %s: %s", name, strerror(errno));
  CHECK(chmod(P(name), mode) == 0, "chmod %s: %s", name, strerror(errno));
}

static mode_t mode_of(const char* name) {
  struct stat st;
  if (lstat(P(name), &st) != 0) return (mode_t)-1;
  return st.st_mode & 07777;
}

static void prepare(void) {
  umask(0);
  /* The test's initrd may have no /tmp (the host's is there already). */
  if (mkdir("/tmp", 01777) != 0) CHECK(errno == EEXIST, "mkdir /tmp: %s", strerror(errno));
  strcpy(T, "/tmp/abi_perm.XXXXXX");
  CHECK(mkdtemp(T) != NULL, "mkdtemp: %s", strerror(errno));
  CHECK(chmod(T, 0755) == 0, "chmod tree");
  make_dir("noexec", 0700, 0, 0);         /* no search for others */
  make_file("noexec/f", 0644, 0, 0, "x");
  make_dir("listonly", 0711, 0, 0);       /* search, no read */
  make_file("listonly/f", 0644, 0, 0, "x");
  make_dir("ro", 0755, 0, 0);             /* not writable by others */
  make_file("ro/f", 0666, 0, 0, "x");
  make_dir("rw", 0777, 0, 0);
  make_file("rw/rootf", 0644, 0, 0, "x");
  make_file("rw/wf", 0666, 0, 0, "x");
  make_file("rw/setid", 06666, 0, 0, "x");
  make_dir("rw/rootdir", 0755, 0, 0);
  make_dir("rw2", 0777, 0, 0);
  make_dir("sticky", 01777, 0, 0);
  make_file("sticky/rootf", 0666, 0, 0, "x");
  make_dir("sgid", 02777, 0, GROUP);
  make_file("secret", 0600, 0, 0, "secret");
  make_file("pub", 0644, 0, 0, "pub");
  make_file("grp", 0640, 0, GROUP, "g");      /* readable through group 100 */
  make_file("grp0604", 0604, 0, GROUP, "g");  /* group class reads nothing */
  make_file("mine", 0644, NOBODY, NOBODY, "m");
  make_file("mine0077", 0077, NOBODY, NOBODY, "m");  /* owner class reads nothing */
  make_file("mine_suid", 06755, NOBODY, NOBODY, "m");
  make_file("mine_root_group", 0644, NOBODY, 0, "m");
  make_file("other600", 0600, NOBODY, NOBODY, "o");
  make_file("exe_root", 0700, 0, 0, "\x01\x02\x03 not a program\n");
  make_file("exe_all", 0755, 0, 0, "\x01\x02\x03 not a program\n");
  make_file("noexe", 0644, 0, 0, "\x01\x02\x03 not a program\n");
  CHECK(symlink("pub", P("rootlink")) == 0, "symlink: %s", strerror(errno));
}

static void rm_tree(const char* path, int depth) {
  struct stat st;
  if (depth > 8 || lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path);
    if (d) {
      struct dirent* e;
      char sub[512];
      while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_tree(sub, depth + 1);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int try_open(const char* name, int flags) {
  int fd = open(P(name), flags, 0644);
  if (fd >= 0) close(fd);
  return fd >= 0 ? 0 : -1;
}

static void user_checks(void) {
  gid_t groups[1] = {GROUP};
  CHECK(syscall(SYS_setgroups, 1, groups) == 0, "setgroups: %s", strerror(errno));
  CHECK(syscall(SYS_setgid, NOBODY) == 0, "setgid: %s", strerror(errno));
  CHECK(syscall(SYS_setuid, NOBODY) == 0, "setuid: %s", strerror(errno));
  umask(022);
  struct stat st;

  /* Search permission on every directory of the walk. */
  EXPECT_ERR(EACCES, try_open("noexec/f", O_RDONLY));
  EXPECT_ERR(EACCES, stat(P("noexec/f"), &st));
  EXPECT_ERR(EACCES, stat(P("noexec/."), &st));
  EXPECT_ERR(EACCES, stat(P("noexec/../pub"), &st));
  EXPECT_ERR(EACCES, stat(P("noexec/missing"), &st));  /* EACCES before ENOENT */
  EXPECT_ERR(EACCES, mkdir(P("noexec/d"), 0755));
  EXPECT_ERR(EACCES, unlink(P("noexec/f")));
  EXPECT_ERR(EACCES, chdir(P("noexec")));
  EXPECT_OK(stat(P("noexec"), &st));                   /* the name itself is in T */
  EXPECT_ERR(EACCES, try_open("noexec", O_RDONLY | O_DIRECTORY));
  EXPECT_OK(stat(P("listonly/f"), &st));              /* x without r: names work */
  EXPECT_ERR(EACCES, try_open("listonly", O_RDONLY | O_DIRECTORY));
  EXPECT_OK(try_open("listonly/f", O_RDONLY));

  /* Read and write on open; O_TRUNC is a write. */
  EXPECT_ERR(EACCES, try_open("secret", O_RDONLY));
  EXPECT_ERR(EACCES, try_open("secret", O_WRONLY));
  EXPECT_OK(try_open("pub", O_RDONLY));
  EXPECT_ERR(EACCES, try_open("pub", O_WRONLY));
  EXPECT_ERR(EACCES, try_open("pub", O_RDWR));
  EXPECT_ERR(EACCES, try_open("pub", O_RDONLY | O_TRUNC));
  CHECK(stat(P("pub"), &st) == 0 && st.st_size == 3, "pub untouched");
  EXPECT_OK(try_open("pub", O_PATH));                 /* O_PATH needs no permission */
  EXPECT_ERR(EPERM, try_open("pub", O_RDONLY | O_NOATIME));
  EXPECT_OK(try_open("mine", O_RDONLY | O_NOATIME));
  /* Classes: the first that matches decides. */
  EXPECT_OK(try_open("grp", O_RDONLY));               /* supplementary group 100 */
  EXPECT_ERR(EACCES, try_open("grp0604", O_RDONLY));  /* other's r does not help a member */
  EXPECT_ERR(EACCES, try_open("mine0077", O_RDONLY)); /* nor group/other's the owner */

  /* O_CREAT: write on the directory for a new name only. */
  EXPECT_ERR(EACCES, try_open("ro/new", O_CREAT | O_WRONLY));
  EXPECT_OK(try_open("ro/f", O_CREAT | O_WRONLY));    /* exists, writable */
  EXPECT_ERR(EEXIST, try_open("ro/f", O_CREAT | O_EXCL | O_WRONLY));
  {
    /* A file this open creates is opened whatever its mode. */
    int fd = open(P("rw/mode0"), O_CREAT | O_RDWR, 0);
    CHECK(fd >= 0, "create mode 0: %s", strerror(errno));
    if (fd >= 0) CHECK(write(fd, "ab", 2) == 2, "write to mode 0 file");
    if (fd >= 0) close(fd);
    EXPECT_ERR(EACCES, try_open("rw/mode0", O_RDONLY));
    CHECK(stat(P("rw/mode0"), &st) == 0 && st.st_uid == NOBODY && st.st_gid == NOBODY, "owner %u:%u",
          st.st_uid, st.st_gid);
  }

  /* Names in a directory the caller cannot write. */
  EXPECT_ERR(EACCES, mkdir(P("ro/d"), 0755));
  EXPECT_ERR(EEXIST, mkdir(P("ro/f"), 0755));         /* existence is checked first */
  EXPECT_ERR(EACCES, unlink(P("ro/f")));
  EXPECT_ERR(ENOENT, unlink(P("ro/missing")));
  EXPECT_ERR(EACCES, rename(P("ro/f"), P("rw/x")));
  EXPECT_ERR(EACCES, rename(P("rw/wf"), P("ro/x")));
  EXPECT_ERR(EACCES, link(P("mine"), P("ro/l")));
  EXPECT_ERR(EACCES, symlink("x", P("ro/s")));
  EXPECT_ERR(EACCES, mknod(P("ro/fifo"), S_IFIFO | 0644, 0));
  EXPECT_ERR(EACCES, mknod(P("ro/chr"), S_IFCHR | 0644, makedev(1, 3)));  /* EACCES before EPERM */

  /* A writable directory: anyone's file goes (no sticky bit). */
  EXPECT_OK(mkdir(P("rw/d"), 0755));
  EXPECT_OK(rmdir(P("rw/d")));
  EXPECT_OK(mknod(P("rw/fifo"), S_IFIFO | 0644, 0));
  EXPECT_ERR(EPERM, mknod(P("rw/chr"), S_IFCHR | 0644, makedev(1, 3)));
  EXPECT_OK(symlink("pub", P("rw/s")));
  EXPECT_OK(rename(P("rw/rootdir"), P("rw/rootdir2")));  /* same parent: no write on it needed */
  EXPECT_ERR(EACCES, rename(P("rw/rootdir2"), P("rw2/rootdir")));  /* its ".." would change */
  EXPECT_OK(mkdir(P("rw/mydir"), 0755));
  EXPECT_OK(rename(P("rw/mydir"), P("rw2/mydir")));
  EXPECT_OK(unlink(P("rw/rootf")));
  /* Hard links (fs.protected_hardlinks): own files, or files it may read and write. */
  EXPECT_OK(link(P("mine"), P("rw/l1")));
  EXPECT_OK(link(P("rw/wf"), P("rw/l2")));
  EXPECT_ERR(EPERM, link(P("pub"), P("rw/l3")));

  /* The sticky bit. */
  EXPECT_ERR(EPERM, unlink(P("sticky/rootf")));
  EXPECT_ERR(EPERM, rename(P("sticky/rootf"), P("sticky/z")));
  EXPECT_OK(try_open("sticky/own", O_CREAT | O_WRONLY));
  EXPECT_OK(rename(P("sticky/own"), P("sticky/own2")));
  EXPECT_OK(unlink(P("sticky/own2")));

  /* chmod: the owner only; set-group-ID only in one of its groups. */
  EXPECT_ERR(EPERM, chmod(P("pub"), 0777));
  EXPECT_OK(chmod(P("mine"), 02755));
  CHECK(mode_of("mine") == 02755, "mine %o", mode_of("mine"));
  EXPECT_OK(chmod(P("mine_root_group"), 02755));
  CHECK(mode_of("mine_root_group") == 0755, "setgid dropped: %o", mode_of("mine_root_group"));
  {
    int fd = open(P("pub"), O_RDONLY);
    EXPECT_ERR(EPERM, fchmod(fd, 0600));
    close(fd);
  }

  /* chown: the owner may set its own uid and a group of its own. */
  EXPECT_ERR(EPERM, chown(P("mine"), 0, -1));
  EXPECT_OK(chown(P("mine"), NOBODY, -1));
  EXPECT_OK(chown(P("mine"), -1, GROUP));
  EXPECT_ERR(EPERM, chown(P("mine"), -1, 0));
  EXPECT_ERR(EPERM, chown(P("pub"), -1, NOBODY));
  EXPECT_OK(chown(P("pub"), -1, -1));                 /* no change: anyone */
  EXPECT_ERR(EPERM, lchown(P("rootlink"), -1, GROUP)); /* the link is root's... */
  EXPECT_OK(lchown(P("rw/l1"), -1, NOBODY));          /* ...l1 is mine */
  /* chown of a non-directory clears set-user-ID (and set-group-ID when
   * group-executable). */
  EXPECT_OK(chown(P("mine_suid"), -1, GROUP));
  CHECK(mode_of("mine_suid") == 0755, "after chown %o", mode_of("mine_suid"));

  /* A write by a caller without CAP_FSETID clears set-user-ID and a
   * set-group-ID bit of a group not its own. */
  {
    int fd = open(P("rw/setid"), O_WRONLY);
    CHECK(fd >= 0 && write(fd, "y", 1) == 1, "write setid: %s", strerror(errno));
    if (fd >= 0) close(fd);
    CHECK(mode_of("rw/setid") == 0666, "after write %o", mode_of("rw/setid"));
    EXPECT_OK(chmod(P("mine"), 04755));
    fd = open(P("mine"), O_WRONLY);
    CHECK(fd >= 0 && write(fd, "y", 0) == 0, "empty write");
    CHECK(mode_of("mine") == 04755, "an empty write changes nothing: %o", mode_of("mine"));
    CHECK(fd >= 0 && write(fd, "y", 1) == 1, "write own suid");
    if (fd >= 0) close(fd);
    CHECK(mode_of("mine") == 0755, "the owner's write clears it too: %o", mode_of("mine"));
  }

  /* utimensat: "now" needs write permission, explicit times ownership. */
  struct timespec now2[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  struct timespec set2[2] = {{1000, 0}, {2000, 0}};
  struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  EXPECT_ERR(EACCES, utimensat(AT_FDCWD, P("pub"), NULL, 0));
  EXPECT_ERR(EACCES, utimes(P("pub"), NULL));
  EXPECT_ERR(EPERM, utimensat(AT_FDCWD, P("pub"), set2, 0));
  EXPECT_OK(utimensat(AT_FDCWD, P("rw/wf"), NULL, 0));
  EXPECT_OK(utimensat(AT_FDCWD, P("rw/wf"), now2, 0));
  EXPECT_ERR(EPERM, utimensat(AT_FDCWD, P("rw/wf"), set2, 0));
  EXPECT_ERR(EPERM, utimensat(AT_FDCWD, P("rw/wf"), now_omit, 0));
  EXPECT_OK(utimensat(AT_FDCWD, P("mine"), set2, 0));
  CHECK(stat(P("mine"), &st) == 0 && st.st_mtime == 2000, "mtime %ld", (long)st.st_mtime);

  /* truncate needs write permission. */
  EXPECT_ERR(EACCES, truncate(P("pub"), 0));
  EXPECT_OK(truncate(P("ro/f"), 0));

  /* access(2). */
  EXPECT_ERR(EACCES, access(P("secret"), R_OK));
  EXPECT_OK(access(P("secret"), F_OK));
  EXPECT_OK(access(P("pub"), R_OK));
  EXPECT_ERR(EACCES, access(P("pub"), W_OK));
  EXPECT_ERR(EACCES, access(P("noexec/f"), F_OK));
  EXPECT_OK(access(P("grp"), R_OK));
  EXPECT_ERR(EACCES, access(P("exe_root"), X_OK));
  EXPECT_OK(access(P("exe_all"), X_OK));

  /* execve: execute permission (then the format). */
  char* argv[] = {"x", NULL};
  char* envp[] = {NULL};
  EXPECT_ERR(EACCES, execve(P("exe_root"), argv, envp));
  EXPECT_ERR(EACCES, execve(P("noexe"), argv, envp));
  EXPECT_ERR(ENOEXEC, execve(P("exe_all"), argv, envp));
  EXPECT_ERR(EACCES, execve(P("noexec/f"), argv, envp));

  /* A set-group-ID directory gives its group, and to new directories its bit. */
  EXPECT_OK(try_open("sgid/f", O_CREAT | O_WRONLY));
  CHECK(stat(P("sgid/f"), &st) == 0 && st.st_gid == GROUP, "gid %u", st.st_gid);
  EXPECT_OK(mkdir(P("sgid/d"), 0755));
  CHECK(stat(P("sgid/d"), &st) == 0 && st.st_gid == GROUP && (st.st_mode & 07777) == 02755, "dir %u %o",
        st.st_gid, st.st_mode & 07777);
}

static void euid_checks(void) {
  CHECK(syscall(SYS_setresuid, 0, NOBODY, 0) == 0, "setresuid: %s", strerror(errno));
  EXPECT_OK(access(P("secret"), R_OK));                 /* the real uid is 0 */
  EXPECT_OK(faccessat(AT_FDCWD, P("secret"), R_OK, 0));
  EXPECT_ERR(EACCES, faccessat(AT_FDCWD, P("secret"), R_OK, AT_EACCESS));
  EXPECT_ERR(EACCES, try_open("secret", O_RDONLY));
  EXPECT_OK(faccessat(AT_FDCWD, P("pub"), R_OK, AT_EACCESS));
  EXPECT_ERR(EACCES, faccessat(AT_FDCWD, P("noexec/f"), F_OK, AT_EACCESS));
}

static long drop_caps(uint64_t drop) {
  struct cap_header h = {CAP_VERSION_3, 0};
  struct cap_data d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) != 0) return -1;
  d[0].effective &= ~(uint32_t)drop;
  return syscall(SYS_capset, &h, d);
}

static void cap_checks(void) {
  struct timespec set2[2] = {{1000, 0}, {2000, 0}};
  /* Root with every capability: other600 is 0600 nobody's. */
  EXPECT_OK(try_open("other600", O_RDWR));
  CHECK(drop_caps(1u << CAP_DAC_OVERRIDE) == 0, "capset: %s", strerror(errno));
  EXPECT_OK(try_open("other600", O_RDONLY));  /* CAP_DAC_READ_SEARCH reads */
  EXPECT_ERR(EACCES, try_open("other600", O_WRONLY));
  EXPECT_OK(try_open("noexec/f", O_RDONLY));  /* own tree: owner bits */
  EXPECT_OK(chmod(P("other600"), 0600));      /* CAP_FOWNER */
  EXPECT_OK(access(P("other600"), W_OK));     /* access(2): a real root has its permitted set */
  CHECK(drop_caps(1u << CAP_DAC_READ_SEARCH) == 0, "capset: %s", strerror(errno));
  EXPECT_ERR(EACCES, try_open("other600", O_RDONLY));
  EXPECT_OK(try_open("secret", O_RDWR));      /* root owns it */
  EXPECT_ERR(EACCES, mkdir(P("rw2/mydir/x"), 0755));  /* nobody's 0755 directory */
  CHECK(drop_caps(1u << CAP_FOWNER) == 0, "capset: %s", strerror(errno));
  EXPECT_ERR(EPERM, chmod(P("other600"), 0644));
  EXPECT_ERR(EPERM, utimensat(AT_FDCWD, P("other600"), set2, 0));
  EXPECT_OK(chown(P("other600"), 0, -1));     /* CAP_CHOWN: now root's */
  EXPECT_OK(chown(P("other600"), NOBODY, -1));
  CHECK(drop_caps(1u << CAP_CHOWN) == 0, "capset: %s", strerror(errno));
  EXPECT_ERR(EPERM, chown(P("other600"), 0, -1));
  EXPECT_OK(mknod(P("rw2/chr"), S_IFCHR | 0600, makedev(1, 3)));
  EXPECT_OK(unlink(P("rw2/chr")));
  CHECK(drop_caps(1u << CAP_MKNOD) == 0, "capset: %s", strerror(errno));
  EXPECT_ERR(EPERM, mknod(P("rw2/chr"), S_IFCHR | 0600, makedev(1, 3)));
  EXPECT_OK(mknod(P("rw2/fifo"), S_IFIFO | 0600, 0));
}

/* Runs fn in a child; its checks and failures come back through a pipe. */
static void in_child(const char* what, void (*fn)(void)) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    fn();
    int counts[2] = {g_checks, g_failures};
    fflush(stdout);
    (void)!write(p[1], counts, sizeof counts);
    _exit(0);
  }
  close(p[1]);
  int counts[2] = {0, 0};
  ssize_t n = read(p[0], counts, sizeof counts);
  close(p[0]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s child status %x",
        what, status);
  CHECK(n == sizeof counts, "%s child reported %zd bytes", what, n);
  /* The child's counters started from the parent's at fork. */
  if (n == sizeof counts) {
    g_checks = counts[0];
    g_failures = counts[1];
  }
}

int main(void) {
  if (geteuid() != 0) {
    printf("abi_perm: needs root\n");
    return 1;
  }
  prepare();
  in_child("user", user_checks);
  in_child("euid", euid_checks);
  in_child("caps", cap_checks);
  /* Root: execute needs an x bit somewhere; everything else is allowed. */
  char* argv[] = {"x", NULL};
  char* envp[] = {NULL};
  EXPECT_ERR(EACCES, execve(P("noexe"), argv, envp));
  EXPECT_ERR(ENOEXEC, execve(P("exe_root"), argv, envp));
  EXPECT_ERR(EACCES, access(P("noexe"), X_OK));
  EXPECT_OK(access(P("other600"), R_OK | W_OK));
  EXPECT_OK(try_open("noexec/f", O_RDWR));
  EXPECT_OK(unlink(P("sticky/rootf")));
  rm_tree(T, 0);
  struct stat st;
  CHECK(stat(T, &st) != 0, "tree removed");
  return finish("abi_perm");
}
