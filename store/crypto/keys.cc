#include "store/crypto/keys.h"

#include <sodium.h>

#include <array>
#include <cstring>

#include "store/crypto/sodium_init.h"

namespace coffer::crypto {
namespace {

// crypto_kdf contexts and subkey ids: written into every repository, never change.
constexpr char kIdContext[] = "coffrids";
constexpr char kDataContext[] = "coffdata";
constexpr char kChunkerContext[] = "coffcdc_";
constexpr char kConfigContext[] = "coffconf";
constexpr uint64_t kSubkeyId = 1;

// Offsets of the keys inside KeySet::secrets_.
constexpr size_t kMasterAt = 0;
constexpr size_t kIdAt = 32;
constexpr size_t kDataAt = 64;
constexpr size_t kSeedAt = 96;
constexpr size_t kConfigAt = 128;
constexpr size_t kSecretsSize = 160;

// Config authentication code layout: see keys.h.
constexpr uint8_t kConfigMacVersion = 1;
constexpr size_t kConfigMacHashSize = crypto_generichash_BYTES;  // BLAKE2b-256
constexpr size_t kConfigMacSize = 1 + kConfigMacHashSize;
static_assert(kConfigMacHashSize == 32);

// Public and fixed: unencrypted repositories chunk alike, so they dedupe alike.
constexpr char kUnencryptedSeed[] = "coffer chunker seed, unencrypted";
static_assert(sizeof(kUnencryptedSeed) - 1 == KeySet::kKeySize);

// Wrapped key layout: see keys.h.
constexpr uint8_t kWrapVersion = 1;
constexpr size_t kSaltAt = 17;
constexpr size_t kNonceAt = kSaltAt + crypto_pwhash_SALTBYTES;
constexpr size_t kCipherAt = kNonceAt + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kChecksumAt =
    kCipherAt + KeySet::kKeySize + crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kChecksumSize = 16;
constexpr size_t kWrappedSize = kChecksumAt + kChecksumSize;
static_assert(kWrappedSize == 121);

void PutU64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t GetU64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{in[i]} << (8 * i);
  return v;
}

bool ParamsInRange(KdfParams p) {
  return p.opslimit >= crypto_pwhash_OPSLIMIT_MIN && p.opslimit <= KdfParams::kMaxOpslimit &&
         p.memlimit >= crypto_pwhash_MEMLIMIT_MIN && p.memlimit <= KdfParams::kMaxMemlimit;
}

void Checksum(const uint8_t* wrapped, uint8_t* out) {
  crypto_generichash(out, kChecksumSize, wrapped, kChecksumAt, nullptr, 0);
}

// The key that wraps the master secret; fails only when memory runs out.
Result<SecretBytes> DeriveWrappingKey(std::string_view passphrase, const uint8_t* salt,
                                      KdfParams p) {
  SecretBytes key(KeySet::kKeySize);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), salt, p.opslimit,
                    static_cast<size_t>(p.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::IoError("Argon2id key derivation failed (out of memory?)");
  }
  return key;
}

}  // namespace

KdfParams KdfParams::Default() {
  return {3, uint64_t{64} << 20};
}
KdfParams KdfParams::Minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

KeySet KeySet::Generate() {
  EnsureSodium();
  SecretBytes master(kKeySize);
  crypto_kdf_keygen(master.data());
  return FromMaster(master.view());
}

KeySet KeySet::Unencrypted() {
  return KeySet();
}

KeySet KeySet::FromMaster(ByteView master) {
  KeySet keys;
  keys.secrets_ = SecretBytes(kSecretsSize);
  uint8_t* s = keys.secrets_.data();
  std::memcpy(s + kMasterAt, master.data(), kKeySize);
  crypto_kdf_derive_from_key(s + kIdAt, kKeySize, kSubkeyId, kIdContext, s + kMasterAt);
  crypto_kdf_derive_from_key(s + kDataAt, kKeySize, kSubkeyId, kDataContext, s + kMasterAt);
  crypto_kdf_derive_from_key(s + kSeedAt, kKeySize, kSubkeyId, kChunkerContext, s + kMasterAt);
  crypto_kdf_derive_from_key(s + kConfigAt, kKeySize, kSubkeyId, kConfigContext, s + kMasterAt);
  return keys;
}

ByteView KeySet::id_key() const {
  return encrypted() ? secrets_.view().subspan(kIdAt, kKeySize) : ByteView();
}
ByteView KeySet::data_key() const {
  return encrypted() ? secrets_.view().subspan(kDataAt, kKeySize) : ByteView();
}
ByteView KeySet::chunker_seed() const {
  if (encrypted()) return secrets_.view().subspan(kSeedAt, kKeySize);
  return AsBytes(std::string_view(kUnencryptedSeed, kKeySize));
}

Bytes KeySet::ConfigMac(ByteView config) const {
  if (!encrypted()) return Bytes();
  Bytes out(kConfigMacSize);
  out[0] = kConfigMacVersion;
  crypto_generichash(&out[1], kConfigMacHashSize, config.data(), config.size(),
                     secrets_.data() + kConfigAt, kKeySize);
  return out;
}

bool KeySet::ConfigMacMatches(ByteView config, ByteView mac) const {
  if (!encrypted() || mac.size() != kConfigMacSize || mac[0] != kConfigMacVersion) return false;
  Bytes expected = ConfigMac(config);
  return crypto_verify_32(&expected[1], &mac[1]) == 0;
}

Result<Bytes> KeySet::Wrap(std::string_view passphrase, KdfParams params) const {
  if (!encrypted()) return Status::InvalidArgument("an unencrypted repository has no key to wrap");
  if (!ParamsInRange(params)) return Status::InvalidArgument("Argon2id parameters out of range");
  Bytes out(kWrappedSize);
  out[0] = kWrapVersion;
  PutU64(params.opslimit, &out[1]);
  PutU64(params.memlimit, &out[9]);
  randombytes_buf(&out[kSaltAt], crypto_pwhash_SALTBYTES);
  randombytes_buf(&out[kNonceAt], crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  COFFER_ASSIGN_OR_RETURN(SecretBytes wrapping_key,
                          DeriveWrappingKey(passphrase, &out[kSaltAt], params));
  crypto_aead_xchacha20poly1305_ietf_encrypt(&out[kCipherAt], nullptr, secrets_.data() + kMasterAt,
                                             kKeySize, out.data(), kCipherAt, nullptr,
                                             &out[kNonceAt], wrapping_key.data());
  Checksum(out.data(), &out[kChecksumAt]);
  return out;
}

Result<KdfParams> KeySet::WrappedParams(ByteView wrapped) {
  EnsureSodium();
  if (wrapped.empty()) return Status::Corruption("wrapped key is empty");
  if (wrapped[0] != kWrapVersion) {
    return Status::Unsupported("wrapped key version " + std::to_string(wrapped[0]) +
                               " is not supported by this build");
  }
  if (wrapped.size() != kWrappedSize) return Status::Corruption("wrapped key has a bad length");
  std::array<uint8_t, kChecksumSize> sum;
  Checksum(wrapped.data(), sum.data());
  if (sodium_memcmp(sum.data(), &wrapped[kChecksumAt], kChecksumSize) != 0) {
    return Status::Corruption("wrapped key is damaged (checksum mismatch)");
  }
  const KdfParams params{GetU64(&wrapped[1]), GetU64(&wrapped[9])};
  if (!ParamsInRange(params)) return Status::Corruption("wrapped key has bad Argon2id parameters");
  return params;
}

Result<KeySet> KeySet::Unwrap(ByteView wrapped, std::string_view passphrase) {
  COFFER_ASSIGN_OR_RETURN(const KdfParams params, WrappedParams(wrapped));
  COFFER_ASSIGN_OR_RETURN(SecretBytes wrapping_key,
                          DeriveWrappingKey(passphrase, &wrapped[kSaltAt], params));
  SecretBytes master(kKeySize);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          master.data(), nullptr, nullptr, &wrapped[kCipherAt], kChecksumAt - kCipherAt,
          wrapped.data(), kCipherAt, &wrapped[kNonceAt], wrapping_key.data()) != 0) {
    return Status::Unauthenticated("wrong passphrase");
  }
  return FromMaster(master.view());
}

namespace {
constexpr uint8_t kExportVersion = 1;
constexpr size_t kExportIdAt = 1, kExportMasterAt = 33, kExportChecksumAt = 65;
constexpr size_t kExportChecksumSize = 16;

void ExportChecksum(const uint8_t* record, uint8_t* out) {
  crypto_generichash(out, kExportChecksumSize, record, kExportChecksumAt, nullptr, 0);
}
}  // namespace

Result<Bytes> KeySet::ExportRecord(ByteView repository_id) const {
  if (!encrypted())
    return Status::InvalidArgument("an unencrypted repository has no key to export");
  if (repository_id.size() != kKeySize) {
    return Status::InvalidArgument("a repository id has 32 bytes");
  }
  Bytes out(kExportRecordSize);
  out[0] = kExportVersion;
  std::memcpy(&out[kExportIdAt], repository_id.data(), kKeySize);
  std::memcpy(&out[kExportMasterAt], secrets_.data() + kMasterAt, kKeySize);
  ExportChecksum(out.data(), &out[kExportChecksumAt]);
  return out;
}

Result<KeySet::Imported> KeySet::ImportRecord(ByteView record) {
  EnsureSodium();
  if (record.empty()) return Status::Corruption("the exported key is empty");
  if (record[0] != kExportVersion) {
    return Status::Unsupported("exported key version " + std::to_string(record[0]) +
                               " is not supported by this build");
  }
  if (record.size() != kExportRecordSize) {
    return Status::Corruption("the exported key has " + std::to_string(record.size()) +
                              " bytes, not " + std::to_string(kExportRecordSize));
  }
  std::array<uint8_t, kExportChecksumSize> sum;
  ExportChecksum(record.data(), sum.data());
  if (sodium_memcmp(sum.data(), &record[kExportChecksumAt], kExportChecksumSize) != 0) {
    return Status::Corruption("the exported key is damaged (checksum mismatch)");
  }
  Imported imported{FromMaster(record.subspan(kExportMasterAt, kKeySize)),
                    Bytes(record.begin() + kExportIdAt, record.begin() + kExportMasterAt)};
  return imported;
}

}  // namespace coffer::crypto
