// fuzz/safetensors.cpp: the .safetensors reader (embed/safetensors.h) on arbitrary files. The
// header's length, JSON, dtypes, shapes and data offsets are validated at open; any failure must
// be a ModelError. Each tensor that opens is then read in full through the view's accessors, so
// an offset the validation let through that points outside the mapping is an ASan report.
#include <cstddef>
#include <cstdint>

#include "check.h"
#include "embed/safetensors.h"
#include "ragperf/error.h"
#include "scratch_dir.h"

using ragperf::embed::SafetensorsFile;
using ragperf::embed::TensorView;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ragperf::fuzz::ScratchDir dir("safetensors");
  const auto path = dir.write("model.safetensors", data, size);
  try {
    const SafetensorsFile file(path);
    for (const auto& [name, tensor] : file.tensors()) {
      RAGPERF_FUZZ_CHECK(file.find(name) == &tensor);
      if (!ragperf::embed::is_weight_dtype(tensor.dtype)) continue;
      const TensorView& same = file.require(name, tensor.shape);
      RAGPERF_FUZZ_CHECK(&same == &tensor);
      const std::vector<float> values = tensor.to_f32();
      RAGPERF_FUZZ_CHECK(values.size() == tensor.n_elements);
      if (tensor.n_elements > 0) {
        float last = 0;
        tensor.copy_f32(tensor.n_elements - 1, 1, &last);
        const float at = tensor.at(tensor.n_elements - 1);
        RAGPERF_FUZZ_CHECK((last != last && at != at) || last == at);  // NaN stays NaN
      }
    }
  } catch (const ragperf::ModelError&) {
    // A refused file: the reader's documented answer.
  }
  return 0;
}
