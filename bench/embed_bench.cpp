// `ragperf bench embed [--model M] [--inputs FILE] [--json] [--out FILE]`: the guide's embedding
// rows measured here. Without --model it builds a random-weight folder of all-MiniLM-L6-v2's shape
// (6 layers, hidden 384, 12 heads, FFN 1536, F32 safetensors); --save-model keeps that folder so
// ../shared/peers/embed/run.sh can measure ONNX Runtime and PyTorch on the very same weights.
// --inputs takes the inputs.json that run.sh writes; when its peers.json lies beside it, rows
// against ONNX Runtime are added. ragperf's times include its own tokenization.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "command.h"
#include "ragperf/async_embedding.h"
#include "ragperf/config.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "random_bert.h"
#include "report.h"
#include "stats.h"
#include "word_texts.h"

namespace {

using ragperf::bench::median;
using ragperf::bench::percentile;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ragperf::InputError(p.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Texts of exactly n - 2 vocabulary words (whole words, so n tokens with [CLS]/[SEP]).
double peak_gflops(size_t threads, std::string* how) {
  double mhz = 0;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      mhz = std::max(mhz, std::stod(line.substr(line.find(':') + 1)));
    }
  }
  // The CPU's width, not the build's: oneDNN JIT-compiles AVX-512 GEMMs where the CPU has them
  // (the build itself may leave AVX-512 out). Two 512-bit FMA units is Zen 5 / server Intel; CPUs
  // that split 512-bit FMAs in halves reach half of this figure.
  const int width = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4;
  const int fma_units = 2;
  const double peak = static_cast<double>(threads) * mhz * 1e-3 * width * 2 * fma_units;
  *how = std::to_string(threads) + " cores x " + std::to_string(static_cast<int>(mhz)) + " MHz x " +
         std::to_string(width) + " floats x 2 (FMA) x " + std::to_string(fma_units) + " FMA units";
  return peak;
}

struct Options {
  std::string model;
  std::string inputs;
  std::string save_model;
  std::string out;
  bool json = false;
  int repeat = 0;
};

std::vector<std::string> texts_of(const nlohmann::json& j, const char* key,
                                  const std::string& file) {
  if (!j.contains(key) || !j[key].is_array() || j[key].empty()) {
    throw ragperf::InputError(file + ": key \"" + key +
                              "\" is missing or empty (expected the "
                              "inputs.json written by ../shared/peers/embed/run.sh)");
  }
  std::vector<std::string> out;
  for (const auto& e : j[key]) {
    if (e.is_string()) {
      out.push_back(e.get<std::string>());
    } else if (e.is_object() && e.contains("text") && e["text"].is_string()) {
      out.push_back(e["text"].get<std::string>());
    } else {
      throw ragperf::InputError(file + ": an entry of \"" + key + "\" has no \"text\" string");
    }
  }
  return out;
}

void run_bench(const Options& opt) {
  const ragperf::Settings settings = ragperf::load_settings();
  const fs::path shared = [] {
    const char* env = std::getenv("RAGPERF_SHARED_DIR");
    return fs::path(env && *env ? env : "/work/shared");
  }();
  fs::path model_dir = opt.model;
  fs::path temp_dir;
  if (opt.model.empty()) {
    model_dir = opt.save_model.empty() ? fs::temp_directory_path() /
                                             ("ragperf-bench-minilm-" + std::to_string(::getpid()))
                                       : fs::path(opt.save_model);
    if (opt.save_model.empty()) temp_dir = model_dir;
    std::cerr << "building a random-weight all-MiniLM-L6-v2-shaped model in " << model_dir << "\n";
    ragperf::bench::write_random_bert(model_dir, ragperf::bench::BertShape::all_minilm_l6_v2(),
                                      shared / "models" / "all-MiniLM-L6-v2-tokenizer-only");
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{temp_dir};

  auto model = ragperf::load_embedding_model(model_dir.string(), settings);

  std::vector<std::string> shorts, batch16, batch128, q10;
  nlohmann::json peers;
  if (!opt.inputs.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_text(opt.inputs));
    } catch (const nlohmann::json::exception& e) {
      throw ragperf::InputError(opt.inputs + ": not valid JSON (" + e.what() + ")");
    }
    shorts = texts_of(j, "short", opt.inputs);
    batch16 = texts_of(j, "batch16", opt.inputs);
    batch128 = texts_of(j, "batch128", opt.inputs);
    q10 = texts_of(j, "q10", opt.inputs);
    const fs::path peers_file = fs::path(opt.inputs).parent_path() / "peers.json";
    if (fs::exists(peers_file)) peers = nlohmann::json::parse(read_text(peers_file));
  } else {
    fs::path vocab = model_dir / "vocab.txt";
    shorts = ragperf::bench::word_texts(vocab, 20, 8, 12, 1);
    batch16 = ragperf::bench::word_texts(vocab, 32, 14, 18, 2);
    const size_t long_len = std::min<size_t>(128, model->max_tokens());
    batch128 = ragperf::bench::word_texts(vocab, 32, long_len - 8, long_len + 8, 3);
    q10 = ragperf::bench::word_texts(vocab, 10, 8, 12, 4);
  }

  // Config for FLOP counts.
  const auto config = nlohmann::json::parse(read_text(model_dir / "config.json"));
  const double h = config.value("hidden_size", 0.0), inter = config.value("intermediate_size", 0.0),
               layers = config.value("num_hidden_layers", 0.0);
  auto flops = [&](const std::vector<size_t>& lens) {
    double f = 0;
    for (size_t n : lens) {
      const double t = static_cast<double>(n);
      f += layers * (t * (8 * h * h + 4 * h * inter) + 4 * t * t * h);
    }
    return f;
  };

  auto embed = [&](const std::vector<std::string>& texts, std::vector<size_t>* tokens = nullptr) {
    return model->embed(texts, tokens);
  };
  const int reps = opt.repeat > 0 ? opt.repeat : 15;

  // Warm up (page in weights, spin up the pool).
  for (int i = 0; i < 3; ++i) embed(batch16);

  // Short queries: one text per call, cycled.
  auto short_latencies = [&](int calls) {
    std::vector<double> lat;
    for (int i = 0; i < calls; ++i) {
      std::vector<std::string> one{shorts[static_cast<size_t>(i) % shorts.size()]};
      auto t = Clock::now();
      embed(one);
      lat.push_back(seconds_since(t));
    }
    return lat;
  };
  // Baseline: the same engine with every product through OpenBLAS's sgemm.
  ragperf::set_gemm_backend(ragperf::GemmBackend::kOpenBlas);
  const double p50_blas = percentile(short_latencies(100), 50);
  // The weights through oneDNN's sgemm (it re-packs them on every call) vs packed once at load.
  ragperf::set_gemm_backend(ragperf::GemmBackend::kOneDnn);
  const double p50_onednn = percentile(short_latencies(100), 50);
  ragperf::set_gemm_backend(ragperf::GemmBackend::kAuto);
  const auto lat = short_latencies(300);
  const double p50 = percentile(lat, 50), p95 = percentile(lat, 95);

  auto batch_median = [&](const std::vector<std::string>& texts, std::vector<size_t>* tokens) {
    std::vector<double> ts;
    for (int r = 0; r < reps; ++r) {
      auto t = Clock::now();
      embed(texts, tokens);
      ts.push_back(seconds_since(t));
    }
    return percentile(ts, 50);
  };
  std::vector<size_t> tok16, tok128;
  const double b16 = batch_median(batch16, &tok16);
  const double b128 = batch_median(batch128, &tok128);
  ragperf::set_gemm_backend(ragperf::GemmBackend::kOpenBlas);
  const double b128_openblas = batch_median(batch128, nullptr);
  ragperf::set_gemm_backend(ragperf::GemmBackend::kOneDnn);
  const double b128_onednn = batch_median(batch128, nullptr);
  ragperf::set_gemm_backend(ragperf::GemmBackend::kAuto);

  std::vector<double> seq, bat;
  for (int r = 0; r < reps; ++r) {
    auto t = Clock::now();
    for (const auto& q : q10) embed(std::vector<std::string>{q});
    seq.push_back(seconds_since(t));
    t = Clock::now();
    embed(q10);
    bat.push_back(seconds_since(t));
  }
  const double q10_seq = percentile(seq, 50), q10_bat = percentile(bat, 50);

  // Many concurrent single-text callers through AsyncEmbedding (coalesced) vs one at a time.
  std::shared_ptr<ragperf::EmbeddingModel> shared_model(std::move(model));
  ragperf::AsyncEmbedding async(shared_model, "auto", static_cast<size_t>(settings.embed_batch));
  std::vector<std::string> many;
  for (size_t i = 0; i < 64; ++i) many.push_back(shorts[i % shorts.size()]);
  auto t0 = Clock::now();
  for (const auto& s : many) async.embed_single(s).get();
  const double one_by_one = seconds_since(t0);
  t0 = Clock::now();
  std::vector<std::future<std::vector<float>>> futures;
  for (const auto& s : many) futures.push_back(async.embed_single(s));
  for (auto& f : futures) f.get();
  const double coalesced = seconds_since(t0);

  const auto stats = async.get_stats();
  std::string peak_how;
  const double peak = peak_gflops(stats.threads, &peak_how);
  const double gflops = flops(tok128) / b128 * 1e-9;

  ragperf::bench::Report report("embed");
  report.add_row("single_embedding", p50_blas, p50,
                 "p50; baseline: every product through OpenBLAS sgemm");
  report.add_row(
      "single_embedding_onednn_vs_packed", p50_onednn, p50,
      ragperf::have_onednn()
          ? "p50; baseline: every product through oneDNN sgemm (weights re-packed per call)"
          : "built without oneDNN: baseline is OpenBLAS");
  report.add_row("embeddings_10_sequential_vs_batched", q10_seq, q10_bat,
                 "guide: batching 10 embeddings is faster than 10 calls");
  report.add_row("batch128_openblas_vs_onednn", b128_openblas, b128_onednn,
                 ragperf::have_onednn() ? "32 x ~128 tokens, whole GEMMs on one library"
                                        : "built without oneDNN: both OpenBLAS");
  report.add_row("async_64_single_callers_coalesced", one_by_one, coalesced,
                 "64 embed_single: awaited one by one vs all in flight");
  if (peers.contains("ort")) {
    const auto& ort = peers["ort"];
    report.add_row("short_p50_vs_onnxruntime", ort.value("short_p50_s", 0.0), p50,
                   "ONNX Runtime (peers.json) vs ragperf, same texts");
    report.add_row("batch16_vs_onnxruntime", 32.0 / ort.value("batch16_texts_per_s", 1.0), b16,
                   "32 x ~16 tokens");
    report.add_row("batch128_vs_onnxruntime", 32.0 / ort.value("batch128_texts_per_s", 1.0), b128,
                   "32 x ~128 tokens");
    report.add_row("q10_batch_vs_onnxruntime", ort.value("q10_batch_s", 0.0), q10_bat, "");
    report.set("peers", peers);
  }
  report.set("short_p50_s", p50);
  report.set("short_p95_s", p95);
  report.set("short_p50_onednn_s", p50_onednn);
  report.set("batch16_texts_per_s", static_cast<double>(batch16.size()) / b16);
  report.set("batch128_texts_per_s", static_cast<double>(batch128.size()) / b128);
  report.set("q10_sequential_s", q10_seq);
  report.set("q10_batch_s", q10_bat);
  report.set("gflops", gflops);
  report.set("peak_gflops", peak);
  report.set("threads", stats.threads);
  report.set("batch128_openblas_texts_per_s", static_cast<double>(batch128.size()) / b128_openblas);
  report.set("batch128_onednn_texts_per_s", static_cast<double>(batch128.size()) / b128_onednn);
  report.set("model", model_dir.string());
  report.note("short query p50 " + ragperf::bench::format_seconds(p50) + ", p95 " +
              ragperf::bench::format_seconds(p95) + " (" + std::to_string(lat.size()) + " calls)");
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "batch of %zu x ~16 tokens: %.1f texts/s; of %zu x ~128 tokens: %.1f texts/s",
                batch16.size(), static_cast<double>(batch16.size()) / b16, batch128.size(),
                static_cast<double>(batch128.size()) / b128);
  report.note(buf);
  std::snprintf(
      buf, sizeof buf,
      "achieved %.1f GFLOP/s on the ~128-token batch; fp32 peak %.1f GFLOP/s (%s): %.0f%%", gflops,
      peak, peak_how.c_str(), 100.0 * gflops / peak);
  report.note(buf);
  report.note("threads: " + std::to_string(stats.threads) +
              " (compute pool; BLAS single-threaded inside it)");
  report.note("model: " + model_dir.string() +
              (opt.model.empty() ? " (random weights, MiniLM shape)" : ""));
  report.emit(opt.json, opt.out);
}

void setup_embed_bench(CLI::App& app) {
  auto* cmd = ragperf::cli::bench_command(app).add_subcommand(
      "embed", "Embedding latency and throughput (the guide's rows), GFLOP/s vs the fp32 peak");
  auto opt = std::make_shared<Options>();
  cmd->add_option("--model", opt->model, "Model folder (default: a random MiniLM-shaped folder)");
  cmd->add_option("--inputs", opt->inputs, "inputs.json from ../shared/peers/embed/run.sh");
  cmd->add_flag("--json", opt->json, "Write the figures as JSON on stdout (table on stderr)");
  cmd->add_option("--out", opt->out, "Also write the JSON to this file");
  cmd->add_option("--save-model", opt->save_model,
                  "Without --model: write the random MiniLM-shaped folder here and keep it");
  cmd->add_option("--repeat", opt->repeat, "Repetitions per batch figure (median; default 15)");
  cmd->callback([opt] { run_bench(*opt); });
}

}  // namespace

RAGPERF_REGISTER_COMMAND(setup_embed_bench);
