/* abi-test: TIMEOUT 120 */
/* /proc/net/tcp and /proc/net/udp (linux/procfs_net.cc, net/inet/;
 * docs/net.md "Interfaces as programs see them"), in the VM and on the
 * host: the header lines as Linux prints them, every line padded to 149
 * (tcp) or 127 (udp) characters; a listener on 127.0.0.1 (st 0A, its
 * inode that of the descriptor, rx_queue the connections waiting for
 * accept), both ends of a connection (st 01, the addresses crossed,
 * rx_queue the unread bytes), a bound UDP socket (st 07) and a connected
 * one (st 01, the peer's address), a UDP socket with a datagram queued
 * (rx_queue not 0); a closed listener is gone. Other sockets of the
 * machine may be listed too: checks look only for this program's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "check.h"

struct entry {
  unsigned laddr, lport, raddr, rport, st, tx, rx;
  unsigned long ino;
};

/* Reads the file; returns the entries (at most max), checks the header
 * and the widths. */
static int read_table(const char* path, const char* header, size_t width, struct entry* e, int max) {
  FILE* f = fopen(path, "r");
  CHECK(f != NULL, "open %s: %s", path, strerror(errno));
  if (!f) return 0;
  char line[512];
  int n = 0, lines = 0;
  while (fgets(line, sizeof line, f) && lines < 100000) {
    size_t len = strlen(line);
    CHECK(len == width + 1 && line[len - 1] == '\n', "%s line %d: %zu characters, want %zu + newline", path, lines,
          len, width);
    if (lines++ == 0) {
      CHECK(strncmp(line, header, strlen(header)) == 0, "%s header: %s", path, line);
      continue;
    }
    struct entry x;
    int k = sscanf(line, " %*d: %8X:%4X %8X:%4X %2X %8X:%8X %*s %*s %*u %*d %lu", &x.laddr, &x.lport, &x.raddr,
                   &x.rport, &x.st, &x.tx, &x.rx, &x.ino);
    CHECK(k == 8, "%s: a line that does not parse (%d fields): %s", path, k, line);
    if (k == 8 && n < max) e[n++] = x;
  }
  fclose(f);
  return n;
}

static const struct entry* find(const struct entry* e, int n, unsigned lport, unsigned rport, unsigned st) {
  for (int i = 0; i < n; ++i)
    if (e[i].lport == lport && e[i].rport == rport && e[i].st == st) return &e[i];
  return NULL;
}

static const char TCP_HEAD[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
static const char UDP_HEAD[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer "
    "drops";
#define LO 0x0100007Fu /* 127.0.0.1 as /proc prints a __be32 */

static unsigned port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr*)&a, &len);
  return ntohs(a.sin_port);
}

static unsigned long ino_of(int fd) {
  struct stat st;
  fstat(fd, &st);
  return (unsigned long)st.st_ino;
}

static void wait_readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  CHECK(poll(&p, 1, 5000) == 1, "fd %d not readable within 5 s", fd);
}

int main(void) {
  static struct entry e[4096];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int l = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(bind(l, (struct sockaddr*)&a, sizeof a));
  EXPECT_OK(listen(l, 8));
  unsigned lp = port_of(l);
  a.sin_port = htons(lp);
  int c = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(connect(c, (struct sockaddr*)&a, sizeof a));
  int s = EXPECT_OK(accept(l, NULL, NULL));
  unsigned cp = port_of(c);
  CHECK(write(c, "hello", 5) == 5, "write");
  wait_readable(s);
  /* A second client waits in the accept queue. */
  int c2 = EXPECT_OK(socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_OK(connect(c2, (struct sockaddr*)&a, sizeof a));
  wait_readable(l);

  int n = read_table("/proc/net/tcp", TCP_HEAD, 149, e, 4096);
  const struct entry* x = find(e, n, lp, 0, 0x0A);
  CHECK(x != NULL, "no LISTEN line for port %u", lp);
  if (x) {
    CHECK(x->laddr == LO && x->raddr == 0, "listener addresses %08X %08X", x->laddr, x->raddr);
    CHECK(x->ino == ino_of(l), "listener inode %lu, the descriptor's %lu", x->ino, ino_of(l));
    CHECK(x->rx == 1, "listener rx_queue %u, want 1 (one connection to accept)", x->rx);
  }
  x = find(e, n, cp, lp, 0x01);
  CHECK(x != NULL, "no ESTABLISHED line for the client %u -> %u", cp, lp);
  if (x) CHECK(x->laddr == LO && x->raddr == LO && x->ino == ino_of(c), "client line %08X %08X ino %lu", x->laddr,
               x->raddr, x->ino);
  x = find(e, n, lp, cp, 0x01);
  CHECK(x != NULL, "no ESTABLISHED line for the server end %u -> %u", lp, cp);
  if (x) {
    CHECK(x->ino == ino_of(s), "server end inode %lu, the descriptor's %lu", x->ino, ino_of(s));
    CHECK(x->rx == 5, "server end rx_queue %u, want the 5 unread bytes", x->rx);
  }

  /* UDP: bound, connected, with a datagram queued. */
  int u = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  struct sockaddr_in ua = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  EXPECT_OK(bind(u, (struct sockaddr*)&ua, sizeof ua));
  unsigned up = port_of(u);
  int v = EXPECT_OK(socket(AF_INET, SOCK_DGRAM, 0));
  ua.sin_port = htons(up);
  EXPECT_OK(connect(v, (struct sockaddr*)&ua, sizeof ua));
  unsigned vp = port_of(v);
  CHECK(send(v, "datagram", 8, 0) == 8, "send");
  wait_readable(u);
  n = read_table("/proc/net/udp", UDP_HEAD, 127, e, 4096);
  x = find(e, n, up, 0, 0x07);
  CHECK(x != NULL, "no line for the bound UDP socket %u", up);
  if (x) {
    CHECK(x->laddr == LO && x->ino == ino_of(u), "bound UDP %08X ino %lu (want %lu)", x->laddr, x->ino, ino_of(u));
    CHECK(x->rx > 0 && x->tx == 0, "bound UDP with a datagram: rx_queue %u tx_queue %u", x->rx, x->tx);
  }
  x = find(e, n, vp, up, 0x01);
  CHECK(x != NULL, "no line for the connected UDP socket %u -> %u", vp, up);
  if (x) CHECK(x->raddr == LO && x->ino == ino_of(v), "connected UDP %08X ino %lu", x->raddr, x->ino);

  /* A closed listener is gone. */
  close(c2);
  close(l);
  n = read_table("/proc/net/tcp", TCP_HEAD, 149, e, 4096);
  CHECK(find(e, n, lp, 0, 0x0A) == NULL, "the closed listener on %u is still listed", lp);
  close(s);
  close(c);
  close(u);
  close(v);
  return finish("abi_procnet");
}
