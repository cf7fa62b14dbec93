#include "server/json_codec.h"

#include <limits>

#include "base/utf8.h"
#include "ragperf/filter.h"
#include "ragperf/query_pipeline.h"

namespace ragperf::server {

namespace {

const char* type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a number with a fraction";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

[[noreturn]] void wrong_type(const std::string& field, const nlohmann::json& value,
                             const std::string& wanted) {
  throw HttpError(422, "\"" + field + "\" must be " + wanted + ", got " + type_name(value), field);
}

}  // namespace

nlohmann::json parse_object(std::string_view body, std::string_view expected_shape) {
  const std::string shape(expected_shape);
  if (auto bad = base::invalid_utf8_offset(body)) {
    throw HttpError(400, "request body is not valid UTF-8 (byte " + std::to_string(*bad) +
                             "); send UTF-8 JSON like " + shape);
  }
  if (is_blank(std::string(body))) {
    throw HttpError(400, "request body is empty; send JSON like " + shape);
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw HttpError(400, "request body is not valid JSON (at byte " + std::to_string(e.byte) +
                             "); send JSON like " + shape);
  } catch (const nlohmann::json::out_of_range&) {
    // A number beyond a double's range, such as 1e999: JSON's grammar allows it, the parser
    // cannot hold it (found by fuzz/query_request.cpp; it was a 500 before).
    throw HttpError(400,
                    "request body has a number too large to represent; send JSON like " + shape);
  }
  if (!j.is_object()) {
    throw HttpError(422, std::string("request body must be a JSON object like ") + shape +
                             ", got " + type_name(j));
  }
  return j;
}

QueryRequest parse_query_request(std::string_view body, size_t max_top_k) {
  static const char* kShape = R"({"text": "your question", "top_k": 4})";
  const nlohmann::json j = parse_object(body, kShape);
  QueryRequest r;
  const auto text = j.find("text");
  if (text == j.end()) {
    throw HttpError(422, std::string("missing field \"text\"; send ") + kShape, "text");
  }
  if (!text->is_string()) wrong_type("text", *text, "a string (the question to search for)");
  r.text = text->get<std::string>();
  if (is_blank(r.text)) {
    throw HttpError(422, "\"text\" is empty; give the question to search for", "text");
  }
  if (const auto t = j.find("tables"); t != j.end() && !t->is_null()) {
    if (!t->is_array()) wrong_type("tables", *t, "an array of table names like [\"docs\"]");
    for (size_t i = 0; i < t->size(); ++i) {
      const nlohmann::json& name = (*t)[i];
      const std::string field = "tables[" + std::to_string(i) + "]";
      if (!name.is_string()) wrong_type(field, name, "a table name (string)");
      r.tables.push_back(name.get<std::string>());
    }
    if (r.tables.empty()) {
      throw HttpError(422,
                      "\"tables\" is empty; name at least one table, or leave \"tables\" out to "
                      "search every table of the model",
                      "tables");
    }
  }
  if (const auto k = j.find("top_k"); k != j.end() && !k->is_null()) {
    if (!k->is_number_integer()) wrong_type("top_k", *k, "an integer");
    const bool negative =
        k->is_number_integer() && !k->is_number_unsigned() && k->get<int64_t>() < 0;
    const uint64_t v = negative ? 0 : k->get<uint64_t>();
    if (negative || v == 0 || v > max_top_k) {
      throw HttpError(422,
                      "\"top_k\" is " + k->dump() + "; ask for between 1 and " +
                          std::to_string(max_top_k) + " hits",
                      "top_k");
    }
    r.top_k = static_cast<size_t>(v);
  }
  if (const auto e = j.find("exact"); e != j.end() && !e->is_null()) {
    if (!e->is_boolean()) wrong_type("exact", *e, "true or false");
    r.exact = e->get<bool>();
  }
  if (const auto m = j.find("mode"); m != j.end() && !m->is_null()) {
    if (!m->is_string()) wrong_type("mode", *m, "\"vector\", \"text\" or \"hybrid\"");
    try {
      r.mode = parse_search_mode(m->get<std::string>());
    } catch (const InputError& e) {
      throw HttpError(422, e.what(), "mode");
    }
  }
  if (const auto w = j.find("where"); w != j.end() && !w->is_null()) {
    if (!w->is_string()) {
      wrong_type("where", *w, "a filter string like \"meta.lang = 'en' and source ^= 'docs/'\"");
    }
    r.where = w->get<std::string>();
    try {
      Filter::parse(r.where);
    } catch (const InputError& e) {
      throw HttpError(422, e.what(), "where");
    }
  }
  if (const auto rr = j.find("rerank"); rr != j.end() && !rr->is_null()) {
    if (rr->is_boolean()) {
      r.rerank = rr->get<bool>();
    } else if (rr->is_object()) {
      r.rerank = true;
      for (const auto& [key, value] : rr->items()) {
        if (key != "candidates") {
          throw HttpError(
              422,
              "\"rerank\" has an unknown field \"" + key + "\"; send true or {\"candidates\": 50}",
              "rerank." + key);
        }
      }
      if (const auto c = rr->find("candidates"); c != rr->end() && !c->is_null()) {
        if (!c->is_number_integer()) wrong_type("rerank.candidates", *c, "an integer");
        const bool negative =
            c->is_number_integer() && !c->is_number_unsigned() && c->get<int64_t>() < 0;
        const uint64_t v = negative ? 0 : c->get<uint64_t>();
        if (negative || v == 0 || v > RerankOptions::kMaxCandidates) {
          throw HttpError(422,
                          "\"rerank.candidates\" is " + c->dump() + "; use 1 to " +
                              std::to_string(RerankOptions::kMaxCandidates),
                          "rerank.candidates");
        }
        r.rerank_candidates = static_cast<size_t>(v);
      }
    } else {
      wrong_type("rerank", *rr, "true, false or {\"candidates\": N}");
    }
  }
  return r;
}

EmbedRequest parse_embed_request(std::string_view body, size_t max_texts) {
  static const char* kShape = R"({"texts": ["first text", "second text"]})";
  const nlohmann::json j = parse_object(body, kShape);
  const auto t = j.find("texts");
  if (t == j.end()) {
    throw HttpError(422, std::string("missing field \"texts\"; send ") + kShape, "texts");
  }
  if (!t->is_array()) wrong_type("texts", *t, "an array of strings");
  if (t->empty()) {
    throw HttpError(422, "\"texts\" is empty; give at least one text to embed", "texts");
  }
  if (t->size() > max_texts) {
    throw HttpError(422,
                    "\"texts\" has " + std::to_string(t->size()) + " texts; send at most " +
                        std::to_string(max_texts) + " per request",
                    "texts");
  }
  EmbedRequest r;
  r.texts.reserve(t->size());
  for (size_t i = 0; i < t->size(); ++i) {
    const nlohmann::json& v = (*t)[i];
    if (!v.is_string()) wrong_type("texts[" + std::to_string(i) + "]", v, "a string");
    r.texts.push_back(v.get<std::string>());
  }
  return r;
}

nlohmann::json hits_to_json(const std::vector<RetrievedHit>& hits) {
  nlohmann::json out = nlohmann::json::array();
  for (const RetrievedHit& h : hits) {
    nlohmann::json metadata = nlohmann::json::parse(
        h.metadata_json.empty() ? std::string("{}") : h.metadata_json, nullptr, false);
    if (metadata.is_discarded()) metadata = nlohmann::json::object();
    out.push_back({{"id", h.id},
                   {"table", h.source_table},
                   {"text", h.text},
                   {"score", h.score},
                   {"similarity", h.similarity},
                   {"source", h.source},
                   {"source_tables", h.source_tables},
                   {"metadata", std::move(metadata)}});
    if (h.retrieval_score) out.back()["retrieval_score"] = *h.retrieval_score;
    if (h.vector_rank) out.back()["vector_rank"] = h.vector_rank;
    if (h.text_rank) out.back()["text_rank"] = h.text_rank;
  }
  return out;
}

std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse json_response(unsigned status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

HttpResponse error_response(const HttpError& error) {
  nlohmann::json body = {{"error", error.what()}};
  if (!error.field().empty()) body["field"] = error.field();
  return json_response(error.status(), body);
}

unsigned status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInput:
      return 422;
    case ErrorCode::kOverloaded:
      return 429;
    case ErrorCode::kConnection:
    case ErrorCode::kPoolExhausted:
    case ErrorCode::kUnavailable:
    case ErrorCode::kCancelled:
      return 503;
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kConfig:
    case ErrorCode::kModel:
    case ErrorCode::kQuery:
      return 500;
  }
  return 500;
}

}  // namespace ragperf::server
