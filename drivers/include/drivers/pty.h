#pragma once
// A pseudo-terminal pair (drivers/tty/pty.cc, docs/pty.md): the terminal
// logic of /dev/ptmx and /dev/pts/N, Linux-free. What the master writes is
// the slave's input, through the console's line discipline
// (drivers/tty/line_discipline.h: editing, echo, ^C...); what the slave
// writes goes through output processing (ONLCR...) into a queue the master
// reads, as does the echo. One termios and one window size for both
// sides (Linux's TCGETS/TIOCGWINSZ on a master answer the slave's). The
// Linux adapter (linux/pty_file.cc) owns the pair's numbering, devpts
// nodes, lock and job control; it gets the line discipline's signals.
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/poll.h"
#include "drivers/tty/termios.h"
#include "lib/result.h"

namespace capsule::tty {

// Where a pair's signals go (Linux numbers: 2 SIGINT, 3 SIGQUIT, 20
// SIGTSTP from the line discipline, 28 SIGWINCH on a new size): the
// slave's foreground process group. Called without the pair's lock.
class PtyOwner {
 public:
  virtual void pty_signal(int sig) = 0;

 protected:
  ~PtyOwner() = default;
};

class Pty {
 public:
  static constexpr size_t OUT_CAPACITY = 16384;  // slave output not yet read by the master (a power of two)
  // Packet mode's status byte (Linux's TIOCPKT_* values).
  static constexpr uint8_t PKT_FLUSHREAD = 1, PKT_FLUSHWRITE = 2, PKT_STOP = 4, PKT_START = 8, PKT_NOSTOP = 16,
                           PKT_DOSTOP = 32;

  // Check ok() after construction (the state is allocated).
  explicit Pty(PtyOwner& owner);
  bool ok() const { return s_ != nullptr; }
  ~Pty();
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;

  // --- the master (what a terminal emulator or `script` holds) ---
  // The slave's output (in packet mode: a status byte alone, or a 0 byte
  // and data). Io once every slave descriptor is closed and nothing is
  // left; Again with nonblock and nothing to read.
  Result<size_t> master_read(IoBuffer& dst, bool nonblock);
  // The slave's input, through the line discipline; waits for room in
  // non-canonical mode.
  Result<size_t> master_write(IoBuffer& src, bool nonblock);
  Pollable& master_pollable();
  size_t master_available();  // FIONREAD on the master

  // --- the slave (the program's terminal) ---
  // 0 after hang-up (the master closed), as Linux's hung-up tty.
  Result<size_t> slave_read(IoBuffer& dst, bool nonblock);
  // Io after hang-up; waits while output is stopped (TCOOFF) or the
  // queue is full.
  Result<size_t> slave_write(IoBuffer& src, bool nonblock);
  Pollable& slave_pollable();
  size_t slave_available();  // FIONREAD on the slave
  size_t output_queued();    // TIOCOUTQ on the slave: not yet read by the master

  // Slave descriptors come and go; the master's last close hangs up.
  void slave_opened();
  void slave_closed();
  void hang_up();
  bool hung_up();
  // A slave has been open and none is now: the master reads Io.
  bool slave_gone();

  void get_termios(Termios& t);
  // how: 0 now, 1 after output drains, 2 also discarding input (TCSETS/W/F).
  void set_termios(const Termios& t, int how);
  WinSize winsize();
  // A new size sends SIGWINCH to the owner, as Linux's pty_resize does.
  void set_winsize(const WinSize& w);
  void set_packet(bool on);
  bool packet();
  // TCFLSH. From the slave: input is its line discipline (PKT_FLUSHREAD),
  // output what the master has not read (PKT_FLUSHWRITE). From the
  // master: the reverse, without status.
  void flush(bool from_master, bool input, bool output);
  // TCXONC from the slave: TCOOFF stops its output (PKT_STOP), TCOON
  // restarts it (PKT_START).
  void set_stopped(bool stopped);

 private:
  struct State;  // drivers/tty/pty.cc
  State* s_;
};

// The termios a new pair starts with (Linux's tty_std_termios).
Termios pty_default_termios();

}  // namespace capsule::tty
