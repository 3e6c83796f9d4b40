#pragma once
// What the perf-model tests share: the shipped catalog, and an instance shape built from it by name.

#include <string>

#include "catalog/catalog.hpp"
#include "perf/perf_model.hpp"

namespace tf::test {

inline const ::tf::catalog::Catalog& catalog() {
  static const ::tf::catalog::Catalog c(TF_SOURCE_ROOT);
  return c;
}

inline perf::InstanceShape shape(const std::string& model, const std::string& accelerator, int tp, int ep = 1,
                                 int pp = 1, ::tf::catalog::Dtype weights = ::tf::catalog::Dtype::bf16) {
  perf::InstanceShape s;
  s.model = &catalog().llm(model);
  s.accelerator = &catalog().accelerator(accelerator);
  s.tp = tp;
  s.ep = ep;
  s.pp = pp;
  s.weight_dtype = weights;
  return s;
}

}  // namespace tf::test
