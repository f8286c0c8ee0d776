/* Edits a host directory shared into the VM (capsule run --share,
 * docs/9p.md; tests/cli/share_test.py checks the host side afterwards).
 *
 *   share_edit rw DIR   creates, writes, appends, renames, deletes, makes
 *                       and removes directories, symlinks, hard links,
 *                       truncates, chmods and maps files in DIR (and four
 *                       threads write and read files at once), checking
 *                       what it reads back and printing "stat NAME SIZE
 *                       MODE NLINK" lines for the host to compare.
 *                       DIR/input.txt must hold INPUT below (the host
 *                       writes it); DIR/../outside.txt must not be
 *                       reachable through DIR/up (a symlink to "..").
 *   share_edit ro DIR   every kind of write fails with EROFS; reads work.
 *   share_edit watch DIR  the host changes DIR while the program runs: it
 *                       reads DIR/a.txt ("v1\n"), keeps it open, makes
 *                       DIR/ready and waits for DIR/go; by then the host has
 *                       rewritten a.txt in place, created b.txt, deleted
 *                       c.txt and renamed d.txt to e.txt, and the program
 *                       must see all of it (nothing stale is cached).
 *
 * It also runs natively on the host (rw), where every expectation is
 * Linux's; the host test compares the two trees. */
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../guest/include/guest_check.h"

#define INPUT "line one\nline two\n"

static char g_path[4096];
static const char* dir;

static const char* at(const char* name) {
  snprintf(g_path, sizeof g_path, "%s/%s", dir, name);
  return g_path;
}

static char g_path2[4096];
static const char* at2(const char* name) {
  snprintf(g_path2, sizeof g_path2, "%s/%s", dir, name);
  return g_path2;
}

static void put(const char* name, const char* text, int flags) {
  int fd = open(at(name), O_WRONLY | O_CREAT | flags, 0644);
  CHECK(fd >= 0, "open %s", name);
  if (fd < 0) return;
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write %s", name);
  CHECK(close(fd) == 0, "close %s", name);
}

static int get(const char* name, char* buf, size_t cap) {
  int fd = open(at(name), O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

static void print_stat(const char* name) {
  struct stat st;
  CHECK(lstat(at(name), &st) == 0, "lstat %s", name);
  printf("stat %s %lld %o %ld\n", name, (long long)st.st_size, (unsigned)st.st_mode, (long)st.st_nlink);
}

/* Several threads with requests in flight at once: each writes its own
 * file in 8 KiB pieces, stats the directory and reads the file back. */
#define THREADS 4
#define PIECES 32
static void* worker(void* arg) {
  long t = (long)arg;
  char name[64], path[4200], piece[8192], back[8192];
  snprintf(name, sizeof name, "thread%ld.bin", t);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  long bad = fd < 0;
  for (int i = 0; i < PIECES && !bad; ++i) {
    memset(piece, 'a' + (int)t * 4 + i % 4, sizeof piece);
    bad |= write(fd, piece, sizeof piece) != (ssize_t)sizeof piece;
    struct stat st;
    bad |= stat(dir, &st) != 0;
  }
  for (int i = 0; i < PIECES && !bad; ++i) {
    memset(piece, 'a' + (int)t * 4 + i % 4, sizeof piece);
    bad |= pread(fd, back, sizeof back, (off_t)i * sizeof back) != (ssize_t)sizeof back ||
           memcmp(piece, back, sizeof back) != 0;
  }
  if (fd >= 0) close(fd);
  return (void*)bad;
}

static void threads(void) {
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; ++t) CHECK(pthread_create(&th[t], NULL, worker, (void*)t) == 0, "thread %ld", t);
  for (long t = 0; t < THREADS; ++t) {
    void* bad = (void*)1;
    pthread_join(th[t], &bad);
    CHECK(bad == NULL, "thread %ld's file", t);
  }
}

static void rw(void) {
  char buf[256];
  struct stat st;

  /* Reading what the host wrote. */
  CHECK(get("input.txt", buf, sizeof buf) == (int)strlen(INPUT) && strcmp(buf, INPUT) == 0, "input.txt");

  /* Create, write, append. */
  put("created.txt", "hello\n", O_TRUNC);
  put("created.txt", "world\n", O_APPEND);
  CHECK(get("created.txt", buf, sizeof buf) == 12 && strcmp(buf, "hello\nworld\n") == 0, "append");
  CHECK(stat(at("created.txt"), &st) == 0 && st.st_size == 12 && S_ISREG(st.st_mode), "stat size");
  EXPECT_ERR(EEXIST, open(at("created.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644));

  /* Writes at an offset and a hole; large writes over several messages. */
  int fd = open(at("big.bin"), O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0, "open big.bin");
  static char big[300000];
  for (size_t i = 0; i < sizeof big; ++i) big[i] = (char)(i * 7 + i / 4096);
  CHECK(pwrite(fd, big, sizeof big, 4096) == (ssize_t)sizeof big, "pwrite big");
  static char back[sizeof big];
  CHECK(pread(fd, back, sizeof back, 4096) == (ssize_t)sizeof back && memcmp(big, back, sizeof big) == 0,
        "pread big");
  CHECK(pread(fd, buf, 16, 0) == 16 && memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "hole reads zeros");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 4096 + (off_t)sizeof big, "big size");
  CHECK(close(fd) == 0, "close big");

  /* Rename (over an existing file too), delete. */
  put("renamed_from.txt", "moving\n", O_TRUNC);
  CHECK(rename(at("renamed_from.txt"), at2("renamed.txt")) == 0, "rename");
  EXPECT_ERR(ENOENT, access(at("renamed_from.txt"), F_OK));
  put("victim.txt", "old\n", O_TRUNC);
  put("replacer.txt", "new\n", O_TRUNC);
  CHECK(rename(at("replacer.txt"), at2("victim.txt")) == 0, "rename over");
  CHECK(get("victim.txt", buf, sizeof buf) == 4 && strcmp(buf, "new\n") == 0, "replaced");
  put("deleted.txt", "gone\n", O_TRUNC);
  CHECK(unlink(at("deleted.txt")) == 0, "unlink");
  EXPECT_ERR(ENOENT, unlink(at("deleted.txt")));

  /* Directories. */
  CHECK(mkdir(at("sub"), 0755) == 0, "mkdir sub");
  EXPECT_ERR(EEXIST, mkdir(at("sub"), 0755));
  put("sub/inner.txt", "inner\n", O_TRUNC);
  CHECK(mkdir(at("sub/deeper"), 0700) == 0, "mkdir deeper");
  CHECK(mkdir(at("removed_dir"), 0755) == 0, "mkdir removed_dir");
  CHECK(rmdir(at("removed_dir")) == 0, "rmdir");
  EXPECT_ERR(ENOTEMPTY, rmdir(at("sub")));
  EXPECT_ERR(ENOTDIR, rmdir(at("created.txt")));
  EXPECT_ERR(EISDIR, unlink(at("sub")));
  CHECK(mkdir(at("moved_dir"), 0755) == 0, "mkdir moved_dir");
  CHECK(rename(at("moved_dir"), at2("sub/moved_dir")) == 0, "rename dir");
  EXPECT_ERR(EINVAL, rename(at("sub"), at2("sub/deeper/sub")));

  /* Symlinks and hard links. */
  CHECK(symlink("created.txt", at("link")) == 0, "symlink");
  ssize_t n = readlink(at("link"), buf, sizeof buf);
  CHECK(n == 11 && memcmp(buf, "created.txt", 11) == 0, "readlink");
  CHECK(get("link", buf, sizeof buf) == 12, "read through the link");
  CHECK(link(at("created.txt"), at2("hard.txt")) == 0, "link");
  CHECK(stat(at("hard.txt"), &st) == 0 && st.st_nlink == 2, "nlink 2");

  /* Truncate, chmod, times. */
  put("trunc.txt", "abcdefgh", O_TRUNC);
  CHECK(truncate(at("trunc.txt"), 3) == 0, "truncate");
  CHECK(get("trunc.txt", buf, sizeof buf) == 3 && strcmp(buf, "abc") == 0, "truncated");
  fd = open(at("trunc.txt"), O_WRONLY | O_TRUNC);
  CHECK(fd >= 0, "O_TRUNC");
  close(fd);
  CHECK(stat(at("trunc.txt"), &st) == 0 && st.st_size == 0, "O_TRUNC empties");
  put("mode.txt", "m", O_TRUNC);
  CHECK(chmod(at("mode.txt"), 0640) == 0, "chmod");
  CHECK(stat(at("mode.txt"), &st) == 0 && (st.st_mode & 07777) == 0640, "mode 0640");
  struct timeval tv[2] = {{1000000000, 0}, {1234567890, 0}};
  CHECK(utimes(at("mode.txt"), tv) == 0, "utimes");
  CHECK(stat(at("mode.txt"), &st) == 0 && st.st_mtime == 1234567890, "mtime");

  /* Mappings: private (read), shared (written back to the host). */
  fd = open(at("input.txt"), O_RDONLY);
  char* p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED && memcmp(p, INPUT, strlen(INPUT)) == 0, "MAP_PRIVATE");
  if (p != MAP_FAILED) munmap(p, 4096);
  close(fd);
  put("mapped.txt", "................", O_TRUNC);
  fd = open(at("mapped.txt"), O_RDWR);
  p = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "MAP_SHARED");
  if (p != MAP_FAILED) {
    memcpy(p, "shared mapping!\n", 16);
    CHECK(msync(p, 16, MS_SYNC) == 0, "msync");
    munmap(p, 16);
  }
  CHECK(fsync(fd) == 0, "fsync");
  close(fd);
  /* The mapping holds the last reference (the descriptor is closed first):
   * munmap lets go of the file where the kernel cannot sleep, and the page
   * still reaches the host (the host test reads it after the run). */
  put("unmapped.txt", "................", O_TRUNC);
  fd = open(at("unmapped.txt"), O_RDWR);
  p = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  CHECK(p != MAP_FAILED, "MAP_SHARED unmapped.txt");
  if (p != MAP_FAILED) {
    memcpy(p, "written, unmap\n", 15);
    CHECK(munmap(p, 16) == 0, "munmap");
  }
  /* msync alone: read(2) asks the host, so it shows what msync sent. */
  put("msynced.txt", "0123456789abcdef", O_TRUNC);
  fd = open(at("msynced.txt"), O_RDWR);
  p = mmap(NULL, 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "MAP_SHARED msynced.txt");
  if (p != MAP_FAILED) {
    memcpy(p + 4, "MSYNC", 5);
    CHECK(msync(p, 16, MS_SYNC) == 0, "msync");
    CHECK(pread(fd, buf, 16, 0) == 16 && memcmp(buf, "0123MSYNC9abcdef", 16) == 0, "read after msync");
    munmap(p, 16);
  }
  close(fd);

  /* Directory listing. */
  DIR* d = opendir(dir);
  CHECK(d != NULL, "opendir");
  int seen = 0;
  struct dirent* e;
  while (d && (e = readdir(d)))
    if (!strcmp(e->d_name, "created.txt") && e->d_type == DT_REG) seen |= 1;
    else if (!strcmp(e->d_name, "sub") && e->d_type == DT_DIR) seen |= 2;
    else if (!strcmp(e->d_name, "link") && e->d_type == DT_LNK) seen |= 4;
    else if (!strcmp(e->d_name, "deleted.txt")) seen |= 8;
  if (d) closedir(d);
  CHECK(seen == 7, "readdir saw %d", seen);

  /* The share's root is a wall: ".." leaves through the guest's tree, not
   * the host's; a symlink to ".." is resolved by the guest too. */
  EXPECT_ERR(ENOENT, access(at("up/outside.txt"), F_OK));
  EXPECT_ERR(ENOENT, access(at("../outside.txt"), F_OK));

  threads();

  struct statfs sf;
  CHECK(statfs(dir, &sf) == 0 && sf.f_bsize > 0 && sf.f_blocks > 0, "statfs");

  const char* names[] = {"created.txt", "big.bin", "renamed.txt", "victim.txt", "sub", "sub/inner.txt",
                         "sub/deeper", "sub/moved_dir", "link", "hard.txt", "trunc.txt", "mode.txt",
                         "mapped.txt"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) print_stat(names[i]);
}

static void ro(void) {
  char buf[256];
  CHECK(get("input.txt", buf, sizeof buf) == (int)strlen(INPUT), "read input.txt");
  EXPECT_ERR(EROFS, open(at("input.txt"), O_WRONLY));
  EXPECT_ERR(EROFS, open(at("input.txt"), O_RDWR));
  EXPECT_ERR(EROFS, open(at("input.txt"), O_RDONLY | O_TRUNC));
  EXPECT_ERR(EROFS, open(at("new.txt"), O_WRONLY | O_CREAT, 0644));
  EXPECT_ERR(EROFS, mkdir(at("newdir"), 0755));
  EXPECT_ERR(EROFS, unlink(at("input.txt")));
  EXPECT_ERR(EROFS, rmdir(at("keepdir")));
  EXPECT_ERR(EROFS, rename(at("input.txt"), at2("moved.txt")));
  EXPECT_ERR(EROFS, symlink("input.txt", at("newlink")));
  EXPECT_ERR(EROFS, link(at("input.txt"), at2("newhard")));
  EXPECT_ERR(EROFS, truncate(at("input.txt"), 0));
  EXPECT_ERR(EROFS, chmod(at("input.txt"), 0600));
  EXPECT_ERR(EROFS, utimes(at("input.txt"), NULL));
  EXPECT_ERR(EROFS, mknod(at("fifo"), S_IFIFO | 0644, 0));
  int fd = open(at("input.txt"), O_RDONLY);
  CHECK(fd >= 0, "open read-only");
  void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p == MAP_FAILED && errno == EACCES, "a writable shared map of an O_RDONLY file");
  close(fd);
  struct stat st;
  CHECK(stat(at("keepdir"), &st) == 0 && S_ISDIR(st.st_mode), "stat keepdir");
}

static int listed(const char* name) {
  DIR* d = opendir(dir);
  int found = 0;
  struct dirent* e;
  while (d && (e = readdir(d)))
    if (!strcmp(e->d_name, name)) found = 1;
  if (d) closedir(d);
  return found;
}

static void watch(void) {
  char buf[256];
  struct stat st;
  CHECK(get("a.txt", buf, sizeof buf) == 3 && strcmp(buf, "v1\n") == 0, "a.txt before");
  CHECK(stat(at("a.txt"), &st) == 0 && st.st_size == 3, "a.txt size before");
  CHECK(!listed("b.txt") && listed("c.txt") && listed("d.txt"), "the listing before");
  CHECK(access(at("c.txt"), F_OK) == 0 && access(at("b.txt"), F_OK) == -1, "names before");
  int fd = open(at("a.txt"), O_RDONLY);
  CHECK(fd >= 0, "open a.txt");
  int ready = open(at("ready"), O_WRONLY | O_CREAT, 0644);
  CHECK(ready >= 0, "ready");
  close(ready);
  /* The host test's timeout bounds this wait. */
  while (access(at("go"), F_OK) != 0) usleep(20000);
  CHECK(get("a.txt", buf, sizeof buf) == 12 && strcmp(buf, "version two\n") == 0, "a.txt after: '%s'", buf);
  CHECK(fstat(fd, &st) == 0 && st.st_size == 12, "fstat of the open a.txt after");
  CHECK(pread(fd, buf, sizeof buf - 1, 0) == 12 && memcmp(buf, "version two\n", 12) == 0, "pread after");
  close(fd);
  CHECK(get("b.txt", buf, sizeof buf) == 4 && strcmp(buf, "new\n") == 0, "b.txt made by the host");
  EXPECT_ERR(ENOENT, access(at("c.txt"), F_OK));
  EXPECT_ERR(ENOENT, access(at("d.txt"), F_OK));
  CHECK(access(at("e.txt"), F_OK) == 0, "d.txt renamed to e.txt");
  CHECK(listed("b.txt") && !listed("c.txt") && !listed("d.txt") && listed("e.txt"), "the listing after");
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "rw") && strcmp(argv[1], "ro") && strcmp(argv[1], "watch"))) {
    printf("usage: share_edit rw|ro|watch DIR\n");
    return 2;
  }
  dir = argv[2];
  if (!strcmp(argv[1], "rw")) rw();
  else if (!strcmp(argv[1], "watch")) watch();
  else ro();
  if (g_failures) return 1;
  printf("PASS share_edit %s\n", argv[1]);
  return 0;
}
