// `ragperf embed [--model M]`: JSON lines {"text": "..."} on stdin -> one line
// {"embedding": [floats], "tokens": n} per input, in order. Every input line is checked before
// anything is written, so bad input gives one error line and no output.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"

namespace {

struct Input {
  size_t line = 0;  // 1-based line number on stdin
  std::string text;
};

std::vector<Input> read_inputs(std::istream& in) {
  std::vector<Input> inputs;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw ragperf::InputError("stdin line " + std::to_string(number) +
                                ": not valid JSON (or not valid UTF-8): " + e.what() +
                                "; expected {\"text\": \"...\"}");
    }
    if (!j.is_object() || !j.contains("text")) {
      throw ragperf::InputError("stdin line " + std::to_string(number) +
                                ": missing \"text\"; expected {\"text\": \"...\"}");
    }
    if (!j["text"].is_string()) {
      throw ragperf::InputError("stdin line " + std::to_string(number) +
                                ": \"text\" is not a string");
    }
    inputs.push_back(Input{number, j["text"].get<std::string>()});
  }
  if (in.bad()) throw ragperf::InputError("stdin: read error");
  return inputs;
}

void append_float(std::string& out, float v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  out.append(buf, static_cast<size_t>(n));
}

void setup_embed(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "embed",
      "Embed JSON lines {\"text\": ...} from stdin; one {\"embedding\", \"tokens\"} line each");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "Model folder or hub id (default: EMBED_MODEL)");
  cmd->callback([model] {
    const ragperf::Settings settings = ragperf::load_settings();
    const std::string name = model->empty() ? settings.embed_model : *model;
    std::vector<Input> inputs = read_inputs(std::cin);
    auto embedder = ragperf::cli::load_model(name, settings);
    const size_t chunk = static_cast<size_t>(std::max(settings.embed_batch, 1));
    std::vector<std::string> lines;
    lines.reserve(inputs.size());
    for (size_t first = 0; first < inputs.size(); first += chunk) {
      const size_t n = std::min(chunk, inputs.size() - first);
      std::vector<std::string> texts;
      for (size_t i = 0; i < n; ++i) texts.push_back(std::move(inputs[first + i].text));
      std::vector<size_t> tokens;
      ragperf::EmbeddingMatrix m;
      try {
        m = embedder->embed(texts, &tokens);
      } catch (const ragperf::InputError&) {
        // Find the offending line for the message.
        for (size_t i = 0; i < n; ++i) {
          try {
            embedder->count_tokens(texts[i]);
          } catch (const ragperf::InputError& e) {
            throw ragperf::InputError("stdin line " + std::to_string(inputs[first + i].line) +
                                      ": " + e.what());
          }
        }
        throw;
      }
      for (size_t i = 0; i < n; ++i) {
        std::string out = "{\"embedding\": [";
        auto row = m.row(i);
        for (size_t c = 0; c < row.size(); ++c) {
          if (c) out += ", ";
          append_float(out, row[c]);
        }
        out += "], \"tokens\": " + std::to_string(tokens[i]) + "}\n";
        lines.push_back(std::move(out));
      }
    }
    for (const auto& l : lines) std::cout << l;
    std::cout.flush();
    if (!std::cout) throw ragperf::InputError("stdout: write failed");
  });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_embed);
