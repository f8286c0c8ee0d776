/* UDP over the NIC (docs/net_device.md), checked by a host script
 * (tests/guest/net_device/net_e2e.py):
 *   udp_peer client HOST PORT N   sends N datagrams "ping I" to HOST:PORT and
 *                                 expects each back upper-cased ("PING I")
 *   udp_peer server PORT N        answers N datagrams, upper-cased, to their sender
 * Prints "PASS udp_peer" or a FAIL line. Waits at most 20 s per datagram. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int wait_readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 20000) == 1;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    printf("FAIL udp_peer: usage\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("FAIL udp_peer: socket");
    return 1;
  }
  char buf[2048];
  if (!strcmp(argv[1], "client") && argc == 5) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
      printf("FAIL udp_peer: bad address %s\n", argv[2]);
      return 2;
    }
    int n = atoi(argv[4]);
    for (int i = 0; i < n; ++i) {
      char msg[64], want[64];
      int len = snprintf(msg, sizeof msg, "ping %d", i);
      snprintf(want, sizeof want, "PING %d", i);
      if (sendto(fd, msg, len, 0, (struct sockaddr*)&to, sizeof to) != len) {
        perror("FAIL udp_peer: sendto");
        return 1;
      }
      if (!wait_readable(fd)) {
        printf("FAIL udp_peer: no answer to \"%s\"\n", msg);
        return 1;
      }
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t r = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr*)&from, &fl);
      if (r < 0) {
        perror("FAIL udp_peer: recvfrom");
        return 1;
      }
      buf[r] = 0;
      if (strcmp(buf, want) || from.sin_addr.s_addr != to.sin_addr.s_addr || from.sin_port != to.sin_port) {
        printf("FAIL udp_peer: got \"%s\" from %s:%d, want \"%s\"\n", buf, inet_ntoa(from.sin_addr),
               ntohs(from.sin_port), want);
        return 1;
      }
    }
  } else if (!strcmp(argv[1], "server")) {
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (bind(fd, (struct sockaddr*)&me, sizeof me) != 0) {
      perror("FAIL udp_peer: bind");
      return 1;
    }
    printf("udp_peer: listening\n");
    fflush(stdout);
    /* Until the last one ("datagram N-1 ..."): the host sends a datagram
     * again when an answer is lost (an answer held while ARP resolves can
     * be dropped under load), so duplicates are answered, not counted;
     * bounded by 4N datagrams in all. */
    int n = atoi(argv[3]);
    char last[32];
    int last_len = snprintf(last, sizeof last, "datagram %d ", n - 1);
    for (int i = 0; i < 4 * n; ++i) {
      if (!wait_readable(fd)) {
        printf("FAIL udp_peer: datagram %d never came\n", i);
        return 1;
      }
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl);
      if (r < 0) {
        perror("FAIL udp_peer: recvfrom");
        return 1;
      }
      int is_last = r >= last_len && !memcmp(buf, last, (size_t)last_len);
      for (ssize_t k = 0; k < r; ++k) buf[k] = (char)toupper((unsigned char)buf[k]);
      if (sendto(fd, buf, r, 0, (struct sockaddr*)&from, fl) != r) {
        perror("FAIL udp_peer: sendto");
        return 1;
      }
      if (is_last) break;
    }
  } else {
    printf("FAIL udp_peer: usage\n");
    return 2;
  }
  printf("PASS udp_peer\n");
  return 0;
}
