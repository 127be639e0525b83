// The county campaign with its real plugins: workflows/theme-education.yaml
// (and its branch workflow) on the 364-unit county roster, with notify-email
// pointed at an SMTP server and notify-webhook at an HTTP server that this
// test starts, played from September to mid-November on a virtual clock.
// Its reminders must arrive as readable Chinese mail at the units' contacts,
// its escalations as webhooks, and report-html must write a page whose
// screenshot in a real browser shows the charts.
#include "../plugins/report_browser.hpp"
#include "../runtime/runtime_fixture.hpp"
#include "../support/http_server.hpp"
#include "../support/mail_reader.hpp"
#include "../support/smtp_sink.hpp"

#include "cascade/runtime/plugin_dispatch.hpp"
#include "cascade/runtime/report_data.hpp"
#include "cascade/runtime/simulation.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

namespace cascade::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

void Rewrite(const fs::path& file, const std::vector<std::pair<std::string, std::string>>& replacements) {
    Text text{ReadFile(file.string())};
    for (const auto& [from, to] : replacements) {
        REQUIRE(text.text.find(from) != std::string::npos);
        text = text.replace_all(from, to);
    }
    std::ofstream(file) << text.text;
}

}  // namespace

TEST_CASE("the county campaign reaches people through its plugins and reports upward", "[plugin][county]") {
    SmtpSink smtp;
    HttpServer http;
    TempDir dir;
    fs::copy(std::string(CASCADE_SOURCE_DIR) + "/workflows", dir.Path() / "workflows", fs::copy_options::recursive);
    const fs::path reports = dir.Path() / "reports";
    const std::string smtp_config = "smtp: {host: 127.0.0.1, port: " + std::to_string(smtp.Port()) + "}";
    Rewrite(dir.Path() / "workflows/theme-education.yaml",
            {{"smtp: {host: smtp.example.gov.cn, port: 465, tls: true}", smtp_config},
             {"url: https://oa.example.gov.cn/cascade/theme-education", "url: " + http.Url("/cascade")},
             {"output_dir: reports/theme-education-2023", "output_dir: " + reports.string()}});
    Rewrite(dir.Path() / "workflows/theme-education-branch.yaml",
            {{"smtp: {host: smtp.example.gov.cn, port: 465, tls: true}", smtp_config}});

    store::OpenOptions open;
    open.synchronous = store::Synchronous::off;
    store::Store store = store::Store::Open((dir.Path() / "county.db").string(), open);
    engine::VirtualClock clock;
    runtime::RuntimeOptions options;
    options.utc_offset_minutes = kOffset;
    runtime::Runtime runtime(store, clock, options);
    auto roster = lang::LoadRosterFile(std::string(CASCADE_SOURCE_DIR) + "/workflows/data/county-roster.csv");
    REQUIRE(roster.Ok());
    REQUIRE_FALSE(runtime.ImportUnits(*roster.units));
    auto registered = runtime.Register((dir.Path() / "workflows/theme-education.yaml").string());
    REQUIRE(std::holds_alternative<runtime::Workflow>(registered));
    const auto& workflow = std::get<runtime::Workflow>(registered);

    // Play the campaign; each simulated day's notifications go out through the real plugins.
    runtime::DispatchOptions dispatch;
    dispatch.plugin_folders = {CASCADE_PLUGIN_BUILD_DIR};
    std::ostringstream builtin_log;
    runtime::PluginDispatcher dispatcher(runtime, dispatch, builtin_log);
    runtime::SimulationOptions simulation;
    simulation.until = model::Date::Parse("2023-11-15");
    simulation.deliver_notifications = std::ref(dispatcher);
    const auto played = runtime::Simulate(runtime, clock, workflow, simulation);
    REQUIRE(played.reminders > 0);
    REQUIRE(played.notifications > 0);
    for (const auto& row : store.Outbox("pending"))
        FAIL_CHECK(row.target << ": " << row.last_error);
    for (const auto& row : store.Outbox("dead"))
        FAIL_CHECK(row.target << ": " << row.last_error);

    // Reminders: Chinese mail from the campaign office to the units' own contacts.
    const auto mails = smtp.Messages();
    REQUIRE_FALSE(mails.empty());
    std::set<std::string> recipients;
    bool saw_reminder = false;
    for (const auto& message : mails) {
        for (const auto& to : message.to)
            recipients.insert(to);
        const Mail mail = ReadMail(message);
        CHECK_THAT(DecodeHeader(mail.headers.at("from")), Catch::Contains("县委主题教育办公室"));
        if (DecodeHeader(mail.headers.at("subject")).find("【工作提醒】") != std::string::npos) {
            saw_reminder = true;
            CHECK_THAT(mail.body, Catch::Contains("请于"));
        }
    }
    CHECK(saw_reminder);
    CHECK(recipients.size() > 50);  // reminders go to many units, each to its own people
    for (const auto& to : recipients)
        CHECK_THAT(to, Catch::EndsWith("example.gov.cn>") || Catch::EndsWith("example.gov.cn"));

    // Escalations: webhooks with the event, an idempotency key each, and the unit.
    const auto posts = http.Requests();
    REQUIRE_FALSE(posts.empty());
    std::set<std::string> keys;
    std::map<std::string, int> events;
    for (const auto& post : posts) {
        CHECK(post.method == "POST");
        keys.insert(post.headers.at("idempotency-key"));
        const json::value body = json::parse(post.body);
        const std::string event(body.at("payload").at("event").as_string());
        CHECK(post.headers.at("x-cascade-event") == event);
        ++events[event];
        CHECK_FALSE(body.at("payload").at("unit").as_string().empty());
    }
    CHECK(events["escalated"] > 0);
    CHECK(keys.size() == posts.size());

    // The report upward: one page whose screenshot shows the charts.
    const model::Definition& definition = *workflow.definition;
    const model::PluginDeclaration* declaration = runtime::FindDeclaration(definition, "report");
    REQUIRE(declaration != nullptr);
    auto opened = dispatcher.InstanceFor(definition, *declaration);
    REQUIRE(std::holds_alternative<plugin::Instance*>(opened));
    fs::create_directories(reports);
    runtime::ReportRequest request;
    request.out_dir = reports.string();
    const plugin::CallResult written =
        std::get<plugin::Instance*>(opened)->Call("report", runtime::BuildReportParams(runtime, request));
    INFO(written.message);
    REQUIRE(written.Ok());
    const fs::path page(std::string(written.value.at("files").as_array().front().as_string()));
    CHECK_THAT(ReadFile(page.string()), Catch::Contains("<svg") && Catch::Contains("理论学习"));
    const test::report::Image image = test::report::Screenshot(page, dir.Path() / "report.png");
    for (const test::report::Rgb colour : {test::report::kDone, test::report::kOverdueBar}) {
        CHECK(image.Count(colour) > 1500);
    }
}

}  // namespace cascade::testing
