// SafetensorsFile: tensors of non-weight dtypes (real checkpoints carry an I64
// `embeddings.position_ids`) are listed, and refused by name when read as weights.
#include "embed/safetensors.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

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

// A shape whose element count overflows 64 bits (2^32 x 2^32 wraps to 0, which then "matches"
// an empty data range) is refused as impossibly large.
TEST(Safetensors, AShapeWhoseElementCountOverflowsIsRefused) {
  ragperf::testing::TempDir tmp;
  const std::string head =
      R"({"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})";
  const uint64_t len = head.size();
  std::string file(reinterpret_cast<const char*>(&len), 8);
  ragperf::testing::write_file(tmp.path() / "model.safetensors", file + head);
  try {
    SafetensorsFile f(tmp.path() / "model.safetensors");
    ADD_FAILURE() << "a 2^64-element tensor was accepted";
  } catch (const ragperf::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("impossibly large"), std::string::npos) << e.what();
  }
}

// A FIFO in place of model.safetensors is refused at once instead of waiting for a writer. A
// writer is opened after 3 s so that a load that does wait still ends (and fails the timing).
TEST(Safetensors, AFifoIsRefusedWithoutWaitingForAWriter) {
  ragperf::testing::TempDir tmp;
  const auto fifo = tmp.path() / "model.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  });
  const auto t0 = std::chrono::steady_clock::now();
  try {
    SafetensorsFile f(fifo);
    ADD_FAILURE() << "a FIFO was accepted";
  } catch (const ragperf::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  writer.join();
}

// A tensor with a 0 in its shape is valid and reads as no values. Reading it used to pass the
// empty vector's null data() to memcpy (undefined behaviour, UBSan's nonnull-attribute check;
// found by fuzz/safetensors.cpp, input kept in fuzz/corpus/safetensors/).
TEST(Safetensors, AnEmptyTensorReadsAsNoValues) {
  ragperf::testing::TempDir tmp;
  nlohmann::json header = {
      {"empty", {{"dtype", "F32"}, {"shape", {0, 4}}, {"data_offsets", {0, 0}}}},
      {"empty16", {{"dtype", "F16"}, {"shape", {3, 0}}, {"data_offsets", {0, 0}}}}};
  const std::string head = header.dump();
  const uint64_t len = head.size();
  std::string file(reinterpret_cast<const char*>(&len), 8);
  ragperf::testing::write_file(tmp.path() / "model.safetensors", file + head);

  SafetensorsFile f(tmp.path() / "model.safetensors");
  EXPECT_TRUE(f.require("empty", {0, 4}).to_f32().empty());
  EXPECT_TRUE(f.require("empty16", {3, 0}).to_f32().empty());
  f.require("empty", {0, 4}).copy_f32(0, 0, nullptr);
}

}  // namespace
