#pragma once
// A scratch directory for tests that need malformed catalog files; removed when the test ends.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/json_file.hpp"

namespace tf::test {

class TempDir {
 public:
  TempDir() {
    // Test cases run as parallel processes, so the name must not collide across them.
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("tf_catalog_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `doc` to <dir>/<name> (creating parent folders) and returns the file's path.
  std::filesystem::path write(const std::string& name, const nlohmann::json& doc) const {
    std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << doc.dump(2);
    return file;
  }

 private:
  std::filesystem::path path_;
};

// A shipped catalog file as JSON, for tests that break it on purpose.
inline nlohmann::json shipped(const std::string& relative) {
  return load_json_file(std::string(TF_SOURCE_ROOT) + "/" + relative);
}

}  // namespace tf::test
