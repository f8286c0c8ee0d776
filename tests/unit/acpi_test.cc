#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/acpi.h"

using namespace capsule;

namespace {

// Builds a table with a valid header (signature, length, checksum).
std::vector<uint8_t> table(const char* sig, std::vector<uint8_t> body) {
  std::vector<uint8_t> t(36, 0);
  std::memcpy(t.data(), sig, 4);
  t.insert(t.end(), body.begin(), body.end());
  uint32_t len = uint32_t(t.size());
  std::memcpy(&t[4], &len, 4);
  uint8_t sum = 0;
  for (uint8_t b : t) sum = uint8_t(sum + b);
  t[9] = uint8_t(-sum);
  return t;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
}

TEST(Acpi, ChecksumDetectsCorruption) {
  auto t = table("APIC", {1, 2, 3});
  EXPECT_TRUE(acpi_checksum_ok(t.data(), t.size()));
  t[37] ^= 0x40;
  EXPECT_FALSE(acpi_checksum_ok(t.data(), t.size()));
}

TEST(Acpi, FindsS5WithBytePrefixAndZero) {
  // ... NameOp "_S5_" PackageOp len=6 count=4 BytePrefix 5, Zero, Zero, Zero
  std::vector<uint8_t> aml = {0x10, 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00};
  uint8_t a = 9, b = 9;
  ASSERT_TRUE(acpi_find_s5(aml.data(), aml.size(), a, b));
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 0);
}

TEST(Acpi, S5RootPrefixAndOneOp) {
  std::vector<uint8_t> aml = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x01, 0x0a, 0x07};
  uint8_t a = 0, b = 0;
  ASSERT_TRUE(acpi_find_s5(aml.data(), aml.size(), a, b));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 7);
}

TEST(Acpi, S5NotANameOrTruncatedIsNotFound) {
  uint8_t a = 0, b = 0;
  std::vector<uint8_t> ref = {0x70, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x00, 0x00};  // a use, not a definition
  EXPECT_FALSE(acpi_find_s5(ref.data(), ref.size(), a, b));
  std::vector<uint8_t> cut = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a};  // value byte missing
  EXPECT_FALSE(acpi_find_s5(cut.data(), cut.size(), a, b));
  std::vector<uint8_t> odd = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x5b, 0x00};  // unknown op
  EXPECT_FALSE(acpi_find_s5(odd.data(), odd.size(), a, b));
}

TEST(Acpi, ParsesMadt) {
  std::vector<uint8_t> body;
  put32(body, 0xfee00000);  // LAPIC address
  put32(body, 1);           // PCAT_COMPAT
  // CPU 0 enabled, CPU 1 online-capable, CPU 2 disabled (not listed)
  for (uint8_t id = 0; id < 3; ++id) {
    body.insert(body.end(), {0, 8, id, id});
    put32(body, id == 0 ? 1 : id == 1 ? 2 : 0);
  }
  body.insert(body.end(), {1, 12, 7, 0});  // IOAPIC id 7
  put32(body, 0xfec00000);
  put32(body, 0);
  body.insert(body.end(), {2, 10, 0, 0});  // ISA IRQ0 -> GSI 2
  put32(body, 2);
  body.insert(body.end(), {0, 0});         // flags
  auto t = table("APIC", body);
  AcpiInfo info;
  ASSERT_TRUE(acpi_parse_madt(t.data(), t.size(), info).ok());
  EXPECT_EQ(info.lapic_address, 0xfee00000u);
  EXPECT_TRUE(info.has_8259);
  ASSERT_EQ(info.cpu_count, 2u);
  EXPECT_TRUE(info.cpus[0].enabled);
  EXPECT_FALSE(info.cpus[1].enabled);
  ASSERT_EQ(info.ioapic_count, 1u);
  EXPECT_EQ(info.ioapics[0].id, 7);
  EXPECT_EQ(info.ioapics[0].address, 0xfec00000u);
  ASSERT_EQ(info.override_count, 1u);
  EXPECT_EQ(info.overrides[0].source, 0);
  EXPECT_EQ(info.overrides[0].gsi, 2u);
}

TEST(Acpi, MalformedMadtIsRejected) {
  std::vector<uint8_t> body;
  put32(body, 0xfee00000);
  put32(body, 0);
  body.insert(body.end(), {0, 1, 0, 0});  // entry length 1: would loop forever
  auto t = table("APIC", body);
  AcpiInfo info;
  EXPECT_EQ(acpi_parse_madt(t.data(), t.size(), info).error(), Error::BadFormat);
  std::vector<uint8_t> body2;
  put32(body2, 0xfee00000);
  put32(body2, 0);
  body2.insert(body2.end(), {1, 40, 0, 0});  // runs past the end of the table
  auto t2 = table("APIC", body2);
  EXPECT_EQ(acpi_parse_madt(t2.data(), t2.size(), info).error(), Error::BadFormat);
  EXPECT_EQ(acpi_parse_madt(t2.data(), 20, info).error(), Error::BadFormat);  // shorter than a header
}

}  // namespace
