// `ragperf embed [--model M] [--truncate none|right|left]`: JSON lines {"text": "..."} on stdin
// -> one line {"embedding": [floats], "tokens": n} per input, in order ("truncated_from": the
// tokens before the cut, on a line --truncate cut). Every input line is checked before anything
// is written, so bad input (a text over the model's length without --truncate included) gives
// one error line and no output.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "json_lines.h"
#include "model_choice.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"

namespace {

constexpr std::string_view kExpected = R"({"text": "..."})";

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
  auto truncate = std::make_shared<std::string>("none");
  cmd->add_option("--truncate", *truncate,
                  "A text longer than the model's max_seq_length: none (default) refuses it with "
                  "the line, its tokens and the limit; right keeps its start; left keeps its end")
      ->check(CLI::IsMember({"none", "right", "left"}));
  cmd->callback([model, truncate] {
    const ragperf::Truncation truncation = *truncate == "right"  ? ragperf::Truncation::kRight
                                           : *truncate == "left" ? ragperf::Truncation::kLeft
                                                                 : ragperf::Truncation::kRefuse;
    const ragperf::Settings settings = ragperf::load_settings();
    const std::string name = model->empty() ? settings.embed_model : *model;
    std::vector<ragperf::cli::JsonLine> inputs = ragperf::cli::read_json_lines(std::cin, kExpected);
    std::vector<std::string> all_texts;
    all_texts.reserve(inputs.size());
    for (const auto& l : inputs)
      all_texts.push_back(ragperf::cli::string_field(l, "text", kExpected));
    auto embedder = ragperf::cli::load_model(name, settings);
    const size_t chunk = static_cast<size_t>(std::max(settings.embed_batch, 1));
    std::vector<std::string> lines;
    lines.reserve(inputs.size());
    for (size_t first = 0; first < inputs.size(); first += chunk) {
      const size_t n = std::min(chunk, inputs.size() - first);
      std::vector<ragperf::EmbedInput> texts;
      for (size_t i = 0; i < n; ++i) texts.emplace_back(std::move(all_texts[first + i]));
      ragperf::EmbedDetails details;
      ragperf::EmbeddingMatrix m;
      try {
        m = ragperf::embed_inputs(*embedder, texts, truncation, &details);
      } catch (const ragperf::InputTooLongError& e) {
        throw ragperf::InputError(
            "stdin line " + std::to_string(inputs[first + e.index()].number) + " has " +
            std::to_string(e.tokens()) + " tokens; the model takes at most " +
            std::to_string(e.limit()) +
            ": shorten or split it, or pass --truncate right (keep the start) or left");
      } catch (const ragperf::InputError& e) {
        // "text I: ..." names the batch's text; the user needs the line.
        const std::string msg = e.what();
        size_t i = 0;
        if (std::sscanf(msg.c_str(), "text %zu:", &i) == 1 && i < n) {
          throw ragperf::InputError("stdin line " + std::to_string(inputs[first + i].number) +
                                    msg.substr(msg.find(':')));
        }
        throw;
      }
      const std::vector<size_t>& tokens = details.tokens;
      for (size_t i = 0; i < n; ++i) {
        std::string out = "{\"embedding\": [";
        auto row = m.row(i);
        for (size_t c = 0; c < row.size(); ++c) {
          if (c) out += ", ";
          append_float(out, row[c]);
        }
        out += "], \"tokens\": " + std::to_string(tokens[i]);
        if (details.truncated_from[i]) {
          out += ", \"truncated_from\": " + std::to_string(details.truncated_from[i]);
        }
        out += "}\n";
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
