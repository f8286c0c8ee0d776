#pragma once
// Type-safe formatting: format(sink, "x={} flags={:#x} name={:>8}", x, f, n).
//
// Replacement fields: {} or {:[fill]align? # 0 width type}
//   align: < left, > right (default for numbers), ^ centre
//   type:  d decimal, x/X hex, o octal, b binary, c character, p pointer, s string
// "{{" and "}}" print braces. Arguments are captured as a small tagged union,
// so a mismatch between the string and the arguments can never read garbage;
// surplus fields print "{?}".
//
// User types format themselves with an overload found by ADL:
//   void format_value(capsule::Sink&, const capsule::FormatSpec&, const T&);
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lib/string_view.h"

namespace capsule {

class Sink {
 public:
  virtual void put(char c) = 0;
  virtual void write(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) put(s[i]);
  }

 protected:
  ~Sink() = default;
};

// A sink over a caller's buffer; always NUL-terminates, counts what would
// have been written (like snprintf) so truncation is visible.
class BufferSink final : public Sink {
 public:
  BufferSink(char* buf, size_t cap) : buf_(buf), cap_(cap) {
    if (cap_) buf_[0] = 0;
  }
  void put(char c) override {
    if (len_ + 1 < cap_) {
      buf_[len_] = c;
      buf_[len_ + 1] = 0;
    }
    ++len_;
  }
  size_t length() const { return len_; }  // wanted length, may exceed cap-1
  bool truncated() const { return cap_ == 0 || len_ > cap_ - 1; }
  StringView view() const { return {buf_, truncated() ? (cap_ ? cap_ - 1 : 0) : len_}; }

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

struct FormatSpec {
  char fill = ' ';
  char align = 0;  // 0 = default
  bool alternate = false;
  unsigned width = 0;
  char type = 0;
};

struct FormatArg {
  enum class Kind : uint8_t { Signed, Unsigned, Bool, Char, String, Pointer, Custom };
  Kind kind;
  union {
    int64_t s;
    uint64_t u;
    bool b;
    char c;
    StringView str;
    const void* p;
  };
  const void* object = nullptr;
  void (*custom)(Sink&, const FormatSpec&, const void*) = nullptr;

  FormatArg() : kind(Kind::Unsigned), u(0) {}
};

namespace detail {

template <typename T>
FormatArg make_arg(const T& v) {
  FormatArg a;
  using D = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<D, bool>) {
    a.kind = FormatArg::Kind::Bool;
    a.b = v;
  } else if constexpr (std::is_same_v<D, char>) {
    a.kind = FormatArg::Kind::Char;
    a.c = v;
  } else if constexpr (std::is_enum_v<D>) {
    a.kind = FormatArg::Kind::Signed;
    a.s = static_cast<int64_t>(v);
  } else if constexpr (std::is_integral_v<D> && std::is_signed_v<D>) {
    a.kind = FormatArg::Kind::Signed;
    a.s = v;
  } else if constexpr (std::is_integral_v<D>) {
    a.kind = FormatArg::Kind::Unsigned;
    a.u = v;
  } else if constexpr (std::is_same_v<D, StringView>) {
    a.kind = FormatArg::Kind::String;
    a.str = v;
  } else if constexpr (std::is_same_v<D, const char*> || std::is_same_v<D, char*>) {
    a.kind = FormatArg::Kind::String;
    a.str = v ? StringView(v) : StringView("(null)");
  } else if constexpr (std::is_array_v<D> &&
                       std::is_same_v<std::remove_cv_t<std::remove_extent_t<D>>, char>) {
    a.kind = FormatArg::Kind::String;
    a.str = StringView(v);
  } else if constexpr (std::is_pointer_v<D> || std::is_null_pointer_v<D>) {
    a.kind = FormatArg::Kind::Pointer;
    a.p = reinterpret_cast<const void*>(v);
  } else {
    a.kind = FormatArg::Kind::Custom;
    a.object = &v;
    a.custom = [](Sink& s, const FormatSpec& spec, const void* obj) {
      format_value(s, spec, *static_cast<const T*>(obj));
    };
  }
  return a;
}

}  // namespace detail

void vformat(Sink& sink, StringView fmt, const FormatArg* args, size_t nargs);

template <typename... Args>
void format(Sink& sink, StringView fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    vformat(sink, fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {detail::make_arg(args)...};
    vformat(sink, fmt, list, sizeof...(Args));
  }
}

// snprintf-like convenience: returns the length that would have been written.
template <typename... Args>
size_t format_to(char* buf, size_t cap, StringView fmt, const Args&... args) {
  BufferSink sink(buf, cap);
  format(sink, fmt, args...);
  return sink.length();
}

// Writes an unsigned number padded according to spec (used by custom types).
void format_unsigned(Sink& sink, const FormatSpec& spec, uint64_t v);
void format_string(Sink& sink, const FormatSpec& spec, StringView s);

}  // namespace capsule
