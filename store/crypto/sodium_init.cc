#include "store/crypto/sodium_init.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace coffer::crypto {

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) {
    std::fputs("coffer: libsodium failed to initialize\n", stderr);
    std::abort();
  }
}

}  // namespace coffer::crypto
