// Typed system calls (linux/syscall.h, linux/syscall_types.h): the Linux
// width and sign rules for decoding registers, the --strace form derived
// from the types, and the Error <-> errno mapping being one to one.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "lib/format.h"
#include "linux/linux_errno.h"
#include "linux/syscall.h"
#include "linux/syscall_types.h"

using namespace capsule;
using namespace capsule::linux_abi;

namespace {

template <typename T>
T decode(uint64_t raw) {
  return SyscallArg<T>::decode(raw);
}

// --- decoding rules -----------------------------------------------------------

TEST(SyscallTypes, IntIsLow32BitsSignExtended) {
  EXPECT_EQ(decode<int>(0x00000000ffffffffull), -1);
  EXPECT_EQ(decode<int>(0xffffffff00000005ull), 5);  // garbage above bit 31 is ignored
  EXPECT_EQ(decode<int>(0x0000000080000000ull), INT32_MIN);
  EXPECT_EQ(int64_t(decode<int>(0x00000000fffffff6ull)), -10);
}

TEST(SyscallTypes, UnsignedIntTruncates) {
  EXPECT_EQ(decode<unsigned int>(0x0000000100000002ull), 2u);
  EXPECT_EQ(decode<uint32_t>(0xffffffffffffffffull), 0xffffffffu);
  EXPECT_EQ(uint64_t(decode<uint32_t>(0x00000000ffffffffull)), 0xffffffffull);  // no sign extension
}

TEST(SyscallTypes, LongAndSizeTakeTheWholeRegister) {
  EXPECT_EQ(decode<int64_t>(0xffffffffffffffffull), -1);
  EXPECT_EQ(decode<int64_t>(0x00000000ffffffffull), 0xffffffffll);
  EXPECT_EQ(decode<size_t>(0x123456789abcdef0ull), 0x123456789abcdef0ull);
}

TEST(SyscallTypes, FdIsAnInt) {
  EXPECT_EQ(decode<Fd>(3).value, 3);
  EXPECT_EQ(decode<Fd>(0x00000000ffffffffull).value, -1);  // a 32-bit -1 from the application
  EXPECT_EQ(decode<Fd>(0xdead000000000004ull).value, 4);
  EXPECT_EQ(int(decode<Fd>(7)), 7);
}

TEST(SyscallTypes, AtFdTakesAtFdcwd) {
  EXPECT_TRUE(decode<AtFd>(uint64_t(int64_t(-100))).is_cwd());
  EXPECT_TRUE(decode<AtFd>(0x00000000ffffff9cull).is_cwd());  // -100 as a 32-bit int
  EXPECT_FALSE(decode<AtFd>(5).is_cwd());
  EXPECT_EQ(decode<AtFd>(5).value, 5);
}

TEST(SyscallTypes, ModeAndFlagsTruncateToTheirCType) {
  EXPECT_EQ(decode<Mode>(0x1000001edull).value, 0755u);
  EXPECT_EQ(decode<Flags<int>>(0xffffffff00000801ull).value, 0x801);
  EXPECT_TRUE(decode<Flags<int>>(0x801).has(0x800));
  EXPECT_FALSE(decode<Flags<int>>(0x801).has(0x802));
  EXPECT_TRUE(decode<Flags<int>>(0x801).any(0x802));
  EXPECT_EQ(decode<Flags<uint64_t>>(0xffffffff00000000ull).value, 0xffffffff00000000ull);
}

enum class Whence : int { Set = 0, Cur = 1, End = 2 };

TEST(SyscallTypes, EnumsDecodeAsTheirUnderlyingType) {
  EXPECT_EQ(decode<Whence>(0xffffffff00000002ull), Whence::End);
}

TEST(SyscallTypes, PointersKeepTheAddress) {
  EXPECT_EQ(decode<UserPtr<uint64_t>>(0x7fff0000ull).addr(), 0x7fff0000ull);
  EXPECT_TRUE(decode<UserPtr<uint64_t>>(0).is_null());
  EXPECT_EQ(decode<UserPtr<uint64_t>>(0x1000).offset(3).addr(), 0x1018ull);
  EXPECT_EQ(decode<UserPtr<uint64_t>>(0x1000).cast<uint8_t>().offset(3).addr(), 0x1003ull);
  EXPECT_EQ(decode<UserString>(0x4000).ptr.addr(), 0x4000ull);
  EXPECT_TRUE(decode<UserBytes>(0).is_null());
  EXPECT_EQ(decode<Address>(0xffffffffffffffffull).value, 0xffffffffffffffffull);
}

// --- the thunk: decode, call, encode ----------------------------------------------

SyscallArgs args(uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                 uint64_t a5 = 0) {
  return SyscallArgs{{a0, a1, a2, a3, a4, a5}, nullptr};
}

int g_fd;
unsigned g_count;
size_t g_len;
Result<size_t> three(Fd fd, unsigned count, size_t len) {
  g_fd = fd;
  g_count = count;
  g_len = len;
  return len;
}

TEST(SyscallTypes, ThunkDecodesEachArgumentByItsType) {
  SyscallArgs a = args(0xffffffffffffffffull, 0x100000003ull, 0x100000003ull);
  EXPECT_EQ(typed_syscall_entry<&three>(a), int64_t(0x100000003ull));
  EXPECT_EQ(g_fd, -1);
  EXPECT_EQ(g_count, 3u);
  EXPECT_EQ(g_len, 0x100000003ull);
}

Result<int> fails(int e) { return Error(e); }

TEST(SyscallTypes, ThunkReturnsTheErrorAsMinusErrno) {
  SyscallArgs a = args(int(Error::OpNotSupported));
  EXPECT_EQ(typed_syscall_entry<&fails>(a), -95);
  a = args(int(Error::NotSupported));
  EXPECT_EQ(typed_syscall_entry<&fails>(a), -38);
  a = args(int(Error::BadFd));
  EXPECT_EQ(typed_syscall_entry<&fails>(a), -9);
}

Result<void> nothing() { return {}; }
Result<Address> an_address(Address a) { return Address{a.value + 0x1000}; }
Result<Fd> an_fd() { return Fd{5}; }

uint64_t g_nr_seen;
Result<int> raw_access(int first, SyscallArgs& a, int second) {
  g_nr_seen = a.nr;
  return first * 10 + second;
}

TEST(SyscallTypes, ThunkEncodesResults) {
  SyscallArgs a = args(0x7f0000000000ull);
  EXPECT_EQ(typed_syscall_entry<&nothing>(a), 0);
  EXPECT_EQ(typed_syscall_entry<&an_address>(a), int64_t(0x7f0000001000ull));
  EXPECT_EQ(typed_syscall_entry<&an_fd>(a), 5);
}

TEST(SyscallTypes, SyscallArgsTakesNoRegister) {
  SyscallArgs a = args(4, 2);
  a.nr = 77;
  EXPECT_EQ(typed_syscall_entry<&raw_access>(a), 42);
  EXPECT_EQ(g_nr_seen, 77u);
}

// --- --strace from the types -------------------------------------------------------

template <auto Fn>
std::string strace_line(SyscallArgs a) {
  char buf[256];
  BufferSink s(buf, sizeof(buf));
  typed_syscall_print<Fn>(s, a);
  return std::string(buf);
}

Result<void> traced(Fd fd, AtFd dir, Mode mode, Flags<int> flags, UserPtr<uint8_t> p, int64_t n) { return {}; }
Result<void> traced_null(UserPtr<uint8_t> p, Address a) { return {}; }
Result<void> traced_unsigned(unsigned u, Hex<int> h) { return {}; }

TEST(SyscallTypes, StraceFormatFollowsTheTypes) {
  EXPECT_EQ(strace_line<&traced>(args(0xffffffff00000003ull, 0x00000000ffffff9cull, 0644, 0x80000, 0x7fffe000,
                                      uint64_t(-5))),
            "3, -100, 0644, 0x80000, 0x7fffe000, -5");
  EXPECT_EQ(strace_line<&traced_null>(args(0, 0x400000)), "NULL, 0x400000");
  EXPECT_EQ(strace_line<&traced_unsigned>(args(0x1ffffffffull, 0xffffffff00001002ull)), "4294967295, 0x1002");
  EXPECT_EQ(strace_line<&raw_access>(args(4, 2)), "4, 2");
  EXPECT_EQ(strace_line<&nothing>(args(4, 2)), "");
}

TEST(SyscallTypes, AddressResultsPrintInHex) {
  EXPECT_TRUE(linux_abi::detail::TypedSyscall<decltype(&an_address)>::hex_result);
  EXPECT_FALSE(linux_abi::detail::TypedSyscall<decltype(&three)>::hex_result);
  EXPECT_FALSE(linux_abi::detail::TypedSyscall<decltype(&nothing)>::hex_result);
}

// --- Error <-> errno ----------------------------------------------------------------

TEST(SyscallErrno, EveryErrorHasItsOwnErrno) {
  EXPECT_EQ(errno_of(Error::None), 0);
  for (int i = 1; i < int(Error::Count); ++i) {
    const Error e = Error(i);
    const int err = errno_of(e);
    EXPECT_GT(err, 0) << error_name(e);
    EXPECT_EQ(error_from_errno(err), e) << error_name(e) << " -> " << err;
    for (int j = 1; j < i; ++j) EXPECT_NE(errno_of(Error(j)), err) << error_name(e) << " and " << error_name(Error(j));
  }
}

TEST(SyscallErrno, EveryErrnoTheKernelNamesHasAnError) {
  const int64_t all[] = {L_EPERM,  L_ENOENT,  L_ESRCH,  L_EINTR,   L_EIO,    L_ENXIO,   L_E2BIG,       L_ENOEXEC,
                         L_EBADF,  L_ECHILD,  L_EAGAIN, L_ENOMEM,  L_EACCES, L_EFAULT,  L_EBUSY,       L_EEXIST,
                         L_EXDEV,  L_ENODEV,  L_ENOTDIR, L_EISDIR, L_EINVAL, L_ENFILE,  L_EMFILE,      L_ENOTTY,
                         L_EFBIG,  L_ENOSPC,  L_ESPIPE, L_EROFS,   L_EMLINK, L_EPIPE,   L_EDOM,        L_ERANGE,
                         L_EDEADLK, L_ENAMETOOLONG, L_ENOLCK, L_ENOSYS, L_ENOTEMPTY, L_ELOOP, L_ENODATA, L_ETIME,
                         L_EOVERFLOW, L_EOPNOTSUPP, L_ETIMEDOUT, L_ERESTARTSYS, L_ERESTARTNOINTR, L_ERESTARTNOHAND,
                         L_ENOTSOCK, L_EDESTADDRREQ, L_EMSGSIZE, L_EPROTOTYPE, L_ENOPROTOOPT, L_EPROTONOSUPPORT,
                         L_ESOCKTNOSUPPORT, L_EAFNOSUPPORT, L_EADDRINUSE, L_EADDRNOTAVAIL, L_ECONNRESET,
                         L_EISCONN, L_ENOTCONN, L_ECONNREFUSED};
  for (int64_t err : all) {
    const Error e = error_from_errno(err);
    ASSERT_NE(e, Error::Count) << "errno " << err << " has no Error";
    EXPECT_EQ(errno_of(e), err);
  }
  EXPECT_EQ(error_from_errno(12345), Error::Count);
}

TEST(SyscallErrno, DistinctErrorsKeepTheirDetail) {
  EXPECT_EQ(errno_of(Error::NotSupported), L_ENOSYS);
  EXPECT_EQ(errno_of(Error::OpNotSupported), L_EOPNOTSUPP);
  EXPECT_EQ(errno_of(Error::Permission), L_EPERM);
  EXPECT_EQ(errno_of(Error::AccessDenied), L_EACCES);
  EXPECT_EQ(errno_of(Error::TooBig), L_E2BIG);
  EXPECT_EQ(errno_of(Error::FileTooBig), L_EFBIG);
  EXPECT_EQ(errno_of(Error::Interrupted), L_EINTR);
  EXPECT_EQ(errno_of(Error::RestartSys), L_ERESTARTSYS);
  EXPECT_EQ(errno_of(Error::BadFd), L_EBADF);
}

TEST(SyscallErrno, EveryErrorHasAName) {
  for (int i = 1; i < int(Error::Count); ++i) EXPECT_STRNE(error_name(Error(i)), "unknown error") << i;
}

}  // namespace
