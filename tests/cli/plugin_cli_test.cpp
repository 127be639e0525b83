// `cascade plugins list|info|check`, `--plugin-dir`, and `cascade validate`
// checking workflow plugin declarations against installed manifests: run as
// a user would, against the fixture and first-party plugins of this build.
#include "cli_support.hpp"

#include <catch2/catch.hpp>

namespace cascade::cli_testing {
namespace {

const std::string kFixtures = CASCADE_FIXTURE_PLUGIN_DIR;

}  // namespace

TEST_CASE("cli: plugins list shows the search folders, the plugins and the unloadable files", "[cli][plugin]") {
    const Run run = Cascade({"--plugin-dir", kFixtures, "plugins", "list"});
    REQUIRE(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::Contains(kFixtures));
    CHECK_THAT(run.out, Catch::Contains("fixture-good") && Catch::Contains("fixture-good-stdio"));
    CHECK_THAT(run.out, Catch::Contains("not loadable:") && Catch::Contains("fixture-no-manifest.so"));
    // The build tree's own plugins are found without any flag.
    CHECK_THAT(run.out, Catch::Contains("notify-log"));

    const Run json = Cascade({"plugins", "list", "--format", "json", "--plugin-dir", kFixtures});
    REQUIRE(json.exit_code == 0);
    CHECK_THAT(json.out, Catch::StartsWith("{\"folders\":["));
}

TEST_CASE("cli: plugins info renders the manifest and every config setting", "[cli][plugin]") {
    const Run run = Cascade({"--plugin-dir", kFixtures, "plugins", "info", "fixture-good"});
    REQUIRE(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::Contains("kinds:") && Catch::Contains("sha256:") && Catch::Contains("path"));
    CHECK_THAT(run.out, Catch::Contains("required"));

    const Run unknown = Cascade({"--plugin-dir", kFixtures, "plugins", "info", "fixture-goud"});
    CHECK(unknown.exit_code == 1);
    CHECK_THAT(unknown.err, Catch::Contains("no plugin 'fixture-goud'") && Catch::Contains("fixture-good"));
}

TEST_CASE("cli: plugins check loads a plugin and runs its self-test, or says why not", "[cli][plugin]") {
    TempDir dir;
    const std::string config = "{\"path\": \"" + (dir.Path() / "out.log").string() + "\"}";
    const Run good = Cascade({"plugins", "check", kFixtures + "/good/fixture-good.so", "--config", config});
    INFO(good.err);
    REQUIRE(good.exit_code == 0);
    CHECK_THAT(good.out, Catch::Contains("manifest: ok") && Catch::Contains("self-test: passed"));

    const Run isolated =
        Cascade({"plugins", "check", kFixtures + "/good/fixture-good.so", "--isolate", "--config", config});
    CHECK(isolated.exit_code == 0);
    CHECK_THAT(isolated.out, Catch::Contains("in its own process"));

    const Run process = Cascade({"plugins", "check", kFixtures + "/good/fixture-good-stdio.plugin.json", "--config",
                                 "@" + dir.Write("config.json", config).string()});
    CHECK(process.exit_code == 0);

    struct Refusal {
        const char* file;
        const char* expected;
    };
    for (const Refusal& refusal : {Refusal{"/bad-manifest/fixture-bad-manifest.so", "\"kinds\" is missing"},
                                   Refusal{"/wrong-major/fixture-wrong-major.so", "ABI 2.0"},
                                   Refusal{"/missing-symbol/fixture-missing-symbol.so", "cascade_plugin_entry"},
                                   Refusal{"/good/fixture-good.so", "/path"}}) {
        const Run run = Cascade({"plugins", "check", kFixtures + refusal.file});
        INFO(refusal.file);
        CHECK(run.exit_code == 1);
        CHECK_THAT(run.err, Catch::Contains(refusal.expected));
    }
    const Run bad_json = Cascade({"plugins", "check", kFixtures + "/good/fixture-good.so", "--config", "[1"});
    CHECK(bad_json.exit_code == 2);
}

TEST_CASE("cli: validate checks plugin declarations against the installed plugins", "[cli][plugin]") {
    TempDir dir;
    const std::string workflow = R"(apiVersion: cascade/v1
kind: Workflow
id: plugin-check
title: {zh: 插件检查, en: Plugin check}
calendar: {start: 2023-09-01, end: 2024-01-31}
scope:
  categories:
    township: {zh: 乡镇, en: Township}
roles:
  leader: {title: {zh: 第一责任人, en: First responsible person}}
plugins:
  good:
    plugin: fixture-good
    config:
      path: 42
      colour: red
  missing:
    plugin: fixture-goud
  pinned:
    plugin: fixture-good
    sha256: "0000000000000000000000000000000000000000000000000000000000000000"
    config: {path: /tmp/x}
on:
  enter: [{notify: good}, {notify: missing}, {notify: pinned}]
steps:
  plan:
    kind: task
    title: {zh: 计划, en: Plan}
    assignee: leader
    next: done
  done:
    kind: end
)";
    const auto file = dir.Write("plugins.yaml", workflow).string();
    const Run run = Cascade({"--plugin-dir", kFixtures, "validate", file});
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.err, Catch::Contains(file + ":15:7: error: config/path: must be of type string"));
    CHECK_THAT(run.err, Catch::Contains(file + ":16:7: error: config/colour: unknown setting 'colour'"));
    CHECK_THAT(run.err, Catch::Contains(file + ":18:13: error: plugin 'fixture-goud' is not installed"));
    CHECK_THAT(run.err, Catch::Contains("did you mean 'fixture-good'"));
    CHECK_THAT(run.err, Catch::Contains("not the pinned 0000"));

    const Run shape_only = Cascade({"validate", "--no-plugins", file});
    CHECK(shape_only.exit_code == 0);
}

TEST_CASE("cli: validate refuses a hook that names a plugin which cannot notify", "[cli][plugin]") {
    TempDir dir;
    const auto file = dir.Write("kinds.yaml", R"(apiVersion: cascade/v1
kind: Workflow
id: plugin-kinds
title: {zh: 插件种类, en: Plugin kinds}
calendar: {start: 2023-09-01, end: 2024-01-31}
scope:
  categories:
    township: {zh: 乡镇, en: Township}
roles:
  leader: {title: {zh: 第一责任人, en: First responsible person}}
plugins:
  hours:
    plugin: source-csv
    config: {path: hours.csv}
on:
  enter: [{notify: hours}]
steps:
  plan:
    kind: task
    title: {zh: 计划, en: Plan}
    assignee: leader
    next: fetch
  fetch:
    kind: action
    title: {zh: 取数, en: Fetch}
    plugin: hours
    action: read
    next: done
  done:
    kind: end
)")
                          .string();
    const Run run = Cascade({"validate", file});
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.err, Catch::Contains("'hours' is plugin 'source-csv', which cannot notify (it is a source)"));
    CHECK_THAT(run.err, Catch::Contains("step 'fetch' calls 'hours', plugin 'source-csv', which is neither"));
}

}  // namespace cascade::cli_testing
