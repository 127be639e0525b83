// source-http: records from the JSON answer to an HTTP GET, for systems that
// offer an API (a learning platform's study hours, an inspection app's
// findings). The URL may carry {{name}} placeholders filled from the read's
// `where`; `records` points at the array in the answer and `mapping` picks
// each record's fields out of its item. A server that is down, overloaded or
// slow is a RETRY (the engine tries again after its back-off); an answer that
// no retry can fix (404, 401, malformed JSON) is an ERROR naming the URL.
#include <cascade/sdk.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
using cascade::sdk::Host;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;

constexpr std::size_t kMaxAnswerBytes = 64U << 20;

// "500ms", "10s", "1m", "1h".
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
    std::int64_t amount = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (parsed.ec != std::errc() || parsed.ptr == text.data() || amount < 0 || amount > 1'000'000'000)
        return std::nullopt;
    const std::string_view unit(parsed.ptr, static_cast<std::size_t>(text.data() + text.size() - parsed.ptr));
    if (unit == "ms")
        return std::chrono::milliseconds(amount);
    if (unit == "s")
        return std::chrono::seconds(amount);
    if (unit == "m")
        return std::chrono::minutes(amount);
    if (unit == "h")
        return std::chrono::hours(amount);
    return std::nullopt;
}

// RFC 6901 syntax: "" or "/"-separated tokens where '~' is followed by 0 or 1.
bool IsJsonPointer(std::string_view pointer) {
    if (pointer.empty())
        return true;
    if (pointer.front() != '/')
        return false;
    for (std::size_t i = 0; i < pointer.size(); ++i) {
        if (pointer[i] == '~' && (i + 1 == pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
            return false;
        }
    }
    return true;
}

const json::value* Resolve(const json::value& root, std::string_view pointer) {
    json::error_code ignored;
    return root.find_pointer(pointer, ignored);
}

std::string_view KindName(const json::value& value) {
    switch (value.kind()) {
    case json::kind::object:
        return "an object";
    case json::kind::array:
        return "an array";
    case json::kind::string:
        return "a string";
    case json::kind::bool_:
        return "a boolean";
    case json::kind::null:
        return "null";
    default:
        return "a number";
    }
}

// How a scalar reads as text: placeholders are filled with it and `where`
// filters compare with it.
std::optional<std::string> ScalarText(const json::value& value) {
    switch (value.kind()) {
    case json::kind::string:
        return std::string(value.get_string());
    case json::kind::int64:
        return std::to_string(value.get_int64());
    case json::kind::uint64:
        return std::to_string(value.get_uint64());
    case json::kind::double_: {
        char buffer[64];
        const auto end = std::to_chars(std::begin(buffer), std::end(buffer), value.get_double()).ptr;
        return std::string(buffer, end);
    }
    case json::kind::bool_:
        return value.get_bool() ? "true" : "false";
    case json::kind::null:
        return std::string();
    default:
        return std::nullopt;
    }
}

// Percent-encodes all but RFC 3986's unreserved characters, so a value can
// sit anywhere in a URL (path segment or query) without changing its shape.
std::string UrlEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') ||
            byte == '-' || byte == '.' || byte == '_' || byte == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 15U]);
        }
    }
    return out;
}

// The start of an answer for a message: on one line, at most a few hundred
// bytes, cut at a character boundary. Empty for an empty answer.
std::string Excerpt(std::string_view body) {
    constexpr std::size_t kMax = 200;
    std::string line;
    for (const char c : body) {
        const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
        if (space && (line.empty() || line.back() == ' '))
            continue;
        line.push_back(space ? ' ' : c);
        if (line.size() > kMax)
            break;
    }
    while (!line.empty() && line.back() == ' ')
        line.pop_back();
    if (line.size() <= kMax)
        return line.empty() ? line : ": " + line;
    std::size_t end = kMax;
    while (end > 0 && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80)
        --end;
    return ": " + line.substr(0, end) + "...";
}

// libcurl wants one global initialization before any handle, from one thread.
void InitializeCurl() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CleanupEasy {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct FreeList {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Failures of the transport that no retry mends; every other one (refused,
// reset, timed out, name not resolved) may pass.
bool PermanentCurlError(CURLcode code) {
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_LOGIN_DENIED:
        return true;
    default:
        return false;
    }
}

// One piece of the URL template: literal text, or the name of a placeholder.
struct UrlPart {
    std::string text;
    bool placeholder = false;
};

std::vector<UrlPart> ParseUrlTemplate(std::string_view url) {
    std::vector<UrlPart> parts;
    std::size_t at = 0;
    while (at < url.size()) {
        const std::size_t open = url.find("{{", at);
        if (open == std::string_view::npos) {
            parts.push_back({std::string(url.substr(at)), false});
            break;
        }
        if (open > at)
            parts.push_back({std::string(url.substr(at, open - at)), false});
        const std::size_t close = url.find("}}", open + 2);
        if (close == std::string_view::npos) {
            throw std::invalid_argument("config.url has a '{{' without its '}}'");
        }
        std::string_view name = url.substr(open + 2, close - open - 2);
        while (!name.empty() && name.front() == ' ')
            name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ')
            name.remove_suffix(1);
        if (name.empty())
            throw std::invalid_argument("config.url has an empty placeholder '{{}}'");
        parts.push_back({std::string(name), true});
        at = close + 2;
    }
    return parts;
}

class SourceHttp final : public cascade::sdk::Plugin {
public:
    SourceHttp(Host host, json::object config) : Plugin(host, std::move(config)) {
        const json::object& settings = this->config();
        const auto* url = settings.if_contains("url");
        if (url == nullptr || !url->is_string() || url->get_string().empty()) {
            throw std::invalid_argument("config.url must be a non-empty string");
        }
        url_ = std::string(url->get_string());
        std::string scheme = url_.substr(0, url_.find("://"));
        std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        https_ = scheme == "https";
        if ((scheme != "http" && !https_) || url_.find("://") == std::string::npos) {
            throw std::invalid_argument("config.url must start with http:// or https://");
        }
        url_parts_ = ParseUrlTemplate(url_);
        if (const auto* records = settings.if_contains("records")) {
            if (!records->is_string() || !IsJsonPointer(records->get_string())) {
                throw std::invalid_argument("config.records must be a JSON Pointer such as \"/data/items\" or \"\"");
            }
            records_ = std::string(records->get_string());
        }
        if (const auto* mapping = settings.if_contains("mapping")) {
            if (!mapping->is_object())
                throw std::invalid_argument("config.mapping must be an object");
            for (const auto& [field, pointer] : mapping->get_object()) {
                if (!pointer.is_string() || !IsJsonPointer(pointer.get_string())) {
                    throw std::invalid_argument("config.mapping." + std::string(field) +
                                                " must be a JSON Pointer such as \"/stats/hours\"");
                }
                mapping_.emplace_back(std::string(field), std::string(pointer.get_string()));
            }
        }
        if (const auto* headers = settings.if_contains("headers")) {
            if (!headers->is_object())
                throw std::invalid_argument("config.headers must be an object");
            for (const auto& [name, value] : headers->get_object()) {
                if (!value.is_string() || name.empty() || name.find_first_of(":\r\n ") != json::string_view::npos ||
                    value.get_string().find_first_of("\r\n") != json::string_view::npos) {
                    throw std::invalid_argument("config.headers." + std::string(name) +
                                                " must be a header name with a one-line text value");
                }
                headers_.push_back(std::string(name) + ": " + std::string(value.get_string()));
            }
        }
        if (const auto* timeout = settings.if_contains("timeout")) {
            const auto parsed = timeout->is_string() ? ParseDuration(timeout->get_string()) : std::nullopt;
            if (!parsed || parsed->count() == 0) {
                throw std::invalid_argument("config.timeout must be a duration such as \"500ms\" or \"10s\"");
            }
            timeout_ = *parsed;
        }
        if (const auto* token_env = settings.if_contains("token_env")) {
            if (!token_env->is_string() || token_env->get_string().empty()) {
                throw std::invalid_argument("config.token_env must name an environment variable");
            }
            token_env_ = std::string(token_env->get_string());
        }
        InitializeCurl();
    }

    Result Read(const json::object& params) override {
        std::optional<std::size_t> limit;
        if (const auto* value = params.if_contains("limit")) {
            if (value->is_int64() && value->get_int64() >= 0) {
                limit = static_cast<std::size_t>(value->get_int64());
            } else if (value->is_uint64()) {
                limit = static_cast<std::size_t>(value->get_uint64());
            } else {
                return Result::Error("params.limit must be a non-negative integer");
            }
        }
        static const json::object no_filter;
        const json::object* where = &no_filter;
        if (const auto* value = params.if_contains("where")) {
            if (!value->is_object())
                return Result::Error("params.where must be an object");
            where = &value->get_object();
        }

        std::string url;
        std::set<std::string, std::less<>> bound;
        for (const auto& part : url_parts_) {
            if (!part.placeholder) {
                url += part.text;
                continue;
            }
            const auto* value = where->if_contains(part.text);
            if (value == nullptr) {
                return Result::Error("config.url placeholder {{" + part.text +
                                     "}} has no value: params.where has no '" + part.text + "'");
            }
            const auto text = ScalarText(*value);
            if (!text)
                return Result::Error("params.where." + part.text + " must be a string, number or boolean");
            url += UrlEncode(*text);
            bound.insert(part.text);
        }

        std::string body;
        long status = 0;
        if (Result fetched = Get(url, body, status); fetched.status != cascade::sdk::Status::ok)
            return fetched;

        if (status == 429 || status == 408 || status >= 500) {
            return Result::Retry("GET " + url + " answered HTTP " + std::to_string(status) + Excerpt(body));
        }
        if (status < 200 || status > 299) {
            return Result::Error("GET " + url + " answered HTTP " + std::to_string(status) + Excerpt(body));
        }
        json::error_code parse_error;
        const json::value answer = json::parse(body, parse_error);
        if (parse_error) {
            return Result::Error("GET " + url + " answered malformed JSON (" + parse_error.message() + ")" +
                                 Excerpt(body));
        }

        const json::value* items = Resolve(answer, records_);
        if (items == nullptr) {
            return Result::Error("GET " + url + ": the answer has nothing at config.records \"" + records_ + "\"");
        }
        if (!items->is_array()) {
            return Result::Error("GET " + url + ": config.records \"" + records_ + "\" points at " +
                                 std::string(KindName(*items)) + ", not an array");
        }

        json::array all;
        std::size_t position = 0;
        for (const auto& item : items->get_array()) {
            ++position;
            if (mapping_.empty()) {
                if (!item.is_object()) {
                    return Result::Error("GET " + url + ": item " + std::to_string(position) + " is " +
                                         std::string(KindName(item)) + ", not an object; set config.mapping");
                }
                all.push_back(item);
                continue;
            }
            json::object record;
            for (const auto& [field, pointer] : mapping_) {
                const json::value* found = Resolve(item, pointer);
                record[field] = found != nullptr ? *found : json::value(nullptr);
            }
            all.emplace_back(std::move(record));
        }

        // `where` keys the URL does not use filter the records, when some record carries that field.
        std::vector<std::pair<std::string_view, std::string>> filters;
        for (const auto& entry : *where) {
            const std::string_view key = entry.key();
            const json::value& value = entry.value();
            if (bound.count(key) != 0)
                continue;
            const bool named = std::any_of(
                all.begin(), all.end(), [&](const json::value& record) { return record.get_object().contains(key); });
            if (!named)
                continue;
            auto text = ScalarText(value);
            if (!text)
                return Result::Error("params.where." + std::string(key) + " must be a string, number or boolean");
            filters.emplace_back(key, std::move(*text));
        }
        json::array records;
        for (auto& record : all) {
            if (limit && records.size() >= *limit)
                break;
            const bool match = std::all_of(filters.begin(), filters.end(), [&](const auto& filter) {
                const auto* field = record.get_object().if_contains(filter.first);
                if (field == nullptr)
                    return false;
                const auto text = ScalarText(*field);
                return text && *text == filter.second;
            });
            if (match)
                records.push_back(std::move(record));
        }
        host().Log(LogLevel::debug, "GET " + url + ": " + std::to_string(records.size()) + " records");
        return Result::Ok(json::object{{"records", std::move(records)}});
    }

    Result SelfTest() override {
        json::array checks;
        const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
        bool https = false;
        for (const char* const* protocol = info->protocols; protocol != nullptr && *protocol != nullptr; ++protocol) {
            if (std::string_view(*protocol) == "https")
                https = true;
        }
        checks.push_back(json::object{
            {"name", "libcurl"},
            {"ok", https || !https_},
            {"detail", std::string("libcurl ") + info->version + (https ? " with https" : " without https")}});
        if (!token_env_.empty()) {
            const char* token = std::getenv(token_env_.c_str());
            const bool set = token != nullptr && *token != '\0';
            checks.push_back(
                json::object{{"name", "token"},
                             {"ok", set},
                             {"detail", "environment variable " + token_env_ + (set ? " is set" : " is not set")}});
        }
        return Result::Ok(json::object{{"checks", std::move(checks)}});
    }

private:
    // Performs the GET; OK when an HTTP answer arrived (whatever its status).
    Result Get(const std::string& url, std::string& body, long& status) const {
        std::unique_ptr<CURL, CleanupEasy> curl(curl_easy_init());
        if (!curl)
            return Result::Retry("cannot start an HTTP request (libcurl)");

        std::unique_ptr<curl_slist, FreeList> headers;
        const auto add_header = [&](const std::string& line) {
            curl_slist* extended = curl_slist_append(headers.get(), line.c_str());
            if (extended != nullptr) {
                static_cast<void>(headers.release());  // now owned by `extended`
                headers.reset(extended);
            }
        };
        add_header("Accept: application/json");
        for (const auto& line : headers_)
            add_header(line);
        if (!token_env_.empty()) {
            const char* token = std::getenv(token_env_.c_str());
            if (token == nullptr || *token == '\0') {
                return Result::Error("environment variable " + token_env_ + " (config.token_env) is not set");
            }
            add_header(std::string("Authorization: Bearer ") + token);
        }

        Transfer transfer{&body, this, false};
        char error_text[CURL_ERROR_SIZE] = {};
        CURL* handle = curl.get();
        curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
        curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // the engine has threads: no SIGALRM for DNS timeouts
        curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(handle, CURLOPT_USERAGENT, "cascade-source-http/1.0");
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &SourceHttp::Write);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &SourceHttp::Progress);
        curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);

        const CURLcode code = curl_easy_perform(handle);
        if (code != CURLE_OK) {
            if (transfer.too_large) {
                return Result::Error("GET " + url + ": the answer is larger than " +
                                     std::to_string(kMaxAnswerBytes >> 20) + " MiB");
            }
            const std::string why = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
            std::string message = "GET " + url + " failed: " + why;
            return PermanentCurlError(code) ? Result::Error(std::move(message)) : Result::Retry(std::move(message));
        }
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
        return Result::Ok();
    }

    struct Transfer {
        std::string* body;
        const SourceHttp* self;
        bool too_large;
    };

    static std::size_t Write(char* data, std::size_t size, std::size_t count, void* context) {
        auto* transfer = static_cast<Transfer*>(context);
        const std::size_t bytes = size * count;
        if (transfer->body->size() + bytes > kMaxAnswerBytes) {
            transfer->too_large = true;
            return 0;  // libcurl stops with CURLE_WRITE_ERROR
        }
        transfer->body->append(data, bytes);
        return bytes;
    }

    static int Progress(void* context, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<Transfer*>(context)->self->host().Cancelled() ? 1 : 0;
    }

    std::string url_;
    bool https_ = false;
    std::vector<UrlPart> url_parts_;
    std::string records_;
    std::vector<std::pair<std::string, std::string>> mapping_;
    std::vector<std::string> headers_;
    std::chrono::milliseconds timeout_{10'000};
    std::string token_env_;
};

}  // namespace

CASCADE_PLUGIN(SourceHttp, "source-http")
