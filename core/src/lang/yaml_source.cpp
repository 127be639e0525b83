// Safe YAML reading: size, encoding, syntax, depth and node budget, with
// every problem reported at its line and column.
#include "yaml_source.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

namespace cascade::lang::detail {

namespace {

std::string FormatBytes(std::size_t bytes) {
    constexpr std::size_t kMebibyte = std::size_t{1024} * 1024;
    if (bytes >= kMebibyte && bytes % kMebibyte == 0) {
        return std::to_string(bytes / kMebibyte) + " MiB";
    }
    if (bytes >= 1024 && bytes % 1024 == 0) {
        return std::to_string(bytes / 1024) + " KiB";
    }
    return std::to_string(bytes) + " bytes";
}

// Number of UTF-8 code points in the first `bytes` bytes of `text`.
int CodePoints(std::string_view text, std::size_t bytes) {
    int count = 0;
    for (std::size_t i = 0; i < bytes && i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++count;
        }
    }
    return count;
}

// Byte offset of the `column`-th code point (0-based) of `line`.
std::size_t ByteOfColumn(std::string_view line, int column) {
    int seen = -1;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) {
            ++seen;
            if (seen == column) {
                return i;
            }
        }
    }
    return line.size();
}

std::string_view LineOf(std::string_view text, int line_index) {
    std::size_t start = 0;
    for (int line = 0; line < line_index; ++line) {
        const std::size_t newline = text.find('\n', start);
        if (newline == std::string_view::npos) {
            return {};
        }
        start = newline + 1;
    }
    const std::size_t end = text.find('\n', start);
    return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

bool IsNullScalar(std::string_view text) {
    return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<bool> BoolScalar(std::string_view text) {
    if (text == "true" || text == "True" || text == "TRUE") {
        return true;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
        return false;
    }
    return std::nullopt;
}

std::optional<std::int64_t> IntegerScalar(std::string_view text) {
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '+') {
        digits.remove_prefix(1);
    }
    if (digits.empty()) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<double> FloatScalar(std::string_view text) {
    // YAML 1.2 core schema float: [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    std::size_t i = 0;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
        ++i;
    }
    const std::size_t mantissa_start = i;
    bool digits = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
        ++i;
        digits = true;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
            ++i;
            digits = true;
        }
    }
    if (!digits || mantissa_start == i) {
        return std::nullopt;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
            ++i;
        }
        bool exponent_digits = false;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
            ++i;
            exponent_digits = true;
        }
        if (!exponent_digits) {
            return std::nullopt;
        }
    }
    if (i != text.size()) {
        return std::nullopt;
    }
    std::string copy(text);
    if (copy.front() == '+') {
        copy.erase(0, 1);
    }
    double value = 0;
    const auto [end, error] = std::from_chars(copy.data(), copy.data() + copy.size(), value);
    if (error != std::errc() || end != copy.data() + copy.size()) {
        return std::nullopt;
    }
    return value;
}

boost::json::value ScalarToJson(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    const bool plain = tag == "?";
    if (!plain) {
        if (tag == "tag:yaml.org,2002:int") {
            if (auto value = IntegerScalar(text)) {
                return *value;
            }
        } else if (tag == "tag:yaml.org,2002:float") {
            if (auto value = FloatScalar(text)) {
                return *value;
            }
        } else if (tag == "tag:yaml.org,2002:bool") {
            if (auto value = BoolScalar(text)) {
                return *value;
            }
        } else if (tag == "tag:yaml.org,2002:null") {
            return nullptr;
        }
        return boost::json::string(text);
    }
    if (IsNullScalar(text)) {
        return nullptr;
    }
    if (auto value = BoolScalar(text)) {
        return *value;
    }
    if (auto value = IntegerScalar(text)) {
        return *value;
    }
    if (auto value = FloatScalar(text)) {
        return *value;
    }
    return boost::json::string(text);
}

class JsonBuilder {
public:
    JsonBuilder(const std::string& file, const LoadLimits& limits, Diagnostics& diagnostics, bool may_have_aliases)
        : file_(file), limits_(limits), diagnostics_(diagnostics), may_have_aliases_(may_have_aliases) {}

    std::optional<boost::json::value> Build(const YAML::Node& root) {
        // Measure first: an alias bomb is tiny as a graph but huge expanded.
        // Counting shared nodes once (memoised by source position, which
        // aliases share with their anchor) finds it without expanding it.
        const std::size_t expanded = may_have_aliases_ ? ExpandedSize(root, 0) : 0;
        if (expanded > limits_.max_nodes) {
            YAML::Node culprit = root;
            // Point at the largest node whose parts are each within the limit.
            // Bounded by the depth limit: an anchor may contain an alias to itself.
            std::size_t steps = 0;
            for (bool descended = true; descended && steps < limits_.max_depth; ++steps) {
                descended = false;
                for (const auto& child : Children(culprit)) {
                    if (ExpandedSize(child, 0) > limits_.max_nodes) {
                        culprit.reset(child);
                        descended = true;
                        break;
                    }
                }
            }
            diagnostics_.Error("too-many-nodes", LocationOf(culprit, file_),
                               "the document expands to more than " + std::to_string(limits_.max_nodes) + " YAML nodes",
                               "aliases (*name) count each time they are used; use step templates instead of "
                               "nested aliases, or raise --max-nodes");
            return std::nullopt;
        }
        boost::json::value result = Convert(root, 0);
        if (stopped_) {
            return std::nullopt;
        }
        return result;
    }

private:
    static std::vector<YAML::Node> Children(const YAML::Node& node) {
        std::vector<YAML::Node> children;
        if (node.IsSequence()) {
            for (const auto& item : node) {
                children.push_back(item);
            }
        } else if (node.IsMap()) {
            for (const auto& entry : node) {
                children.push_back(entry.second);
            }
        }
        return children;
    }

    std::size_t ExpandedSize(const YAML::Node& node, std::size_t depth) {
        if (depth > limits_.max_depth) {
            return 1;  // Convert reports the depth
        }
        // Nodes of different types can share a position (a map and its first key); keep them apart.
        const std::int64_t position =
            node.Mark().pos < 0 ? -1 : std::int64_t{node.Mark().pos} * 8 + static_cast<int>(node.Type());
        if (const auto known = sizes_.find(position); position >= 0 && known != sizes_.end()) {
            return known->second;
        }
        std::size_t size = 1;
        if (node.IsSequence()) {
            for (const auto& item : node) {
                size = std::min(size + ExpandedSize(item, depth + 1), limits_.max_nodes + 1);
            }
        } else if (node.IsMap()) {
            for (const auto& entry : node) {
                size = std::min(size + 1 + ExpandedSize(entry.second, depth + 1), limits_.max_nodes + 1);
            }
        }
        if (position >= 0) {
            sizes_[position] = size;
        }
        return size;
    }

    boost::json::value Convert(const YAML::Node& node, std::size_t depth) {
        if (stopped_) {
            return nullptr;
        }
        if (++visited_ > limits_.max_nodes) {
            diagnostics_.Error("too-many-nodes", LocationOf(node, file_),
                               "the document expands to more than " + std::to_string(limits_.max_nodes) + " YAML nodes",
                               "aliases (*name) count each time they are used; use step templates instead of "
                               "nested aliases, or raise --max-nodes");
            stopped_ = true;
            return nullptr;
        }
        if (depth > limits_.max_depth) {
            diagnostics_.Error("too-deep", LocationOf(node, file_),
                               "nesting is deeper than " + std::to_string(limits_.max_depth) + " levels",
                               "raise --max-depth if this is intended");
            stopped_ = true;
            return nullptr;
        }
        switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return nullptr;
        case YAML::NodeType::Scalar:
            return ScalarToJson(node);
        case YAML::NodeType::Sequence: {
            boost::json::array array;
            array.reserve(node.size());
            for (const auto& item : node) {
                array.push_back(Convert(item, depth + 1));
                if (stopped_) {
                    break;
                }
            }
            return array;
        }
        case YAML::NodeType::Map: {
            boost::json::object object;
            object.reserve(node.size());
            // Line of each key's first appearance, for the duplicate-key message.
            std::unordered_map<std::string, int> first_key_lines;
            for (const auto& entry : node) {
                const YAML::Node& key = entry.first;
                if (!key.IsScalar()) {
                    diagnostics_.Error("bad-key", LocationOf(key, file_), "mapping keys must be plain names",
                                       "complex keys ('? ' or a list used as a key) are not allowed");
                    continue;
                }
                const std::string& name = key.Scalar();
                auto [position, inserted] = object.emplace(name, nullptr);
                if (!inserted) {
                    const auto first = first_key_lines.find(name);
                    diagnostics_.Error("duplicate-key", LocationOf(key, file_),
                                       "duplicate key '" + name + "'" +
                                           (first != first_key_lines.end()
                                                ? " (first defined at line " + std::to_string(first->second) + ")"
                                                : std::string()),
                                       "each key may appear once in a mapping; step ids must be unique");
                    continue;
                }
                first_key_lines[name] = key.Mark().line + 1;
                position->value() = Convert(entry.second, depth + 1);
                if (stopped_) {
                    break;
                }
            }
            return object;
        }
        }
        return nullptr;
    }

    const std::string& file_;
    const LoadLimits& limits_;
    Diagnostics& diagnostics_;
    bool may_have_aliases_;
    std::size_t visited_ = 0;
    bool stopped_ = false;
    std::unordered_map<std::int64_t, std::size_t> sizes_;  // expanded size by source position
};

// The 1-based line of a "---" marker that starts a second document, or 0.
int SecondDocumentLine(std::string_view text) {
    bool content_seen = false;
    int line_number = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        std::string_view line = text.substr(start, end - start);
        ++line_number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const bool marker = line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
        if (marker && content_seen) {
            return line_number;
        }
        const std::size_t first = line.find_first_not_of(" \t");
        if (!marker && first != std::string_view::npos && line[first] != '#' && line[0] != '%') {
            content_seen = true;
        }
        if (marker && line.size() > 4 && line.find_first_not_of(" \t", 3) != std::string_view::npos &&
            line[line.find_first_not_of(" \t", 3)] != '#') {
            content_seen = true;  // "--- value" starts the first document with content
        }
        start = end + 1;
    }
    return 0;
}

}  // namespace

SourceLocation LocationOf(const YAML::Node& node, const std::string& file) {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) {
        return {file, 0, 0};
    }
    return {file, mark.line + 1, mark.column + 1};
}

void ReportFileTooLarge(const std::string& file, const LoadLimits& limits, Diagnostics& diagnostics) {
    diagnostics.Error("file-too-large", {file, 0, 0},
                      "file is larger than the limit of " + FormatBytes(limits.max_file_size),
                      "raise --max-file-size if this is intended");
}

std::optional<std::string> ReadSourceFile(const std::string& path, const LoadLimits& limits, Diagnostics& diagnostics) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
        diagnostics.Error("cannot-read", {path, 0, 0}, "is a directory, not a file");
        return std::nullopt;
    }
    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        diagnostics.Error("cannot-read", {path, 0, 0}, "cannot open file: " + std::string(std::strerror(errno)));
        return std::nullopt;
    }
    // Read at most one byte past the limit: works for pipes and devices too.
    std::string text;
    text.resize(limits.max_file_size + 1);
    stream.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(stream.gcount()));
    if (text.size() > limits.max_file_size) {
        ReportFileTooLarge(path, limits, diagnostics);
        return std::nullopt;
    }
    if (stream.bad()) {
        diagnostics.Error("cannot-read", {path, 0, 0}, "read error");
        return std::nullopt;
    }
    return text;
}

bool CheckUtf8(std::string_view text, const std::string& file, Diagnostics& diagnostics) {
    int line = 1;
    int column = 1;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t code_point = 0;
        if (lead < 0x80) {
            length = 1;
            code_point = lead;
        } else if ((lead & 0xE0) == 0xC0) {
            length = 2;
            code_point = lead & 0x1Fu;
        } else if ((lead & 0xF0) == 0xE0) {
            length = 3;
            code_point = lead & 0x0Fu;
        } else if ((lead & 0xF8) == 0xF0) {
            length = 4;
            code_point = lead & 0x07u;
        }
        bool valid = length != 0 && i + length <= text.size();
        for (std::size_t k = 1; valid && k < length; ++k) {
            const auto continuation = static_cast<unsigned char>(text[i + k]);
            valid = (continuation & 0xC0) == 0x80;
            code_point = (code_point << 6) | (continuation & 0x3Fu);
        }
        if (valid) {
            // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
            static constexpr std::uint32_t kMinimumForLength[] = {0, 0, 0x80, 0x800, 0x10000};
            valid = code_point >= kMinimumForLength[length] && code_point <= 0x10FFFF &&
                    !(code_point >= 0xD800 && code_point <= 0xDFFF);
        }
        if (!valid) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", lead);
            diagnostics.Error("invalid-utf8", {file, line, column}, std::string("invalid UTF-8 (byte ") + hex + ")",
                              "save the file as UTF-8; GBK/GB18030 files must be converted first");
            return false;
        }
        if (code_point == 0) {
            diagnostics.Error("invalid-character", {file, line, column}, "NUL character in text");
            return false;
        }
        if (code_point == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
        i += length;
    }
    return true;
}

std::optional<YAML::Node> ParseYaml(const std::string& text, const std::string& file, Diagnostics& diagnostics) {
    try {
        // YAML::LoadAll loops forever on stray flow indicators (", a]"), so the
        // first document is loaded with Load and a second one found by its
        // "---" marker, which YAML only allows at the start of a line.
        if (const int second = SecondDocumentLine(text); second > 0) {
            diagnostics.Error("several-documents", {file, second, 1}, "the file holds more than one YAML document",
                              "a workflow is one document: remove the '---' separator and what follows, or split "
                              "the file");
            return std::nullopt;
        }
        YAML::Node root = YAML::Load(text);
        if (!root.IsDefined() || root.IsNull()) {
            // yaml-cpp reads a document that opens with a stray ',' ']' or '}' as empty.
            int line = 1;
            std::size_t start = 0;
            while (start < text.size()) {
                const std::size_t end = std::min(text.find('\n', start), text.size());
                const std::string_view content = std::string_view(text).substr(start, end - start);
                const std::size_t first = content.find_first_not_of(" \t\r");
                if (first != std::string_view::npos && content[first] != '#' && content.rfind("---", 0) != 0 &&
                    content[first] != '%' && content.substr(first) != "~" && content.substr(first) != "null") {
                    diagnostics.Error("yaml-syntax", {file, line, CodePoints(content, first) + 1},
                                      "YAML syntax: no document can be read from here",
                                      "look for a stray ',', ']' or '}' at the start");
                    return std::nullopt;
                }
                start = end + 1;
                ++line;
            }
            diagnostics.Error("empty-document", {file, 1, 1}, "the file holds no YAML document");
            return std::nullopt;
        }
        return root;
    } catch (const YAML::ParserException& error) {
        // yaml-cpp messages are lower-case phrases already ("end of map not found").
        SourceLocation location{file, error.mark.line + 1, error.mark.column + 1};
        if (error.mark.line < 0) {
            location = {file, 0, 0};
        }
        diagnostics.Error("yaml-syntax", location, "YAML syntax: " + error.msg);
        return std::nullopt;
    } catch (const YAML::Exception& error) {
        diagnostics.Error("yaml-syntax", {file, error.mark.line + 1, error.mark.column + 1},
                          "YAML syntax: " + error.msg);
        return std::nullopt;
    }
}

std::optional<boost::json::value> ToJson(const YAML::Node& root, const std::string& file, const LoadLimits& limits,
                                         Diagnostics& diagnostics, bool may_have_aliases) {
    JsonBuilder builder(file, limits, diagnostics, may_have_aliases);
    return builder.Build(root);
}

std::optional<YAML::Node> FindValue(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) {
        return std::nullopt;
    }
    for (const auto& entry : map) {
        if (entry.first.IsScalar() && entry.first.Scalar() == key) {
            return entry.second;
        }
    }
    return std::nullopt;
}

std::optional<YAML::Node> FindKeyNode(const YAML::Node& map, std::string_view key) {
    if (map.IsMap()) {
        for (const auto& entry : map) {
            if (entry.first.IsScalar() && entry.first.Scalar() == key) {
                return entry.first;
            }
        }
    }
    return std::nullopt;
}

YAML::Node FindByContext(const YAML::Node& root, const std::vector<std::string>& context, bool* complete) {
    YAML::Node current = root;
    if (complete != nullptr) {
        *complete = true;
    }
    for (std::size_t i = 1; i < context.size(); ++i) {
        const std::string& segment = context[i];
        if (segment.size() < 2 || segment.front() != '[' || segment.back() != ']') {
            break;
        }
        const std::string key = segment.substr(1, segment.size() - 2);
        YAML::Node next;
        bool found = false;
        if (current.IsMap()) {
            for (const auto& entry : current) {
                if (entry.first.IsScalar() && entry.first.Scalar() == key) {
                    next = entry.second;
                    found = true;
                    break;
                }
            }
        } else if (current.IsSequence()) {
            std::size_t index = 0;
            const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), index);
            if (error == std::errc() && end == key.data() + key.size() && index < current.size()) {
                next = current[index];
                found = true;
            }
        }
        if (!found) {
            if (complete != nullptr) {
                *complete = false;
            }
            break;
        }
        current.reset(next);
    }
    return current;
}

bool IsPlainScalar(const YAML::Node& node) {
    return node.IsScalar() && node.Tag() == "?";
}

SourceLocation LocationInScalar(const YAML::Node& scalar, std::size_t offset, std::string_view source_text,
                                const std::string& file) {
    SourceLocation base = LocationOf(scalar, file);
    if (base.line == 0) {
        return base;
    }
    const std::string& value = scalar.Scalar();
    const std::string_view line = LineOf(source_text, base.line - 1);
    const std::size_t start_byte = ByteOfColumn(line, base.column - 1);
    const char style = start_byte < line.size() ? line[start_byte] : ' ';
    if (style == '|' || style == '>') {
        // Block scalar: content starts on the next line at its own indentation.
        const std::size_t before = std::min(offset, value.size());
        const auto newlines = std::count(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(before), '\n');
        const std::size_t line_start = value.rfind('\n', before == 0 ? 0 : before - 1);
        const std::size_t in_line_start = (line_start == std::string::npos || before == 0) ? 0 : line_start + 1;
        const int content_line = base.line + 1 + static_cast<int>(newlines);
        const std::string_view content = LineOf(source_text, content_line - 1);
        const std::size_t indent = content.find_first_not_of(' ');
        const std::string_view value_line = std::string_view(value).substr(in_line_start);
        return {file, content_line,
                static_cast<int>(indent == std::string_view::npos ? 0 : indent) + 1 +
                    CodePoints(value_line, before - in_line_start)};
    }
    const int quote = (style == '"' || style == '\'') ? 1 : 0;
    return base.Shifted(quote + CodePoints(value, offset));
}

}  // namespace cascade::lang::detail
