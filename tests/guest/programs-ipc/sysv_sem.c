/* System V semaphores (docs/ipc.md): semget, semop and semtimedop
 * (blocking, IPC_NOWAIT, all-or-nothing, wait-for-zero, SEM_UNDO applied
 * at exit), semctl (SETVAL, GETVAL, SETALL, GETALL, GETPID, GETNCNT,
 * GETZCNT, IPC_STAT, IPC_SET, IPC_RMID waking sleepers with EIDRM,
 * IPC_INFO, SEM_INFO, SEM_STAT), and the errors Linux gives for bad
 * input. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

union semun {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
  struct seminfo* __buf;
};

static void reap_status(pid_t pid, int want, const char* what) {
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", what);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want, "%s: child status %#x, wanted exit %d", what, st, want);
}

static void msleep(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits until `count` sleepers wait on semaphore `num` (GETNCNT or
 * GETZCNT); at most 2000 tries of 1 ms. */
static int wait_sleepers(int id, int num, int cmd, int count) {
  for (int i = 0; i < 2000; ++i) {
    if (semctl(id, num, cmd) == count) return 1;
    msleep(1);
  }
  return 0;
}

static void values(void) {
  int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  CHECK(id >= 0, "semget");
  CHECK(semctl(id, 0, GETVAL) == 0 && semctl(id, 2, GETVAL) == 0, "new semaphores are 0");
  CHECK(semctl(id, 1, SETVAL, (union semun){.val = 5}) == 0, "SETVAL");
  CHECK(semctl(id, 1, GETVAL) == 5, "GETVAL %d", semctl(id, 1, GETVAL));
  CHECK(semctl(id, 1, GETPID) == getpid(), "GETPID");
  unsigned short all[3] = {1, 2, 3}, got[3] = {0};
  CHECK(semctl(id, 0, SETALL, (union semun){.array = all}) == 0, "SETALL");
  CHECK(semctl(id, 0, GETALL, (union semun){.array = got}) == 0, "GETALL");
  CHECK(got[0] == 1 && got[1] == 2 && got[2] == 3, "values %d %d %d", got[0], got[1], got[2]);
  struct semid_ds ds;
  CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0, "IPC_STAT");
  CHECK(ds.sem_nsems == 3 && (ds.sem_perm.mode & 0777) == 0600 && ds.sem_otime == 0 && ds.sem_ctime > 0,
        "nsems %lu mode %o", (unsigned long)ds.sem_nsems, ds.sem_perm.mode);
  ds.sem_perm.mode = 0640;
  CHECK(semctl(id, 0, IPC_SET, (union semun){.buf = &ds}) == 0, "IPC_SET");
  CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0 && (ds.sem_perm.mode & 0777) == 0640, "mode %o",
        ds.sem_perm.mode);

  /* semop: all or nothing. */
  struct sembuf ops[2] = {{0, -1, IPC_NOWAIT}, {1, -5, IPC_NOWAIT}};
  EXPECT_ERR(EAGAIN, semop(id, ops, 2));
  CHECK(semctl(id, 0, GETVAL) == 1, "nothing applied: %d", semctl(id, 0, GETVAL));
  ops[1].sem_op = -2;
  CHECK(semop(id, ops, 2) == 0, "both apply");
  CHECK(semctl(id, 0, GETVAL) == 0 && semctl(id, 1, GETVAL) == 0, "after semop");
  CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0 && ds.sem_otime > 0, "otime set");
  /* A later step sees an earlier one's result. */
  struct sembuf seq[2] = {{2, 4, 0}, {2, -7, IPC_NOWAIT}};
  CHECK(semop(id, seq, 2) == 0 && semctl(id, 2, GETVAL) == 0, "steps in order: %d", semctl(id, 2, GETVAL));
  /* Wait-for-zero succeeds at once on 0, EAGAIN otherwise with IPC_NOWAIT. */
  struct sembuf z = {0, 0, IPC_NOWAIT};
  CHECK(semop(id, &z, 1) == 0, "wait for zero on 0");
  CHECK(semctl(id, 0, SETVAL, (union semun){.val = 1}) == 0, "SETVAL 1");
  EXPECT_ERR(EAGAIN, semop(id, &z, 1));

  /* Errors. */
  struct sembuf bad = {3, 1, 0};
  EXPECT_ERR(EFBIG, semop(id, &bad, 1));
  EXPECT_ERR(EINVAL, semop(id, ops, 0));
  EXPECT_ERR(EINVAL, semop(-1, ops, 1));
  EXPECT_ERR(E2BIG, semop(id, ops, 501));
  EXPECT_ERR(EFAULT, semop(id, (struct sembuf*)8, 1));
  EXPECT_ERR(ERANGE, semctl(id, 0, SETVAL, (union semun){.val = 32768}));
  EXPECT_ERR(ERANGE, semctl(id, 0, SETVAL, (union semun){.val = -1}));
  EXPECT_ERR(EINVAL, semctl(id, 3, GETVAL));
  EXPECT_ERR(EINVAL, semctl(id, 0, 9999));
  EXPECT_ERR(EFAULT, semctl(id, 0, GETALL, (union semun){.array = (unsigned short*)8}));
  EXPECT_ERR(EFAULT, semctl(id, 0, IPC_STAT, (union semun){.buf = (struct semid_ds*)8}));
  struct sembuf big = {0, 32767, 0};
  EXPECT_ERR(ERANGE, semop(id, &big, 1));  /* 1 + 32767 > SEMVMX */
  struct timespec bad_ts = {0, 1000000000L};
  struct sembuf down = {0, -5, 0};
  EXPECT_ERR(EINVAL, semtimedop(id, &down, 1, &bad_ts));
  struct timespec short_ts = {0, 20 * 1000000L};
  EXPECT_ERR(EAGAIN, semtimedop(id, &down, 1, &short_ts));  /* timed out */
  CHECK(semctl(id, 0, IPC_RMID) == 0, "IPC_RMID");
  EXPECT_ERR(EINVAL, semctl(id, 0, GETVAL));
  EXPECT_ERR(EINVAL, semop(id, ops, 1));
}

static void keys(void) {
  key_t k = (key_t)(0x53500000 + (getpid() & 0xffff) * 16);
  EXPECT_ERR(ENOENT, semget(k, 1, 0600));
  int id = semget(k, 4, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(id >= 0, "semget by key");
  EXPECT_ERR(EEXIST, semget(k, 4, IPC_CREAT | IPC_EXCL | 0600));
  CHECK(semget(k, 2, 0) == id && semget(k, 0, 0) == id, "found by key");
  EXPECT_ERR(EINVAL, semget(k, 5, 0));  /* more semaphores than the set has */
  EXPECT_ERR(EINVAL, semget(IPC_PRIVATE, 0, 0600));  /* a new set needs nsems > 0 */
  EXPECT_ERR(EINVAL, semget(IPC_PRIVATE, -1, 0600));
  EXPECT_ERR(EINVAL, semget(IPC_PRIVATE, 32001, 0600));
  CHECK(semctl(id, 0, IPC_RMID) == 0, "rmid");
}

/* Blocking between processes: a child waits for a value, another for
 * zero; the counts say so; the parent's semop wakes them. */
static void blocking(void) {
  int id = semget(IPC_PRIVATE, 2, 0600);
  CHECK(id >= 0, "semget");
  pid_t down = fork();
  if (down == 0) {
    struct sembuf op = {0, -2, 0};
    _exit(semop(id, &op, 1) == 0 ? 0 : 1);
  }
  CHECK(semctl(id, 1, SETVAL, (union semun){.val = 1}) == 0, "SETVAL");
  pid_t zero = fork();
  if (zero == 0) {
    struct sembuf op = {1, 0, 0};
    _exit(semop(id, &op, 1) == 0 ? 0 : 1);
  }
  CHECK(wait_sleepers(id, 0, GETNCNT, 1), "GETNCNT 1: %d", semctl(id, 0, GETNCNT));
  CHECK(wait_sleepers(id, 1, GETZCNT, 1), "GETZCNT 1: %d", semctl(id, 1, GETZCNT));
  struct sembuf up = {0, 1, 0};
  CHECK(semop(id, &up, 1) == 0, "up 1");  /* not enough for -2 */
  msleep(20);
  CHECK(semctl(id, 0, GETNCNT) == 1 && semctl(id, 0, GETVAL) == 1, "still waiting");
  CHECK(semop(id, &up, 1) == 0, "up 2");
  reap_status(down, 0, "semop down woke");
  CHECK(semctl(id, 0, GETVAL) == 0 && semctl(id, 0, GETPID) == down, "the child took 2; GETPID %d",
        semctl(id, 0, GETPID));
  struct sembuf take = {1, -1, 0};
  CHECK(semop(id, &take, 1) == 0, "to zero");
  reap_status(zero, 0, "wait-for-zero woke");
  CHECK(semctl(id, 0, GETNCNT) == 0 && semctl(id, 1, GETZCNT) == 0, "no sleepers left");

  /* IPC_RMID wakes sleepers with EIDRM. */
  pid_t rm = fork();
  if (rm == 0) {
    struct sembuf op = {0, -1, 0};
    _exit(semop(id, &op, 1) == -1 && errno == EIDRM ? 0 : 1);
  }
  CHECK(wait_sleepers(id, 0, GETNCNT, 1), "sleeper before IPC_RMID");
  CHECK(semctl(id, 0, IPC_RMID) == 0, "IPC_RMID");
  reap_status(rm, 0, "EIDRM");
}

/* SEM_UNDO: what a process did with it is undone when it exits. */
static void undo(void) {
  int id = semget(IPC_PRIVATE, 2, 0600);
  CHECK(id >= 0 && semctl(id, 0, SETVAL, (union semun){.val = 3}) == 0, "setup");
  pid_t pid = fork();
  if (pid == 0) {
    struct sembuf ops[2] = {{0, -2, SEM_UNDO}, {1, 5, SEM_UNDO}};
    if (semop(id, ops, 2) != 0) _exit(1);
    struct sembuf more = {1, -1, SEM_UNDO};
    if (semop(id, &more, 1) != 0) _exit(2);
    _exit(semctl(id, 0, GETVAL) == 1 && semctl(id, 1, GETVAL) == 4 ? 0 : 3);
  }
  reap_status(pid, 0, "SEM_UNDO child");
  CHECK(semctl(id, 0, GETVAL) == 3 && semctl(id, 1, GETVAL) == 0, "undone at exit: %d %d", semctl(id, 0, GETVAL),
        semctl(id, 1, GETVAL));
  /* Without SEM_UNDO it stays. */
  pid = fork();
  if (pid == 0) {
    struct sembuf op = {0, -1, 0};
    _exit(semop(id, &op, 1) == 0 ? 0 : 1);
  }
  reap_status(pid, 0, "no undo child");
  CHECK(semctl(id, 0, GETVAL) == 2, "kept: %d", semctl(id, 0, GETVAL));
  /* A killed process's adjustments are undone too: a lock held by a
   * process that dies is released. */
  CHECK(semctl(id, 0, SETVAL, (union semun){.val = 1}) == 0, "SETVAL");
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid = fork();
  if (pid == 0) {
    struct sembuf lock = {0, -1, SEM_UNDO};
    if (semop(id, &lock, 1) != 0) _exit(1);
    if (write(ready[1], "x", 1) != 1) _exit(2);
    for (;;) pause();
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "the child holds the lock");
  CHECK(semctl(id, 0, GETVAL) == 0, "held");
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st), "killed");
  CHECK(semctl(id, 0, GETVAL) == 1, "released at death: %d", semctl(id, 0, GETVAL));
  close(ready[0]);
  close(ready[1]);
  CHECK(semctl(id, 0, IPC_RMID) == 0, "rmid");
}

/* A semaphore as a lock between 4 processes adding to a pipe-free
 * counter kept in the semaphore set itself (semaphore 1). */
static void mutual_exclusion(void) {
  int id = semget(IPC_PRIVATE, 2, 0600);
  CHECK(id >= 0 && semctl(id, 0, SETVAL, (union semun){.val = 1}) == 0, "setup");
  enum { PROCS = 4, ROUNDS = 200 };
  pid_t pids[PROCS];
  for (int p = 0; p < PROCS; ++p) {
    pids[p] = fork();
    if (pids[p] == 0) {
      for (int i = 0; i < ROUNDS; ++i) {
        struct sembuf lock = {0, -1, SEM_UNDO}, unlock = {0, 1, SEM_UNDO};
        if (semop(id, &lock, 1) != 0) _exit(1);
        int v = semctl(id, 1, GETVAL);
        if (i % 16 == 0) sched_yield();
        if (semctl(id, 1, SETVAL, (union semun){.val = v + 1}) != 0) _exit(2);
        if (semop(id, &unlock, 1) != 0) _exit(3);
      }
      _exit(0);
    }
  }
  for (int p = 0; p < PROCS; ++p) reap_status(pids[p], 0, "adder");
  CHECK(semctl(id, 1, GETVAL) == PROCS * ROUNDS, "total %d", semctl(id, 1, GETVAL));
  CHECK(semctl(id, 0, GETVAL) == 1, "lock free: %d", semctl(id, 0, GETVAL));
  CHECK(semctl(id, 0, IPC_RMID) == 0, "rmid");
}

static void info(void) {
  struct seminfo si;
  int maxidx = semctl(0, 0, IPC_INFO, (union semun){.__buf = &si});
  CHECK(maxidx >= 0, "IPC_INFO");
  CHECK(si.semmsl == 32000 && si.semopm == 500 && si.semvmx == 32767, "msl %d opm %d vmx %d", si.semmsl, si.semopm,
        si.semvmx);
  int id = semget(IPC_PRIVATE, 2, 0600);
  maxidx = semctl(0, 0, SEM_INFO, (union semun){.__buf = &si});
  CHECK(maxidx >= 0 && si.semusz >= 1 && si.semaem >= 2, "SEM_INFO: %d sets %d sems %d", maxidx, si.semusz,
        si.semaem);
  int found = 0;
  for (int i = 0; i <= maxidx; ++i) {
    struct semid_ds ds;
    if (semctl(i, 0, SEM_STAT, (union semun){.buf = &ds}) == id) found = 1;
  }
  CHECK(found, "SEM_STAT finds the id");
  CHECK(semctl(id, 0, IPC_RMID) == 0, "rmid");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  values();
  keys();
  blocking();
  undo();
  mutual_exclusion();
  info();
  if (g_failures) return 1;
  printf("PASS sysv_sem\n");
  return 0;
}
