// /proc/<pid>/maps lines (fs/procfs/maps_format.h).
#include "fs/procfs/maps_format.h"

namespace capsule::procfs {
namespace {

// Counts what goes through, for the padding before the name.
class CountingSink final : public Sink {
 public:
  explicit CountingSink(Sink& inner) : inner_(inner) {}
  void put(char c) override {
    inner_.put(c);
    ++n;
  }
  size_t n = 0;

 private:
  Sink& inner_;
};

}  // namespace

void format_maps_line(Sink& out, const MapsLine& l) {
  CountingSink s(out);
  format(s, "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ", l.start, l.end, l.read ? 'r' : '-', l.write ? 'w' : '-',
         l.exec ? 'x' : '-', l.shared ? 's' : 'p', l.offset, l.major, l.minor, l.ino);
  if (!l.name.empty()) {
    constexpr size_t WIDTH = 72;  // 25 + 6 * sizeof(void*) - 1
    while (s.n < WIDTH) s.put(' ');
    s.put(' ');
    format(s, "{}", l.name);
  }
  s.put('\n');
}

}  // namespace capsule::procfs
