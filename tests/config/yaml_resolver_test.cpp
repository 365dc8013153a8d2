// The hand-written implicit resolver against the regular expressions it
// replaced (PyYAML's resolver.py patterns): both must say the same of
// every string, so the emitter quotes exactly what PyYAML quotes.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "config/yaml_resolver.hpp"

// GCC 12 with -fsanitize=address reports a false -Wmaybe-uninitialized
// inside libstdc++'s regex compiler (a std::function in a moved state).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

namespace shmkit::testing {
namespace {

// PyYAML 6.0 resolver.py: float, int, timestamp (the bool, null, merge and
// value keys are word lists, tested by name below).
const std::regex kFloat(R"(^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?)"
                        R"(|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)"
                        R"(|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*)"
                        R"(|[-+]?\.(?:inf|Inf|INF))"
                        R"(|\.(?:nan|NaN|NAN))$)");
const std::regex kInt(R"(^(?:[-+]?0b[0-1_]+)"
                      R"(|[-+]?0[0-7_]+)"
                      R"(|[-+]?(?:0|[1-9][0-9_]*))"
                      R"(|[-+]?0x[0-9a-fA-F_]+)"
                      R"(|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$)");
const std::regex kTimestamp(R"(^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9])"
                            R"(|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?)"
                            R"((?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?)"
                            R"((?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$)");

// What the regular expressions say, for strings that start like a number.
bool numeric_by_regex(const std::string& text) {
  return std::regex_match(text, kFloat) || std::regex_match(text, kInt) || std::regex_match(text, kTimestamp);
}

bool starts_like_a_number(std::string_view text) {
  const char c = text.front();
  return c == '.' || c == '-' || c == '+' || (c >= '0' && c <= '9');
}

// The resolver only looks for timestamps after a digit; the regex table
// does the same (PyYAML's first-character table).
bool expected(const std::string& text) {
  const char c = text.front();
  if (c == '.' || c == '-' || c == '+') {
    return std::regex_match(text, kFloat) || (c != '.' && std::regex_match(text, kInt));
  }
  return numeric_by_regex(text);
}

TEST(YamlResolverTest, NumbersAndTimestampsMatchTheRegularExpressions) {
  const char* const cases[] = {
      "0",
      "-0",
      "+12",
      "1_000",
      "0b1010",
      "-0b_1",
      "0b",
      "0x1F",
      "0x",
      "017",
      "0_",
      "08",
      "190:20:30",
      "1:60",
      "1:5",
      "1:59:59.5",
      "1.5",
      "1.",
      "-1.5e+05",
      "1.5e5",
      "1.5e+",
      ".5",
      ".",
      ".e+1",
      "1e+5",
      ".inf",
      "-.Inf",
      "+.INF",
      ".nan",
      "-.nan",
      "2001-12-14",
      "2001-1-14",
      "2001-12-14t21:59:43.10-05:00",
      "2001-12-14 21:59:43.10 -5",
      "2001-12-15T02:59:43.1Z",
      "2001-12-14\t21:59:43",
      "2001-12-14T21:59",
      "2001-12-14T21:59:43+",
      "2001-12-14T21:59:43 Z",
      "12:30",
      "1_2:3_4",
      "1e5",
      "0.0",
      "00",
      "0o17",
      "1__",
      "-",
      "+",
      "9:00.",
  };
  for (const std::string text : cases) {
    EXPECT_EQ(detail::resolves_to_non_string(text), expected(text)) << '"' << text << '"';
  }
  // Random strings over the characters the patterns use.
  std::mt19937 random(2026);
  constexpr std::string_view kAlphabet = "0123456789012345_.:-+eExXbBaAfFinNTtZ \t";
  for (int round = 0; round < 200000; ++round) {
    std::string text(1 + random() % 12, ' ');
    for (char& c : text) {
      c = kAlphabet[random() % kAlphabet.size()];
    }
    if (!starts_like_a_number(text)) {
      continue;
    }
    ASSERT_EQ(detail::resolves_to_non_string(text), expected(text)) << '"' << text << '"';
  }
  // Dates and times, whose shape random strings rarely hit.
  for (int round = 0; round < 50000; ++round) {
    std::string text = "2001-";
    const auto digits = [&](int n) {
      for (int i = 0; i < n; ++i) {
        text += static_cast<char>('0' + random() % 10);
      }
    };
    digits(1 + random() % 2);
    text += '-';
    digits(1 + random() % 2);
    constexpr std::string_view kTails[] = {"", "T", "t", " ", "\t ", "X"};
    text += kTails[random() % std::size(kTails)];
    if (random() % 2 != 0) {
      digits(1 + random() % 2);
      text += ':';
      digits(1 + random() % 3);
      text += ':';
      digits(1 + random() % 3);
      constexpr std::string_view kZones[] = {"", ".", ".25", " Z", "Z", "-5", "+05:00", " -05:0", "+123"};
      text += kZones[random() % std::size(kZones)];
    }
    ASSERT_EQ(detail::resolves_to_non_string(text), expected(text)) << '"' << text << '"';
  }
}

TEST(YamlResolverTest, WordsAreResolvedByName) {
  for (const char* word :
       {"", "~", "null", "Null", "NULL", "yes", "No", "TRUE", "off", "On", "<<", "=", "!", "&", "*"}) {
    EXPECT_TRUE(detail::resolves_to_non_string(word)) << '"' << word << '"';
  }
  for (const char* word : {"nULL", "yES", "tru", "onn", "<", "==", "!!", "&a", "mouse-1", "c++", "value-2", "a1"}) {
    EXPECT_FALSE(detail::resolves_to_non_string(word)) << '"' << word << '"';
  }
}

}  // namespace
}  // namespace shmkit::testing
