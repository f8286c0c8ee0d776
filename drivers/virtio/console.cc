// virtio-console with VIRTIO_CONSOLE_F_MULTIPORT [virtio 1.2 §5.3] as the
// program's standard streams (drivers/include/drivers/tty.h, docs/console.md).
//
// Port layout: the host names its ports (virtserialport name=...):
//   capsule.stdin  → host data to the tty; PORT_OPEN 0 (the host side
//                    disconnected) is end of file
//   capsule.stdout → fd 1;  capsule.stderr → fd 2 (fd 1's port if absent);
//                    PORT_OPEN 0 (the host's reader went away: `| head`)
//                    makes every later write fail with BrokenPipe (EPIPE
//                    and SIGPIPE for the program, as a pipe without reader)
//   capsule.ctl    → requests from the host, one line each ("signal 15",
//                    "winsize 40 120", "dump"): tty::host_request
//   capsule.trace  → the system-call trace (capsule run --strace), off the
//                    program's streams: drivers/trace_port.h
// Port 0 (the legacy console port) is not used.
//
// Writes are synchronous: a write returns when the device has used its
// buffer, which QEMU does once the bytes are in the host chardev. So when
// exit_group powers the VM off nothing is left in flight.
//
// A service thread does everything else: the control queue (port
// discovery, names, open/close) and the receive queue of stdin, which it
// hands to the tty; it holds a buffer back while the tty is full (flow
// control: QEMU only reads the host side while buffers are posted). The
// interrupt handler only wakes the thread and the writers.
#include <atomic>
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/thread.h"
#include "core/time.h"
#include "drivers/trace_port.h"
#include "drivers/tty.h"
#include "core/event/wait.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/virtqueue.h"

namespace capsule::virtio {
namespace {

constexpr uint64_t F_MULTIPORT = 1ull << 1;
// Control events [§5.3.6.2]
enum : uint16_t {
  DEVICE_READY = 0, DEVICE_ADD = 1, DEVICE_REMOVE = 2, PORT_READY = 3, CONSOLE_PORT = 4,
  RESIZE = 5, PORT_OPEN = 6, PORT_NAME = 7,
};
struct Control {
  uint32_t id;
  uint16_t event;
  uint16_t value;
};
static_assert(sizeof(Control) == 8);

constexpr uint32_t MAX_PORTS = 8;
constexpr uint16_t QUEUE_SIZE = 64;
constexpr size_t RX_BUFS = 8, RX_BUF_SIZE = 4096;
// QEMU drops a control message when no receive buffer is posted, and at
// start it sends DEVICE_ADD for every port, then a name and PORT_OPEN for
// each PORT_READY answered: keep plenty posted (a name is short).
constexpr size_t CTRL_BUFS = 32, CTRL_BUF_SIZE = 128;
static_assert(CTRL_BUFS * CTRL_BUF_SIZE <= PAGE_SIZE);
constexpr unsigned TX_ORDER = 2;  // 16 KiB per write chunk
constexpr size_t TX_SIZE = PAGE_SIZE << TX_ORDER;

uint16_t rx_queue(uint32_t port) { return uint16_t(port == 0 ? 0 : 2 + 2 * port); }
uint16_t tx_queue(uint32_t port) { return uint16_t(rx_queue(port) + 1); }
constexpr uint16_t CTRL_RX = 2, CTRL_TX = 3;

struct Queue {
  Virtqueue vq;
  uint16_t index = 0;
  bool ready = false;
  SpinLock lock;  // vq bookkeeping (the writers, the thread)
};

enum class Role : uint8_t { None, In, Out, Err, Ctl, Trace };

constexpr size_t CTL_BUFS = 4, CTL_BUF_SIZE = 256;
constexpr size_t CTL_LINE_MAX = 128;  // longer requests are dropped whole

struct Port {
  Queue rx, tx;
  bool added = false, named = false, host_open = false;
  // The host side disconnected after being open: a reader that is gone.
  std::atomic<bool> host_closed{false};
  Role role = Role::None;
  Mutex write_mu;  // one write in flight per port
  uint8_t* tx_buf = nullptr;
};

struct Console {
  Transport* t = nullptr;
  Queue ctrl_rx, ctrl_tx;
  uint8_t* ctrl_rx_mem = nullptr;
  uint8_t* ctrl_tx_mem = nullptr;
  uint32_t nports = 0;
  Port ports[MAX_PORTS];
  int in = -1, out = -1, err = -1, ctl = -1, trace = -1;
  uint32_t adds = 0, names = 0;
  // stdin receive buffers; `held` is one the tty could not take yet
  uint8_t* rx_mem = nullptr;
  uint8_t* held = nullptr;
  uint32_t held_len = 0, held_off = 0;
  bool eof_seen = false, eof_sent = false;
  // capsule.ctl's receive buffers and the line being assembled
  uint8_t* ctl_mem = nullptr;
  char ctl_line[CTL_LINE_MAX];
  size_t ctl_len = 0;
  bool ctl_overlong = false;
  Semaphore service;               // the thread: interrupts, room in the tty
  Mutex mu;                        // for tx_wait
  event::WaitList tx_wait;         // writers: interrupt
};

Console* g_con;

Result<void> setup_queue(Transport& t, Queue& q, uint16_t index) {
  uint16_t max = t.queue_max(index);
  if (!max) return Error::NotFound;
  uint16_t size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
  size = uint16_t(1u << (31 - __builtin_clz(size)));  // a power of two
  uint64_t page = TRY(page_alloc(0));
  void* mem = phys_to_virt(page);
  __builtin_memset(mem, 0, PAGE_SIZE);
  TRY(q.vq.init(size, mem, page));
  TRY(t.queue_setup(index, size, q.vq.desc_phys(), q.vq.avail_phys(), q.vq.used_phys()));
  q.index = index;
  q.ready = true;
  return {};
}

void post_rx(Queue& q, uint8_t* buf, size_t len) {
  SpinGuard g(q.lock);
  Virtqueue::Buf b{virt_to_phys(buf), uint32_t(len), true};
  (void)q.vq.add(&b, 1, buf);
}

void kick(Queue& q) {
  bool notify;
  {
    SpinGuard g(q.lock);
    notify = q.vq.kick_prepare();
  }
  if (notify) g_con->t->notify(q.index);
}

// Control messages are few (start-up, open/close): sent one at a time,
// waiting for the device by polling (QEMU consumes them at the notify).
void send_control(uint32_t id, uint16_t event, uint16_t value) {
  Console& c = *g_con;
  auto* m = reinterpret_cast<Control*>(c.ctrl_tx_mem);
  *m = Control{id, event, value};
  {
    SpinGuard g(c.ctrl_tx.lock);
    Virtqueue::Buf b{virt_to_phys(m), sizeof(Control), false};
    if (!c.ctrl_tx.vq.add(&b, 1, m).ok()) return;
  }
  kick(c.ctrl_tx);
  uint64_t deadline = uptime_ns() + 1000000000ull;
  for (;;) {
    {
      SpinGuard g(c.ctrl_tx.lock);
      if (c.ctrl_tx.vq.pop_used(nullptr, nullptr)) return;
    }
    if (uptime_ns() > deadline) {
      log_warn("virtio-console: control message {} not taken by the device", event);
      return;
    }
    asm volatile("pause");
  }
}

void handle_control(const uint8_t* p, uint32_t len) {
  Console& c = *g_con;
  if (len < sizeof(Control)) return;
  Control m;
  __builtin_memcpy(&m, p, sizeof m);
  if (m.id >= c.nports) return;
  Port& port = c.ports[m.id];
  switch (m.event) {
    case DEVICE_ADD:
      if (!port.added) {
        port.added = true;
        ++c.adds;
      }
      send_control(m.id, PORT_READY, port.rx.ready && port.tx.ready ? 1 : 0);
      break;
    case PORT_NAME: {
      StringView name(reinterpret_cast<const char*>(p + sizeof(Control)), len - sizeof(Control));
      while (name.size() && name[name.size() - 1] == 0) name = name.substr(0, name.size() - 1);
      if (!port.named) {
        port.named = true;
        ++c.names;
      }
      if (name == "capsule.stdin") port.role = Role::In, c.in = int(m.id);
      else if (name == "capsule.stdout") port.role = Role::Out, c.out = int(m.id);
      else if (name == "capsule.stderr") port.role = Role::Err, c.err = int(m.id);
      else if (name == "capsule.ctl") port.role = Role::Ctl, c.ctl = int(m.id);
      else if (name == "capsule.trace") port.role = Role::Trace, c.trace = int(m.id);
      // The guest side is open: QEMU forwards host data only to open ports.
      send_control(m.id, PORT_OPEN, 1);
      break;
    }
    case PORT_OPEN:
      port.host_open = m.value;
      if (!m.value && int(m.id) == c.in) c.eof_seen = true;
      if (!m.value && port.role != Role::In && port.role != Role::Ctl) {
        port.host_closed.store(true, std::memory_order_release);
        c.tx_wait.wake_all();
      }
      break;
    case DEVICE_REMOVE:
      if (int(m.id) == c.in) c.eof_seen = true;
      if (port.role != Role::In && port.role != Role::Ctl) port.host_closed.store(true, std::memory_order_release);
      break;
    default:
      break;
  }
}

// Drains the control receive queue; true if anything came.
bool poll_control() {
  Console& c = *g_con;
  bool any = false;
  for (;;) {
    void* tok;
    uint32_t len;
    {
      SpinGuard g(c.ctrl_rx.lock);
      if (!c.ctrl_rx.vq.pop_used(&tok, &len)) break;
    }
    any = true;
    auto* buf = static_cast<uint8_t*>(tok);
    handle_control(buf, len < CTRL_BUF_SIZE ? len : CTRL_BUF_SIZE);
    post_rx(c.ctrl_rx, buf, CTRL_BUF_SIZE);
  }
  if (any) kick(c.ctrl_rx);
  return any;
}

// Hands stdin bytes to the tty; false while the tty is full.
bool pump_input() {
  Console& c = *g_con;
  if (c.in < 0) return true;
  Queue& q = c.ports[c.in].rx;
  for (;;) {
    if (c.held) {
      while (c.held_off < c.held_len) {
        size_t n = tty::input(c.held + c.held_off, c.held_len - c.held_off);
        if (!n) return false;
        c.held_off += uint32_t(n);
      }
      post_rx(q, c.held, RX_BUF_SIZE);
      kick(q);
      c.held = nullptr;
    }
    void* tok;
    uint32_t len;
    {
      SpinGuard g(q.lock);
      if (!q.vq.pop_used(&tok, &len)) break;
    }
    c.held = static_cast<uint8_t*>(tok);
    c.held_len = len < RX_BUF_SIZE ? len : uint32_t(RX_BUF_SIZE);
    c.held_off = 0;
  }
  return true;
}

// Requests from the host, a line at a time, acted on in this thread.
void pump_requests() {
  Console& c = *g_con;
  if (c.ctl < 0) return;
  Queue& q = c.ports[c.ctl].rx;
  bool any = false;
  for (;;) {
    void* tok;
    uint32_t len;
    {
      SpinGuard g(q.lock);
      if (!q.vq.pop_used(&tok, &len)) break;
    }
    any = true;
    auto* buf = static_cast<const uint8_t*>(tok);
    for (uint32_t i = 0; i < len && i < CTL_BUF_SIZE; ++i) {
      char ch = char(buf[i]);
      if (ch != '\n') {
        if (c.ctl_len < CTL_LINE_MAX) c.ctl_line[c.ctl_len++] = ch;
        else c.ctl_overlong = true;
        continue;
      }
      if (!c.ctl_overlong) tty::host_request(StringView(c.ctl_line, c.ctl_len));
      c.ctl_len = 0;
      c.ctl_overlong = false;
    }
    post_rx(q, const_cast<uint8_t*>(buf), CTL_BUF_SIZE);
  }
  if (any) kick(q);
}

void service_thread(void*) {
  Console& c = *g_con;
  for (;;) {
    poll_control();
    pump_requests();
    bool drained = pump_input();
    if (drained && c.eof_seen && !c.eof_sent) {
      c.eof_sent = true;
      tty::input_eof();
    }
    c.service.down();  // a count: a wake-up while working is not lost
  }
}

void on_irq(void*) {
  g_con->service.up();
  g_con->tx_wait.wake_all();
}

void on_input_space() { g_con->service.up(); }

// One copy: from the writer's buffer (the program's memory, for a
// write(2)) straight into the port's transmit buffer.
Result<size_t> write_port_nr(int idx, IoBuffer& src) {
  size_t n = src.size();
  Console& c = *g_con;
  if (idx < 0) return Error::NotFound;
  Port& port = c.ports[idx];
  MutexGuard g(port.write_mu);
  size_t done = 0;
  while (done < n) {
    // The reader is gone: EPIPE, or the count of what went before (as a
    // pipe whose reader leaves during a write).
    if (port.host_closed.load(std::memory_order_acquire)) {
      if (!done) return Error::BrokenPipe;
      break;
    }
    size_t chunk = n - done < TX_SIZE ? n - done : TX_SIZE;
    if (auto r = src.copy_in(done, port.tx_buf, chunk); !r.ok()) {
      if (!done) return r.error();
      break;
    }
    {
      SpinGuard sg(port.tx.lock);
      Virtqueue::Buf b{virt_to_phys(port.tx_buf), uint32_t(chunk), false};
      if (!port.tx.vq.add(&b, 1, port.tx_buf).ok()) {
        if (!done) return Error::Busy;
        break;
      }
    }
    kick(port.tx);
    // Wait until the device used it: woken by the interrupt; the short
    // deadline covers an interrupt that came between the check and the
    // sleep.
    for (;;) {
      bool used;
      {
        SpinGuard sg(port.tx.lock);
        used = port.tx.vq.pop_used(nullptr, nullptr);
      }
      if (used) break;
      if (port.host_closed.load(std::memory_order_acquire)) return done ? Result<size_t>(done) : Error::BrokenPipe;
      MutexGuard w(c.mu);
      (void)c.tx_wait.wait(c.mu, uptime_ns() + 2000000);
    }
    done += chunk;
  }
  return done;
}

Result<size_t> write_port(tty::Stream s, IoBuffer& src) {
  Console& c = *g_con;
  return write_port_nr(s == tty::Stream::Err && c.err >= 0 ? c.err : c.out, src);
}

const tty::Backend VIRTIO_BACKEND{"virtio-console", write_port, on_input_space};

}  // namespace

Result<void> console_probe(Transport& t) {
  if (g_con) return Error::Busy;  // one console carries the streams
  uint64_t f = TRY(negotiate(t, F_MULTIPORT));
  if (!(f & F_MULTIPORT)) {
    t.set_status(STATUS_FAILED);
    return Error::NotSupported;
  }
  auto* c = new (std::nothrow) Console;
  if (!c) return Error::NoMemory;
  g_con = c;
  c->t = &t;
  uint32_t max = t.config32(4);  // struct virtio_console_config.max_nr_ports
  c->nports = max < MAX_PORTS ? max : MAX_PORTS;
  // The interrupt first: virtio-pci binds each queue to its MSI-X entry
  // as the queue is set up.
  TRY(t.setup_irq(on_irq, nullptr));
  TRY(setup_queue(t, c->ctrl_rx, CTRL_RX));
  TRY(setup_queue(t, c->ctrl_tx, CTRL_TX));
  for (uint32_t i = 1; i < c->nports; ++i) {
    if (!setup_queue(t, c->ports[i].rx, rx_queue(i)).ok()) break;
    if (!setup_queue(t, c->ports[i].tx, tx_queue(i)).ok()) break;
    c->ports[i].tx_buf = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(TX_ORDER))));
  }
  c->ctrl_rx_mem = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(0))));
  c->ctrl_tx_mem = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(0))));
  for (size_t i = 0; i < CTRL_BUFS; ++i) post_rx(c->ctrl_rx, c->ctrl_rx_mem + i * CTRL_BUF_SIZE, CTRL_BUF_SIZE);
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  kick(c->ctrl_rx);
  send_control(0, DEVICE_READY, 1);
  // Port discovery: QEMU answers DEVICE_READY with DEVICE_ADD per port and
  // PORT_READY with the name, at once; wait until every port has a name.
  uint64_t deadline = uptime_ns() + 1000000000ull;
  while (uptime_ns() < deadline) {
    bool any = poll_control();
    if (!any && c->adds && c->names == c->adds) break;
    asm volatile("pause");
  }
  if (c->in >= 0) {
    // Stdin buffers: 8 pages (rx_mem), posted once the port is known.
    uint64_t pages = TRY(page_alloc(3));
    c->rx_mem = static_cast<uint8_t*>(phys_to_virt(pages));
    for (size_t i = 0; i < RX_BUFS; ++i) post_rx(c->ports[c->in].rx, c->rx_mem + i * RX_BUF_SIZE, RX_BUF_SIZE);
    kick(c->ports[c->in].rx);
  }
  if (c->in < 0) c->eof_seen = true;  // no input port: stdin is empty
  if (c->ctl >= 0) {
    c->ctl_mem = static_cast<uint8_t*>(phys_to_virt(TRY(page_alloc(0))));
    for (size_t i = 0; i < CTL_BUFS; ++i) post_rx(c->ports[c->ctl].rx, c->ctl_mem + i * CTL_BUF_SIZE, CTL_BUF_SIZE);
    kick(c->ports[c->ctl].rx);
  }
  TRY(thread_create("virtio-console", service_thread, nullptr, ThreadOptions{.detached = true}));
  log_info("virtio-console ({}): {} ports; stdin port {}, stdout {}, stderr {}, control {}, trace {}", t.kind(),
           c->adds, c->in, c->out, c->err, c->ctl, c->trace);
  if (c->out >= 0) tty::set_backend(&VIRTIO_BACKEND);
  return {};
}

}  // namespace capsule::virtio

namespace capsule::trace_port {

bool available() { return virtio::g_con && virtio::g_con->trace >= 0; }

Result<void> write(const char* p, size_t n) {
  if (!available()) return Error::NotFound;
  KernelBuffer b(p, n);
  size_t done = TRY(virtio::write_port_nr(virtio::g_con->trace, b));
  if (done != n) return Error::Io;
  return {};
}

}  // namespace capsule::trace_port
