#pragma once
// read(2) from a line discipline's input (drivers/tty/line_discipline.h):
// the console tty (drivers/tty/tty.cc) and a pseudo-terminal's slave
// (drivers/tty/pty.cc) share it. Canonical mode waits for a line;
// otherwise VMIN and VTIME decide (termios(3)): VMIN 0 VTIME 0 polls,
// VTIME alone is a timeout, both an inter-byte timer (approximated as a
// deadline from the first byte).
#include "core/event/wait.h"
#include "core/io_buffer.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "drivers/tty/line_discipline.h"
#include "lib/result.h"

namespace capsule::tty {

// Called and returns with `mu` held. `ended` (guarded by `mu`): no more
// input will come (the host's end of file): what is there, a partial line
// included, is returned, and then 0. Again when `nonblock` and nothing is
// ready; Interrupted when a signal arrives while waiting.
inline Result<size_t> read_input(LineDiscipline& ld, Mutex& mu, event::WaitList& readers, IoBuffer& r,
                                 bool nonblock, const bool& ended) REQUIRES(mu) {
  const size_t max = r.size();
  uint64_t deadline = 0;  // VTIME (tenths of a second) in non-canonical mode
  for (;;) {
    const Termios& tm = ld.termios();
    const bool canon = tm.lflag & ICANON;
    const size_t vmin = canon ? 1 : tm.cc[VMIN], vtime = canon ? 0 : tm.cc[VTIME];
    const bool end = ended;
    if (end && !ld.readable()) ld.commit_pending();
    const size_t want = vmin < max ? vmin : max;
    const bool enough = canon ? ld.readable() : ld.available() >= want && (want || !vtime || ld.readable());
    if (!canon && vmin && vtime && ld.readable() && !deadline) deadline = uptime_ns() + vtime * 100000000ull;
    const bool timed_out = deadline && uptime_ns() >= deadline;
    if (enough || end || timed_out || (!canon && vmin == 0 && vtime == 0)) {
      Error err = Error::None;
      size_t pos = 0;
      size_t got = ld.read(max, [&](const uint8_t* p, size_t n) {
        auto res = r.copy_out(pos, p, n);
        if (!res.ok()) err = res.error();
        pos += n;
        return res.ok();
      });
      if (!got && err != Error::None) return err;
      return got;
    }
    if (nonblock) return Error::Again;
    if (!canon && vmin == 0 && vtime && !deadline) deadline = uptime_ns() + vtime * 100000000ull;
    TRY(readers.wait(mu, deadline));
  }
}

}  // namespace capsule::tty
