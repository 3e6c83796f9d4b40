#include "cli/atomic_file.hpp"

#include <fstream>

#include "core/error.hpp"

namespace tf::cli {

void write_file_atomically(const std::filesystem::path& file, const std::function<void(std::ostream&)>& body) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw ConfigError(tmp.string(), "", "cannot write file");
    body(out);
    out.flush();
    if (!out) throw ConfigError(tmp.string(), "", "write failed");
  }
  std::filesystem::rename(tmp, file);
}

void write_file_atomically(const std::filesystem::path& file, const std::string& text) {
  write_file_atomically(file, [&](std::ostream& out) { out << text; });
}

}  // namespace tf::cli
