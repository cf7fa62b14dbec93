// SafetensorsFile: tensors of non-weight dtypes (real checkpoints carry an I64
// `embeddings.position_ids`) are listed, and refused by name when read as weights.
#include "embed/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "ragperf/error.h"
#include "testing/testing.h"

namespace {

using ragperf::embed::DType;
using ragperf::embed::SafetensorsFile;

TEST(Safetensors, NonWeightDtypesAreListedButRefusedAsWeights) {
  ragperf::testing::TempDir tmp;
  std::string data;
  const float w[2] = {1.5f, -2.0f};
  data.append(reinterpret_cast<const char*>(w), sizeof w);
  const int64_t ids[3] = {0, 1, 2};
  data.append(reinterpret_cast<const char*>(ids), sizeof ids);
  nlohmann::json header = {{"weight", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                           {"embeddings.position_ids",
                            {{"dtype", "I64"}, {"shape", {1, 3}}, {"data_offsets", {8, 32}}}}};
  const std::string head = header.dump();
  const uint64_t len = head.size();
  std::string file(reinterpret_cast<const char*>(&len), 8);
  ragperf::testing::write_file(tmp.path() / "model.safetensors", file + head + data);

  SafetensorsFile f(tmp.path() / "model.safetensors");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.find("embeddings.position_ids")->dtype, DType::kI64);
  EXPECT_EQ(f.require("weight", {2}).at(1), -2.0f);
  try {
    f.require("embeddings.position_ids", {1, 3});
    ADD_FAILURE() << "an I64 tensor was accepted as a weight";
  } catch (const ragperf::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("'embeddings.position_ids' has dtype I64"),
              std::string::npos)
        << e.what();
  }
}

TEST(Safetensors, UnknownDtypeNamesTheTensor) {
  ragperf::testing::TempDir tmp;
  const std::string head = R"({"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})";
  const uint64_t len = head.size();
  std::string file(reinterpret_cast<const char*>(&len), 8);
  ragperf::testing::write_file(tmp.path() / "model.safetensors", file + head + "ab");
  try {
    SafetensorsFile f(tmp.path() / "model.safetensors");
    ADD_FAILURE() << "an unknown dtype was accepted";
  } catch (const ragperf::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'x' has dtype F8_E4M3"), std::string::npos)
        << e.what();
  }
}

}  // namespace
