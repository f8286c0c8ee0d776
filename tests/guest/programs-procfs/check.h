/* Shared by the procfs/devfs guest programs: one "FAIL file:line: ..." line
 * per failed check, and helpers to read whole files. */
#ifndef CAPSULE_PROCFS_CHECK_H
#define CAPSULE_PROCFS_CHECK_H
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/guest_check.h"

/* The whole file in a malloc'd NUL-terminated buffer (NULL on error);
 * *len gets its length. Reads in small pieces, so offsets into the
 * snapshot are exercised. */
__attribute__((unused)) static char* slurp(const char* path, size_t* len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char* buf = malloc(cap + 1);
  for (;;) {
    if (n + 512 > cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
    ssize_t r = read(fd, buf + n, 511);
    if (r < 0) {
      free(buf);
      close(fd);
      return NULL;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* The value after "key" at the start of a line ("Threads:" -> " 4"), or NULL. */
__attribute__((unused)) static const char* field(const char* text, const char* key) {
  size_t k = strlen(key);
  for (const char* p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, key, k) == 0) return p + k;
  return NULL;
}

#endif
