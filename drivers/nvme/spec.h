#pragma once
// What the NVM Express Base Specification 1.4 fixes and the driver uses:
// controller registers [§3.1], queue entries [§4.2, §4.6], the admin and
// NVM commands [§5, NVM command set], Identify's fields [§5.15]. Section
// numbers are the 1.4 base specification's. docs/block.md.
#include <cstddef>
#include <cstdint>

namespace capsule::nvme {

// Controller registers, byte offsets in BAR0 [§3.1].
enum : size_t {
  REG_CAP = 0x00,   // capabilities, 64 bits
  REG_VS = 0x08,    // version
  REG_CC = 0x14,    // controller configuration
  REG_CSTS = 0x1c,  // controller status
  REG_AQA = 0x24,   // admin queue attributes
  REG_ASQ = 0x28,   // admin submission queue base, 64 bits
  REG_ACQ = 0x30,   // admin completion queue base, 64 bits
  REG_DOORBELLS = 0x1000,
};

// CAP fields [§3.1.1].
inline uint32_t cap_mqes(uint64_t cap) { return uint32_t(cap & 0xffff) + 1; }  // entries per queue at most
inline uint32_t cap_timeout_ms(uint64_t cap) { return uint32_t((cap >> 24) & 0xff) * 500; }
inline uint32_t cap_dstrd(uint64_t cap) { return uint32_t((cap >> 32) & 0xf); }
inline bool cap_css_nvm(uint64_t cap) { return (cap >> 37) & 1; }
inline uint32_t cap_mpsmin(uint64_t cap) { return uint32_t((cap >> 48) & 0xf); }  // 2^(12+n) bytes

// CC fields [§3.1.5]: EN; CSS 0 (NVM command set); MPS 0 (4 KiB pages);
// AMS 0 (round robin); I/O queue entry sizes as powers of two.
inline constexpr uint32_t CC_EN = 1u << 0;
inline constexpr uint32_t CC_IOSQES_64 = 6u << 16, CC_IOCQES_16 = 4u << 20;
inline constexpr uint32_t CC_SHN_NORMAL = 1u << 14;
// CSTS [§3.1.6].
inline constexpr uint32_t CSTS_RDY = 1u << 0, CSTS_CFS = 1u << 1;

// Doorbell of submission queue `qid`'s tail and completion queue `qid`'s
// head, with the stride CAP.DSTRD gives [§3.1.24, §3.1.25].
inline size_t sq_tail_doorbell(uint16_t qid, uint32_t dstrd) {
  return REG_DOORBELLS + (2 * size_t(qid)) * (size_t(4) << dstrd);
}
inline size_t cq_head_doorbell(uint16_t qid, uint32_t dstrd) {
  return REG_DOORBELLS + (2 * size_t(qid) + 1) * (size_t(4) << dstrd);
}

// A submission queue entry, 64 bytes [§4.2].
struct Sqe {
  uint8_t opcode;
  uint8_t flags;     // FUSE 1:0, PSDT 7:6 (0: PRPs)
  uint16_t cid;      // command identifier, echoed in the completion
  uint32_t nsid;
  uint32_t cdw2, cdw3;
  uint64_t mptr;     // metadata pointer (unused)
  uint64_t prp1, prp2;
  uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
static_assert(sizeof(Sqe) == 64);

// A completion queue entry, 16 bytes [§4.6].
struct Cqe {
  uint32_t dw0;      // command specific
  uint32_t dw1;
  uint16_t sq_head;  // how far the controller has consumed the submission queue
  uint16_t sq_id;
  uint16_t cid;
  uint16_t status;   // bit 0 phase tag; 15:1 the status field
};
static_assert(sizeof(Cqe) == 16);

// The status field's parts [§4.6.1]: status code (SC), status code type
// (SCT; 0 generic). Any non-zero SC or SCT is an error.
inline uint8_t status_sc(uint16_t status) { return uint8_t(status >> 1); }
inline uint8_t status_sct(uint16_t status) { return uint8_t((status >> 9) & 7); }
inline bool status_ok(uint16_t status) { return (status >> 1 & 0x7ff) == 0; }

// Admin opcodes [§5].
enum : uint8_t {
  ADMIN_DELETE_SQ = 0x00, ADMIN_CREATE_SQ = 0x01, ADMIN_DELETE_CQ = 0x04, ADMIN_CREATE_CQ = 0x05,
  ADMIN_IDENTIFY = 0x06, ADMIN_SET_FEATURES = 0x09,
};
// NVM command set opcodes (NVM command set spec §6 / base 1.4 §6).
enum : uint8_t { IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02, IO_WRITE_ZEROES = 0x08, IO_DSM = 0x09 };
// Dataset Management [§6.7]: CDW10 the number of ranges less one, CDW11
// bit 2 Attribute Deallocate; the data is a list of 16-byte ranges.
inline constexpr uint32_t DSM_DEALLOCATE = 1u << 2;
struct DsmRange {
  uint32_t attributes;  // context attributes (0: none)
  uint32_t blocks;      // length in logical blocks
  uint64_t lba;         // starting LBA
};
static_assert(sizeof(DsmRange) == 16);
// Write Zeroes [§6.16]: CDW12 bits 15:0 the blocks less one, bit 25
// Deallocate (the controller may free them; they still read as zeros).
inline constexpr uint32_t WZ_DEALLOCATE = 1u << 25;
inline constexpr uint32_t WZ_MAX_BLOCKS = 65536;

// Identify's CNS values [§5.15.1].
enum : uint32_t { CNS_NAMESPACE = 0x00, CNS_CONTROLLER = 0x01, CNS_ACTIVE_NSIDS = 0x02 };
// Set Features: Number of Queues [§5.21.1.7].
inline constexpr uint32_t FEATURE_NUM_QUEUES = 0x07;

// Identify Controller fields, byte offsets in the 4 KiB page [§5.15.2.2].
enum : size_t {
  IDC_SN = 4, IDC_SN_LEN = 20,  // serial number, ASCII, space padded
  IDC_MN = 24, IDC_MN_LEN = 40,  // model number
  IDC_MDTS = 77,                 // max transfer: 2^n units of CAP.MPSMIN (0: no limit)
  IDC_SQES = 512, IDC_CQES = 513,
  IDC_NN = 516,                  // number of namespaces (32 bits)
  IDC_ONCS = 520,                // optional NVM commands (16 bits): bit 2 DSM, bit 3 Write Zeroes
  IDC_VWC = 525,                 // bit 0: a volatile write cache is present
};
// Identify Namespace fields [§5.15.2.1 (NVM command set)].
enum : size_t {
  IDN_NSZE = 0,     // size in logical blocks (64 bits)
  IDN_NLBAF = 25,   // number of LBA formats, 0-based
  IDN_FLBAS = 26,   // bits 3:0 the format in use
  IDN_NSATTR = 99,  // bit 0: write protected
  IDN_LBAF = 128,   // LBA formats, 4 bytes each: MS 15:0, LBADS 23:16 (2^n bytes), RP 25:24
};

}  // namespace capsule::nvme
