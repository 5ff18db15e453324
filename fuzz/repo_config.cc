// The repository config and the wrapped key, as Repository::Open reads them
// from the store before anything else: pb::RepoConfig, KeySet::Unwrap
// (store/crypto/keys.h), the config's authentication code, the format
// version and the chunker parameters.
//
// Input: [mode] then records (fuzz_util.h): config, wrapped key, config
// authentication code (no record: absent). Mode bit 0: the target writes the
// right checksum into a 121-byte wrapped key, so the fuzzer gets past it to
// the version and the cost parameters; bit 1: the target writes the fixed
// key's authentication code of the config instead of the third record, so
// the config is believed and its contents checked; bit 2: unencrypted
// repositories are allowed. The passphrase is the fixed key's.
//
// Unwrap must refuse cost parameters out of range before it runs Argon2id.
// In range, Argon2id runs as asked, up to 64 passes over 4 GiB by design: the
// target skips inputs that ask for more than 2 passes over 1 MiB rather than
// spend minutes on one input.
#include <sodium.h>

#include "fuzz/fuzz_util.h"
#include "store/repo/repository.h"

using namespace coffer;

namespace {

constexpr size_t kWrappedSize = 121;
constexpr size_t kChecksumAt = 105;

uint64_t GetU64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{in[i]} << (8 * i);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::vector<ByteView> records = fuzz::SplitRecords({data + 1, size - 1}, 3);
  auto store = std::make_unique<fuzz::MemoryStore>();
  if (records.size() > 0) store->meta["config"] = Bytes(records[0].begin(), records[0].end());
  if (mode & 2) {
    if (records.size() > 0) store->meta["config-mac"] = fuzz::FixedKeys().ConfigMac(records[0]);
  } else if (records.size() > 2) {
    store->meta["config-mac"] = Bytes(records[2].begin(), records[2].end());
  }
  OpenOptions open;
  open.allow_unencrypted = (mode & 4) != 0;
  bool out_of_range = false;
  if (records.size() > 1) {
    Bytes wrapped(records[1].begin(), records[1].end());
    if (wrapped.size() == kWrappedSize) {
      if (mode & 1) {
        crypto_generichash(&wrapped[kChecksumAt], kWrappedSize - kChecksumAt, wrapped.data(),
                           kChecksumAt, nullptr, 0);
      }
      const uint64_t ops = GetU64(&wrapped[1]), mem = GetU64(&wrapped[9]);
      out_of_range = ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto::KdfParams::kMaxOpslimit ||
                     mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto::KdfParams::kMaxMemlimit;
      if (!out_of_range && (ops > 2 || mem > (1u << 20))) return 0;  // costly by design
    }
    store->meta["key"] = std::move(wrapped);
  }
  bool asked = false;
  Result<std::unique_ptr<Repository>> repo = Repository::Open(
      std::move(store),
      [&] {
        asked = true;
        return Result<std::string>(std::string(fuzz::kFixedPassphrase));
      },
      open);
  if (!repo.ok()) {
    // A wrong passphrase or a failed Argon2id: the key was hashed.
    const Code code = repo.status().code();
    if (out_of_range && asked && (code == Code::kUnauthenticated || code == Code::kIoError)) {
      fuzz::Fail("a wrapped key with cost parameters out of range got to Argon2id: " +
                 repo.status().message());
    }
    return 0;
  }
  // It opened: the chunker works with what the config says.
  const chunk::FastCdc& cdc = (*repo)->chunker();
  static const Bytes kData = [] {
    Bytes d(64 << 10);
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    return d;
  }();
  ByteView rest = kData;
  while (!rest.empty()) {
    const size_t n = cdc.NextBoundary(rest, /*at_end=*/true);
    if (n == 0 || n > rest.size() || n > cdc.params().max_size) fuzz::Fail("a chunk out of bounds");
    rest = rest.subspan(n);
  }
  return 0;
}
