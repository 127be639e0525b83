// notify-webhook: POSTs each notification as JSON to an HTTP(S) endpoint with
// libcurl. The receiver deduplicates on the Idempotency-Key header (the
// engine's key, the same on every attempt) and can verify the sender through
// X-Cascade-Signature, an HMAC-SHA256 of the exact body bytes.
//
// Outcomes follow what a retry can change: 2xx is done; 408, 425, 429, 5xx
// and network failures (refused, DNS, timeout) are retried by the engine;
// any other answer is permanent.
#include <cascade/sdk.hpp>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
using cascade::sdk::Result;

constexpr std::chrono::milliseconds kDefaultTimeout{10'000};
constexpr std::chrono::milliseconds kMaxTimeout{10 * 60'000};
constexpr int kMaxRedirects = 5;
// Enough of an answer to quote in a message; the rest is read and dropped.
constexpr std::size_t kMaxKeptResponse = std::size_t{64} * 1024;
constexpr std::size_t kQuotedResponse = 200;

struct CurlDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct UrlDeleter {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlStringDeleter {
    void operator()(char* text) const { curl_free(text); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// libcurl's global state, set up once per process before the first handle.
void InitCurlOnce() {
    static const CURLcode init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init_result != CURLE_OK) {
        throw std::runtime_error(std::string("libcurl cannot start: ") + curl_easy_strerror(init_result));
    }
}

std::string Lower(std::string_view text) {
    std::string lowered(text);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lowered;
}

bool HasLineBreak(std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
}

// "500ms", "10s", "2m" (the schema's pattern) to a duration.
std::chrono::milliseconds ParseDuration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
        ++digits;
    }
    const std::string_view unit = text.substr(digits);
    if (digits == 0 || digits > 9 || (unit != "ms" && unit != "s" && unit != "m")) {
        throw std::invalid_argument("timeout '" + std::string(text) + "' is not a duration like 500ms, 10s or 1m");
    }
    const long long number = std::stoll(std::string(text.substr(0, digits)));
    const long long factor = unit == "ms" ? 1 : unit == "s" ? 1000 : 60'000;
    return std::chrono::milliseconds{number * factor};
}

std::string Hex(const unsigned char* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        text.push_back(kDigits[data[i] >> 4]);
        text.push_back(kDigits[data[i] & 0x0f]);
    }
    return text;
}

std::string HmacSha256Hex(std::string_view key, std::string_view body) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest.data(), &size) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return Hex(digest.data(), size);
}

// The parts of a URL that decide where a request goes.
struct Origin {
    std::string scheme;
    std::string host;
    std::string port;
    std::string display;  // the URL without user name and password, for messages
};

std::string UrlPart(CURLU* url, CURLUPart part, unsigned int flags = 0) {
    char* raw = nullptr;
    if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) {
        return {};
    }
    const CurlString owned(raw);
    return owned.get();
}

// Parses an absolute http(s) URL; nullopt-like empty scheme when it is not one.
Origin ParseOrigin(const std::string& text) {
    const UrlHandle url(curl_url());
    if (!url || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
        return {};
    }
    Origin origin;
    origin.scheme = Lower(UrlPart(url.get(), CURLUPART_SCHEME));
    origin.host = Lower(UrlPart(url.get(), CURLUPART_HOST));
    origin.port = UrlPart(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    // Credentials in a URL stay out of logs and messages.
    curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
    origin.display = UrlPart(url.get(), CURLUPART_URL);
    if (origin.scheme != "http" && origin.scheme != "https") {
        origin.scheme.clear();
    }
    return origin;
}

bool IsTransientStatus(long status) {
    return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

// Why a transfer failed, in words an operator acts on.
std::string DescribeFailure(CURLcode code, const char* detail, std::chrono::milliseconds timeout) {
    std::string cause;
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        cause = "connection refused or unreachable";
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        cause = "DNS lookup failed";
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        cause = "DNS lookup of the proxy failed";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        cause = "timed out after " + std::to_string(timeout.count()) + "ms";
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        cause = "cancelled by the engine";
        break;
    default:
        cause = curl_easy_strerror(code);
        break;
    }
    if (detail != nullptr && detail[0] != '\0') {
        cause += " (";
        cause += detail;
        cause += ")";
    }
    return cause;
}

// A request that cannot succeed however often it is tried.
bool IsPermanentCurlError(CURLcode code) {
    return code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT || code == CURLE_NOT_BUILT_IN ||
           code == CURLE_BAD_FUNCTION_ARGUMENT;
}

std::string Quote(std::string_view body) {
    std::string text(body.substr(0, kQuotedResponse));
    std::replace_if(
        text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n' || c == '\t'; }, ' ');
    if (body.size() > kQuotedResponse) {
        text += "...";
    }
    return text;
}

class NotifyWebhook final : public cascade::sdk::Plugin {
public:
    NotifyWebhook(cascade::sdk::Host host, json::object config) : Plugin(host, std::move(config)) {
        InitCurlOnce();
        const auto* url = this->config().if_contains("url");
        if (url == nullptr || !url->is_string()) {
            throw std::invalid_argument("url is required: the http:// or https:// endpoint to POST to");
        }
        url_ = std::string(url->get_string());
        origin_ = ParseOrigin(url_);
        if (origin_.scheme.empty() || origin_.host.empty()) {
            throw std::invalid_argument("url '" + url_ + "' is not an absolute http:// or https:// URL");
        }

        const auto* secret = this->config().if_contains("secret");
        const auto* secret_env = this->config().if_contains("secret_env");
        if (secret != nullptr && secret_env != nullptr) {
            throw std::invalid_argument("set either secret_env or secret, not both");
        }
        if (secret != nullptr) {
            if (!secret->is_string() || secret->get_string().empty()) {
                throw std::invalid_argument("secret must be a non-empty string");
            }
            secret_ = std::string(secret->get_string());
        } else if (secret_env != nullptr) {
            if (!secret_env->is_string()) {
                throw std::invalid_argument("secret_env must name an environment variable");
            }
            const std::string name(secret_env->get_string());
            const char* value = std::getenv(name.c_str());
            if (value == nullptr || value[0] == '\0') {
                // Sending unsigned requests to a receiver that expects a
                // signature would only be refused there, one by one.
                throw std::invalid_argument("secret_env: the environment variable " + name + " is not set or empty");
            }
            secret_ = value;
        }

        if (const auto* timeout = this->config().if_contains("timeout")) {
            if (!timeout->is_string()) {
                throw std::invalid_argument("timeout must be a string like 10s");
            }
            timeout_ = ParseDuration(timeout->get_string());
            if (timeout_.count() <= 0 || timeout_ > kMaxTimeout) {
                throw std::invalid_argument("timeout must be more than 0 and at most 10m");
            }
        }

        if (const auto* headers = this->config().if_contains("headers")) {
            if (!headers->is_object()) {
                throw std::invalid_argument("headers must map header names to values");
            }
            for (const auto& [name, value] : headers->get_object()) {
                const std::string lowered = Lower(name);
                if (lowered == "content-type" || lowered == "idempotency-key" || lowered == "content-length" ||
                    lowered == "host" || lowered.rfind("x-cascade-", 0) == 0) {
                    throw std::invalid_argument("headers: " + std::string(name) + " is set by the plugin");
                }
                if (!value.is_string() || HasLineBreak(value.get_string()) || HasLineBreak(name) || name.empty()) {
                    throw std::invalid_argument("headers: " + std::string(name) + " must be a one-line string value");
                }
                extra_headers_.push_back(std::string(name) + ": " + std::string(value.get_string()));
            }
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
        if (HasLineBreak(key->get_string())) {
            return Result::Error("the key contains a line break and cannot be sent as Idempotency-Key");
        }
        const auto* payload = params.if_contains("payload");
        if (payload != nullptr && !payload->is_object()) {
            return Result::Error("notify's 'payload' must be an object");
        }

        json::object document;
        document["key"] = *key;
        document["declaration"] = params.contains("declaration") ? params.at("declaration") : json::value("");
        document["attempt"] = params.contains("attempt") ? params.at("attempt") : json::value(1);
        document["payload"] = payload != nullptr ? *payload : json::value(json::object{});
        const std::string body = json::serialize(document);

        std::vector<std::string> headers{
            "Content-Type: application/json",
            "Idempotency-Key: " + std::string(key->get_string()),
            // A body over 1 KiB would otherwise wait for a "100 Continue" many
            // receivers never send.
            "Expect:",
        };
        if (payload != nullptr) {
            if (const auto* event = payload->get_object().if_contains("event");
                event != nullptr && event->is_string() && !HasLineBreak(event->get_string())) {
                headers.push_back("X-Cascade-Event: " + std::string(event->get_string()));
            }
        }
        if (!secret_.empty()) {
            headers.push_back("X-Cascade-Signature: sha256=" + HmacSha256Hex(secret_, body));
        }
        headers.insert(headers.end(), extra_headers_.begin(), extra_headers_.end());
        return Deliver(body, headers);
    }

    // As an action step: POSTs {key, declaration, attempt, instance, unit,
    // step, activation, action, with}; a 2xx answer completes the step, with
    // the answer's JSON object (e.g. the ticket numbers) as its output.
    Result Act(const json::object& params) override {
        const auto* key = params.if_contains("key");
        if (key == nullptr || !key->is_string() || key->get_string().empty()) {
            return Result::Error("act needs a non-empty string 'key'");
        }
        if (HasLineBreak(key->get_string())) {
            return Result::Error("the key contains a line break and cannot be sent as Idempotency-Key");
        }
        json::object document;
        for (const char* field :
             {"key", "declaration", "attempt", "instance", "unit", "step", "activation", "action", "with"}) {
            if (const auto* value = params.if_contains(field)) {
                document[field] = *value;
            }
        }
        const std::string body = json::serialize(document);
        std::vector<std::string> headers{"Content-Type: application/json",
                                         "Idempotency-Key: " + std::string(key->get_string()),
                                         "Expect:", "X-Cascade-Event: action"};
        if (!secret_.empty()) {
            headers.push_back("X-Cascade-Signature: sha256=" + HmacSha256Hex(secret_, body));
        }
        headers.insert(headers.end(), extra_headers_.begin(), extra_headers_.end());
        Result result = Deliver(body, headers);
        if (result.status != cascade::sdk::Status::ok) {
            return result;
        }
        json::object output;
        if (const auto* response = result.value.as_object().if_contains("response")) {
            output = response->as_object();
        } else {
            output["status"] = result.value.at("status");
        }
        return Result::Ok(json::object{{"output", std::move(output)}});
    }

    Result SelfTest() override {
        json::array checks;
        checks.push_back(Check("url", true, origin_.display));
        const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
        const bool has_tls = info != nullptr && (info->features & CURL_VERSION_SSL) != 0;
        const bool tls_ok = origin_.scheme != "https" || has_tls;
        checks.push_back(Check("tls", tls_ok,
                               tls_ok ? std::string("libcurl ") + (info != nullptr ? info->version : "?") +
                                            (has_tls ? " with " + std::string(info->ssl_version) : " without TLS")
                                      : "libcurl was built without TLS; https URLs cannot be reached"));
        checks.push_back(Check("signature", true,
                               secret_.empty() ? "requests are not signed (no secret configured)"
                                               : "requests carry X-Cascade-Signature (HMAC-SHA256)"));
        checks.push_back(Check("timeout", true, std::to_string(timeout_.count()) + "ms"));
        if (!tls_ok) {
            return Result::Error("libcurl was built without TLS; " + origin_.display + " cannot be reached");
        }
        return Result::Ok(json::object{{"checks", std::move(checks)}});
    }

private:
    static json::value Check(std::string_view name, bool ok, std::string_view detail) {
        return json::object{{"name", name}, {"ok", ok}, {"detail", detail}};
    }

    static std::size_t Collect(char* data, std::size_t size, std::size_t count, void* context) {
        auto* response = static_cast<std::string*>(context);
        const std::size_t bytes = size * count;
        if (response->size() < kMaxKeptResponse) {
            response->append(data, std::min(bytes, kMaxKeptResponse - response->size()));
        }
        return bytes;
    }

    static int Progress(void* context, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<const NotifyWebhook*>(context)->host().Cancelled() ? 1 : 0;
    }

    // POSTs `body`, following redirects only within the configured origin so
    // the signature and headers never reach another host.
    Result Deliver(const std::string& body, const std::vector<std::string>& header_lines) {
        HeaderList headers;
        for (const auto& line : header_lines) {
            curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
            if (grown == nullptr) {
                return Result::Retry("out of memory building the request to " + origin_.display);
            }
            static_cast<void>(headers.release());
            headers.reset(grown);
        }

        std::string target = url_;
        Origin target_origin = origin_;
        for (int hop = 0;; ++hop) {
            std::string response;
            std::array<char, CURL_ERROR_SIZE> error{};
            CURL* curl = handle_.get();
            curl_easy_reset(curl);  // keeps the connection cache, so keep-alive still helps
            curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
            curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
            curl_easy_setopt(curl, CURLOPT_USERAGENT, "cascade-notify-webhook/1.0");
            curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
            curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &NotifyWebhook::Collect);
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
            curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());
            curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &NotifyWebhook::Progress);
            curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);

            const CURLcode code = curl_easy_perform(curl);
            if (code != CURLE_OK) {
                const std::string message =
                    "POST " + target_origin.display + ": " + DescribeFailure(code, error.data(), timeout_);
                return IsPermanentCurlError(code) ? Result::Error(message) : Result::Retry(message);
            }

            long status = 0;
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 200 && status <= 299) {
                json::object answer{{"status", status}};
                json::error_code parse_error;
                json::value parsed = json::parse(response, parse_error);
                if (!parse_error && parsed.is_object()) {
                    answer["response"] = std::move(parsed);  // an action step's output
                }
                return Result::Ok(std::move(answer));
            }
            const std::string where = "POST " + target_origin.display + ": HTTP " + std::to_string(status);
            if (IsTransientStatus(status)) {
                return Result::Retry(where + (response.empty() ? "" : " " + Quote(response)));
            }
            if (status < 300 || status > 399) {
                return Result::Error(where + (response.empty() ? "" : " " + Quote(response)));
            }

            const char* location = nullptr;
            curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
            if (location == nullptr || location[0] == '\0') {
                return Result::Error(where + " redirect without a Location");
            }
            const std::string next(location);
            const Origin next_origin = ParseOrigin(next);
            const bool same_host = !next_origin.scheme.empty() && next_origin.host == origin_.host;
            const bool downgrade = origin_.scheme == "https" && next_origin.scheme != "https";
            if (!same_host || downgrade) {
                return Result::Error(where + " redirects to " +
                                     (next_origin.display.empty() ? next : next_origin.display) + ", which is not " +
                                     origin_.scheme + "://" + origin_.host +
                                     "; redirects are not followed to another host or from https to http");
            }
            if (hop + 1 >= kMaxRedirects) {
                return Result::Error(where + ": more than " + std::to_string(kMaxRedirects) + " redirects");
            }
            target = next;
            target_origin = next_origin;
        }
    }

    std::string url_;
    Origin origin_;
    std::string secret_;
    std::chrono::milliseconds timeout_ = kDefaultTimeout;
    std::vector<std::string> extra_headers_;
    CurlHandle handle_;
};

}  // namespace

CASCADE_PLUGIN(NotifyWebhook, "notify-webhook")
