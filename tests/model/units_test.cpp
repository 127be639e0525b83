// UnitTree: lookups, ancestry, pre-order subtrees, what Build refuses, and
// long chains handled without recursion.
#include "cascade/model/units.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using cascade::model::Unit;
using cascade::model::UnitTree;

namespace {

Unit U(std::string id, std::string parent, std::string category = "township") {
    Unit unit;
    unit.id = std::move(id);
    unit.parent = std::move(parent);
    unit.name = "Unit " + unit.id;
    unit.category = std::move(category);
    return unit;
}

std::vector<std::string> Ids(const std::vector<const Unit*>& units) {
    std::vector<std::string> ids;
    for (const Unit* unit : units) {
        ids.push_back(unit->id);
    }
    return ids;
}

// county
// ├── tw01
// │   ├── tw01-b01
// │   └── tw01-b02
// ├── tw02
// │   └── tw02-b01
// └── dp01
// Listed with children before their parents and siblings apart, so roster
// order and tree order differ.
UnitTree SampleTree() {
    return UnitTree::Build({U("tw01-b02", "tw01", "party_branch"), U("county", "", "county"), U("tw01", "county"),
                            U("tw02-b01", "tw02", "party_branch"), U("tw02", "county"),
                            U("tw01-b01", "tw01", "party_branch"), U("dp01", "county", "department")});
}

}  // namespace

TEST_CASE("units: lookups and roster order", "[units]") {
    const UnitTree tree = SampleTree();
    CHECK(tree.Size() == 7);
    CHECK_FALSE(tree.Empty());
    REQUIRE(tree.Root() != nullptr);
    CHECK(tree.Root()->id == "county");
    CHECK(tree.Units().front().id == "tw01-b02");  // roster order is kept
    REQUIRE(tree.Find("tw02") != nullptr);
    CHECK(tree.Find("tw02")->name == "Unit tw02");
    CHECK(tree.Find("tw99") == nullptr);
    CHECK(tree.Find("") == nullptr);

    const Unit& branch = *tree.Find("tw01-b01");
    REQUIRE(tree.Parent(branch) != nullptr);
    CHECK(tree.Parent(branch)->id == "tw01");
    CHECK(tree.Parent(*tree.Root()) == nullptr);

    // Children come in roster order: b02 is listed before b01.
    CHECK(Ids(tree.Children(*tree.Find("tw01"))) == std::vector<std::string>{"tw01-b02", "tw01-b01"});
    CHECK(Ids(tree.Children(*tree.Root())) == std::vector<std::string>{"tw01", "tw02", "dp01"});
    CHECK(tree.Children(branch).empty());
}

TEST_CASE("units: depth and ancestors", "[units]") {
    const UnitTree tree = SampleTree();
    const Unit& branch = *tree.Find("tw02-b01");
    CHECK(tree.Depth(*tree.Root()) == 0);
    CHECK(tree.Depth(*tree.Find("dp01")) == 1);
    CHECK(tree.Depth(branch) == 2);

    CHECK(tree.Ancestor(branch, 0) == &branch);
    REQUIRE(tree.Ancestor(branch, 1) != nullptr);
    CHECK(tree.Ancestor(branch, 1)->id == "tw02");
    CHECK(tree.Ancestor(branch, 2) == tree.Root());
    CHECK(tree.Ancestor(branch, 3) == nullptr);
    CHECK(tree.Ancestor(branch, -1) == nullptr);

    CHECK(tree.IsAncestor("county", "tw02-b01"));
    CHECK(tree.IsAncestor("tw02", "tw02-b01"));
    CHECK(tree.IsAncestor("county", "dp01"));
    CHECK_FALSE(tree.IsAncestor("tw02-b01", "tw02-b01"));  // strict
    CHECK_FALSE(tree.IsAncestor("tw02-b01", "tw02"));      // the other way round
    CHECK_FALSE(tree.IsAncestor("tw01", "tw02-b01"));      // a sibling's subtree
    CHECK_FALSE(tree.IsAncestor("tw02", "dp01"));
    CHECK_FALSE(tree.IsAncestor("tw99", "tw02"));
    CHECK_FALSE(tree.IsAncestor("county", "tw99"));
}

TEST_CASE("units: subtrees are pre-order with siblings in roster order", "[units]") {
    const UnitTree tree = SampleTree();
    CHECK(Ids(tree.Subtree(*tree.Root())) ==
          std::vector<std::string>{"county", "tw01", "tw01-b02", "tw01-b01", "tw02", "tw02-b01", "dp01"});
    CHECK(Ids(tree.Subtree(*tree.Find("tw02"))) == std::vector<std::string>{"tw02", "tw02-b01"});
    CHECK(Ids(tree.Subtree(*tree.Find("dp01"))) == std::vector<std::string>{"dp01"});
}

TEST_CASE("units: a copy of a unit is looked up by id; a foreign unit has no place", "[units]") {
    const UnitTree tree = SampleTree();
    const Unit copy = *tree.Find("tw01");
    REQUIRE(tree.Parent(copy) != nullptr);
    CHECK(tree.Parent(copy)->id == "county");
    CHECK(tree.Depth(copy) == 1);
    CHECK(tree.Children(copy).size() == 2);

    const Unit stranger = U("xx01", "county");
    CHECK(tree.Parent(stranger) == nullptr);
    CHECK(tree.Ancestor(stranger, 0) == nullptr);
    CHECK(tree.Children(stranger).empty());
    CHECK(tree.Subtree(stranger).empty());
    CHECK(tree.Depth(stranger) == -1);
}

TEST_CASE("units: an empty tree", "[units]") {
    const UnitTree built = UnitTree::Build({});
    const UnitTree defaulted;
    for (const UnitTree* tree : {&built, &defaulted}) {
        CHECK(tree->Empty());
        CHECK(tree->Size() == 0);
        CHECK(tree->Root() == nullptr);
        CHECK(tree->Find("a") == nullptr);
        CHECK_FALSE(tree->IsAncestor("a", "b"));
    }
}

TEST_CASE("units: Build refuses what is not a tree", "[units]") {
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("a", "a")}), Contains("duplicate unit id 'a'"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("b", "c")}), Contains("unknown parent 'c'"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", "b"), U("b", "a")}), Contains("no root"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("b", "")}), Contains("several root units: 'a' and 'b'"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("b", "c"), U("c", "b")}), Contains("cycle"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("b", "b")}), Contains("'b' is not below the root"));
    CHECK_THROWS_WITH(UnitTree::Build({U("a", ""), U("", "a")}), Contains("empty id"));
    CHECK_THROWS_AS(UnitTree::Build({U("a", "b"), U("b", "a")}), std::invalid_argument);
}

TEST_CASE("units: a chain 100,000 units deep needs no recursion", "[units]") {
    constexpr int kDepth = 100'000;
    std::vector<Unit> units;
    units.reserve(kDepth);
    // Deepest first, so every parent comes after its child in the roster.
    for (int level = kDepth - 1; level >= 0; --level) {
        units.push_back(U("u" + std::to_string(level), level == 0 ? "" : "u" + std::to_string(level - 1)));
    }
    const UnitTree tree = UnitTree::Build(std::move(units));
    const Unit& deepest = *tree.Find("u99999");
    CHECK(tree.Root()->id == "u0");
    CHECK(tree.Depth(deepest) == kDepth - 1);
    CHECK(tree.Ancestor(deepest, kDepth - 1) == tree.Root());
    CHECK(tree.Ancestor(deepest, kDepth) == nullptr);
    CHECK(tree.IsAncestor("u0", "u99999"));
    CHECK(tree.IsAncestor("u50000", "u50001"));
    CHECK_FALSE(tree.IsAncestor("u50001", "u50000"));
    const auto subtree = tree.Subtree(*tree.Find("u50000"));
    REQUIRE(subtree.size() == 50'000);
    CHECK(subtree.front()->id == "u50000");
    CHECK(subtree.back()->id == "u99999");
    const UnitTree copy = tree;  // copying and destroying are flat too
    CHECK(copy.Size() == tree.Size());
}
