// my-notifier: a Cascade notifier that appends one line per notification to a
// file. The example plugin of the plugin guide: a class derived from
// cascade::sdk::Plugin, its config read in the constructor, Notify and
// SelfTest overridden, and CASCADE_PLUGIN naming it as the manifest does.
//
// A line holds, separated by tabs: the date, the event, the instance, the
// step, who it goes to, the message (or the step's title), and the
// idempotency key.
#include <cascade/sdk.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;

// object[key] when it is a string; empty otherwise.
std::string Text(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

// A {"zh": ..., "en": ...} text in `locale`, or in the other language when
// that one is missing.
std::string Localized(const json::object& object, std::string_view key, const std::string& locale) {
    const auto* value = object.if_contains(key);
    if (value == nullptr || !value->is_object()) {
        return Text(object, key);
    }
    std::string text = Text(value->as_object(), locale);
    return text.empty() ? Text(value->as_object(), locale == "zh" ? "en" : "zh") : text;
}

// "张三 <t01@example.gov.cn>, 李四": the people a notification is addressed to.
std::string Recipients(const json::object& payload) {
    const auto* to = payload.if_contains("to");
    const auto* people = to != nullptr && to->is_object() ? to->as_object().if_contains("people") : nullptr;
    if (people == nullptr || !people->is_array()) {
        return {};
    }
    std::string list;
    for (const auto& person : people->as_array()) {
        if (!person.is_object())
            continue;
        std::string entry = Text(person.as_object(), "name");
        if (const std::string contact = Text(person.as_object(), "contact"); !contact.empty()) {
            entry += (entry.empty() ? "<" : " <") + contact + ">";
        }
        list += (list.empty() ? "" : ", ") + entry;
    }
    return list;
}

// Tabs and line breaks would split a field or a line: replace them.
std::string Field(std::string text) {
    for (char& c : text) {
        if (c == '\t' || c == '\n' || c == '\r')
            c = ' ';
    }
    return text;
}

class MyNotifier : public cascade::sdk::Plugin {
public:
    // The config was checked against manifest.json's schema already, so the
    // fields have the right types; only defaults are filled in here.
    MyNotifier(cascade::sdk::Host host, json::object config) : Plugin(host, std::move(config)) {
        path_ = Text(this->config(), "path");
        if (path_.empty())
            path_ = "my-notifier.log";
        locale_ = Text(this->config(), "locale");
        if (locale_.empty())
            locale_ = "en";
    }

    Result Notify(const json::object& params) override {
        const std::string key = Text(params, "key");
        if (key.empty()) {
            return Result::Error("notify: the params have no idempotency key");
        }
        // The engine delivers at least once: a retry of a notification that
        // was written already must not write it again.
        if (AlreadyWritten(key)) {
            host().Log(LogLevel::debug, "already written: " + key);
            return Result::Ok(json::object{{"id", key}});
        }
        const auto* value = params.if_contains("payload");
        const json::object payload = value != nullptr && value->is_object() ? value->as_object() : json::object{};
        std::string message = Localized(payload, "message", locale_);
        if (message.empty())
            message = Localized(payload, "step_title", locale_);

        const std::string line = Field(Text(payload, "on")) + '\t' + Field(Text(payload, "event")) + '\t' +
                                 Field(Text(payload, "instance")) + '\t' + Field(Text(payload, "step")) + '\t' +
                                 Field(Recipients(payload)) + '\t' + Field(message) + '\t' + Field(key);
        std::ofstream file(path_, std::ios::app);
        if (!(file << line << '\n' << std::flush)) {
            // A full disk or a folder being remounted passes: let the engine try again later.
            return Result::Retry("cannot append to " + path_);
        }
        return Result::Ok(json::object{{"id", key}});
    }

    // Checks the file can be written, without creating it.
    Result SelfTest() override {
        namespace fs = std::filesystem;
        std::error_code error;
        const fs::path path(path_);
        const bool exists = fs::exists(path, error);
        const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
        const bool writable = exists ? ::access(path.c_str(), W_OK) == 0 : ::access(folder.c_str(), W_OK) == 0;
        if (!writable) {
            return Result::Error("cannot write " + path_ + (exists ? "" : " (its folder is not writable)"));
        }
        return Result::Ok(json::object{
            {"checks", json::array{json::object{{"name", "file writable"}, {"ok", true}, {"detail", path_}}}}});
    }

private:
    // Whether a line already ends with this key (a linear scan: fine for a log
    // kept per campaign; a plugin talking to a server sends the key instead).
    bool AlreadyWritten(const std::string& key) const {
        std::ifstream file(path_);
        const std::string suffix = '\t' + Field(key);
        for (std::string line; std::getline(file, line);) {
            if (line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0) {
                return true;
            }
        }
        return false;
    }

    std::string path_;
    std::string locale_;
};

}  // namespace

CASCADE_PLUGIN(MyNotifier, "my-notifier")
