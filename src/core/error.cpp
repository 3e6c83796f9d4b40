#include "core/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace tf {

namespace {
std::string compose(const std::string& file, const std::string& where, const std::string& message) {
  std::string out;
  if (!file.empty()) out += file;
  if (!where.empty()) out += (out.empty() ? "" : ": ") + where;
  if (!out.empty()) out += ": ";
  return out + message;
}
}  // namespace

ConfigError::ConfigError(std::string file, std::string where, const std::string& message)
    : std::runtime_error(compose(file, where, message)),
      file_(std::move(file)),
      where_(std::move(where)),
      message_(message) {}

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "tokenfactory: internal error: %s:%d: assertion '%s' failed: %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

}  // namespace tf
