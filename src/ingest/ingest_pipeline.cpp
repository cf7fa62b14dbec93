// IngestPipeline: files -> (unchanged? skip) -> document -> chunks -> batched embeddings ->
// one replace_source() per file, on the StoreWriter thread (storing overlaps the next batch);
// then, when IngestOptions::prune is set, the stored sources under the roots that vanished go.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "base/sha256.h"
#include "ragperf/embedding_model.h"
#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "ragperf/monitor.h"
#include "source_pruner.h"
#include "store_writer.h"

namespace ragperf {
namespace fs = std::filesystem;
namespace {

// Bump when a reader or the chunker changes what a file turns into: every file re-ingests.
constexpr int kPipelineVersion = 1;
constexpr size_t kDefaultChunkTokens = 256;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

constexpr const char* kNotRegularFile = "not a regular file";

// Reads a regular file of at most `max_bytes` bytes; nullopt with `reason` set when it cannot.
// The checks are made again on the opened file (opened non-blocking, so a FIFO swapped in never
// blocks), and the read stops one byte past the limit, so a file that grows while it is read, or
// states no size (procfs), is refused too.
std::optional<std::string> read_bytes(const fs::path& path, uint64_t max_bytes,
                                      std::string* reason) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {  // devices are never opened (an open can act on one)
    *reason = kNotRegularFile;
    return std::nullopt;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *reason =
        errno == ENOENT ? kNotRegularFile : std::string("cannot open: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *reason = kNotRegularFile;
    return std::nullopt;
  }
  const std::string limit = "the per-file limit of " + std::to_string(max_bytes) +
                            " bytes (raise it with --max-file-bytes)";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    *reason = std::to_string(st.st_size) + " bytes, over " + limit;
    return std::nullopt;
  }
  // One byte more than the size, so the end of the file is seen without growing the buffer.
  std::string bytes(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t n = 0;
  while (true) {
    if (n == bytes.size()) {
      if (n > max_bytes) break;
      bytes.resize(std::min<uint64_t>(max_bytes + 1, std::max<uint64_t>(2 * n, 4096)));
    }
    const ssize_t got = ::read(fd, bytes.data() + n, bytes.size() - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      *reason = std::string("read error: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
  }
  if (n > max_bytes) {
    *reason = "longer than its stated size when read, over " + limit;
    return std::nullopt;
  }
  bytes.resize(n);
  return bytes;
}

// Whether `path` (canonical) lies in the folder `root` (canonical) or below it.
bool inside(const fs::path& root, const fs::path& path) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

// Given a file found in one of the folders given: nullopt when it may be read, else why not (a
// symbolic link somewhere on its way that leads outside every folder given).
std::optional<std::string> escapes_roots(const fs::path& file, std::span<const fs::path> roots,
                                         std::span<const fs::path> named_files) {
  if (std::find(named_files.begin(), named_files.end(), file) != named_files.end()) {
    return std::nullopt;  // named directly: the caller asked for this very file
  }
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(file, ec);
  if (ec) return std::nullopt;  // read_bytes() reports what is wrong with it
  for (const fs::path& root : roots) {
    if (inside(root, real)) return std::nullopt;
  }
  return "a symbolic link to " + real.string() +
         ", outside the folders given; skipped (pass --follow-symlinks to ingest it)";
}

ChunkerOptions resolve(ChunkerOptions o, const EmbeddingModel& model) {
  if (o.max_tokens == 0) o.max_tokens = std::min(kDefaultChunkTokens, model.max_tokens());
  return o;
}

}  // namespace

IngestPipeline::IngestPipeline(std::shared_ptr<EmbeddingModel> model,
                               std::shared_ptr<VectorStore> store, IngestOptions options)
    : model_(std::move(model)), store_(std::move(store)), options_(std::move(options)) {
  if (!model_)
    throw ConfigError("IngestPipeline needs an embedding model (got none: `model` is null)");
  if (!store_) throw ConfigError("IngestPipeline needs a vector store (got none: `store` is null)");
  if (options_.table.empty()) throw ConfigError("ingest: no table given; pass --table NAME");
  validate_identifier(options_.table, "table");
  if (options_.embed_batch == 0) throw ConfigError("EMBED_BATCH=0: use a batch size of 1 or more");
  if (options_.max_file_bytes == 0) {
    throw ConfigError("ingest max_file_bytes=0: allow at least 1 byte per file");
  }
  options_.chunker = resolve(options_.chunker, *model_);
  Chunker check([this](std::string_view t) { return model_->count_tokens(t); }, options_.chunker);
}

IngestStats IngestPipeline::run(std::span<const fs::path> paths, IngestProgress* progress) {
  const auto t_start = Clock::now();
  IngestStats stats;
  std::vector<fs::path> files = collect_files(paths);
  // The folders given, canonical, for the symlink rule; files named directly are always read.
  std::vector<fs::path> roots;
  std::vector<fs::path> named_files;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      roots.push_back(ingest::root_name(p));
    } else {
      named_files.push_back(p.lexically_normal());
    }
  }
  const std::string& table = options_.table;
  store_->ensure_collection(table, model_->dim(), options_.metric, model_->id());
  if (options_.text_search) {
    try {
      store_->enable_text_search(table);  // a no-op once the table has it
    } catch (const UnavailableError&) {
      // A store without full-text search: vector search only.
    }
  }
  Chunker chunker([this](std::string_view t) { return model_->count_tokens(t); }, options_.chunker);
  const ChunkerOptions& co = chunker.options();
  const std::string hash_suffix =
      ";chunk=" + std::to_string(co.max_tokens) + "/" + std::to_string(co.overlap_tokens) + "/" +
      (co.prefix_heading ? "h" : "-") + ";v=" + std::to_string(kPipelineVersion);

  struct Pending {
    std::string source;
    std::string hash;
    std::string title;
    std::vector<TextChunk> chunks;
  };
  // Sources that keep their chunks when pruning: files ingested, unchanged, or skipped for an
  // error (they still exist). Files of an unsupported type or no longer regular are not in it.
  std::unordered_set<std::string> kept;
  // Sources found but refused by the run's rules (a symbolic link leading out of the folders
  // given): pruned like vanished files, so chunks stored with follow_symlinks go without it.
  std::unordered_set<std::string> refused;
  std::vector<Pending> pending;
  size_t n_pending_chunks = 0;
  PerformanceMonitor* const monitor = options_.monitor;
  ingest::StoreWriter writer(*store_, table, {.monitor = monitor, .cache = options_.cache});

  auto flush = [&] {
    std::vector<std::string> texts;
    texts.reserve(n_pending_chunks);
    for (const auto& p : pending) {
      for (const auto& c : p.chunks) texts.push_back(c.text());
    }
    std::vector<float> vectors;
    const size_t dim = model_->dim();
    vectors.reserve(texts.size() * dim);
    auto t_embed = Clock::now();
    for (size_t b = 0; b < texts.size(); b += options_.embed_batch) {
      size_t n = std::min(options_.embed_batch, texts.size() - b);
      const auto t_call = monitor ? Clock::now() : Clock::time_point{};
      EmbeddingMatrix m = model_->embed(std::span<const std::string>(texts).subspan(b, n));
      if (monitor) monitor->record("embed", seconds_since(t_call));
      RAGPERF_ASSERT(m.rows == n && m.dim == dim);
      vectors.insert(vectors.end(), m.data.begin(), m.data.end());
    }
    stats.embed_s += seconds_since(t_embed);
    size_t row = 0;
    std::vector<ingest::SourceWrite> batch;
    batch.reserve(pending.size());
    for (auto& p : pending) {
      std::vector<Chunk> chunks;
      chunks.reserve(p.chunks.size());
      for (auto& c : p.chunks) {
        Chunk s;
        s.id = p.source + "#" + std::to_string(c.index);
        s.text = std::move(texts[row]);
        s.content_hash = base::sha256_hex(s.text);
        s.source = p.source;
        nlohmann::json meta = {{"source", p.source},
                               {"title", p.title},
                               {"heading", c.heading},
                               {"chunk", c.index},
                               {"tokens", c.n_tokens}};
        s.metadata_json = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        s.embedding.assign(vectors.begin() + static_cast<std::ptrdiff_t>(row * dim),
                           vectors.begin() + static_cast<std::ptrdiff_t>((row + 1) * dim));
        stats.n_tokens += c.n_tokens;
        chunks.push_back(std::move(s));
        ++row;
      }
      stats.n_chunks += chunks.size();
      ++stats.n_files_ingested;
      batch.push_back({std::move(p.source), std::move(p.hash), std::move(chunks)});
    }
    if (!batch.empty()) writer.submit(std::move(batch));
    pending.clear();
    n_pending_chunks = 0;
  };

  if (progress != nullptr) progress->on_start(files.size());
  for (const fs::path& file : files) {
    ++stats.n_files_seen;
    auto t_read = Clock::now();
    auto skip = [&](std::string reason) {
      ++stats.n_files_skipped;
      stats.skipped.push_back({file, std::move(reason)});
    };
    std::string reason;
    std::optional<std::string> escape;
    if (!options_.follow_symlinks) escape = escapes_roots(file, roots, named_files);
    if (escape) {
      if (options_.prune) refused.insert(ingest::source_name(file));
      skip(*escape);
    } else if (auto format = format_for_path(file); !format) {
      skip("unsupported file type '" + file.extension().string() +
           "' (supported: .txt, .md, .html)");
    } else if (auto bytes = read_bytes(file, options_.max_file_bytes, &reason); !bytes) {
      if (options_.prune && reason != kNotRegularFile) kept.insert(ingest::source_name(file));
      skip(reason);
    } else if (auto why = binary_content_reason(*bytes)) {
      if (options_.prune) kept.insert(ingest::source_name(file));
      skip(*why);
    } else {
      std::string source = ingest::source_name(file);
      if (options_.prune) kept.insert(source);
      std::string hash = "sha256:" + base::sha256_hex(*bytes) + hash_suffix;
      if (store_->source_hash(table, source) == hash) {
        ++stats.n_files_unchanged;
      } else {
        try {
          const auto t_chunk = monitor ? Clock::now() : Clock::time_point{};
          Document doc = parse_document(*bytes, file, *format);
          std::vector<TextChunk> chunks = chunker.chunk(doc);
          if (monitor) monitor->record("chunk", seconds_since(t_chunk));
          n_pending_chunks += chunks.size();
          pending.push_back({std::move(source), std::move(hash), doc.title, std::move(chunks)});
        } catch (const InputError& e) {
          skip(e.what());
        }
      }
    }
    stats.read_s += seconds_since(t_read);
    if (n_pending_chunks >= options_.embed_batch) flush();
    stats.total_s = seconds_since(t_start);
    if (progress != nullptr) progress->on_file(file, stats);
  }
  flush();
  stats.store_s = writer.finish();
  stats.n_cache_invalidated = writer.invalidated();
  if (options_.prune) {  // only after every write succeeded: a failed run never prunes
    const auto t_prune = Clock::now();
    ingest::PruneResult pruned =
        ingest::prune_sources(*store_, table, paths, kept, refused, options_.cache);
    stats.prune_ran = true;
    stats.n_sources_pruned = pruned.pruned.size();
    stats.n_chunks_pruned = pruned.n_chunks;
    stats.pruned = std::move(pruned.pruned);
    stats.n_cache_invalidated += pruned.n_invalidated;
    stats.prune_s = seconds_since(t_prune);
  }
  stats.total_s = seconds_since(t_start);
  if (progress != nullptr) progress->on_finish(stats);
  return stats;
}

}  // namespace ragperf
