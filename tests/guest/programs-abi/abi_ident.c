/* Identity syscalls: uname, sethostname/setdomainname, the uid/gid family,
 * supplementary groups, process groups and sessions, umask, personality.
 * Capsule's process starts as root; the checks that change credentials
 * run only inside Capsule (never against a host). */
#include "check.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static void test_uname(int capsule) {
  struct utsname u;
  CHECK(syscall(SYS_uname, &u) == 0, "uname");
  CHECK(strcmp(u.sysname, "Linux") == 0, "sysname %s", u.sysname);
  CHECK(strcmp(u.machine, "x86_64") == 0, "machine %s", u.machine);
  EXPECT_ERR(EFAULT, syscall(SYS_uname, BAD_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_uname, KERNEL_PTR));
  if (!capsule) return;
  CHECK(strncmp(u.release, "6.1", 3) == 0, "release %s", u.release);
  CHECK(strcmp(u.nodename, "capsule") == 0, "nodename %s", u.nodename);
  CHECK(syscall(SYS_sethostname, "guest-42", 8) == 0, "sethostname");
  CHECK(syscall(SYS_setdomainname, "example.org", 11) == 0, "setdomainname");
  CHECK(syscall(SYS_uname, &u) == 0 && strcmp(u.nodename, "guest-42") == 0, "new nodename %s", u.nodename);
  CHECK(strcmp(u.domainname, "example.org") == 0, "new domainname %s", u.domainname);
  char h[80];
  CHECK(gethostname(h, sizeof h) == 0 && strcmp(h, "guest-42") == 0, "gethostname %s", h);
  char long_name[70];
  memset(long_name, 'x', sizeof long_name);
  EXPECT_ERR(EINVAL, syscall(SYS_sethostname, long_name, 65));
  EXPECT_ERR(EINVAL, syscall(SYS_sethostname, long_name, -1));
  EXPECT_ERR(EFAULT, syscall(SYS_sethostname, BAD_PTR, 5));
  EXPECT_ERR(EFAULT, syscall(SYS_setdomainname, KERNEL_PTR, 5));
  CHECK(syscall(SYS_sethostname, long_name, 64) == 0, "64 characters are fine");
  CHECK(syscall(SYS_uname, &u) == 0 && strlen(u.nodename) == 64, "nodename of 64");
}

static void test_ids(int capsule) {
  if (capsule) {
    CHECK(syscall(SYS_getuid) == 0 && syscall(SYS_geteuid) == 0, "root uid");
    CHECK(syscall(SYS_getgid) == 0 && syscall(SYS_getegid) == 0, "root gid");
  }
  uid_t r = 9, e = 9, s = 9;
  CHECK(syscall(SYS_getresuid, &r, &e, &s) == 0, "getresuid");
  CHECK(r == getuid() && e == geteuid() && s == geteuid(), "getresuid %u %u %u", r, e, s);
  gid_t gr = 9, ge = 9, gs = 9;
  CHECK(syscall(SYS_getresgid, &gr, &ge, &gs) == 0, "getresgid");
  CHECK(gr == getgid() && ge == getegid(), "getresgid %u %u %u", gr, ge, gs);
  EXPECT_ERR(EFAULT, syscall(SYS_getresuid, BAD_PTR, &e, &s));
  EXPECT_ERR(EFAULT, syscall(SYS_getresuid, &r, &e, KERNEL_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_getresgid, &gr, BAD_PTR, &gs));
  EXPECT_ERR(EINVAL, syscall(SYS_setuid, -1));
  EXPECT_ERR(EINVAL, syscall(SYS_setgid, -1));
  CHECK(syscall(SYS_setfsuid, -1) == (long)geteuid(), "setfsuid(-1) reports the fs uid");
  CHECK(syscall(SYS_setfsgid, -1) == (long)getegid(), "setfsgid(-1) reports the fs gid");
  if (!capsule || getuid() != 0) return;

  /* Root may set anything. */
  CHECK(syscall(SYS_setgid, 100) == 0 && getgid() == 100 && getegid() == 100, "setgid(100) as root");
  CHECK(syscall(SYS_setresgid, 0, 0, 0) == 0 && getgid() == 0, "setresgid back to 0");
  CHECK(syscall(SYS_setregid, 5, 6) == 0 && getgid() == 5 && getegid() == 6, "setregid(5, 6)");
  CHECK(syscall(SYS_getresgid, &gr, &ge, &gs) == 0 && gs == 6, "saved gid follows: %u", gs);
  CHECK(syscall(SYS_setresgid, 0, 0, 0) == 0, "gids back to 0");
  CHECK(syscall(SYS_setuid, 0) == 0, "setuid(0) as root");
  /* Drop the effective uid only: the saved uid 0 allows coming back. */
  CHECK(syscall(SYS_setresuid, -1, 1000, -1) == 0 && geteuid() == 1000 && getuid() == 0, "seteuid(1000)");
  EXPECT_ERR(EPERM, syscall(SYS_setgroups, 0, NULL));
  EXPECT_ERR(EPERM, syscall(SYS_sethostname, "x", 1));
  EXPECT_ERR(EPERM, syscall(SYS_setresuid, 7, -1, -1));
  EXPECT_ERR(EPERM, syscall(SYS_setgid, 55));
  CHECK(syscall(SYS_setfsuid, 0) == 1000, "setfsuid returns the old fs uid");
  CHECK(syscall(SYS_setresuid, -1, 0, -1) == 0 && geteuid() == 0, "back to euid 0 via the saved uid");
  CHECK(syscall(SYS_setreuid, -1, 1000) == 0 && geteuid() == 1000, "setreuid(-1, 1000)");
  CHECK(syscall(SYS_getresuid, &r, &e, &s) == 0 && s == 1000, "setreuid moved the saved uid: %u", s);
  CHECK(syscall(SYS_setuid, 0) == 0 && geteuid() == 0, "setuid to the real uid 0 unprivileged");
  CHECK(syscall(SYS_setresuid, 0, 0, 0) == 0, "all uids 0 again");
  /* Dropping everything as root is final. */
  CHECK(syscall(SYS_setuid, 0) == 0, "setuid(0)");
}

static void test_groups(int capsule) {
  int n = syscall(SYS_getgroups, 0, NULL);
  CHECK(n >= 0, "getgroups(0) = %d", n);
  EXPECT_ERR(EINVAL, syscall(SYS_getgroups, -1, NULL));
  if (!capsule) return;
  CHECK(n == 0, "no supplementary groups at start: %d", n);
  gid_t set[3] = {5, 6, 70000};
  CHECK(syscall(SYS_setgroups, 3, set) == 0, "setgroups(3)");
  gid_t got[8] = {0};
  CHECK(syscall(SYS_getgroups, 0, NULL) == 3, "getgroups counts 3");
  EXPECT_ERR(EINVAL, syscall(SYS_getgroups, 2, got));
  CHECK(syscall(SYS_getgroups, 8, got) == 3 && got[0] == 5 && got[1] == 6 && got[2] == 70000, "getgroups list");
  EXPECT_ERR(EFAULT, syscall(SYS_getgroups, 8, BAD_PTR));
  EXPECT_ERR(EINVAL, syscall(SYS_setgroups, -1, set));
  EXPECT_ERR(EINVAL, syscall(SYS_setgroups, 65537, set));
  EXPECT_ERR(EFAULT, syscall(SYS_setgroups, 2, BAD_PTR));
  CHECK(syscall(SYS_setgroups, 0, NULL) == 0 && syscall(SYS_getgroups, 0, NULL) == 0, "setgroups(0)");
}

static void test_sessions(int capsule) {
  long pid = syscall(SYS_getpid);
  long pg = syscall(SYS_getpgrp), sid = syscall(SYS_getsid, 0);
  CHECK(syscall(SYS_getpgid, 0) == pg && syscall(SYS_getpgid, pid) == pg, "getpgid(0) == getpgid(pid) == getpgrp");
  CHECK(syscall(SYS_getsid, pid) == sid, "getsid(pid) == getsid(0)");
  EXPECT_ERR(ESRCH, syscall(SYS_getpgid, 54321));
  EXPECT_ERR(ESRCH, syscall(SYS_getsid, 54321));
  EXPECT_ERR(EINVAL, syscall(SYS_setpgid, 0, -1));
  EXPECT_ERR(ESRCH, syscall(SYS_setpgid, 54321, 0));
  if (!capsule) return;
  CHECK(pg == pid && sid == pid, "pid %ld leads its group %ld and session %ld", pid, pg, sid);
  EXPECT_ERR(EPERM, syscall(SYS_setsid));        /* already a group leader */
  EXPECT_ERR(EPERM, syscall(SYS_setpgid, 0, 0)); /* a session leader */
}

static void test_umask_personality(void) {
  mode_t old = umask(027);
  CHECK(syscall(SYS_umask, 0) == 027, "umask reports 027");
  CHECK(syscall(SYS_umask, 01777) == 0, "umask reports 0");
  CHECK(syscall(SYS_umask, old) == 0777, "only the permission bits are kept");
  long p = syscall(SYS_personality, 0xffffffff);
  CHECK(p >= 0, "personality query = %ld", p);
  CHECK(syscall(SYS_personality, 0x0040000 /*ADDR_NO_RANDOMIZE*/) == p, "personality set returns the old value");
  CHECK(syscall(SYS_personality, 0xffffffff) == 0x0040000, "personality now ADDR_NO_RANDOMIZE");
  CHECK(syscall(SYS_personality, p) == 0x0040000, "personality restored");
  CHECK(syscall(SYS_personality, 0xffffffff) == p, "personality query again");
}

int main(void) {
  int capsule = in_capsule();
  test_uname(capsule);
  test_groups(capsule);
  test_sessions(capsule);
  test_umask_personality();
  test_ids(capsule);
  return finish("abi_ident");
}
