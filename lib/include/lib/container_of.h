#pragma once
// owner_of<&T::member>(node): from a pointer to an embedded member back to
// the object that embeds it. Intrusive containers link members, not objects,
// so insertion never allocates; this is how they find the object again.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace capsule {

// Byte offset of a data member. On the Itanium C++ ABI (GCC and Clang on
// x86-64 and aarch64, the only targets Capsule has) a pointer to data member
// is represented as that offset, so a bit_cast reads it without forming a
// pointer into a non-existent object (the classic ((T*)0)->m trick is UB and
// trips -fsanitize=undefined).
template <typename T, typename M>
inline size_t member_offset(M T::*member) {
  static_assert(sizeof(member) == sizeof(ptrdiff_t), "Itanium ABI data member pointer");
  return static_cast<size_t>(std::bit_cast<ptrdiff_t>(member));
}

template <auto Member, typename T, typename M>
inline T* owner_of_impl(M* node, M T::*) {
  return reinterpret_cast<T*>(reinterpret_cast<char*>(node) - member_offset(Member));
}

// T* owner_of<&T::node>(&t.node) == &t
template <auto Member, typename M>
inline auto owner_of(M* node) {
  return owner_of_impl<Member>(node, Member);
}

}  // namespace capsule
