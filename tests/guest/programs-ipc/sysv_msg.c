/* System V message queues (docs/ipc.md): msgget, msgsnd and msgrcv
 * (types > 0, 0, < 0, MSG_EXCEPT, MSG_NOERROR, E2BIG, IPC_NOWAIT ENOMSG
 * and EAGAIN, a full queue blocking its sender, sleepers across
 * processes, IPC_RMID waking them with EIDRM), msgctl (IPC_STAT, IPC_SET
 * msg_qbytes, IPC_INFO, MSG_INFO, MSG_STAT), and the errors Linux gives
 * for bad input. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

struct msg {
  long type;
  char text[256];
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

/* True once every thread of `pid` sleeps (/proc/PID/stat's state S), bounded
 * at 10 s: a child that must be waiting before the parent acts. */
static int asleep(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 1000; ++i) {
    FILE* f = fopen(path, "r");
    char st = 0;
    if (f) {
      if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1) st = 0;
      fclose(f);
    }
    if (st == 'S') return 1;
    msleep(10);
  }
  return 0;
}

static int send(int id, long type, const char* text, int flags) {
  struct msg m;
  m.type = type;
  size_t n = strlen(text);
  memcpy(m.text, text, n);
  return msgsnd(id, &m, n, flags);
}

/* Receives into m; returns the length, the text NUL-terminated. */
static ssize_t recv(int id, struct msg* m, size_t max, long type, int flags) {
  memset(m, 0, sizeof *m);
  return msgrcv(id, m, max, type, flags);
}

static void types(void) {
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  CHECK(id >= 0, "msgget");
  CHECK(send(id, 3, "three", 0) == 0 && send(id, 1, "one", 0) == 0 && send(id, 2, "two", 0) == 0 &&
            send(id, 1, "one again", 0) == 0 && send(id, 5, "five", 0) == 0,
        "sends");
  struct msqid_ds ds;
  CHECK(msgctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
  CHECK(ds.msg_qnum == 5 && ds.msg_cbytes == 5 + 3 + 3 + 9 + 4, "qnum %lu cbytes %lu", (unsigned long)ds.msg_qnum,
        (unsigned long)ds.msg_cbytes);
  CHECK(ds.msg_lspid == getpid() && ds.msg_stime > 0 && ds.msg_qbytes == 16384, "lspid, stime, qbytes %lu",
        (unsigned long)ds.msg_qbytes);
  struct msg m;
  /* > 0: the first of that type. */
  CHECK(recv(id, &m, 256, 1, 0) == 3 && m.type == 1 && strcmp(m.text, "one") == 0, "type 1: %s", m.text);
  /* MSG_EXCEPT: the first of another type. */
  CHECK(recv(id, &m, 256, 3, MSG_EXCEPT) == 3 && m.type == 2, "except 3: %ld %s", m.type, m.text);
  /* < 0: the lowest type not above |type|. */
  CHECK(recv(id, &m, 256, -4, 0) == 9 && m.type == 1 && strcmp(m.text, "one again") == 0, "type -4: %ld %s", m.type,
        m.text);
  /* 0: the first. */
  CHECK(recv(id, &m, 256, 0, 0) == 5 && m.type == 3, "type 0: %ld %s", m.type, m.text);
  /* Too small a buffer: E2BIG and the message stays; MSG_NOERROR cuts it. */
  EXPECT_ERR(E2BIG, recv(id, &m, 2, 5, 0));
  CHECK(recv(id, &m, 2, 5, MSG_NOERROR) == 2 && strcmp(m.text, "fi") == 0, "MSG_NOERROR: %s", m.text);
  /* Empty: ENOMSG with IPC_NOWAIT. */
  EXPECT_ERR(ENOMSG, recv(id, &m, 256, 0, IPC_NOWAIT));
  CHECK(send(id, 7, "seven", 0) == 0, "send");
  EXPECT_ERR(ENOMSG, recv(id, &m, 256, 8, IPC_NOWAIT));
  EXPECT_ERR(ENOMSG, recv(id, &m, 256, -6, IPC_NOWAIT));
  CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 1 && ds.msg_lrpid == getpid() && ds.msg_rtime > 0,
        "after receives: qnum %lu", (unsigned long)ds.msg_qnum);
  /* A zero-length message. */
  m.type = 9;
  CHECK(msgsnd(id, &m, 0, 0) == 0, "empty message");
  CHECK(recv(id, &m, 256, 9, 0) == 0 && m.type == 9, "empty received");

  /* Errors. */
  m.type = 0;
  EXPECT_ERR(EINVAL, msgsnd(id, &m, 1, 0));   /* type must be > 0 */
  m.type = 1;
  EXPECT_ERR(EINVAL, msgsnd(id, &m, 8193, 0));  /* above MSGMAX */
  EXPECT_ERR(EINVAL, msgsnd(id, &m, (size_t)-1, 0));
  EXPECT_ERR(EFAULT, msgsnd(id, (void*)8, 1, 0));
  EXPECT_ERR(EINVAL, msgsnd(-1, &m, 1, 0));
  EXPECT_ERR(EINVAL, msgrcv(id, &m, (size_t)-1, 0, 0));
  EXPECT_ERR(EINVAL, msgrcv(-1, &m, 10, 0, 0));
  EXPECT_ERR(EINVAL, msgctl(id, 9999, &ds));
  EXPECT_ERR(EFAULT, msgctl(id, IPC_STAT, (struct msqid_ds*)8));
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
  EXPECT_ERR(EINVAL, msgctl(id, IPC_STAT, &ds));
  EXPECT_ERR(EINVAL, send(id, 1, "x", 0));
}

static void keys(void) {
  key_t k = (key_t)(0x4d500000 + (getpid() & 0xffff) * 16);
  EXPECT_ERR(ENOENT, msgget(k, 0600));
  int id = msgget(k, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(id >= 0, "msgget by key");
  EXPECT_ERR(EEXIST, msgget(k, IPC_CREAT | IPC_EXCL | 0600));
  CHECK(msgget(k, 0) == id, "found by key");
  /* A child sends by key; the parent receives. */
  pid_t pid = fork();
  if (pid == 0) {
    int cid = msgget(k, 0);
    _exit(cid == id && send(cid, 4, "from the child", 0) == 0 ? 0 : 1);
  }
  reap_status(pid, 0, "sender");
  struct msg m;
  CHECK(recv(id, &m, 256, 4, IPC_NOWAIT) == 14 && strcmp(m.text, "from the child") == 0, "received: %s", m.text);
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "rmid");
}

static void blocking(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  CHECK(id >= 0, "msgget");
  /* A receiver waiting for type 2 ignores type 1 and wakes for 2. */
  pid_t rcv = fork();
  if (rcv == 0) {
    struct msg m;
    ssize_t n = recv(id, &m, 256, 2, 0);
    _exit(n == 3 && strcmp(m.text, "two") == 0 ? 0 : 1);
  }
  msleep(20);
  CHECK(send(id, 1, "one", 0) == 0, "send 1");
  msleep(20);
  CHECK(send(id, 2, "two", 0) == 0, "send 2");
  reap_status(rcv, 0, "typed receiver");
  struct msg m;
  CHECK(recv(id, &m, 256, 0, IPC_NOWAIT) == 3 && m.type == 1, "type 1 stayed");

  /* A full queue: EAGAIN with IPC_NOWAIT, else the sender sleeps until a
   * receive makes room. msg_qbytes lowered to make it small. */
  struct msqid_ds ds;
  CHECK(msgctl(id, IPC_STAT, &ds) == 0, "stat");
  ds.msg_qbytes = 100;
  CHECK(msgctl(id, IPC_SET, &ds) == 0, "IPC_SET qbytes");
  CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qbytes == 100, "qbytes %lu", (unsigned long)ds.msg_qbytes);
  char big[61];
  memset(big, 'b', 60);
  big[60] = 0;
  CHECK(send(id, 1, big, 0) == 0, "first fits");
  EXPECT_ERR(EAGAIN, send(id, 1, big, IPC_NOWAIT));
  pid_t snd = fork();
  if (snd == 0) _exit(send(id, 2, big, 0) == 0 ? 0 : 1);
  msleep(30);
  CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 1, "the sender waits: qnum %lu", (unsigned long)ds.msg_qnum);
  CHECK(recv(id, &m, 256, 1, 0) == 60, "receive makes room");
  reap_status(snd, 0, "blocked sender");
  CHECK(recv(id, &m, 256, 2, IPC_NOWAIT) == 60, "its message arrived");

  /* IPC_RMID wakes a sleeping receiver with EIDRM. */
  pid_t rm = fork();
  if (rm == 0) {
    struct msg mm;
    _exit(msgrcv(id, &mm, 256, 0, 0) == -1 && errno == EIDRM ? 0 : 1);
  }
  CHECK(asleep(rm), "the receiver sleeps in msgrcv");  /* else it would find no queue: EINVAL */
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
  reap_status(rm, 0, "EIDRM");
}

/* Many messages through a queue between processes, in order. */
static void stream(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  enum { N = 500 };
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < N; ++i) {
      struct msg m;
      m.type = 1 + i % 3;
      memcpy(m.text, &i, sizeof i);
      if (msgsnd(id, &m, sizeof i, 0) != 0) _exit(1);
    }
    _exit(0);
  }
  int ok = 1;
  for (int i = 0; i < N && ok; ++i) {
    struct msg m;
    int v = -1;
    ok = msgrcv(id, &m, sizeof v, 0, 0) == sizeof v;
    memcpy(&v, m.text, sizeof v);
    ok = ok && v == i && m.type == 1 + i % 3;
  }
  CHECK(ok, "500 messages in order");
  reap_status(pid, 0, "stream sender");
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "rmid");
}

static void info(void) {
  struct msginfo mi;
  int maxidx = msgctl(0, IPC_INFO, (struct msqid_ds*)&mi);
  CHECK(maxidx >= 0 && mi.msgmax == 8192 && mi.msgmnb == 16384, "IPC_INFO: max %d mnb %d", mi.msgmax, mi.msgmnb);
  int id = msgget(IPC_PRIVATE, 0600);
  send(id, 1, "abc", 0);
  maxidx = msgctl(0, MSG_INFO, (struct msqid_ds*)&mi);
  CHECK(maxidx >= 0 && mi.msgpool >= 1 && mi.msgmap >= 1 && mi.msgtql >= 3, "MSG_INFO: queues %d msgs %d bytes %d",
        mi.msgpool, mi.msgmap, mi.msgtql);
  int found = 0;
  for (int i = 0; i <= maxidx; ++i) {
    struct msqid_ds ds;
    if (msgctl(i, MSG_STAT, &ds) == id) found = 1;
  }
  CHECK(found, "MSG_STAT finds the id");
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "rmid");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  types();
  keys();
  blocking();
  stream();
  info();
  if (g_failures) return 1;
  printf("PASS sysv_msg\n");
  return 0;
}
