#pragma once
// Result<T, E>: the value of an operation that can fail in an expected way
// (bad network input, a full buffer, a library error code). Errors are values,
// never exceptions, on the data plane. E is normally a small enum class.
//
// Deliberately tiny (C++20 has no std::expected): a tagged union with the
// handful of accessors the code base uses.

#include <new>
#include <type_traits>
#include <utility>

#include "base/check.h"

namespace shoal::base {

/// Wraps an error value so that Result's constructors are unambiguous.
template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<E> fail(E error) {
  return Unexpected<E>{error};
}

template <typename T, typename E>
class [[nodiscard]] Result {
  static_assert(std::is_trivially_copyable_v<E>, "errors are small values");

 public:
  Result(const T& value) : ok_(true) { new (&value_) T(value); }  // NOLINT
  Result(T&& value) : ok_(true) { new (&value_) T(std::move(value)); }  // NOLINT
  Result(Unexpected<E> error) : ok_(false) { error_ = error.error; }  // NOLINT

  Result(const Result& other) : ok_(other.ok_) {
    if (ok_) {
      new (&value_) T(other.value_);
    } else {
      error_ = other.error_;
    }
  }
  Result(Result&& other) noexcept : ok_(other.ok_) {
    if (ok_) {
      new (&value_) T(std::move(other.value_));
    } else {
      error_ = other.error_;
    }
  }
  Result& operator=(Result other) noexcept {
    this->~Result();
    new (this) Result(std::move(other));
    return *this;
  }
  ~Result() {
    if (ok_) value_.~T();
  }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }

  const T& value() const& {
    SHOAL_CHECK(ok_);
    return value_;
  }
  T& value() & {
    SHOAL_CHECK(ok_);
    return value_;
  }
  T&& value() && {
    SHOAL_CHECK(ok_);
    return std::move(value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  E error() const {
    SHOAL_CHECK(!ok_);
    return error_;
  }

 private:
  bool ok_;
  union {
    T value_;
    E error_;
  };
};

/// Result of an operation that produces no value.
template <typename E>
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Unexpected<E> error) : ok_(false), error_(error.error) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  E error() const {
    SHOAL_CHECK(!ok_);
    return error_;
  }

 private:
  bool ok_ = true;
  E error_{};
};

}  // namespace shoal::base
