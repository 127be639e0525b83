// report-csv: the progress of every unit in every stage as one long-format
// CSV file — one row per (unit, stage) with the counts — which a pivot table
// in Excel or WPS turns into any cross-tab an office needs, and which other
// systems import without knowing the campaign's stages in advance.
// UTF-8 with a byte order mark (so Excel detects the encoding of Chinese
// text), CRLF line ends and RFC 4180 quoting.
#include "cascade/report/reporter.hpp"
#include "cascade/sdk.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace cascade::report::csv {
namespace {

// One field, quoted when RFC 4180 requires it. Text that a spreadsheet
// would run as a formula (=, +, -, @ first) gets a leading apostrophe: unit
// names are user input, and a name must never execute in an office's Excel.
std::string Field(std::string_view text, bool is_text = true) {
    std::string value(text);
    if (is_text && !value.empty() &&
        (value.front() == '=' || value.front() == '+' || value.front() == '-' || value.front() == '@' ||
         value.front() == '\t' || value.front() == '\r')) {
        value.insert(value.begin(), '\'');
    }
    if (value.find_first_of(",\"\r\n") == std::string::npos)
        return value;
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"')
            quoted += '"';
        quoted += c;
    }
    return quoted + "\"";
}

// The share of done steps in percent with one decimal ("83.3"), empty when nothing applies.
std::string Percent(const Counts& counts) {
    const auto share = Share(counts.done, counts.applicable);
    if (!share)
        return {};
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.1f", *share * 100.0 + 1e-9);
    return buffer.data();
}

class ReportCsv final : public Reporter {
public:
    using Reporter::Reporter;

protected:
    std::vector<std::filesystem::path> Write(const Job& job) override {
        const ReportData& data = job.data;
        std::string out = "\xEF\xBB\xBF";  // UTF-8 byte order mark
        const std::vector<std::string> header = {
            job.Label("unit_id"),    job.Label("unit_name"), job.Label("category"), job.Label("stage"),
            job.Label("applicable"), job.Label("done"),      job.Label("overdue"),  job.Label("percent_done") + " (%)"};
        AppendRow(out, header);
        for (const Unit& unit : data.units) {
            // Stages in workflow order (ParseReport appends stages the params did not list).
            for (const Stage& stage : data.stages) {
                const auto found = unit.stages.find(stage.id);
                if (found == unit.stages.end() || found->second.applicable == 0)
                    continue;
                const Counts& counts = found->second;
                AppendRow(out,
                          {Field(unit.id), Field(unit.name), Field(data.CategoryTitle(unit.category, job.locale)),
                           Field(data.StageTitle(stage.id, job.locale)), std::to_string(counts.applicable),
                           std::to_string(counts.done), std::to_string(counts.overdue), Percent(counts)},
                          false);
            }
        }
        return {WriteFileAtomically(job.out_dir, job.FileName(".csv"), out)};
    }

private:
    // Appends one record; `quote` quotes raw fields (the header), else they are ready.
    static void AppendRow(std::string& out, const std::vector<std::string>& fields, bool quote = true) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i > 0)
                out += ',';
            out += quote ? Field(fields[i]) : fields[i];
        }
        out += "\r\n";
    }
};

}  // namespace
}  // namespace cascade::report::csv

CASCADE_PLUGIN(cascade::report::csv::ReportCsv, "report-csv")
