// Mustache templates for the text reports: the built-in ones are compiled
// into the plugin (an installed plugin has no source tree to read them from),
// and an administrator may override any of them with a file of the same name
// in the declaration's templates_dir. Contexts are built as JSON, which keeps
// them printable and documents what a template may use.
#pragma once

#include <boost/json.hpp>
#include <kainjow/mustache.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

// Embeds templates/<file_name> of the plugin being built as the NUL-terminated
// array `symbol` (read-only data of the plugin library). The folder comes from
// CASCADE_REPORT_TEMPLATE_DIR, which the cascade_report_common target sets to
// the consuming plugin's templates/ folder. Use at namespace scope.
// `symbol` is a name, not an expression: it cannot take parentheses.
// clang-format off
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CASCADE_REPORT_EMBED(symbol, file_name)                                   \
    extern "C" __attribute__((visibility("hidden"))) const char symbol[];         \
    __asm__(".pushsection .rodata.cascade_template." #symbol ",\"a\",@progbits\n" \
            ".global " #symbol "\n"                                               \
            ".hidden " #symbol "\n"                                               \
            ".type " #symbol ", @object\n"                                        \
            #symbol ":\n"                                                         \
            ".incbin \"" CASCADE_REPORT_TEMPLATE_DIR "/" file_name "\"\n"         \
            ".byte 0\n"                                                           \
            ".size " #symbol ", . - " #symbol "\n"                                \
            ".popsection\n")
// NOLINTEND(bugprone-macro-parentheses)
// clang-format on

namespace cascade::report {

namespace json = boost::json;
using Mustache = kainjow::mustache::mustache;
using MustacheData = kainjow::mustache::data;

// A template that cannot be read or does not parse; the message names the file.
class TemplateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TemplateText {
    std::string text;
    std::string origin;  // the override's path, or "built-in <name>"
};

// The template `name`: templates_dir/name when that file exists, else the built-in text.
inline TemplateText LoadTemplate(const std::optional<std::filesystem::path>& templates_dir, std::string_view name,
                                 std::string_view builtin) {
    if (templates_dir) {
        const std::filesystem::path file = *templates_dir / std::string(name);
        std::error_code error;
        if (std::filesystem::exists(file, error)) {
            std::ifstream in(file, std::ios::binary);
            std::ostringstream text;
            text << in.rdbuf();
            if (!in.good() && !in.eof())
                throw TemplateError("cannot read the template '" + file.string() + "'");
            return {text.str(), file.string()};
        }
    }
    return {std::string(builtin), "built-in " + std::string(name)};
}

// JSON → mustache data: objects and arrays map over; strings stay; numbers
// become their JSON text; null and false are false (a section that hides).
inline MustacheData ToMustache(const json::value& value) {
    switch (value.kind()) {
    case json::kind::object: {
        MustacheData data{MustacheData::type::object};
        for (const auto& [key, item] : value.get_object())
            data.set(std::string(key), ToMustache(item));
        return data;
    }
    case json::kind::array: {
        MustacheData data{MustacheData::type::list};
        for (const auto& item : value.get_array())
            data.push_back(ToMustache(item));
        return data;
    }
    case json::kind::string:
        return MustacheData{std::string(value.get_string())};
    case json::kind::bool_:
        return MustacheData{value.get_bool()};
    case json::kind::null:
        return MustacheData{false};
    default:
        return MustacheData{json::serialize(value)};
    }
}

// Renders `source` with `context`. `escape` replaces mustache's HTML escaping
// of {{name}} (empty function: keep HTML escaping).
inline std::string RenderTemplate(const TemplateText& source, const json::value& context,
                                  const std::function<std::string(const std::string&)>& escape = {}) {
    Mustache view{source.text};
    if (!view.is_valid())
        throw TemplateError("template " + source.origin + " is invalid: " + view.error_message());
    if (escape)
        view.set_custom_escape(escape);
    std::string output = view.render(ToMustache(context));
    if (!view.is_valid())
        throw TemplateError("template " + source.origin + " failed: " + view.error_message());
    return output;
}

// Checks that a template parses, for self_test. Empty when it does, else the problem.
inline std::string CheckTemplate(const TemplateText& source) {
    Mustache view{source.text};
    return view.is_valid() ? std::string() : view.error_message();
}

}  // namespace cascade::report
