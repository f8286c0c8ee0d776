/* What the kernel set up for the program's resolver (docs/net_device.md):
 *   net_config NAMESERVER ADDRESS   /etc/resolv.conf names NAMESERVER and
 *                                   /etc/hosts maps ADDRESS to the hostname
 *   net_config none                 no /etc/resolv.conf (no network)
 * Prints "PASS net_config" or a FAIL line saying what differs. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_file(const char* path, char* buf, size_t cap) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return (int)n;
}

int main(int argc, char** argv) {
  char text[4096], want[128], host[65];
  if (argc == 2 && !strcmp(argv[1], "none")) {
    if (read_file("/etc/resolv.conf", text, sizeof text) >= 0) {
      printf("FAIL net_config: /etc/resolv.conf exists without a network:\n%s", text);
      return 1;
    }
    printf("PASS net_config\n");
    return 0;
  }
  if (argc != 3) {
    printf("FAIL net_config: usage: net_config NAMESERVER ADDRESS | none\n");
    return 2;
  }
  if (read_file("/etc/resolv.conf", text, sizeof text) < 0) {
    printf("FAIL net_config: no /etc/resolv.conf\n");
    return 1;
  }
  snprintf(want, sizeof want, "nameserver %s\n", argv[1]);
  if (!strstr(text, want)) {
    printf("FAIL net_config: /etc/resolv.conf lacks \"%s\":\n%s", argv[1], text);
    return 1;
  }
  printf("resolv.conf: %s", text);
  if (gethostname(host, sizeof host) != 0) {
    printf("FAIL net_config: gethostname\n");
    return 1;
  }
  if (read_file("/etc/hosts", text, sizeof text) < 0) {
    printf("FAIL net_config: no /etc/hosts\n");
    return 1;
  }
  snprintf(want, sizeof want, "%s\t%s\n", argv[2], host);
  if (!strstr(text, want)) {
    printf("FAIL net_config: /etc/hosts lacks \"%s %s\":\n%s", argv[2], host, text);
    return 1;
  }
  printf("PASS net_config\n");
  return 0;
}
