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

constexpr uint32_t POLL_NVAL = 0x20;
constexpr uint32_t DEFAULT_MASK = POLL_IN | POLL_OUT | POLL_RDNORM | POLL_WRNORM;

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
    auto f = get_file(Fd{int(fd)});
    if (!f.ok() || (f.value()->flags() & vfs::OpenFile::PATH)) return false;  // O_PATH: POLLNVAL, EBADF
    files_[i] = static_cast<FileRef&&>(f.value());
    reqs_[i].object = files_[i]->vnode().pollable();
    if (!reqs_[i].object) fixed_[i] = DEFAULT_MASK & (events | POLL_ERR | POLL_HUP);
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
    auto r = poll_wait(reqs_.get(), n_, any_fixed_ ? NO_WAIT : deadline);
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

// The poll family's body. `deadline` from event_args.h. An interrupted
// wait is Error::RestartNoHand.
Result<int> do_poll(UserPtr<PollFd> ufds, uint64_t nfds, uint64_t deadline) {
  if (nfds > rlimit_cur(L_RLIMIT_NOFILE)) return Error::Invalid;
  CallArray<PollFd> pfd(nfds);
  if (pfd.failed()) return Error::NoMemory;
  if (nfds) TRY(ufds.copy_in(pfd.get(), nfds));
  PollSet set(nfds);
  if (set.failed()) return Error::NoMemory;
  for (size_t i = 0; i < nfds; ++i) {
    // POLLERR, POLLHUP and POLLNVAL are reported whether asked or not.
    if (!set.set(i, pfd[i].fd, uint16_t(pfd[i].events))) set.set_fixed(i, POLL_NVAL);
  }
  auto w = set.wait(deadline);
  if (!w.ok()) return w.error() == Error::Interrupted ? Error::RestartNoHand : w.error();
  int count = 0;
  for (size_t i = 0; i < nfds; ++i) {
    pfd[i].revents = int16_t(set.revents(i));
    if (pfd[i].revents) ++count;
  }
  // Only the revents fields are the call's to write (another thread may
  // change the rest meanwhile).
  for (size_t i = 0; i < nfds; ++i) {
    TRY(ufds.offset(i).cast<uint8_t>().offset(offsetof(PollFd, revents)).cast<int16_t>().write(pfd[i].revents));
  }
  return count;
}

// --- select ---

constexpr size_t BITS = 64;

// One fd_set of `words` 64-bit words (NULL: empty).
Result<void> get_fdset(UserPtr<uint64_t> u, uint64_t* k, size_t words) {
  if (!u) {
    for (size_t i = 0; i < words; ++i) k[i] = 0;
    return {};
  }
  return u.copy_in(k, words);
}

Result<int> do_select(int n_arg, UserPtr<uint64_t> uin, UserPtr<uint64_t> uout, UserPtr<uint64_t> uex,
                      uint64_t deadline) {
  if (n_arg < 0) return Error::Invalid;
  // Linux caps n at the size of the descriptor table: nothing is open above.
  uint64_t n = uint64_t(n_arg);
  uint64_t limit = fds().limit();
  if (n > limit) n = limit;
  size_t words = (size_t(n) + BITS - 1) / BITS;
  CallArray<uint64_t> mem(words * 3);
  if (mem.failed()) return Error::NoMemory;
  struct {
    uint64_t *in, *out, *ex;
  } s = {mem.get(), mem.get() + words, mem.get() + 2 * words};
  if (words) {
    TRY(get_fdset(uin, s.in, words));
    TRY(get_fdset(uout, s.out, words));
    TRY(get_fdset(uex, s.ex, words));
    // Bits at and above n are not the call's business.
    if (n % BITS) {
      uint64_t keep = (1ull << (n % BITS)) - 1;
      s.in[words - 1] &= keep, s.out[words - 1] &= keep, s.ex[words - 1] &= keep;
    }
  }
  size_t count = 0;
  for (size_t w = 0; w < words; ++w) count += __builtin_popcountll(s.in[w] | s.out[w] | s.ex[w]);
  PollSet set(count);
  if (set.failed()) return Error::NoMemory;
  // Entry k ↔ the k-th descriptor with a bit set, in order.
  size_t k = 0;
  for (size_t w = 0; w < words; ++w) {
    for (uint64_t any = s.in[w] | s.out[w] | s.ex[w]; any; any &= any - 1) {
      unsigned b = unsigned(__builtin_ctzll(any));
      uint64_t bit = 1ull << b;
      uint32_t ev = ((s.in[w] & bit) ? SELECT_IN : 0) | ((s.out[w] & bit) ? SELECT_OUT : 0) |
                    ((s.ex[w] & bit) ? SELECT_EX : 0);
      if (!set.set(k++, int64_t(w * BITS + b), ev)) return Error::BadFd;
    }
  }
  auto wr = set.wait(deadline);
  if (!wr.ok()) return wr.error() == Error::Interrupted ? Error::RestartNoHand : wr.error();
  int ready = 0;
  k = 0;
  for (size_t w = 0; w < words; ++w) {
    uint64_t in = 0, out = 0, ex = 0;
    for (uint64_t any = s.in[w] | s.out[w] | s.ex[w]; any; any &= any - 1) {
      uint64_t bit = 1ull << __builtin_ctzll(any);
      uint32_t rev = set.revents(k++);
      if ((s.in[w] & bit) && (rev & SELECT_IN)) in |= bit, ++ready;
      if ((s.out[w] & bit) && (rev & SELECT_OUT)) out |= bit, ++ready;
      if ((s.ex[w] & bit) && (rev & SELECT_EX)) ex |= bit, ++ready;
    }
    s.in[w] = in, s.out[w] = out, s.ex[w] = ex;
  }
  if (words) {
    if (uin) TRY(uin.copy_out(s.in, words));
    if (uout) TRY(uout.copy_out(s.out, words));
    if (uex) TRY(uex.copy_out(s.ex, words));
  }
  return ready;
}

// Runs `body` with the caller's mask replaced by `mask` (when has_mask).
template <typename Body>
Result<int> with_sigmask(bool has_mask, uint64_t mask, Body body) {
  if (has_mask && !signal_begin_temp_mask(mask)) return Error::NoMemory;
  Result<int> r = body();
  if (has_mask) signal_end_temp_mask(r.error() == Error::RestartNoHand || r.error() == Error::Interrupted);
  return r;
}

// Time left, written back into a timespec/timeval (select's rule: errors
// writing it back are ignored, an interrupted call then says EINTR).
template <typename T>
Result<int> write_back(UserPtr<T> ut, const T& left, Result<int>&& r) {
  if (!ut.write(left).ok() && r.error() == Error::RestartNoHand) return Error::Interrupted;
  return static_cast<Result<int>&&>(r);
}

// A timespec timeout as a deadline (NULL: wait forever).
Result<uint64_t> timespec_deadline(UserPtr<const KTimespec> uts) {
  if (!uts) return WAIT_FOREVER;
  const KTimespec t = TRY(uts.read());
  uint64_t ns;
  if (!timespec_ns(t, ns)) return Error::Invalid;
  return deadline_after(ns);
}

}  // namespace

DEFINE_SYSCALL(7, poll, Result<int>, UserPtr<PollFd> fds, unsigned nfds, int timeout_ms) {
  return do_poll(fds, nfds, deadline_ms(timeout_ms));
}

DEFINE_SYSCALL(271, ppoll, Result<int>, UserPtr<PollFd> fds, unsigned nfds, UserPtr<KTimespec> tsp,
               UserPtr<const uint64_t> sigmask, size_t sigsetsize) {
  const uint64_t deadline = TRY(timespec_deadline(tsp.cast<const KTimespec>()));
  uint64_t mask = 0;
  if (sigmask) mask = TRY(read_sigset(sigmask, sigsetsize));
  Result<int> r = with_sigmask(bool(sigmask), mask, [&] { return do_poll(fds, nfds, deadline); });
  if (!tsp) return r;
  return write_back(tsp, ns_timespec(remaining_ns(deadline)), static_cast<Result<int>&&>(r));
}

DEFINE_SYSCALL(23, select, Result<int>, int n, UserPtr<uint64_t> readfds, UserPtr<uint64_t> writefds,
               UserPtr<uint64_t> exceptfds, UserPtr<KTimeval> timeout) {
  uint64_t deadline = WAIT_FOREVER;
  if (timeout) {
    KTimeval tv = TRY(timeout.read());
    // Linux accepts tv_usec >= 1e6 by carrying it into seconds; only negative values are invalid.
    if (tv.sec < 0 || tv.usec < 0) return Error::Invalid;
    uint64_t ns;
    int64_t sec = tv.sec > INT64_MAX / 2 ? INT64_MAX / 2 : tv.sec;  // no overflow below: it saturates anyway
    KTimespec ts{sec + tv.usec / 1000000, (tv.usec % 1000000) * 1000};
    if (!timespec_ns(ts, ns)) return Error::Invalid;
    deadline = deadline_after(ns);
  }
  Result<int> r = do_select(n, readfds, writefds, exceptfds, deadline);
  if (!timeout) return r;
  uint64_t left = remaining_ns(deadline);
  return write_back(timeout, KTimeval{int64_t(left / NS_PER_SEC), int64_t(left % NS_PER_SEC / 1000)},
                    static_cast<Result<int>&&>(r));
}

namespace {
struct PselectSigmask {  // pselect6's sixth argument: { const sigset_t* ss; size_t ss_len; }
  uint64_t ss, len;
};
}  // namespace

DEFINE_SYSCALL(270, pselect6, Result<int>, int n, UserPtr<uint64_t> readfds, UserPtr<uint64_t> writefds,
               UserPtr<uint64_t> exceptfds, UserPtr<KTimespec> tsp, UserPtr<const PselectSigmask> sig) {
  const uint64_t deadline = TRY(timespec_deadline(tsp.cast<const KTimespec>()));
  bool has_mask = false;
  uint64_t mask = 0;
  if (sig) {
    const PselectSigmask data = TRY(sig.read());
    if (data.ss) {
      mask = TRY(read_sigset(UserPtr<const uint64_t>(data.ss), data.len));
      has_mask = true;
    }
  }
  Result<int> r = with_sigmask(has_mask, mask, [&] { return do_select(n, readfds, writefds, exceptfds, deadline); });
  if (!tsp) return r;
  return write_back(tsp, ns_timespec(remaining_ns(deadline)), static_cast<Result<int>&&>(r));
}

}  // namespace capsule::linux_abi
