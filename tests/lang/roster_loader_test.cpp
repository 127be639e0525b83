// The roster loader: the sample rosters, the CSV and YAML formats agreeing,
// the exact diagnostic (code, line:column, message, hint) for each kind of
// mistake, and large rosters.
#include "cascade/lang/roster_loader.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using cascade::lang::Diagnostic;
using cascade::lang::Diagnostics;
using cascade::lang::LoadRosterFile;
using cascade::lang::LoadRosterText;
using cascade::lang::RosterFormat;
using cascade::lang::RosterLoadResult;
using cascade::lang::RosterOptions;
using cascade::model::Person;
using cascade::model::Unit;

namespace {

std::string DataPath(const std::string& relative) {
    return std::string(CASCADE_SOURCE_DIR) + "/" + relative;
}

std::string ReadText(const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
}

std::string Describe(const Diagnostics& diagnostics) {
    std::string text;
    for (const auto& diagnostic : diagnostics.Items()) {
        text += cascade::lang::FormatText(diagnostic) + "\n";
    }
    return text;
}

RosterLoadResult Csv(const std::string& text, const RosterOptions& options = {}) {
    return LoadRosterText(text, "r.csv", RosterFormat::csv, options);
}

RosterLoadResult Yaml(const std::string& text, const RosterOptions& options = {}) {
    return LoadRosterText(text, "r.yaml", RosterFormat::yaml, options);
}

// Expects a failed load with exactly one diagnostic, and returns it.
Diagnostic OnlyError(const RosterLoadResult& result) {
    INFO(Describe(result.diagnostics));
    CHECK_FALSE(result.units.has_value());
    CHECK_FALSE(result.Ok());
    REQUIRE(result.diagnostics.Items().size() == 1);
    return result.diagnostics.Items().front();
}

void CheckError(const Diagnostic& diagnostic, const std::string& code, int line, int column, const std::string& message,
                const std::string& hint = {}) {
    INFO(cascade::lang::FormatText(diagnostic));
    CHECK(diagnostic.severity == cascade::lang::Severity::error);
    CHECK(diagnostic.code == code);
    CHECK(diagnostic.location.line == line);
    CHECK(diagnostic.location.column == column);
    CHECK(diagnostic.message == message);
    CHECK(diagnostic.hint == hint);
}

// The header and the root row of the CSV error tests; rows they add start at line 3.
const std::string kHeader = "id,parent,name,category,leader,leader_contact,members_in_service\n";
const std::string kRoot = "root,,Root,county,Ada,ada@example.gov.cn,10\n";

// The same for YAML: units they add start at line 6.
const std::string kYamlHead =
    "kind: Roster\n"
    "units:\n"
    "  - id: root\n"
    "    name: Root\n"
    "    category: county\n";

std::int64_t Total(const Unit& unit) {
    std::int64_t total = 0;
    for (const auto& [type, count] : unit.members) {
        total += count;
    }
    return total;
}

}  // namespace

// ---------------------------------------------------------------------------
// Valid rosters

TEST_CASE("roster: both sample rosters load and agree", "[roster]") {
    const auto csv = LoadRosterFile(DataPath("workflows/data/county-roster.csv"));
    const auto yaml = LoadRosterFile(DataPath("workflows/data/county-roster.yaml"));
    INFO(Describe(csv.diagnostics) + Describe(yaml.diagnostics));
    REQUIRE(csv.Ok());
    REQUIRE(yaml.Ok());
    CHECK(csv.diagnostics.Empty());
    CHECK(yaml.diagnostics.Empty());
    REQUIRE(csv.units->Size() == 364);
    REQUIRE(yaml.units->Size() == 364);
    CHECK(csv.units->Units() == yaml.units->Units());  // ids, parents, names, categories, roles, members

    const auto& tree = *csv.units;
    const Unit& root = *tree.Root();
    CHECK(root.id == "anlan");
    CHECK(root.name == "安澜县");
    CHECK(root.roles.at("leader") == std::vector<Person>{{"于欣怡", "anlan@example.gov.cn"}});
    CHECK(root.roles.at("secretary") == std::vector<Person>{{"翟文静", ""}});
    CHECK(root.members.at("in_service") == 7344);
    CHECK(tree.Subtree(root).size() == 364);

    // The README's shape: 115 first-level units, 248 party branches below them,
    // and the root's counts are the totals of branches and leadership teams.
    CHECK(tree.Children(root).size() == 115);
    std::int64_t counted = 0;
    std::size_t branches = 0;
    for (const Unit& unit : tree.Units()) {
        if (unit.category == "party_branch") {
            ++branches;
            CHECK(tree.Depth(unit) == 2);
        }
        if (unit.category == "party_branch" || unit.category == "county_leadership") {
            counted += Total(unit);
        }
    }
    CHECK(branches == 248);
    CHECK(counted == Total(root));
}

TEST_CASE("roster: the sample rosters pass the workflow's categories and member types", "[roster]") {
    RosterOptions options;
    options.known_categories = {"county", "county_leadership", "township",    "department", "enterprise",
                                "school", "new_organization",  "party_branch"};
    options.known_member_types = {"in_service", "mobile", "elderly_infirm", "new_economy"};
    for (const char* file : {"workflows/data/county-roster.csv", "workflows/data/county-roster.yaml"}) {
        const auto result = LoadRosterFile(DataPath(file), options);
        INFO(file << "\n" << Describe(result.diagnostics));
        CHECK(result.Ok());
        CHECK(result.diagnostics.Empty());
    }
}

TEST_CASE("roster: quoting, several holders and empty cells; CSV and YAML agree", "[roster]") {
    const auto csv = LoadRosterFile(DataPath("tests/data/rosters/small.csv"));
    const auto yaml = LoadRosterFile(DataPath("tests/data/rosters/small.yaml"));
    INFO(Describe(csv.diagnostics) + Describe(yaml.diagnostics));
    REQUIRE(csv.Ok());
    REQUIRE(yaml.Ok());
    CHECK(csv.units->Units() == yaml.units->Units());

    const auto& tree = *csv.units;
    CHECK(tree.Root()->name == "Root County, Test");          // a comma inside quotes
    CHECK(tree.Find("tw01-b01")->name == "Branch \"East\"");  // doubled quotes
    CHECK(tree.Find("tw02")->name == "Two\nLines");           // a line end inside quotes
    CHECK(tree.Find("tw01")->roles.at("leader") == std::vector<Person>{{"Cy", "cy@example.gov.cn"},  // paired
                                                                       {"Di", "di@example.gov.cn"}});
    CHECK(tree.Find("tw01")->roles.count("secretary") == 0);  // empty cell: no holder
    CHECK(tree.Find("tw02")->roles.count("leader") == 0);
    CHECK(tree.Find("tw01-b01")->roles.at("leader") == std::vector<Person>{{"Ed", ""}});
    CHECK(tree.Find("tw01-b01")->members == std::map<std::string, std::int64_t>{{"in_service", 5}});  // empty count
    CHECK(tree.Find("tw01-b02")->members.at("mobile") == 1);
    // The unit after the two-line record is row 6 of the spreadsheet, on line 7.
    CHECK(tree.Units().back().id == "tw01-b02");
}

TEST_CASE("roster: CRLF line ends and a byte order mark read the same", "[roster]") {
    const std::string lf = ReadText(DataPath("tests/data/rosters/small.csv"));
    std::string crlf = "\xEF\xBB\xBF";
    for (char c : lf) {
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    }
    const auto plain = Csv(lf);
    const auto windows = Csv(crlf);
    INFO(Describe(windows.diagnostics));
    REQUIRE(plain.Ok());
    REQUIRE(windows.Ok());
    // CRLF inside a quoted field is data, like LF.
    CHECK(windows.units->Find("tw02")->name == "Two\r\nLines");
    CHECK(windows.units->Find("root")->members == plain.units->Find("root")->members);
    CHECK(windows.units->Find("tw01")->roles == plain.units->Find("tw01")->roles);
    CHECK(windows.units->Find("tw01-b02")->roles == plain.units->Find("tw01-b02")->roles);

    // The BOM is not counted in columns, and a CR ending the text ends the record.
    const auto located = Csv("\xEF\xBB\xBF" + kHeader + kRoot + "a,rot,A,township,,,1\r");
    const Diagnostic error = OnlyError(located);
    CheckError(error, "unknown-parent", 3, 3, "row 3, column 'parent': unknown parent 'rot'", "did you mean 'root'?");
}

TEST_CASE("roster: blank lines and blank rows are skipped, but counted as rows", "[roster]") {
    const auto result = Csv(kHeader + "\n" + kRoot + ",,,,,,\n\r\na,root,A,township,,,1\n\n");
    INFO(Describe(result.diagnostics));
    REQUIRE(result.Ok());
    CHECK(result.units->Size() == 2);
    const Diagnostic error = OnlyError(Csv(kHeader + "\n" + kRoot + ",,,,,,\n\r\na,rot,A,township,,,1\n"));
    CheckError(error, "unknown-parent", 6, 3, "row 6, column 'parent': unknown parent 'rot'", "did you mean 'root'?");
}

TEST_CASE("roster: rows count records, not lines", "[roster]") {
    const Diagnostic error = OnlyError(Csv(kHeader + "root,,\"Two\nLines\",county,,,1\na,rot,A,township,,,1\n"));
    CheckError(error, "unknown-parent", 4, 3, "row 3, column 'parent': unknown parent 'rot'", "did you mean 'root'?");
}

TEST_CASE("roster: YAML holders and members in every accepted form", "[roster]") {
    const auto result = Yaml(kYamlHead +
                             "    leader: [Ann, {name: Bo, contact: bo@example.gov.cn}]\n"
                             "    secretary: ~\n"
                             "    liaison: []\n"
                             "    members: {in_service: 0}\n"
                             "  - id: a\n"
                             "    parent: root\n"
                             "    name: A\n"
                             "    category: township\n"
                             "    leader: {name: Cy, contact: ~}\n"
                             "    members:\n");
    INFO(Describe(result.diagnostics));
    REQUIRE(result.Ok());
    const Unit& root = *result.units->Root();
    CHECK(root.roles.at("leader") == std::vector<Person>{{"Ann", ""}, {"Bo", "bo@example.gov.cn"}});
    CHECK(root.roles.size() == 1);  // null and [] give no holders
    CHECK(root.members.at("in_service") == 0);
    CHECK(result.units->Find("a")->roles.at("leader") == std::vector<Person>{{"Cy", ""}});
    CHECK(result.units->Find("a")->members.empty());
}

// ---------------------------------------------------------------------------
// One test per diagnostic code, CSV

TEST_CASE("roster: missing-column", "[roster]") {
    const auto result = Csv("id,parent,nmae,category\nroot,,Root,county\n");
    const Diagnostic error = OnlyError(result);
    CheckError(error, "missing-column", 1, 1, "the header has no 'name' column", "rename column 'nmae' to 'name'");

    const auto none = Csv("parent,name\n");
    INFO(Describe(none.diagnostics));
    REQUIRE(none.diagnostics.Items().size() == 2);
    CheckError(none.diagnostics.Items()[0], "missing-column", 1, 1, "the header has no 'id' column",
               "the header names the columns: id, parent, name, category, then roles and members_<type>");
    CHECK(none.diagnostics.Items()[1].message == "the header has no 'category' column");
}

TEST_CASE("roster: duplicate-column, bad-column, contact-without-role, bad-role-name", "[roster]") {
    CheckError(OnlyError(Csv("id,parent,name,category,name\nroot,,Root,county,x\n")), "duplicate-column", 1, 25,
               "row 1, column 5: duplicate column 'name'", "each column may appear once in the header");
    CheckError(OnlyError(Csv("id,parent,name,category,\nroot,,Root,county,\n")), "bad-column", 1, 25,
               "row 1, column 5: the column has no name",
               "name every column in the header, or remove the empty column");
    CheckError(OnlyError(Csv("id,parent,name,category,members\nroot,,Root,county,1\n")), "bad-column", 1, 25,
               "row 1, column 5: column 'members' names no member type",
               "member counts go in columns named members_<type>, e.g. members_in_service");
    CheckError(OnlyError(Csv("id,parent,name,category,leader,leadr_contact\nroot,,Root,county,Ada,a@x.cn\n")),
               "contact-without-role", 1, 32, "row 1, column 'leadr_contact': contacts with no role column 'leadr'",
               "did you mean 'leader_contact'?");
    CheckError(OnlyError(Csv("id,parent,name,category,team leader\nroot,,Root,county,Ada\n")), "bad-role-name", 1, 25,
               "row 1, column 'team leader': bad role name",
               "role names use ASCII letters, digits, '-', '_' and '.'; other columns are roles");
}

TEST_CASE("roster: a contact column may come before its role column", "[roster]") {
    const auto result = Csv("leader_contact,id,parent,name,category,leader\na@x.cn;b@x.cn,root,,Root,county,A;B\n");
    INFO(Describe(result.diagnostics));
    REQUIRE(result.Ok());
    CHECK(result.units->Root()->roles.at("leader") == std::vector<Person>{{"A", "a@x.cn"}, {"B", "b@x.cn"}});
}

TEST_CASE("roster: duplicate-id", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,,,1\na,root,A2,township,,,1\n")), "duplicate-id", 4,
               1, "row 4, column 'id': duplicate unit id 'a' (first in row 3)", "unit ids must be unique");
}

TEST_CASE("roster: unknown-parent", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,rot,A,township,,,1\n")), "unknown-parent", 3, 3,
               "row 3, column 'parent': unknown parent 'rot'", "did you mean 'root'?");
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,elsewhere,A,township,,,1\n")), "unknown-parent", 3, 3,
               "row 3, column 'parent': unknown parent 'elsewhere'");
}

TEST_CASE("roster: no-root and cycle", "[roster]") {
    const auto result = Csv(kHeader + "a,b,A,township,,,1\nb,a,B,township,,,1\n");
    INFO(Describe(result.diagnostics));
    REQUIRE(result.diagnostics.Items().size() == 2);
    CheckError(result.diagnostics.Items()[0], "no-root", 2, 3, "no unit is the root: every unit has a parent",
               "exactly one unit, the top one, has no parent");
    CheckError(result.diagnostics.Items()[1], "cycle", 2, 3,
               "row 2, column 'parent': the parents form a cycle: a -> b -> a",
               "each unit's parent is the unit above it; the chain must end at the root");

    CheckError(OnlyError(Csv(kHeader)), "no-root", 1, 1, "the roster has no units");
}

TEST_CASE("roster: cycle", "[roster]") {
    // Reported once, at the unit of the cycle listed first; units hanging below the cycle add nothing.
    const auto result = Csv(kHeader + kRoot +
                            "x,b,X,township,,,1\n"
                            "a,c,A,township,,,1\n"
                            "b,a,B,township,,,1\n"
                            "c,b,C,township,,,1\n"
                            "d,d,D,township,,,1\n");
    INFO(Describe(result.diagnostics));
    REQUIRE(result.diagnostics.Items().size() == 2);
    CheckError(result.diagnostics.Items()[0], "cycle", 4, 3,
               "row 4, column 'parent': the parents form a cycle: a -> c -> b -> a",
               "each unit's parent is the unit above it; the chain must end at the root");
    CheckError(result.diagnostics.Items()[1], "cycle", 7, 3, "row 7, column 'parent': 'd' is its own parent",
               "each unit's parent is the unit above it; the chain must end at the root");
}

TEST_CASE("roster: several-roots", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "b,,B,county,,,1\n")), "several-roots", 3, 3,
               "row 3, column 'parent': 'b' is a second unit without a parent (the root is 'root', in row 2)",
               "exactly one unit, the top one, has no parent");
}

TEST_CASE("roster: unknown-category and empty-category", "[roster]") {
    RosterOptions options;
    options.known_categories = {"county", "township"};
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,townshp,,,1\n", options)), "unknown-category", 3, 10,
               "row 3, column 'category': unknown category 'townshp'", "did you mean 'township'?");
    // Without a list of categories, any category goes.
    CHECK(Csv(kHeader + kRoot + "a,root,A,townshp,,,1\n").Ok());
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,,,,1\n")), "empty-category", 3, 10,
               "row 3, column 'category': the unit has no category");
}

TEST_CASE("roster: unknown-member-type", "[roster]") {
    RosterOptions options;
    options.known_member_types = {"in_service", "mobile"};
    CheckError(OnlyError(Csv("id,parent,name,category,members_mobil\nroot,,Root,county,1\n", options)),
               "unknown-member-type", 1, 25, "row 1, column 'members_mobil': unknown member type 'mobil'",
               "did you mean 'mobile'?");
    CHECK(Csv("id,parent,name,category,members_mobil\nroot,,Root,county,1\n").Ok());
}

TEST_CASE("roster: bad-count", "[roster]") {
    for (const char* count : {"-1", "1.5", "x", " 3", "99999999999999999999"}) {
        INFO(count);
        CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,,," + count + "\n")), "bad-count", 3, 21,
                   "row 3, column 'members_in_service': '" + std::string(count) + "' is not a count",
                   "write a whole number, 0 or more, with digits only");
    }
}

TEST_CASE("roster: bad-id", "[roster]") {
    const std::string hint = "ids use ASCII letters, digits, '-', '_' and '.', e.g. 'tw01-b02'";
    CheckError(OnlyError(Csv(kHeader + kRoot + "a b,root,A,township,,,1\n")), "bad-id", 3, 1,
               "row 3, column 'id': bad unit id 'a b'", hint);
    CheckError(OnlyError(Csv(kHeader + kRoot + "城关,root,A,township,,,1\n")), "bad-id", 3, 1,
               "row 3, column 'id': bad unit id '城关'", hint);
    CheckError(OnlyError(Csv(kHeader + kRoot + ",root,A,township,,,1\n")), "bad-id", 3, 1,
               "row 3, column 'id': the unit id is empty", hint);
    CHECK(Csv(kHeader + kRoot + "A_b-1.2,root,A,township,,,1\n").Ok());
}

TEST_CASE("roster: empty-name", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,,township,,,1\n")), "empty-name", 3, 8,
               "row 3, column 'name': the unit has no name");
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,\"  \",township,,,1\n")), "empty-name", 3, 8,
               "row 3, column 'name': the unit has no name");
}

TEST_CASE("roster: empty-holder and contact-count", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,Bo;;Cy,,1\n")), "empty-holder", 3, 19,
               "row 3, column 'leader': holder 2 of 3 has no name",
               "separate several holders with ';', with no empty entries");
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,Bo;Cy,b@x.cn,1\n")), "contact-count", 3, 25,
               "row 3, column 'leader_contact': 1 contact for 2 holders",
               "give one contact per holder, in the same order, separated by ';' (an empty entry for a holder "
               "without one)");
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,,b@x.cn,1\n")), "contact-count", 3, 20,
               "row 3, column 'leader_contact': a contact for no holder (column 'leader' is empty)",
               "name the holder in column 'leader', or remove the contact");
    // An empty entry gives a holder without a contact.
    const auto result = Csv(kHeader + kRoot + "a,root,A,township,Bo;Cy,;c@x.cn,1\n");
    REQUIRE(result.Ok());
    CHECK(result.units->Find("a")->roles.at("leader") == std::vector<Person>{{"Bo", ""}, {"Cy", "c@x.cn"}});
}

TEST_CASE("roster: wrong-field-count", "[roster]") {
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,,1\n")), "wrong-field-count", 3, 21,
               "row 3 has 6 fields; the header has 7",
               "every row has a field for each column; an empty field is written as nothing between two commas");
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A, township, Bo,,1,extra\n")), "wrong-field-count", 3, 27,
               "row 3 has 8 fields; the header has 7", "quote a field that holds a comma: \"a, b\"");
    // The broken row's id is still known: its children raise nothing more.
    const auto result = Csv(kHeader + kRoot + "a,root,A,township,,1\nb,a,B,township,,,1\n");
    INFO(Describe(result.diagnostics));
    CHECK(result.diagnostics.Items().size() == 1);
}

TEST_CASE("roster: unterminated-quote", "[roster]") {
    const auto result = Csv(kHeader + kRoot + "a,root,\"A,township,,,1\nb,root,B,township,,,1\n");
    const Diagnostic error = OnlyError(result);
    CheckError(error, "unterminated-quote", 3, 8, "row 3: the quoted field starting here never ends",
               "add the closing quote; a quote inside a quoted field is written twice (\"\")");
}

TEST_CASE("roster: bad-quote", "[roster]") {
    const std::string hint = "quote the whole field and double each quote inside it: \"a \"\"b\"\" c\"";
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,\"A\"x,township,,,1\n")), "bad-quote", 3, 11,
               "row 3: text after the closing quote of a quoted field", hint);
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A\"x,township,,,1\n")), "bad-quote", 3, 9,
               "row 3: a quote inside a field that does not start with one", hint);
}

TEST_CASE("roster: too-many-units", "[roster]") {
    RosterOptions options;
    options.max_units = 2;
    CHECK(Csv(kHeader + kRoot + "a,root,A,township,,,1\n", options).Ok());
    CheckError(OnlyError(Csv(kHeader + kRoot + "a,root,A,township,,,1\nb,root,B,township,,,1\n", options)),
               "too-many-units", 4, 1, "the roster has more than 2 units",
               "raise the unit limit if this roster is meant to be that large");
    CheckError(OnlyError(Yaml(kYamlHead + "  - {id: a, parent: root, name: A, category: township}\n"
                                          "  - {id: b, parent: root, name: B, category: township}\n",
                              options)),
               "too-many-units", 7, 5, "the roster has more than 2 units",
               "raise the unit limit if this roster is meant to be that large");
}

TEST_CASE("roster: file-too-large, invalid-utf8, empty-document", "[roster]") {
    RosterOptions options;
    options.max_bytes = 64;
    const Diagnostic large = OnlyError(Csv(kHeader + kRoot, options));
    CheckError(large, "file-too-large", 0, 0, "file is larger than the limit of 64 bytes",
               "raise --max-file-size if this is intended");
    const auto from_file = LoadRosterFile(DataPath("tests/data/rosters/small.csv"), options);
    CHECK(OnlyError(from_file).code == "file-too-large");

    const Diagnostic utf8 = OnlyError(Csv(kHeader + kRoot + "a,root,A\xFF,township,,,1\n"));
    CheckError(utf8, "invalid-utf8", 3, 9, "invalid UTF-8 (byte 0xFF)",
               "save the file as UTF-8; GBK/GB18030 files must be converted first");
    CHECK(OnlyError(Yaml("kind: Roster\nunits: [\xC3]\n")).code == "invalid-utf8");

    CheckError(OnlyError(Csv("")), "empty-document", 1, 1, "the file is empty",
               "a roster starts with a header row: id,parent,name,category,...");
}

TEST_CASE("roster: unknown-format and cannot-read", "[roster]") {
    CheckError(OnlyError(LoadRosterFile(DataPath("tests/data/rosters/roster.txt"))), "unknown-format", 0, 0,
               "cannot tell the roster format from the file name", "name a roster file .csv, .yaml or .yml");
    const auto missing = LoadRosterFile(DataPath("tests/data/rosters/no-such-file.CSV"));
    CHECK(OnlyError(missing).code == "cannot-read");
}

TEST_CASE("roster: every error of a CSV file in one pass, sorted by location", "[roster]") {
    const std::string file = DataPath("tests/data/rosters/errors.csv");
    const auto result = LoadRosterFile(file);
    INFO(Describe(result.diagnostics));
    CHECK_FALSE(result.units.has_value());
    const auto& items = result.diagnostics.Items();
    REQUIRE(items.size() == 7);
    CHECK(items[0].location.file == file);
    CheckError(items[0], "unknown-parent", 3, 6, "row 3, column 'parent': unknown parent 'rot'",
               "did you mean 'root'?");
    CheckError(items[1], "duplicate-id", 4, 1, "row 4, column 'id': duplicate unit id 'tw01' (first in row 3)",
               "unit ids must be unique");
    CheckError(items[2], "bad-count", 4, 29, "row 4, column 'members_in_service': 'x' is not a count",
               "write a whole number, 0 or more, with digits only");
    CheckError(items[3], "empty-name", 5, 11, "row 5, column 'name': the unit has no name");
    CheckError(items[4], "empty-holder", 5, 21, "row 5, column 'leader': holder 2 of 2 has no name",
               "separate several holders with ';', with no empty entries");
    CheckError(items[5], "wrong-field-count", 6, 32, "row 6 has 8 fields; the header has 7",
               "quote a field that holds a comma: \"a, b\"");
    CheckError(items[6], "several-roots", 7, 3,
               "row 7, column 'parent': 'b' is a second unit without a parent (the root is 'root', in row 2)",
               "exactly one unit, the top one, has no parent");
}

// ---------------------------------------------------------------------------
// YAML

TEST_CASE("roster: every error of a YAML file in one pass, sorted by location", "[roster]") {
    const auto result = LoadRosterFile(DataPath("tests/data/rosters/errors.yaml"));
    INFO(Describe(result.diagnostics));
    CHECK_FALSE(result.units.has_value());
    const auto& items = result.diagnostics.Items();
    REQUIRE(items.size() == 6);
    CheckError(items[0], "unknown-parent", 8, 13, "unit 'tw01', field 'parent': unknown parent 'rot'",
               "did you mean 'root'?");
    CheckError(items[1], "bad-count", 11, 27, "unit 'tw01', field 'members.in_service': 'many' is not a count",
               "write a whole number, 0 or more, with digits only");
    CheckError(items[2], "duplicate-id", 12, 9, "unit 'tw01', field 'id': duplicate unit id 'tw01' (first at line 7)",
               "unit ids must be unique");
    CheckError(items[3], "empty-name", 14, 11, "unit 'tw01', field 'name': the unit has no name");
    CheckError(items[4], "missing-key", 16, 5, "unit 'tw02' has no 'name'");
    CheckError(items[5], "wrong-type", 19, 19,
               "unit 'tw02', field 'leader': a holder is a name or {name: ..., contact: ...}; several holders are a "
               "list of those");
}

TEST_CASE("roster: YAML tree checks are located at the field", "[roster]") {
    RosterOptions options;
    options.known_categories = {"county", "township"};
    options.known_member_types = {"in_service"};
    const auto result = Yaml(kYamlHead +
                                 "  - id: a\n"                               // 6
                                 "    parent: a\n"                           // 7
                                 "    name: A\n"                             // 8
                                 "    category: townshp\n"                   // 9
                                 "    members: {in_servic: 1}\n"             // 10
                                 "  - {id: b, name: B, category: county}\n"  // 11
                                 "  - {id: 'c d', parent: root, name: C, category: county}\n",
                             options);
    INFO(Describe(result.diagnostics));
    const auto& items = result.diagnostics.Items();
    REQUIRE(items.size() == 5);
    CheckError(items[0], "cycle", 7, 13, "unit 'a', field 'parent': 'a' is its own parent",
               "each unit's parent is the unit above it; the chain must end at the root");
    CheckError(items[1], "unknown-category", 9, 15, "unit 'a', field 'category': unknown category 'townshp'",
               "did you mean 'township'?");
    CheckError(items[2], "unknown-member-type", 10, 15, "unit 'a', field 'members': unknown member type 'in_servic'",
               "did you mean 'in_service'?");
    CheckError(items[3], "several-roots", 11, 5,
               "unit 'b': 'b' is a second unit without a parent (the root is 'root', at line 3)",
               "exactly one unit, the top one, has no parent");
    CheckError(items[4], "bad-id", 12, 10, "unit 'c d', field 'id': bad unit id 'c d'",
               "ids use ASCII letters, digits, '-', '_' and '.', e.g. 'tw01-b02'");
}

TEST_CASE("roster: malformed YAML is located", "[roster]") {
    const Diagnostic error = OnlyError(Yaml("kind: Roster\nunits:\n  - id: a\n   name: [x\n"));
    CHECK(error.code == "yaml-syntax");
    CHECK(error.location.line > 0);
    CHECK(error.location.column > 0);

    CheckError(OnlyError(Yaml(kYamlHead + "    name: Again\n")), "duplicate-key", 6, 5,
               "duplicate key 'name' (first defined at line 4)", "each key may appear once in a mapping");
}

TEST_CASE("roster: the shape of a YAML roster", "[roster]") {
    CheckError(OnlyError(Yaml("- a\n- b\n")), "wrong-type", 1, 1,
               "a roster file is a mapping with 'kind: Roster' and 'units'");
    CheckError(OnlyError(Yaml("kind: Roster\nunits: 5\n")), "wrong-type", 2, 8, "'units' must be a list of units",
               "write each unit as a list item: '- id: ...'");
    CheckError(OnlyError(Yaml("kind: Workflow\nunits: []\n")), "wrong-kind", 1, 7,
               "kind is 'Workflow'; a roster has 'kind: Roster'");
    CheckError(OnlyError(Yaml("kind: Roster\n")), "missing-key", 1, 1, "the roster has no 'units'",
               "list the units under 'units:', the root first");
    CheckError(OnlyError(Yaml("units:\n  - {id: root, name: Root, category: county}\n")), "missing-key", 1, 1,
               "the roster has no 'kind'", "a roster file starts with 'kind: Roster'");
    CheckError(OnlyError(Yaml("kind: Roster\nunit: []\nunits:\n  - {id: root, name: Root, category: county}\n")),
               "unknown-key", 2, 1, "unknown key 'unit' in the roster", "did you mean 'units'?");
    CheckError(OnlyError(Yaml("kind: Roster\nunits: []\n")), "no-root", 2, 8, "the roster has no units");
    CheckError(OnlyError(Yaml("kind: Roster\nunits:\n  - just a name\n")), "wrong-type", 3, 5,
               "unit 1 must be a mapping with id, name and category");
    CheckError(OnlyError(Yaml(kYamlHead + "    members: [1, 2]\n")), "wrong-type", 6, 14,
               "unit 'root', field 'members': must be a mapping of member type to count, e.g. {in_service: 12}");
    CheckError(OnlyError(Yaml(kYamlHead + "    parent: [a]\n")), "wrong-type", 6, 13,
               "unit 'root', field 'parent': must be a single value, not a list or mapping");
    CheckError(OnlyError(Yaml(kYamlHead + "    leader: {name: Ann, phone: 1}\n")), "unknown-key", 6, 25,
               "unit 'root', field 'leader': unknown key 'phone' for a holder");
    CheckError(OnlyError(Yaml(kYamlHead + "    leader: {contact: a@x.cn}\n")), "missing-key", 6, 13,
               "unit 'root', field 'leader': the holder has no 'name'");
    CheckError(OnlyError(Yaml(kYamlHead + "    leader: ''\n")), "empty-holder", 6, 13,
               "unit 'root', field 'leader': a holder has no name");
    CheckError(OnlyError(Yaml(kYamlHead + "    team leader: Ann\n")), "bad-role-name", 6, 5,
               "unit 'root', field 'team leader': bad role name",
               "role names use ASCII letters, digits, '-', '_' and '.'; other keys are roles");
    CheckError(OnlyError(Yaml("kind: Roster\nunits:\n  - {name: A, category: county}\n")), "missing-key", 3, 5,
               "unit 1 has no 'id'");
}

// ---------------------------------------------------------------------------
// Large rosters

namespace {

// A county of `count` units: a chain `depth` levels deep below the root, and
// the rest spread under the first few hundred units.
std::string LargeCsv(int count, int depth) {
    std::string text = "id,parent,name,category,leader,leader_contact,members_in_service,members_mobile\n";
    text.reserve(static_cast<std::size_t>(count) * 64);
    text += "u0,,County,county,Ada,u0@example.gov.cn,100,1\n";
    for (int i = 1; i < count; ++i) {
        const int parent = i <= depth ? i - 1 : (i * 7919) % 500;
        const std::string id = "u" + std::to_string(i);
        text += id + ",u" + std::to_string(parent) + ",\"Unit " + std::to_string(i) +
                ", branch\",party_branch,Holder " + std::to_string(i) + ";Deputy," + id + "@example.gov.cn;,5,0\n";
    }
    return text;
}

}  // namespace

TEST_CASE("roster: 100,000 units with a chain 10,000 deep", "[roster]") {
    const std::string text = LargeCsv(100'000, 10'000);
    const auto start = std::chrono::steady_clock::now();
    const auto result = Csv(text);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    INFO(Describe(result.diagnostics));
    REQUIRE(result.Ok());
    const auto& tree = *result.units;
    CHECK(tree.Size() == 100'000);
    const Unit& deepest = *tree.Find("u10000");
    CHECK(tree.Depth(deepest) == 10'000);
    CHECK(tree.Ancestor(deepest, 10'000) == tree.Root());
    CHECK(tree.IsAncestor("u0", "u10000"));
    CHECK(tree.Subtree(*tree.Root()).size() == 100'000);
    CHECK(deepest.roles.at("leader") == std::vector<Person>{{"Holder 10000", "u10000@example.gov.cn"}, {"Deputy", ""}});
    // Generous, for debug and sanitizer builds; a release build takes a fraction of this.
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count() < 20);
}

TEST_CASE("roster: a cycle through 10,000 units and many errors stay linear", "[roster]") {
    // Rows 2..10001 form one long cycle; every later row has an unknown parent.
    std::string text = kHeader + kRoot;
    for (int i = 0; i < 10'000; ++i) {
        text += "c" + std::to_string(i) + ",c" + std::to_string((i + 1) % 10'000) + ",C,township,,,1\n";
    }
    for (int i = 0; i < 20'000; ++i) {
        text += "x" + std::to_string(i) + ",nowhere" + std::to_string(i) + ",X,township,,,1\n";
    }
    const auto result = Csv(text);
    CHECK_FALSE(result.units.has_value());
    const auto& items = result.diagnostics.Items();
    REQUIRE(items.size() == 20'001);
    CheckError(items[0], "cycle", 3, 4,
               "row 3, column 'parent': the parents form a cycle: c0 -> c1 -> c2 -> c3 -> c4 -> c5 -> c6 -> c7 -> "
               "... -> c0 (10000 units)",
               "each unit's parent is the unit above it; the chain must end at the root");
    CHECK(items.back().code == "unknown-parent");
    CHECK(items.back().location.line == 30'002);
}

TEST_CASE("roster: a large YAML roster", "[roster]") {
    std::string text = "kind: Roster\nunits:\n  - {id: u0, name: County, category: county}\n";
    for (int i = 1; i < 10'000; ++i) {
        text += "  - {id: u" + std::to_string(i) + ", parent: u" + std::to_string(i - 1) +
                ", name: Unit, category: party_branch, leader: Ann, members: {in_service: 1}}\n";
    }
    const auto result = Yaml(text);
    INFO(Describe(result.diagnostics));
    REQUIRE(result.Ok());
    CHECK(result.units->Depth(*result.units->Find("u9999")) == 9'999);
}
