#pragma once
// Linux's terminal settings as the kernel's struct termios carries them
// (TCGETS/TCSETS; asm-generic/termbits.h values), and its window size.
// Shared by the line discipline and the Linux adapter.
#include <cstdint>

namespace capsule::tty {

inline constexpr int NCCS = 19;
struct Termios {
  uint32_t iflag, oflag, cflag, lflag;
  uint8_t line;
  uint8_t cc[NCCS];
};
static_assert(sizeof(Termios) == 36);

struct WinSize {
  uint16_t rows, cols, xpixel, ypixel;
};

// c_cc indices
enum : int {
  VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSWTC = 7,
  VSTART = 8, VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VDISCARD = 13, VWERASE = 14,
  VLNEXT = 15, VEOL2 = 16,
};
// c_iflag
inline constexpr uint32_t ISTRIP = 040, INLCR = 0100, IGNCR = 0200, ICRNL = 0400, IXON = 02000,
                          IUTF8 = 040000;
// c_oflag
inline constexpr uint32_t OPOST = 01, ONLCR = 04, OCRNL = 010;
// c_cflag
inline constexpr uint32_t B38400 = 017, CS8 = 060, CREAD = 0200, HUPCL = 02000;
// c_lflag
inline constexpr uint32_t ISIG = 01, ICANON = 02, ECHO = 010, ECHOE = 020, ECHOK = 040, ECHONL = 0100,
                          NOFLSH = 0200, ECHOCTL = 01000, ECHOKE = 04000, IEXTEN = 0100000;

// What a Linux terminal starts with (Linux's tty_std_termios): cooked
// input with echo and signals, "\n" written as "\r\n".
inline Termios default_termios() {
  Termios t{};
  t.iflag = ICRNL | IXON | IUTF8;
  t.oflag = OPOST | ONLCR;
  t.cflag = B38400 | CS8 | CREAD | HUPCL;
  t.lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  const uint8_t cc[NCCS] = {3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0};
  for (int i = 0; i < NCCS; ++i) t.cc[i] = cc[i];
  return t;
}

// Not a terminal: bytes pass through untouched (no editing, echo or
// signals), a read returns what has arrived.
inline Termios raw_termios() {
  Termios t{};
  t.cc[VMIN] = 1;
  return t;
}

}  // namespace capsule::tty
