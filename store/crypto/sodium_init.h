// EnsureSodium: initializes libsodium once per process, so no caller of this
// module has to remember to. Thread-safe (a function-local static).
#pragma once

namespace coffer::crypto {

// Aborts if libsodium cannot initialize: without it no key is safe to use.
void EnsureSodium();

}  // namespace coffer::crypto
