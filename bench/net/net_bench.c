/* bench/net: the guest side of the network benchmark (bench/net/run.py).
 *
 * A TCP server on port 5001 that the host drives through QEMU user
 * networking's forwarded port, one connection at a time. Each connection
 * starts with a command byte:
 *   'U' + 8-byte little-endian N: read N bytes, answer the 8-byte count
 *   'D' + 8-byte N: send N bytes, then close
 *   'P': echo every byte back at once (1-byte ping-pong) until EOF
 *   'C': close at once (connection set-up and teardown)
 *   'Q': power off (Linux) or exit (Capsule)
 * It prints "net_bench: listening" once it accepts connections.
 *
 * As Linux's /init (--linux): the Debian cloud kernel has virtio and
 * virtio-net as modules, so it loads the .ko files the initramfs holds in
 * /m (the order given on the command line, each after those it needs),
 * waits for eth0 and gives it QEMU user networking's usual address
 * 10.0.2.15/24 (what DHCP gives Capsule; --addr=A for another /24, the
 * benchmark's tap), and brings lo up.
 *
 * `--linux MODULES... --exec` (servers.py): after the set-up, /init mounts
 * /proc, /dev (devtmpfs) and /tmp and runs, as its child, the program that
 * the initramfs's /exec names: NUL-terminated words, first the KEY=VALUE
 * environment, then the program's path and arguments (a file rather than
 * the kernel command line, which cannot carry an empty argument). It
 * powers off when the program exits; the host kills QEMU once it has
 * measured. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../linux_init.h"

static int linux_init;
static const char* g_addr = "10.0.2.15"; /* --addr=: eth0's address (a /24) */

static void die(const char* what) {
  printf("net_bench: FAIL %s: %s\n", what, strerror(errno));
  fflush(stdout);
  if (linux_init) reboot(RB_POWER_OFF);
  exit(1);
}

static int read_full(int fd, void* buf, size_t n) {
  char* p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void* buf, size_t n) {
  const char* p = buf;
  while (n) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

static void load_module(const char* name) {
  const char* failed = linux_load_module(name);
  if (failed) die(failed);
}

static void if_set(int s, const char* name, const char* addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (addr) {
    struct sockaddr_in* sin = (struct sockaddr_in*)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) != 0) die("SIOCSIFADDR");
    inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
    if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) die("SIOCSIFNETMASK");
  }
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("SIOCSIFFLAGS");
}

static void linux_network(int end, char** argv, int first) {
  for (int i = first; i < end; ++i) load_module(argv[i]);
  for (int tries = 0; !if_nametoindex("eth0"); ++tries) {
    if (tries == 500) {
      errno = ENODEV;
      die("no eth0 after loading the modules");
    }
    usleep(10000);
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  if_set(s, "lo", NULL);
  if_set(s, "eth0", g_addr);
  /* Linux says "link becomes ready" a few seconds after IFF_UP under TCG;
   * before that nothing answers ARP, and a host on a tap that asked then
   * gets EHOSTUNREACH. Wait for IFF_RUNNING (at most 20 s). */
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
  for (int tries = 0; tries < 2000; ++tries) {
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("SIOCGIFFLAGS");
    if (ifr.ifr_flags & IFF_RUNNING) break;
    usleep(10000);
  }
  close(s);
}

/* PID 1 of the Linux guest runs a server instead of net_bench's own. */
static void linux_exec(void) {
  static struct linux_exec x;
  int status;
  const char* failed = linux_mount_basics();
  if (!failed) failed = linux_read_exec("/exec", &x);
  if (!failed) failed = linux_run_exec(&x, &status);
  if (failed) die(failed);
  printf("net_bench: %s exited (status 0x%x)\n", x.argv[0], status);
  fflush(stdout);
  reboot(RB_POWER_OFF);
}

static char g_buf[1 << 16];

static void serve(int c) {
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char cmd;
  if (read_full(c, &cmd, 1) != 0) return;
  uint64_t n = 0, done = 0;
  switch (cmd) {
    case 'U':
      if (read_full(c, &n, 8) != 0) return;
      while (done < n) {
        size_t want = n - done < sizeof g_buf ? (size_t)(n - done) : sizeof g_buf;
        ssize_t r = read(c, g_buf, want);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        done += (uint64_t)r;
      }
      write_full(c, &done, 8);
      break;
    case 'D':
      if (read_full(c, &n, 8) != 0) return;
      while (done < n) {
        size_t want = n - done < sizeof g_buf ? (size_t)(n - done) : sizeof g_buf;
        if (write_full(c, g_buf, want) != 0) break;
        done += want;
      }
      break;
    case 'P':
      for (;;) {
        ssize_t r = read(c, g_buf, sizeof g_buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || write_full(c, g_buf, (size_t)r) != 0) break;
      }
      break;
    case 'Q':
      printf("net_bench: done\n");
      fflush(stdout);
      if (linux_init) {
        sync();
        reboot(RB_POWER_OFF);
      }
      exit(0);
    default: /* 'C' and anything else: close */
      break;
  }
}

int main(int argc, char** argv) {
  int first = 1;
  /* bench/side_by_side's Linux command line passes --poweroff first. */
  while (first < argc && argv[first][0] == '-') {
    if (strcmp(argv[first], "--linux") == 0) linux_init = 1;
    if (strncmp(argv[first], "--addr=", 7) == 0) g_addr = argv[first] + 7;
    ++first;
  }
  if (linux_init) {
    int exec_at = 0;
    for (int i = first; i < argc; ++i)
      if (strcmp(argv[i], "--exec") == 0) {
        exec_at = i;
        break;
      }
    linux_network(exec_at ? exec_at : argc, argv, first);
    if (exec_at) linux_exec();
  }
  for (size_t i = 0; i < sizeof g_buf; ++i) g_buf[i] = (char)(i * 131 + 7);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) die("socket");
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5001)};
  if (bind(l, (struct sockaddr*)&a, sizeof a) != 0) die("bind");
  if (listen(l, 16) != 0) die("listen");
  printf("net_bench: listening\n");
  fflush(stdout);
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      die("accept");
    }
    serve(c);
    close(c);
  }
}
