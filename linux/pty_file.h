#pragma once
// Pseudo-terminals as files (linux/pty_file.cc, docs/pty.md): /dev/ptmx
// (the master, one pair per open) and /dev/pts/N (the slave, on devpts),
// their ioctls, and the slave as a controlling terminal.
#include "fs/file.h"
#include "fs/vfs.h"

namespace capsule {
struct Process;
}

namespace capsule::linux_abi {

// Boot: /dev/ptmx opens a new pair (the VFS device registry) and devpts is
// mounted on /dev/pts.
Result<void> pty_init(vfs::Vfs& v, const vfs::PathContext& pc);
// open(2) without O_NOCTTY of a slave by a session leader without a
// controlling terminal makes it the session's (Linux's tty_open).
void pty_open_ctty(vfs::OpenFile& f);
// /dev/tty when the caller's session's controlling terminal is a
// pseudo-terminal: a new open of its slave (that fstat and /proc/PID/fd
// show as /dev/tty); null otherwise.
Result<vfs::VnodeRef> pty_open_controlling();
// A session leader ends: its pseudo-terminal's foreground group gets
// SIGHUP and SIGCONT and the session loses it (linux/sys_wait.cc).
void pty_process_exit(Process& p);
// "/dev/pts/N" or "/dev/ptmx" for /proc/PID/fd links; false for others.
bool pty_link_name(vfs::Vnode& v, char* buf, size_t cap);

}  // namespace capsule::linux_abi
