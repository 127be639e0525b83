// Graph checks. The step graph gets one extra vertex, the exit, that every
// end step leads to; "can finish" then means "reaches the exit", and the
// meeting point of a parallel's branches is its immediate post-dominator
// (Lengauer-Tarjan on the reversed graph, rooted at the exit). Rework edges
// (those with max_rounds inside a loop) are left out of the acyclic view used
// for post-dominators and earliest start dates.
#include "cascade/check/checker.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dominator_tree.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/graph/topological_sort.hpp>
#include <deque>
#include <map>

namespace cascade::check {

using model::Definition;
using model::Step;
using model::StepKind;

namespace {

std::string Article(std::string_view word) {
    const bool vowel = !word.empty() && std::string_view("aeiou").find(word.front()) != std::string_view::npos;
    return (vowel ? "an " : "a ") + std::string(word);
}

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;

struct Edge {
    std::size_t from;
    std::size_t to;
    std::size_t position;  // index in the source step's `next`
    bool bounded;          // carries max_rounds
};

class GraphChecker {
public:
    GraphChecker(const Definition& definition, lang::Diagnostics& diagnostics)
        : definition_(definition), diagnostics_(diagnostics), count_(definition.steps.size()), exit_(count_) {
        for (std::size_t from = 0; from < count_; ++from) {
            const Step& step = definition.steps[from];
            for (std::size_t position = 0; position < step.next.size(); ++position) {
                const auto target = definition.StepIndex(step.next[position].to);
                if (target) {
                    edges_.push_back({from, *target, position, step.next[position].max_rounds.has_value()});
                }
            }
        }
        // Strongly connected components of the full graph tell which edges close loops.
        Graph full = MakeGraph([](const Edge&) { return true; });
        component_.resize(count_ + 1);
        boost::strong_components(
            full, boost::make_iterator_property_map(component_.begin(), boost::get(boost::vertex_index, full)));
        for (const auto& edge : edges_) {
            if (edge.bounded && component_[edge.from] == component_[edge.to]) {
                rework_edges_.push_back(edge);
            }
        }
        component_size_.assign(count_ + 1, 0);
        for (std::size_t v = 0; v <= count_; ++v) {
            ++component_size_[component_[v]];
        }
    }

    bool InLoop(const Edge& edge) const { return component_[edge.from] == component_[edge.to]; }
    bool IsRework(const Edge& edge) const { return edge.bounded && InLoop(edge); }

    const std::map<std::size_t, std::size_t>& JoinOfParallel() const { return join_of_parallel_; }

    std::set<std::pair<std::size_t, std::size_t>> Rework() const {
        std::set<std::pair<std::size_t, std::size_t>> rework;
        for (const auto& edge : edges_) {
            if (IsRework(edge)) {
                rework.emplace(edge.from, edge.position);
            }
        }
        return rework;
    }

    void Run() {
        const auto start = definition_.StepIndex(definition_.start_step);
        if (!start) {
            return;
        }
        CheckReachable(*start);
        CheckLoops();
        CheckTermination();
        CheckParallels();
        CheckEarliestStarts(*start);
    }

private:
    template <typename Keep>
    Graph MakeGraph(Keep keep) const {
        Graph graph(count_ + 1);
        for (const auto& edge : edges_) {
            if (keep(edge)) {
                boost::add_edge(edge.from, edge.to, graph);
            }
        }
        for (std::size_t v = 0; v < count_; ++v) {
            if (definition_.steps[v].kind == StepKind::end) {
                boost::add_edge(v, exit_, graph);
            }
        }
        return graph;
    }

    const std::string& Id(std::size_t v) const { return definition_.steps[v].id; }
    const Step& At(std::size_t v) const { return definition_.steps[v]; }

    std::vector<bool> Reach(const Graph& graph, std::size_t from, bool backwards) const {
        std::vector<bool> seen(count_ + 1, false);
        std::deque<std::size_t> queue{from};
        seen[from] = true;
        while (!queue.empty()) {
            const std::size_t v = queue.front();
            queue.pop_front();
            auto visit = [&](std::size_t next) {
                if (!seen[next]) {
                    seen[next] = true;
                    queue.push_back(next);
                }
            };
            if (backwards) {
                for (auto [it, end] = boost::in_edges(v, graph); it != end; ++it) {
                    visit(boost::source(*it, graph));
                }
            } else {
                for (auto [it, end] = boost::out_edges(v, graph); it != end; ++it) {
                    visit(boost::target(*it, graph));
                }
            }
        }
        return seen;
    }

    void CheckReachable(std::size_t start) {
        const Graph graph = MakeGraph([](const Edge&) { return true; });
        reachable_ = Reach(graph, start, false);
        for (std::size_t v = 0; v < count_; ++v) {
            if (!reachable_[v]) {
                diagnostics_.Error(
                    "unreachable-step", At(v).location,
                    "step '" + Id(v) + "' can never be reached from the start step '" + definition_.start_step + "'",
                    "add a transition to it, or remove it");
            }
        }
    }

    // Every loop needs an edge with max_rounds (so the rework is bounded) and a way out.
    void CheckLoops() {
        const Graph unbounded = MakeGraph([](const Edge& edge) { return !edge.bounded; });
        std::vector<std::size_t> component(count_ + 1);
        boost::strong_components(unbounded, boost::make_iterator_property_map(
                                                component.begin(), boost::get(boost::vertex_index, unbounded)));
        std::set<std::size_t> reported;
        for (const auto& edge : edges_) {
            const bool self_loop = edge.from == edge.to && !edge.bounded;
            const bool closes = edge.to <= edge.from && component[edge.from] == component[edge.to] && !edge.bounded;
            if ((closes || self_loop) && reported.insert(component[edge.from]).second) {
                const auto& transition = At(edge.from).next[edge.position];
                diagnostics_.Error("unbounded-loop", transition.location,
                                   "the loop from '" + Id(edge.from) + "' back to '" + Id(edge.to) +
                                       "' has no max_rounds, so an instance could go round it forever",
                                   "write the rework edge as {to: " + Id(edge.to) + ", when: ..., max_rounds: 3}");
            }
        }
        // A loop no edge leaves (and with no end inside) can never finish.
        std::vector<bool> has_exit(count_ + 1, false);
        for (const auto& edge : edges_) {
            if (component_[edge.from] != component_[edge.to]) {
                has_exit[component_[edge.from]] = true;
            }
        }
        for (std::size_t v = 0; v < count_; ++v) {
            if (At(v).kind == StepKind::end) {
                has_exit[component_[v]] = true;
            }
        }
        std::vector<bool> self_loop(count_ + 1, false);
        for (const auto& edge : edges_) {
            self_loop[edge.from] = self_loop[edge.from] || edge.from == edge.to;
        }
        std::set<std::size_t> seen;
        for (std::size_t v = 0; v < count_; ++v) {
            const std::size_t c = component_[v];
            const bool is_loop = component_size_[c] > 1 || self_loop[v];
            if (is_loop && !has_exit[c] && reachable_[v] && seen.insert(c).second) {
                std::string members;
                for (std::size_t w = 0; w < count_; ++w) {
                    if (component_[w] == c) {
                        members += (members.empty() ? "'" : ", '") + Id(w) + "'";
                    }
                }
                diagnostics_.Error("loop-without-exit", At(v).location,
                                   "the loop through " + members + " has no way out to an end",
                                   "give one of its steps a route that leaves the loop");
                exitless_.insert(c);
            }
        }
    }

    void CheckTermination() {
        const Graph graph = MakeGraph([](const Edge&) { return true; });
        finishes_ = Reach(graph, exit_, true);
        // Every stuck step has successors (the loader requires 'next') that are
        // stuck too, so the chain ends in a loop with no exit: reported there.
    }

    void CheckParallels() {
        // Acyclic view: rework edges removed.
        Graph forward = MakeGraph([this](const Edge& edge) { return !IsRework(edge); });
        const boost::reverse_graph<Graph> backward(forward);
        std::vector<Vertex> idom(count_ + 1, boost::graph_traits<Graph>::null_vertex());
        auto index = boost::get(boost::vertex_index, backward);
        boost::lengauer_tarjan_dominator_tree(backward, exit_, boost::make_iterator_property_map(idom.begin(), index));
        // idom in the reversed graph is the immediate post-dominator in the forward one.
        std::map<std::size_t, std::vector<std::size_t>> parallels_of_join;
        std::set<std::size_t> excused_joins;
        for (std::size_t p = 0; p < count_; ++p) {
            const Step& step = At(p);
            if (step.kind != StepKind::parallel || !reachable_[p] || !finishes_[p]) {
                continue;
            }
            const Vertex meet = idom[p];
            if (step.next.size() < 2) {
                // Reported by the loader; the joins after it are not blamed as well.
                const auto after = Reach(forward, p, false);
                for (std::size_t j = 0; j < count_; ++j) {
                    if (after[j] && At(j).kind == StepKind::join) {
                        excused_joins.insert(j);
                    }
                }
                continue;
            }
            if (meet == boost::graph_traits<Graph>::null_vertex() || meet == exit_) {
                diagnostics_.Error("parallel-never-joins", step.location,
                                   "the branches of parallel '" + step.id + "' never meet again at a join",
                                   "lead every branch to one 'kind: join' step before anything else follows");
                continue;
            }
            if (At(meet).kind != StepKind::join) {
                diagnostics_.Error("parallel-never-joins", step.location,
                                   "the branches of parallel '" + step.id + "' first meet at '" + Id(meet) +
                                       "', which is " + Article(model::StepKindName(At(meet).kind)) + ", not a join",
                                   At(meet).kind == StepKind::end
                                       ? "add a 'kind: join' step before '" + Id(meet) + "'"
                                       : "make '" + Id(meet) + "' a 'kind: join' step, or add a join before it");
                continue;
            }
            parallels_of_join[meet].push_back(p);
            join_of_parallel_[p] = meet;
            const Step& join = At(meet);
            const auto branches = static_cast<int>(step.next.size());
            if (join.join_rule == model::JoinRule::at_least && join.join_count > branches) {
                diagnostics_.Error("join-deadlock", join.location,
                                   "join '" + join.id + "' waits for " + std::to_string(join.join_count) +
                                       " branches, but parallel '" + step.id + "' starts only " +
                                       std::to_string(branches),
                                   "lower 'require' to at most " + std::to_string(branches));
            }
            CheckRegion(p, meet, forward);
        }
        for (std::size_t j = 0; j < count_; ++j) {
            if (At(j).kind != StepKind::join || !reachable_[j]) {
                continue;
            }
            const auto found = parallels_of_join.find(j);
            if (found == parallels_of_join.end() && excused_joins.count(j) == 0) {
                diagnostics_.Error("join-without-parallel", At(j).location,
                                   "join '" + Id(j) +
                                       "' is not where the branches of any parallel meet, so it would "
                                       "wait for branches that never started",
                                   "route the branches of one parallel into it, or make it a plain step");
            } else if (found != parallels_of_join.end() && found->second.size() > 1) {
                diagnostics_.Error("join-shared", At(j).location,
                                   "join '" + Id(j) + "' closes parallels '" + Id(found->second[0]) + "' and '" +
                                       Id(found->second[1]) + "'; each parallel needs its own join",
                                   "add a join for the inner parallel");
            }
        }
    }

    // A rework edge inside a parallel region must stay inside it; otherwise the
    // join waits for a token that left.
    void CheckRegion(std::size_t parallel, std::size_t join, const Graph& forward) {
        std::vector<bool> region(count_ + 1, false);
        std::deque<std::size_t> queue{parallel};
        region[parallel] = true;
        while (!queue.empty()) {
            const std::size_t v = queue.front();
            queue.pop_front();
            for (auto [it, end] = boost::out_edges(v, forward); it != end; ++it) {
                const std::size_t next = boost::target(*it, forward);
                if (next != join && next != exit_ && !region[next]) {
                    region[next] = true;
                    queue.push_back(next);
                }
            }
        }
        for (const auto& edge : rework_edges_) {
            if (region[edge.from] && edge.from != parallel && (!region[edge.to] || edge.to == parallel)) {
                diagnostics_.Error("rework-leaves-parallel", At(edge.from).next[edge.position].location,
                                   "rework edge from '" + Id(edge.from) + "' to '" + Id(edge.to) +
                                       "' leaves the branches of parallel '" + Id(parallel) + "', so join '" +
                                       Id(join) + "' would wait for it forever",
                                   "send rework to a step inside the same branch");
            }
        }
    }

    // The earliest day each step can start, from the campaign start, `opens`
    // dates and joins; a due date before it can never be met.
    void CheckEarliestStarts(std::size_t start) {
        Graph forward = MakeGraph([this](const Edge& edge) { return !IsRework(edge); });
        std::vector<Vertex> order;
        try {
            boost::topological_sort(forward, std::back_inserter(order));
        } catch (const boost::not_a_dag&) {
            return;  // an unbounded loop, already reported
        }
        std::reverse(order.begin(), order.end());
        std::vector<std::optional<model::Date>> earliest(count_ + 1);
        std::vector<std::string> cause(count_ + 1);
        earliest[start] = definition_.start;
        for (const Vertex v : order) {
            if (v == exit_ || !earliest[v]) {
                continue;
            }
            const Step& step = At(v);
            if (step.opens && *earliest[v] < *step.opens) {
                earliest[v] = *step.opens;
                cause[v] = "'" + step.id + "' opens on " + step.opens->ToString();
            }
            const bool own_opening = step.opens && step.due.date < *step.opens;  // the loader reports that one
            if (step.due.kind == model::DeadlineKind::date && step.due.date < *earliest[v] && !own_opening) {
                diagnostics_.Error("due-before-start", step.due.location,
                                   "step '" + step.id + "' is due " + step.due.date.ToString() +
                                       ", but it cannot start before " + earliest[v]->ToString() +
                                       (cause[v].empty() ? std::string() : " (because " + cause[v] + ")"));
            }
            for (auto [it, end] = boost::out_edges(v, forward); it != end; ++it) {
                const std::size_t next = boost::target(*it, forward);
                if (next == exit_) {
                    continue;
                }
                // A join waiting for all branches starts after the latest; other steps after the earliest.
                const bool waits_for_all =
                    At(next).kind == StepKind::join && At(next).join_rule == model::JoinRule::all;
                if (!earliest[next] ||
                    (waits_for_all ? *earliest[next] < *earliest[v] : *earliest[v] < *earliest[next])) {
                    earliest[next] = earliest[v];
                    cause[next] = cause[v];
                }
            }
        }
    }

    const Definition& definition_;
    lang::Diagnostics& diagnostics_;
    std::size_t count_;
    std::size_t exit_;
    std::vector<Edge> edges_;
    std::vector<Edge> rework_edges_;                       // bounded edges inside a loop; few, so scanned per parallel
    std::map<std::size_t, std::size_t> join_of_parallel_;  // where each parallel's branches meet
    std::vector<std::size_t> component_;
    std::vector<std::size_t> component_size_;
    std::vector<bool> reachable_;
    std::vector<bool> finishes_;
    std::set<std::size_t> exitless_;
};

}  // namespace

void CheckGraph(const Definition& definition, lang::Diagnostics& diagnostics) {
    GraphChecker checker(definition, diagnostics);
    checker.Run();
    // max_rounds on an edge outside any loop does nothing: say so.
    for (std::size_t from = 0; from < definition.steps.size(); ++from) {
        const Step& step = definition.steps[from];
        for (std::size_t position = 0; position < step.next.size(); ++position) {
            const auto& transition = step.next[position];
            const auto target = definition.StepIndex(transition.to);
            if (transition.max_rounds && target && !checker.IsRework({from, *target, position, true})) {
                diagnostics.Warning(
                    "rounds-without-loop", transition.location,
                    "max_rounds has no effect: the edge to '" + transition.to + "' is not part of a loop");
            }
        }
    }
}

std::map<std::string, std::string> ParallelJoins(const Definition& definition) {
    lang::Diagnostics ignored;
    GraphChecker checker(definition, ignored);
    checker.Run();
    std::map<std::string, std::string> joins;
    for (const auto& [parallel, join] : checker.JoinOfParallel()) {
        joins[definition.steps[parallel].id] = definition.steps[join].id;
    }
    return joins;
}

std::set<std::pair<std::size_t, std::size_t>> ReworkEdges(const Definition& definition) {
    lang::Diagnostics ignored;
    return GraphChecker(definition, ignored).Rework();
}

lang::LoadResult ValidateWorkflowText(const std::string& text, const std::string& file_name,
                                      const lang::LoadOptions& options) {
    lang::LoadResult result = lang::LoadWorkflowText(text, file_name, options);
    if (result.definition && result.graph_complete) {
        CheckGraph(*result.definition, result.diagnostics);
        result.diagnostics.SortByLocation();
        result.definition->join_of_parallel = ParallelJoins(*result.definition);
    }
    return result;
}

lang::LoadResult ValidateWorkflowFile(const std::string& path, const lang::LoadOptions& options) {
    lang::LoadResult result = lang::LoadWorkflowFile(path, options);
    if (result.definition && result.graph_complete) {
        CheckGraph(*result.definition, result.diagnostics);
        result.diagnostics.SortByLocation();
        result.definition->join_of_parallel = ParallelJoins(*result.definition);
    }
    return result;
}

}  // namespace cascade::check
