// /proc/<pid>/mem, /proc/<pid>/ns/* and the small per-process attribute
// files programs open to learn about their environment (loginuid,
// personality, timerslack_ns, uid_map...; docs/pseudo-fs.md).
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "linux/procfs.h"
#include "linux/process_state.h"

namespace capsule::linux_abi::proc {
namespace {

constexpr uint64_t PAGE = 4096;
constexpr size_t CHUNK = 512;  // bytes moved per step (a stack buffer)
constexpr uint64_t USER_END = 1ull << 47;

// The caller's own address space is read and written through the uaccess
// helpers (faulting lazily mapped pages in); another process's is read
// from the pages it has present (process_read_memory: no fault).
bool is_own(Process* p) { return p == current_process() && p->as == thread_current()->as; }

Result<size_t> mem_io(uint64_t pid, uint64_t offset, IoBuffer& buf, bool write) {
  Target t(pid);
  if (t.null() || t.zombie()) return size_t(0);  // no memory left: nothing to read
  const bool own = is_own(t.get());
  if (write && !own) return Error::Io;  // writing another process's memory: not done
  uint8_t tmp[CHUNK];
  size_t done = 0;
  while (done < buf.size()) {
    const uint64_t addr = offset + done;
    if (addr < offset || addr >= USER_END) break;
    size_t n = buf.size() - done;
    if (n > CHUNK) n = CHUNK;
    if (n > PAGE - addr % PAGE) n = size_t(PAGE - addr % PAGE);
    if (n > USER_END - addr) n = size_t(USER_END - addr);
    size_t got = 0;
    if (write) {
      if (!buf.copy_in(done, tmp, n).ok()) return done ? Result<size_t>(done) : Result<size_t>(Error::Fault);
      got = copy_to_user(reinterpret_cast<void*>(addr), tmp, n).ok() ? n : 0;
    } else {
      if (own) got = copy_from_user(tmp, reinterpret_cast<const void*>(addr), n).ok() ? n : 0;
      else got = process_read_memory(*t.get(), uintptr_t(addr), tmp, n);
      if (got && !buf.copy_out(done, tmp, got).ok()) return done ? Result<size_t>(done) : Result<size_t>(Error::Fault);
    }
    done += got;
    if (got < n) break;
  }
  if (!done) return Error::Io;  // nothing mapped there (Linux: EIO)
  return done;
}

}  // namespace

Result<size_t> mem_read(uint64_t pid, uint64_t offset, IoBuffer& buf) { return mem_io(pid, offset, buf, false); }
Result<size_t> mem_write(uint64_t pid, uint64_t offset, IoBuffer& buf) { return mem_io(pid, offset, buf, true); }

Result<void> show_personality(uint64_t pid, Text& out) {
  Target t(pid);
  if (t.null()) return Error::NotFound;
  out.f("{:08x}\n", uint32_t(t->creds->persona));
  return {};
}

Result<void> show_timerslack(uint64_t pid, Text& out) {
  Target t(pid);
  if (t.null()) return Error::NotFound;
  out.f("{}\n", t->limits->timerslack.load());
  return {};
}

// A write sets the slack (0: the default, 50 us), as PR_SET_TIMERSLACK;
// the number as Linux's kstrtoull takes it (ERANGE past 2^64 - 1).
Result<void> store_timerslack(uint64_t pid, StringView data) {
  const uint64_t v = TRY(procfs::parse_write_u64(data));
  Target t(pid);
  if (t.null()) return Error::NotFound;
  t->limits->timerslack.store(v ? v : 50000);
  return {};
}

// No LSM: Linux answers EINVAL to a read of attr/current.
Result<void> show_attr_current(uint64_t, Text&) { return Error::Invalid; }

uint64_t ns_ino_cgroup(uint64_t) { return 4026531835; }
uint64_t ns_ino_ipc(uint64_t) { return 4026531839; }
uint64_t ns_ino_mnt(uint64_t) { return 4026531832; }
uint64_t ns_ino_net(uint64_t) { return 4026531833; }
uint64_t ns_ino_pid(uint64_t) { return 4026531836; }
uint64_t ns_ino_time(uint64_t) { return 4026531834; }
uint64_t ns_ino_user(uint64_t) { return 4026531837; }
uint64_t ns_ino_uts(uint64_t) { return 4026531838; }

}  // namespace capsule::linux_abi::proc
