/* overlay_ops ROOT: changes the tree under ROOT the way programs do
 * (create, append, truncate, chmod, link, rename, unlink, mkdir, rmdir,
 * readdir) on names of the tree it found there and on names it made
 * itself, printing each call's result, then lists the tree (name, type,
 * mode, size, content hash) between "BEGIN tree" and "END tree".
 *
 * tests/guest/disk_test.py runs it in the VM over a disk root (the tree
 * is the read-only lower layer, the changes land in the RAM layer above:
 * docs/overlay.md) and on the host over a copy of the tree, and the two
 * outputs must be the same: what a program sees is one writable file
 * system. Prints "PASS overlay_ops" at the end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[4096];

static const char* P(const char* rel) {
  static char buf[8][4096];
  static int k;
  char* b = buf[k++ % 8];
  snprintf(b, 4096, "%s/%s", g_root, rel);
  return b;
}

static void result(const char* what, long r) {
  if (r < 0) printf("%s -> %s\n", what, strerror(errno));
  else printf("%s -> ok\n", what);
}

static long put(const char* rel, const char* data, int flags) {
  int fd = open(P(rel), O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return -1;
  long r = write(fd, data, strlen(data));
  close(fd);
  return r < 0 ? -1 : 0;
}

static uint64_t fnv_file(const char* path, long long* size) {
  uint64_t h = 0xcbf29ce484222325ull;
  *size = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  unsigned char b[65536];
  ssize_t n;
  while ((n = read(fd, b, sizeof b)) > 0) {
    for (ssize_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    *size += n;
  }
  close(fd);
  return h;
}

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static void walk(const char* rel) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s%s", g_root, *rel ? "/" : "", rel);
  DIR* d = opendir(path);
  if (!d) {
    printf("%s: opendir: %s\n", rel, strerror(errno));
    return;
  }
  char* names[512];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) && n < 512) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "lost+found")) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp);
  for (int i = 0; i < n; ++i) {
    char r[4096], p[4096];
    snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
    snprintf(p, sizeof p, "%s/%s", g_root, r);
    struct stat st;
    if (lstat(p, &st) < 0) {
      printf("%s: lstat: %s\n", r, strerror(errno));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      printf("%s d %04o\n", r, (unsigned)(st.st_mode & 07777));
      walk(r);
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t l = readlink(p, t, sizeof t - 1);
      t[l < 0 ? 0 : l] = 0;
      printf("%s l -> %s\n", r, t);
    } else {
      long long size;
      uint64_t h = fnv_file(p, &size);
      printf("%s f %04o %lu %lld %016llx\n", r, (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink, size,
             (unsigned long long)h);
    }
    free(names[i]);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  snprintf(g_root, sizeof g_root, "%s", argv[1]);
  /* Files of the tree: written, appended, truncated, re-moded, linked. */
  result("append etc/hosts", put("etc/hosts", "10.0.2.2 host\n", O_APPEND));
  result("truncate lib/big to 5000", truncate(P("lib/big"), 5000));
  result("chmod etc/passwd 0600", chmod(P("etc/passwd"), 0600));
  result("link etc/passwd etc/passwd.bak", link(P("etc/passwd"), P("etc/passwd.bak")));
  result("append etc/passwd.bak", put("etc/passwd.bak", "guest:x:1000:1000::/:/bin/sh\n", O_APPEND));
  result("overwrite share/doc/readme", put("share/doc/readme", "new text\n", O_TRUNC));
  /* Names: renames across directories and over existing files. */
  result("rename etc/motd etc/motd.old", rename(P("etc/motd"), P("etc/motd.old")));
  result("rename etc/motd.old share/motd", rename(P("etc/motd.old"), P("share/motd")));
  result("rename etc/issue share/doc/readme", rename(P("etc/issue"), P("share/doc/readme")));
  result("rename etc/missing x", rename(P("etc/missing"), P("x")));
  /* Removal: of the tree's names, and making them again. */
  result("unlink lib/libold.so", unlink(P("lib/libold.so")));
  result("unlink lib/libold.so again", unlink(P("lib/libold.so")));
  result("create lib/libold.so again", put("lib/libold.so", "reborn\n", O_EXCL));
  result("rmdir share/doc (not empty)", rmdir(P("share/doc")));
  result("rmdir etc/conf.d (not empty)", rmdir(P("etc/conf.d")));
  result("unlink etc/conf.d/a", unlink(P("etc/conf.d/a")));
  result("unlink etc/conf.d/b", unlink(P("etc/conf.d/b")));
  result("rmdir etc/conf.d", rmdir(P("etc/conf.d")));
  result("stat etc/conf.d", access(P("etc/conf.d"), F_OK));
  result("mkdir etc/conf.d", mkdir(P("etc/conf.d"), 0750));
  result("create etc/conf.d/c", put("etc/conf.d/c", "c\n", O_EXCL));
  result("mkdir etc (exists)", mkdir(P("etc"), 0755));
  result("unlink etc (a directory)", unlink(P("etc")));
  result("rmdir etc/hosts (a file)", rmdir(P("etc/hosts")));
  /* Names made here: a new directory, moved, emptied, removed. */
  result("mkdir tmp", mkdir(P("tmp"), 0777));
  result("mkdir tmp/work", mkdir(P("tmp/work"), 0755));
  result("create tmp/work/log", put("tmp/work/log", "one\n", O_EXCL));
  result("append tmp/work/log", put("tmp/work/log", "two\n", O_APPEND));
  result("rename tmp/work tmp/done", rename(P("tmp/work"), P("tmp/done")));
  result("rename tmp/done/log lib/log", rename(P("tmp/done/log"), P("lib/log")));
  result("rmdir tmp/done", rmdir(P("tmp/done")));
  result("symlink ../lib/log etc/log", symlink("../lib/log", P("etc/log")));
  result("unlink share/doc/guide", unlink(P("share/doc/guide")));
  /* The working directory in a directory of the tree that a change
   * inside copies up: getcwd still finds it. */
  result("chdir share/doc", chdir(P("share/doc")));
  result("create ./here", put("share/doc/here", "here\n", O_EXCL));
  char cwd[4096];
  size_t rl = strlen(g_root);
  if (!getcwd(cwd, sizeof cwd)) printf("getcwd -> %s\n", strerror(errno));
  else printf("getcwd -> %s\n", strncmp(cwd, g_root, rl) ? cwd : cwd + rl);
  printf("BEGIN tree\n");
  walk("");
  printf("END tree\n");
  printf("PASS overlay_ops\n");
  return 0;
}
