#pragma once
// The console as files (linux/console_file.cc): fds 0-2, /dev/console,
// /dev/tty and /dev/null. The three devices register with the VFS device
// registry (vfs::register_char_device), so a node with one of their device
// numbers opens the console object, as /dev/zero opens devfs's.
#include "fs/file.h"
#include "fs/vfs.h"

namespace capsule {
struct Process;
}

namespace capsule::linux_abi {

// Boot: descriptors 0 (read), 1 and 2 (write). The /dev nodes are devfs's.
Result<void> console_files_init(vfs::Vfs& vfs, const vfs::PathContext& pc, vfs::FdTable& fds);
// Descriptors 0 (read), 1 and 2 (write) on the console: the lowest free
// ones (a fresh table: 0-2). Boot, and each command of a sequence.
Result<void> console_install_stdio(vfs::FdTable& fds);
// Process p ends (linux/sys_wait.cc): if it leads the session the console
// is the controlling terminal of, the foreground group gets SIGHUP and
// the session loses the console (docs/process.md "Job control").
void console_process_exit(Process& p);
// The console is the controlling terminal of session `sid` (linux/pty_file.cc
// asks before a session takes a pseudo-terminal).
bool console_controls_session(int sid);
// Linux's tty_check_change for a terminal controlling session `tty_sid`
// (0: none) with foreground group `fg`: {} to go on, RestartSys after
// sending `sig` (SIGTTIN, SIGTTOU) to the caller's background group, or
// Io (linux/console_file.cc has the rules). The console and
// pseudo-terminals (linux/pty_file.cc) share it.
Result<void> terminal_job_check(int tty_sid, int fg, int sig, bool ignored_goes_on);
// A live process group `pgid` exists; its session in *sid (TIOCSPGRP).
bool process_group_session(int pgid, int* sid);

}  // namespace capsule::linux_abi
