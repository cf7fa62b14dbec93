#include "embed/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "ragperf/error.h"

namespace ragperf::embed {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw ModelError(path.string() + ": " + what +
                   "; re-export or re-download the model (safetensors format)");
}

}  // namespace

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeInfo& info_of(DType dtype) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.dtype == dtype) return d;
  }
  RAGPERF_ASSERT(false);
  return kDTypes[0];
}

}  // namespace

const char* to_string(DType dtype) {
  return info_of(dtype).name;
}

size_t dtype_size(DType dtype) {
  return info_of(dtype).size;
}

bool is_weight_dtype(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float TensorView::at(size_t i) const {
  float f = 0;
  copy_f32(i, 1, &f);
  return f;
}

void TensorView::copy_f32(size_t first, size_t n, float* out) const {
  RAGPERF_ASSERT(first + n <= n_elements && is_weight_dtype(dtype));
  // An empty tensor (a 0 in its shape) has nothing to copy, and `out` may then be null (an empty
  // vector's data()), which memcpy must not get (found by fuzz/safetensors.cpp).
  if (n == 0) return;
  if (dtype == DType::kF32) {
    std::memcpy(out, data + first * 4, n * 4);
    return;
  }
  const std::byte* p = data + first * 2;
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    out[i] = dtype == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
}

std::vector<float> TensorView::to_f32() const {
  std::vector<float> v(n_elements);
  copy_f32(0, n_elements, v.data());
  return v;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer before the regular-file
  // check below refuses it. It changes nothing for a regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    fail(path, "file is " + std::to_string(size_) + " bytes, too short for a safetensors header");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    fail(path, std::string("cannot mmap: ") + std::strerror(errno));
  }
  try {
    const auto* base = static_cast<const std::byte*>(map_);
    uint64_t header_len = 0;
    std::memcpy(&header_len, base, 8);  // little-endian hosts only (x86-64, aarch64)
    if (header_len > size_ - 8) {
      fail(path, "header length " + std::to_string(header_len) + " exceeds the file size " +
                     std::to_string(size_));
    }
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(base + 8),
                                     reinterpret_cast<const char*>(base + 8 + header_len));
    } catch (const nlohmann::json::exception& e) {
      fail(path, std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) fail(path, "header is not a JSON object");
    const size_t data_start = 8 + header_len;
    const size_t data_size = size_ - data_start;
    std::vector<std::pair<size_t, size_t>> ranges;
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") continue;
      const std::string where = "tensor '" + name + "'";
      if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
          !info.contains("data_offsets")) {
        fail(path, where + " lacks dtype, shape or data_offsets");
      }
      TensorView t;
      t.name = name;
      const auto& dt = info["dtype"];
      std::string dts = dt.is_string() ? dt.get<std::string>() : dt.dump();
      const DTypeInfo* known = nullptr;
      for (const DTypeInfo& d : kDTypes) {
        if (dts == d.name) known = &d;
      }
      if (!known) {
        fail(path, where + " has dtype " + dts +
                       "; known: F32, F16, BF16 (weights), F64, I64, I32, I16, I8, U8, BOOL");
      }
      t.dtype = known->dtype;
      if (!info["shape"].is_array()) fail(path, where + " has a shape that is not a list");
      // Elements at most 2^40, checked before each multiplication so that no product wraps
      // around (a shape [2^32, 2^32] would otherwise count 0 elements).
      constexpr size_t kMaxElements = size_t{1} << 40;
      size_t n = 1;
      for (const auto& d : info["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0 ||
            d.get<int64_t>() > static_cast<int64_t>(kMaxElements)) {
          fail(path, where + " has an invalid shape " + info["shape"].dump());
        }
        const auto dim = static_cast<size_t>(d.get<int64_t>());
        t.shape.push_back(d.get<int64_t>());
        if (dim != 0 && n > kMaxElements / dim) {
          fail(path, where + " has shape " + info["shape"].dump() +
                         ", more than 2^40 elements: impossibly large");
        }
        n *= dim;
      }
      t.n_elements = n;
      const auto& off = info["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned()) {
        fail(path, where + " has invalid data_offsets " + off.dump());
      }
      size_t begin = off[0].get<size_t>();
      size_t end = off[1].get<size_t>();
      if (begin > end || end > data_size) {
        fail(path, where + " has data_offsets [" + std::to_string(begin) + ", " +
                       std::to_string(end) + "] outside the data section of " +
                       std::to_string(data_size) + " bytes (file truncated or header corrupt)");
      }
      if (end - begin != n * dtype_size(t.dtype)) {
        fail(path, where + " spans " + std::to_string(end - begin) + " bytes but shape " +
                       shape_text(t.shape) + " of " + dts + " needs " +
                       std::to_string(n * dtype_size(t.dtype)));
      }
      t.data = base + data_start + begin;
      ranges.emplace_back(begin, end);
      tensors_.emplace(name, std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      if (ranges[i].first < ranges[i - 1].second) {
        for (const auto& [name, t] : tensors_) {
          if (t.data == base + data_start + ranges[i].first) {
            fail(path, "tensor '" + name + "' overlaps another tensor's data");
          }
        }
        fail(path, "two tensors' data_offsets overlap");
      }
    }
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) it = tensors_.find("bert." + name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsFile::require(const std::string& name,
                                           const std::vector<int64_t>& shape) const {
  const TensorView* t = find(name);
  if (!t) fail(path_, "tensor '" + name + "' is missing");
  if (t->shape != shape) {
    fail(path_, "tensor '" + t->name + "' has shape " + shape_text(t->shape) +
                    " but config.json implies " + shape_text(shape));
  }
  if (!is_weight_dtype(t->dtype)) {
    fail(path_, "tensor '" + t->name + "' has dtype " + to_string(t->dtype) +
                    "; weights must be F32, F16 or BF16");
  }
  return *t;
}

}  // namespace ragperf::embed
