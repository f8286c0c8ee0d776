/* Capabilities as root sees them (capget/capset, prctl's bounding and
 * ambient sets and securebits, execve, setuid): linux/sys_capability.cc.
 * Runs as root; the sets it starts with are whatever root has (all 41 in
 * the VM, fewer in a container on the host), so each check is relative to
 * them and to /proc/self/status, and the run is the same on the host.
 * Phase 1 drops CAP_MKNOD from the bounding set and re-executes itself;
 * phase 2 ("after_exec") checks what execve gave, then the setuid rules,
 * ending as uid 1000 without capabilities. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define SECBIT_KEEP_CAPS_BIT (1 << 4)
/* linux/capability.h (musl has none). */
#define _LINUX_CAPABILITY_VERSION_1 0x19980330
#define _LINUX_CAPABILITY_VERSION_3 0x20080522
#define CAP_CHOWN 0
#define CAP_SETUID 7
#define CAP_SETPCAP 8
#define CAP_NET_RAW 13
#define CAP_MKNOD 27
struct __user_cap_header_struct {
  uint32_t version;
  int pid;
};
struct __user_cap_data_struct {
  uint32_t effective, permitted, inheritable;
};

struct sets {
  uint64_t eff, prm, inh;
};

static long capget_raw(struct __user_cap_header_struct* h, struct __user_cap_data_struct* d) {
  return syscall(SYS_capget, h, d);
}
static long capset_raw(struct __user_cap_header_struct* h, const struct __user_cap_data_struct* d) {
  return syscall(SYS_capset, h, d);
}

static struct sets get_sets(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  CHECK(capget_raw(&h, d) == 0, "capget: %s", strerror(errno));
  struct sets s = {d[0].effective | (uint64_t)d[1].effective << 32, d[0].permitted | (uint64_t)d[1].permitted << 32,
                   d[0].inheritable | (uint64_t)d[1].inheritable << 32};
  return s;
}

static long set_sets(struct sets s) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {
      {(uint32_t)s.eff, (uint32_t)s.prm, (uint32_t)s.inh},
      {(uint32_t)(s.eff >> 32), (uint32_t)(s.prm >> 32), (uint32_t)(s.inh >> 32)}};
  return capset_raw(&h, d);
}

/* A Cap* line of /proc/self/status. */
static uint64_t status_caps(const char* name) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL, "/proc/self/status: %s", strerror(errno));
  if (!f) return 0;
  char line[256];
  uint64_t v = ~0ull;
  size_t n = strlen(name);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, name, n) && line[n] == ':') v = strtoull(line + n + 1, NULL, 16);
  fclose(f);
  CHECK(v != ~0ull, "no %s line", name);
  return v;
}

static void matches_status(const char* when) {
  struct sets s = get_sets();
  CHECK(status_caps("CapEff") == s.eff, "%s: CapEff %llx, capget %llx", when,
        (unsigned long long)status_caps("CapEff"), (unsigned long long)s.eff);
  CHECK(status_caps("CapPrm") == s.prm, "%s: CapPrm differs from capget", when);
  CHECK(status_caps("CapInh") == s.inh, "%s: CapInh differs from capget", when);
}

#define BIT(c) (1ull << (c))

static void phase1(const char* self) {
  /* Root: effective = permitted = bounding, nothing inheritable or ambient. */
  struct sets s = get_sets();
  uint64_t bnd = status_caps("CapBnd");
  CHECK(s.eff == s.prm && s.prm == bnd && s.inh == 0, "root's sets eff %llx prm %llx inh %llx bnd %llx",
        (unsigned long long)s.eff, (unsigned long long)s.prm, (unsigned long long)s.inh, (unsigned long long)bnd);
  CHECK(s.prm & BIT(CAP_SETUID) && s.prm & BIT(CAP_SETPCAP) && s.prm & BIT(CAP_NET_RAW) && s.prm & BIT(CAP_MKNOD),
        "root lacks a capability this test needs: %llx", (unsigned long long)s.prm);
  CHECK(status_caps("CapAmb") == 0, "ambient set not empty");
  matches_status("start");

  /* The version handshake: an unknown version comes back as the
   * preferred one, with EINVAL, or 0 when data is NULL (only asking). */
  struct __user_cap_header_struct h = {0, 0};
  struct __user_cap_data_struct d[2];
  EXPECT_ERR(EINVAL, capget_raw(&h, d));
  CHECK(h.version == _LINUX_CAPABILITY_VERSION_3, "preferred version %#x", h.version);
  h.version = 0x12345678;
  CHECK(capget_raw(&h, NULL) == 0 && h.version == _LINUX_CAPABILITY_VERSION_3, "version probe");
  h.version = 0x12345678;
  EXPECT_ERR(EINVAL, capset_raw(&h, d));
  h.version = _LINUX_CAPABILITY_VERSION_3;
  CHECK(capget_raw(&h, NULL) == 0, "capget probe: %s", strerror(errno));
  /* Version 1: one word per set. */
  struct __user_cap_header_struct h1 = {_LINUX_CAPABILITY_VERSION_1, 0};
  struct __user_cap_data_struct d1[2];
  memset(d1, 0xee, sizeof d1);
  CHECK(capget_raw(&h1, d1) == 0 && d1[0].effective == (uint32_t)s.eff, "version 1 capget");
  CHECK(d1[1].effective == 0xeeeeeeeeu, "version 1 wrote a second word");
  /* Bad input. */
  EXPECT_ERR(EFAULT, capget_raw(BAD_PTR, d));
  EXPECT_ERR(EFAULT, capget_raw(&h, BAD_PTR));
  EXPECT_ERR(EFAULT, capget_raw(&h, KERNEL_PTR));
  h.pid = -1;
  EXPECT_ERR(EINVAL, capget_raw(&h, d));
  h.pid = 0x3fffffff;  /* above any pid_max */
  EXPECT_ERR(ESRCH, capget_raw(&h, d));
  h.pid = getpid();
  CHECK(capget_raw(&h, d) == 0, "capget(own pid): %s", strerror(errno));
  h.pid = 0x3fffffff;
  EXPECT_ERR(EPERM, capset_raw(&h, d));
  h.pid = 0;
  EXPECT_ERR(EFAULT, capset_raw(&h, BAD_PTR));

  /* Effective within permitted: drop and raise again. */
  struct sets t = s;
  t.eff &= ~BIT(CAP_NET_RAW);
  CHECK(set_sets(t) == 0, "drop NET_RAW from effective: %s", strerror(errno));
  CHECK(get_sets().eff == t.eff, "effective not dropped");
  matches_status("effective dropped");
  CHECK(set_sets(s) == 0, "raise NET_RAW again: %s", strerror(errno));
  /* Inheritable within permitted; ambient within both. */
  t = s;
  t.inh = BIT(CAP_NET_RAW);
  CHECK(set_sets(t) == 0, "inheritable NET_RAW: %s", strerror(errno));
  EXPECT_ERR(EPERM, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
  CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0) == 0, "ambient raise: %s", strerror(errno));
  CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 1, "ambient not set");
  CHECK(status_caps("CapAmb") == BIT(CAP_NET_RAW), "CapAmb");
  EXPECT_ERR(EINVAL, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
  EXPECT_ERR(EINVAL, prctl(PR_CAP_AMBIENT, 9, 0, 0, 0));
  /* Dropping it from inheritable drops it from ambient. */
  CHECK(set_sets(s) == 0, "inheritable cleared: %s", strerror(errno));
  CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 0, "ambient kept without inheritable");
  /* Permitted only shrinks. */
  t = s;
  t.prm &= ~BIT(CAP_NET_RAW);
  t.eff &= ~BIT(CAP_NET_RAW);
  CHECK(set_sets(t) == 0, "drop NET_RAW from permitted: %s", strerror(errno));
  EXPECT_ERR(EPERM, set_sets(s));
  struct sets u = t;
  u.eff |= BIT(CAP_NET_RAW);  /* effective beyond permitted */
  EXPECT_ERR(EPERM, set_sets(u));
  u = t;
  u.inh = BIT(CAP_NET_RAW);  /* neither inheritable nor permitted (CAP_SETPCAP allows the bounding set) */
  CHECK(set_sets(u) == 0, "inheritable from the bounding set with CAP_SETPCAP: %s", strerror(errno));
  CHECK(set_sets(t) == 0, "back: %s", strerror(errno));
  matches_status("permitted dropped");

  /* The bounding set. */
  CHECK(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) == 1, "CAP_MKNOD not in the bounding set");
  EXPECT_ERR(EINVAL, prctl(PR_CAPBSET_READ, 99, 0, 0, 0));
  EXPECT_ERR(EINVAL, prctl(PR_CAPBSET_DROP, 99, 0, 0, 0));
  CHECK(prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0) == 0, "bounding drop: %s", strerror(errno));
  CHECK(prctl(PR_CAPBSET_READ, CAP_MKNOD, 0, 0, 0) == 0, "CAP_MKNOD still in the bounding set");
  CHECK(!(status_caps("CapBnd") & BIT(CAP_MKNOD)), "CapBnd still has CAP_MKNOD");
  CHECK(get_sets().prm & BIT(CAP_MKNOD), "the bounding drop took CAP_MKNOD from permitted");

  /* securebits: keepcaps is one of them; execve clears it. */
  CHECK(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == 0, "securebits at start");
  CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0 && prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "keepcaps");
  CHECK(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == SECBIT_KEEP_CAPS_BIT, "keepcaps in securebits");
  EXPECT_ERR(EINVAL, prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
  /* Arguments 3-5 are not looked at (iputils' ping passes what the
     variadic prctl() finds there). */
  CHECK(prctl(PR_SET_KEEPCAPS, 1, 1, 1, 1) == 0 && prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "keepcaps, args 3-5 ignored");
  fflush(stdout);
  char failures[16];
  snprintf(failures, sizeof failures, "%d", g_failures);
  char* argv[] = {(char*)self, (char*)"after_exec", failures, NULL};
  execv(self, argv);
  CHECK(0, "execv %s: %s", self, strerror(errno));
}

static void phase2(void) {
  /* execve as root: permitted = effective = the bounding set (CAP_MKNOD
   * gone), keepcaps cleared. */
  struct sets s = get_sets();
  uint64_t bnd = status_caps("CapBnd");
  CHECK(!(bnd & BIT(CAP_MKNOD)), "the bounding set came back");
  CHECK(s.prm == bnd && s.eff == bnd, "after execve prm %llx eff %llx bnd %llx", (unsigned long long)s.prm,
        (unsigned long long)s.eff, (unsigned long long)bnd);
  CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0, "keepcaps survived execve");
  matches_status("after execve");

  /* uid 0 -> 1000 with keepcaps: permitted kept, effective cleared. */
  CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0, "keepcaps");
  CHECK(syscall(SYS_setresuid, 1000, 1000, 1000) == 0, "setresuid 1000: %s", strerror(errno));
  struct sets t = get_sets();
  CHECK(t.prm == s.prm && t.eff == 0, "keepcaps: prm %llx eff %llx", (unsigned long long)t.prm,
        (unsigned long long)t.eff);
  matches_status("uid 1000, keepcaps");
  EXPECT_ERR(EPERM, syscall(SYS_setresuid, 0, 0, 0));
  /* CAP_SETUID back into effective: back to root, effective = permitted. */
  t.eff = BIT(CAP_SETUID);
  CHECK(set_sets(t) == 0, "raise CAP_SETUID: %s", strerror(errno));
  CHECK(syscall(SYS_setresuid, 0, 0, 0) == 0, "back to root with CAP_SETUID: %s", strerror(errno));
  CHECK(get_sets().eff == s.prm, "effective after euid 0");
  /* Only the effective uid: effective cleared, permitted kept. */
  CHECK(syscall(SYS_setresuid, -1, 1000, -1) == 0, "euid 1000: %s", strerror(errno));
  t = get_sets();
  CHECK(t.eff == 0 && t.prm == s.prm, "euid 1000: prm %llx eff %llx", (unsigned long long)t.prm,
        (unsigned long long)t.eff);
  CHECK(syscall(SYS_setresuid, -1, 0, -1) == 0, "euid 0 again (the real uid): %s", strerror(errno));
  CHECK(get_sets().eff == s.prm, "effective after euid 0 again");
  /* Without keepcaps leaving uid 0 for good takes everything. */
  CHECK(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == 0, "keepcaps off");
  CHECK(syscall(SYS_setresuid, 1000, 1000, 1000) == 0, "setresuid 1000: %s", strerror(errno));
  t = get_sets();
  CHECK(t.prm == 0 && t.eff == 0 && t.inh == 0, "caps left as uid 1000: %llx", (unsigned long long)t.prm);
  matches_status("uid 1000");
  EXPECT_ERR(EPERM, syscall(SYS_setresuid, 0, 0, 0));
  EXPECT_ERR(EPERM, prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0));
  EXPECT_ERR(EPERM, prctl(PR_SET_SECUREBITS, 0x10, 0, 0, 0));
  t.eff = BIT(CAP_CHOWN);
  EXPECT_ERR(EPERM, set_sets(t));
}

int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "after_exec")) {
    g_failures = atoi(argv[2]);  /* phase 1's */
    phase2();
  } else {
    phase1(argv[0]);
  }
  return finish("abi_caps");
}
