// Human-readable, column-aligned text tables for the `durable` tool's default output.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace durable::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // A row with fewer cells than headers is padded with empty cells; extra cells are dropped.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // Header and rows, columns separated by two spaces and padded to their widest cell (the last
  // column is not padded, so lines carry no trailing blanks). Each line ends with '\n'.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `text` on one line: control characters (newlines, tabs) become spaces, and text longer than
// `max_chars` is cut to that length with "..." at the end. Keeps a table one row per line.
std::string one_line(std::string_view text, std::size_t max_chars);

}  // namespace durable::cli
