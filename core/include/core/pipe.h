#pragma once
// Pipes and FIFOs (core/event/pipe.cc, docs/events.md; pipe(7)).
//
// A Pipe is the shared buffer; each open end is a PipeEnd (an open file
// description's object: pipe2() makes one reader and one writer, a FIFO's
// open() makes one per open with the mode asked for). Ends are Pollable.
//
//   PipeEnd *r, *w;
//   TRY(pipe_create(&r, &w));          // pipe2(2)
//   w->write(KernelBuffer(buf, n), nonblock);
//   delete r; delete w;                // close(2) of the last fd of each
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/poll.h"
#include "lib/result.h"

namespace capsule {

inline constexpr size_t PIPE_BUF_SIZE = 4096;         // PIPE_BUF: atomic writes up to this
inline constexpr size_t PIPE_DEFAULT_SIZE = 65536;    // 16 pages, as Linux
inline constexpr size_t PIPE_MAX_SIZE = 1024 * 1024;  // /proc/sys/fs/pipe-max-size default
inline constexpr size_t PIPE_LIMIT_SIZE = size_t(1) << 31;  // beyond: EINVAL, whoever asks
inline constexpr size_t PIPE_MIN_SIZE = 8192;  // a new pipe past pipe-user-pages-soft: 2 pages
inline constexpr uint64_t PIPE_USER_PAGES_SOFT = 16384;  // pipe-user-pages-soft default (1024 pipes)

// Who makes or resizes a pipe, for the limits (pipe(7)); the adapter asks
// the caller's capabilities. above_max_size: CAP_SYS_RESOURCE (may pass
// pipe-max-size); unlimited: CAP_SYS_RESOURCE or CAP_SYS_ADMIN (not bound
// by pipe-user-pages-soft/-hard). The default is an unprivileged caller.
struct PipeCaller {
  bool above_max_size = false;
  bool unlimited = false;
};

// The pipe limits of /proc/sys/fs (pipe(7)). Pipes' room is counted in
// pages, at its full size from creation (as Linux, though the storage
// comes with the first write), for all pipes of the VM together (Linux:
// per user; one user here). A soft or hard limit of 0 is no limit.
size_t pipe_max_size();  // pipe-max-size, bytes
// Rounded up to a power of two of at least a page; Invalid above 2 GiB.
Result<void> pipe_set_max_size(uint64_t bytes);
uint64_t pipe_user_pages_soft();
void pipe_set_user_pages_soft(uint64_t pages);
uint64_t pipe_user_pages_hard();
void pipe_set_user_pages_hard(uint64_t pages);
uint64_t pipe_user_pages();  // counted now

class Pipe;

class PipeEnd final : public Pollable {
 public:
  // A new end on `pipe` (counts as a reader and/or a writer until deleted).
  // hup_after_writer: a FIFO opened O_RDONLY|O_NONBLOCK with no writer does
  // not report POLLHUP until a writer has opened after it (Linux; so that
  // poll waits for the first writer instead of returning at once).
  // NoMemory.
  static Result<PipeEnd*> open(Pipe* pipe, bool reader, bool writer, bool hup_after_writer = false);
  ~PipeEnd();  // close: the other side sees EOF / EPIPE when counts reach 0

  // read(2): blocks until data or EOF (0). Again with nonblock and nothing
  // to read (and writers left); Interrupted when interrupted before any
  // byte; Fault if no byte could be copied out.
  Result<size_t> read(IoBuffer& io, bool nonblock);
  // write(2): all of it, blocking while full. Up to PIPE_BUF_SIZE bytes go in
  // one piece (never interleaved with other writers). BrokenPipe when no
  // reader is left and nothing was written (the adapter raises SIGPIPE);
  // Again (nonblock, no room: for ≤ PIPE_BUF_SIZE, room for all of it);
  // Interrupted before any byte; otherwise the count written, which is
  // short only after an interrupt, a fault (the bytes before it went in)
  // or the last reader leaving — then *reader_left is set (Linux raises
  // SIGPIPE and returns the count).
  Result<size_t> write(IoBuffer& io, bool nonblock, bool* reader_left = nullptr);
  // splice(2)/tee(2)/vmsplice(2) into a pipe: blocks (unless nonblock)
  // while the pipe is full, then takes what fits and returns that count;
  // no PIPE_BUF rule. BrokenPipe/Again/Interrupted as write().
  Result<size_t> write_some(IoBuffer& io, bool nonblock);
  // Removes up to n bytes from the front (after a peek whose bytes went
  // elsewhere: a splice out of a pipe); the bytes removed.
  size_t drop(size_t n);
  // tee(2): as read(), but the bytes stay in the pipe.
  Result<size_t> peek(IoBuffer& io, bool nonblock);
  Result<size_t> read(void* buf, size_t n, bool nonblock) {
    KernelBuffer io(buf, n);
    return read(io, nonblock);
  }
  Result<size_t> write(const void* buf, size_t n, bool nonblock) {
    KernelBuffer io(buf, n);
    return write(io, nonblock);
  }

  uint32_t poll_events() override;
  size_t bytes_available();  // FIONREAD
  size_t capacity();         // F_GETPIPE_SZ
  // F_SETPIPE_SZ: rounded up to a power of two ≥ one page; Invalid above
  // PIPE_LIMIT_SIZE; Permission when growing above pipe_max_size() without
  // who.above_max_size, or growing while the pages counted are past the
  // soft or hard limit (with the growth) without who.unlimited; Busy if
  // the data in the pipe would not fit. Returns the new size.
  Result<size_t> set_capacity(size_t bytes, PipeCaller who = {});

  Pipe* pipe() const { return pipe_; }
  bool reader() const { return reader_; }
  bool writer() const { return writer_; }

 private:
  friend class Pipe;
  PipeEnd(Pipe* p, bool r, bool w) : pipe_(p), reader_(r), writer_(w) {}
  void notify_end(uint32_t events) { notify(events); }
  // read() (consume) and peek(): the bytes at the front of the pipe.
  Result<size_t> take(IoBuffer& io, bool nonblock, bool consume);
  // write() (all, PIPE_BUF atomic) and write_some() (what fits).
  Result<size_t> put(IoBuffer& io, bool nonblock, bool some, bool* reader_left);

  Pipe* pipe_;
  bool reader_, writer_;
  bool quiet_hup_ = false;          // see open(); under the pipe's mutex
  uint64_t writer_opens_seen_ = 0;  // the pipe's writer opens when this end opened
  ListNode pipe_node_;  // in Pipe::ends_
};

// A buffer with no ends yet, one reference held by the caller (a FIFO's
// vnode keeps it; ends add their own). Without who.above_max_size the size
// is at most pipe_max_size(); without who.unlimited, PIPE_MIN_SIZE when the
// pages counted pass the soft limit, and FileTableFull (ENFILE) past the
// hard limit. NoMemory.
Result<Pipe*> pipe_alloc(size_t capacity = PIPE_DEFAULT_SIZE, PipeCaller who = {});
void pipe_retain(Pipe* p);
void pipe_release(Pipe* p);
// pipe2(2): a new pipe with one read end and one write end (pipe_alloc's
// rules and errors).
Result<void> pipe_create(PipeEnd** read_end, PipeEnd** write_end, PipeCaller who = {},
                         size_t capacity = PIPE_DEFAULT_SIZE);

}  // namespace capsule
