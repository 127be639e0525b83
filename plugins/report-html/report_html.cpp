// report-html: the campaign's progress as one self-contained HTML page —
// inline SVG charts (stage progress by unit category, units most overdue,
// the problem-list burn-down), a table per stage and the totals. The page
// loads nothing from elsewhere, so it can be mailed or opened offline.
#include "svg_charts.hpp"

#include "cascade/report/context.hpp"
#include "cascade/report/reporter.hpp"
#include "cascade/sdk.hpp"

#include <filesystem>
#include <string>
#include <vector>

CASCADE_REPORT_EMBED(cascade_report_html_template, "report.html.mustache");

namespace cascade::report::html {
namespace {

constexpr std::string_view kTemplateName = "report.html.mustache";
constexpr std::size_t kTopUnits = 20;

class ReportHtml final : public Reporter {
public:
    using Reporter::Reporter;

protected:
    std::vector<BuiltinTemplate> Templates() const override { return {{kTemplateName, cascade_report_html_template}}; }

    std::vector<std::filesystem::path> Write(const Job& job) override {
        json::object context = BuildContext(job, kTopUnits);
        // Pre-rendered SVG, inserted unescaped with {{{charts.*}}}; false hides a chart.
        auto chart = [](const std::string& svg) { return svg.empty() ? json::value(false) : json::value(svg); };
        context["charts"] = json::object{{"progress", chart(ProgressChart(job.data, job.locale))},
                                         {"overdue", chart(OverdueChart(job.data, job.locale, kTopUnits))},
                                         {"burndown", chart(BurndownChart(job.data, job.locale))}};
        const std::string page = RenderTemplate(Template(Templates().front()), context);
        return {WriteFileAtomically(job.out_dir, job.FileName(".html"), page)};
    }
};

}  // namespace
}  // namespace cascade::report::html

CASCADE_PLUGIN(cascade::report::html::ReportHtml, "report-html")
