#pragma once
// `tokenfactory fidelity`: the perf model against measured kernels, end-to-end step times and published
// system figures, with which data each row was fitted on (docs/validation.md).

#include <string>

namespace tf::cli {

struct FidelityOptions {
  std::string root;         // repository root (catalog, models/profiles)
  std::string shared_data;  // ../shared/data; validation-only datasets are skipped when absent
  bool check = false;       // exit 1 when a row exceeds its bound
  bool print_fit = false;   // print the family curves fitted now, as C++ for roofline_defaults.cpp
};

// Prints the table; returns the process exit code.
int run_fidelity(const FidelityOptions& options);

}  // namespace tf::cli
