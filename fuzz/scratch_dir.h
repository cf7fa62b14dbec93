// fuzz/scratch_dir.h: a private folder for harnesses whose parser reads files (safetensors, model
// folders, .env): each input is written there before the parser opens it. In /dev/shm when it
// exists (memory, no disk writes per execution), else $TMPDIR; removed when the process ends.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace ragperf::fuzz {

class ScratchDir {
 public:
  explicit ScratchDir(std::string_view name) {
    namespace fs = std::filesystem;
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = base / ("ragperf-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  /// Writes `size` bytes to `relative` (folders made as needed); returns its path.
  std::filesystem::path write(const std::filesystem::path& relative, const uint8_t* data,
                              size_t size) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();  // the harness cannot work without its scratch folder
    return file;
  }

  /// Removes everything inside the folder (between inputs that write several files).
  void clear() const {
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      std::filesystem::remove_all(entry.path());
    }
  }

 private:
  std::filesystem::path path_;
};

}  // namespace ragperf::fuzz
