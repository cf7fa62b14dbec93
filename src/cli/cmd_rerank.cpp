// `ragperf rerank --model M`: JSON lines {"query": "...", "passage": "..."} on stdin -> one line
// {"score": s, "logit": l} per input, in order, from a cross-encoder (ragperf/cross_encoder.h).
// Other tools drive this command, so its input and output stay exactly so. Every input line is
// checked before anything is written: bad input gives one error line naming it and no output.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "command.h"
#include "json_lines.h"
#include "ragperf/config.h"
#include "ragperf/cross_encoder.h"
#include "ragperf/error.h"
#include "ragperf/model_locator.h"

namespace {

constexpr std::string_view kExpected = R"({"query": "...", "passage": "..."})";

void append_float(std::string& out, float v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  out.append(buf, static_cast<size_t>(n));
}

void setup_rerank(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "rerank",
      "Score JSON lines {\"query\", \"passage\"} from stdin with a cross-encoder; one "
      "{\"score\", \"logit\"} line each, in order");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model,
                  "Cross-encoder folder or hub id (a BertForSequenceClassification with one label, "
                  "such as cross-encoder/ms-marco-MiniLM-L-6-v2)")
      ->required();
  auto batch = std::make_shared<size_t>(64);
  cmd->add_option("--batch", *batch, "Pairs scored together in one forward pass, at most (64)")
      ->check(CLI::Range(size_t{1}, size_t{4096}));
  cmd->callback([model, batch] {
    const ragperf::Settings settings = ragperf::load_settings();
    const std::vector<ragperf::cli::JsonLine> inputs =
        ragperf::cli::read_json_lines(std::cin, kExpected);
    std::vector<std::pair<std::string, std::string>> all_pairs;
    all_pairs.reserve(inputs.size());
    for (const auto& l : inputs) {
      all_pairs.emplace_back(ragperf::cli::string_field(l, "query", kExpected),
                             ragperf::cli::string_field(l, "passage", kExpected));
    }
    auto encoder = ragperf::CrossEncoder::load(ragperf::resolve_model(*model, settings));
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string out;
    for (size_t first = 0; first < inputs.size(); first += *batch) {
      const size_t n = std::min(*batch, inputs.size() - first);
      pairs.clear();
      for (size_t i = 0; i < n; ++i) pairs.push_back(std::move(all_pairs[first + i]));
      std::vector<ragperf::PairScore> scores;
      try {
        scores = encoder->score_pairs(pairs);
      } catch (const ragperf::InputError& e) {
        // "pair i: ..." names the pair within this batch: name its stdin line instead.
        const std::string what = e.what();
        size_t i = 0;
        if (what.rfind("pair ", 0) == 0) i = std::stoul(what.substr(5));
        throw ragperf::InputError("stdin line " + std::to_string(inputs[first + i].number) +
                                  what.substr(what.find(':')));
      }
      for (const ragperf::PairScore& s : scores) {
        out += "{\"score\": ";
        append_float(out, s.score);
        out += ", \"logit\": ";
        append_float(out, s.logit);
        out += "}\n";
      }
    }
    std::cout << out;
    std::cout.flush();
    if (!std::cout) throw ragperf::InputError("stdout: write failed");
  });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_rerank);
