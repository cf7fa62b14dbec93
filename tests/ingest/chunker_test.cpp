// Chunker invariants: no chunk above the limit, overlap present, sentences kept whole, nothing
// lost, headings prefixed; plus split_sentences().
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "ragperf/error.h"
#include "ragperf/ingest.h"

namespace ragperf {
namespace {

// A BERT-like count: [CLS] + [SEP] + one token per word and per punctuation character.
size_t bert_like_count(std::string_view text) {
  size_t n = 2;
  bool in_word = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      in_word = false;
    } else if (std::ispunct(static_cast<unsigned char>(c))) {
      ++n;
      in_word = false;
    } else if (!in_word) {
      ++n;
      in_word = true;
    }
  }
  return n;
}

std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!w.empty()) out.push_back(std::move(w));
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

// Sentence k of the corpus: unique words "s<k>w<i>", 3 to 17 words long.
std::string sentence(int k) {
  std::string s = fmt::format("S{}", k);
  for (int i = 0; i < 2 + (k * 7) % 15; ++i) s += fmt::format(" s{}w{}", k, i);
  return s + ".";
}

Document corpus() {
  Document d;
  d.path = "corpus.md";
  d.title = "Corpus";
  int k = 0;
  for (int sec = 0; sec < 4; ++sec) {
    DocumentSection s;
    s.headings = {fmt::format("Part {}", sec / 2), fmt::format("Sec {}", sec)};
    for (int p = 0; p < 6; ++p) {
      if (p > 0) s.text += "\n\n";
      for (int i = 0; i < 5; ++i) {
        if (i > 0) s.text += ' ';
        s.text += sentence(k++);
      }
    }
    d.sections.push_back(std::move(s));
  }
  return d;
}

std::set<std::string> sentences_of(const Document& d) {
  std::set<std::string> out;
  for (const auto& s : d.sections) {
    std::string text = s.text;
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    for (auto v : split_sentences(text)) out.insert(std::string(v));
  }
  return out;
}

TEST(Chunker, NoChunkAboveTheLimitAndCountsAreExact) {
  Document d = corpus();
  for (size_t max : {16u, 40u, 64u, 128u}) {
    Chunker chunker(bert_like_count, {.max_tokens = max, .overlap_tokens = max / 4});
    auto chunks = chunker.chunk(d);
    ASSERT_FALSE(chunks.empty());
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_LE(chunks[i].n_tokens, max) << chunks[i].text();
      EXPECT_EQ(chunks[i].n_tokens, bert_like_count(chunks[i].text()));
      EXPECT_EQ(chunks[i].index, i);
    }
  }
}

TEST(Chunker, SentencesAreKeptWhole) {
  Document d = corpus();
  std::set<std::string> sentences = sentences_of(d);
  Chunker chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 16});
  for (const auto& c : chunker.chunk(d)) {
    std::string body = c.body;
    for (char& ch : body) {
      if (ch == '\n') ch = ' ';
    }
    for (auto s : split_sentences(body)) {
      EXPECT_TRUE(sentences.count(std::string(s))) << "split sentence: '" << s << "'";
    }
  }
}

TEST(Chunker, NothingIsLost) {
  Document d = corpus();
  std::set<std::string> seen;
  Chunker chunker(bert_like_count, {.max_tokens = 48, .overlap_tokens = 12});
  for (const auto& c : chunker.chunk(d)) {
    for (auto& w : words_of(c.body)) seen.insert(w);
  }
  for (const auto& s : d.sections) {
    for (const auto& w : words_of(s.text)) EXPECT_TRUE(seen.count(w)) << "lost word " << w;
  }
}

TEST(Chunker, ConsecutiveChunksOverlapByWholeSentences) {
  Document d = corpus();
  Chunker chunker(bert_like_count, {.max_tokens = 80, .overlap_tokens = 20});
  auto chunks = chunker.chunk(d);
  size_t n_pairs = 0;
  for (size_t i = 1; i < chunks.size(); ++i) {
    if (chunks[i].heading != chunks[i - 1].heading) continue;  // no overlap across sections
    std::string prev = chunks[i - 1].body;
    for (char& ch : prev) {
      if (ch == '\n') ch = ' ';
    }
    auto prev_sentences = split_sentences(prev);
    std::string_view last = prev_sentences.back();
    if (bert_like_count(last) - 2 > 20) continue;  // too long to repeat
    ++n_pairs;
    // The next chunk opens with trailing whole sentences of this one, its last sentence included.
    std::string next = chunks[i].body;
    for (char& ch : next) {
      if (ch == '\n') ch = ' ';
    }
    size_t pos = next.find(std::string(last));
    ASSERT_NE(pos, std::string::npos) << "chunk " << i << " lacks '" << last << "'";
    std::string shared = next.substr(0, pos + last.size());
    EXPECT_TRUE(prev.size() >= shared.size() &&
                prev.compare(prev.size() - shared.size(), shared.size(), shared) == 0)
        << "chunk " << i << " does not open with the end of chunk " << i - 1 << ": " << shared;
    EXPECT_LE(bert_like_count(shared) - 2, 20u);
  }
  EXPECT_GE(n_pairs, 5u);
}

TEST(Chunker, HeadingPathIsPrefixedAndRecorded) {
  Chunker chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 8});
  auto chunks = chunker.chunk(corpus());
  EXPECT_EQ(chunks.front().heading, "Corpus > Part 0 > Sec 0");
  EXPECT_EQ(chunks.front().text().rfind("Corpus > Part 0 > Sec 0\nS0 s0w0", 0), 0u)
      << chunks.front().text();
  EXPECT_EQ(chunks.back().heading, "Corpus > Part 1 > Sec 3");

  Chunker bare(bert_like_count, {.max_tokens = 64, .overlap_tokens = 8, .prefix_heading = false});
  auto b = bare.chunk(corpus());
  EXPECT_EQ(b.front().text(), b.front().body);
  EXPECT_EQ(b.front().heading, "Corpus > Part 0 > Sec 0");
}

TEST(Chunker, DuplicateTitleHeadingIsNotRepeated) {
  Document d{"x.html", "9.1. Logical Operators", {{{"9.1. Logical Operators"}, "Text here."}}};
  auto chunks = Chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 8}).chunk(d);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text(), "9.1. Logical Operators\nText here.");
}

TEST(Chunker, OverlongSentenceIsSplitBetweenWords) {
  std::string s;
  for (int i = 0; i < 300; ++i) s += fmt::format("word{} ", i);
  s += "end.";
  Document d{"long.txt", "", {{{}, "Short one. " + s + " Tail sentence."}}};
  Chunker chunker(bert_like_count, {.max_tokens = 50, .overlap_tokens = 10});
  auto chunks = chunker.chunk(d);
  std::set<std::string> seen;
  for (const auto& c : chunks) {
    EXPECT_LE(c.n_tokens, 50u);
    for (auto& w : words_of(c.body)) seen.insert(w);
  }
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(seen.count(fmt::format("word{}", i))) << i;
  EXPECT_TRUE(seen.count("Tail"));
  EXPECT_EQ(chunks.front().body.rfind("Short one.", 0), 0u);
}

TEST(Chunker, OverlongWordIsSplitBetweenCharacters) {
  std::string word;
  for (int i = 0; i < 200; ++i) word += "a.";  // 400 punctuation-separated tokens
  word += "\xC3\xA9\xC3\xA9";                  // ends with two-byte characters
  Document d{"w.txt", "", {{{}, word}}};
  Chunker chunker(bert_like_count, {.max_tokens = 40, .overlap_tokens = 4});
  auto chunks = chunker.chunk(d);
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_LE(c.n_tokens, 40u);
    EXPECT_FALSE(binary_content_reason(c.body).has_value()) << "cut inside a UTF-8 character";
  }
  ASSERT_GE(chunks.size(), 10u);
  EXPECT_NE(chunks.back().body.find("\xC3\xA9\xC3\xA9"), std::string::npos);
}

TEST(Chunker, CodeIndentationAndLinesKept) {
  Document d{"c.md", "", {{{}, "Intro.\n\nSELECT a,\n       b\n  FROM t;"}}};
  auto chunks = Chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 8}).chunk(d);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].body, "Intro.\n\nSELECT a,\n       b\n  FROM t;");
}

TEST(Chunker, EmptyAndWhitespaceDocumentsGiveNoChunks) {
  Chunker chunker(bert_like_count, {});
  EXPECT_TRUE(chunker.chunk(Document{}).empty());
  EXPECT_TRUE(chunker.chunk(read_text(" \n\n \t", "w.txt")).empty());
  EXPECT_TRUE(chunker.chunk(read_html("<p> </p>", "w.html")).empty());
}

TEST(Chunker, LongHeadingIsNotPrefixed) {
  std::string heading;
  for (int i = 0; i < 40; ++i) heading += fmt::format("h{} ", i);
  Document d{"h.md", "", {{{heading}, "Body text."}}};
  auto chunks = Chunker(bert_like_count, {.max_tokens = 40, .overlap_tokens = 4}).chunk(d);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text(), "Body text.");
  EXPECT_FALSE(chunks[0].heading.empty());
}

TEST(Chunker, InvalidOptionsAreConfigErrors) {
  EXPECT_THROW(Chunker(bert_like_count, {.max_tokens = 6, .overlap_tokens = 0}), ConfigError);
  EXPECT_THROW(Chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 32}), ConfigError);
  EXPECT_THROW(Chunker(TokenCounter{}, {}), ConfigError);
  EXPECT_NO_THROW(Chunker(bert_like_count, {.max_tokens = 64, .overlap_tokens = 0}));
}

TEST(SentenceSplitter, SplitsAtSentenceEnds) {
  auto s = split_sentences("  First one. Second?  Third! \"Quoted.\" (Paren.) 4 items. Last");
  std::vector<std::string_view> want = {"First one.", "Second?",  "Third!", "\"Quoted.\"",
                                        "(Paren.)",   "4 items.", "Last"};
  EXPECT_EQ(s, want);
}

TEST(SentenceSplitter, KeepsAbbreviationsNumbersAndInitials) {
  auto s = split_sentences(
      "Use e.g. This form. See Fig. 3 and version 9.1 now. J. Smith wrote it. X.y is a path.");
  std::vector<std::string_view> want = {"Use e.g. This form.", "See Fig. 3 and version 9.1 now.",
                                        "J. Smith wrote it.", "X.y is a path."};
  EXPECT_EQ(s, want);
  EXPECT_TRUE(split_sentences("   ").empty());
  EXPECT_EQ(split_sentences("lower. case follows").size(), 1u);
  EXPECT_EQ(split_sentences("Wait... What?").size(), 2u);
}

}  // namespace
}  // namespace ragperf
