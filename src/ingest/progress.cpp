// The console progress bar and the one-line summary of an ingest run.
#include <unistd.h>

#include <fmt/format.h>
#include <chrono>

#include "ragperf/ingest.h"

namespace ragperf {
namespace {

using Clock = std::chrono::steady_clock;

std::string duration_text(double s) {
  if (!(s >= 0) || s > 359999) return "--:--";
  auto total = static_cast<long>(s + 0.5);
  if (total >= 3600)
    return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

class ConsoleProgress : public IngestProgress {
 public:
  explicit ConsoleProgress(std::FILE* stream)
      : stream_(stream), tty_(stream != nullptr && ::isatty(::fileno(stream)) == 1) {}

  void on_start(size_t n_files) override {
    n_files_ = n_files;
    start_ = Clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
  }

  void on_file(const std::filesystem::path& path, const IngestStats& stats) override {
    (void)path;
    if (stream_ == nullptr) return;
    if (!tty_) {
      plain_line(stats);
      return;
    }
    auto now = Clock::now();
    if (stats.n_files_seen < n_files_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    size_t done = stats.n_files_seen;
    constexpr size_t kWidth = 30;
    size_t filled = n_files_ == 0 ? kWidth : done * kWidth / n_files_;
    double eta =
        done == 0 ? -1 : elapsed / static_cast<double>(done) * static_cast<double>(n_files_ - done);
    double rate = elapsed > 0 ? static_cast<double>(stats.n_chunks) / elapsed : 0;
    std::string line = fmt::format("\r[{}{}] {}/{} files  {} chunks  {:.0f} chunks/s  ETA {}\x1b[K",
                                   std::string(filled, '#'), std::string(kWidth - filled, '.'),
                                   done, n_files_, stats.n_chunks, rate, duration_text(eta));
    std::fputs(line.c_str(), stream_);
    std::fflush(stream_);
  }

  void on_finish(const IngestStats& stats) override {
    (void)stats;
    if (!tty_) return;
    std::fputs("\r\x1b[K", stream_);  // the caller prints format_summary() in its place
    std::fflush(stream_);
  }

 private:
  // Not a terminal (a log, CI): one plain line at every tenth of the files, no redrawing.
  void plain_line(const IngestStats& stats) {
    if (n_files_ == 0) return;
    const size_t done = stats.n_files_seen;
    const size_t tenth = done * 10 / n_files_;
    if (tenth <= last_tenth_ || done < 1) return;
    last_tenth_ = tenth;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double eta = elapsed / static_cast<double>(done) * static_cast<double>(n_files_ - done);
    std::fputs(fmt::format("ingest: {}/{} files, {} chunks stored, {:.0f} s so far, ETA {}\n", done,
                           n_files_, stats.n_chunks, elapsed, duration_text(eta))
                   .c_str(),
               stream_);
    std::fflush(stream_);
  }

  std::FILE* stream_;
  size_t last_tenth_ = 0;
  bool tty_;
  size_t n_files_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace

std::unique_ptr<IngestProgress> make_console_progress(std::FILE* stream) {
  return std::make_unique<ConsoleProgress>(stream);
}

std::string format_summary(const IngestStats& s) {
  std::string line = fmt::format(
      "ingested {} of {} files ({} unchanged, {} skipped): {} chunks in {:.2f} s ({:.0f} "
      "chunks/s; embed {:.2f} s, store {:.2f} s, read {:.2f} s)",
      s.n_files_ingested, s.n_files_seen, s.n_files_unchanged, s.n_files_skipped, s.n_chunks,
      s.total_s, s.chunks_per_s(), s.embed_s, s.store_s, s.read_s);
  if (s.prune_ran) {
    line += fmt::format("; pruned {} {} ({} {})", s.n_sources_pruned,
                        s.n_sources_pruned == 1 ? "file" : "files", s.n_chunks_pruned,
                        s.n_chunks_pruned == 1 ? "chunk" : "chunks");
  }
  return line;
}

}  // namespace ragperf
