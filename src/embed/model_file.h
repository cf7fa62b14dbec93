// embed/model_file.h: the check every reader of a model folder's files makes before opening one.
// A FIFO (or a device) with a model file's name would make the open or the read wait for a
// writer without end; it is refused with a ModelError naming the file instead.
//
//   embed::require_regular_file(folder / "vocab.txt");  // then open and read it
//   std::ifstream in(folder / "vocab.txt", std::ios::binary);
//
// model.safetensors is opened non-blocking and checked on the open descriptor (safetensors.cpp).
// Thread-safety: reentrant.
#pragma once

#include <filesystem>

namespace ragperf::embed {

/// Throws ModelError when `file` exists (symbolic links followed) and is not a regular file. A
/// missing or unreadable file passes: the caller's open reports it.
void require_regular_file(const std::filesystem::path& file);

}  // namespace ragperf::embed
