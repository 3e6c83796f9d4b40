#pragma once
// Helpers for the command-line tests: shell commands, background processes, CSV files.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "run_util.hpp"

namespace tf::test {

inline bool have_program(const std::string& name) {
  return run_shell("command -v " + name + " >/dev/null").exit_code == 0;
}

// Starts the tokenfactory binary in the background with its output in `log`.
inline pid_t spawn_binary(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<std::string> all = {TF_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log_path = log.string();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

inline int wait_exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Point directories under `dir` holding a results.json.
inline size_t finished_points(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_directory() && std::filesystem::exists(e.path() / "results.json")) ++n;
  return n;
}

// A CSV without quoted cells, as rows of cells (header first).
inline std::vector<std::vector<std::string>> read_csv_rows(const std::filesystem::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file(p));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    size_t start = 0;
    while (true) {
      size_t comma = line.find(',', start);
      cells.push_back(line.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    rows.push_back(cells);
  }
  return rows;
}

inline size_t column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  return header.size();
}

}  // namespace tf::test
