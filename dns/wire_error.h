#pragma once
// Why a packet (or a piece of one) was rejected. Every parse in dns/ returns
// one of these instead of crashing or reading out of bounds.

#include <cstdint>

#include "base/result.h"

namespace shoal::dns {

enum class WireError : uint8_t {
  kTruncated,          // data ends before the structure does
  kPointerLoop,        // compression pointer does not point strictly backwards
  kBadLabelType,       // label type 0b01 / 0b10 (RFC 6891 section 5: obsolete)
  kLabelTooLong,       // label over 63 octets
  kNameTooLong,        // name over 255 octets in wire form
  kBadText,            // presentation-format name or value not understood
  kTooManyQuestions,   // QDCOUNT > 1 (RFC 9619)
  kTrailingData,       // bytes after the last record
  kOptNotInAdditional, // OPT in question/answer/authority section
  kDuplicateOpt,       // more than one OPT (RFC 6891 section 6.1.1)
  kBadOpt,             // OPT owner not root, or malformed option list
  kBadOption,          // a known EDNS option with an invalid body
  kBadRdata,           // rdata does not match its type's format
  kNoSpace,            // writer: the record does not fit the size limit
  kBadState,           // writer: sections written out of order
};

/// Short, stable description for logs and test messages.
const char* toString(WireError error);

template <typename T>
using WireResult = base::Result<T, WireError>;
using WireStatus = base::Status<WireError>;

}  // namespace shoal::dns
