// Status and StatusOr: the error currency of every layer below the CLI.
// A failed operation returns a Status whose message names the problem in words a user
// can act on ("tensor 'blk.0.attn_q.weight' extends past end of file"); code never throws
// across layer boundaries and never aborts on bad input.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace muse {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

  // Prepends context: "reading model.gguf: " + message.
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Error(context + ": " + message_);
  }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

// printf-style error constructor.
[[gnu::format(printf, 1, 2)]] inline Status Errorf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return Status::Error(buf);
}

template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: must be an error
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

#define MUSE_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::muse::Status muse_status_ = (expr);        \
    if (!muse_status_.ok()) return muse_status_; \
  } while (0)

// lhs = value of a StatusOr expression, or return its error. `lhs` must already exist.
#define MUSE_ASSIGN_OR_RETURN(lhs, expr)                      \
  do {                                                        \
    auto muse_statusor_ = (expr);                             \
    if (!muse_statusor_.ok()) return muse_statusor_.status(); \
    lhs = std::move(*muse_statusor_);                         \
  } while (0)

}  // namespace muse
