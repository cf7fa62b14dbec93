#include "embed/model_file.h"

#include <system_error>

#include "ragperf/error.h"

namespace ragperf::embed {

void require_regular_file(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (ec || st.type() == fs::file_type::not_found || st.type() == fs::file_type::regular) return;
  const char* kind = st.type() == fs::file_type::fifo        ? "a FIFO"
                     : st.type() == fs::file_type::directory ? "a folder"
                     : st.type() == fs::file_type::socket    ? "a socket"
                                                             : "a device or other special file";
  throw ModelError(file.string() + " is " + kind +
                   ", not a regular file; the model folder must hold the model's files themselves");
}

}  // namespace ragperf::embed
