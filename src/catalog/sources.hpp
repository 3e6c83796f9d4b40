#pragma once
// Internal to catalog/: the `sources` object of a catalog file. Every figure in models/ carries a note
// saying where it comes from (a publication, with its section or table row) or "estimate: <reasoning>",
// so a reader of a result can trace any number back. A figure without a note is an error.

#include <map>
#include <string>
#include <vector>

#include "core/json_reader.hpp"

namespace tf::catalog::detail {

struct SourcedFigure {
  std::string key;                   // key of the figure in the document root
  bool is_map = false;               // an object of figures ("peak_compute"): one note per entry
  std::vector<std::string> entries;  // the entries' keys when is_map
};

// Reads doc's "sources" object, which must hold exactly one note per figure (one object of notes per map
// figure), and returns the notes keyed by the figure's JSON pointer ("/hbm_bandwidth", "/peak_compute/fp8").
std::map<std::string, std::string> read_sources(ObjectReader& doc, const std::vector<SourcedFigure>& figures);

}  // namespace tf::catalog::detail
