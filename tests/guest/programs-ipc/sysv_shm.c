/* System V shared memory (docs/ipc.md): shmget (IPC_PRIVATE, keys,
 * IPC_CREAT|IPC_EXCL, sizes), shmat (across fork, SHM_RDONLY, SHM_RND,
 * fixed addresses, SHM_REMAP), shmdt, shmctl (IPC_STAT, IPC_SET,
 * IPC_RMID with destroy-on-last-detach, IPC_INFO, SHM_INFO, SHM_STAT),
 * and the errors Linux gives for bad input. Passes on the host's Linux
 * too. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

static void reap(pid_t pid, const char* what) {
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", what);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x", what, st);
}

static key_t test_key(int n) { return (key_t)(0x43500000 + (getpid() & 0xffff) * 16 + n); }

static void basics(void) {
  int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
  CHECK(id >= 0, "shmget IPC_PRIVATE");
  struct shmid_ds ds;
  CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
  CHECK(ds.shm_segsz == 10000, "segsz %zu", (size_t)ds.shm_segsz);
  CHECK(ds.shm_nattch == 0, "nattch %lu", (unsigned long)ds.shm_nattch);
  CHECK(ds.shm_cpid == getpid(), "cpid %d", ds.shm_cpid);
  CHECK((ds.shm_perm.mode & 0777) == 0600, "mode %o", ds.shm_perm.mode);
  CHECK(ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid(), "uid");
  CHECK(ds.shm_perm.__key == IPC_PRIVATE, "key %d", ds.shm_perm.__key);
  CHECK(ds.shm_ctime > 0 && ds.shm_atime == 0, "times");

  char* p = shmat(id, NULL, 0);
  CHECK(p != (void*)-1, "shmat");
  CHECK(((uintptr_t)p & 4095) == 0, "page aligned");
  CHECK(p[0] == 0 && p[9999] == 0, "zeroed");
  p[0] = 'a';
  p[10000] = 'b';  /* the rest of the last page is mapped too */
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 && ds.shm_atime > 0 && ds.shm_lpid == getpid(),
        "after shmat: nattch %lu", (unsigned long)ds.shm_nattch);

  /* A second attach sees the same memory. */
  char* q = shmat(id, NULL, 0);
  CHECK(q != (void*)-1 && q != p, "second shmat");
  CHECK(q[0] == 'a', "the same memory");
  q[1] = 'q';
  CHECK(p[1] == 'q', "shared between attaches");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2, "nattch 2: %lu", (unsigned long)ds.shm_nattch);

  /* Across fork: the child inherits both attaches (nattch counts them). */
  int to_parent[2];
  CHECK(pipe(to_parent) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    struct shmid_ds d;
    int ok = p[0] == 'a' && shmctl(id, IPC_STAT, &d) == 0 && d.shm_nattch == 4;
    p[2] = 'c';
    ok = ok && shmdt(q) == 0;
    ok = ok && shmctl(id, IPC_STAT, &d) == 0 && d.shm_nattch == 3;
    _exit(ok ? 0 : 1);
  }
  reap(pid, "shm across fork");
  CHECK(p[2] == 'c', "the child's write");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2, "nattch after the child exited: %lu",
        (unsigned long)ds.shm_nattch);
  close(to_parent[0]);
  close(to_parent[1]);

  CHECK(shmdt(q) == 0, "shmdt");
  EXPECT_ERR(EINVAL, shmdt(q));      /* not attached any more */
  EXPECT_ERR(EINVAL, shmdt(p + 1));  /* not page aligned */
  EXPECT_ERR(EINVAL, shmdt(p + 4096));  /* not where it was attached */

  /* IPC_RMID while attached: the segment lives on (SHM_DEST, key private)
   * until the last detach. */
  CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT after IPC_RMID while attached");
  CHECK(ds.shm_perm.mode & SHM_DEST, "SHM_DEST: mode %o", ds.shm_perm.mode);
  CHECK(ds.shm_nattch == 1, "nattch %lu", (unsigned long)ds.shm_nattch);
  p[3] = 'd';
  CHECK(p[3] == 'd' && p[0] == 'a', "still usable");
  CHECK(shmdt(p) == 0, "last shmdt");
  EXPECT_ERR(EINVAL, shmctl(id, IPC_STAT, &ds));  /* gone */
  EXPECT_ERR(EINVAL, shmat(id, NULL, 0));
}

static void keys(void) {
  key_t k = test_key(1);
  EXPECT_ERR(ENOENT, shmget(k, 4096, 0600));
  int id = shmget(k, 8192, IPC_CREAT | IPC_EXCL | 0640);
  CHECK(id >= 0, "create by key");
  EXPECT_ERR(EEXIST, shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600));
  CHECK(shmget(k, 4096, 0) == id, "smaller size: the same id");
  CHECK(shmget(k, 0, 0) == id, "size 0: the same id");
  CHECK(shmget(k, 8192, IPC_CREAT | 0600) == id, "IPC_CREAT finds it");
  EXPECT_ERR(EINVAL, shmget(k, 8193, 0));  /* larger than the segment */
  /* The child finds it by key and attaches it. */
  pid_t pid = fork();
  if (pid == 0) {
    int cid = shmget(k, 0, 0);
    char* c = cid >= 0 ? shmat(cid, NULL, 0) : (void*)-1;
    if (c == (void*)-1) _exit(2);
    strcpy(c + 100, "from the child");
    _exit(shmdt(c) == 0 ? 0 : 3);
  }
  reap(pid, "attach by key");
  char* p = shmat(id, NULL, SHM_RDONLY);
  CHECK(p != (void*)-1, "shmat SHM_RDONLY");
  CHECK(strcmp(p + 100, "from the child") == 0, "the child's text");
  /* A read-only attach may not become writable. */
  EXPECT_ERR(EACCES, mprotect(p, 4096, PROT_READ | PROT_WRITE));
  struct shmid_ds ds;
  CHECK(shmctl(id, IPC_STAT, &ds) == 0, "stat");
  CHECK(ds.shm_perm.__key == k && (ds.shm_perm.mode & 0777) == 0640, "key %#x mode %o", ds.shm_perm.__key,
        ds.shm_perm.mode);
  /* IPC_SET changes the permission bits. */
  ds.shm_perm.mode = 0604;
  CHECK(shmctl(id, IPC_SET, &ds) == 0, "IPC_SET");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0604, "mode after IPC_SET %o",
        ds.shm_perm.mode);
  CHECK(shmdt(p) == 0, "shmdt");
  CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID unattached");
  EXPECT_ERR(EINVAL, shmctl(id, IPC_STAT, &ds));
  EXPECT_ERR(ENOENT, shmget(k, 4096, 0));  /* the key is free again */
}

static void addresses(void) {
  int id = shmget(IPC_PRIVATE, 3 * 4096, 0600);
  CHECK(id >= 0, "shmget");
  /* A free range to attach at. */
  char* area = mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(area != MAP_FAILED, "mmap");
  char* want = area + 4 * 4096;
  /* Over a mapping without SHM_REMAP: EINVAL. */
  EXPECT_ERR(EINVAL, shmat(id, want, 0));
  munmap(area, 16 * 4096);
  char* p = shmat(id, want, 0);
  CHECK(p == want, "shmat at a fixed address: %p %p", (void*)p, (void*)want);
  EXPECT_ERR(EINVAL, shmat(id, want + 100, 0));  /* unaligned without SHM_RND */
  char* r = shmat(id, want + 8 * 4096 + 100, SHM_RND);
  CHECK(r == want + 8 * 4096, "SHM_RND rounds down: %p", (void*)r);
  /* SHM_REMAP replaces what is there. */
  char* again = shmat(id, want, SHM_REMAP);
  CHECK(again == want, "SHM_REMAP");
  p[5] = 'x';
  CHECK(r[5] == 'x', "the same segment at both");
  EXPECT_ERR(EINVAL, shmat(id, NULL, SHM_REMAP));  /* SHM_REMAP needs an address */
  CHECK(shmdt(p) == 0 && shmdt(r) == 0, "shmdt both");
  CHECK(shmctl(id, IPC_RMID, NULL) == 0, "rmid");
}

static void info_and_errors(void) {
  struct shminfo si;
  int maxidx = shmctl(0, IPC_INFO, (struct shmid_ds*)&si);
  CHECK(maxidx >= 0, "IPC_INFO");
  CHECK(si.shmmni >= 4096 && si.shmmin == 1 && si.shmmax >= (1ul << 40), "limits mni %lu min %lu max %lu",
        (unsigned long)si.shmmni, (unsigned long)si.shmmin, (unsigned long)si.shmmax);
  int id = shmget(IPC_PRIVATE, 4096, 0600);
  struct shm_info info;
  maxidx = shmctl(0, SHM_INFO, (struct shmid_ds*)&info);
  CHECK(maxidx >= 0 && info.used_ids >= 1, "SHM_INFO: %d used %d", maxidx, info.used_ids);
  /* SHM_STAT takes an index and returns the id. */
  int found = 0;
  for (int i = 0; i <= maxidx; ++i) {
    struct shmid_ds ds;
    if (shmctl(i, SHM_STAT, &ds) == id) found = 1;
  }
  CHECK(found, "SHM_STAT finds the id");

  EXPECT_ERR(EINVAL, shmget(IPC_PRIVATE, 0, 0600));  /* below SHMMIN */
  EXPECT_ERR(EINVAL, shmctl(-1, IPC_STAT, NULL));
  EXPECT_ERR(EINVAL, shmctl(id, 9999, NULL));
  EXPECT_ERR(EFAULT, shmctl(id, IPC_STAT, (struct shmid_ds*)8));
  EXPECT_ERR(EFAULT, shmctl(id, IPC_SET, (struct shmid_ds*)8));
  EXPECT_ERR(EINVAL, shmat(-1, NULL, 0));
  EXPECT_ERR(EINVAL, shmat(id + 1000000, NULL, 0));
  CHECK(shmctl(id, IPC_RMID, NULL) == 0, "rmid");
  EXPECT_ERR(EINVAL, shmctl(id, IPC_RMID, NULL));
}

/* Memory comes back: many segments made, attached, written and removed. */
static void churn(void) {
  for (int i = 0; i < 200; ++i) {
    int id = shmget(IPC_PRIVATE, 64 * 1024, 0600);
    if (id < 0) {
      CHECK(0, "shmget %d", i);
      return;
    }
    char* p = shmat(id, NULL, 0);
    CHECK(p != (void*)-1, "shmat %d", i);
    if (p == (void*)-1) return;
    memset(p, i, 64 * 1024);
    shmctl(id, IPC_RMID, NULL);
    shmdt(p);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  basics();
  keys();
  addresses();
  info_and_errors();
  churn();
  if (g_failures) return 1;
  printf("PASS sysv_shm\n");
  return 0;
}
