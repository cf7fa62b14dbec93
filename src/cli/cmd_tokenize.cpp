// `ragperf tokenize [--model M]`: JSON lines {"text": "..."} on stdin -> one line
// {"ids": [ints]} per input, in order: the token ids sentence-transformers feeds the model,
// [CLS] ... [SEP], truncated to the folder's max_seq_length. Blank lines are skipped. Output
// streams (flushed whenever stdin has nothing more buffered, so a driver can talk to it line by
// line); a bad line flushes what was written and fails with one line naming the line number.
#include <utf8proc.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "ragperf/config.h"
#include "ragperf/error.h"
#include "ragperf/model_locator.h"
#include "ragperf/tokenizer.h"

namespace {

/// One line of text for an error message: control characters become spaces.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s;
}

[[noreturn]] void fail_line(size_t number, const std::string& what) {
  std::cout.flush();
  throw ragperf::InputError("stdin line " + std::to_string(number) + ": " + one_line(what));
}

/// Names the first invalid UTF-8 sequence of `line` (JSON would only say "ill-formed").
void check_utf8(const std::string& line, size_t number) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(line.data());
  size_t i = 0;
  while (i < line.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    auto len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(line.size() - i), &cp);
    if (len <= 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(p[i]));
      fail_line(number, "invalid UTF-8 at byte " + std::to_string(i) + " (" + hex +
                            "); input must be UTF-8 encoded");
    }
    i += static_cast<size_t>(len);
  }
}

/// The text of one input line; throws InputError naming the line.
std::string parse_line(const std::string& line, size_t number) {
  check_utf8(line, number);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    fail_line(number, std::string("not valid JSON (") + e.what() +
                          "); expected {\"text\": \"...\"} in UTF-8");
  }
  if (!j.is_object()) {
    fail_line(number,
              "expected a JSON object {\"text\": \"...\"}, got " + std::string(j.type_name()));
  }
  auto it = j.find("text");
  if (it == j.end()) fail_line(number, "missing \"text\"; expected {\"text\": \"...\"}");
  if (!it->is_string()) {
    fail_line(number, "\"text\" is " + std::string(it->type_name()) + ", not a string");
  }
  return it->get<std::string>();
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
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string text = parse_line(line, number);
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
