#pragma once
// Output files are written through a temporary file and renamed into place, so a reader (a resumed sweep, a
// CI job) never sees a half-written one; results.json written this way is the mark of a finished run.

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace tf::cli {

// Writes `file` with what `body` streams; throws tf::ConfigError naming the file when it cannot be written.
void write_file_atomically(const std::filesystem::path& file, const std::function<void(std::ostream&)>& body);
void write_file_atomically(const std::filesystem::path& file, const std::string& text);

}  // namespace tf::cli
