#pragma once
// The program's console: standard input, output and error below the Linux
// ABI (drivers/tty/tty.cc, docs/console.md).
//
//   device (virtio-console ports, or the 16550 UART as fallback)
//      │ input bytes / end of file         ▲ output bytes per stream
//      ▼                                   │
//   tty: line discipline when the host side is a terminal (--tty=RxC),
//        pass-through otherwise; input buffer, readers, poll, signals
//      ▲ read / write / termios            │
//   linux/console_file.cc (fds 0-2, /dev/console, /dev/tty)
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/poll.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::tty {

struct Termios;
struct WinSize;

enum class Stream : uint8_t { Out = 1, Err = 2 };

// A device that carries the streams. Every call is made in thread context.
struct Backend {
  const char* name;
  // Writes all of `src` to the stream, copying it once, straight into the
  // device's transmit buffer; returns once the device has taken it (so
  // nothing is lost when the VM powers off right after). A fault in `src`
  // ends the write: the count of what went before, or the error if
  // nothing did.
  Result<size_t> (*write)(Stream s, IoBuffer& src);
  // The tty has room again after refusing input: deliver the rest.
  void (*input_space)();
};

// Boot, before the program starts: `terminal` when the host side is a
// terminal (the line discipline runs); the window size it reported;
// `one_output` when the host's stdout and stderr are that same terminal:
// both streams then leave through stdout's channel, so what the program
// writes to fds 1 and 2 and the echo keep their order, as on one terminal.
void init(bool terminal, uint16_t rows, uint16_t cols, bool one_output = false);
// A device takes over the streams (otherwise: the serial console).
void set_backend(const Backend* b);

// From the device, in thread context: input bytes (returns how many were
// taken; call again after input_space()), and the end of the input.
size_t input(const uint8_t* p, size_t n);
void input_eof();

// Where the line discipline's signals go (the Linux adapter: the process).
void set_signal_hook(void (*hook)(int sig));

// A request from the host side of the console: the CLI's control channel,
// one line each (docs/console.md, "Signals and requests from the host"):
//   signal N         the CLI got signal N: the program gets it, as from
//                    kill(2) by another process (the host-signal hook)
//   winsize ROWS COLS  the host terminal was resized: TIOCGWINSZ answers
//                    the new size and the foreground group gets SIGWINCH
//   dump             every thread's state in the kernel log (thread_dump)
//   stats            the --stats report so far (the host-stats hook)
// Anything else is ignored with a warning. Thread context.
void host_request(StringView line);
// Where "signal N" goes (the Linux adapter: the first process).
void set_host_signal_hook(void (*hook)(int sig));
// Where "stats" goes (the Linux adapter: the --stats report, docs/stats.md).
void set_host_stats_hook(void (*hook)());

// read(2) semantics: blocks until input (a line in canonical mode),
// returns 0 at end of file; Again with nonblock and nothing to read;
// Interrupted when a signal arrives while waiting. Up to dst.size()
// bytes into `dst` (application memory behind the adapter).
Result<size_t> read(IoBuffer& dst, bool nonblock);
// write(2): output processing (terminal) and the device. Without a
// terminal the bytes go from `src` to the device in one copy.
Result<size_t> write(Stream s, IoBuffer& src);

bool is_terminal();
void get_termios(Termios& t);
// how: 0 now, 1 after output drains, 2 also discarding input (TCSETS/W/F).
void set_termios(const Termios& t, int how);
void get_winsize(WinSize& w);
// A new size sends SIGWINCH to the foreground group (TIOCSWINSZ, a host
// resize), as Linux's tty does when the size changes.
void set_winsize(const WinSize& w);
size_t input_available();  // FIONREAD
void flush_input();
Pollable& pollable();

}  // namespace capsule::tty
