#include "lib/format.h"

namespace capsule {
namespace {

void pad(Sink& sink, char fill, size_t n) {
  while (n--) sink.put(fill);
}

// Emits `body` (with optional sign/prefix kept before zero padding).
void emit(Sink& sink, const FormatSpec& spec, StringView prefix, StringView body,
          char default_align) {
  size_t len = prefix.size() + body.size();
  size_t padding = spec.width > len ? spec.width - len : 0;
  char align = spec.align ? spec.align : default_align;
  if (spec.fill == '0' && !spec.align) {  // zero padding goes after the sign/prefix
    sink.write(prefix.data(), prefix.size());
    pad(sink, '0', padding);
    sink.write(body.data(), body.size());
    return;
  }
  size_t before = align == '<' ? 0 : align == '^' ? padding / 2 : padding;
  pad(sink, spec.fill, before);
  sink.write(prefix.data(), prefix.size());
  sink.write(body.data(), body.size());
  pad(sink, spec.fill, padding - before);
}

void format_integer(Sink& sink, const FormatSpec& spec, uint64_t magnitude, bool negative) {
  unsigned base = 10;
  const char* digits = "0123456789abcdef";
  StringView prefix = negative ? "-" : "";
  switch (spec.type) {
    case 'x': base = 16; if (spec.alternate) prefix = negative ? "-0x" : "0x"; break;
    case 'X': base = 16; digits = "0123456789ABCDEF"; if (spec.alternate) prefix = negative ? "-0X" : "0X"; break;
    case 'o': base = 8; if (spec.alternate) prefix = negative ? "-0" : "0"; break;
    case 'b': base = 2; if (spec.alternate) prefix = negative ? "-0b" : "0b"; break;
    default: break;
  }
  char buf[64];
  size_t n = 0;
  do {
    buf[sizeof(buf) - 1 - n++] = digits[magnitude % base];
    magnitude /= base;
  } while (magnitude);
  emit(sink, spec, prefix, StringView(buf + sizeof(buf) - n, n), '>');
}

// Parses the text between ':' and '}'.
FormatSpec parse_spec(StringView s) {
  FormatSpec spec;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^'; };
  if (s.size() >= 2 && is_align(s[1])) {
    spec.fill = s[0];
    spec.align = s[1];
    i = 2;
  } else if (s.size() >= 1 && is_align(s[0])) {
    spec.align = s[0];
    i = 1;
  }
  if (i < s.size() && s[i] == '#') { spec.alternate = true; ++i; }
  if (i < s.size() && s[i] == '0') { if (!spec.align) spec.fill = '0'; ++i; }
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (spec.width < 10000) spec.width = spec.width * 10 + unsigned(s[i] - '0');
    ++i;
  }
  if (i < s.size()) spec.type = s[i];
  return spec;
}

void format_arg(Sink& sink, const FormatSpec& spec, const FormatArg& a) {
  switch (a.kind) {
    case FormatArg::Kind::Signed:
      if (spec.type == 'c') {
        char c = char(a.s);
        emit(sink, spec, "", StringView(&c, 1), '<');
      } else {
        uint64_t mag = a.s < 0 ? uint64_t(0) - uint64_t(a.s) : uint64_t(a.s);
        format_integer(sink, spec, mag, a.s < 0);
      }
      break;
    case FormatArg::Kind::Unsigned:
      if (spec.type == 'c') {
        char c = char(a.u);
        emit(sink, spec, "", StringView(&c, 1), '<');
      } else {
        format_integer(sink, spec, a.u, false);
      }
      break;
    case FormatArg::Kind::Bool:
      emit(sink, spec, "", a.b ? "true" : "false", '<');
      break;
    case FormatArg::Kind::Char:
      if (spec.type && spec.type != 'c') {
        format_integer(sink, spec, uint8_t(a.c), false);
      } else {
        emit(sink, spec, "", StringView(&a.c, 1), '<');
      }
      break;
    case FormatArg::Kind::String:
      emit(sink, spec, "", a.str, '<');
      break;
    case FormatArg::Kind::Pointer: {
      FormatSpec p = spec;
      p.type = 'x';
      p.alternate = true;
      format_integer(sink, p, reinterpret_cast<uintptr_t>(a.p), false);
      break;
    }
    case FormatArg::Kind::Custom:
      a.custom(sink, spec, a.object);
      break;
  }
}

}  // namespace

void format_unsigned(Sink& sink, const FormatSpec& spec, uint64_t v) {
  format_integer(sink, spec, v, false);
}

void format_string(Sink& sink, const FormatSpec& spec, StringView s) {
  emit(sink, spec, "", s, '<');
}

void vformat(Sink& sink, StringView fmt, const FormatArg* args, size_t nargs) {
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        sink.put('{');
        ++i;
        continue;
      }
      size_t close = fmt.find('}', i);
      if (close == StringView::npos) {  // unterminated: print the rest verbatim
        sink.write(fmt.data() + i, fmt.size() - i);
        return;
      }
      StringView inner = fmt.substr(i + 1, close - i - 1);
      FormatSpec spec;
      size_t colon = inner.find(':');
      if (colon != StringView::npos) spec = parse_spec(inner.substr(colon + 1));
      if (next < nargs) {
        format_arg(sink, spec, args[next++]);
      } else {
        sink.write("{?}", 3);
      }
      i = close;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      sink.put('}');
      ++i;
    } else {
      sink.put(c);
    }
  }
}

}  // namespace capsule
