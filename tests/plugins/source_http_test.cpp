// source-http, loaded from the build tree through the host API, against a
// real HTTP server on 127.0.0.1: records from the whole answer or from a JSON
// Pointer, field mapping, URL placeholders filled (and encoded) from `where`,
// request headers and a bearer token from the environment; RETRY for 5xx,
// 429, a timeout and a refused connection; ERROR naming the URL for other
// 4xx, malformed JSON and answers of the wrong shape.
#include "cascade/plugin/plugin.hpp"

#include "../support/http_server.hpp"

#include <stdlib.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::CallResult;
using cascade::plugin::Status;
using cascade::testing::HttpRequest;
using cascade::testing::HttpResponse;
using cascade::testing::HttpServer;

fs::path Library() {
    return fs::path(CASCADE_PLUGIN_BUILD_DIR) / "source-http.so";
}

// Study hours as a learning platform's API answers them.
constexpr const char* kHoursAnswer = R"({
  "code": 0,
  "data": {"total": 3, "items": [
    {"org": {"code": "tw01", "name": "城关镇"}, "person": "张海燕", "stats": {"hours": 3.5, "courses": 2}},
    {"org": {"code": "tw01", "name": "城关镇"}, "person": "任振华", "stats": {"hours": 4}},
    {"org": {"code": "tw02", "name": "城郊乡"}, "person": "程永红", "stats": {"hours": 2.5, "courses": 1}}
  ]}
})";

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config) {
    auto manifest = cascade::plugin::ReadManifest(Library());
    if (const auto* message = std::get_if<std::string>(&manifest))
        FAIL(*message);
    cascade::plugin::OpenOptions options;
    options.declaration = "learning";
    options.config = std::move(config);
    return cascade::plugin::Open(std::get<cascade::plugin::Manifest>(manifest), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenHttp(json::object config) {
    auto opened = TryOpen(std::move(config));
    if (const auto* message = std::get_if<std::string>(&opened))
        FAIL(*message);
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

json::array Records(const CallResult& result) {
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    return result.value.at("records").as_array();
}

json::object Where(json::object where) {
    return json::object{{"where", std::move(where)}};
}

// Sets an environment variable for the length of a test.
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

}  // namespace

TEST_CASE("source-http describes itself and its config", "[plugins][source-http]") {
    auto manifest = cascade::plugin::ReadManifest(Library());
    REQUIRE(std::holds_alternative<cascade::plugin::Manifest>(manifest));
    const auto& read = std::get<cascade::plugin::Manifest>(manifest);
    CHECK(read.name == "source-http");
    CHECK(read.HasKind("source"));
    const auto& schema = read.config_schema.as_object();
    CHECK(schema.at("additionalProperties") == false);
    for (const auto& [name, property] : schema.at("properties").as_object()) {
        INFO(name);
        CHECK(property.as_object().contains("description"));
    }
}

TEST_CASE("source-http reads records from a JSON answer", "[plugins][source-http]") {
    HttpServer server([](const HttpRequest& request) {
        if (request.target.rfind("/api/hours", 0) == 0)
            return HttpResponse{200, kHoursAnswer};
        if (request.target == "/api/plain") {
            return HttpResponse{200, R"([{"unit": "tw01", "hours": 7}, {"unit": "tw02", "hours": 1.5}])"};
        }
        return HttpResponse{404, R"({"error": "not found"})"};
    });

    SECTION("the whole answer when it is an array of objects") {
        auto http = OpenHttp({{"url", server.Url("/api/plain")}});
        const auto records = Records(http->Call("read", json::object{}));
        REQUIRE(records.size() == 2);
        CHECK(records[0].at("unit") == "tw01");
        CHECK(records[0].at("hours").as_int64() == 7);
        CHECK(records[1].at("hours").as_double() == 1.5);
        const auto requests = server.Requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].method == "GET");
        CHECK(requests[0].headers.at("accept") == "application/json");
    }
    SECTION("an array inside the answer, each record mapped from its item") {
        auto http = OpenHttp({{"url", server.Url("/api/hours")},
                              {"records", "/data/items"},
                              {"mapping", json::object{{"unit", "/org/code"},
                                                       {"member", "/person"},
                                                       {"hours", "/stats/hours"},
                                                       {"courses", "/stats/courses"}}}});
        const auto records = Records(http->Call("read", json::object{}));
        REQUIRE(records.size() == 3);
        CHECK(records[0].at("unit") == "tw01");
        CHECK(records[0].at("member") == "张海燕");
        CHECK(records[0].at("hours").as_double() == 3.5);
        CHECK(records[0].at("courses").as_int64() == 2);
        CHECK(records[1].at("courses").is_null());  // the item has no such value
    }
    SECTION("placeholders take where values, URL-encoded; other where keys filter") {
        auto http = OpenHttp({{"url", server.Url("/api/hours/{{unit}}?term={{ term }}")},
                              {"records", "/data/items"},
                              {"mapping", json::object{{"unit", "/org/code"}, {"member", "/person"}}}});
        auto records =
            Records(http->Call("read", Where({{"unit", "tw01"}, {"term", "2023 秋/冬&x=1"}, {"member", "任振华"}})));
        REQUIRE(records.size() == 1);
        CHECK(records[0].at("member") == "任振华");
        CHECK(server.Requests().back().target == "/api/hours/tw01?term=2023%20%E7%A7%8B%2F%E5%86%AC%26x%3D1");

        // A key no record carries is not a filter; numbers fill placeholders as text.
        records = Records(http->Call("read", Where({{"unit", "tw02"}, {"term", 2023}, {"step", "x"}})));
        CHECK(records.size() == 3);
        CHECK(server.Requests().back().target == "/api/hours/tw02?term=2023");

        // limit counts the records that pass the filters.
        const auto limited =
            http->Call("read", json::object{{"where", json::object{{"unit", "tw01"}, {"term", 1}}}, {"limit", 1}});
        CHECK(Records(limited).size() == 1);
    }
    SECTION("headers from the config and a bearer token from the environment") {
        const ScopedEnv token("CASCADE_TEST_SOURCE_HTTP_TOKEN", "s3cret-token");
        auto http = OpenHttp({{"url", server.Url("/api/plain")},
                              {"headers", json::object{{"X-Tenant", "anlan"}}},
                              {"token_env", "CASCADE_TEST_SOURCE_HTTP_TOKEN"},
                              {"timeout", "2s"}});
        CHECK(Records(http->Call("read", json::object{})).size() == 2);
        const auto request = server.Requests().back();
        CHECK(request.headers.at("authorization") == "Bearer s3cret-token");
        CHECK(request.headers.at("x-tenant") == "anlan");
        const auto check = http->Call("self_test", json::object{});
        REQUIRE(check.Ok());
        for (const auto& item : check.value.at("checks").as_array()) {
            INFO(json::serialize(item));
            CHECK(item.at("ok") == true);
        }
    }
}

TEST_CASE("source-http retries what may pass", "[plugins][source-http]") {
    HttpServer server([](const HttpRequest& request) {
        if (request.target == "/500")
            return HttpResponse{500, R"({"error": "database down"})"};
        if (request.target == "/503")
            return HttpResponse{503, ""};
        if (request.target == "/429")
            return HttpResponse{429, R"({"error": "slow down"})"};
        if (request.target == "/slow")
            return HttpResponse{200, "[]", "application/json", std::chrono::milliseconds(2000)};
        return HttpResponse{200, "[]"};
    });

    SECTION("server errors and too many requests") {
        for (const std::string path : {"/500", "/503", "/429"}) {
            auto http = OpenHttp({{"url", server.Url(path)}});
            const auto result = http->Call("read", json::object{});
            INFO(result.message);
            CHECK(result.status == Status::retry);
            CHECK(result.message.find(server.Url(path)) != std::string::npos);
            CHECK(result.message.find(path.substr(1)) != std::string::npos);
        }
        // The server's own words are in the message.
        auto http = OpenHttp({{"url", server.Url("/500")}});
        CHECK(http->Call("read", json::object{}).message.find("database down") != std::string::npos);
    }
    SECTION("a timeout") {
        auto http = OpenHttp({{"url", server.Url("/slow")}, {"timeout", "200ms"}});
        const auto started = std::chrono::steady_clock::now();
        const auto result = http->Call("read", json::object{});
        CHECK(result.status == Status::retry);
        CHECK(result.message.find(server.Url("/slow")) != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1500));
    }
    SECTION("a refused connection") {
        std::string url;
        {
            HttpServer gone;
            url = gone.Url("/api/hours");
        }
        auto http = OpenHttp({{"url", url}, {"timeout", "2s"}});
        const auto result = http->Call("read", json::object{});
        CHECK(result.status == Status::retry);
        CHECK(result.message.find(url) != std::string::npos);
    }
}

TEST_CASE("source-http fails what no retry mends, naming the URL", "[plugins][source-http]") {
    HttpServer server([](const HttpRequest& request) {
        if (request.target == "/404")
            return HttpResponse{404, R"({"error": "no such report"})"};
        if (request.target == "/401")
            return HttpResponse{401, R"({"error": "token expired"})"};
        if (request.target == "/400")
            return HttpResponse{400, ""};
        if (request.target == "/broken")
            return HttpResponse{200, R"([{"unit": "tw01", "hours": )"};
        if (request.target == "/html")
            return HttpResponse{200, "<html>maintenance</html>", "text/html"};
        if (request.target == "/object")
            return HttpResponse{200, R"({"data": {"items": {"unit": "tw01"}}})"};
        if (request.target == "/scalars")
            return HttpResponse{200, R"([1, 2, 3])"};
        return HttpResponse{200, "[]"};
    });
    const auto expect_error = [&](json::object config, const std::string& says) {
        const std::string url(config.at("url").as_string());
        auto http = OpenHttp(std::move(config));
        const auto result = http->Call("read", json::object{});
        INFO(result.message);
        CHECK(result.status == Status::error);
        CHECK(result.message.find(url) != std::string::npos);
        CHECK(result.message.find(says) != std::string::npos);
    };

    expect_error({{"url", server.Url("/404")}}, "404");
    expect_error({{"url", server.Url("/401")}}, "token expired");
    expect_error({{"url", server.Url("/400")}}, "400");
    expect_error({{"url", server.Url("/broken")}}, "malformed JSON");
    expect_error({{"url", server.Url("/html")}}, "malformed JSON");
    expect_error({{"url", server.Url("/object")}, {"records", "/data/items"}}, "not an array");
    expect_error({{"url", server.Url("/object")}}, "not an array");
    expect_error({{"url", server.Url("/object")}, {"records", "/data/rows"}}, "/data/rows");
    expect_error({{"url", server.Url("/scalars")}}, "item 1 is a number, not an object");
    // With a mapping, items need not be objects.
    auto mapped = OpenHttp({{"url", server.Url("/scalars")}, {"mapping", json::object{{"value", ""}}}});
    CHECK(Records(mapped->Call("read", json::object{})).at(2).at("value").as_int64() == 3);
}

TEST_CASE("source-http refuses reads it cannot make", "[plugins][source-http]") {
    HttpServer server([](const HttpRequest&) { return HttpResponse{200, "[]"}; });

    SECTION("a placeholder without a value, named") {
        auto http = OpenHttp({{"url", server.Url("/api/{{unit}}/{{term}}")}});
        const auto result = http->Call("read", Where({{"unit", "tw01"}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("{{term}}") != std::string::npos);
        CHECK(server.Requests().empty());
    }
    SECTION("a placeholder value that is not a scalar") {
        auto http = OpenHttp({{"url", server.Url("/api/{{unit}}")}});
        const auto result = http->Call("read", Where({{"unit", json::object{{"id", "tw01"}}}}));
        CHECK(result.status == Status::error);
        CHECK(result.message.find("params.where.unit") != std::string::npos);
    }
    SECTION("a token variable that is not set") {
        ::unsetenv("CASCADE_TEST_SOURCE_HTTP_NO_TOKEN");
        auto http = OpenHttp({{"url", server.Url("/api")}, {"token_env", "CASCADE_TEST_SOURCE_HTTP_NO_TOKEN"}});
        const auto result = http->Call("read", json::object{});
        CHECK(result.status == Status::error);
        CHECK(result.message.find("CASCADE_TEST_SOURCE_HTTP_NO_TOKEN") != std::string::npos);
        CHECK(server.Requests().empty());
        const auto check = http->Call("self_test", json::object{});
        REQUIRE(check.Ok());
        CHECK(check.value.at("checks").as_array().back().at("ok") == false);
    }
    SECTION("malformed params") {
        auto http = OpenHttp({{"url", server.Url("/api")}});
        CHECK(http->Call("read", json::object{{"where", "tw01"}}).status == Status::error);
        CHECK(http->Call("read", json::object{{"limit", 1.5}}).status == Status::error);
    }
    SECTION("configs refused by the schema or the plugin") {
        const std::vector<json::object> refused = {
            json::object{},
            json::object{{"url", "ftp://127.0.0.1/hours.json"}},
            json::object{{"url", server.Url("/api")}, {"timeout", "10 seconds"}},
            json::object{{"url", server.Url("/api")}, {"records", "data/items"}},
            json::object{{"url", server.Url("/api")}, {"mapping", json::object{{"unit", "org/code"}}}},
            json::object{{"url", server.Url("/api/{{unit")}},
            json::object{{"url", server.Url("/api")}, {"headers", json::object{{"X-Bad", "a\r\nb"}}}},
            json::object{{"url", server.Url("/api")}, {"method", "POST"}},
        };
        for (const auto& config : refused) {
            INFO(json::serialize(config));
            CHECK(std::holds_alternative<std::string>(TryOpen(config)));
        }
    }
}
