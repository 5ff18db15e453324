// Status and Result<T>: how errors cross module boundaries in Coffer.
//
// A Status is either OK or a Code with a one-line message meant for a user.
// "Missing" (kNotFound) and "damaged" (kCorruption) are distinct on purpose:
// callers must never treat a tampered object as an absent one.
// Both types are cheap values; they are not thread-safe to mutate concurrently.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coffer {

enum class Code {
  kOk = 0,
  kNotFound,         // no such object, snapshot, path or repository
  kCorruption,       // stored data failed authentication or its checksum
  kInvalidArgument,  // bad user input
  kIoError,          // the operating system or RocksDB failed
  kUnauthenticated,  // wrong passphrase or key
  kBusy,             // lock held by someone else
  kNoSpace,          // the filesystem is full
  kAlreadyExists,
  kUnsupported,  // format version or feature this build does not know
  // Given up, keeping nothing of the attempt; running it again may succeed.
  // A command Coffer ran failed or timed out (a backup's --stdin-from-command
  // producer, a job's hook, a notifier), the store could not vouch for a
  // writer's objects and refused its commit (ObjectStore::CommitSnapshot),
  // or a file being restored was replaced meanwhile. Exit code 1.
  kAborted,
  kFailedPrecondition,  // refused in this state (e.g. a protected snapshot)
  kPermissionDenied,    // the caller may not do this (e.g. an append-only token)
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  // An error from a system call: errno decides the code (ENOSPC -> kNoSpace, ...).
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. Never holds an OK status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT: implicit on purpose
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace coffer

#define COFFER_CONCAT_INNER(a, b) a##b
#define COFFER_CONCAT(a, b) COFFER_CONCAT_INNER(a, b)

#define COFFER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::coffer::Status coffer_status_ = (expr);        \
    if (!coffer_status_.ok()) return coffer_status_; \
  } while (0)

#define COFFER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// COFFER_ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s status on error.
#define COFFER_ASSIGN_OR_RETURN(lhs, expr) \
  COFFER_ASSIGN_OR_RETURN_IMPL(COFFER_CONCAT(coffer_result_, __LINE__), lhs, expr)
