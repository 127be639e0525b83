// The common shape of a report plugin: reads the shared config (title,
// locale, templates_dir, file_name, output_dir), turns `report` params into a
// ReportData, picks the folder, and lets the concrete reporter write its
// files. Failures become the protocol's outcomes: bad params, an unwritable
// folder or a broken template are ERROR with a message naming the field,
// folder or file; a full disk is RETRY.
#pragma once

#include "cascade/report/model.hpp"
#include "cascade/report/output.hpp"
#include "cascade/report/template.hpp"
#include "cascade/report/text.hpp"
#include "cascade/sdk.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::report {

// The declaration's config, common to every reporter.
struct Settings {
    std::optional<std::string> title;
    std::optional<Locale> locale;
    std::optional<std::filesystem::path> templates_dir;
    std::string file_name = "report";
    std::optional<std::filesystem::path> output_dir;
};

// Reads the config; throws std::invalid_argument naming the key, which refuses the declaration.
inline Settings ReadSettings(const json::object& config) {
    Settings settings;
    auto string_of = [&](std::string_view key) -> std::optional<std::string> {
        const json::value* value = config.if_contains(key);
        if (value == nullptr || value->is_null())
            return std::nullopt;
        if (!value->is_string())
            throw std::invalid_argument("config." + std::string(key) + " must be a string");
        return std::string(value->get_string());
    };
    settings.title = string_of("title");
    if (auto locale = string_of("locale")) {
        settings.locale = ParseLocale(*locale);
        if (!settings.locale) {
            throw std::invalid_argument("config.locale must be one of zh, en, zh-CN, en-US, not '" + *locale + "'");
        }
    }
    if (auto dir = string_of("templates_dir")) {
        std::error_code error;
        const std::filesystem::path path = std::filesystem::absolute(*dir, error);
        if (error || !std::filesystem::is_directory(path, error)) {
            throw std::invalid_argument("config.templates_dir '" + *dir + "' is not a folder");
        }
        settings.templates_dir = path;
    }
    if (auto name = string_of("file_name")) {
        if (const std::string problem = CheckBaseName(*name); !problem.empty()) {
            throw std::invalid_argument("config.file_name " + problem);
        }
        settings.file_name = *name;
    }
    if (auto dir = string_of("output_dir")) {
        if (dir->empty())
            throw std::invalid_argument("config.output_dir must not be empty");
        settings.output_dir = *dir;
    }
    return settings;
}

// One report to write: the data, the words to write it in, and where.
struct Job {
    const ReportData& data;
    const Settings& settings;
    Locale locale;
    std::string title;     // the heading: config title, else the campaign's title
    std::string subtitle;  // the campaign's title when the config replaced the heading
    std::filesystem::path out_dir;

    std::string FileName(std::string_view extension) const { return OutputName(settings.file_name, extension); }
    std::string Label(std::string_view key) const { return L(locale, key); }
};

// A built-in template: its file name under templates/ and its embedded text.
struct BuiltinTemplate {
    std::string_view name;
    std::string_view text;
};

class Reporter : public sdk::Plugin {
public:
    Reporter(sdk::Host host, json::object config)
        : sdk::Plugin(host, std::move(config)), settings_(ReadSettings(this->config())) {}

    sdk::Result Report(const json::object& params) override {
        try {
            const ReportData data = ParseReport(params);
            // The declaration pins its locale (a ledger exchanged in Chinese stays Chinese);
            // otherwise the engine's, otherwise Chinese.
            const Locale locale = settings_.locale.value_or(data.locale.value_or(Locale::zh));
            std::string campaign_title = data.campaign.title.In(locale);
            std::string title = settings_.title.value_or(campaign_title);
            if (title.empty())
                title = L(locale, "report_title");
            std::string subtitle = (settings_.title && campaign_title != title) ? campaign_title : std::string();
            const std::filesystem::path out_dir = ResolveOutDir(data.out_dir, settings_.output_dir);
            PrepareOutDir(out_dir);
            const Job job{data, settings_, locale, std::move(title), std::move(subtitle), out_dir};
            json::array files;
            for (const auto& file : Write(job))
                files.emplace_back(file.string());
            host().Log(sdk::LogLevel::info,
                       "wrote " + std::to_string(files.size()) + " file(s) to " + out_dir.string());
            return sdk::Result::Ok(json::object{{"files", std::move(files)}});
        } catch (const ParamsError& error) {
            return sdk::Result::Error(error.what());
        } catch (const TemplateError& error) {
            return sdk::Result::Error(error.what());
        } catch (const OutputError& error) {
            return error.Transient() ? sdk::Result::Retry(error.what()) : sdk::Result::Error(error.what());
        }
    }

    sdk::Result SelfTest() override {
        json::array checks;
        for (const BuiltinTemplate& builtin : Templates()) {
            json::object check{{"name", "template " + std::string(builtin.name)}};
            try {
                const TemplateText source = LoadTemplate(settings_.templates_dir, builtin.name, builtin.text);
                const std::string problem = CheckTemplate(source);
                check["ok"] = problem.empty();
                check["detail"] = problem.empty() ? source.origin : source.origin + ": " + problem;
            } catch (const TemplateError& error) {
                check["ok"] = false;
                check["detail"] = error.what();
            }
            checks.push_back(std::move(check));
        }
        if (settings_.output_dir) {
            std::error_code error;
            const auto dir = std::filesystem::absolute(*settings_.output_dir, error);
            checks.push_back(json::object{{"name", "output_dir"}, {"ok", !error}, {"detail", dir.string()}});
        }
        for (auto& check : ExtraChecks())
            checks.push_back(std::move(check));
        return sdk::Result::Ok(json::object{{"checks", std::move(checks)}});
    }

protected:
    // Writes the report's files into job.out_dir (atomically) and returns their absolute paths.
    virtual std::vector<std::filesystem::path> Write(const Job& job) = 0;
    // The templates this reporter renders, checked by self_test.
    virtual std::vector<BuiltinTemplate> Templates() const { return {}; }
    virtual std::vector<json::object> ExtraChecks() const { return {}; }

    TemplateText Template(const BuiltinTemplate& builtin) const {
        return LoadTemplate(settings_.templates_dir, builtin.name, builtin.text);
    }

private:
    Settings settings_;
};

}  // namespace cascade::report
