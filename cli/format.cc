#include "cli/format.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace shoal::cli {

std::string strprintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), format, args);
    out.resize(static_cast<size_t>(n));
  }
  va_end(args);
  return out;
}

std::string formatUptime(double seconds) {
  // Negative, NaN, or beyond any real uptime (a control answer is input:
  // 1e300 must not overflow the integer conversion below).
  if (!(seconds >= 0) || !(seconds < 1e15)) return "-";
  if (seconds < 60) return strprintf("%.1fs", seconds);
  const auto s = static_cast<uint64_t>(seconds);
  if (s < 3600) return strprintf("%llum %llus", static_cast<unsigned long long>(s / 60),
                                 static_cast<unsigned long long>(s % 60));
  if (s < 86400) return strprintf("%lluh %llum", static_cast<unsigned long long>(s / 3600),
                                  static_cast<unsigned long long>(s % 3600 / 60));
  return strprintf("%llud %lluh", static_cast<unsigned long long>(s / 86400),
                   static_cast<unsigned long long>(s % 86400 / 3600));
}

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024) return strprintf("%llu B", static_cast<unsigned long long>(bytes));
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return strprintf("%.1f %s", value, kUnits[unit]);
}

std::string formatPercent(std::optional<double> percent) {
  if (!percent) return "-";
  if (*percent > 0 && *percent < 0.05) return "<0.1%";  // something, not nothing
  return strprintf("%.1f%%", *percent);
}

std::string formatMs(double ms) {
  if (!(ms > 0)) return "0";
  if (ms < 0.1) return strprintf("%.3f", ms);
  if (ms < 10) return strprintf("%.2f", ms);
  if (ms < 100) return strprintf("%.1f", ms);
  return strprintf("%.0f", ms);
}

std::string formatRate(double per_second) {
  if (!(per_second > 0)) return "0";
  if (per_second < 100) return strprintf("%.1f", per_second);
  return strprintf("%.0f", per_second);
}

std::optional<double> percentOf(uint64_t part, uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::addRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = columns_[c].title.size();
    for (const auto& row : rows_) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  auto line = [&](const auto& cell_of) {
    std::string text;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      const size_t pad = widths[c] - cell.size();
      const bool last = c + 1 == columns_.size();
      if (c > 0) text += "  ";
      if (columns_[c].align == Align::kRight) text.append(pad, ' ');
      text += cell;
      if (columns_[c].align == Align::kLeft && !last) text.append(pad, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  line([&](size_t c) -> const std::string& { return columns_[c].title; });
  for (const auto& row : rows_) line([&](size_t c) -> const std::string& { return row[c]; });
  return out;
}

}  // namespace shoal::cli
