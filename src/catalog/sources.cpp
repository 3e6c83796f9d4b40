#include "catalog/sources.hpp"

#include <fmt/format.h>

namespace tf::catalog::detail {

namespace {

std::string read_note(const JsonReader& r) {
  std::string note = r.as_string();
  bool blank = note.find_first_not_of(" \t") == std::string::npos;
  // "estimate" alone says nothing a reviewer can check; the reasoning is the point.
  bool bare_estimate = note.rfind("estimate", 0) == 0 && note.find_first_not_of(" \t:", 8) == std::string::npos;
  if (blank || bare_estimate) r.fail(fmt::format("expected a citation or \"estimate: <reasoning>\", got \"{}\"", note));
  return note;
}

}  // namespace

std::map<std::string, std::string> read_sources(ObjectReader& doc, const std::vector<SourcedFigure>& figures) {
  auto sources = doc.required("sources").object();
  std::map<std::string, std::string> out;
  for (const auto& figure : figures) {
    const std::string pointer = fmt::format("/{}", json_pointer_escape(figure.key));
    JsonReader value = sources.required(figure.key);
    if (!figure.is_map) {
      out[pointer] = read_note(value);
      continue;
    }
    auto notes = value.object();
    for (const auto& entry : figure.entries)
      out[fmt::format("{}/{}", pointer, json_pointer_escape(entry))] = read_note(notes.required(entry));
    notes.finish();
  }
  sources.finish();
  return out;
}

}  // namespace tf::catalog::detail
