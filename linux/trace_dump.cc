// --trace: the drain (linux/trace_dump.h). The file `capsule trace` reads
// (docs/trace.md "The file") is sent in blocks: each block is one
// trace_port::write of a marker line "\0CAPSULE-TRACE <n>\n" and n bytes,
// which the CLI appends to the trace file instead of printing (so --strace
// or --stats text on the same port never mixes into it, nor it into them).
// A block holds whole chunks: u32 type, u32 length, then the payload.
#include "linux/trace_dump.h"

#include <new>

#include "arch/cpu.h"
#include "core/sched/thread.h"
#include "core/trace.h"
#include "drivers/trace_port.h"
#include "lib/format.h"
#include "lib/log.h"
#include "linux/syscall.h"

namespace capsule::linux_abi::trace_dump {
namespace {

// The chunk types (docs/trace.md; tools/capsule/capsule_cli/trace.py).
enum Chunk : uint32_t {
  INFO = 1,     // u64 tsc_hz, u64 start_tsc, u32 cpus, u32 groups, i32 status, i32 signal
  NAMES = 2,    // "nr name\n" per known system call
  THREADS = 3,  // "tid name\n" per thread alive at the end
  CPU = 4,      // u32 cpu, u32 capacity, u64 written, u64 lost, u64 held
  RECORDS = 5,  // u32 cpu, u32 count, count records (oldest first)
  END = 6,      // nothing: the file is whole
};
constexpr char MAGIC[8] = {'C', 'A', 'P', 'T', 'R', 'A', 'C', 'E'};
constexpr uint32_t VERSION = 1;
constexpr uint32_t RECORD_BYTES = 48;
constexpr size_t BLOCK = 65536;    // a block's payload, at most
constexpr size_t MARK = 32;        // room for the marker line

uint32_t g_groups;
uint64_t g_bytes;
bool g_started, g_finished;

// A block being filled: the marker is written in front when it is sent.
struct Block {
  char* buf = nullptr;  // MARK + BLOCK bytes
  size_t len = 0;       // payload bytes
  bool ok = true;       // every send went through
  char* data() { return buf + MARK; }
  size_t room() const { return BLOCK - len; }
  void put(const void* p, size_t n) {
    __builtin_memcpy(data() + len, p, n);
    len += n;
  }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void chunk(uint32_t type, uint32_t n) {
    u32(type);
    u32(n);
  }
  void send() {
    if (!len) return;
    char mark[MARK];
    mark[0] = '\0';  // never in the text the port carries
    BufferSink m(mark + 1, sizeof(mark) - 1);
    format(m, "CAPSULE-TRACE {}\n", len);
    const size_t ml = 1 + m.view().size();
    char* start = data() - ml;
    __builtin_memcpy(start, mark, ml);
    if (!trace_port::write(start, ml + len).ok()) ok = false;
    len = 0;
  }
  // Room for n more bytes in this block, sending it first if needed.
  void need(size_t n) {
    if (room() < n) send();
  }
};

// A text chunk (names, threads): lines gathered in a bounded buffer.
void text_chunk(Block& b, uint32_t type, const char* text, size_t n) {
  b.need(8 + n);
  b.chunk(type, uint32_t(n));
  b.put(text, n);
}

struct ThreadLines {
  BufferSink* s;
};

void thread_line(Thread* t, void* ctx) {
  format(*static_cast<ThreadLines*>(ctx)->s, "{} {}\n", trace_id(t), thread_name(t));
}

}  // namespace

void configure(uint32_t groups, uint64_t bytes_per_cpu) {
  g_groups = groups;
  g_bytes = bytes_per_cpu;
}

void program_starting() {
  if (!g_groups || g_started) return;
  if (!trace_port::available()) log_warn("trace: no trace port (capsule run --trace adds it): records stay in memory");
  g_started = trace::start(g_groups, g_bytes);
}

void finish(int status, int sig) {
  if (!g_started || g_finished) return;
  g_finished = true;
  trace::stop();
  const uint32_t cpus = trace::cpus();
  uint64_t total = 0, lost = 0;
  for (uint32_t c = 0; c < cpus; ++c) total += trace::ring(c).held, lost += trace::ring(c).lost;
  if (!trace_port::available()) {
    log_info("trace: {} records held, {} lost; no trace port to send them on", total, lost);
    return;
  }
  Block b;
  constexpr size_t TEXT = BLOCK - 16;
  b.buf = new (std::nothrow) char[MARK + BLOCK];
  char* text = new (std::nothrow) char[TEXT];
  if (!b.buf || !text) {
    log_warn("trace: no memory to send the records");
    delete[] b.buf;
    delete[] text;
    return;
  }
  b.put(MAGIC, sizeof(MAGIC));
  b.u32(VERSION);
  b.u32(RECORD_BYTES);
  b.chunk(INFO, 32);
  b.u64(tsc_khz() * 1000);
  b.u64(trace::start_tsc());
  b.u32(cpus);
  b.u32(trace::groups_started());
  b.u32(uint32_t(status));
  b.u32(uint32_t(sig));

  BufferSink names(text, TEXT);
  for (uint32_t nr = 0; nr < 512; ++nr)
    if (const char* n = syscall_name(nr)) format(names, "{} {}\n", nr, n);
  text_chunk(b, NAMES, text, names.view().size());
  BufferSink threads(text, TEXT);
  ThreadLines tl{&threads};
  thread_for_each(thread_line, &tl);
  text_chunk(b, THREADS, text, threads.view().size());

  for (uint32_t c = 0; c < cpus; ++c) {
    const trace::RingView r = trace::ring(c);
    b.need(8 + 32);
    b.chunk(CPU, 32);
    b.u32(c);
    b.u32(r.capacity);
    b.u64(r.written);
    b.u64(r.lost);
    b.u64(r.held);
    for (uint32_t i = 0; i < r.held;) {
      b.need(8 + 8 + RECORD_BYTES);
      const uint64_t fit = (b.room() - 16) / RECORD_BYTES;
      const uint32_t n = uint32_t(fit < r.held - i ? fit : r.held - i);
      b.chunk(RECORDS, 8 + n * RECORD_BYTES);
      b.u32(c);
      b.u32(n);
      for (uint32_t k = 0; k < n; ++k) b.put(trace::ring_record(c, i + k), RECORD_BYTES);
      i += n;
    }
  }
  b.need(8);
  b.chunk(END, 0);
  b.send();
  if (!b.ok) log_warn("trace: the host did not take every block");
  log_info("trace: sent {} records ({} lost) from {} CPUs", total, lost, cpus);
  delete[] b.buf;
  delete[] text;
}

}  // namespace capsule::linux_abi::trace_dump
