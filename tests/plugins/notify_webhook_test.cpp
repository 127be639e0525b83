// notify-webhook, loaded from the build tree through the host API and
// pointed at a real local HTTP server: the body and headers it sends, the
// signature checked here with OpenSSL, and how each kind of failure maps to
// RETRY or ERROR.
#include "../support/http_server.hpp"
#include "cascade/plugin/plugin.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::Status;
using cascade::testing::HttpRequest;
using cascade::testing::HttpResponse;
using cascade::testing::HttpServer;

cascade::plugin::Manifest LoadManifest() {
    auto manifest = cascade::plugin::ReadManifest(fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-webhook.so");
    if (const auto* message = std::get_if<std::string>(&manifest)) {
        FAIL(*message);
    }
    return std::get<cascade::plugin::Manifest>(std::move(manifest));
}

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config) {
    cascade::plugin::OpenOptions options;
    options.declaration = "hook";
    options.config = std::move(config);
    return cascade::plugin::Open(LoadManifest(), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenHook(json::object config) {
    auto opened = TryOpen(std::move(config));
    if (const auto* message = std::get_if<std::string>(&opened)) {
        FAIL(*message);
    }
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

json::object Notification(int attempt = 1, const std::string& key = "theme-education-2023/t01/escalated/1") {
    return json::object{{"key", key},
                        {"declaration", "hook"},
                        {"attempt", attempt},
                        {"payload", json::object{{"event", "escalated"},
                                                 {"workflow", "theme-education-2023"},
                                                 {"unit", "t01"},
                                                 {"unit_name", "城关镇党委"},
                                                 {"step", "study_plan"},
                                                 {"due", "2023-11-30"}}}};
}

std::string HmacHex(const std::string& key, const std::string& body) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest.data(), &size) != nullptr);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
        hex += kDigits[digest[i] >> 4];
        hex += kDigits[digest[i] & 0x0f];
    }
    return hex;
}

// A port nothing listens on: bound once to learn a free number, then released.
unsigned short ClosedPort() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const unsigned short port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

// Sets an environment variable for one test.
class ScopedEnv {
public:
    ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
        ::setenv(name_.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() { ::unsetenv(name_.c_str()); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
};

// Answers every request with "307 Temporary Redirect" to `location`: the
// shared HttpServer chooses status and body only, a redirect needs a header.
class RedirectServer {
public:
    explicit RedirectServer(std::string location) : location_(std::move(location)), acceptor_(io_) {
        const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen();
        Accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~RedirectServer() {
        boost::asio::post(io_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            io_.stop();
        });
        thread_.join();
    }
    RedirectServer(const RedirectServer&) = delete;
    RedirectServer& operator=(const RedirectServer&) = delete;

    std::string Url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
    }
    int Hits() const { return hits_.load(); }

private:
    void Accept() {
        acceptor_.async_accept([this](boost::system::error_code error, boost::asio::ip::tcp::socket socket) {
            if (error) {
                return;
            }
            auto connection = std::make_shared<Connection>(std::move(socket));
            boost::asio::async_read_until(
                connection->socket, connection->buffer, "\r\n\r\n",
                [this, connection](boost::system::error_code read_error, std::size_t header_size) {
                    if (read_error) {
                        return;
                    }
                    // Read the body too, so closing never resets a client still sending.
                    const std::string head(boost::asio::buffers_begin(connection->buffer.data()),
                                           boost::asio::buffers_begin(connection->buffer.data()) +
                                               static_cast<std::ptrdiff_t>(header_size));
                    std::size_t length = 0;
                    std::string lowered = head;
                    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                    if (const auto at = lowered.find("content-length:"); at != std::string::npos) {
                        length = std::stoul(lowered.substr(at + 15));
                    }
                    const std::size_t buffered = connection->buffer.size() - header_size;
                    const std::size_t missing = length > buffered ? length - buffered : 0;
                    boost::asio::async_read(
                        connection->socket, connection->buffer, boost::asio::transfer_exactly(missing),
                        [this, connection](boost::system::error_code, std::size_t) { Answer(connection); });
                });
            Accept();
        });
    }

    struct Connection;

    void Answer(const std::shared_ptr<Connection>& connection) {
        ++hits_;
        connection->reply = "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location_ +
                            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        boost::asio::async_write(connection->socket, boost::asio::buffer(connection->reply),
                                 [connection](boost::system::error_code, std::size_t) {
                                     boost::system::error_code ignored;
                                     connection->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
                                 });
    }

    struct Connection {
        explicit Connection(boost::asio::ip::tcp::socket client) : socket(std::move(client)) {}
        boost::asio::ip::tcp::socket socket;
        boost::asio::streambuf buffer;
        std::string reply;
    };

    std::string location_;
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<int> hits_{0};
    std::thread thread_;
};

}  // namespace

TEST_CASE("notify-webhook POSTs the notification as signed JSON", "[plugins][notify-webhook]") {
    HttpServer server([](const HttpRequest&) { return HttpResponse{202, R"({"id":"n-1"})"}; });
    const ScopedEnv secret("CASCADE_TEST_WEBHOOK_SECRET", "s3cret-键");
    auto hook = OpenHook(json::object{{"url", server.Url("/hooks/cascade?tenant=anlan")},
                                      {"secret_env", "CASCADE_TEST_WEBHOOK_SECRET"},
                                      {"timeout", "5s"},
                                      {"headers", json::object{{"X-Tenant", "anlan"}}}});

    const auto first = hook->Call("notify", Notification(1));
    INFO(first.message);
    REQUIRE(first.status == Status::ok);
    CHECK(first.value == json::object{{"status", 202}, {"response", json::object{{"id", "n-1"}}}});
    const auto second = hook->Call("notify", Notification(2));
    REQUIRE(second.status == Status::ok);

    const auto requests = server.Requests();
    REQUIRE(requests.size() == 2);
    const HttpRequest& request = requests[0];
    CHECK(request.method == "POST");
    CHECK(request.target == "/hooks/cascade?tenant=anlan");
    CHECK(request.headers.at("content-type") == "application/json");
    CHECK(request.headers.at("idempotency-key") == "theme-education-2023/t01/escalated/1");
    CHECK(request.headers.at("x-cascade-event") == "escalated");
    CHECK(request.headers.at("x-tenant") == "anlan");

    const json::value body = json::parse(request.body);
    CHECK(body.at("key") == "theme-education-2023/t01/escalated/1");
    CHECK(body.at("declaration") == "hook");
    CHECK(body.at("attempt") == 1);
    CHECK(body.at("payload") == Notification().at("payload"));

    // The signature covers the exact bytes received.
    CHECK(request.headers.at("x-cascade-signature") == "sha256=" + HmacHex("s3cret-键", request.body));
    CHECK(requests[1].headers.at("x-cascade-signature") == "sha256=" + HmacHex("s3cret-键", requests[1].body));

    // The same effect tried again carries the same key, so the receiver can drop the repeat.
    CHECK(requests[1].headers.at("idempotency-key") == request.headers.at("idempotency-key"));
    CHECK(json::parse(requests[1].body).at("attempt") == 2);
}

TEST_CASE("notify-webhook signs with an inline secret and sends no signature without one",
          "[plugins][notify-webhook]") {
    HttpServer server;
    auto signed_hook = OpenHook(json::object{{"url", server.Url("/a")}, {"secret", "inline-key"}});
    REQUIRE(signed_hook->Call("notify", Notification()).status == Status::ok);
    auto plain_hook = OpenHook(json::object{{"url", server.Url("/b")}});
    REQUIRE(plain_hook->Call("notify", Notification()).status == Status::ok);

    const auto requests = server.Requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].headers.at("x-cascade-signature") == "sha256=" + HmacHex("inline-key", requests[0].body));
    CHECK(requests[1].headers.count("x-cascade-signature") == 0);
}

TEST_CASE("notify-webhook retries on 408, 425, 429 and 5xx and fails on other 4xx", "[plugins][notify-webhook]") {
    std::atomic<int> status{503};
    HttpServer server([&](const HttpRequest&) { return HttpResponse{status.load(), R"({"error":"busy"})"}; });
    auto hook = OpenHook(json::object{{"url", server.Url("/hook")}});

    for (const int transient : {503, 500, 408, 425, 429}) {
        status = transient;
        const auto result = hook->Call("notify", Notification());
        INFO(transient << ": " << result.message);
        CHECK(result.status == Status::retry);
        CHECK_THAT(result.message, Catch::Contains(server.Url("/hook")));
        CHECK_THAT(result.message, Catch::Contains(std::to_string(transient)));
    }
    for (const int permanent : {400, 401, 404, 422}) {
        status = permanent;
        const auto result = hook->Call("notify", Notification());
        INFO(permanent << ": " << result.message);
        CHECK(result.status == Status::error);
        CHECK_THAT(result.message, Catch::Contains(std::to_string(permanent)));
    }
    status = 400;
    CHECK_THAT(hook->Call("notify", Notification()).message, Catch::Contains("busy"));
}

TEST_CASE("notify-webhook retries when the connection is refused", "[plugins][notify-webhook]") {
    const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
    auto hook = OpenHook(json::object{{"url", url}, {"timeout", "2s"}});
    const auto result = hook->Call("notify", Notification());
    CHECK(result.status == Status::retry);
    CHECK_THAT(result.message, Catch::Contains(url));
    CHECK_THAT(result.message, Catch::Contains("refused"));
}

TEST_CASE("notify-webhook retries when the host name does not resolve", "[plugins][notify-webhook]") {
    // .invalid never resolves (RFC 6761).
    auto hook = OpenHook(json::object{{"url", "http://cascade-test.invalid/hook"}, {"timeout", "3s"}});
    const auto result = hook->Call("notify", Notification());
    CHECK(result.status == Status::retry);
    CHECK_THAT(result.message, Catch::Contains("cascade-test.invalid"));
}

TEST_CASE("notify-webhook retries when the server answers after the timeout", "[plugins][notify-webhook]") {
    HttpServer server([](const HttpRequest&) {
        HttpResponse slow;
        slow.delay = std::chrono::milliseconds{1500};
        return slow;
    });
    auto hook = OpenHook(json::object{{"url", server.Url("/slow")}, {"timeout", "200ms"}});
    const auto started = std::chrono::steady_clock::now();
    const auto result = hook->Call("notify", Notification());
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(result.status == Status::retry);
    CHECK_THAT(result.message, Catch::Contains(server.Url("/slow")));
    CHECK_THAT(result.message, Catch::Contains("timed out"));
    CHECK(took < std::chrono::milliseconds{1200});
}

TEST_CASE("notify-webhook follows a redirect on the same host", "[plugins][notify-webhook]") {
    HttpServer target;
    // Another port on the same host: the redirect is followed, signature and all.
    RedirectServer redirect(target.Url("/final"));
    auto hook = OpenHook(json::object{{"url", redirect.Url()}, {"secret", "k"}});
    const auto result = hook->Call("notify", Notification());
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    CHECK(redirect.Hits() == 1);
    const auto requests = target.Requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "POST");
    CHECK(requests[0].target == "/final");
    CHECK(requests[0].headers.at("x-cascade-signature") == "sha256=" + HmacHex("k", requests[0].body));
    CHECK(json::parse(requests[0].body).at("key") == Notification().at("key"));
}

TEST_CASE("notify-webhook never follows a redirect to another host", "[plugins][notify-webhook]") {
    HttpServer target;
    // "localhost" is another host name than the configured 127.0.0.1, even
    // if it ends up at the same place.
    const std::string away = "http://localhost:" + std::to_string(target.Port()) + "/stolen";
    RedirectServer redirect(away);
    auto hook = OpenHook(json::object{{"url", redirect.Url()}, {"secret", "k"}});
    const auto result = hook->Call("notify", Notification());
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains(away));
    CHECK_THAT(result.message, Catch::Contains("not followed"));
    CHECK(target.Requests().empty());
}

TEST_CASE("notify-webhook refuses malformed notifications", "[plugins][notify-webhook]") {
    HttpServer server;
    auto hook = OpenHook(json::object{{"url", server.Url()}});
    auto no_key = Notification();
    no_key.erase("key");
    CHECK(hook->Call("notify", no_key).status == Status::error);
    CHECK(hook->Call("notify", Notification(1, "line\r\nX-Evil: 1")).status == Status::error);
    auto bad_payload = Notification();
    bad_payload["payload"] = json::array{};
    CHECK(hook->Call("notify", bad_payload).status == Status::error);
    CHECK(server.Requests().empty());
}

TEST_CASE("notify-webhook refuses configs it cannot honour", "[plugins][notify-webhook]") {
    const auto message = [](json::object config) {
        auto opened = TryOpen(std::move(config));
        REQUIRE(std::holds_alternative<std::string>(opened));
        return std::get<std::string>(opened);
    };
    ::unsetenv("CASCADE_TEST_WEBHOOK_UNSET");
    CHECK_THAT(message(json::object{{"url", "http://127.0.0.1/"}, {"secret_env", "CASCADE_TEST_WEBHOOK_UNSET"}}),
               Catch::Contains("CASCADE_TEST_WEBHOOK_UNSET"));
    const ScopedEnv secret("CASCADE_TEST_WEBHOOK_SET", "x");
    CHECK_THAT(message(json::object{
                   {"url", "http://127.0.0.1/"}, {"secret_env", "CASCADE_TEST_WEBHOOK_SET"}, {"secret", "inline"}}),
               Catch::Contains("not both"));
    CHECK_THAT(
        message(json::object{{"url", "http://127.0.0.1/"}, {"headers", json::object{{"Idempotency-Key", "mine"}}}}),
        Catch::Contains("Idempotency-Key"));
    CHECK_THAT(message(json::object{{"url", "http://127.0.0.1/"}, {"timeout", "0s"}}), Catch::Contains("timeout"));
}

TEST_CASE("notify-webhook's schema accepts the shipped workflows and refuses bad configs",
          "[plugins][notify-webhook]") {
    const auto manifest = LoadManifest();
    CHECK(manifest.name == "notify-webhook");
    CHECK(manifest.HasKind("notifier"));
    // As theme-education.yaml and iso27001-remediation.yaml declare it.
    CHECK(cascade::plugin::CheckConfig(
              manifest, json::object{{"url", "https://oa.example.gov.cn/cascade/theme-education"}, {"timeout", "10s"}})
              .empty());
    CHECK(cascade::plugin::CheckConfig(manifest, json::object{{"url", "http://127.0.0.1:8080/x"},
                                                              {"secret_env", "HOOK_KEY"},
                                                              {"timeout", "500ms"},
                                                              {"headers", json::object{{"X-Tenant", "anlan"}}}})
              .empty());

    const auto problems_of = [&](const json::object& config) {
        std::string all;
        for (const auto& problem : cascade::plugin::CheckConfig(manifest, config)) {
            all += problem + "\n";
        }
        return all;
    };
    CHECK_THAT(problems_of(json::object{{"timeout", "10s"}}), Catch::Contains("url"));
    CHECK_THAT(problems_of(json::object{{"url", "ftp://example.com/x"}}), Catch::Contains("/url"));
    CHECK_THAT(problems_of(json::object{{"url", "https://x.example"}, {"timeout", "10 seconds"}}),
               Catch::Contains("/timeout"));
    CHECK_THAT(problems_of(json::object{{"url", "https://x.example"}, {"headers", json::object{{"X-A", 1}}}}),
               Catch::Contains("/headers"));
    CHECK_THAT(problems_of(json::object{{"url", "https://x.example"}, {"method", "PUT"}}), Catch::Contains("method"));
}

TEST_CASE("notify-webhook self_test checks its settings without sending", "[plugins][notify-webhook]") {
    HttpServer server;
    auto hook = OpenHook(json::object{{"url", server.Url("/hook")}, {"secret", "k"}});
    const auto result = hook->Call("self_test", json::object{});
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    for (const auto& check : result.value.at("checks").as_array()) {
        CHECK(check.at("ok") == true);
    }
    CHECK(server.Requests().empty());
}

TEST_CASE("notify-webhook as an action step: the answer becomes the step's output", "[plugins][notify-webhook]") {
    HttpServer server([](const HttpRequest& request) {
        if (request.target == "/busy")
            return HttpResponse{503, "{}"};
        return HttpResponse{201, R"({"tickets":["CAPA-17","CAPA-18"]})"};
    });
    auto hook = OpenHook(json::object{{"url", server.Url("/capa")}, {"secret", "k"}});
    const json::object params{{"key", "iso/it/open_tickets/1"},
                              {"declaration", "itsm"},
                              {"attempt", 1},
                              {"instance", "iso/it"},
                              {"unit", "it"},
                              {"step", "open_tickets"},
                              {"activation", 1},
                              {"action", "create_tickets"},
                              {"with", json::object{{"per", "problem"}}}};
    const auto result = hook->Call("act", params);
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    CHECK(result.value.at("output").at("tickets").as_array().size() == 2);
    const auto requests = server.Requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].headers.at("x-cascade-event") == "action");
    CHECK(requests[0].headers.at("idempotency-key") == "iso/it/open_tickets/1");
    CHECK(requests[0].headers.at("x-cascade-signature") == "sha256=" + HmacHex("k", requests[0].body));
    CHECK(json::parse(requests[0].body).at("with").at("per") == "problem");

    auto busy = OpenHook(json::object{{"url", server.Url("/busy")}});
    CHECK(busy->Call("act", params).status == Status::retry);
    CHECK(busy->Call("act", json::object{}).status == Status::error);
}
