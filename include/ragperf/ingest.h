// ragperf/ingest.h defines how files become stored chunks: readers for .txt, .md and .html, a
// token-aware chunker that respects headings and sentences, and the ingest pipeline that embeds
// chunks in batches and stores them, skipping files whose content is unchanged.
//
//   std::shared_ptr<ragperf::EmbeddingModel> model =
//       ragperf::load_embedding_model(settings.embed_model, settings);
//   std::shared_ptr<ragperf::VectorStore> store = ragperf::open_store(settings);
//   ragperf::IngestOptions options;
//   options.table = "docs";
//   options.prune = true;  // drop the chunks of files deleted from manual/ since the last run
//   ragperf::IngestPipeline pipeline(model, store, options);
//   ragperf::IngestStats stats = pipeline.run({"manual/", "notes.md"});
//   std::cerr << ragperf::format_summary(stats) << "\n";
//
// Pruning (IngestOptions::prune, on in `ragperf ingest` unless --no-prune): after a run that
// finished without an exception, every stored source of the table that lies under one of the
// given paths (inside a folder given, or equal to a file given; compared as absolute paths with
// their folders resolved, like source names) but was not visited by this run, because the file
// was deleted or renamed, is no longer a regular file, or is no longer ingestible (unsupported
// extension, now under a hidden '.' folder), or was found but refused (a symbolic link leading
// outside the folders given, without follow_symlinks), is removed with
// VectorStore::remove_source().
// Sources outside the given paths are never touched, so folders ingested into the same table
// separately keep their chunks. Files skipped for errors (unreadable, binary, invalid UTF-8)
// still exist and keep their chunks, as do files that exist but could not be listed (a folder
// without read permission), and so do files over max_file_bytes. A file is stored under the path
// where it was found (its folders resolved, its own name kept): a file reached through a symbolic
// link is stored under the link's name, so its chunks go when the link does.
//
// Readers accept UTF-8 text only (a leading BOM is dropped). Content with NUL bytes or invalid
// UTF-8 is binary: the pipeline skips such files and reports them with the reason.
//
// Monitor stages (IngestOptions::monitor): "chunk" once per file parsed and chunked (read and
// hash excluded), "embed" once per EmbeddingModel::embed() call (up to embed_batch chunks), "store"
// once per file written (VectorStore::replace_source, on the writer thread). A file that is
// unchanged, skipped or fails records nothing.
//
// Cache invalidation (IngestOptions::cache): after each file's replace_source() returns (the
// write committed), every cache entry whose scope reads the table is dropped, so a process that
// ingests and caches never serves an answer computed from the old rows. A write that throws also
// invalidates (it may have committed before the error reached us). Each source pruned
// invalidates the same way after its remove_source(). Runs that write nothing
// (every file unchanged) leave the cache alone. A query that read the old rows before a write
// committed must not store its answer after that write's invalidation: queries that run during
// ingests store with SemanticCache::store_if_current(epoch taken before the read, ...), which
// refuses such answers.
//
//   ragperf::PerformanceMonitor monitor;
//   ragperf::SemanticCache cache;
//   options.monitor = &monitor;
//   options.cache = &cache;        // entries with "docs" in their scope go after each write
//
// Thread-safety: readers and Chunker::chunk() are pure and may run on any thread; an
// IngestPipeline runs one ingest at a time (not thread-safe).
// Ownership: an IngestPipeline shares ownership of its model and store; the monitor and the cache
// (IngestOptions) are not owned.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ragperf/vector_store.h"

namespace ragperf {

class EmbeddingModel;
class PerformanceMonitor;
class SemanticCache;

// ---------------------------------------------------------------------------------------------
// Documents and readers

/// A run of text under one heading path. `text` holds paragraphs separated by a blank line
/// ("\n\n"); inside a paragraph, lines (code, table rows, list items) are separated by "\n".
/// Prose paragraphs are one line with whitespace collapsed.
struct DocumentSection {
  std::vector<std::string> headings;  // outermost first, e.g. {"Chapter 9", "9.1. Overview"}
  std::string text;
};

/// A file read into sections; text before the first heading has an empty heading path.
struct Document {
  std::filesystem::path path;
  std::string title;  // <title>, front-matter title, first "# " heading, else the file stem
  std::vector<DocumentSection> sections;
};

enum class DocumentFormat { kText, kMarkdown, kHtml };

/// The format for a file name by extension (case-insensitive): .txt/.text, .md/.markdown,
/// .html/.htm/.xhtml; nullopt for anything else.
std::optional<DocumentFormat> format_for_path(const std::filesystem::path& path);

/// Why `content` is not UTF-8 text ("contains NUL bytes (binary file)", "invalid UTF-8 at
/// byte 123"), or nullopt when it is.
std::optional<std::string> binary_content_reason(std::string_view content);

/// Parsers over UTF-8 content already in memory; `path` only names the document. They never
/// throw on malformed markup (HTML is parsed with recovery); they throw InputError when
/// binary_content_reason() finds the content is not text.
Document read_text(std::string_view content, const std::filesystem::path& path);
Document read_markdown(std::string_view content, const std::filesystem::path& path);
Document read_html(std::string_view content, const std::filesystem::path& path);

/// Dispatches to the reader for `format`.
Document parse_document(std::string_view content, const std::filesystem::path& path,
                        DocumentFormat format);

/// Reads a file and dispatches on its format. Throws InputError naming the file when it cannot
/// be read, its type is unsupported, or it is not UTF-8 text.
Document read_document(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// Chunking

/// Tokens a model sees for a text (EmbeddingModel::count_tokens, including any special tokens).
using TokenCounter = std::function<size_t(std::string_view)>;

struct ChunkerOptions {
  size_t max_tokens = 256;     // upper bound on count_tokens(chunk.text()), specials included
  size_t overlap_tokens = 32;  // trailing sentences of a chunk repeated at the next one's start
  bool prefix_heading = true;  // chunk.text() starts with the heading path line
};

/// One chunk of one section.
struct TextChunk {
  std::string heading;  // heading path joined with " > " (document title first); may be empty
  std::string body;     // whole sentences (or, for one over-long sentence, whole words)
  size_t n_tokens = 0;  // count_tokens(text())
  size_t index = 0;     // position in the document, from 0
  bool prefix_heading = true;

  /// What is embedded and stored: "heading\nbody" (or body alone).
  std::string text() const {
    return prefix_heading && !heading.empty() ? heading + "\n" + body : body;
  }
};

/// Splits documents into chunks of at most `max_tokens` tokens. Chunks never cross a section
/// (heading) boundary and never split a sentence, unless one sentence alone exceeds the limit:
/// it is then split between words (and a single over-long word between characters). Consecutive
/// chunks of a section share their boundary: the next chunk starts with the trailing whole
/// sentences of the previous one that fit in `overlap_tokens` (none when the last sentence is
/// longer than that). Every word of the input appears in some chunk; empty sections give none.
/// When the heading path is too long to leave half the budget for the body, it is kept in
/// TextChunk::heading but not prefixed to the text.
class Chunker {
 public:
  /// Throws ConfigError when max_tokens leaves no room for text (<= count("") + 4) or
  /// overlap_tokens >= max_tokens / 2.
  Chunker(TokenCounter count_tokens, ChunkerOptions options);

  std::vector<TextChunk> chunk(const Document& document) const;

  const ChunkerOptions& options() const { return options_; }

 private:
  TokenCounter count_;
  ChunkerOptions options_;
  size_t n_special_ = 0;  // count_("")
};

/// Sentences of one line of prose, each with its trailing punctuation; whitespace between them
/// is dropped. Ends at . ! ? (with closing quotes/brackets) followed by a space and a capital,
/// digit, quote or bracket; common abbreviations ("e.g.", "Dr.") and initials do not end one.
std::vector<std::string_view> split_sentences(std::string_view line);

// ---------------------------------------------------------------------------------------------
// Pipeline

struct IngestOptions {
  std::string table;                        // collection to write (created when missing)
  ChunkerOptions chunker{.max_tokens = 0};  // max_tokens 0: min(256, model.max_tokens())
  size_t embed_batch = 128;                 // EMBED_BATCH: texts per embed() call
  Metric metric = Metric::kCosine;          // used when the collection is created
  /// Optional, not owned, must outlive the run: receives "chunk", "embed", "store" (see the file
  /// comment; "store" is recorded on the writer thread).
  PerformanceMonitor* monitor = nullptr;
  /// Optional, not owned, must outlive the run: entries reading `table` are invalidated after
  /// each file written (see the file comment).
  SemanticCache* cache = nullptr;
  /// After a run that finished, remove the stored sources under the given paths that the run
  /// no longer found (see "Pruning" in the file comment). Off by default so that library
  /// callers keep what they stored; `ragperf ingest` turns it on (--no-prune turns it off).
  /// Needs VectorStore::list_sources().
  bool prune = false;
  /// Files found in a given folder through a symbolic link that leads outside every folder given
  /// are skipped (with the reason) unless this is set: ingesting a folder never reads what lies
  /// outside it. Files named directly are always read. `ragperf ingest --follow-symlinks`.
  bool follow_symlinks = false;
  /// Files larger than this are skipped with the reason (they stay stored if ingested before).
  /// Checked on the opened file and on what is read, so a file that grows while it is read, or
  /// states no size, is held to it too. `ragperf ingest --max-file-bytes`
  /// (RAGPERF_INGEST_MAX_FILE_BYTES); default 64 MiB. 0 is a ConfigError.
  uint64_t max_file_bytes = uint64_t{64} << 20;
  /// Give the table full-text search (VectorStore::enable_text_search: the migration of a table
  /// made before it, once) so that text and hybrid queries work on it; a store without full-text
  /// search is left as it is. `ragperf ingest --no-text-search` turns it off.
  bool text_search = true;
};

/// A file the pipeline did not ingest, and why.
struct SkippedFile {
  std::filesystem::path path;
  std::string reason;
};

struct IngestStats {
  size_t n_files_seen = 0;       // files found under the paths (every type)
  size_t n_files_ingested = 0;   // new or changed: their chunks were replaced
  size_t n_files_unchanged = 0;  // same content hash as stored: nothing written
  size_t n_files_skipped = 0;    // unsupported, unreadable, binary, too large or a link leading out
  size_t n_chunks = 0;           // chunks embedded and stored (during a run: embedded so far)
  size_t n_tokens = 0;           // tokens in those chunks
  double read_s = 0;             // read, hash, unchanged check, parse, chunk
  double embed_s = 0;            // EmbeddingModel::embed
  double store_s = 0;            // VectorStore::replace_source, on a writer thread (overlaps)
  double total_s = 0;
  std::vector<SkippedFile> skipped;
  size_t n_cache_invalidated = 0;   // entries dropped after writes and prunes (options.cache)
  bool prune_ran = false;           // IngestOptions::prune was on and the run finished
  size_t n_sources_pruned = 0;      // sources (files) removed by pruning
  size_t n_chunks_pruned = 0;       // chunks those sources had
  std::vector<std::string> pruned;  // the sources removed, sorted
  double prune_s = 0;               // listing and removing (part of total_s)

  double chunks_per_s() const { return total_s > 0 ? static_cast<double>(n_chunks) / total_s : 0; }
};

/// Observes a run (the console progress bar implements it). Called on the run's thread.
class IngestProgress {
 public:
  virtual ~IngestProgress() = default;
  virtual void on_start(size_t n_files) { (void)n_files; }
  /// After each file (ingested, unchanged or skipped); `stats` are the totals so far.
  virtual void on_file(const std::filesystem::path& path, const IngestStats& stats) {
    (void)path;
    (void)stats;
  }
  virtual void on_finish(const IngestStats& stats) { (void)stats; }
};

/// A progress bar (files, chunks, chunks/s, ETA) redrawn at most 10 times a second on `stream`
/// when it is a terminal, and erased by on_finish; otherwise (a log, a pipe) one plain line
/// "ingest: 117/1173 files, 980 chunks stored, 19 s so far, ETA 2:51" at every tenth of the files.
/// Callers print format_summary() after the run.
std::unique_ptr<IngestProgress> make_console_progress(std::FILE* stream);

/// "ingested 12 of 15 files (2 unchanged, 1 skipped): 340 chunks in 1.20 s (283 chunks/s;
/// embed 0.90 s, store 0.20 s, read 0.10 s)", followed by "; pruned 2 files (7 chunks)" when
/// pruning ran (IngestStats::prune_ran).
std::string format_summary(const IngestStats& stats);

/// The files under `paths` that the pipeline visits: each file given, and every regular file
/// below each folder (recursively; names starting with '.' skipped), in sorted order without
/// duplicates. Throws InputError naming a path that does not exist.
std::vector<std::filesystem::path> collect_files(std::span<const std::filesystem::path> paths);

/// Reads, chunks, embeds and stores files. Each file is one source in the store, identified by
/// the absolute path where it was found (its folders resolved, its own name kept even for a
/// symbolic link) and versioned by a content hash (SHA-256 of the
/// bytes plus the chunking parameters): an unchanged file is skipped, a changed one has all its
/// chunks replaced in one transaction (VectorStore::replace_source), a file that now yields no
/// chunks has its old chunks removed. Files deleted from disk keep their chunks unless
/// IngestOptions::prune is set (see "Pruning" in the file comment). Embedding is batched across
/// files (`embed_batch` chunks per call); one writer thread stores a batch while the next is read
/// and embedded.
class IngestPipeline {
 public:
  /// Shares ownership of `model` and `store`. Throws ConfigError when either is null, for an
  /// empty table name, embed_batch 0 or invalid chunker options; InputError for a table name
  /// that is not a valid identifier.
  IngestPipeline(std::shared_ptr<EmbeddingModel> model, std::shared_ptr<VectorStore> store,
                 IngestOptions options);

  /// Ingests every file collect_files(paths) finds, then prunes (IngestOptions::prune). Throws
  /// InputError for a missing path (before anything is written); model and store errors
  /// propagate (what was stored stays stored, and nothing is pruned).
  IngestStats run(std::span<const std::filesystem::path> paths, IngestProgress* progress = nullptr);
  IngestStats run(const std::vector<std::filesystem::path>& paths,
                  IngestProgress* progress = nullptr) {
    return run(std::span<const std::filesystem::path>(paths), progress);
  }

  const IngestOptions& options() const { return options_; }

 private:
  std::shared_ptr<EmbeddingModel> model_;
  std::shared_ptr<VectorStore> store_;
  IngestOptions options_;
};

}  // namespace ragperf
