#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "serving/router.hpp"

using namespace tf;

TEST_CASE("least-outstanding picks the least loaded instance of the request's model, lowest id on ties") {
  auto r = serving::find_router("least-outstanding", "s.json", "/cluster/router/kind").make({{0, 1, 2}, {3}}, 4);
  CHECK(r->pick(0) == 0);
  r->load_changed(0, 2);
  r->load_changed(1, 1);
  CHECK(r->pick(0) == 2);
  r->load_changed(2, 3);
  CHECK(r->pick(0) == 1);
  CHECK(r->pick(1) == 3);  // only instance 3 serves the second model
}

TEST_CASE("round-robin cycles through a model's instances") {
  auto r = serving::find_router("round-robin", "s.json", "/x").make({{4, 5, 6}}, 7);
  CHECK(r->pick(0) == 4);
  CHECK(r->pick(0) == 5);
  CHECK(r->pick(0) == 6);
  CHECK(r->pick(0) == 4);
}

TEST_CASE("an unknown router name lists the valid ones") {
  CHECK_THROWS_WITH(serving::find_router("fastest", "s.json", "/cluster/router/kind"),
                    "s.json: /cluster/router/kind: unknown router \"fastest\" (valid: least-outstanding, round-robin)");
}
