// NVMe queue bookkeeping and PRPs (drivers/nvme/queue.h) against a fake
// controller that posts completions the way NVMe 1.4 §4.6 says: entries in
// order, the phase tag inverted on each pass over the ring.
#include "drivers/nvme/queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace capsule;
using namespace capsule::nvme;

namespace {

// Posts completion entries as a controller does.
struct FakeController {
  std::vector<Cqe> ring;
  uint16_t tail = 0;
  uint16_t phase = 1;
  explicit FakeController(uint16_t n) : ring(n) { memset(ring.data(), 0, n * sizeof(Cqe)); }
  void post(uint16_t cid, uint16_t status_field = 0) {
    Cqe e{};
    e.cid = cid;
    e.sq_head = uint16_t(cid + 1);
    e.status = uint16_t(status_field << 1 | phase);
    ring[tail] = e;
    if (++tail == ring.size()) {
      tail = 0;
      phase ^= 1;
    }
  }
};

TEST(NvmeQueue, CompletionPhaseAcrossWraps) {
  FakeController c(4);
  CompletionQueue q;
  q.init(c.ring.data(), 4);
  Cqe e;
  EXPECT_FALSE(q.pop(&e));  // zeroed memory: nothing posted
  uint16_t next = 0;
  // Ten passes over a 4-entry ring, posting 1..3 at a time.
  for (int round = 0; round < 20; ++round) {
    int n = 1 + round % 3;
    for (int i = 0; i < n; ++i) c.post(uint16_t(next + i));
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(q.pop(&e)) << round;
      EXPECT_EQ(e.cid, next);
      ++next;
    }
    EXPECT_FALSE(q.pop(&e)) << "entries of the last pass are stale: their phase is the old one";
    EXPECT_EQ(q.head(), c.tail);
  }
}

TEST(NvmeQueue, StatusFieldDecoded) {
  FakeController c(2);
  CompletionQueue q;
  q.init(c.ring.data(), 2);
  c.post(7, 0x80);             // generic, LBA out of range
  c.post(8, 2 << 8 | 0x80);    // media error type, write fault
  Cqe e;
  ASSERT_TRUE(q.pop(&e));
  EXPECT_FALSE(status_ok(e.status));
  EXPECT_EQ(status_sct(e.status), 0);
  EXPECT_EQ(status_sc(e.status), 0x80);
  ASSERT_TRUE(q.pop(&e));
  EXPECT_EQ(status_sct(e.status), 2);
  EXPECT_EQ(status_sc(e.status), 0x80);
  c.post(9);
  ASSERT_TRUE(q.pop(&e));
  EXPECT_TRUE(status_ok(e.status));  // phase 0 on the second pass, status 0
}

TEST(NvmeQueue, SubmissionTailWraps) {
  std::vector<Sqe> ring(3);
  SubmissionQueue q;
  q.init(ring.data(), 3);
  for (uint16_t i = 0; i < 7; ++i) {
    Sqe e{};
    e.cid = i;
    q.push(e);
    EXPECT_EQ(ring[i % 3].cid, i);
    EXPECT_EQ(q.tail(), (i + 1) % 3);
  }
}

// "Physical" = virtual + 1 TiB, page by page, so a wrong page is visible.
uint64_t fake_phys(uintptr_t v) { return uint64_t(v) + (1ull << 40); }

TEST(NvmePrp, OnePageTwoPagesAndAList) {
  uint64_t list[512];
  const uint64_t list_phys = 0xabc000;
  const uintptr_t base = 0x100000;
  // Within one page, at an offset.
  auto p = prp_build(base + 100, 512, fake_phys, list, 512, list_phys);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().prp1, fake_phys(base + 100));
  EXPECT_EQ(p.value().prp2, 0u);
  // Crossing one boundary: PRP2 is the second page, offset 0.
  auto p2 = prp_build(base + 3584, 1024, fake_phys, list, 512, list_phys);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2.value().prp2, fake_phys(base + 4096));
  EXPECT_EQ(p2.value().list_entries, 0u);
  // Exactly two aligned pages: no list.
  auto p3 = prp_build(base, 8192, fake_phys, list, 512, list_phys);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3.value().prp2, fake_phys(base + 4096));
  // 64 KiB at offset 612: 17 pages, PRP2 the list of the 16 after the first.
  auto p4 = prp_build(base + 612, 65536, fake_phys, list, 512, list_phys);
  ASSERT_TRUE(p4.ok());
  EXPECT_EQ(p4.value().prp1, fake_phys(base + 612));
  EXPECT_EQ(p4.value().prp2, list_phys);
  ASSERT_EQ(p4.value().list_entries, 16u);
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(list[i], fake_phys(base + (i + 1) * 4096)) << i;
}

TEST(NvmePrp, BadInput) {
  uint64_t list[4];
  EXPECT_EQ(prp_build(0x1001, 512, fake_phys, list, 4, 0).error(), Error::Invalid);  // not dword aligned
  EXPECT_EQ(prp_build(0x1000, 0, fake_phys, list, 4, 0).error(), Error::Invalid);
  EXPECT_EQ(prp_build(0x1000, 6 * 4096, fake_phys, list, 4, 0).error(), Error::TooBig);  // 5 list entries
  EXPECT_TRUE(prp_build(0x1000, 5 * 4096, fake_phys, list, 4, 0).ok());
  EXPECT_EQ(prp_pages(0x1ffc, 8), 2u);
}

}  // namespace
