// Reading YAML: yaml-cpp parses, and its nodes are copied into YamlNode
// with 1-based marks and the "was this scalar quoted" bit the loader needs.

#include <shmkit/config/yaml_codec.hpp>
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/config/yaml_node.hpp>
#include <shmkit/core/error.hpp>

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace shmkit {

namespace {

constexpr std::size_t kMaxDepth = 256;
constexpr std::size_t kMaxNodes = std::size_t{1} << 24;

YamlMark to_mark(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) {
    return {};
  }
  return {static_cast<std::size_t>(mark.line) + 1, static_cast<std::size_t>(mark.column) + 1};
}

[[noreturn]] void fail(std::string_view origin, const YamlMark& mark, const std::string& reason) {
  detail::DecodeContext ctx{origin, false, {}};
  ctx.fail(mark, reason);
}

// The 1-based line `line` of `text`, for hints about what is on it.
std::string_view line_of(std::string_view text, std::size_t line) {
  std::size_t start = 0;
  for (std::size_t n = 1; n < line; ++n) {
    const std::size_t next = text.find('\n', start);
    if (next == std::string_view::npos) {
      return {};
    }
    start = next + 1;
  }
  const std::size_t end = text.find('\n', start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// yaml-cpp reports a tab used for indentation as "illegal map value" or
// similar; operators need to be told about the tab itself.
std::string syntax_hint(std::string_view text, const YamlMark& mark) {
  for (const std::size_t line : {mark.line, mark.line - 1}) {
    if (line == 0 || line > mark.line) {
      continue;
    }
    const std::string_view content = line_of(text, line);
    const std::size_t first = content.find_first_not_of(' ');
    if (first != std::string_view::npos && content[first] == '\t') {
      return " (line " + std::to_string(line) + " is indented with a tab; YAML allows only spaces for indentation)";
    }
  }
  return {};
}

class Converter {
 public:
  explicit Converter(std::string_view origin) : origin_(origin) {}

  YamlNode convert(const YAML::Node& node, std::size_t depth) {
    if (depth > kMaxDepth) {
      fail(origin_, to_mark(node.Mark()),
           "values are nested more than " + std::to_string(kMaxDepth) + " levels deep (a recursive alias?)");
    }
    if (++count_ > kMaxNodes) {
      fail(origin_, to_mark(node.Mark()),
           "the document expands to more than " + std::to_string(kMaxNodes) + " values (through aliases?)");
    }
    YamlNode out;
    out.mark = to_mark(node.Mark());
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        break;
      case YAML::NodeType::Scalar:
        out.kind = YamlNode::Kind::scalar;
        out.text = node.Scalar();
        out.quoted = is_quoted(node);
        break;
      case YAML::NodeType::Sequence:
        out.kind = YamlNode::Kind::sequence;
        out.items.reserve(node.size());
        for (const YAML::Node& item : node) {
          out.items.push_back(convert(item, depth + 1));
        }
        break;
      case YAML::NodeType::Map:
        out.kind = YamlNode::Kind::mapping;
        out.items.reserve(node.size());
        out.keys.reserve(node.size());
        for (const auto& entry : node) {
          const YAML::Node& key = entry.first;
          const YamlMark key_mark = to_mark(key.Mark());
          if (!key.IsScalar()) {
            fail(origin_, key_mark,
                 key.IsNull() ? "a key is missing before ':' (keys must be text)"
                              : "a key must be text, not a list or mapping");
          }
          out.keys.push_back({key.Scalar(), key_mark, is_quoted(key)});
          YamlNode value = convert(entry.second, depth + 1);
          // yaml-cpp marks an empty value ("key:") at the next token, often
          // on a later line; the key is where an operator will look.
          if (value.is_null()) {
            value.mark = key_mark;
          }
          out.items.push_back(std::move(value));
        }
        break;
    }
    return out;
  }

 private:
  static bool is_quoted(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    return tag == "!" || tag == "tag:yaml.org,2002:str";
  }

  std::string_view origin_;
  std::size_t count_ = 0;
};

}  // namespace

std::vector<YamlNode> parse_yaml_documents(std::string_view text, std::string_view origin) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    const YamlMark mark = to_mark(e.mark);
    fail(origin, mark, "YAML syntax error: " + e.msg + syntax_hint(text, mark));
  }
  std::vector<YamlNode> out;
  out.reserve(documents.size());
  Converter converter(origin);
  for (const YAML::Node& document : documents) {
    out.push_back(converter.convert(document, 0));
  }
  return out;
}

YamlNode parse_yaml_document(std::string_view text, std::string_view origin) {
  std::vector<YamlNode> documents = parse_yaml_documents(text, origin);
  if (documents.size() > 1) {
    fail(origin, documents[1].mark,
         "the file holds " + std::to_string(documents.size()) +
             " YAML documents (separated by '---'); a configuration file holds one");
  }
  if (documents.empty() || documents.front().is_null()) {
    fail(origin, YamlMark{1, 1}, "the file holds no settings (it is empty); expected 'key: value' lines");
  }
  return std::move(documents.front());
}

std::string format_yaml_string(std::string_view text, std::string_view origin) {
  std::string out;
  for (const YamlNode& document : parse_yaml_documents(text, origin)) {
    out += emit_yaml_document(document);
  }
  return out;
}

std::string format_yaml_file(const std::filesystem::path& path) {
  return format_yaml_string(detail::read_config_file(path), path.string());
}

}  // namespace shmkit
