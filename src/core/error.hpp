#pragma once
// The three kinds of failure (STYLE.md): a user's mistake is a ConfigError (the CLI prints it and exits 2);
// a broken invariant is TF_ASSERT (always on); a failure in the simulated world is an event, not an exception.

#include <stdexcept>
#include <string>

namespace tf {

// A mistake in user input: a scenario, a catalog file, a trace, a command-line value.
// what() is one line naming the file, the location (JSON path or line), and what was expected.
class ConfigError : public std::runtime_error {
 public:
  // file: path of the offending file ("" when it came from the command line)
  // where: JSON pointer ("/cluster/pools/0/tp") or "line 17"; may be empty
  ConfigError(std::string file, std::string where, const std::string& message);

  const std::string& file() const { return file_; }
  const std::string& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  std::string where_;
  std::string message_;
};

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace tf

#define TF_ASSERT(cond, msg)                                               \
  do {                                                                     \
    if (!(cond)) ::tf::assertion_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
