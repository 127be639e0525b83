// notify-email, loaded from the build tree through the host API and sending
// to a real local SMTP server: the mail as a reader's client decodes it
// (Chinese subject and sender, UTF-8 body), who receives it, template
// choice and overrides, and how refusals map to RETRY or ERROR.
#include "../support/mail_reader.hpp"
#include "../support/smtp_sink.hpp"
#include "cascade/plugin/plugin.hpp"

#include <stdlib.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using cascade::plugin::Status;
using cascade::testing::DecodeHeader;
using cascade::testing::Mail;
using cascade::testing::ReadMail;
using cascade::testing::SmtpMessage;
using cascade::testing::SmtpSink;

constexpr std::string_view kKey = "theme-education-2023/t01/study_plan/remind:1";

cascade::plugin::Manifest LoadManifest() {
    auto manifest = cascade::plugin::ReadManifest(fs::path(CASCADE_PLUGIN_BUILD_DIR) / "notify-email.so");
    if (const auto* message = std::get_if<std::string>(&manifest)) {
        FAIL(*message);
    }
    return std::get<cascade::plugin::Manifest>(std::move(manifest));
}

std::variant<std::unique_ptr<cascade::plugin::Instance>, std::string> TryOpen(json::object config) {
    cascade::plugin::OpenOptions options;
    options.declaration = "mail";
    options.config = std::move(config);
    return cascade::plugin::Open(LoadManifest(), options);
}

std::unique_ptr<cascade::plugin::Instance> OpenMail(json::object config) {
    auto opened = TryOpen(std::move(config));
    if (const auto* message = std::get_if<std::string>(&opened)) {
        FAIL(*message);
    }
    return std::get<std::unique_ptr<cascade::plugin::Instance>>(std::move(opened));
}

json::object Config(unsigned short port, std::string language = "zh") {
    return json::object{
        {"from", "县委主题教育办公室 <ztjy@example.gov.cn>"},
        {"smtp", json::object{{"host", "127.0.0.1"}, {"port", static_cast<int>(port)}, {"timeout", "3s"}}},
        {"language", language}};
}

json::object Reminder(json::array people = json::array{
                          json::object{{"name", "张三"}, {"contact", "t01@example.gov.cn"}},
                          json::object{{"name", "李四"}, {"contact", "13800000000"}},
                          json::object{{"name", "王五"}, {"contact", "Wang Wu <wangwu@example.gov.cn>"}}}) {
    return json::object{
        {"key", kKey},
        {"declaration", "mail"},
        {"attempt", 1},
        {"payload",
         json::object{{"event", "remind"},
                      {"workflow", "theme-education-2023"},
                      {"instance", "theme-education-2023/t01"},
                      {"unit", "t01"},
                      {"unit_name", "城关镇党委"},
                      {"on", "2023-11-20"},
                      {"step", "study_plan"},
                      {"step_title", json::object{{"zh", "制定学习计划"}, {"en", "Draw up the study plan"}}},
                      {"due", "2023-11-30"},
                      {"to", json::object{{"role", "leader"}, {"unit", "t01"}, {"people", std::move(people)}}},
                      {"template", "due-reminder"}}}};
}

// ---- reading a mail back as a client would

// A scratch folder for one test, removed when the test ends.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "cascade-notify-email-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& Path() const { return path_; }
    void Write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }

private:
    fs::path path_;
};

bool IsAscii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

TEST_CASE("notify-email sends a UTF-8 reminder a Chinese mail client reads back", "[plugins][notify-email]") {
    SmtpSink sink;
    auto mail = OpenMail(Config(sink.Port()));
    const auto result = mail->Call("notify", Reminder());
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    CHECK(result.value.at("template") == "due-reminder");

    const auto messages = sink.Messages();
    REQUIRE(messages.size() == 1);
    const SmtpMessage& message = messages[0];
    // The envelope: the phone number is skipped, both addresses receive it.
    CHECK(message.from == "ztjy@example.gov.cn");
    CHECK(message.to == std::vector<std::string>{"t01@example.gov.cn", "wangwu@example.gov.cn"});
    // Every header line is 7-bit: non-ASCII text travels encoded.
    CHECK(IsAscii(message.data.substr(0, message.data.find("\r\n\r\n"))));

    const Mail parsed = ReadMail(message);
    CHECK(DecodeHeader(parsed.headers.at("subject")) == "【工作提醒】请于2023年11月30日前完成“制定学习计划”");
    CHECK(DecodeHeader(parsed.headers.at("from")) == "县委主题教育办公室 <ztjy@example.gov.cn>");
    CHECK(DecodeHeader(parsed.headers.at("to")) == "张三 <t01@example.gov.cn>, Wang Wu <wangwu@example.gov.cn>");
    CHECK(parsed.headers.at("mime-version") == "1.0");
    CHECK(parsed.headers.at("content-type") == "text/plain; charset=UTF-8");
    CHECK(parsed.headers.at("message-id") == "<theme-education-2023/t01/study_plan/remind-1@cascade>");
    CHECK(parsed.headers.count("date") == 1);

    CHECK_THAT(parsed.body, Catch::StartsWith("张三、王五同志：\r\n"));
    CHECK_THAT(parsed.body,
               Catch::Contains("城关镇党委承担的“制定学习计划”工作目前尚未完成。请于2023年11月30日前完成"));
    CHECK_THAT(parsed.body, Catch::Contains("县委主题教育办公室\r\n2023年11月20日"));
    CHECK(parsed.body.find("{{") == std::string::npos);
    CHECK(parsed.body.find("\n\n\n") == std::string::npos);
}

TEST_CASE("notify-email keeps the Message-ID across attempts and retries on a 4xx", "[plugins][notify-email]") {
    SmtpSink sink;
    auto mail = OpenMail(Config(sink.Port()));
    sink.FailNext(1);
    const auto refused = mail->Call("notify", Reminder());
    CHECK(refused.status == Status::retry);
    CHECK_THAT(refused.message, Catch::Contains("451"));
    CHECK_THAT(refused.message, Catch::Contains("127.0.0.1"));
    CHECK(sink.Messages().empty());

    auto again = Reminder();
    again["attempt"] = 2;
    const auto sent = mail->Call("notify", again);
    INFO(sent.message);
    REQUIRE(sent.status == Status::ok);
    REQUIRE(sink.Messages().size() == 1);
    CHECK(ReadMail(sink.Messages()[0]).headers.at("message-id") ==
          "<theme-education-2023/t01/study_plan/remind-1@cascade>");
}

TEST_CASE("notify-email fails on a 5xx refusal", "[plugins][notify-email]") {
    SmtpSink sink;
    auto mail = OpenMail(Config(sink.Port()));
    sink.FailNext(1, 550);
    const auto result = mail->Call("notify", Reminder());
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains("550"));
    CHECK(sink.Messages().empty());
}

TEST_CASE("notify-email retries when the server cannot be reached", "[plugins][notify-email]") {
    unsigned short port = 0;
    {
        SmtpSink gone;
        port = gone.Port();
    }
    auto mail = OpenMail(Config(port));
    const auto result = mail->Call("notify", Reminder());
    CHECK(result.status == Status::retry);
    CHECK_THAT(result.message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
}

TEST_CASE("notify-email mails default_to when the payload names no one with an address", "[plugins][notify-email]") {
    SmtpSink sink;
    auto config = Config(sink.Port());
    config["default_to"] = json::array{"县委办 <office@example.gov.cn>", "duty@example.gov.cn"};
    auto mail = OpenMail(config);

    auto params = Reminder();
    params["payload"].as_object().erase("to");
    const auto result = mail->Call("notify", params);
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    REQUIRE(sink.Messages().size() == 1);
    CHECK(sink.Messages()[0].to == std::vector<std::string>{"office@example.gov.cn", "duty@example.gov.cn"});
    // No named person: the mail addresses the unit.
    CHECK_THAT(ReadMail(sink.Messages()[0]).body, Catch::StartsWith("城关镇党委："));

    // People named without an email address: default_to (the office) hears of it instead.
    const auto none =
        mail->Call("notify", Reminder(json::array{json::object{{"name", "李四"}, {"contact", "13800000000"}}}));
    CHECK(none.status == Status::ok);
    REQUIRE(sink.Messages().size() == 2);
    CHECK(sink.Messages()[1].to == std::vector<std::string>{"office@example.gov.cn", "duty@example.gov.cn"});
}

TEST_CASE("notify-email fails when nobody has an email address", "[plugins][notify-email]") {
    SmtpSink sink;
    auto mail = OpenMail(Config(sink.Port()));
    auto params = Reminder(json::array{});
    const auto result = mail->Call("notify", params);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains("no recipient with an email address"));
    params["payload"].as_object().erase("to");
    CHECK(mail->Call("notify", params).status == Status::error);
    CHECK(sink.Messages().empty());
}

TEST_CASE("notify-email picks the template by name, then event, then default", "[plugins][notify-email]") {
    SmtpSink sink;
    auto mail = OpenMail(Config(sink.Port()));
    const auto subject_of = [&](const json::object& payload_changes) {
        auto params = Reminder();
        auto& payload = params["payload"].as_object();
        payload.erase("template");
        for (const auto& [name, value] : payload_changes) {
            payload[name] = value;
        }
        const auto result = mail->Call("notify", params);
        INFO(result.message);
        REQUIRE(result.status == Status::ok);
        return DecodeHeader(ReadMail(sink.Messages().back()).headers.at("subject"));
    };
    CHECK(subject_of(json::object{{"template", "overdue"}}) == "【逾期提醒】城关镇党委“制定学习计划”已超过完成时限");
    CHECK(subject_of(json::object{{"template", "no-such-template"}, {"event", "escalated"}}) ==
          "【督办】城关镇党委“制定学习计划”逾期未办结");
    CHECK(subject_of(json::object{{"event", "return"}}) == "【材料退回】城关镇党委报送的“制定学习计划”材料已退回");
    CHECK(subject_of(json::object{{"event", "enter"}}) == "【工作通知】城关镇党委“制定学习计划”");
}

TEST_CASE("notify-email writes English when configured so", "[plugins][notify-email]") {
    SmtpSink sink;
    auto config = Config(sink.Port(), "en");
    config["from"] = "ISMS Office <isms@example.com>";
    auto mail = OpenMail(config);
    auto params = Reminder();
    params["payload"].as_object()["message"] =
        json::object{{"zh", "请附上学习台账。"}, {"en", "Attach the study log."}};
    const auto result = mail->Call("notify", params);
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    const Mail parsed = ReadMail(sink.Messages().at(0));
    CHECK(parsed.headers.at("subject") == "Reminder: \"Draw up the study plan\" is due on 30 November 2023");
    CHECK(parsed.headers.at("from") == "ISMS Office <isms@example.com>");
    CHECK_THAT(parsed.body, Catch::StartsWith("Dear 张三, 王五,"));
    CHECK_THAT(parsed.body, Catch::Contains("Attach the study log."));
    CHECK(parsed.body.find("请附上") == std::string::npos);
}

TEST_CASE("notify-email templates_dir overrides the built-in templates", "[plugins][notify-email]") {
    SmtpSink sink;
    ScratchDir dir;
    dir.Write("due-reminder.zh.subject.mustache", "自定义提醒：{{unit_name}}（{{due_date}}） <{{step}}>\n");
    dir.Write("summary-submitted.zh.subject.mustache", "{{unit_name}}已报送总结");
    dir.Write("summary-submitted.zh.body.mustache", "{{names}}：{{unit_name}}的总结已报送，附言：{{message}}");
    auto config = Config(sink.Port());
    config["templates_dir"] = dir.Path().string();
    auto mail = OpenMail(config);

    REQUIRE(mail->Call("notify", Reminder()).status == Status::ok);
    Mail parsed = ReadMail(sink.Messages().at(0));
    // Values go in as written (no HTML escaping); the body stays the built-in one.
    CHECK(DecodeHeader(parsed.headers.at("subject")) == "自定义提醒：城关镇党委（2023年11月30日） <study_plan>");
    CHECK_THAT(parsed.body, Catch::Contains("请于2023年11月30日前完成"));

    auto params = Reminder();
    params["payload"].as_object()["template"] = "summary-submitted";
    params["payload"].as_object()["message"] = "见附件 <A&B>";
    const auto result = mail->Call("notify", params);
    INFO(result.message);
    REQUIRE(result.status == Status::ok);
    CHECK(result.value.at("template") == "summary-submitted");
    parsed = ReadMail(sink.Messages().at(1));
    CHECK(DecodeHeader(parsed.headers.at("subject")) == "城关镇党委已报送总结");
    CHECK(parsed.body == "张三、王五：城关镇党委的总结已报送，附言：见附件 <A&B>\r\n");
}

TEST_CASE("notify-email refuses a templates_dir it cannot use", "[plugins][notify-email]") {
    SmtpSink sink;
    ScratchDir dir;
    auto config = Config(sink.Port());
    config["templates_dir"] = (dir.Path() / "missing").string();
    auto opened = TryOpen(config);
    REQUIRE(std::holds_alternative<std::string>(opened));
    CHECK_THAT(std::get<std::string>(opened), Catch::Contains("templates_dir"));

    dir.Write("overdue.zh.body.mustache", "{{#unit_name}}never closed");
    config["templates_dir"] = dir.Path().string();
    opened = TryOpen(config);
    REQUIRE(std::holds_alternative<std::string>(opened));
    CHECK_THAT(std::get<std::string>(opened), Catch::Contains("overdue.zh.body.mustache"));
}

TEST_CASE("notify-email refuses configs it cannot honour", "[plugins][notify-email]") {
    SmtpSink sink;
    const auto message = [](json::object config) {
        auto opened = TryOpen(std::move(config));
        REQUIRE(std::holds_alternative<std::string>(opened));
        return std::get<std::string>(opened);
    };
    auto config = Config(sink.Port());
    config["from"] = "not an address@";
    CHECK_THAT(message(config), Catch::Contains("from"));

    config = Config(sink.Port());
    config["smtp"].as_object()["tls"] = true;
    config["smtp"].as_object()["starttls"] = true;
    CHECK_THAT(message(config), Catch::Contains("not both"));

    config = Config(sink.Port());
    config["smtp"].as_object()["username"] = "ztjy";
    config["smtp"].as_object()["password_env"] = "CASCADE_TEST_SMTP_PASSWORD_UNSET";
    ::unsetenv("CASCADE_TEST_SMTP_PASSWORD_UNSET");
    CHECK_THAT(message(config), Catch::Contains("CASCADE_TEST_SMTP_PASSWORD_UNSET"));

    config = Config(sink.Port());
    config["default_to"] = json::array{"ok@example.gov.cn", "broken@"};
    CHECK_THAT(message(config), Catch::Contains("default_to[1]"));
}

TEST_CASE("notify-email's schema accepts the shipped workflows and refuses bad configs", "[plugins][notify-email]") {
    const auto manifest = LoadManifest();
    CHECK(manifest.name == "notify-email");
    CHECK(manifest.HasKind("notifier"));
    // As theme-education.yaml and iso27001-remediation.yaml declare it.
    CHECK(cascade::plugin::CheckConfig(
              manifest,
              json::object{{"from", "县委主题教育办公室 <ztjy@example.gov.cn>"},
                           {"smtp", json::object{{"host", "smtp.example.gov.cn"}, {"port", 465}, {"tls", true}}},
                           {"language", "zh"}})
              .empty());
    CHECK(cascade::plugin::CheckConfig(
              manifest,
              json::object{{"from", "ISMS Office <isms@example.com>"},
                           {"smtp", json::object{{"host", "smtp.example.com"}, {"port", 587}, {"starttls", true}}},
                           {"language", "zh"}})
              .empty());

    const auto problems_of = [&](const json::object& config) {
        std::string all;
        for (const auto& problem : cascade::plugin::CheckConfig(manifest, config)) {
            all += problem + "\n";
        }
        return all;
    };
    const json::object smtp{{"host", "smtp.example.com"}};
    CHECK_THAT(problems_of(json::object{{"smtp", smtp}}), Catch::Contains("from"));
    CHECK_THAT(problems_of(json::object{{"from", "a@example.com"}, {"smtp", json::object{{"port", "25"}}}}),
               Catch::Contains("/smtp"));
    CHECK_THAT(problems_of(json::object{{"from", "a@example.com"},
                                        {"smtp", json::object{{"host", "h"}, {"port", "twenty-five"}}}}),
               Catch::Contains("/smtp/port"));
    CHECK_THAT(problems_of(json::object{{"from", "a@example.com"}, {"smtp", smtp}, {"language", "fr"}}),
               Catch::Contains("/language"));
    CHECK_THAT(problems_of(json::object{{"from", "a@example.com"},
                                        {"smtp", json::object{{"host", "h"}, {"password", "inline"}}}}),
               Catch::Contains("password"));

    const auto opened = TryOpen(json::object{{"from", "a@example.com"}, {"smtp", smtp}, {"language", "fr"}});
    REQUIRE(std::holds_alternative<std::string>(opened));
    CHECK_THAT(std::get<std::string>(opened), Catch::Contains("/language"));
}

TEST_CASE("notify-email self_test renders every template without sending", "[plugins][notify-email]") {
    SmtpSink sink;
    for (const std::string language : {"zh", "en"}) {
        auto mail = OpenMail(Config(sink.Port(), language));
        const auto result = mail->Call("self_test", json::object{});
        INFO(language << ": " << result.message);
        REQUIRE(result.status == Status::ok);
        int templates = 0;
        for (const auto& check : result.value.at("checks").as_array()) {
            CHECK(check.at("ok") == true);
            templates += check.at("name").as_string().starts_with("template ") ? 1 : 0;
        }
        CHECK(templates == 10);  // five names, subject and body
    }
    CHECK(sink.Messages().empty());
}
