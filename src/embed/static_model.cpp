// Static (word-vector) embedding models: GloVe/word2vec text and Model2Vec-style safetensors.
// See ragperf/static_model.h. A text is pre-tokenised with basic_tokenize (lower-cased,
// punctuation split; Model2Vec vocabularies add WordPiece), every known token's vector is
// summed with its weight (SIF a/(a+p(w)) for word-vector files, 1 for Model2Vec), the sum is
// L2-normalised. Tokens not in the vocabulary are skipped; a text with no known token embeds as
// the zero vector.
//
// Loading GloVe text is dominated by float parsing, so the parsed vocabulary and matrix are
// cached beside the file as `<file>.ragperf-cache` (rebuilt when the file's size or mtime
// change; skipped silently when the folder is read-only).
#include "ragperf/static_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "embed/json_file.h"
#include "embed/model_file.h"
#include "embed/safetensors.h"
#include "ragperf/error.h"
#include "ragperf/tokenizer.h"

namespace ragperf {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxTokens = 512;
constexpr char kCacheMagic[8] = {'R', 'P', 'S', 'T', 'A', 'T', '0', '1'};

std::string read_all(const fs::path& path) {
  embed::require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot read " + path.string() + ": check that it exists");
  std::string data;
  in.seekg(0, std::ios::end);
  data.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) throw ModelError("cannot read " + path.string() + ": read failed");
  return data;
}

/// FNV-1a over the file size and the first MiB: cheap, and changes with the weights.
std::string fingerprint(const fs::path& path) {
  embed::require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  uint64_t size = fs::file_size(path);
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(size >> (8 * i)));
  for (char c : head) mix(static_cast<unsigned char>(c));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 12);
}

/// Vocabulary + row-major [n_words, dim] matrix (+ per-word weights; empty: all 1).
struct Table {
  size_t dim = 0;
  std::vector<std::string> words;
  std::vector<float> data;
  std::vector<float> weights;
  std::unordered_map<std::string, uint32_t> index;

  void build_index() {
    index.reserve(words.size());
    for (size_t i = 0; i < words.size(); ++i) index.emplace(words[i], static_cast<uint32_t>(i));
  }
};

// ---- GloVe / word2vec text ---------------------------------------------------------------

/// SIF weights from the file order (most frequent word first): p(rank r) = 1 / (r * H_N), the
/// normalised Zipf law over N words (H_N the N-th harmonic number), weight a / (a + p).
std::vector<float> sif_weights(size_t n_words) {
  double harmonic = 0;
  for (size_t r = 1; r <= n_words; ++r) harmonic += 1.0 / static_cast<double>(r);
  std::vector<float> w(n_words);
  for (size_t r = 1; r <= n_words; ++r) {
    double p = 1.0 / (static_cast<double>(r) * harmonic);
    w[r - 1] = static_cast<float>(kSifA / (kSifA + p));
  }
  return w;
}

std::string where(const fs::path& file, size_t line) {
  return file.string() + ":" + std::to_string(line);
}

bool parse_size(std::string_view s, size_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

Table parse_text_vectors(const fs::path& file) {
  std::string text = read_all(file);
  Table t;
  size_t pos = 0, line_no = 0;
  std::vector<std::string_view> fields;
  size_t header_count = 0;
  bool have_header = false;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    fields.clear();
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      if (j > i) fields.emplace_back(line.data() + i, j - i);
      i = j;
    }
    if (t.dim == 0) {
      size_t n = 0, d = 0;
      if (fields.size() == 2 && parse_size(fields[0], &n) && parse_size(fields[1], &d)) {
        if (d == 0) throw ModelError(where(file, line_no) + ": header gives dimension 0");
        t.dim = d;
        header_count = n;
        have_header = true;
        t.words.reserve(n);
        t.data.reserve(n * d);
        continue;
      }
      if (fields.size() < 2) {
        throw ModelError(where(file, line_no) +
                         ": expected 'word v1 v2 ...' (GloVe/word2vec text format)");
      }
      t.dim = fields.size() - 1;
    }
    if (fields.size() < t.dim + 1) {
      throw ModelError(where(file, line_no) + ": expected a word and " + std::to_string(t.dim) +
                       " numbers, found " + std::to_string(fields.size() - 1) +
                       " numbers; the file is truncated or mixes dimensions");
    }
    // The last `dim` fields are the vector; anything before is the word (it may hold spaces).
    size_t first_num = fields.size() - t.dim;
    std::string word(fields[0]);
    for (size_t k = 1; k < first_num; ++k) {
      word += ' ';
      word += fields[k];
    }
    for (size_t k = first_num; k < fields.size(); ++k) {
      std::string_view f = fields[k];
      float v = 0;
      auto r = std::from_chars(f.data(), f.data() + f.size(), v);
      if (r.ec != std::errc() || r.ptr != f.data() + f.size() || !std::isfinite(v)) {
        throw ModelError(where(file, line_no) + ": value " + std::to_string(k - first_num + 1) +
                         " '" + std::string(f.substr(0, 40)) + "' is not a finite number");
      }
      t.data.push_back(v);
    }
    t.words.push_back(std::move(word));
  }
  if (t.words.empty()) throw ModelError(file.string() + ": no word vectors found");
  if (have_header && header_count != t.words.size()) {
    throw ModelError(file.string() + ": the header announces " + std::to_string(header_count) +
                     " words but the file holds " + std::to_string(t.words.size()) +
                     "; the file is truncated or the header is wrong");
  }
  return t;
}

fs::path cache_path(const fs::path& file) {
  fs::path p = file;
  p += ".ragperf-cache";
  return p;
}

struct CacheHeader {
  char magic[8];
  uint64_t source_size;
  int64_t source_mtime;
  uint64_t n_words;
  uint64_t dim;
  uint64_t words_bytes;
};

int64_t mtime_of(const fs::path& file) {
  return static_cast<int64_t>(fs::last_write_time(file).time_since_epoch().count());
}

bool load_cache(const fs::path& file, Table* t) {
  std::error_code ec;
  fs::path cp = cache_path(file);
  if (!fs::exists(cp, ec)) return false;
  std::ifstream in(cp, std::ios::binary);
  CacheHeader h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) return false;
  if (std::memcmp(h.magic, kCacheMagic, sizeof h.magic) != 0 ||
      h.source_size != fs::file_size(file) || h.source_mtime != mtime_of(file) || h.dim == 0 ||
      h.n_words == 0) {
    return false;
  }
  uint64_t expect = sizeof h + h.words_bytes + h.n_words * h.dim * sizeof(float);
  if (fs::file_size(cp, ec) != expect) return false;
  std::string blob(h.words_bytes, '\0');
  if (!in.read(blob.data(), static_cast<std::streamsize>(blob.size()))) return false;
  t->dim = h.dim;
  t->words.clear();
  t->words.reserve(h.n_words);
  size_t p = 0;
  while (p < blob.size()) {
    size_t z = blob.find('\0', p);
    if (z == std::string::npos) return false;
    t->words.emplace_back(blob.data() + p, z - p);
    p = z + 1;
  }
  if (t->words.size() != h.n_words) return false;
  t->data.resize(h.n_words * h.dim);
  if (!in.read(reinterpret_cast<char*>(t->data.data()),
               static_cast<std::streamsize>(t->data.size() * sizeof(float)))) {
    return false;
  }
  return true;
}

void write_cache(const fs::path& file, const Table& t) {
  std::string blob;
  for (const auto& w : t.words) {
    blob += w;
    blob += '\0';
  }
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.source_size = fs::file_size(file);
  h.source_mtime = mtime_of(file);
  h.n_words = t.words.size();
  h.dim = t.dim;
  h.words_bytes = blob.size();
  fs::path cp = cache_path(file);
  fs::path tmp = cp;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;  // read-only folder: no cache, the next load parses again
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(blob.data(), static_cast<std::streamsize>(blob.size()));
    out.write(reinterpret_cast<const char*>(t.data.data()),
              static_cast<std::streamsize>(t.data.size() * sizeof(float)));
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, cp, ec);
  if (ec) fs::remove(tmp, ec);
}

// ---- Model2Vec --------------------------------------------------------------------------

std::vector<std::string> read_vocab(const fs::path& folder) {
  std::vector<std::string> vocab;
  if (fs::exists(folder / "tokenizer.json")) {
    fs::path f = folder / "tokenizer.json";
    const nlohmann::json j = embed::read_json_file(f);
    const auto& model = j.value("model", nlohmann::json::object());
    std::string type = model.value("type", "");
    if (type != "WordPiece" || !model.contains("vocab") || !model["vocab"].is_object()) {
      throw ModelError(f.string() + ": tokenizer model type '" + type +
                       "' is not supported for static models; a WordPiece vocabulary is needed");
    }
    for (const auto& [token, id] : model["vocab"].items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0) {
        throw ModelError(f.string() + ": vocabulary id of '" + token + "' is not an integer");
      }
      auto i = id.get<size_t>();
      if (i >= vocab.size()) vocab.resize(i + 1);
      vocab[i] = token;
    }
    return vocab;
  }
  fs::path f = folder / "vocab.txt";
  embed::require_regular_file(f);
  std::ifstream in(f);
  if (!in) {
    throw ModelError(folder.string() +
                     " holds model.safetensors but neither tokenizer.json nor vocab.txt");
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  return vocab;
}

bool is_model2vec_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::exists(folder / "model.safetensors", ec)) return false;
  try {
    embed::SafetensorsFile f(folder / "model.safetensors");
    const embed::TensorView* t = f.find("embeddings");
    return t && t->shape.size() == 2 && f.tensors().size() <= 2;
  } catch (const Error&) {
    return false;
  }
}

// ---- the model ---------------------------------------------------------------------------

class StaticModel : public EmbeddingModel {
 public:
  StaticModel(Table table, std::string id, bool wordpiece)
      : table_(std::move(table)), id_(std::move(id)), wordpiece_(wordpiece) {
    options_.lowercase = true;
    options_.strip_accents = wordpiece_;  // GloVe keeps accents; BERT-uncased vocabularies strip
  }

  size_t dim() const override { return table_.dim; }
  std::string id() const override { return id_; }
  size_t max_tokens() const override { return kMaxTokens; }
  bool normalizes() const override { return true; }

  size_t count_tokens(std::string_view text) const override {
    std::vector<uint32_t> ids;
    size_t n = 0;
    tokens(text, &ids, &n);
    return n;
  }

  EmbeddingMatrix embed(std::span<const std::string> texts,
                        std::vector<size_t>* token_counts) override {
    EmbeddingMatrix m;
    m.rows = texts.size();
    m.dim = table_.dim;
    m.data.assign(m.rows * m.dim, 0.0f);
    if (token_counts) token_counts->assign(texts.size(), 0);
    std::vector<uint32_t> ids;
    std::vector<double> acc(table_.dim);
    for (size_t r = 0; r < texts.size(); ++r) {
      size_t n = 0;
      try {
        tokens(texts[r], &ids, &n);
      } catch (const InputError& e) {
        throw InputError("text " + std::to_string(r) + ": " + e.what());
      }
      if (token_counts) (*token_counts)[r] = std::min(n, kMaxTokens);
      if (ids.empty()) continue;  // nothing known: the zero vector
      std::fill(acc.begin(), acc.end(), 0.0);
      for (uint32_t id : ids) {
        const float* v = table_.data.data() + size_t{id} * table_.dim;
        const double w = table_.weights.empty() ? 1.0 : double{table_.weights[id]};
        for (size_t j = 0; j < table_.dim; ++j) acc[j] += w * v[j];
      }
      double norm = 0;
      for (double x : acc) norm += x * x;
      norm = std::sqrt(norm);
      if (norm == 0) continue;
      float* out = m.data.data() + r * m.dim;
      for (size_t j = 0; j < table_.dim; ++j) out[j] = static_cast<float>(acc[j] / norm);
    }
    return m;
  }

 private:
  /// Known token ids of `text` (first kMaxTokens tokens) and the number of tokens seen.
  void tokens(std::string_view text, std::vector<uint32_t>* ids, size_t* n_tokens) const {
    ids->clear();
    size_t n = 0;
    for (const std::string& word : basic_tokenize(text, options_)) {
      if (!wordpiece_) {
        if (n++ >= kMaxTokens) continue;
        auto it = table_.index.find(word);
        if (it != table_.index.end()) ids->push_back(it->second);
        continue;
      }
      // Greedy longest-match WordPiece with "##" continuations; an unmatched word is skipped.
      std::vector<uint32_t> pieces;
      size_t start = 0;
      bool ok = word.size() <= 100;
      while (ok && start < word.size()) {
        size_t end = word.size();
        bool found = false;
        while (end > start) {
          std::string piece = start > 0 ? "##" : "";
          piece.append(word, start, end - start);
          auto it = table_.index.find(piece);
          if (it != table_.index.end()) {
            pieces.push_back(it->second);
            found = true;
            break;
          }
          --end;
        }
        if (!found) ok = false;
        start = end;
      }
      size_t count = ok ? pieces.size() : 1;
      for (size_t k = 0; k < count; ++k, ++n) {
        if (n < kMaxTokens && ok) ids->push_back(pieces[k]);
      }
    }
    *n_tokens = n;
  }

  Table table_;
  std::string id_;
  bool wordpiece_;
  TokenizerOptions options_;
};

/// The vectors file for a path: the file itself, or `vectors.txt` (or the one *.txt / *.vec
/// file) inside a folder; empty when there is none.
fs::path vectors_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    auto ext = path.extension().string();
    if (ext == ".txt" || ext == ".vec") return path;
    return {};
  }
  if (!fs::is_directory(path, ec)) return {};
  for (const char* name : {"vectors.txt", "vectors.vec"}) {
    if (fs::is_regular_file(path / name, ec)) return path / name;
  }
  if (fs::exists(path / "config.json", ec) || fs::exists(path / "vocab.txt", ec)) return {};
  fs::path found;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".txt" || ext == ".vec") &&
        e.path().filename().string().find("README") == std::string::npos) {
      if (!found.empty()) return {};  // ambiguous
      found = e.path();
    }
  }
  return found;
}

std::string model_name(const fs::path& path, const fs::path& file) {
  fs::path p = fs::absolute(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (fs::is_directory(p)) return p.filename().string();
  // A file: its stem, or its folder's name for a generic "vectors.txt".
  if (file.stem() == "vectors") return p.parent_path().filename().string();
  return file.stem().string();
}

}  // namespace

bool is_static_model(const std::filesystem::path& path) {
  if (!vectors_file(path).empty()) return true;
  std::error_code ec;
  return fs::is_directory(path, ec) && is_model2vec_folder(path);
}

std::unique_ptr<EmbeddingModel> load_static_model(const std::filesystem::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw ModelError("static model " + path.string() +
                     " does not exist; give a GloVe/word2vec text file (.txt/.vec) or a Model2Vec "
                     "folder");
  }
  fs::path file = vectors_file(path);
  if (!file.empty()) {
    Table t;
    if (!load_cache(file, &t)) {
      t = parse_text_vectors(file);
      write_cache(file, t);
    }
    t.build_index();
    t.weights = sif_weights(t.words.size());
    // The weighting scheme is part of the id: vectors of another scheme are never mixed.
    std::string id = "static:" + model_name(path, file) + "@" + fingerprint(file) + "-sif1";
    return std::make_unique<StaticModel>(std::move(t), std::move(id), false);
  }
  if (fs::is_directory(path, ec) && fs::exists(path / "model.safetensors", ec)) {
    fs::path st_file = path / "model.safetensors";
    embed::SafetensorsFile st(st_file);
    const embed::TensorView* emb = st.find("embeddings");
    if (!emb || emb->shape.size() != 2 || emb->shape[0] <= 0 || emb->shape[1] <= 0 ||
        !embed::is_weight_dtype(emb->dtype)) {
      throw ModelError(st_file.string() +
                       ": a static model needs one 2-D F32/F16/BF16 tensor named 'embeddings' "
                       "[vocab, dim]");
    }
    Table t;
    t.dim = static_cast<size_t>(emb->shape[1]);
    t.words = read_vocab(path);
    size_t rows = static_cast<size_t>(emb->shape[0]);
    if (t.words.size() != rows) {
      throw ModelError(st_file.string() + ": 'embeddings' has " + std::to_string(rows) +
                       " rows but the vocabulary has " + std::to_string(t.words.size()) +
                       " tokens; tokenizer and weights do not belong together");
    }
    t.data = emb->to_f32();
    for (size_t i = 0; i < t.data.size(); ++i) {
      if (!std::isfinite(t.data[i])) {
        throw ModelError(st_file.string() + ": 'embeddings' row " + std::to_string(i / t.dim) +
                         " holds a non-finite value");
      }
    }
    t.build_index();
    std::string id = "static:" + model_name(path, st_file) + "@" + fingerprint(st_file);
    return std::make_unique<StaticModel>(std::move(t), std::move(id), true);
  }
  throw ModelError(path.string() +
                   " is not a static model: expected a GloVe/word2vec text file (.txt/.vec), a "
                   "folder with vectors.txt, or a folder with model.safetensors ('embeddings') "
                   "and tokenizer.json/vocab.txt");
}

}  // namespace ragperf
