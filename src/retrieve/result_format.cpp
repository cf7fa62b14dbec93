// RetrieveResult as JSON (for `ragperf query --json` and the HTTP API) and as text for people.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "base/printable.h"
#include "ragperf/retriever.h"

namespace ragperf {

namespace {

std::string format_ms(double s) {
  char buf[32];
  if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  } else if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  }
  return buf;
}

const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kModel:
      return "model";
    case ErrorCode::kInput:
      return "input";
    case ErrorCode::kConnection:
      return "connection";
    case ErrorCode::kQuery:
      return "query";
    case ErrorCode::kPoolExhausted:
      return "pool_exhausted";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kOverloaded:
      return "overloaded";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kCancelled:
      return "cancelled";
  }
  return "error";
}

}  // namespace

std::string make_snippet(std::string_view text, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      space = !out.empty();
      ++i;
      continue;
    }
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    len = std::min(len, text.size() - i);
    if (chars + (space ? 1 : 0) + 1 > max_chars) {
      out += "...";
      return out;
    }
    if (space) {
      out += ' ';
      ++chars;
      space = false;
    }
    out.append(text.substr(i, len));
    ++chars;
    i += len;
  }
  return out;
}

std::string to_json(const RetrieveResult& result, std::span<const std::string> table_names,
                    const std::string& query) {
  nlohmann::json j = nlohmann::json::object();
  if (!query.empty()) j["query"] = query;
  nlohmann::json hits = nlohmann::json::array();
  for (const RetrievedHit& h : result.hits) {
    nlohmann::json metadata = nlohmann::json::parse(h.metadata_json, nullptr, false);
    if (metadata.is_discarded()) metadata = h.metadata_json;
    hits.push_back({{"id", h.id},
                    {"text", h.text},
                    {"score", h.score},
                    {"similarity", h.similarity},
                    {"source_table", h.source_table},
                    {"source_tables", h.source_tables},
                    {"source", h.source},
                    {"metadata", metadata}});
    if (h.retrieval_score) hits.back()["retrieval_score"] = *h.retrieval_score;
    if (h.vector_rank) hits.back()["vector_rank"] = h.vector_rank;
    if (h.text_rank) hits.back()["text_rank"] = h.text_rank;
  }
  j["hits"] = std::move(hits);
  nlohmann::json tables = nlohmann::json::object();
  for (size_t i = 0; i < table_names.size() && i < result.timings.table_s.size(); ++i) {
    tables[table_names[i]] = result.timings.table_s[i];
  }
  j["timings"] = {{"embed_s", result.timings.embed_s},
                  {"query_s", result.timings.query_s},
                  {"merge_s", result.timings.merge_s},
                  {"total_s", result.timings.total_s},
                  {"tables", tables}};
  if (result.timings.rerank_s > 0) j["timings"]["rerank_s"] = result.timings.rerank_s;
  if (!result.failures.empty()) {
    nlohmann::json failures = nlohmann::json::array();
    for (const TableFailure& f : result.failures) {
      failures.push_back({{"table", f.table}, {"code", code_name(f.code)}, {"message", f.message}});
    }
    j["failures"] = std::move(failures);
  }
  return base::printable_json(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string format_result(const RetrieveResult& result, std::span<const std::string> table_names,
                          size_t snippet_chars) {
  std::string out;
  if (result.hits.empty()) out += "  (no hits)\n";
  for (size_t i = 0; i < result.hits.size(); ++i) {
    const RetrievedHit& h = result.hits[i];
    char head[64];
    std::snprintf(head, sizeof head, "%3zu. %.4f  ", i + 1, static_cast<double>(h.score));
    out += head;
    if (h.retrieval_score) {
      std::snprintf(head, sizeof head, "(retrieval %.4f)  ",
                    static_cast<double>(*h.retrieval_score));
      out += head;
    }
    if (h.vector_rank && h.text_rank) {
      std::snprintf(head, sizeof head, "(vector #%zu, text #%zu)  ", h.vector_rank, h.text_rank);
      out += head;
    } else if (h.vector_rank || h.text_rank) {
      std::snprintf(head, sizeof head, "(%s #%zu)  ", h.vector_rank ? "vector" : "text",
                    h.vector_rank ? h.vector_rank : h.text_rank);
      out += head;
    }
    out += base::printable(h.source_table);
    for (size_t t = 1; t < h.source_tables.size(); ++t) {
      out += '+';
      out += base::printable(h.source_tables[t]);
    }
    if (!h.source.empty()) {
      out += "  ";
      out += base::printable(std::filesystem::path(h.source).filename().string());
    }
    out += "\n       ";
    out += base::printable(make_snippet(h.text, snippet_chars));
    out += '\n';
  }
  for (const TableFailure& f : result.failures) {
    out += "  table " + base::printable(f.table) + " failed: " + base::printable(f.message) + "\n";
  }
  out += "  timings: embed " + format_ms(result.timings.embed_s) + ", query " +
         format_ms(result.timings.query_s);
  if (table_names.size() > 1) {
    out += " (";
    for (size_t i = 0; i < table_names.size() && i < result.timings.table_s.size(); ++i) {
      out += (i ? ", " : "") + table_names[i] + " " + format_ms(result.timings.table_s[i]);
    }
    out += ")";
  }
  out += ", merge " + format_ms(result.timings.merge_s);
  if (result.timings.rerank_s > 0) out += ", rerank " + format_ms(result.timings.rerank_s);
  out += ", total " + format_ms(result.timings.total_s) + "\n";
  return out;
}

}  // namespace ragperf
