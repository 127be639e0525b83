// notify-email: sends each notification as one UTF-8 mail over SMTP (libcurl:
// smtp://, smtps://, STARTTLS). Subject and body come from mustache templates
// chosen by the payload's template name, then its event, then "default", in
// the configured language; files in templates_dir override the built-in
// templates, which are compiled into the plugin so an installed copy needs no
// files beside it.
//
// The engine's idempotency key becomes the Message-ID, so a retried delivery
// is recognisably the same mail. SMTP 4xx answers and connection failures are
// transient (RETRY); 5xx answers are permanent (ERROR).
#include <cascade/sdk.hpp>

#include "builtin_templates.hpp"

#include <curl/curl.h>
#include <kainjow/mustache.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
namespace mustache = kainjow::mustache;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;

constexpr std::chrono::milliseconds kDefaultTimeout{10'000};
constexpr std::chrono::milliseconds kMaxTimeout{10 * 60'000};
constexpr std::string_view kTemplateSuffix = ".mustache";
// The built-in template names, each present in every language.
constexpr std::string_view kBuiltinNames[] = {"due-reminder", "overdue", "escalated", "returned", "default"};

struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using StringList = std::unique_ptr<curl_slist, SlistDeleter>;

void InitCurlOnce() {
    static const CURLcode init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init_result != CURLE_OK) {
        throw std::runtime_error(std::string("libcurl cannot start: ") + curl_easy_strerror(init_result));
    }
}

std::string_view Trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string Lower(std::string_view text) {
    std::string lowered(text);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lowered;
}

bool IsAscii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// "500ms", "10s", "2m" (the schema's pattern) to a duration.
std::chrono::milliseconds ParseDuration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
        ++digits;
    }
    const std::string_view unit = text.substr(digits);
    if (digits == 0 || digits > 9 || (unit != "ms" && unit != "s" && unit != "m")) {
        throw std::invalid_argument("smtp.timeout '" + std::string(text) + "' is not a duration like 500ms, 10s or 1m");
    }
    const long long number = std::stoll(std::string(text.substr(0, digits)));
    const long long factor = unit == "ms" ? 1 : unit == "s" ? 1000 : 60'000;
    return std::chrono::milliseconds{number * factor};
}

// ---- addresses

// An addr-spec we are willing to hand to an SMTP server: ASCII, one '@', a
// dotted domain, nothing that needs quoting.
bool IsEmailAddress(std::string_view text) {
    const auto at = text.find('@');
    if (at == std::string_view::npos || at == 0 || text.find('@', at + 1) != std::string_view::npos) {
        return false;
    }
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte >= 0x7f || std::string_view("<>()[]\\,;:\"").find(c) != std::string_view::npos) {
            return false;
        }
    }
    const std::string_view domain = text.substr(at + 1);
    const auto dot = domain.find('.');
    return dot != std::string_view::npos && dot != 0 && domain.back() != '.' &&
           domain.find("..") == std::string_view::npos;
}

struct Mailbox {
    std::string name;  // may be empty
    std::string address;
};

// "Name <user@example.org>", "<user@example.org>" or "user@example.org".
std::optional<Mailbox> ParseMailbox(std::string_view text) {
    text = Trim(text);
    Mailbox mailbox;
    if (!text.empty() && text.back() == '>') {
        const auto open = text.rfind('<');
        if (open == std::string_view::npos) {
            return std::nullopt;
        }
        mailbox.address = std::string(Trim(text.substr(open + 1, text.size() - open - 2)));
        std::string_view name = Trim(text.substr(0, open));
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        }
        mailbox.name = std::string(name);
    } else {
        mailbox.address = std::string(text);
    }
    if (!IsEmailAddress(mailbox.address) || mailbox.name.find_first_of("\r\n") != std::string::npos) {
        return std::nullopt;
    }
    return mailbox;
}

// ---- MIME encoding

std::string Base64(std::string_view data) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16 |
                       static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8 |
                       static_cast<unsigned>(static_cast<unsigned char>(data[i + 2]));
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i < data.size()) {
        auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16;
        if (i + 1 < data.size()) {
            n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8;
        }
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// Length of the UTF-8 sequence a lead byte starts (1 for a stray byte, so a
// malformed text is still split somewhere).
std::size_t Utf8Length(unsigned char lead) {
    if (lead >= 0xf0 && lead <= 0xf4)
        return 4;
    if (lead >= 0xe0)
        return lead <= 0xef ? 3 : 1;
    if (lead >= 0xc2)
        return 2;
    return 1;
}

// RFC 2047 encoded words (B encoding), each at most 75 characters and never
// splitting a character, folded onto continuation lines.
std::string EncodeWords(std::string_view text) {
    constexpr std::size_t kMaxBytesPerWord = 45;  // 60 base64 characters + "=?UTF-8?B?" + "?="
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = start;
        while (end < text.size()) {
            const std::size_t next = end + Utf8Length(static_cast<unsigned char>(text[end]));
            if (next - start > kMaxBytesPerWord) {
                break;
            }
            end = std::min(next, text.size());
        }
        if (end == start) {
            end = std::min(start + kMaxBytesPerWord, text.size());
        }
        if (!out.empty()) {
            out += "\r\n ";
        }
        out += "=?UTF-8?B?" + Base64(text.substr(start, end - start)) + "?=";
        start = end;
    }
    return out;
}

// A header's free text: ASCII stays readable, anything else is encoded.
std::string EncodeText(std::string_view text) {
    if (IsAscii(text) && text.find("=?") == std::string_view::npos && text.size() <= 900) {
        return std::string(text);
    }
    return EncodeWords(text);
}

std::string FormatMailbox(const Mailbox& mailbox) {
    if (mailbox.name.empty()) {
        return "<" + mailbox.address + ">";
    }
    std::string name;
    if (!IsAscii(mailbox.name)) {
        name = EncodeWords(mailbox.name);
    } else if (mailbox.name.find_first_of("()<>[]:;@\\,.\"") != std::string::npos) {
        name = "\"";
        for (const char c : mailbox.name) {
            if (c == '"' || c == '\\') {
                name += '\\';
            }
            name += c;
        }
        name += '"';
    } else {
        name = mailbox.name;
    }
    return name + " <" + mailbox.address + ">";
}

// RFC 5322 date in local time, spelled in English whatever the locale.
std::string MailDate(std::time_t now) {
    static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm local{};
    localtime_r(&now, &local);
    const long offset_minutes = local.tm_gmtoff / 60;
    const long magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    std::array<char, 64> text{};
    std::snprintf(text.data(), text.size(), "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
                  kDays.at(static_cast<std::size_t>(local.tm_wday)).data(), local.tm_mday,
                  kMonths.at(static_cast<std::size_t>(local.tm_mon)).data(), local.tm_year + 1900, local.tm_hour,
                  local.tm_min, local.tm_sec, offset_minutes < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
    return text.data();
}

// The key as the left part of a Message-ID (RFC 5322 dot-atom text).
std::string MessageId(std::string_view key) {
    std::string id;
    id.reserve(key.size());
    for (const char c : key) {
        const bool atext = std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                           std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
        id += atext ? c : '-';
    }
    return "<" + id + "@cascade>";
}

// Text with CRLF line ends, base64 in 76-character lines.
std::string Base64Body(std::string_view text) {
    std::string crlf;
    crlf.reserve(text.size() + text.size() / 16);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            continue;
        }
        if (text[i] == '\n') {
            crlf += "\r\n";
        } else {
            crlf += text[i];
        }
    }
    if (crlf.size() < 2 || crlf.compare(crlf.size() - 2, 2, "\r\n") != 0) {
        crlf += "\r\n";
    }
    const std::string encoded = Base64(crlf);
    std::string out;
    out.reserve(encoded.size() + encoded.size() / 38 + 2);
    for (std::size_t i = 0; i < encoded.size(); i += 76) {
        out.append(encoded, i, 76);
        out += "\r\n";
    }
    return out;
}

// ---- template data

// "2023-11-30" as a reader of `language` writes it; other text unchanged.
std::string FormatDate(std::string_view iso, std::string_view language) {
    static constexpr std::array<std::string_view, 12> kMonths = {"January",   "February", "March",    "April",
                                                                 "May",       "June",     "July",     "August",
                                                                 "September", "October",  "November", "December"};
    if (iso.size() < 10 || iso[4] != '-' || iso[7] != '-') {
        return std::string(iso);
    }
    int year = 0;
    int month = 0;
    int day = 0;
    if (std::sscanf(std::string(iso.substr(0, 10)).c_str(), "%4d-%2d-%2d", &year, &month, &day) != 3 || month < 1 ||
        month > 12 || day < 1 || day > 31) {
        return std::string(iso);
    }
    if (language == "zh") {
        return std::to_string(year) + "年" + std::to_string(month) + "月" + std::to_string(day) + "日";
    }
    return std::to_string(day) + " " + std::string(kMonths.at(static_cast<std::size_t>(month - 1))) + " " +
           std::to_string(year);
}

// {"zh": "...", "en": "..."} to the text of `language` (or the other one);
// a plain string as it is.
std::string Localized(const json::value& value, std::string_view language) {
    if (value.is_string()) {
        return std::string(value.get_string());
    }
    if (!value.is_object()) {
        return {};
    }
    const auto& texts = value.get_object();
    if (const auto* text = texts.if_contains(language); text != nullptr && text->is_string()) {
        return std::string(text->get_string());
    }
    for (const auto& [lang, text] : texts) {
        if (text.is_string() && !text.get_string().empty()) {
            return std::string(text.get_string());
        }
    }
    return {};
}

bool IsLocalizedObject(const json::value& value) {
    if (!value.is_object() || value.get_object().empty()) {
        return false;
    }
    return std::all_of(value.get_object().begin(), value.get_object().end(), [](const auto& member) {
        return member.value().is_string() && (member.key() == "zh" || member.key() == "en" ||
                                              member.key().starts_with("zh-") || member.key().starts_with("en-"));
    });
}

// JSON to mustache data; an empty string stays out so {{#field}} sections
// read as "present and non-empty".
mustache::data ToData(const json::value& value, std::string_view language) {
    switch (value.kind()) {
    case json::kind::string:
        return mustache::data(std::string(value.get_string()));
    case json::kind::bool_:
        return mustache::data(value.get_bool());
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return mustache::data(json::serialize(value));
    case json::kind::array: {
        mustache::data list = mustache::data::type::list;
        for (const auto& item : value.get_array()) {
            list.push_back(ToData(item, language));
        }
        return list;
    }
    case json::kind::object: {
        if (IsLocalizedObject(value)) {
            return mustache::data(Localized(value, language));
        }
        mustache::data object = mustache::data::type::object;
        for (const auto& [key, member] : value.get_object()) {
            if (member.is_null() || (member.is_string() && member.get_string().empty())) {
                continue;
            }
            object.set(std::string(key), ToData(member, language));
        }
        return object;
    }
    case json::kind::null:
        break;
    }
    return mustache::data(false);
}

// ---- templates

// The built-in templates by file name.
const std::map<std::string_view, std::string_view>& BuiltinTemplates() {
    static const std::map<std::string_view, std::string_view> by_file_name = [] {
        std::map<std::string_view, std::string_view> by_name;
        for (const auto& entry : notify_email::kBuiltinTemplates) {
            by_name.emplace(entry.file_name, entry.text);
        }
        return by_name;
    }();
    return by_file_name;
}

std::string TemplateFile(std::string_view name, std::string_view language, std::string_view part) {
    return std::string(name) + "." + std::string(language) + "." + std::string(part) + std::string(kTemplateSuffix);
}

struct Rendered {
    std::string text;
    std::string error;
};

Rendered Render(std::string_view text, const mustache::data& data) {
    mustache::mustache tmpl{std::string(text)};
    // Mail is plain text: values go in as written, not HTML-escaped.
    tmpl.set_custom_escape([](const std::string& value) { return value; });
    if (!tmpl.is_valid()) {
        return {{}, tmpl.error_message()};
    }
    std::string out = tmpl.render(data);
    if (!tmpl.is_valid()) {
        return {{}, tmpl.error_message()};
    }
    return {std::move(out), {}};
}

// Maps an event the engine sends to the built-in template written for it.
std::string_view TemplateForEvent(std::string_view event) {
    if (event == "remind")
        return "due-reminder";
    if (event == "return")
        return "returned";
    if (event == "escalate")
        return "escalated";
    return event;
}

bool IsTemplateName(std::string_view name) {
    return !name.empty() && name.size() <= 100 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
    });
}

class NotifyEmail final : public cascade::sdk::Plugin {
public:
    NotifyEmail(cascade::sdk::Host host, json::object config) : Plugin(host, std::move(config)) {
        InitCurlOnce();
        const json::object& settings = this->config();

        const auto* from = settings.if_contains("from");
        if (from == nullptr || !from->is_string()) {
            throw std::invalid_argument("from is required: \"Name <user@example.org>\" or an address");
        }
        auto sender = ParseMailbox(from->get_string());
        if (!sender) {
            throw std::invalid_argument("from: '" + std::string(from->get_string()) +
                                        "' is not an address like \"Name <user@example.org>\"");
        }
        from_ = std::move(*sender);

        if (const auto* language = settings.if_contains("language")) {
            if (!language->is_string() || (language->get_string() != "zh" && language->get_string() != "en")) {
                throw std::invalid_argument("language must be zh or en");
            }
            language_ = std::string(language->get_string());
        }

        ReadSmtp(settings);

        if (const auto* defaults = settings.if_contains("default_to")) {
            if (!defaults->is_array()) {
                throw std::invalid_argument("default_to must be a list of addresses");
            }
            std::size_t index = 0;
            for (const auto& entry : defaults->get_array()) {
                auto mailbox = entry.is_string() ? ParseMailbox(entry.get_string()) : std::nullopt;
                if (!mailbox) {
                    throw std::invalid_argument("default_to[" + std::to_string(index) + "] is not an email address");
                }
                default_to_.push_back(std::move(*mailbox));
                ++index;
            }
        }

        if (const auto* dir = settings.if_contains("templates_dir")) {
            if (!dir->is_string() || dir->get_string().empty()) {
                throw std::invalid_argument("templates_dir must name a folder");
            }
            templates_dir_ = std::string(dir->get_string());
            LoadOverrides();
        }

        handle_.reset(curl_easy_init());
        if (!handle_) {
            throw std::runtime_error("libcurl cannot create a handle");
        }
    }

    Result Notify(const json::object& params) override {
        const auto* key = params.if_contains("key");
        if (key == nullptr || !key->is_string() || key->get_string().empty()) {
            return Result::Error("notify needs a non-empty string 'key'");
        }
        const auto* payload_value = params.if_contains("payload");
        if (payload_value != nullptr && !payload_value->is_object()) {
            return Result::Error("notify's 'payload' must be an object");
        }
        static const json::object empty_payload;
        const json::object& payload = payload_value != nullptr ? payload_value->get_object() : empty_payload;

        std::vector<Mailbox> recipients;
        std::vector<std::string> names;
        std::string skipped;
        CollectRecipients(payload, recipients, names, skipped);
        if (recipients.empty()) {
            return Result::Error("no recipient with an email address" +
                                 (skipped.empty() ? std::string() : " (skipped: " + skipped + ")"));
        }

        const mustache::data data = TemplateData(params, payload, names);
        const auto chosen = ChooseTemplate(payload);
        if (!chosen) {
            return Result::Error("no template for this notification in language " + language_);
        }
        const Rendered subject = Render(chosen->subject, data);
        if (!subject.error.empty()) {
            return Result::Error("template " + chosen->name + " (subject): " + subject.error);
        }
        const Rendered body = Render(chosen->body, data);
        if (!body.error.empty()) {
            return Result::Error("template " + chosen->name + " (body): " + body.error);
        }

        const std::string message_id = MessageId(key->get_string());
        const std::string message = Compose(recipients, OneLine(subject.text), body.text, message_id, payload);
        Result sent = Send(recipients, message);
        if (sent.status != cascade::sdk::Status::ok) {
            return sent;
        }
        json::array delivered;
        for (const auto& recipient : recipients) {
            delivered.emplace_back(recipient.address);
        }
        return Result::Ok(
            json::object{{"message_id", message_id}, {"recipients", std::move(delivered)}, {"template", chosen->name}});
    }

    // Checks what can be checked without sending: the sender, the server
    // settings, and that every template renders.
    Result SelfTest() override {
        json::array checks;
        std::string failures;
        const auto add = [&](std::string_view name, bool ok, const std::string& detail) {
            checks.push_back(json::object{{"name", name}, {"ok", ok}, {"detail", detail}});
            if (!ok) {
                failures += (failures.empty() ? "" : "; ") + std::string(name) + ": " + detail;
            }
        };
        add("from", true, FormatMailbox(from_));
        add("smtp", true, url_ + (starttls_ ? " (STARTTLS required)" : ""));
        if (url_.starts_with("smtps://") || starttls_) {
            const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
            const bool has_tls = info != nullptr && (info->features & CURL_VERSION_SSL) != 0;
            add("tls", has_tls, has_tls ? std::string(info->ssl_version) : "libcurl was built without TLS");
        }
        if (!username_.empty()) {
            add("credentials", !password_.empty(), "user " + username_);
        }
        if (!templates_dir_.empty()) {
            std::error_code error;
            const bool readable = fs::is_directory(templates_dir_, error);
            add("templates_dir", readable,
                readable ? templates_dir_ + " (" + std::to_string(overrides_.size()) + " template(s))"
                         : templates_dir_ + " is not a readable folder");
        }

        json::object sample_payload{
            {"event", "remind"},
            {"workflow", "sample"},
            {"instance", "sample/u01"},
            {"unit", "u01"},
            {"unit_name", language_ == "zh" ? "示例单位" : "Sample unit"},
            {"on", "2023-11-20"},
            {"step", "sample_step"},
            {"step_title", json::object{{"zh", "示例事项"}, {"en", "Sample step"}}},
            {"due", "2023-11-30"},
            {"message", json::object{{"zh", "示例说明。"}, {"en", "A sample message."}}},
        };
        const json::object sample_params{{"key", "self-test"}, {"declaration", "self-test"}, {"attempt", 1}};
        const mustache::data data = TemplateData(sample_params, sample_payload, {"张三"});
        std::set<std::string> names(std::begin(kBuiltinNames), std::end(kBuiltinNames));
        for (const auto& [file, text] : overrides_) {
            names.insert(file.substr(0, file.find('.')));
        }
        for (const auto& name : names) {
            for (const std::string_view part : {"subject", "body"}) {
                const std::string file = TemplateFile(name, language_, part);
                const auto text = FindTemplate(file);
                if (!text) {
                    continue;  // an override may exist in another language only
                }
                const Rendered rendered = Render(*text, data);
                const bool ok = rendered.error.empty() && !Trim(rendered.text).empty();
                add("template " + file, ok,
                    !rendered.error.empty() ? rendered.error
                    : ok                    ? "renders"
                                            : "renders to nothing");
            }
        }
        if (!failures.empty()) {
            return Result::Error(failures);
        }
        return Result::Ok(json::object{{"checks", std::move(checks)}});
    }

private:
    struct Chosen {
        std::string name;
        std::string_view subject;  // owned by overrides_ or the built-in table
        std::string_view body;
    };

    void ReadSmtp(const json::object& settings) {
        const auto* smtp_value = settings.if_contains("smtp");
        if (smtp_value == nullptr || !smtp_value->is_object()) {
            throw std::invalid_argument("smtp is required: {host, port, tls | starttls}");
        }
        const json::object& smtp = smtp_value->get_object();
        const auto* host = smtp.if_contains("host");
        if (host == nullptr || !host->is_string() || host->get_string().empty()) {
            throw std::invalid_argument("smtp.host is required");
        }
        const auto flag = [&](std::string_view name) {
            const auto* value = smtp.if_contains(name);
            if (value != nullptr && !value->is_bool()) {
                throw std::invalid_argument("smtp." + std::string(name) + " must be true or false");
            }
            return value != nullptr && value->get_bool();
        };
        const bool tls = flag("tls");
        starttls_ = flag("starttls");
        if (tls && starttls_) {
            throw std::invalid_argument("smtp: choose tls (implicit TLS, port 465) or starttls (port 587), not both");
        }
        std::int64_t port = tls ? 465 : starttls_ ? 587 : 25;
        if (const auto* value = smtp.if_contains("port")) {
            const bool in_range = (value->is_int64() && value->get_int64() >= 1 && value->get_int64() <= 65535) ||
                                  (value->is_uint64() && value->get_uint64() >= 1 && value->get_uint64() <= 65535);
            if (!in_range) {
                throw std::invalid_argument("smtp.port must be a number from 1 to 65535");
            }
            port = value->to_number<std::int64_t>();
        }
        std::string host_name(host->get_string());
        if (host_name.find_first_of("/@ ") != std::string::npos) {
            throw std::invalid_argument("smtp.host '" + host_name + "' is not a host name");
        }
        if (host_name.find(':') != std::string::npos && host_name.front() != '[') {
            host_name = "[" + host_name + "]";  // an IPv6 address
        }
        // The URL's path is the name curl greets the server with (EHLO): the
        // sender's domain says more than "localhost".
        const std::string domain = from_.address.substr(from_.address.find('@') + 1);
        url_ = std::string(tls ? "smtps://" : "smtp://") + host_name + ":" + std::to_string(port) + "/" + domain;

        if (const auto* username = smtp.if_contains("username")) {
            if (!username->is_string()) {
                throw std::invalid_argument("smtp.username must be a string");
            }
            username_ = std::string(username->get_string());
        }
        if (const auto* password_env = smtp.if_contains("password_env")) {
            if (!password_env->is_string()) {
                throw std::invalid_argument("smtp.password_env must name an environment variable");
            }
            if (username_.empty()) {
                throw std::invalid_argument("smtp.password_env needs smtp.username");
            }
            const std::string name(password_env->get_string());
            const char* value = std::getenv(name.c_str());
            if (value == nullptr || value[0] == '\0') {
                throw std::invalid_argument("smtp.password_env: the environment variable " + name +
                                            " is not set or empty");
            }
            password_ = value;
        }
        if (const auto* timeout = smtp.if_contains("timeout")) {
            if (!timeout->is_string()) {
                throw std::invalid_argument("smtp.timeout must be a string like 10s");
            }
            timeout_ = ParseDuration(timeout->get_string());
            if (timeout_.count() <= 0 || timeout_ > kMaxTimeout) {
                throw std::invalid_argument("smtp.timeout must be more than 0 and at most 10m");
            }
        }
    }

    // Reads every *.mustache file of templates_dir once; a template that does
    // not parse refuses the config now rather than failing each delivery.
    void LoadOverrides() {
        std::error_code error;
        if (!fs::is_directory(templates_dir_, error)) {
            throw std::invalid_argument("templates_dir: " + templates_dir_ + " is not a readable folder");
        }
        for (fs::directory_iterator it(templates_dir_, error), end; !error && it != end; it.increment(error)) {
            const fs::path& file = it->path();
            const std::string file_name = file.filename().string();
            if (!file_name.ends_with(kTemplateSuffix) || !it->is_regular_file(error)) {
                continue;
            }
            std::ifstream stream(file, std::ios::binary);
            std::ostringstream text;
            text << stream.rdbuf();
            if (!stream) {
                throw std::invalid_argument("templates_dir: cannot read " + file.string());
            }
            mustache::mustache parsed{text.str()};
            if (!parsed.is_valid()) {
                throw std::invalid_argument("templates_dir: " + file.string() + ": " + parsed.error_message());
            }
            overrides_[file_name] = text.str();
        }
        if (error) {
            throw std::invalid_argument("templates_dir: " + templates_dir_ + ": " + error.message());
        }
    }

    std::optional<std::string_view> FindTemplate(const std::string& file_name) const {
        if (const auto it = overrides_.find(file_name); it != overrides_.end()) {
            return it->second;
        }
        const auto& builtins = BuiltinTemplates();
        if (const auto it = builtins.find(file_name); it != builtins.end()) {
            return it->second;
        }
        return std::nullopt;
    }

    // The payload's template, then its event, then "default": the first name
    // with both a subject and a body (an override before a built-in).
    std::optional<Chosen> ChooseTemplate(const json::object& payload) const {
        std::vector<std::string> candidates;
        const auto consider = [&](std::string_view name) {
            if (IsTemplateName(name) && std::find(candidates.begin(), candidates.end(), name) == candidates.end()) {
                candidates.emplace_back(name);
            }
        };
        for (const std::string_view field : {"template", "event"}) {
            if (const auto* value = payload.if_contains(field); value != nullptr && value->is_string()) {
                consider(value->get_string());
                consider(TemplateForEvent(value->get_string()));
            }
        }
        consider("default");
        for (const auto& name : candidates) {
            const auto subject = FindTemplate(TemplateFile(name, language_, "subject"));
            const auto body = FindTemplate(TemplateFile(name, language_, "body"));
            if (subject && body) {
                return Chosen{name, *subject, *body};
            }
        }
        return std::nullopt;
    }

    // People of payload.to with an email address; the others are logged and
    // skipped. default_to when that leaves no one.
    void CollectRecipients(const json::object& payload, std::vector<Mailbox>& recipients,
                           std::vector<std::string>& names, std::string& skipped) const {
        std::set<std::string> seen;
        bool named_someone = false;
        const json::value* to = payload.if_contains("to");
        const json::value* people = to != nullptr && to->is_object() ? to->get_object().if_contains("people") : nullptr;
        if (people != nullptr && people->is_array()) {
            for (const auto& person : people->get_array()) {
                if (!person.is_object()) {
                    continue;
                }
                named_someone = true;
                const std::string name =
                    Localized(person.get_object().contains("name") ? person.at("name") : nullptr, language_);
                const auto* contact = person.get_object().if_contains("contact");
                const std::string contact_text =
                    contact != nullptr && contact->is_string() ? std::string(contact->get_string()) : std::string();
                auto mailbox = ParseMailbox(contact_text);
                if (!mailbox) {
                    const std::string who = (name.empty() ? std::string("someone") : name) +
                                            (contact_text.empty() ? " (no contact)" : " (" + contact_text + ")");
                    host().Log(LogLevel::info, "skipping " + who + ": not an email address");
                    skipped += (skipped.empty() ? "" : ", ") + who;
                    continue;
                }
                if (mailbox->name.empty()) {
                    mailbox->name = name;
                }
                if (seen.insert(Lower(mailbox->address)).second) {
                    if (!name.empty()) {
                        names.push_back(name);
                    }
                    recipients.push_back(std::move(*mailbox));
                }
            }
        }
        // Nobody named, or nobody named has an address (a roster without
        // contacts): the configured default recipients, typically the
        // campaign office, hear of it instead of nobody.
        if (recipients.empty()) {
            if (named_someone && !default_to_.empty()) {
                host().Log(LogLevel::warn, "no address for " + skipped + "; mailing default_to instead");
            }
            for (const auto& mailbox : default_to_) {
                if (seen.insert(Lower(mailbox.address)).second) {
                    recipients.push_back(mailbox);
                }
            }
        }
    }

    // The variables a template sees: every payload field (localized texts in
    // the configured language) and a few ready-made ones.
    mustache::data TemplateData(const json::object& params, const json::object& payload,
                                const std::vector<std::string>& names) const {
        mustache::data data = ToData(payload, language_);
        const auto text = [&](std::string_view field) {
            const auto* value = payload.if_contains(field);
            return value != nullptr ? Localized(*value, language_) : std::string();
        };
        const auto set = [&](const std::string& name, const std::string& value) {
            if (!value.empty()) {
                data.set(name, value);
            }
        };
        set("unit_name", text("unit_name").empty() ? text("unit") : text("unit_name"));
        set("step_title", text("step_title").empty() ? text("step") : text("step_title"));
        set("due_date", FormatDate(text("due"), language_));
        set("on_date", FormatDate(text("on"), language_));
        std::string joined;
        for (const auto& name : names) {
            joined += (joined.empty() ? "" : language_ == "zh" ? "、" : ", ") + name;
        }
        set("names", joined);
        set("sender", from_.name.empty() ? from_.address : from_.name);
        set("language", language_);
        for (const std::string_view field : {"key", "declaration"}) {
            if (const auto* value = params.if_contains(field); value != nullptr && value->is_string()) {
                set(std::string(field), std::string(value->get_string()));
            }
        }
        if (const auto* attempt = params.if_contains("attempt"); attempt != nullptr && attempt->is_number()) {
            set("attempt", json::serialize(*attempt));
        }
        return data;
    }

    static std::string OneLine(std::string_view text) {
        std::string line;
        bool space = false;
        for (const char c : Trim(text)) {
            if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
                space = true;
                continue;
            }
            if (space && !line.empty()) {
                line += ' ';
            }
            space = false;
            line += c;
        }
        return line;
    }

    std::string Compose(const std::vector<Mailbox>& recipients, const std::string& subject, const std::string& body,
                        const std::string& message_id, const json::object& payload) const {
        std::string to;
        for (const auto& recipient : recipients) {
            to += (to.empty() ? "" : ",\r\n ") + FormatMailbox(recipient);
        }
        std::string message;
        message += "Date: " + MailDate(std::time(nullptr)) + "\r\n";
        message += "From: " + FormatMailbox(from_) + "\r\n";
        message += "To: " + to + "\r\n";
        message += "Subject: " + EncodeText(subject) + "\r\n";
        message += "Message-ID: " + message_id + "\r\n";
        message += "MIME-Version: 1.0\r\n";
        message += "Content-Type: text/plain; charset=UTF-8\r\n";
        message += "Content-Transfer-Encoding: base64\r\n";
        message += "Content-Language: " + language_ + "\r\n";
        // RFC 3834: tells vacation responders not to answer.
        message += "Auto-Submitted: auto-generated\r\n";
        if (const auto* event = payload.if_contains("event"); event != nullptr && event->is_string()) {
            const std::string_view value = event->get_string();
            if (IsTemplateName(value)) {
                message += "X-Cascade-Event: " + std::string(value) + "\r\n";
            }
        }
        message += "\r\n";
        message += Base64Body(body);
        return message;
    }

    struct Upload {
        const std::string* data;
        std::size_t offset;
    };

    static std::size_t ReadUpload(char* buffer, std::size_t size, std::size_t count, void* context) {
        auto* upload = static_cast<Upload*>(context);
        const std::size_t room = size * count;
        const std::size_t left = upload->data->size() - upload->offset;
        const std::size_t bytes = std::min(room, left);
        std::copy_n(upload->data->data() + upload->offset, bytes, buffer);
        upload->offset += bytes;
        return bytes;
    }

    static int Progress(void* context, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<const NotifyEmail*>(context)->host().Cancelled() ? 1 : 0;
    }

    Result Send(const std::vector<Mailbox>& recipients, const std::string& message) {
        StringList rcpt;
        for (const auto& recipient : recipients) {
            curl_slist* grown = curl_slist_append(rcpt.get(), ("<" + recipient.address + ">").c_str());
            if (grown == nullptr) {
                return Result::Retry("out of memory building the recipient list");
            }
            static_cast<void>(rcpt.release());
            rcpt.reset(grown);
        }
        const std::string mail_from = "<" + from_.address + ">";
        Upload upload{&message, 0};
        std::array<char, CURL_ERROR_SIZE> error{};

        CURL* curl = handle_.get();
        curl_easy_reset(curl);  // keeps the connection cache
        curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(starttls_ ? CURLUSESSL_ALL : CURLUSESSL_NONE));
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str());
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get());
#if LIBCURL_VERSION_NUM >= 0x080200
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &NotifyEmail::ReadUpload);
        curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &NotifyEmail::Progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
        if (!username_.empty()) {
            curl_easy_setopt(curl, CURLOPT_USERNAME, username_.c_str());
            curl_easy_setopt(curl, CURLOPT_PASSWORD, password_.c_str());
        }

        const CURLcode code = curl_easy_perform(curl);
        if (code == CURLE_OK) {
            return Result::Ok();
        }
        long reply = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
        std::string cause = error[0] != '\0' ? std::string(error.data()) : std::string(curl_easy_strerror(code));
        if (code == CURLE_OPERATION_TIMEDOUT) {
            cause = "timed out after " + std::to_string(timeout_.count()) + "ms (" + cause + ")";
        } else if (code == CURLE_ABORTED_BY_CALLBACK) {
            cause = "cancelled by the engine";
        }
        const std::string where = "SMTP " + url_.substr(0, url_.rfind('/')) + ": ";
        if (reply >= 500 && reply <= 599) {
            return Result::Error(where + "the server refused the mail with " + std::to_string(reply) + " (" + cause +
                                 ")");
        }
        if (reply >= 400 && reply <= 499) {
            return Result::Retry(where + "the server answered " + std::to_string(reply) + ", try later (" + cause +
                                 ")");
        }
        switch (code) {
        case CURLE_USE_SSL_FAILED:
            return Result::Error(where + "the server does not offer STARTTLS (" + cause + ")");
        case CURLE_LOGIN_DENIED:
            return Result::Error(where + "login refused (" + cause + ")");
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
            return Result::Error(where + cause);
        case CURLE_COULDNT_CONNECT:
            return Result::Retry(where + "connection refused or unreachable (" + cause + ")");
        case CURLE_COULDNT_RESOLVE_HOST:
            return Result::Retry(where + "DNS lookup failed (" + cause + ")");
        default:
            return Result::Retry(where + cause);
        }
    }

    Mailbox from_;
    std::string language_ = "zh";
    std::string url_;
    bool starttls_ = false;
    std::string username_;
    std::string password_;
    std::chrono::milliseconds timeout_ = kDefaultTimeout;
    std::vector<Mailbox> default_to_;
    std::string templates_dir_;
    std::map<std::string, std::string> overrides_;
    CurlHandle handle_;
};

}  // namespace

CASCADE_PLUGIN(NotifyEmail, "notify-email")
