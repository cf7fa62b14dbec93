// HTML (.html, .htm, .xhtml) through libxml2's HTML parser, with recovery for malformed markup.
// <title> is the title; h1-h6 start sections; <pre> is kept line by line; script, style, nav,
// forms' controls and navigation boilerplate (role="navigation", DocBook's navheader/navfooter/
// toc blocks) are dropped; entities are decoded by the parser; whitespace in prose collapses.
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "ragperf/error.h"
#include "ragperf/ingest.h"
#include "section_builder.h"

namespace ragperf {
namespace {

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct XmlCharDeleter {
  void operator()(xmlChar* p) const { xmlFree(p); }
};

const char* name_of(const xmlNode* n) {
  return reinterpret_cast<const char*>(n->name);
}

bool is(const xmlNode* n, const char* name) {
  return n->name != nullptr && std::strcmp(name_of(n), name) == 0;
}

bool is_any(const xmlNode* n, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (is(n, name)) return true;
  }
  return false;
}

std::string attribute(const xmlNode* n, const char* name) {
  std::unique_ptr<xmlChar, XmlCharDeleter> v(
      xmlGetProp(const_cast<xmlNode*>(n), reinterpret_cast<const xmlChar*>(name)));
  return v ? reinterpret_cast<const char*>(v.get()) : "";
}

std::string text_content(const xmlNode* n) {
  std::unique_ptr<xmlChar, XmlCharDeleter> v(xmlNodeGetContent(n));
  return v ? reinterpret_cast<const char*>(v.get()) : "";
}

bool has_class(const std::string& classes, std::string_view name) {
  size_t pos = 0;
  while (pos < classes.size()) {
    size_t b = classes.find_first_not_of(" \t\n", pos);
    if (b == std::string::npos) break;
    size_t e = classes.find_first_of(" \t\n", b);
    if (e == std::string::npos) e = classes.size();
    if (std::string_view(classes).substr(b, e - b) == name) return true;
    pos = e;
  }
  return false;
}

bool is_boilerplate(const xmlNode* n) {
  if (is_any(n, {"script", "style", "nav", "noscript", "template", "head", "iframe", "object",
                 "embed", "svg", "canvas", "button", "select", "textarea", "input", "map"})) {
    return true;
  }
  if (attribute(n, "role") == "navigation" || xmlHasProp(n, BAD_CAST "hidden") != nullptr) {
    return true;
  }
  std::string classes = attribute(n, "class");
  if (classes.empty()) return false;
  for (std::string_view c : {"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures",
                             "list-of-examples", "list-of-equations", "skip-link"}) {
    if (has_class(classes, c)) return true;
  }
  return false;
}

bool is_block(const xmlNode* n) {
  return is_any(n,
                {"p",        "div",     "section",    "article", "main",       "ul",     "ol",
                 "dl",       "table",   "blockquote", "figure",  "figcaption", "hr",     "address",
                 "details",  "summary", "caption",    "body",    "header",     "footer", "aside",
                 "fieldset", "legend",  "html",       "center",  "form"});
}

bool is_line(const xmlNode* n) {
  return is_any(n, {"li", "dt", "dd", "tr", "br", "option"});
}

int heading_level(const xmlNode* n) {
  const char* name = name_of(n);
  if (name != nullptr && name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && name[2] == '\0') {
    return name[1] - '0';
  }
  return 0;
}

constexpr int kMaxDepth = 1000;

class HtmlWalker {
 public:
  void walk(const xmlNode* n, int depth) {
    for (; n != nullptr; n = n->next) visit(n, depth);
  }

  std::vector<DocumentSection> finish() { return b_.finish(); }
  const std::string& first_h1() const { return first_h1_; }

 private:
  void visit(const xmlNode* n, int depth) {
    switch (n->type) {
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        if (n->content != nullptr) b_.inline_text(reinterpret_cast<const char*>(n->content));
        return;
      case XML_ELEMENT_NODE:
        break;
      default:
        return;
    }
    if (is_boilerplate(n)) return;
    if (int level = heading_level(n)) {
      std::string text = text_content(n);
      if (level == 1 && first_h1_.empty()) first_h1_ = ingest::collapse_whitespace(text);
      b_.heading(level, text);
      return;
    }
    if (is(n, "pre") || is(n, "listing") || is(n, "xmp") || is(n, "plaintext")) {
      b_.preformatted(text_content(n));
      return;
    }
    if (depth >= kMaxDepth) {  // pathological nesting: keep the words, drop the structure
      b_.inline_text(" ");
      b_.inline_text(text_content(n));
      b_.inline_text(" ");
      return;
    }
    bool block = is_block(n);
    bool line = !block && is_line(n);
    if (block) b_.paragraph_break();
    if (line) b_.line_break();
    if (is(n, "td") || is(n, "th") || is(n, "img")) b_.inline_text(" ");
    if (is(n, "img")) b_.inline_text(attribute(n, "alt"));
    walk(n->children, depth + 1);
    if (is(n, "td") || is(n, "th")) b_.inline_text(" ");
    if (block) b_.paragraph_break();
    if (line) b_.line_break();
  }

  ingest::SectionBuilder b_;
  std::string first_h1_;
};

const xmlNode* find_element(const xmlNode* n, const char* name, int depth) {
  for (; n != nullptr && depth < 64; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (is(n, name)) return n;
    if (is(n, "body")) continue;  // <title> lives in <head>
    if (const xmlNode* found = find_element(n->children, name, depth + 1)) return found;
  }
  return nullptr;
}

}  // namespace

Document read_html(std::string_view content, const std::filesystem::path& path) {
  content = ingest::require_text(content, path);
  if (content.size() > static_cast<size_t>(INT_MAX)) {
    throw InputError("cannot ingest '" + path.string() + "': HTML file over 2 GiB");
  }
  static std::once_flag init;
  std::call_once(init, [] { xmlInitParser(); });
  Document doc;
  doc.path = path;
  std::unique_ptr<xmlDoc, DocDeleter> html(
      htmlReadMemory(content.data(), static_cast<int>(content.size()), nullptr, "UTF-8",
                     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                         HTML_PARSE_NONET | XML_PARSE_HUGE));
  if (!html) {
    // Nothing the parser could recover (e.g. an empty file): no sections.
    doc.title = path.stem().string();
    return doc;
  }
  const xmlNode* root = xmlDocGetRootElement(html.get());
  if (const xmlNode* title = find_element(root, "title", 0)) {
    doc.title = ingest::collapse_whitespace(text_content(title));
  }
  HtmlWalker walker;
  walker.walk(root, 0);
  doc.sections = walker.finish();
  if (doc.title.empty()) doc.title = walker.first_h1();
  if (doc.title.empty()) doc.title = path.stem().string();
  return doc;
}

}  // namespace ragperf
