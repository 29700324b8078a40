#pragma once
// Text helpers for shoalctl's human output: printf into a string, compact
// durations, byte sizes, percentages and a plain column table. Nothing here
// knows shoal; everything is pure and unit-tested.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shoal::cli {

/// printf into a std::string.
std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

/// A compact duration: "12.5s", "5m 12s", "2h 5m", "3d 4h"; "-" when negative.
std::string formatUptime(double seconds);
/// "512 B", "1.5 KiB", "256.0 MiB", "2.0 GiB" (powers of 1024).
std::string formatBytes(uint64_t bytes);
/// "83.3%"; "<0.1%" for a little more than nothing; "-" when undefined
/// (nothing to divide by).
std::string formatPercent(std::optional<double> percent);
/// Milliseconds with a precision that suits their size: "0.012", "1.25", "123".
std::string formatMs(double ms);
/// A rate per second: "0", "12.3", "12345".
std::string formatRate(double per_second);

/// 100 * part / whole; nullopt when whole is 0.
std::optional<double> percentOf(uint64_t part, uint64_t whole);

/// A text table: a header row, then the rows, every column padded to its
/// widest cell, two spaces apart. The last column is not padded.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };
  explicit Table(std::vector<Column> columns);
  /// Missing cells are empty; extra cells are ignored.
  void addRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  /// Every line ends in "\n".
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shoal::cli
