#pragma once
// Loading a JSON document from disk. A missing file or malformed JSON is a ConfigError naming the file and,
// for syntax errors, the line and column.

#include <nlohmann/json.hpp>

#include <string>

namespace tf {

nlohmann::json load_json_file(const std::string& path);
// Parses text that came from `origin` (a file name or "--set"), reporting line and column on error.
nlohmann::json parse_json_text(const std::string& text, const std::string& origin);

}  // namespace tf
