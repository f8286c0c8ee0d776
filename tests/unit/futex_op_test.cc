// FUTEX_WAKE_OP decoding and arithmetic (core/sync/futex.h), against the
// encoding futex(2) documents.
#include "core/sync/futex.h"

#include <gtest/gtest.h>

using namespace capsule;
using namespace capsule::futex;

TEST(FutexOp, DecodesFields) {
  // FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_GT, 4) as futex(2) spells it:
  // (op << 28) | (cmp << 24) | (oparg << 12) | cmparg.
  uint32_t enc = (1u << 28) | (4u << 24) | (3u << 12) | 4u;
  EXPECT_EQ(futex_op_encode(FutexOp::Add, 3, FutexCmp::Gt, 4), enc);
  auto d = decode_op(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->op, 1u);
  EXPECT_EQ(d->cmp, 4u);
  EXPECT_EQ(d->oparg, 3);
  EXPECT_EQ(d->cmparg, 4);
  EXPECT_EQ(apply_op(*d, 5), 8u);
  EXPECT_TRUE(compare(*d, 5));
  EXPECT_FALSE(compare(*d, 4));
}

TEST(FutexOp, SignExtendsArguments) {
  auto d = decode_op(futex_op_encode(FutexOp::Add, -1, FutexCmp::Lt, -2048));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->oparg, -1);
  EXPECT_EQ(d->cmparg, -2048);
  EXPECT_EQ(apply_op(*d, 10), 9u);
  EXPECT_FALSE(compare(*d, uint32_t(-2048)));
  EXPECT_TRUE(compare(*d, uint32_t(-2049)));  // signed comparison
  EXPECT_FALSE(compare(*d, 0x7fffffffu));
}

TEST(FutexOp, OpargShift) {
  auto d = decode_op(futex_op_encode(uint32_t(FutexOp::Or) | FUTEX_OP_OPARG_SHIFT, 31, FutexCmp::Eq, 0));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(uint32_t(d->oparg), 0x80000000u);
  EXPECT_EQ(apply_op(*d, 1), 0x80000001u);
  // Shift counts past 31 are masked, as Linux does.
  auto d2 = decode_op(futex_op_encode(uint32_t(FutexOp::Set) | FUTEX_OP_OPARG_SHIFT, 33, FutexCmp::Eq, 0));
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->oparg, 2);
}

TEST(FutexOp, EveryOpAndComparison) {
  auto op = [](FutexOp o, int32_t arg, uint32_t old) {
    return apply_op(*decode_op(futex_op_encode(o, arg, FutexCmp::Eq, 0)), old);
  };
  EXPECT_EQ(op(FutexOp::Set, 7, 100), 7u);
  EXPECT_EQ(op(FutexOp::Or, 0x10, 0x01), 0x11u);
  EXPECT_EQ(op(FutexOp::AndNot, 0x10, 0x11), 0x01u);
  EXPECT_EQ(op(FutexOp::Xor, 0xff, 0x0f), 0xf0u);
  auto cmp = [](FutexCmp c, int32_t arg, uint32_t old) {
    return compare(*decode_op(futex_op_encode(FutexOp::Set, 0, c, arg)), old);
  };
  EXPECT_TRUE(cmp(FutexCmp::Eq, 5, 5));
  EXPECT_TRUE(cmp(FutexCmp::Ne, 5, 6));
  EXPECT_TRUE(cmp(FutexCmp::Le, 5, 5));
  EXPECT_FALSE(cmp(FutexCmp::Lt, 5, 5));
  EXPECT_TRUE(cmp(FutexCmp::Ge, 5, 5));
  EXPECT_FALSE(cmp(FutexCmp::Gt, 5, 5));
}

TEST(FutexOp, RejectsUnknownOpsAndComparisons) {
  EXPECT_EQ(decode_op(futex_op_encode(5u, 0, FutexCmp::Eq, 0)).error(), Error::NotSupported);
  EXPECT_EQ(decode_op(futex_op_encode(7u, 0, FutexCmp::Eq, 0)).error(), Error::NotSupported);
  EXPECT_EQ(decode_op(futex_op_encode(FutexOp::Add, 0, FutexCmp(6), 0)).error(), Error::NotSupported);
  EXPECT_EQ(decode_op(futex_op_encode(FutexOp::Add, 0, FutexCmp(15), 0)).error(), Error::NotSupported);
}
