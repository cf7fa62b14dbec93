#include "server/json_codec.h"

#include <cctype>
#include <cstdint>
#include <cstring>
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

namespace {

bool optional_bool(const nlohmann::json& j, const char* field, bool fallback) {
  const auto v = j.find(field);
  if (v == j.end() || v->is_null()) return fallback;
  if (!v->is_boolean()) wrong_type(field, *v, "true or false");
  return v->get<bool>();
}

// "truncate" (false: refuse over-long input) and "truncation_direction" ("right"/"left", any
// case; TEI writes "Right"/"Left").
Truncation parse_truncation(const nlohmann::json& j) {
  Truncation direction = Truncation::kRight;
  if (const auto d = j.find("truncation_direction"); d != j.end() && !d->is_null()) {
    if (!d->is_string()) wrong_type("truncation_direction", *d, "\"Right\" or \"Left\"");
    std::string v = d->get<std::string>();
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "left") {
      direction = Truncation::kLeft;
    } else if (v != "right") {
      throw HttpError(422,
                      "\"truncation_direction\" is " + d->dump() +
                          "; use \"Right\" (keep the start) or \"Left\" (keep the end)",
                      "truncation_direction");
    }
  }
  return optional_bool(j, "truncate", false) ? direction : Truncation::kRefuse;
}

void check_count(const std::string& field, size_t n, size_t max_texts) {
  if (n == 0) throw HttpError(422, "\"" + field + "\" is empty; give at least one input", field);
  if (n > max_texts) {
    throw HttpError(422,
                    "\"" + field + "\" has " + std::to_string(n) + " inputs; send at most " +
                        std::to_string(max_texts) + " per request",
                    field);
  }
}

// A string or a list of strings (TEI's "inputs").
std::vector<std::string> string_or_list(const nlohmann::json& j, const std::string& field,
                                        size_t max_texts) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
    return out;
  }
  if (!j.is_array()) wrong_type(field, j, "a string or an array of strings");
  check_count(field, j.size(), max_texts);
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& v = j[i];
    if (!v.is_string()) wrong_type(field + "[" + std::to_string(i) + "]", v, "a string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<int32_t> token_ids(const nlohmann::json& list, const std::string& field) {
  std::vector<int32_t> ids;
  ids.reserve(list.size());
  for (size_t k = 0; k < list.size(); ++k) {
    const nlohmann::json& v = list[k];
    const std::string at = field + "[" + std::to_string(k) + "]";
    if (!v.is_number_integer()) wrong_type(at, v, "a token id (an integer)");
    const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;
    if (negative || v.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) {
      throw HttpError(422, "\"" + at + "\" is " + v.dump() + "; a token id is 0 or more", at);
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

}  // namespace

EmbedRequest parse_embed_request(std::string_view body, size_t max_texts) {
  static const char* kShape =
      R"({"texts": ["first text", "second text"]} or TEI's {"inputs": ["first text"]})";
  const nlohmann::json j = parse_object(body, kShape);
  EmbedRequest r;
  const auto t = j.find("texts");
  const auto in = j.find("inputs");
  if (t != j.end() && in != j.end()) {
    throw HttpError(422,
                    "the body has both \"texts\" (ragperf's /embed) and \"inputs\" (TEI's); "
                    "send one of them",
                    "inputs");
  }
  r.truncation = parse_truncation(j);
  if (in != j.end()) {
    r.tei = true;
    r.texts = string_or_list(*in, "inputs", max_texts);
    r.normalize = optional_bool(j, "normalize", true);
    return r;
  }
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
  r.texts.reserve(t->size());
  for (size_t i = 0; i < t->size(); ++i) {
    const nlohmann::json& v = (*t)[i];
    if (!v.is_string()) wrong_type("texts[" + std::to_string(i) + "]", v, "a string");
    r.texts.push_back(v.get<std::string>());
  }
  return r;
}

bool is_tei_embed_body(std::string_view body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() && j.contains("inputs");
}

OpenAiEmbeddingsRequest parse_openai_embeddings_request(std::string_view body, size_t max_texts) {
  static const char* kShape = R"({"input": ["first text", "second text"], "model": "name"})";
  const nlohmann::json j = parse_object(body, kShape);
  OpenAiEmbeddingsRequest r;
  const auto in = j.find("input");
  if (in == j.end() || in->is_null()) {
    throw HttpError(422, std::string("missing field \"input\"; send ") + kShape, "input");
  }
  const char* kInputKinds =
      "a string, an array of strings, an array of token ids or an array of arrays of token ids";
  if (in->is_string()) {
    r.inputs.emplace_back(in->get<std::string>());
  } else if (!in->is_array()) {
    wrong_type("input", *in, kInputKinds);
  } else {
    check_count("input", in->size(), max_texts);
    if ((*in)[0].is_number_integer()) {  // one text as token ids
      r.inputs.emplace_back(token_ids(*in, "input"));
    } else {
      r.inputs.reserve(in->size());
      for (size_t i = 0; i < in->size(); ++i) {
        const nlohmann::json& v = (*in)[i];
        const std::string at = "input[" + std::to_string(i) + "]";
        if (v.is_string()) {
          r.inputs.emplace_back(v.get<std::string>());
        } else if (v.is_array()) {
          if (v.empty()) throw HttpError(422, "\"" + at + "\" has no token ids", at);
          r.inputs.emplace_back(token_ids(v, at));
        } else {
          wrong_type(at, v, "a string or an array of token ids");
        }
      }
    }
  }
  if (const auto m = j.find("model"); m != j.end() && !m->is_null()) {
    if (!m->is_string()) wrong_type("model", *m, "a string (the model's name)");
    r.model = m->get<std::string>();
  }
  if (const auto f = j.find("encoding_format"); f != j.end() && !f->is_null()) {
    if (!f->is_string()) wrong_type("encoding_format", *f, "\"float\" or \"base64\"");
    const std::string v = f->get<std::string>();
    if (v != "float" && v != "base64") {
      throw HttpError(422, "\"encoding_format\" is " + f->dump() + "; use \"float\" or \"base64\"",
                      "encoding_format");
    }
    r.base64 = v == "base64";
  }
  if (const auto d = j.find("dimensions"); d != j.end() && !d->is_null()) {
    if (!d->is_number_integer()) wrong_type("dimensions", *d, "an integer");
    if (!d->is_number_unsigned() || d->get<uint64_t>() == 0) {
      throw HttpError(422, "\"dimensions\" is " + d->dump() + "; ask for 1 or more", "dimensions");
    }
    const uint64_t v = d->get<uint64_t>();
    r.dimensions = v > SIZE_MAX / 2 ? SIZE_MAX / 2 : static_cast<size_t>(v);
  }
  if (const auto u = j.find("user"); u != j.end() && !u->is_null() && !u->is_string()) {
    wrong_type("user", *u, "a string");
  }
  r.truncation = parse_truncation(j);
  return r;
}

RerankRequest parse_rerank_request(std::string_view body, size_t max_texts) {
  static const char* kShape = R"({"query": "question", "texts": ["passage 1", "passage 2"]})";
  const nlohmann::json j = parse_object(body, kShape);
  RerankRequest r;
  const auto q = j.find("query");
  if (q == j.end() || q->is_null()) {
    throw HttpError(422, std::string("missing field \"query\"; send ") + kShape, "query");
  }
  if (!q->is_string()) wrong_type("query", *q, "a string");
  r.query = q->get<std::string>();
  const auto t = j.find("texts");
  if (t == j.end() || t->is_null()) {
    throw HttpError(422, std::string("missing field \"texts\"; send ") + kShape, "texts");
  }
  if (!t->is_array()) wrong_type("texts", *t, "an array of strings");
  r.texts = string_or_list(*t, "texts", max_texts);
  r.return_text = optional_bool(j, "return_text", false);
  r.raw_scores = optional_bool(j, "raw_scores", false);
  r.truncation = parse_truncation(j);
  return r;
}

TokenizeRequest parse_tokenize_request(std::string_view body, size_t max_texts) {
  static const char* kShape = R"({"inputs": "text to tokenize"})";
  const nlohmann::json j = parse_object(body, kShape);
  TokenizeRequest r;
  const auto in = j.find("inputs");
  if (in == j.end() || in->is_null()) {
    throw HttpError(422, std::string("missing field \"inputs\"; send ") + kShape, "inputs");
  }
  r.inputs = string_or_list(*in, "inputs", max_texts);
  r.add_special_tokens = optional_bool(j, "add_special_tokens", true);
  return r;
}

std::string base64_floats(std::span<const float> values) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  bytes.reserve(values.size() * 4);
  for (float v : values) {
    uint32_t u = 0;
    std::memcpy(&u, &v, 4);
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((u >> (8 * k)) & 0xFF));
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (i + 1 < bytes.size()) n |= uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
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

HttpResponse error_response(const HttpError& error, Api api) {
  const unsigned status = error.status();
  switch (api) {
    case Api::kOpenAi: {
      // OpenAI answers a request it cannot take with 400 invalid_request_error.
      const unsigned shown = status == 422 ? 400 : status;
      const char* type = shown >= 500   ? "server_error"
                         : shown == 429 ? "rate_limit_error"
                                        : "invalid_request_error";
      nlohmann::json e = {
          {"message", error.what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
      if (!error.field().empty()) e["param"] = error.field();
      if (!error.code().empty()) e["code"] = error.code();
      return json_response(shown, {{"error", std::move(e)}});
    }
    case Api::kTei: {
      const char* type = status == 429                    ? "overloaded"
                         : status == 503                  ? "unhealthy"
                         : status >= 500 || status == 424 ? "backend"
                                                          : "validation";
      return json_response(status, {{"error", error.what()}, {"error_type", type}});
    }
    case Api::kRagperf:
      break;
  }
  nlohmann::json body = {{"error", error.what()}};
  if (!error.field().empty()) body["field"] = error.field();
  return json_response(status, body);
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
