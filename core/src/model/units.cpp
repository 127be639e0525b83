// UnitTree: the checked, immutable tree of units. Build indexes the units once
// (id -> index, parent, children, a pre-order numbering) so that every query
// afterwards is O(1) or proportional to its answer. Nothing here recurses:
// rosters can hold long chains of units.
#include "cascade/model/units.hpp"

#include <functional>
#include <limits>
#include <stdexcept>

namespace cascade::model {

namespace {

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

}  // namespace

UnitTree UnitTree::Build(std::vector<Unit> units) {
    UnitTree tree;
    tree.units_ = std::move(units);
    const std::size_t count = tree.units_.size();

    tree.index_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string& id = tree.units_[i].id;
        if (id.empty()) {
            throw std::invalid_argument("unit " + std::to_string(i + 1) + " has an empty id");
        }
        if (!tree.index_.emplace(id, i).second) {
            throw std::invalid_argument("duplicate unit id '" + id + "'");
        }
    }

    tree.parent_.assign(count, kNone);
    tree.children_.assign(count, {});
    std::size_t roots = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const Unit& unit = tree.units_[i];
        if (unit.parent.empty()) {
            if (++roots > 1) {
                throw std::invalid_argument("several root units: '" + tree.units_[tree.root_].id + "' and '" + unit.id +
                                            "'");
            }
            tree.root_ = i;
            continue;
        }
        const auto parent = tree.index_.find(unit.parent);
        if (parent == tree.index_.end()) {
            throw std::invalid_argument("unit '" + unit.id + "' has an unknown parent '" + unit.parent + "'");
        }
        tree.parent_[i] = parent->second;
        tree.children_[parent->second].push_back(i);
    }
    if (count == 0) {
        return tree;  // an empty tree is valid: Root() is nullptr
    }
    if (roots == 0) {
        throw std::invalid_argument("no root unit: every unit has a parent");
    }

    // Pre-order walk with an explicit stack. With one root and every parent
    // known, a unit the walk does not reach sits on (or below) a cycle.
    tree.preorder_.reserve(count);
    tree.places_.assign(count, {});
    std::vector<std::size_t> stack{tree.root_};
    while (!stack.empty()) {
        const std::size_t current = stack.back();
        stack.pop_back();
        tree.places_[current].position = tree.preorder_.size();
        tree.preorder_.push_back(current);
        const auto& children = tree.children_[current];
        // Reversed, so the first child in roster order is taken first.
        for (auto child = children.rbegin(); child != children.rend(); ++child) {
            tree.places_[*child].depth = tree.places_[current].depth + 1;
            stack.push_back(*child);
        }
    }
    if (tree.preorder_.size() != count) {
        for (std::size_t i = 0; i < count; ++i) {
            if (tree.places_[i].position == 0 && i != tree.root_) {
                throw std::invalid_argument("unit '" + tree.units_[i].id +
                                            "' is not below the root: its parents form a cycle");
            }
        }
    }
    // Subtree sizes, children before parents: the pre-order read backwards.
    std::vector<std::size_t> sizes(count, 1);
    for (auto it = tree.preorder_.rbegin(); it != tree.preorder_.rend(); ++it) {
        if (tree.parent_[*it] != kNone) {
            sizes[tree.parent_[*it]] += sizes[*it];
        }
        tree.places_[*it].end = tree.places_[*it].position + sizes[*it];
    }
    return tree;
}

std::size_t UnitTree::IndexOf(const Unit& unit) const {
    // A reference into units_ is answered without hashing; std::less gives a
    // total order even for pointers into different objects.
    const std::less<const Unit*> before;
    if (!units_.empty() && !before(&unit, units_.data()) && before(&unit, units_.data() + units_.size())) {
        return static_cast<std::size_t>(&unit - units_.data());
    }
    const auto found = index_.find(unit.id);
    return found == index_.end() ? kNone : found->second;
}

const Unit* UnitTree::Find(std::string_view id) const {
    const auto found = index_.find(std::string(id));
    return found == index_.end() ? nullptr : &units_[found->second];
}

const Unit* UnitTree::Root() const {
    return units_.empty() ? nullptr : &units_[root_];
}

const Unit* UnitTree::Parent(const Unit& unit) const {
    const std::size_t index = IndexOf(unit);
    if (index == kNone || parent_[index] == kNone) {
        return nullptr;
    }
    return &units_[parent_[index]];
}

const Unit* UnitTree::Ancestor(const Unit& unit, int levels) const {
    std::size_t index = IndexOf(unit);
    if (index == kNone || levels < 0 || levels > places_[index].depth) {
        return nullptr;
    }
    for (int level = 0; level < levels; ++level) {
        index = parent_[index];
    }
    return &units_[index];
}

std::vector<const Unit*> UnitTree::Children(const Unit& unit) const {
    std::vector<const Unit*> result;
    const std::size_t index = IndexOf(unit);
    if (index == kNone) {
        return result;
    }
    result.reserve(children_[index].size());
    for (const std::size_t child : children_[index]) {
        result.push_back(&units_[child]);
    }
    return result;
}

bool UnitTree::IsAncestor(std::string_view ancestor_id, std::string_view unit_id) const {
    const auto ancestor = index_.find(std::string(ancestor_id));
    const auto unit = index_.find(std::string(unit_id));
    if (ancestor == index_.end() || unit == index_.end()) {
        return false;
    }
    // Strictly inside the ancestor's pre-order range, and not the ancestor itself.
    const Place& outer = places_[ancestor->second];
    const std::size_t position = places_[unit->second].position;
    return position > outer.position && position < outer.end;
}

std::vector<const Unit*> UnitTree::Subtree(const Unit& root) const {
    std::vector<const Unit*> result;
    const std::size_t index = IndexOf(root);
    if (index == kNone) {
        return result;
    }
    // A subtree is a contiguous range of the pre-order.
    const Place& place = places_[index];
    result.reserve(place.end - place.position);
    for (std::size_t position = place.position; position < place.end; ++position) {
        result.push_back(&units_[preorder_[position]]);
    }
    return result;
}

int UnitTree::Depth(const Unit& unit) const {
    const std::size_t index = IndexOf(unit);
    return index == kNone ? -1 : places_[index].depth;
}

}  // namespace cascade::model
