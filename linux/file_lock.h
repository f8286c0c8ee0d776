#pragma once
// Advisory file locks at the descriptor boundary (linux/sys_file_lock.cc):
// what close(2) must tell the lock table.
#include "arch/uaccess.h"
#include "fs/file.h"

namespace capsule::linux_abi {

// close(2) of any descriptor of a file drops the process's POSIX
// (F_SETLK) locks on it (fcntl(2), "Advisory record locking").
void posix_locks_on_close(vfs::OpenFile& f);

}  // namespace capsule::linux_abi

namespace capsule::linux_abi {

// fcntl(2) F_GETLK/F_SETLK/F_SETLKW and F_OFD_GETLK/F_OFD_SETLK/
// F_OFD_SETLKW on `f`; arg is the user's struct flock. Error::RestartSys
// when a wait is interrupted.
Result<void> fcntl_record_lock(vfs::OpenFile& f, int cmd, UserPtr<uint8_t> arg);
bool is_lock_cmd(uint64_t cmd);

}  // namespace capsule::linux_abi
