// embed/safetensors.h defines a read-only, memory-mapped view of a `.safetensors` file.
//
//   SafetensorsFile f("model/model.safetensors");        // mmaps, parses and validates the header
//   const TensorView* t = f.find("embeddings.word_embeddings.weight");  // also "bert.<name>"
//   std::vector<float> w = t->to_f32();                    // F32/F16/BF16 upcast to F32
//
// Validation at open: the header length and JSON, every tensor's dtype, shape, and data offsets
// (inside the file, matching shape × dtype size, not overlapping). Failures throw ModelError naming
// the file and the tensor. Weights are read as F32, F16 or BF16; tensors of other dtypes (such as
// the I64 `embeddings.position_ids` buffer that real checkpoints carry) are listed but cannot be
// read as weights: require() refuses them by name. The mapping lives as long as the object; views
// point into it. Thread-safety: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ragperf::embed {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

/// F32, F16 or BF16: the dtypes that weights may have.
bool is_weight_dtype(DType dtype);

const char* to_string(DType dtype);
size_t dtype_size(DType dtype);

/// One tensor inside the mapped file.
struct TensorView {
  std::string name;  // as stored (possibly with a "bert." prefix)
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // points into the mapping
  size_t n_elements = 0;

  /// Element i as float (upcast from F16/BF16). Only for weight dtypes (is_weight_dtype).
  float at(size_t i) const;
  /// Copies `n` elements starting at `first` into `out` as floats.
  void copy_f32(size_t first, size_t n, float* out) const;
  /// Every element as float.
  std::vector<float> to_f32() const;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// The tensor named `name` or "bert." + `name`; nullptr when absent.
  const TensorView* find(const std::string& name) const;
  /// Like find(), but throws ModelError naming the file and the tensor when it is missing, its
  /// shape differs from `shape` or its dtype is not a weight dtype.
  const TensorView& require(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  /// Size of the file in bytes.
  size_t file_size() const { return size_; }

 private:
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, TensorView> tensors_;
};

float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);

}  // namespace ragperf::embed
