// The tree of units a campaign runs over: the county at the root, townships
// and departments below it, party branches below those. Each unit has a
// category, roles held by named people, and member counts by type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cascade::model {

struct Person {
    std::string name;
    std::string contact;  // an e-mail address or other address a notifier understands; may be empty

    friend bool operator==(const Person&, const Person&) = default;
};

struct Unit {
    std::string id;
    std::string parent;  // empty for the root
    std::string name;
    std::string category;
    std::map<std::string, std::vector<Person>> roles;  // role name -> holders (a team may have several)
    std::map<std::string, std::int64_t> members;       // member type -> count

    friend bool operator==(const Unit&, const Unit&) = default;
};

// An immutable, checked tree (one root, no cycles, unique ids, every parent
// known). Build one with UnitTree::Build; the roster loader does that and
// turns problems into located diagnostics first.
class UnitTree {
public:
    UnitTree() = default;

    // Precondition: `units` forms a valid tree (checked by the roster loader);
    // throws std::invalid_argument naming the first problem otherwise. No units give an empty tree.
    static UnitTree Build(std::vector<Unit> units);

    std::size_t Size() const { return units_.size(); }
    bool Empty() const { return units_.empty(); }
    // In roster order.
    const std::vector<Unit>& Units() const { return units_; }

    const Unit* Find(std::string_view id) const;  // nullptr if unknown
    const Unit* Root() const;                     // nullptr if empty
    const Unit* Parent(const Unit& unit) const;   // nullptr for the root
    // `levels` = 0 is the unit itself; nullptr when the tree is not that deep.
    const Unit* Ancestor(const Unit& unit, int levels) const;
    // Children in roster order.
    std::vector<const Unit*> Children(const Unit& unit) const;
    // True when `ancestor` is a strict ancestor of `unit`.
    bool IsAncestor(std::string_view ancestor_id, std::string_view unit_id) const;
    // The unit and everything below it, parents before children (pre-order, roster order among siblings).
    std::vector<const Unit*> Subtree(const Unit& root) const;
    // Depth of the unit: 0 for the root.
    int Depth(const Unit& unit) const;

    // A `unit` argument may be a unit of this tree or a copy of one (found by id). For a unit the
    // tree does not hold, Parent and Ancestor give nullptr, Children and Subtree nothing, Depth -1;
    // IsAncestor is false when either id is unknown.

private:
    // Where a unit sits in the pre-order walk, computed once by Build so that
    // Depth, IsAncestor and Subtree need no walk of their own.
    struct Place {
        std::size_t position = 0;  // index in preorder_
        std::size_t end = 0;       // one past the last unit of its subtree in preorder_
        int depth = 0;
    };

    std::size_t IndexOf(const Unit& unit) const;  // npos when the tree does not hold the unit

    std::vector<Unit> units_;
    std::unordered_map<std::string, std::size_t> index_;
    std::vector<std::size_t> parent_;                 // index of the parent; npos for the root
    std::vector<std::vector<std::size_t>> children_;  // indexes of children
    std::size_t root_ = 0;
    std::vector<std::size_t> preorder_;  // unit indexes, parents before children
    std::vector<Place> places_;          // by unit index
};

}  // namespace cascade::model
