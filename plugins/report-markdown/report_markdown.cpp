// report-markdown: a short Markdown summary of the campaign (overview, progress
// by stage and category, the units most behind, the problem list) from a
// mustache template, for pasting into a briefing or a work report.
#include "cascade/report/context.hpp"
#include "cascade/report/reporter.hpp"
#include "cascade/sdk.hpp"

#include <filesystem>
#include <string>
#include <vector>

CASCADE_REPORT_EMBED(cascade_report_markdown_template, "report.md.mustache");

namespace cascade::report::markdown {
namespace {

constexpr std::string_view kTemplateName = "report.md.mustache";
constexpr std::size_t kTopUnits = 10;

// Escapes data for Markdown text and table cells: unit names are user input,
// and a "|" or "*" in one must not break a table or start emphasis. Line
// breaks become spaces so a value stays on its table row.
std::string EscapeMarkdown(const std::string& text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (const char c : text) {
        switch (c) {
        case '\\':
        case '`':
        case '*':
        case '_':
        case '[':
        case ']':
        case '<':
        case '>':
        case '|':
        case '#':
        case '~':
        case '!':
        case '&':
            out += '\\';
            out += c;
            break;
        case '\r':
        case '\n':
        case '\t':
            out += ' ';
            break;
        default:
            out += c;
        }
    }
    return out;
}

// Sections that render nothing leave their lines' breaks behind; Markdown
// needs at most one blank line anywhere, so runs of them shrink to one.
std::string TidyBlankLines(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    std::size_t newlines = 0;
    for (const char c : text) {
        if (c == '\n') {
            if (++newlines > 2)
                continue;
        } else if (c != '\r') {
            newlines = 0;
        }
        out += c;
    }
    return out;
}

class ReportMarkdown final : public Reporter {
public:
    using Reporter::Reporter;

protected:
    std::vector<BuiltinTemplate> Templates() const override {
        return {{kTemplateName, cascade_report_markdown_template}};
    }

    std::vector<std::filesystem::path> Write(const Job& job) override {
        const json::object context = BuildContext(job, kTopUnits);
        const std::string text = TidyBlankLines(RenderTemplate(Template(Templates().front()), context, EscapeMarkdown));
        return {WriteFileAtomically(job.out_dir, job.FileName(".md"), text)};
    }
};

}  // namespace
}  // namespace cascade::report::markdown

CASCADE_PLUGIN(cascade::report::markdown::ReportMarkdown, "report-markdown")
