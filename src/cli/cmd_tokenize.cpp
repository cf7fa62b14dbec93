// `ragperf tokenize [--model M]`: JSON lines {"text": "..."} on stdin -> one line
// {"ids": [ints]} per input, in order: the token ids sentence-transformers feeds the model,
// [CLS] ... [SEP], truncated to the folder's max_seq_length. Blank lines are skipped. Output
// streams (flushed whenever stdin has nothing more buffered, so a driver can talk to it line by
// line); a bad line flushes what was written and fails with one line naming the line number.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "json_lines.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/model_locator.h"
#include "ragperf/tokenizer.h"

namespace {

constexpr std::string_view kExpected = R"({"text": "..."})";

[[noreturn]] void fail_line(size_t number, const std::string& what) {
  std::cout.flush();
  throw ragperf::InputError("stdin line " + std::to_string(number) + ": " + what);
}

void append_ids(std::string& out, const std::vector<int32_t>& ids) {
  out += "{\"ids\": [";
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ", ";
    auto r = std::to_chars(buf, buf + sizeof buf, ids[i]);
    out.append(buf, r.ptr);
  }
  out += "]}\n";
}

void run_tokenize(const std::string& model_arg) {
  const ragperf::Settings settings = ragperf::load_settings();
  const std::string name = model_arg.empty() ? settings.embed_model : model_arg;
  const std::filesystem::path folder = ragperf::resolve_model(name, settings);
  const auto tokenizer = ragperf::WordPieceTokenizer::from_folder(folder);
  const size_t max_length = ragperf::max_sequence_length(folder);

  std::ios::sync_with_stdio(false);
  std::string line;
  std::string out;
  size_t number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (ragperf::cli::blank_line(line)) continue;
    std::string text;
    try {
      const ragperf::cli::JsonLine parsed{number,
                                          ragperf::cli::parse_json_line(line, number, kExpected)};
      text = ragperf::cli::string_field(parsed, "text", kExpected);
    } catch (const ragperf::InputError&) {
      std::cout.flush();  // what was written before the bad line stays written
      throw;
    }
    std::vector<int32_t> ids;
    try {
      ids = tokenizer.encode(text, max_length);
    } catch (const ragperf::InputError& e) {
      fail_line(number, std::string("\"text\": ") + e.what());
    }
    out.clear();
    append_ids(out, ids);
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (std::cin.rdbuf()->in_avail() <= 0) std::cout.flush();
    if (!std::cout)
      throw ragperf::InputError("stdout: write failed after line " + std::to_string(number) +
                                " (closed pipe?)");
  }
  if (std::cin.bad()) fail_line(number + 1, "read error on stdin");
  std::cout.flush();
  if (!std::cout) throw ragperf::InputError("stdout: write failed (closed pipe?)");
}

void setup_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenize", "Token ids for JSON lines {\"text\": ...} on stdin; one {\"ids\": [...]} each");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model,
                  "Model folder or Hugging Face hub id (default: EMBED_MODEL); only the "
                  "tokenizer files are read");
  cmd->callback([model] { run_tokenize(*model); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_tokenize);
