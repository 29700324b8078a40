#pragma once
// Helpers shared by the dns unit tests.

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/wire_error.h"

namespace shoal::dns {

inline void PrintTo(WireError error, std::ostream* os) { *os << toString(error); }

namespace testing_util {

inline Name N(const char* text) {
  auto n = Name::fromText(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : Name();
}

inline std::vector<uint8_t> bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

/// Parses "0a 1b ..." / "0a1b..." hex (whitespace ignored).
inline std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

}  // namespace testing_util
}  // namespace shoal::dns
