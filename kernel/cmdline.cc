#include "kernel/cmdline.h"

namespace capsule {
namespace {

// Splits the next word from text[pos..], handling quotes and escapes.
// Returns false at the end of the text.
bool next_word(StringView text, size_t& pos, char*& out, char* out_end, StringView& word,
               bool& unterminated) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n')) ++pos;
  if (pos >= text.size()) return false;
  char* start = out;
  bool quoted = false;
  while (pos < text.size()) {
    char c = text[pos];
    if (!quoted && (c == ' ' || c == '\t' || c == '\n')) break;
    ++pos;
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (c == '\\' && pos < text.size() && (text[pos] == '"' || text[pos] == '\\')) c = text[pos++];
    if (out < out_end) *out++ = c;
  }
  unterminated = quoted;
  word = StringView(start, size_t(out - start));
  if (out < out_end) *out++ = 0;
  return true;
}

bool parse_u64(StringView s, uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  return true;
}

// Dotted quad, four decimal parts 0..255; host order.
bool parse_ipv4(StringView s, uint32_t& out) {
  uint32_t a = 0;
  for (int part = 0; part < 4; ++part) {
    size_t dot = s.find('.');
    if ((part < 3) != (dot != StringView::npos)) return false;
    uint64_t v;
    StringView digits = part < 3 ? s.substr(0, dot) : s;
    if (digits.size() > 3 || !parse_u64(digits, v) || v > 255) return false;
    a = a << 8 | uint32_t(v);
    if (part < 3) s = s.substr(dot + 1);
  }
  out = a;
  return true;
}

// RFC 4291 2.2's text forms: eight groups of 1-4 hex digits, one "::"
// for a run of zero groups, an IPv4 dotted quad as the last 32 bits.
bool parse_ipv6(StringView s, uint8_t out[16]) {
  uint16_t head[8], tail[8];
  size_t nh = 0, nt = 0;
  bool gap = false;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') gap = true, i = 2;
  else if (!s.empty() && s[0] == ':') return false;
  while (i < s.size()) {
    uint16_t* groups = gap ? tail : head;
    size_t& n = gap ? nt : nh;
    if (nh + nt >= 8) return false;
    size_t j = i;
    uint32_t v = 0;
    while (j < s.size() && j - i < 5) {
      char c = s[j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) break;
      v = v * 16 + uint32_t(d);
      ++j;
    }
    if (j < s.size() && s[j] == '.') {  // the dotted quad ends the address
      uint32_t q;
      if (nh + nt > 6 || !parse_ipv4(s.substr(i), q)) return false;
      groups[n++] = uint16_t(q >> 16);
      groups[n++] = uint16_t(q);
      i = s.size();
      break;
    }
    if (j == i || j - i > 4) return false;
    groups[n++] = uint16_t(v);
    i = j;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (gap) return false;  // a second "::"
      gap = true;
      ++i;
    } else if (i == s.size()) {
      return false;  // a trailing single ':'
    }
  }
  if (gap ? nh + nt > 7 : nh != 8) return false;
  uint16_t all[8] = {};
  for (size_t k = 0; k < nh; ++k) all[k] = head[k];
  for (size_t k = 0; k < nt; ++k) all[8 - nt + k] = tail[k];
  for (size_t k = 0; k < 8; ++k) out[2 * k] = uint8_t(all[k] >> 8), out[2 * k + 1] = uint8_t(all[k]);
  return true;
}

// A unicast IPv6 address a host may take or route through: not ::, ::1,
// multicast (ff00::/8) or v4-mapped (::ffff:0:0/96).
bool unicast6(const uint8_t a[16]) {
  bool zero10 = true;
  for (int k = 0; k < 10; ++k) zero10 = zero10 && !a[k];
  if (zero10 && a[10] == 0xff && a[11] == 0xff) return false;
  uint8_t rest = 0;
  for (int k = 0; k < 15; ++k) rest |= a[k];
  if (!rest && (a[15] == 0 || a[15] == 1)) return false;
  return a[0] != 0xff;
}

bool set6(const uint8_t a[16]) {
  for (int k = 0; k < 16; ++k)
    if (a[k]) return true;
  return false;
}

// A word made of backslashes and a final ";" loses one backslash: "\\;"
// is a literal ";" argument, "\\\\;" a literal "\\;" (after the word-level
// unescaping of next_word, which turns "\\\\" into "\\").
StringView unescape_semicolon(StringView w) {
  if (w.size() < 2 || w[w.size() - 1] != ';') return w;
  for (size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] != '\\') return w;
  return w.substr(1);
}

template <typename... A>
void fail(CmdlineResult& out, StringView fmt, const A&... a) {
  out.ok = false;
  format_to(out.error, sizeof(out.error), fmt, a...);
}

}  // namespace

void parse_cmdline(StringView text, char* storage, size_t storage_size, CmdlineResult& out) {
  out = CmdlineResult{};
  BootSettings& s = out.settings;
  char* cursor = storage;
  char* end = storage + storage_size;
  size_t pos = 0;
  bool program = false;
  StringView w;
  bool unterminated = false;
  while (next_word(text, pos, cursor, end, w, unterminated)) {
    if (unterminated) return fail(out, "unterminated quote in command line");
    if (w.starts_with("virtio_mmio.device=")) {
      if (s.virtio_mmio_count < 16) s.virtio_mmio[s.virtio_mmio_count++] = w.substr(19);
      continue;
    }
    if (program) {
      if (w == ";") {
        // A command separator: the command before it must have words.
        if (!s.command_count || !s.command_argc[s.command_count - 1]) return fail(out, "empty command before ';'");
        if (s.command_count == BootSettings::MAX_COMMANDS)
          return fail(out, "too many commands (max {})", BootSettings::MAX_COMMANDS);
        s.command_argc[s.command_count++] = 0;
        continue;
      }
      if (s.argc == BootSettings::MAX_WORDS) return fail(out, "too many program arguments (max {})", BootSettings::MAX_WORDS);
      s.argv[s.argc++] = unescape_semicolon(w);
      ++s.command_argc[s.command_count - 1];
      continue;
    }
    if (w == "--") {
      program = true;
      s.command_count = 1;
      s.command_argc[0] = 0;
      continue;
    }
    if (!w.starts_with("--")) {
      return fail(out, "unexpected word '{}' (kernel options start with --; put the program after --)", w);
    }
    size_t eq = w.find('=');
    StringView name = w.substr(2, eq == StringView::npos ? StringView::npos : eq - 2);
    StringView value = eq == StringView::npos ? StringView() : w.substr(eq + 1);
    bool has_value = eq != StringView::npos;
    auto flag = [&](bool& field) {
      if (has_value) {
        fail(out, "option --{} takes no value", name);
        return false;
      }
      field = true;
      return true;
    };
    if (name == "verbose") {
      if (!flag(s.verbose)) return;
      s.log_level = LogLevel::Debug;
    } else if (name == "bootchart") {
      if (!flag(s.bootchart)) return;
    } else if (name == "strace") {
      if (!flag(s.strace)) return;
    } else if (name == "strace-summary") {
      if (!flag(s.strace_summary)) return;
    } else if (name == "strace-filter") {
      if (value.empty()) return fail(out, "option --strace-filter needs a set (--strace-filter=open,read,%file)");
      s.strace_filter = value;
    } else if (name == "stats") {
      if (!flag(s.stats)) return;
    } else if (name == "trace") {
      // --trace or --trace=GROUPS (docs/trace.md); the names are checked at boot.
      if (has_value && value.empty()) return fail(out, "option --trace needs groups (--trace=sched,syscall) or none");
      s.trace = true;
      s.trace_groups = value;
    } else if (name == "trace-buffer") {
      uint64_t kib;
      if (!parse_u64(value, kib) || kib < 4 || kib > 4096)
        return fail(out, "bad value '{}' for --trace-buffer (KiB per CPU, 4..4096)", value);
      s.trace_buffer_kib = kib;
    } else if (name == "syscall-probe") {
      if (!flag(s.syscall_probe)) return;
    } else if (name == "log-missing") {
      if (!flag(s.log_missing)) return;
    } else if (name == "gdb") {
      if (!flag(s.gdb)) return;
    } else if (name == "tty-one-output") {
      if (!flag(s.tty_one_output)) return;
    } else if (name == "hung-task" || name == "cpu-stall") {
      uint64_t secs;
      if (!has_value || !parse_u64(value, secs) || secs > 86400)
        return fail(out, "bad value '{}' for --{} (seconds, 0..86400; 0 turns it off)", value, name);
      (name == "hung-task" ? s.hung_task_s : s.cpu_stall_s) = secs;
    } else if (name == "irq-off-max-ms") {
      uint64_t ms;
      if (!has_value || !parse_u64(value, ms) || ms > 600000)
        return fail(out, "bad value '{}' for --irq-off-max-ms (milliseconds, 0..600000; 0 turns it off)", value);
      s.irq_off_max_ms = ms;
    } else if (name == "hung-task-panic") {
      if (!flag(s.hung_task_panic)) return;
    } else if (name == "test") {
      if (value.empty()) return fail(out, "option --test needs a name (--test=NAME, --test=list)");
      if (s.test_count == BootSettings::MAX_TESTS) return fail(out, "too many --test options");
      s.tests[s.test_count++] = value;
    } else if (name == "tsc-khz") {
      uint64_t khz;
      // 0: not given (the kernel finds the rate itself; the CLI adds no
      // --tsc-khz of its own when one is there).
      if (!parse_u64(value, khz) || (khz != 0 && (khz < 1000 || khz > 100000000)))
        return fail(out, "bad value '{}' for --tsc-khz (kHz, 1000..100000000, or 0 to calibrate)", value);
      s.tsc_khz = khz;
    } else if (name == "tty") {
      // --tty or --tty=ROWSxCOLS (docs/console.md)
      s.tty = true;
      if (has_value) {
        size_t x = value.find('x');
        uint64_t r, c;
        if (x == StringView::npos || !parse_u64(value.substr(0, x), r) || !parse_u64(value.substr(x + 1), c) ||
            r > 65535 || c > 65535)
          return fail(out, "bad value '{}' for --tty (ROWSxCOLS, e.g. 24x80)", value);
        s.tty_rows = uint16_t(r);
        s.tty_cols = uint16_t(c);
      }
    } else if (name == "log") {
      if (value == "debug") s.log_level = LogLevel::Debug;
      else if (value == "info") s.log_level = LogLevel::Info;
      else if (value == "warn") s.log_level = LogLevel::Warn;
      else if (value == "error") s.log_level = LogLevel::Error;
      else return fail(out, "bad value '{}' for --log (debug, info, warn, error)", value);
    } else if (name == "env") {
      if (value.find('=') == StringView::npos || value.find('=') == 0)
        return fail(out, "bad value '{}' for --env (K=V)", value);
      if (s.env_count == BootSettings::MAX_WORDS) return fail(out, "too many --env options");
      s.env[s.env_count++] = value;
    } else if (name == "ip") {
      size_t slash = value.find('/');
      uint64_t prefix;
      if (slash == StringView::npos || !parse_ipv4(value.substr(0, slash), s.net_ip) || !s.net_ip ||
          !parse_u64(value.substr(slash + 1), prefix) || prefix < 1 || prefix > 32)
        return fail(out, "bad value '{}' for --ip (A.B.C.D/PREFIX, prefix 1..32)", value);
      s.net_prefix = uint8_t(prefix);
    } else if (name == "ip6") {
      size_t slash = value.find('/');
      uint64_t prefix;
      if (slash == StringView::npos || !parse_ipv6(value.substr(0, slash), s.net_ip6) || !unicast6(s.net_ip6) ||
          !parse_u64(value.substr(slash + 1), prefix) || prefix < 1 || prefix > 128)
        return fail(out, "bad value '{}' for --ip6 (a unicast IPv6 ADDR/PREFIX, prefix 1..128)", value);
      s.net_prefix6 = uint8_t(prefix);
    } else if (name == "gw6") {
      if (!parse_ipv6(value, s.net_gw6) || !unicast6(s.net_gw6))
        return fail(out, "bad value '{}' for --gw6 (a unicast IPv6 address)", value);
    } else if (name == "gw") {
      if (!parse_ipv4(value, s.net_gw)) return fail(out, "bad value '{}' for --gw (A.B.C.D)", value);
    } else if (name == "dns") {
      // IPv4's or IPv6's: one of each (resolv.conf lists IPv4's first).
      if (value.find(':') != StringView::npos) {
        if (!parse_ipv6(value, s.net_dns6) || !unicast6(s.net_dns6))
          return fail(out, "bad value '{}' for --dns (A.B.C.D or a unicast IPv6 address)", value);
      } else if (!parse_ipv4(value, s.net_dns) || !s.net_dns) {
        return fail(out, "bad value '{}' for --dns (A.B.C.D or a unicast IPv6 address)", value);
      }
    } else if (name == "net-drop") {
      // PERCENT[,SEED[,rx|tx]]: PERCENT with up to two decimals, 0..100.
      StringView pct = value, rest;
      if (size_t c = value.find(','); c != StringView::npos) pct = value.substr(0, c), rest = value.substr(c + 1);
      uint64_t whole = 0, frac = 0;
      size_t dot = pct.find('.');
      StringView fs = dot == StringView::npos ? StringView() : pct.substr(dot + 1);
      bool ok = parse_u64(dot == StringView::npos ? pct : pct.substr(0, dot), whole) &&
                (dot == StringView::npos || (fs.size() >= 1 && fs.size() <= 2 && parse_u64(fs, frac)));
      if (ok && fs.size() == 1) frac *= 10;
      uint64_t bp = whole * 100 + frac;
      StringView dir;
      if (ok && !rest.empty()) {
        StringView seed = rest;
        if (size_t c = rest.find(','); c != StringView::npos) seed = rest.substr(0, c), dir = rest.substr(c + 1);
        ok = parse_u64(seed, s.net_drop_seed) && (dir.empty() || dir == "rx" || dir == "tx") &&
             !(rest.find(',') != StringView::npos && dir.empty());
      } else if (ok && value.find(',') != StringView::npos) {
        ok = false;
      }
      if (!ok || whole > 100 || bp > 10000)
        return fail(out, "bad value '{}' for --net-drop (PERCENT[,SEED[,rx|tx]], PERCENT 0..100)", value);
      s.net_drop_bp = uint32_t(bp);
      s.net_drop_rx = dir != "tx";
      s.net_drop_tx = dir != "rx";
    } else if (name == "disk") {
      // ID[:/MOUNTPOINT][:ro]
      if (s.disk_count == BootSettings::MAX_DISKS)
        return fail(out, "too many --disk options (max {})", BootSettings::MAX_DISKS);
      DiskSetting d;
      StringView rest = value;
      size_t colon = rest.find(':');
      d.id = rest.substr(0, colon);
      rest = colon == StringView::npos ? StringView() : rest.substr(colon + 1);
      if (!rest.empty() && rest[0] == '/') {
        colon = rest.find(':');
        d.mount = rest.substr(0, colon);
        rest = colon == StringView::npos ? StringView() : rest.substr(colon + 1);
      }
      if (rest == "ro") {
        d.read_only = true;
      } else if (!rest.empty() || (colon != StringView::npos && rest.empty())) {
        return fail(out, "bad value '{}' for --disk (ID[:/MOUNTPOINT][:ro])", value);
      }
      if (d.id.empty() || d.id.size() > 20 || d.mount == "/")
        return fail(out, "bad value '{}' for --disk (ID[:/MOUNTPOINT][:ro])", value);
      s.disks[s.disk_count++] = d;
    } else if (name == "root-disk") {
      if (value.empty() || value.size() > 20 || value.find(':') != StringView::npos)
        return fail(out, "bad value '{}' for --root-disk (a disk ID)", value);
      s.root_disk = value;
    } else if (name == "cwd") {
      if (value.empty() || value[0] != '/')
        return fail(out, "bad value '{}' for --cwd (an absolute directory)", value);
      s.cwd = value;
    } else if (name == "share" || name == "virtiofs") {
      // --share=TAG:/DIR[:ro] (docs/9p.md): mount the 9P device TAG on DIR;
      // --virtiofs=TAG:/DIR[:ro] (docs/virtiofs.md): the virtio-fs device TAG.
      size_t colon = value.find(':');
      if (colon == StringView::npos || colon == 0 || colon + 1 >= value.size() || value[colon + 1] != '/')
        return fail(out, "bad value '{}' for --{} (TAG:/DIR[:ro])", value, name);
      StringView dir = value.substr(colon + 1);
      bool ro = false;
      if (size_t c2 = dir.find(':'); c2 != StringView::npos) {
        if (dir.substr(c2 + 1) != StringView("ro"))
          return fail(out, "bad value '{}' for --{} (TAG:/DIR[:ro])", value, name);
        dir = dir.substr(0, c2);
        ro = true;
      }
      if (s.share_count == BootSettings::MAX_SHARES) return fail(out, "too many --share options");
      s.shares[s.share_count++] = {value.substr(0, colon), dir, ro, name == "virtiofs"};
    } else {
      return fail(out, "unknown option '--{}' (see docs/cmdline.md)", name);
    }
  }
  if ((s.net_gw || s.net_dns) && !s.net_ip) return fail(out, "--gw and --dns go with --ip (without it: DHCP)");
  if (set6(s.net_gw6) && !s.net_prefix6) return fail(out, "--gw6 goes with --ip6 (without it: the Router Advertisement's)");
  if (set6(s.net_dns6) && !s.net_ip && !s.net_prefix6)
    return fail(out, "an IPv6 --dns goes with --ip or --ip6 (without them: DHCP's and the RA's)");
  if (s.command_count && !s.command_argc[s.command_count - 1]) {
    if (s.command_count > 1) return fail(out, "empty command after ';'");
    s.command_count = 0;  // "--" alone: no program
  }
  if (cursor >= end && text.size() > 0 && storage_size <= text.size())
    return fail(out, "command line too long");
  out.ok = true;
}

}  // namespace capsule
