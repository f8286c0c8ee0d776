/* disk_tree ROOT [checks...]: lists the tree under ROOT, one line per
 * entry in name order ("path type mode uid gid nlink size mtime hash" or
 * the link target), between "BEGIN tree" and "END tree", so that the same
 * program over the host's directory and over the VM's mounted image
 * (tests/guest/disk_test.py) can be compared line by line. Each regular
 * file is read twice, with read() and through mmap(), and the two must
 * agree.
 *
 * Checks after the listing (each also run on the host where it makes
 * sense):
 *   erofs           every change under ROOT fails with EROFS
 *   statfs=B,F,I,J  statfs: ext4's magic, B blocks, F free, I inodes, J free
 *   eio=PATH        reading ROOT/PATH (or listing it) fails with EIO
 *                   while the rest of the tree reads
 *   parallel        4 threads read every file listed at once, each in
 *                   its own order, and get the hashes the listing got
 * Prints "PASS disk_tree" when every check held. */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../include/guest_check.h"

static char g_root[4096];
static size_t g_root_len;

static uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* Hash by read(); 0 and errno on failure. */
static int hash_file(const char* path, uint64_t* by_read, uint64_t* by_mmap, off_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  unsigned char* buf = malloc(65536);  /* per call: threads read at once */
  uint64_t h = 0xcbf29ce484222325ull;
  ssize_t n;
  while ((n = read(fd, buf, 65536)) > 0) h = fnv(h, buf, (size_t)n);
  free(buf);
  if (n < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  *by_read = h;
  *by_mmap = 0xcbf29ce484222325ull;
  if (size > 0) {
    unsigned char* m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    *by_mmap = fnv(*by_mmap, m, (size_t)size);
    munmap(m, (size_t)size);
  }
  close(fd);
  return 0;
}

/* The regular files the walk hashed, for the parallel check. */
#define MAX_FILES 1024
static char* g_files[MAX_FILES];
static uint64_t g_hashes[MAX_FILES];
static off_t g_sizes[MAX_FILES];
static int g_nfiles;

static void* parallel_reader(void* arg) {
  long id = (long)arg;
  long bad = 0;
  for (int k = 0; k < g_nfiles; ++k) {
    int i = (int)((k * 7 + id * 131) % g_nfiles);  /* each thread its own order */
    uint64_t hr, hm;
    if (g_sizes[i] > (4 << 20)) continue;  /* the 20 MiB sparse file is read once, above */
    if (hash_file(g_files[i], &hr, &hm, g_sizes[i]) < 0 || hr != g_hashes[i] || hm != g_hashes[i]) ++bad;
  }
  return (void*)bad;
}

static void walk(const char* path) {
  DIR* d = opendir(path);
  if (!d) {
    printf("%s: opendir: %s\n", path + g_root_len, strerror(errno));
    return;
  }
  size_t cap = 64, n = 0;
  char** names = malloc(cap * sizeof *names);
  struct dirent* e;
  errno = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  if (errno) printf("%s: readdir: %s\n", path + g_root_len, strerror(errno));
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  for (size_t i = 0; i < n; ++i) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, names[i]);
    struct stat st;
    if (lstat(p, &st) < 0) {
      printf("%s: lstat: %s\n", p + g_root_len, strerror(errno));
      continue;
    }
    if (!strcmp(names[i], "lost+found")) continue;  /* mke2fs's, not the tree's */
    printf("%s %c %04o %u %u %lu %lld %lld.%09ld", p + g_root_len,
           S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISREG(st.st_mode) ? 'f' : '?',
           (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
           S_ISDIR(st.st_mode) ? 0ul : (unsigned long)st.st_nlink, S_ISDIR(st.st_mode) ? 0ll : (long long)st.st_size,
           (long long)st.st_mtim.tv_sec, S_ISLNK(st.st_mode) ? 0l : st.st_mtim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t l = readlink(p, t, sizeof t - 1);
      if (l < 0) {
        printf(" readlink: %s\n", strerror(errno));
      } else {
        t[l] = 0;
        printf(" -> %s\n", t);
      }
    } else if (S_ISREG(st.st_mode)) {
      uint64_t hr, hm;
      if (hash_file(p, &hr, &hm, st.st_size) < 0) {
        printf(" read: %s\n", strerror(errno));
      } else {
        printf(" %016llx%s\n", (unsigned long long)hr, hr == hm ? "" : " MMAP-DIFFERS");
        if (g_nfiles < MAX_FILES) {
          g_files[g_nfiles] = strdup(p);
          g_sizes[g_nfiles] = st.st_size;
          g_hashes[g_nfiles++] = hr;
        }
        CHECK(hr == hm, "%s: read and mmap disagree", p);
        /* A sparse file holds fewer blocks than its size needs. */
        if (strstr(names[i], "sparse")) CHECK(st.st_blocks * 512 < st.st_size, "%s: not sparse", p);
      }
    } else {
      printf("\n");
    }
    if (S_ISDIR(st.st_mode)) walk(p);
    free(names[i]);
  }
  free(names);
}

static void erofs_checks(void) {
  char p[4200], q[4200];
  snprintf(p, sizeof p, "%s/new", g_root);
  EXPECT_ERR(EROFS, open(p, O_WRONLY | O_CREAT, 0644));
  EXPECT_ERR(EROFS, mkdir(p, 0755));
  EXPECT_ERR(EROFS, symlink("x", p));
  snprintf(p, sizeof p, "%s/small.txt", g_root);
  EXPECT_ERR(EROFS, open(p, O_WRONLY));
  EXPECT_ERR(EROFS, open(p, O_RDWR));
  EXPECT_ERR(EROFS, open(p, O_RDONLY | O_TRUNC));
  EXPECT_ERR(EROFS, truncate(p, 0));
  EXPECT_ERR(EROFS, chmod(p, 0600));
  EXPECT_ERR(EROFS, unlink(p));
  snprintf(q, sizeof q, "%s/renamed", g_root);
  EXPECT_ERR(EROFS, rename(p, q));
  EXPECT_ERR(EROFS, link(p, q));
  snprintf(p, sizeof p, "%s/sub", g_root);
  EXPECT_ERR(EROFS, rmdir(p));
  /* Reading still works. */
  snprintf(p, sizeof p, "%s/small.txt", g_root);
  int fd = open(p, O_RDONLY);
  CHECK(fd >= 0, "open %s read-only", p);
  if (fd >= 0) close(fd);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: disk_tree ROOT [erofs] [statfs=B,F,I,J] [eio=PATH]\n");
    return 2;
  }
  snprintf(g_root, sizeof g_root, "%s", argv[1]);
  g_root_len = strlen(g_root);
  printf("BEGIN tree\n");
  walk(g_root);
  printf("END tree\n");
  for (int i = 2; i < argc; ++i) {
    if (!strcmp(argv[i], "erofs")) {
      erofs_checks();
    } else if (!strcmp(argv[i], "parallel")) {
      pthread_t t[4];
      for (long k = 0; k < 4; ++k) CHECK(pthread_create(&t[k], NULL, parallel_reader, (void*)k) == 0, "thread %ld", k);
      for (int k = 0; k < 4; ++k) {
        void* bad;
        pthread_join(t[k], &bad);
        CHECK(bad == NULL, "thread %d: %ld files read differently", k, (long)bad);
      }
      CHECK(g_nfiles > 100, "only %d files", g_nfiles);
    } else if (!strncmp(argv[i], "statfs=", 7)) {
      unsigned long long b, f, in, fi;
      struct statfs s;
      CHECK(sscanf(argv[i] + 7, "%llu,%llu,%llu,%llu", &b, &f, &in, &fi) == 4, "bad %s", argv[i]);
      CHECK(statfs(g_root, &s) == 0, "statfs %s", g_root);
      CHECK(s.f_type == 0xEF53, "f_type %#lx", (unsigned long)s.f_type);
      CHECK((unsigned long long)s.f_blocks == b, "f_blocks %llu, expected %llu", (unsigned long long)s.f_blocks, b);
      CHECK((unsigned long long)s.f_bfree == f, "f_bfree %llu, expected %llu", (unsigned long long)s.f_bfree, f);
      CHECK((unsigned long long)s.f_files == in, "f_files %llu, expected %llu", (unsigned long long)s.f_files, in);
      CHECK((unsigned long long)s.f_ffree == fi, "f_ffree %llu, expected %llu", (unsigned long long)s.f_ffree, fi);
    } else if (!strncmp(argv[i], "eio=", 4)) {
      char p[4200];
      snprintf(p, sizeof p, "%s/%s", g_root, argv[i] + 4);
      struct stat st;
      int r = stat(p, &st);
      int e = errno;
      if (r == 0 && S_ISDIR(st.st_mode)) {
        DIR* d = opendir(p);
        errno = 0;
        if (d) {
          while (readdir(d)) {
          }
          e = errno;
          closedir(d);
        } else {
          e = errno;
        }
        CHECK(e == EIO, "listing %s: errno %d, expected EIO", p, e);
      } else if (r == 0) {
        uint64_t hr, hm;
        errno = 0;
        CHECK(hash_file(p, &hr, &hm, st.st_size) < 0 && errno == EIO, "reading %s: expected EIO", p);
      } else {
        CHECK(e == EIO, "stat %s: errno %d, expected EIO", p, e);
      }
    } else {
      CHECK(0, "unknown check %s", argv[i]);
    }
  }
  if (g_failures) return 1;
  printf("PASS disk_tree\n");
  return 0;
}
