#pragma once
// The class of each request of one source: either one named class for all, or a seeded draw per request
// from fractions (class_mix). Class ids index the workload's class list.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tf::workload {

class ClassChooser {
 public:
  // where: JSON pointer of the source ("/workload/traces/0"), for errors. Neither a name nor a mix: class 0.
  // A mix is normalised by its sum, so fractions that sum to 1 up to rounding are taken as given.
  ClassChooser(const std::string& class_name, const std::map<std::string, double>& class_mix,
               const std::vector<std::string>& classes, const std::string& where);

  // Whether choose() draws from the generator (false: one class for all, no draw).
  bool draws() const { return ids_.size() > 1; }
  // One uniform01 draw when draws(), none otherwise.
  uint32_t choose(std::mt19937_64& g) const;

 private:
  std::vector<uint32_t> ids_;       // candidate class ids, in the mix's (sorted) key order
  std::vector<double> cumulative_;  // upper bounds of each candidate's share of [0, 1)
};

}  // namespace tf::workload
