// poll(2), ppoll(2), select(2), pselect6(2) over poll_wait (docs/events.md).
//
// Each descriptor becomes a PollRequest on its file's Pollable, with the
// file referenced for the call. Descriptors without one (files of a file
// system, the console) are always ready: POLLIN|POLLOUT|POLLRDNORM|
// POLLWRNORM, Linux's DEFAULT_POLLMASK. A closed descriptor is POLLNVAL
// for poll and EBADF for select. An interrupted wait is -ERESTARTNOHAND
// (EINTR once a handler ran); select, pselect6 and ppoll write the time
// left back, as Linux does.
#include "fs/file.h"
#include "core/poll.h"
#include "arch/uaccess.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::FileRef;

constexpr uint32_t kPollNval = 0x20;
constexpr uint32_t kDefaultMask = kPollIn | kPollOut | kPollRdNorm | kPollWrNorm;
constexpr int kRlimitNofile = 7;

struct PollFd {  // struct pollfd
  int32_t fd;
  int16_t events;
  int16_t revents;
};
static_assert(sizeof(PollFd) == 8);

// The descriptors of one call: requests, the files they hold, and what is
// known without waiting (closed or always-ready descriptors).
class PollSet {
 public:
  explicit PollSet(size_t n) : n_(n), reqs_(n), files_(n), fixed_(n) {}
  bool failed() const { return reqs_.failed() || files_.failed() || fixed_.failed(); }
  // Entry i watches `fd` for `events`: false if fd is not open.
  bool set(size_t i, int64_t fd, uint32_t events) {
    fixed_[i] = 0;
    reqs_[i].events = events;
    if (fd < 0) return true;  // poll: ignored
    auto f = get_file(uint64_t(fd));
    if (!f.ok()) return false;
    files_[i] = static_cast<FileRef&&>(f.value());
    reqs_[i].object = files_[i]->vnode().pollable();
    if (!reqs_[i].object) fixed_[i] = kDefaultMask & (events | kPollErr | kPollHup);
    any_fixed_ |= fixed_[i] != 0;
    return true;
  }
  void set_fixed(size_t i, uint32_t revents) {
    fixed_[i] = revents;
    any_fixed_ |= revents != 0;
  }
  // Waits; revents(i) then holds each entry's result. Interrupted, NoMemory.
  Result<void> wait(uint64_t deadline) {
    // Something ready already: look at the rest once, without sleeping.
    auto r = poll_wait(reqs_.get(), n_, any_fixed_ ? kNoWait : deadline);
    if (!r.ok()) return r.error();
    return {};
  }
  uint32_t revents(size_t i) const { return fixed_[i] | reqs_[i].revents; }

 private:
  size_t n_;
  CallArray<PollRequest> reqs_;
  CallArray<FileRef> files_;  // the files stay open for the call
  CallArray<uint32_t> fixed_;
  bool any_fixed_ = false;
};

// The poll family's body. `deadline` from event_args.h.
int64_t do_poll(uint64_t ufds, uint64_t nfds, uint64_t deadline) {
  if (nfds > rlimit_cur(kRlimitNofile)) return -kEINVAL;
  CallArray<PollFd> pfd(nfds);
  if (pfd.failed()) return -kENOMEM;
  if (nfds && !copy_from_user(pfd.get(), reinterpret_cast<const void*>(ufds), nfds * sizeof(PollFd)).ok())
    return -kEFAULT;
  PollSet set(nfds);
  if (set.failed()) return -kENOMEM;
  for (size_t i = 0; i < nfds; ++i) {
    // POLLERR, POLLHUP and POLLNVAL are reported whether asked or not.
    if (!set.set(i, pfd[i].fd, uint16_t(pfd[i].events))) set.set_fixed(i, kPollNval);
  }
  auto w = set.wait(deadline);
  if (!w.ok()) return w.error() == Error::Interrupted ? -kERESTARTNOHAND : to_errno(w.error());
  int64_t count = 0;
  for (size_t i = 0; i < nfds; ++i) {
    pfd[i].revents = int16_t(set.revents(i));
    if (pfd[i].revents) ++count;
  }
  // Only the revents fields are the call's to write (another thread may
  // change the rest meanwhile).
  for (size_t i = 0; i < nfds; ++i) {
    auto* u = reinterpret_cast<PollFd*>(ufds) + i;
    if (!put_user(&u->revents, pfd[i].revents).ok()) return -kEFAULT;
  }
  return count;
}

// --- select ---

constexpr size_t kBits = 64;

int64_t get_fdset(uint64_t u, uint64_t* k, size_t words) {
  if (!u) {
    for (size_t i = 0; i < words; ++i) k[i] = 0;
    return 0;
  }
  return copy_from_user(k, reinterpret_cast<const void*>(u), words * 8).ok() ? 0 : -kEFAULT;
}

int64_t do_select(int64_t n, uint64_t uin, uint64_t uout, uint64_t uex, uint64_t deadline) {
  if (n < 0) return -kEINVAL;
  // Linux caps n at the size of the descriptor table: nothing is open above.
  uint64_t limit = fds().limit();
  if (uint64_t(n) > limit) n = int64_t(limit);
  size_t words = (size_t(n) + kBits - 1) / kBits;
  CallArray<uint64_t> mem(words * 3);
  if (mem.failed()) return -kENOMEM;
  struct {
    uint64_t *in, *out, *ex;
  } s = {mem.get(), mem.get() + words, mem.get() + 2 * words};
  if (words) {
    if (int64_t e = get_fdset(uin, s.in, words)) return e;
    if (int64_t e = get_fdset(uout, s.out, words)) return e;
    if (int64_t e = get_fdset(uex, s.ex, words)) return e;
    // Bits at and above n are not the call's business.
    if (n % kBits) {
      uint64_t keep = (1ull << (n % kBits)) - 1;
      s.in[words - 1] &= keep, s.out[words - 1] &= keep, s.ex[words - 1] &= keep;
    }
  }
  size_t count = 0;
  for (size_t w = 0; w < words; ++w) count += __builtin_popcountll(s.in[w] | s.out[w] | s.ex[w]);
  PollSet set(count);
  if (set.failed()) return -kENOMEM;
  // Entry k ↔ the k-th descriptor with a bit set, in order.
  size_t k = 0;
  for (size_t w = 0; w < words; ++w) {
    for (uint64_t any = s.in[w] | s.out[w] | s.ex[w]; any; any &= any - 1) {
      unsigned b = unsigned(__builtin_ctzll(any));
      uint64_t bit = 1ull << b;
      uint32_t ev = ((s.in[w] & bit) ? kSelectIn : 0) | ((s.out[w] & bit) ? kSelectOut : 0) |
                    ((s.ex[w] & bit) ? kSelectEx : 0);
      if (!set.set(k++, int64_t(w * kBits + b), ev)) return -kEBADF;
    }
  }
  auto wr = set.wait(deadline);
  if (!wr.ok()) return wr.error() == Error::Interrupted ? -kERESTARTNOHAND : to_errno(wr.error());
  int64_t ready = 0;
  k = 0;
  for (size_t w = 0; w < words; ++w) {
    uint64_t in = 0, out = 0, ex = 0;
    for (uint64_t any = s.in[w] | s.out[w] | s.ex[w]; any; any &= any - 1) {
      uint64_t bit = 1ull << __builtin_ctzll(any);
      uint32_t rev = set.revents(k++);
      if ((s.in[w] & bit) && (rev & kSelectIn)) in |= bit, ++ready;
      if ((s.out[w] & bit) && (rev & kSelectOut)) out |= bit, ++ready;
      if ((s.ex[w] & bit) && (rev & kSelectEx)) ex |= bit, ++ready;
    }
    s.in[w] = in, s.out[w] = out, s.ex[w] = ex;
  }
  auto put = [&](uint64_t u, const uint64_t* k) {
    return !u || copy_to_user(reinterpret_cast<void*>(u), k, words * 8).ok();
  };
  if (words && (!put(uin, s.in) || !put(uout, s.out) || !put(uex, s.ex))) return -kEFAULT;
  return ready;
}

// Runs `body` with the caller's mask replaced by *uset (when uset != 0).
template <typename Body>
int64_t with_sigmask(bool has_mask, uint64_t mask, Body body) {
  if (has_mask && !signal_begin_temp_mask(mask)) return -kENOMEM;
  int64_t r = body();
  if (has_mask) signal_end_temp_mask(r == -kERESTARTNOHAND || r == -kEINTR);
  return r;
}

// Time left, written back into a timespec/timeval (select's rule: errors
// writing it back are ignored, an interrupted call then says EINTR).
int64_t write_back_timespec(uint64_t uts, uint64_t deadline, int64_t r) {
  KTimespec left = ns_timespec(remaining_ns(deadline));
  if (!put_user(reinterpret_cast<KTimespec*>(uts), left).ok() && r == -kERESTARTNOHAND) return -kEINTR;
  return r;
}

}  // namespace

LINUX_SYSCALL(7, poll, "pud") { return do_poll(args.a[0], args.a[1], deadline_ms(int32_t(args.a[2]))); }

LINUX_SYSCALL(271, ppoll, "puppu") {
  uint64_t ufds = args.a[0], nfds = args.a[1], uts = args.a[2], uset = args.a[3];
  uint64_t deadline = kWaitForever;
  if (uts) {
    auto t = get_user(reinterpret_cast<const KTimespec*>(uts));
    if (!t.ok()) return -kEFAULT;
    uint64_t ns;
    if (!timespec_ns(t.value(), ns)) return -kEINVAL;
    deadline = deadline_after(ns);
  }
  uint64_t mask = 0;
  if (uset)
    if (int64_t e = get_sigset(uset, args.a[4], mask)) return e;
  int64_t r = with_sigmask(uset != 0, mask, [&] { return do_poll(ufds, nfds, deadline); });
  return uts ? write_back_timespec(uts, deadline, r) : r;
}

LINUX_SYSCALL(23, select, "dpppp") {
  uint64_t utv = args.a[4];
  uint64_t deadline = kWaitForever;
  if (utv) {
    auto t = get_user(reinterpret_cast<const KTimeval*>(utv));
    if (!t.ok()) return -kEFAULT;
    KTimeval tv = t.value();
    // Linux accepts tv_usec >= 1e6 by carrying it into seconds; only negative values are invalid.
    if (tv.sec < 0 || tv.usec < 0) return -kEINVAL;
    uint64_t ns;
    int64_t sec = tv.sec > INT64_MAX / 2 ? INT64_MAX / 2 : tv.sec;  // no overflow below: it saturates anyway
    KTimespec ts{sec + tv.usec / 1000000, (tv.usec % 1000000) * 1000};
    if (!timespec_ns(ts, ns)) return -kEINVAL;
    deadline = deadline_after(ns);
  }
  int64_t r = do_select(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3], deadline);
  if (utv) {
    uint64_t left = remaining_ns(deadline);
    KTimeval tv{int64_t(left / kNsPerSec), int64_t(left % kNsPerSec / 1000)};
    if (!put_user(reinterpret_cast<KTimeval*>(utv), tv).ok() && r == -kERESTARTNOHAND) r = -kEINTR;
  }
  return r;
}

LINUX_SYSCALL(270, pselect6, "dppppp") {
  uint64_t uts = args.a[4], usig = args.a[5];
  uint64_t deadline = kWaitForever;
  if (uts) {
    auto t = get_user(reinterpret_cast<const KTimespec*>(uts));
    if (!t.ok()) return -kEFAULT;
    uint64_t ns;
    if (!timespec_ns(t.value(), ns)) return -kEINVAL;
    deadline = deadline_after(ns);
  }
  // The sixth argument points at { const sigset_t* ss; size_t ss_len; }.
  bool has_mask = false;
  uint64_t mask = 0;
  if (usig) {
    struct {
      uint64_t ss, len;
    } data;
    if (!copy_from_user(&data, reinterpret_cast<const void*>(usig), sizeof(data)).ok()) return -kEFAULT;
    if (data.ss) {
      if (int64_t e = get_sigset(data.ss, data.len, mask)) return e;
      has_mask = true;
    }
  }
  int64_t r = with_sigmask(has_mask, mask, [&] {
    return do_select(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3], deadline);
  });
  return uts ? write_back_timespec(uts, deadline, r) : r;
}

}  // namespace capsule::linux_abi
