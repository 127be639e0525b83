// `cascade simulate` and the form solver behind it. The simulation drives a
// real Runtime over a scratch store, one virtual day at a time (one
// transaction per day), with simulated units that hand in forms built by
// SolveForm: a seeded default payload within every declared constraint,
// then adjusted field by field until the step's gate holds, by walking the
// gate's syntax tree and solving each comparison for the form side.
//
// Every random draw comes from a generator seeded by hashing the run's seed
// with what the draw is about ("instance, step, activation"), never from a
// shared stream, so a unit's behaviour does not depend on the order in which
// the simulation happens to visit units: two runs with one seed agree.
#include "cascade/runtime/simulation.hpp"

#include "cascade/engine/forms.hpp"
#include "cascade/lang/expression.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>

namespace cascade::runtime {

namespace json = boost::json;
using model::BinaryOp;
using model::Date;
using model::Expression;
using model::FieldType;
using model::FormField;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
// The smallest step a simulated person takes with a decimal number ("> 0.9" -> 0.91).
constexpr double kDecimalStep = 0.01;
// Rounds of solving: fixing one comparison of a gate can break another
// (`a == b and c <= b`), so the solver goes over the goals again.
constexpr int kSolveRounds = 5;

// ---------------------------------------------------------------- randomness

// splitmix64: small, fast and the same on every platform (unlike the
// standard distributions, whose algorithms the standard leaves open).
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t Next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [low, high]; low when the range is empty.
    std::int64_t Uniform(std::int64_t low, std::int64_t high) {
        if (high <= low) {
            return low;
        }
        const auto span = static_cast<std::uint64_t>(high - low) + 1;
        return low + static_cast<std::int64_t>(Next() % span);
    }
    double Real() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
    bool Chance(double share) { return Real() < share; }
    template <typename T>
    void Shuffle(std::vector<T>& items) {
        for (std::size_t i = items.size(); i > 1; --i) {
            std::swap(items[i - 1], items[static_cast<std::size_t>(Uniform(0, static_cast<std::int64_t>(i) - 1))]);
        }
    }

private:
    std::uint64_t state_;
};

// A seed for one subject of random draws: FNV-1a of the text, mixed with the run's seed.
std::uint64_t SeedFor(std::uint64_t seed, std::string_view subject) {
    std::uint64_t hash = 0xCBF29CE484222325ULL;
    for (const char c : subject) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    }
    Rng mixer(hash ^ (seed * 0x9E3779B97F4A7C15ULL));
    return mixer.Next();
}

// ---------------------------------------------------------------- text

std::size_t CodePoints(std::string_view text) {
    std::size_t count = 0;
    for (const char c : text) {
        count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
}

// The first `count` code points of `text`.
std::string TruncateCodePoints(const std::string& text, std::size_t count) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && seen++ == count) {
            return text.substr(0, i);
        }
    }
    return text;
}

void AppendUtf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
        out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        out += static_cast<char>(0xC0 | (code_point >> 6));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
        out += static_cast<char>(0xE0 | (code_point >> 12));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code_point >> 18));
        out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
}

// Decodes the code point at `position` and moves past it (invalid bytes count as themselves).
std::uint32_t NextCodePoint(std::string_view text, std::size_t& position) {
    const auto lead = static_cast<unsigned char>(text[position++]);
    int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    std::uint32_t code_point = extra == 3 ? lead & 0x07u : extra == 2 ? lead & 0x0Fu : extra == 1 ? lead & 0x1Fu : lead;
    while (extra-- > 0 && position < text.size()) {
        code_point = (code_point << 6) | (static_cast<unsigned char>(text[position++]) & 0x3Fu);
    }
    return code_point;
}

// The words of a field's title before any parenthesis: "问题清单（每条一个问题）" -> "问题清单".
std::string TitleStem(const FormField& field) {
    std::string title = field.title.zh.empty() ? field.title.en : field.title.zh;
    for (const std::string_view stop : {"（", "("}) {
        if (const auto cut = title.find(stop); cut != std::string::npos && cut > 0) {
            title.resize(cut);
        }
    }
    return title.empty() ? field.name : title;
}

// Draws strings that match simple patterns: literals, escapes (\d \w \s and
// escaped punctuation), classes ([a-z0-9_-], negated ones drawn from letters
// and digits), '.', groups with alternatives, and the quantifiers ? * + {n}
// {n,} {n,m}. Anything else (back-references, lookarounds, \u escapes) gives
// nullopt: the caller then tries fixed candidates.
class PatternSampler {
public:
    PatternSampler(std::string_view pattern, Rng& rng) : pattern_(pattern), rng_(rng) {}

    std::optional<std::string> Sample() {
        position_ = !pattern_.empty() && pattern_[0] == '^' ? 1 : 0;
        auto sample = Alternatives();
        if (!sample || position_ != pattern_.size()) {
            return std::nullopt;
        }
        return sample;
    }

private:
    using Ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

    bool AtEnd() const { return position_ >= pattern_.size(); }
    char Peek() const { return pattern_[position_]; }

    std::optional<std::string> Alternatives() {
        std::vector<std::string> samples;
        for (;;) {
            auto sequence = Sequence();
            if (!sequence) {
                return std::nullopt;
            }
            samples.push_back(std::move(*sequence));
            if (AtEnd() || Peek() != '|') {
                break;
            }
            ++position_;
        }
        return samples[static_cast<std::size_t>(rng_.Uniform(0, static_cast<std::int64_t>(samples.size()) - 1))];
    }

    std::optional<std::string> Sequence() {
        std::string out;
        while (!AtEnd() && Peek() != '|' && Peek() != ')') {
            if (Peek() == '$' && position_ + 1 == pattern_.size()) {
                ++position_;
                break;
            }
            // A repeated atom is parsed again for each repetition, so `(a|b){3}` draws three times.
            const std::size_t atom_start = position_;
            auto first = Atom();
            if (!first) {
                return std::nullopt;
            }
            const auto repeat = Quantifier();
            if (!repeat) {
                return std::nullopt;
            }
            const std::size_t after = position_;
            const std::int64_t count = rng_.Uniform(repeat->first, repeat->second);
            for (std::int64_t i = 0; i < count; ++i) {
                if (i > 0) {
                    position_ = atom_start;
                    first = Atom();
                }
                out += *first;
            }
            position_ = after;
        }
        return out;
    }

    std::optional<std::pair<std::int64_t, std::int64_t>> Quantifier() {
        std::pair<std::int64_t, std::int64_t> range{1, 1};
        if (AtEnd()) {
            return range;
        }
        const char c = Peek();
        if (c == '?') {
            range = {0, 1};
        } else if (c == '*') {
            range = {0, 3};
        } else if (c == '+') {
            range = {1, 3};
        } else if (c == '{') {
            const auto close = pattern_.find('}', position_);
            if (close == std::string_view::npos) {
                return std::nullopt;
            }
            const std::string body(pattern_.substr(position_ + 1, close - position_ - 1));
            const auto comma = body.find(',');
            try {
                range.first = std::stoll(body.substr(0, comma));
                range.second = comma == std::string::npos ? range.first
                               : comma + 1 == body.size() ? range.first + 3
                                                          : std::stoll(body.substr(comma + 1));
            } catch (const std::exception&) {
                return std::nullopt;
            }
            if (range.first < 0 || range.second < range.first || range.second > 1000) {
                return std::nullopt;
            }
            position_ = close;
        } else {
            return range;
        }
        ++position_;
        if (!AtEnd() && Peek() == '?') {
            ++position_;  // lazy: the same strings match
        }
        return range;
    }

    std::string Draw(const Ranges& ranges) {
        const auto& [low, high] =
            ranges[static_cast<std::size_t>(rng_.Uniform(0, static_cast<std::int64_t>(ranges.size()) - 1))];
        std::string out;
        AppendUtf8(out, static_cast<std::uint32_t>(rng_.Uniform(low, high)));
        return out;
    }

    // The ranges an escape letter stands for; nullopt for letters this sampler does not know.
    static std::optional<Ranges> EscapeClass(char letter) {
        switch (letter) {
        case 'd':
            return Ranges{{'0', '9'}};
        case 'w':
            return Ranges{{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}};
        case 's':
            return Ranges{{' ', ' '}};
        case 'D':
            return Ranges{{'a', 'z'}};
        case 'W':
        case 'S':
            return Ranges{{'-', '-'}};
        case 'n':
            return Ranges{{'\n', '\n'}};
        case 't':
            return Ranges{{'\t', '\t'}};
        default:
            break;
        }
        if (std::isalnum(static_cast<unsigned char>(letter)) != 0) {
            return std::nullopt;  // \b, \u, \x, back-references ...
        }
        return Ranges{{static_cast<unsigned char>(letter), static_cast<unsigned char>(letter)}};
    }

    std::optional<std::string> Atom() {
        const char c = Peek();
        if (c == '(') {
            ++position_;
            if (!AtEnd() && Peek() == '?') {
                if (position_ + 1 >= pattern_.size() || pattern_[position_ + 1] != ':') {
                    return std::nullopt;  // lookarounds
                }
                position_ += 2;
            }
            auto inner = Alternatives();
            if (!inner || AtEnd() || Peek() != ')') {
                return std::nullopt;
            }
            ++position_;
            return inner;
        }
        if (c == '[') {
            return Class();
        }
        if (c == '.') {
            ++position_;
            return std::string("a");
        }
        if (c == '\\') {
            if (position_ + 1 >= pattern_.size()) {
                return std::nullopt;
            }
            const auto ranges = EscapeClass(pattern_[position_ + 1]);
            position_ += 2;
            return ranges ? std::optional(Draw(*ranges)) : std::nullopt;
        }
        if (c == '*' || c == '+' || c == '?' || c == '{' || c == '^' || c == '$') {
            return std::nullopt;
        }
        const std::size_t start = position_;
        NextCodePoint(pattern_, position_);
        return std::string(pattern_.substr(start, position_ - start));
    }

    std::optional<std::string> Class() {
        ++position_;  // '['
        const bool negated = !AtEnd() && Peek() == '^';
        position_ += negated ? 1 : 0;
        Ranges ranges;
        bool first = true;
        while (!AtEnd() && (Peek() != ']' || first)) {
            first = false;
            if (Peek() == '\\') {
                if (position_ + 1 >= pattern_.size()) {
                    return std::nullopt;
                }
                const auto escaped = EscapeClass(pattern_[position_ + 1]);
                if (!escaped) {
                    return std::nullopt;
                }
                position_ += 2;
                ranges.insert(ranges.end(), escaped->begin(), escaped->end());
                continue;
            }
            const std::uint32_t low = NextCodePoint(pattern_, position_);
            std::uint32_t high = low;
            if (position_ + 1 < pattern_.size() && Peek() == '-' && pattern_[position_ + 1] != ']') {
                ++position_;
                high = NextCodePoint(pattern_, position_);
            }
            if (high < low) {
                return std::nullopt;
            }
            ranges.emplace_back(low, high);
        }
        if (AtEnd()) {
            return std::nullopt;
        }
        ++position_;  // ']'
        if (!negated) {
            return ranges.empty() ? std::nullopt : std::optional(Draw(ranges));
        }
        std::vector<std::uint32_t> outside;
        for (const std::string_view pool : {"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"}) {
            for (const char c : pool) {
                const auto code = static_cast<std::uint32_t>(static_cast<unsigned char>(c));
                if (std::none_of(ranges.begin(), ranges.end(),
                                 [&](const auto& range) { return range.first <= code && code <= range.second; })) {
                    outside.push_back(code);
                }
            }
        }
        if (outside.empty()) {
            return std::nullopt;
        }
        std::string out;
        AppendUtf8(out,
                   outside[static_cast<std::size_t>(rng_.Uniform(0, static_cast<std::int64_t>(outside.size()) - 1))]);
        return out;
    }

    std::string_view pattern_;
    Rng& rng_;
    std::size_t position_ = 0;
};

// ---------------------------------------------------------------- expressions

bool DependsOnForm(const Expression& expression) {
    return std::visit(
        [](const auto& node) -> bool {
            using T = std::decay_t<decltype(node)>;
            if constexpr (std::is_same_v<T, model::PathNode>) {
                return node.segments.size() == 2 && node.segments[0] == "form";
            } else if constexpr (std::is_same_v<T, model::UnaryNode>) {
                return DependsOnForm(*node.operand);
            } else if constexpr (std::is_same_v<T, model::BinaryNode>) {
                return DependsOnForm(*node.left) || DependsOnForm(*node.right);
            } else if constexpr (std::is_same_v<T, model::CallNode>) {
                return std::any_of(node.arguments.begin(), node.arguments.end(),
                                   [](const auto& argument) { return DependsOnForm(*argument); });
            } else if constexpr (std::is_same_v<T, model::ListNode>) {
                return std::any_of(node.items.begin(), node.items.end(),
                                   [](const auto& item) { return DependsOnForm(*item); });
            } else {
                return false;
            }
        },
        expression.node);
}

bool ReadsNamespace(const Expression& expression, std::string_view name) {
    return std::visit(
        [name](const auto& node) -> bool {
            using T = std::decay_t<decltype(node)>;
            if constexpr (std::is_same_v<T, model::PathNode>) {
                return !node.segments.empty() && node.segments[0] == name;
            } else if constexpr (std::is_same_v<T, model::UnaryNode>) {
                return ReadsNamespace(*node.operand, name);
            } else if constexpr (std::is_same_v<T, model::BinaryNode>) {
                return ReadsNamespace(*node.left, name) || ReadsNamespace(*node.right, name);
            } else if constexpr (std::is_same_v<T, model::CallNode>) {
                return std::any_of(node.arguments.begin(), node.arguments.end(),
                                   [name](const auto& argument) { return ReadsNamespace(*argument, name); });
            } else if constexpr (std::is_same_v<T, model::ListNode>) {
                return std::any_of(node.items.begin(), node.items.end(),
                                   [name](const auto& item) { return ReadsNamespace(*item, name); });
            } else {
                return false;
            }
        },
        expression.node);
}

// The conjuncts of `a and b and c`.
void Conjuncts(const Expression& expression, std::vector<const Expression*>& out) {
    if (const auto* binary = std::get_if<model::BinaryNode>(&expression.node);
        binary != nullptr && binary->op == BinaryOp::logical_and) {
        Conjuncts(*binary->left, out);
        Conjuncts(*binary->right, out);
        return;
    }
    out.push_back(&expression);
}

// Like the engine: true only for a boolean true (null and evaluation errors do not hold).
bool IsTrue(const Expression& expression, const lang::EvaluationContext& evaluation) {
    const auto result = lang::Evaluate(expression, evaluation);
    const auto* value = std::get_if<model::Value>(&result);
    return value != nullptr && std::holds_alternative<bool>(value->data) && std::get<bool>(value->data);
}

std::optional<double> Numeric(const model::Value& value) {
    if (const auto* integer = std::get_if<std::int64_t>(&value.data)) {
        return static_cast<double>(*integer);
    }
    if (const auto* number = std::get_if<double>(&value.data)) {
        return *number;
    }
    return std::nullopt;
}

// A comparison to make hold, with 'not' pushed into it.
enum class Relation { eq, ne, lt, le, gt, ge, in, not_in };

std::optional<Relation> RelationOf(BinaryOp op) {
    switch (op) {
    case BinaryOp::equal:
        return Relation::eq;
    case BinaryOp::not_equal:
        return Relation::ne;
    case BinaryOp::less:
        return Relation::lt;
    case BinaryOp::less_equal:
        return Relation::le;
    case BinaryOp::greater:
        return Relation::gt;
    case BinaryOp::greater_equal:
        return Relation::ge;
    case BinaryOp::in:
        return Relation::in;
    default:
        return std::nullopt;
    }
}

Relation Negated(Relation relation) {
    switch (relation) {
    case Relation::eq:
        return Relation::ne;
    case Relation::ne:
        return Relation::eq;
    case Relation::lt:
        return Relation::ge;
    case Relation::le:
        return Relation::gt;
    case Relation::gt:
        return Relation::le;
    case Relation::ge:
        return Relation::lt;
    case Relation::in:
        return Relation::not_in;
    case Relation::not_in:
        return Relation::in;
    }
    return relation;
}

// `a < b` read from b's side: `b > a`. nullopt for membership, which has no mirror.
std::optional<Relation> Mirrored(Relation relation) {
    switch (relation) {
    case Relation::lt:
        return Relation::gt;
    case Relation::le:
        return Relation::ge;
    case Relation::gt:
        return Relation::lt;
    case Relation::ge:
        return Relation::le;
    case Relation::eq:
    case Relation::ne:
        return relation;
    default:
        return std::nullopt;
    }
}

struct Interval {
    double low = -kInfinity;
    double high = kInfinity;
};

// The values x with `x relation target`; `integral` for integers and dates (in days).
std::optional<Interval> Allowed(Relation relation, double target, bool integral) {
    switch (relation) {
    case Relation::eq:
        if (integral && target != std::floor(target)) {
            return std::nullopt;
        }
        return Interval{target, target};
    case Relation::ge:
        return Interval{integral ? std::ceil(target) : target, kInfinity};
    case Relation::gt:
        return Interval{integral ? std::floor(target) + 1 : target + kDecimalStep, kInfinity};
    case Relation::le:
        return Interval{-kInfinity, integral ? std::floor(target) : target};
    case Relation::lt:
        return Interval{-kInfinity, integral ? std::ceil(target) - 1 : target - kDecimalStep};
    default:
        return std::nullopt;
    }
}

// The point of allowed ∩ bounds nearest to `current`: a person changes as little as they must.
std::optional<double> Nearest(Interval allowed, Interval bounds, double current, bool integral) {
    double low = std::max(allowed.low, bounds.low);
    double high = std::min(allowed.high, bounds.high);
    if (integral) {
        low = std::ceil(low);
        high = std::floor(high);
    }
    if (low > high) {
        return std::nullopt;
    }
    return std::clamp(integral ? std::round(current) : current, low, high);
}

bool IsProblemList(const FormField& field) {
    return field.type == FieldType::list &&
           (field.name.find("problem") != std::string::npos || field.title.zh.find("问题") != std::string::npos);
}

const FormField* ProblemListField(const model::Step& step) {
    for (const auto& field : step.form) {
        if (IsProblemList(field)) {
            return &field;
        }
    }
    return nullptr;
}

// Titles for simulated problem lists, in the words such lists use.
constexpr std::string_view kProblemTitles[] = {
    "理论学习不够深入系统，学用结合不紧",
    "调查研究不够深入，解决实际问题办法不多",
    "服务群众意识不强，急难愁盼问题回应不及时",
    "推动高质量发展的举措不够实",
    "防范化解重大风险的本领不足",
    "落实全面从严治党责任有差距",
    "形式主义、官僚主义问题仍有表现",
    "担当作为不够，工作作风不够扎实",
    "基层治理存在薄弱环节",
    "制度执行不够严格，监督检查不到位",
};

// ---------------------------------------------------------------- the form solver

struct SolveOptions {
    std::size_t problem_items = 0;  // items of a problem list field; 0: 1–5 like any list
    bool avoid_rework = false;      // also make the conditions of the step's rework edges false
};

class FormSolver {
public:
    FormSolver(const engine::Context& context, const engine::InstanceState& state, const model::Step& step,
               std::uint64_t seed)
        : context_(context),
          state_(state),
          step_(step),
          rng_(seed),
          today_(engine::LocalDate(context.now, context.utc_offset_minutes)) {}

    // A payload that passes ValidateForm; false when a field cannot be filled (a pattern beyond us).
    bool FillDefaults(std::size_t problem_items) {
        payload_.clear();
        for (const auto& field : step_.form) {
            if (!FillDefault(field, problem_items)) {
                return false;
            }
        }
        return true;
    }

    const json::object& Payload() const { return payload_; }

    lang::EvaluationContext Evaluation() const {
        return engine::EvaluationContextFor(context_, state_, &step_, &payload_);
    }
    bool Holds(const Expression& expression) const { return IsTrue(expression, Evaluation()); }

    std::optional<json::object> Normalized() const {
        const engine::FormCheck check = engine::ValidateForm(step_.form, json::value(payload_));
        if (!check.Ok()) {
            return std::nullopt;
        }
        return check.normalized;
    }

    // Changes form fields so that `expression` evaluates to `want`; true when it then does.
    bool Solve(const Expression& expression, bool want) {
        if (Holds(expression) == want) {
            return true;
        }
        if (const auto* unary = std::get_if<model::UnaryNode>(&expression.node);
            unary != nullptr && unary->op == model::UnaryOp::logical_not) {
            return Solve(*unary->operand, !want);
        }
        if (std::holds_alternative<model::PathNode>(expression.node)) {
            const FormField* field = FormFieldOf(expression);
            if (field == nullptr || field->type != FieldType::boolean) {
                return false;
            }
            payload_[field->name] = want;
            return Holds(expression) == want;
        }
        const auto* binary = std::get_if<model::BinaryNode>(&expression.node);
        if (binary == nullptr) {
            return false;
        }
        const bool conjunction = binary->op == BinaryOp::logical_and;
        if (conjunction || binary->op == BinaryOp::logical_or) {
            // `a and b` true and `a or b` false need both sides; the other two cases need one.
            if (conjunction == want) {
                Solve(*binary->left, want);
                Solve(*binary->right, want);
                return Holds(expression) == want;
            }
            std::vector<const Expression*> sides{binary->left.get(), binary->right.get()};
            if (!want) {
                rng_.Shuffle(sides);  // a varied way of getting it wrong
            }
            for (const Expression* side : sides) {
                if (DependsOnForm(*side) && Solve(*side, want) && Holds(expression) == want) {
                    return true;
                }
            }
            return Holds(expression) == want;
        }
        const auto relation = RelationOf(binary->op);
        if (!relation) {
            return false;
        }
        return SolveComparison(expression, *binary, want ? *relation : Negated(*relation), want);
    }

private:
    std::optional<model::Value> Eval(const Expression& expression) const {
        auto result = lang::Evaluate(expression, Evaluation());
        if (auto* value = std::get_if<model::Value>(&result)) {
            return std::move(*value);
        }
        return std::nullopt;
    }

    const FormField* FormFieldOf(const Expression& expression) const {
        const auto* path = std::get_if<model::PathNode>(&expression.node);
        if (path == nullptr || path->segments.size() != 2 || path->segments[0] != "form") {
            return nullptr;
        }
        return step_.FindField(path->segments[1]);
    }

    std::optional<double> CurrentNumber(const FormField& field) const {
        const json::value* value = payload_.if_contains(field.name);
        if (value == nullptr) {
            return std::nullopt;
        }
        if (value->is_int64()) {
            return static_cast<double>(value->get_int64());
        }
        if (value->is_uint64()) {
            return static_cast<double>(value->get_uint64());
        }
        if (value->is_double()) {
            return value->get_double();
        }
        if (value->is_string() && field.type == FieldType::date) {
            if (const auto date = Date::Parse(value->get_string())) {
                return static_cast<double>(date->DaysSinceEpoch());
            }
        }
        return std::nullopt;
    }

    static Interval Bounds(const FormField& field) {
        return {field.minimum.value_or(-kInfinity), field.maximum.value_or(kInfinity)};
    }

    void WriteNumber(const FormField& field, double value) {
        if (field.type == FieldType::integer) {
            payload_[field.name] = static_cast<std::int64_t>(std::llround(value));
        } else if (field.type == FieldType::date) {
            payload_[field.name] = Date(static_cast<std::int32_t>(std::llround(value))).ToString();
        } else {
            payload_[field.name] = value;
        }
    }

    // ---- one default value per field

    bool FillDefault(const FormField& field, std::size_t problem_items) {
        switch (field.type) {
        case FieldType::integer:
        case FieldType::number: {
            // Small, realistic counts: 1–10 within the declared bounds.
            const Interval bounds = Bounds(field);
            double low = std::max(bounds.low, 1.0);
            double high = std::min(bounds.high, 10.0);
            if (low > high) {
                low = bounds.low > 10.0 ? bounds.low : std::max(bounds.low, bounds.high - 9.0);
                high = bounds.low > 10.0 ? std::min(bounds.high, bounds.low + 9.0) : bounds.high;
            }
            if (field.type == FieldType::integer) {
                payload_[field.name] = rng_.Uniform(static_cast<std::int64_t>(std::ceil(low)),
                                                    static_cast<std::int64_t>(std::floor(high)));
            } else {
                // A narrow declared range is a rate or a score: land in its upper part (0.8–1 of 0–1).
                if (field.minimum && field.maximum && bounds.high - bounds.low <= 10.0) {
                    low = bounds.low + 0.8 * (bounds.high - bounds.low);
                    high = bounds.high;
                }
                const double drawn = low + rng_.Real() * (high - low);
                payload_[field.name] = std::clamp(std::round(drawn * 100.0) / 100.0, low, high);
            }
            return true;
        }
        case FieldType::boolean:
            payload_[field.name] = true;
            return true;
        case FieldType::date:
            payload_[field.name] = today_.ToString();
            return true;
        case FieldType::duration:
            payload_[field.name] = "P1D";
            return true;
        case FieldType::choice:
            if (field.choices.empty()) {
                return false;
            }
            payload_[field.name] = field.choices[static_cast<std::size_t>(
                rng_.Uniform(0, static_cast<std::int64_t>(field.choices.size()) - 1))];
            return true;
        case FieldType::string:
        case FieldType::text:
            return FillText(field);
        case FieldType::list:
        case FieldType::attachment: {
            const bool attachment = field.type == FieldType::attachment;
            std::int64_t count = attachment ? 1 : rng_.Uniform(1, 5);
            if (IsProblemList(field) && problem_items > 0) {
                count = static_cast<std::int64_t>(problem_items);
            }
            count = std::max(count, field.min_items.value_or(0));
            if (field.max_items) {
                count = std::min(count, *field.max_items);
            }
            json::array items;
            for (std::int64_t i = 0; i < count; ++i) {
                items.emplace_back(ItemText(field, static_cast<std::size_t>(i)));
            }
            payload_[field.name] = std::move(items);
            return true;
        }
        }
        return false;
    }

    bool FillText(const FormField& field) {
        std::string text = TitleStem(field) + " " + std::to_string(rng_.Uniform(1, 9));
        const auto fit = [&](std::string value) {
            if (field.max_length && CodePoints(value) > static_cast<std::size_t>(*field.max_length)) {
                value = TruncateCodePoints(value, static_cast<std::size_t>(*field.max_length));
            }
            while (field.min_length && CodePoints(value) < static_cast<std::size_t>(*field.min_length)) {
                value += "。";
            }
            return value;
        };
        text = fit(text);
        if (field.pattern.empty()) {
            payload_[field.name] = text;
            return true;
        }
        std::vector<std::string> candidates{text};
        for (int i = 0; i < 3; ++i) {
            if (auto sample = PatternSampler(field.pattern, rng_).Sample()) {
                candidates.push_back(std::move(*sample));
            }
        }
        for (const char* fixed : {"1", "01", "A1", "abc", "示例"}) {
            candidates.push_back(fit(fixed));
        }
        candidates.push_back(today_.ToString());
        const std::vector<FormField> alone{field};
        for (const auto& candidate : candidates) {
            if (engine::ValidateForm(alone, json::value(json::object{{field.name, candidate}})).Ok()) {
                payload_[field.name] = candidate;
                return true;
            }
        }
        return false;
    }

    std::string ItemText(const FormField& field, std::size_t index) {
        if (field.type == FieldType::attachment) {
            std::string extension = field.accept.empty() ? "pdf" : field.accept.front();
            if (!extension.empty() && extension[0] == '.') {
                extension.erase(0, 1);
            }
            return field.name + "-" + std::to_string(index + 1) + "." + extension;
        }
        if (IsProblemList(field)) {
            const std::size_t pool = std::size(kProblemTitles);
            // Start at a drawn title so units differ, then walk on so one list has no repeats.
            if (index == 0) {
                problem_offset_ = static_cast<std::size_t>(rng_.Uniform(0, static_cast<std::int64_t>(pool) - 1));
            }
            std::string title(kProblemTitles[(problem_offset_ + index) % pool]);
            return index < pool ? title : title + "（" + std::to_string(index / pool + 1) + "）";
        }
        return TitleStem(field) + " " + std::to_string(index + 1);
    }

    // ---- comparisons

    // Sets the side that depends on the form to satisfy `relation` against the
    // other side's value (the left one first; when both read the form, the
    // right one is then the target: `form.solved <= form.found`).
    bool SolveComparison(const Expression& whole, const model::BinaryNode& binary, Relation relation, bool want) {
        const bool left_form = DependsOnForm(*binary.left);
        const bool right_form = DependsOnForm(*binary.right);
        if (left_form) {
            if (const auto target = Eval(*binary.right);
                target && SetSide(*binary.left, relation, *target) && Holds(whole) == want) {
                return true;
            }
        }
        if (right_form) {
            const auto mirrored = Mirrored(relation);
            if (const auto target = Eval(*binary.left);
                mirrored && target && SetSide(*binary.right, *mirrored, *target)) {
                return Holds(whole) == want;
            }
        }
        return Holds(whole) == want;
    }

    bool SetSide(const Expression& side, Relation relation, const model::Value& target) {
        if (target.IsNull()) {
            return false;  // the other side is unknown (a step not done yet): nothing to aim at
        }
        if (const FormField* field = FormFieldOf(side)) {
            if (relation == Relation::in || relation == Relation::not_in) {
                return SetMembership(*field, relation == Relation::in, target);
            }
            return SetField(*field, relation, target);
        }
        if (relation == Relation::in || relation == Relation::not_in) {
            return false;
        }
        if (const auto* call = std::get_if<model::CallNode>(&side.node);
            call != nullptr && call->function == "len" && call->arguments.size() == 1) {
            const FormField* field = FormFieldOf(*call->arguments[0]);
            if (field != nullptr && (field->type == FieldType::list || field->type == FieldType::attachment)) {
                return SetLength(*field, relation, target);
            }
            return false;
        }
        if (const auto* binary = std::get_if<model::BinaryNode>(&side.node);
            binary != nullptr && (binary->op == BinaryOp::add || binary->op == BinaryOp::subtract)) {
            return SetSum(side, relation, target);
        }
        return false;
    }

    bool SetField(const FormField& field, Relation relation, const model::Value& target) {
        switch (field.type) {
        case FieldType::integer:
        case FieldType::number:
        case FieldType::date: {
            std::optional<double> aim;
            if (field.type == FieldType::date) {
                if (const auto* date = std::get_if<Date>(&target.data)) {
                    aim = static_cast<double>(date->DaysSinceEpoch());
                }
            } else {
                aim = Numeric(target);
            }
            if (!aim) {
                return false;
            }
            const bool integral = field.type != FieldType::number;
            const Interval bounds = field.type == FieldType::date ? Interval{} : Bounds(field);
            const double current = CurrentNumber(field).value_or(integral ? std::round(*aim) : *aim);
            if (relation == Relation::ne) {
                const double step = integral ? 1.0 : kDecimalStep;
                for (const double candidate : {current, current + step, current - step, *aim + step, *aim - step}) {
                    if (candidate != *aim && candidate >= bounds.low && candidate <= bounds.high) {
                        WriteNumber(field, candidate);
                        return true;
                    }
                }
                return false;
            }
            const auto allowed = Allowed(relation, *aim, integral);
            const auto chosen = allowed ? Nearest(*allowed, bounds, current, integral) : std::nullopt;
            if (!chosen) {
                return false;
            }
            WriteNumber(field, *chosen);
            return true;
        }
        case FieldType::string:
        case FieldType::text:
        case FieldType::choice: {
            const auto* text = std::get_if<std::string>(&target.data);
            if (text == nullptr) {
                return false;
            }
            if (relation == Relation::eq) {
                if (field.type == FieldType::choice &&
                    std::find(field.choices.begin(), field.choices.end(), *text) == field.choices.end()) {
                    return false;
                }
                payload_[field.name] = *text;
                return true;
            }
            if (relation != Relation::ne) {
                return false;
            }
            if (field.type != FieldType::choice) {
                payload_[field.name] = *text + "（修订）";
                return true;
            }
            for (const auto& choice : field.choices) {
                if (choice != *text) {
                    payload_[field.name] = choice;
                    return true;
                }
            }
            return false;
        }
        case FieldType::boolean: {
            const auto* flag = std::get_if<bool>(&target.data);
            if (flag == nullptr || (relation != Relation::eq && relation != Relation::ne)) {
                return false;
            }
            payload_[field.name] = relation == Relation::eq ? *flag : !*flag;
            return true;
        }
        case FieldType::duration: {
            const auto* duration = std::get_if<model::Duration>(&target.data);
            if (duration == nullptr || relation != Relation::eq) {
                return false;
            }
            payload_[field.name] = duration->ToString();
            return true;
        }
        case FieldType::list:
        case FieldType::attachment:
            return false;
        }
        return false;
    }

    bool SetMembership(const FormField& field, bool member, const model::Value& target) {
        const auto* items = std::get_if<std::vector<model::Value>>(&target.data);
        if (items == nullptr) {
            return false;
        }
        if (member) {
            std::vector<model::Value> candidates = *items;
            rng_.Shuffle(candidates);
            for (const auto& candidate : candidates) {
                if (SetField(field, Relation::eq, candidate)) {
                    return true;
                }
            }
            return false;
        }
        if (field.type == FieldType::choice) {
            std::vector<std::string> outside;
            for (const auto& choice : field.choices) {
                if (std::find(items->begin(), items->end(), model::Value{choice}) == items->end()) {
                    outside.push_back(choice);
                }
            }
            if (outside.empty()) {
                return false;
            }
            payload_[field.name] =
                outside[static_cast<std::size_t>(rng_.Uniform(0, static_cast<std::int64_t>(outside.size()) - 1))];
            return true;
        }
        if (field.type == FieldType::integer) {
            const Interval bounds = Bounds(field);
            const double start = CurrentNumber(field).value_or(0);
            for (int offset = 0; offset < 50; ++offset) {
                const double candidate = start + offset;
                const model::Value value{static_cast<std::int64_t>(candidate)};
                if (candidate <= bounds.high && std::find(items->begin(), items->end(), value) == items->end()) {
                    WriteNumber(field, candidate);
                    return true;
                }
            }
        }
        return false;
    }

    bool SetLength(const FormField& field, Relation relation, const model::Value& target) {
        const auto aim = Numeric(target);
        json::value& slot = payload_[field.name];
        if (!aim || !slot.is_array()) {
            return false;
        }
        json::array& items = slot.get_array();
        const auto current = static_cast<double>(items.size());
        const Interval bounds{static_cast<double>(std::max<std::int64_t>(field.min_items.value_or(0), 0)),
                              static_cast<double>(field.max_items.value_or(10'000))};
        std::optional<double> size;
        if (relation == Relation::ne) {
            for (const double candidate : {current + 1, current - 1}) {
                if (candidate != *aim && candidate >= bounds.low && candidate <= bounds.high) {
                    size = candidate;
                    break;
                }
            }
        } else if (const auto allowed = Allowed(relation, *aim, true)) {
            size = Nearest(*allowed, bounds, current, true);
        }
        if (!size) {
            return false;
        }
        const auto wanted = static_cast<std::size_t>(*size);
        while (items.size() > wanted) {
            items.pop_back();
        }
        while (items.size() < wanted) {
            items.emplace_back(ItemText(field, items.size()));
        }
        return true;
    }

    static void Terms(const Expression& expression, int sign, std::vector<std::pair<int, const Expression*>>& out) {
        if (const auto* binary = std::get_if<model::BinaryNode>(&expression.node);
            binary != nullptr && (binary->op == BinaryOp::add || binary->op == BinaryOp::subtract)) {
            Terms(*binary->left, sign, out);
            Terms(*binary->right, binary->op == BinaryOp::add ? sign : -sign, out);
            return;
        }
        out.emplace_back(sign, &expression);
    }

    // `a + b - c relation target`: moves the form terms so the sum lands where it must.
    bool SetSum(const Expression& side, Relation relation, const model::Value& target) {
        const auto aim = Numeric(target);
        if (!aim) {
            return false;
        }
        std::vector<std::pair<int, const Expression*>> terms;
        Terms(side, 1, terms);
        struct Settable {
            int sign;
            const FormField* field;
            double value;
            Interval bounds;
        };
        std::vector<Settable> settable;
        double sum = 0;
        bool integral = true;
        for (const auto& [sign, term] : terms) {
            const FormField* field = FormFieldOf(*term);
            if (field != nullptr && (field->type == FieldType::integer || field->type == FieldType::number)) {
                const double value = CurrentNumber(*field).value_or(0);
                Interval bounds = Bounds(*field);
                if (field->type == FieldType::integer) {
                    bounds = {std::ceil(bounds.low), std::floor(bounds.high)};
                }
                settable.push_back({sign, field, value, bounds});
                integral = integral && field->type == FieldType::integer;
                sum += sign * value;
                continue;
            }
            const auto value = Eval(*term);
            const auto number = value ? Numeric(*value) : std::nullopt;
            if (!number) {
                return false;
            }
            integral = integral && *number == std::floor(*number);
            sum += sign * *number;
        }
        if (settable.empty()) {
            return false;
        }
        double wanted = 0;  // set on every path below
        if (relation == Relation::ne) {
            if (sum != *aim) {
                return true;
            }
            wanted = sum + 1;
        } else {
            const auto allowed = Allowed(relation, *aim, integral);
            if (!allowed) {
                return false;
            }
            const double low = integral ? std::ceil(allowed->low) : allowed->low;
            const double high = integral ? std::floor(allowed->high) : allowed->high;
            if (low > high) {
                return false;
            }
            wanted = std::clamp(sum, low, high);
        }
        if (wanted == sum) {
            return true;
        }
        // An exact small total over several added counts ("the categories add up to the list")
        // is dealt out one by one from the minimums, which looks like a real breakdown.
        const bool all_added = std::all_of(settable.begin(), settable.end(), [](const Settable& term) {
            return term.sign > 0 && std::isfinite(term.bounds.low);
        });
        if (relation == Relation::eq && integral && settable.size() > 1 && all_added) {
            double floor_sum = sum;
            for (const auto& term : settable) {
                floor_sum += term.bounds.low - term.value;
            }
            const double remaining = wanted - floor_sum;
            if (remaining >= 0 && remaining <= 1000) {
                std::vector<double> values;
                values.reserve(settable.size());
                for (const auto& term : settable) {
                    values.push_back(term.bounds.low);
                }
                for (int unit = 0; unit < static_cast<int>(remaining); ++unit) {
                    std::vector<std::size_t> open;
                    for (std::size_t i = 0; i < settable.size(); ++i) {
                        if (values[i] + 1 <= settable[i].bounds.high) {
                            open.push_back(i);
                        }
                    }
                    if (open.empty()) {
                        break;
                    }
                    values[open[static_cast<std::size_t>(
                        rng_.Uniform(0, static_cast<std::int64_t>(open.size()) - 1))]] += 1;
                }
                double dealt = floor_sum;
                for (std::size_t i = 0; i < settable.size(); ++i) {
                    dealt += values[i] - settable[i].bounds.low;
                }
                if (dealt == wanted) {
                    for (std::size_t i = 0; i < settable.size(); ++i) {
                        WriteNumber(*settable[i].field, values[i]);
                    }
                    return true;
                }
            }
        }
        // Otherwise one term takes the difference, spilling over to the next at its bound.
        double delta = wanted - sum;
        std::vector<std::size_t> order(settable.size());
        for (std::size_t i = 0; i < order.size(); ++i) {
            order[i] = i;
        }
        rng_.Shuffle(order);
        std::vector<double> values;
        values.reserve(settable.size());
        for (const auto& term : settable) {
            values.push_back(term.value);
        }
        for (const std::size_t i : order) {
            if (std::abs(delta) < 1e-9) {
                break;
            }
            const auto& term = settable[i];
            const double moved = std::clamp(values[i] + term.sign * delta, term.bounds.low, term.bounds.high);
            delta -= term.sign * (moved - values[i]);
            values[i] = moved;
        }
        if (std::abs(delta) >= 1e-9) {
            return false;
        }
        for (std::size_t i = 0; i < settable.size(); ++i) {
            WriteNumber(*settable[i].field, values[i]);
        }
        return true;
    }

    const engine::Context& context_;
    const engine::InstanceState& state_;
    const model::Step& step_;
    Rng rng_;
    Date today_;
    json::object payload_;
    std::size_t problem_offset_ = 0;
};

std::vector<std::pair<const Expression*, bool>> GoalsOf(const model::Step& step, bool avoid_rework) {
    std::vector<std::pair<const Expression*, bool>> goals;
    if (step.gate && step.gate->tree) {
        goals.emplace_back(step.gate->tree.get(), true);
    }
    if (avoid_rework) {
        // A rework edge (one with max_rounds) taken because of this form sends the unit back;
        // a unit that did its work well keeps its condition false.
        for (const auto& edge : step.next) {
            if (edge.max_rounds && edge.when && edge.when->tree && DependsOnForm(*edge.when->tree)) {
                goals.emplace_back(edge.when->tree.get(), false);
            }
        }
    }
    return goals;
}

std::optional<json::object> SolveIn(const engine::Context& context, const engine::InstanceState& state,
                                    const model::Step& step, std::uint64_t seed, const SolveOptions& options) {
    for (const bool avoid_rework : {options.avoid_rework, false}) {
        FormSolver solver(context, state, step, seed);
        if (!solver.FillDefaults(options.problem_items)) {
            return std::nullopt;
        }
        const auto goals = GoalsOf(step, avoid_rework);
        for (int round = 0; round <= kSolveRounds; ++round) {
            const bool met = std::all_of(goals.begin(), goals.end(),
                                         [&](const auto& goal) { return solver.Holds(*goal.first) == goal.second; });
            if (met) {
                if (auto normalized = solver.Normalized()) {
                    return normalized;
                }
            }
            if (round == kSolveRounds) {
                break;
            }
            for (const auto& [expression, want] : goals) {
                if (solver.Holds(*expression) != want) {
                    solver.Solve(*expression, want);
                }
            }
        }
        if (!options.avoid_rework) {
            break;
        }
    }
    return std::nullopt;
}

// A valid payload whose gate does not hold: the defaults if they happen to
// fail it, else the defaults solved for a false gate. nullopt when no form fails it.
std::optional<json::object> FailingForm(const engine::Context& context, const engine::InstanceState& state,
                                        const model::Step& step, std::uint64_t seed, std::size_t problem_items) {
    if (!step.gate || !step.gate->tree) {
        return std::nullopt;
    }
    FormSolver solver(context, state, step, seed);
    if (!solver.FillDefaults(problem_items)) {
        return std::nullopt;
    }
    for (int round = 0; round < 3; ++round) {
        if (!solver.Holds(*step.gate->tree)) {
            return solver.Normalized();
        }
        solver.Solve(*step.gate->tree, false);
    }
    return std::nullopt;
}

// Why no form passes a gate, for a "stuck" incident.
std::string WhyUnsolved(const engine::Context& context, const engine::InstanceState& state, const model::Step& step,
                        std::uint64_t seed) {
    if (!step.gate || !step.gate->tree) {
        return "no valid form could be filled for step '" + step.id + "'";
    }
    FormSolver solver(context, state, step, seed);
    if (!solver.FillDefaults(0)) {
        return "no value matches a field pattern of step '" + step.id + "'";
    }
    const auto explanation = lang::ExplainFailure(*step.gate->tree, solver.Evaluation());
    std::string detail = "no form passes the gate " + step.gate->text + " (failing: " + explanation.failing_expression;
    for (const auto& [path, value] : explanation.values) {
        detail.append("; ").append(path).append(" = ").append(value);
    }
    return detail + ")";
}

// ---------------------------------------------------------------- the simulation

bool IsWorkingDay(const model::Definition& definition, Date day) {
    return definition.calendar ? definition.calendar->IsWorkingDay(day) : day.IsoWeekday() <= 5;
}

// Reasons a reviewer returns evidence, as campaign offices write them.
constexpr std::string_view kReturnReasons[] = {
    "佐证材料不完整，请补充",
    "材料与本环节要求不符，请按要求修改后重新报送",
    "问题查摆不够具体，请细化到事、到人",
    "数据前后不一致，请核实后重新报送",
};

class Simulator {
public:
    Simulator(Runtime& runtime, engine::VirtualClock& clock, const Workflow& workflow, const SimulationOptions& options,
              SimulationReport& report)
        : runtime_(runtime),
          clock_(clock),
          workflow_(workflow),
          definition_(*workflow.definition),
          options_(options),
          report_(report) {}

    void Day(Date day, bool first) {
        today_ = day;
        clock_.Set(engine::StartOfDay(day, runtime_.UtcOffsetMinutes()) +
                   std::int64_t{options_.hour_of_day} * 3'600'000);
        runtime_.Batch([&] {
            if (first) {
                Start();
            }
            while (runtime_.FireDueTimers() >= 10'000) {
            }
            Sync();
            Deliver();
            CloseDueProblems();
            // Acting can open new steps (or a review due at once): go round until the day is quiet.
            for (int pass = 0; pass < 4 && Act(); ++pass) {
            }
            Deliver();
        });
    }

    void Finish() {
        report_.completed_instances = 0;
        report_.child_instances = 0;
        for (const auto& [id, tracked] : instances_) {
            report_.completed_instances += tracked.state.status == engine::InstanceStatus::completed ? 1 : 0;
            report_.child_instances += tracked.state.parent_instance.empty() ? 0 : 1;
        }
        for (const auto& progress : runtime_.ProgressReport(report_.campaign)) {
            for (const auto& [stage, counts] : progress.stages) {
                auto& totals = report_.stage_done[stage];
                totals.first += counts.done;
                totals.second += counts.applicable;
            }
        }
    }

private:
    // What a unit means to do with one activation of a task, drawn when it is first seen.
    struct Plan {
        Plan(std::uint64_t seed, std::int64_t of_activation) : rng(seed), activation(of_activation) {}
        Rng rng;
        std::int64_t activation = 0;
        Date act_on;                    // when the unit (re)submits
        std::optional<Date> review_on;  // when the reviewer looks at what was handed in
        bool late = false;
        bool miss_gate = false;  // the first submission fails the gate
        bool rework_ok = false;  // the unit's results may send it round a rework loop
        bool submitted_once = false;
        bool stuck = false;
        std::size_t problem_items = 0;
    };

    struct Tracked {
        engine::InstanceState state;
        std::shared_ptr<const model::Definition> definition;
        const model::Unit* unit = nullptr;
        bool problems_listed = false;       // its first problem list went into the ledger
        std::map<std::string, Plan> plans;  // by step: the plan for its current activation
        // Whether anything happened to the instance since its open steps were last looked at,
        // and the first day one of its plans asks for action: most instances, most days, are
        // skipped on these two alone.
        bool changed = true;
        Date next_action;
    };

    // ---- plumbing

    void Start() {
        // The log's end so far: the simulation reads (and counts) only the events it causes.
        auto& last = runtime_.Store().Db().Cached("SELECT COALESCE(MAX(position), 0) FROM events");
        cursor_ = last.Step() ? last.Int64(0) : 0;
        last.Reset();
        StartOptions start;
        start.campaign_id = definition_.id;
        const StartOutcome outcome = runtime_.StartCampaign(workflow_, start);
        if (outcome.error) {
            std::string message = "cannot start the simulated campaign: " + outcome.error->message;
            for (const auto& detail : outcome.error->details) {
                message += "; " + detail;
            }
            throw std::runtime_error(message);
        }
        report_.instances = static_cast<std::int64_t>(outcome.instances.size());
        Sync();
    }

    Tracked& Track(const std::string& id) {
        auto found = instances_.find(id);
        if (found != instances_.end()) {
            return found->second;
        }
        const auto row = runtime_.Store().GetInstance(id);
        if (!row) {
            throw std::logic_error("event for instance '" + id + "', which is not in the store");
        }
        Tracked tracked;
        tracked.state.id = id;
        tracked.definition = runtime_.WorkflowByKey(row->definition_key).definition;
        tracked.unit = runtime_.Units().Find(row->unit);
        return instances_.emplace(id, std::move(tracked)).first->second;
    }

    // Reads the events appended since the last call (one cursor over the
    // log, so the whole run reads each event once), folds them into the
    // simulation's copy of each instance and records the incidents.
    void Sync() {
        struct Row {
            std::int64_t position;
            std::string instance;
            std::int64_t at;
            std::string actor;
            std::string type;
            std::string step;
            std::string data;
        };
        std::vector<Row> rows;
        {
            auto& query = runtime_.Store().Db().Cached(
                "SELECT position, instance, at, actor, type, step, data FROM events WHERE position > ?1 "
                "ORDER BY position");
            query.Bind(1, cursor_);
            while (query.Step()) {
                rows.push_back({query.Int64(0), std::string(query.Text(1)), query.Int64(2), std::string(query.Text(3)),
                                std::string(query.Text(4)), std::string(query.Text(5)), std::string(query.Text(6))});
            }
            query.Reset();
        }
        for (auto& row : rows) {
            cursor_ = row.position;
            ++report_.events;
            const auto type = engine::ParseEventType(row.type);
            if (!type) {
                throw std::runtime_error("event " + std::to_string(row.position) + " has an unknown type '" + row.type +
                                         "'");
            }
            Tracked& tracked = Track(row.instance);
            tracked.changed = true;
            engine::Event event{*type, row.at, row.actor, row.step, json::parse(row.data).as_object()};
            engine::Apply(*tracked.definition, tracked.state, event);
            switch (*type) {
            case engine::EventType::reminder_due:
                ++report_.reminders;
                break;
            case engine::EventType::step_overdue:
                Incident(tracked, "overdue", row.step, DueOf(event.data), "", "");
                break;
            case engine::EventType::step_escalated:
                Incident(tracked, "escalated", row.step, DueOf(event.data), EscalatedTo(tracked, event), "");
                break;
            case engine::EventType::step_failed: {
                const auto& record = tracked.state.steps.at(row.step);
                Stuck(tracked, row.step, record, "the step failed: " + record.error);
                break;
            }
            default:
                break;
            }
        }
    }

    static Date DueOf(const json::object& data) {
        const auto* due = data.if_contains("due");
        if (due != nullptr && due->is_string()) {
            return Date::Parse(due->get_string()).value_or(Date());
        }
        return Date();
    }

    // "leader@anlan (于欣怡)"
    static std::string EscalatedTo(const Tracked& tracked, const engine::Event& event) {
        const model::Step* step = tracked.definition->FindStep(event.step);
        const auto* index = event.data.if_contains("index");
        const auto* to = event.data.if_contains("to");
        std::string role = "?";
        if (step != nullptr && index != nullptr && index->is_int64() && index->get_int64() >= 0 &&
            static_cast<std::size_t>(index->get_int64()) < step->escalate.size()) {
            role = step->escalate[static_cast<std::size_t>(index->get_int64())].to.role;
        }
        std::string text = role + "@";
        if (to == nullptr || !to->is_object()) {
            return text + "?";
        }
        const auto& target = to->get_object();
        if (const auto* unit = target.if_contains("unit"); unit != nullptr && unit->is_string()) {
            text += std::string(unit->get_string());
        }
        std::string names;
        if (const auto* people = target.if_contains("people"); people != nullptr && people->is_array()) {
            for (const auto& person : people->get_array()) {
                const auto* name = person.is_object() ? person.get_object().if_contains("name") : nullptr;
                if (name != nullptr && name->is_string()) {
                    names += (names.empty() ? "" : "、") + std::string(name->get_string());
                }
            }
        }
        return names.empty() ? text : text + " (" + names + ")";
    }

    void Incident(const Tracked& tracked, std::string kind, const std::string& step, Date due, std::string escalated_to,
                  std::string detail) {
        if (report_.incidents.size() >= options_.max_timeline) {
            return;
        }
        SimulatedIncident incident;
        incident.on = today_;
        incident.kind = std::move(kind);
        incident.instance = tracked.state.id;
        incident.unit = tracked.state.unit;
        incident.unit_name = tracked.unit != nullptr ? tracked.unit->name : tracked.state.unit;
        incident.category = tracked.unit != nullptr ? tracked.unit->category : "";
        incident.step = step;
        incident.due = due;
        incident.escalated_to = std::move(escalated_to);
        incident.detail = std::move(detail);
        report_.incidents.push_back(std::move(incident));
    }

    static std::string PlanKey(const std::string& instance, const std::string& step, std::int64_t activation) {
        return instance + "\n" + step + "\n" + std::to_string(activation);
    }

    // Records a "stuck" incident once per step activation; the simulated unit leaves the step alone from then on.
    void Stuck(Tracked& tracked, const std::string& step, const engine::StepRecord& record, std::string why) {
        if (!stuck_.insert(PlanKey(tracked.state.id, step, record.activation)).second) {
            return;
        }
        if (const auto plan = tracked.plans.find(step);
            plan != tracked.plans.end() && plan->second.activation == record.activation) {
            plan->second.stuck = true;
        }
        Incident(tracked, "stuck", step, record.due.value_or(Date()), "", std::move(why));
    }

    CommandOutcome Execute(const std::string& instance, engine::Actor actor, engine::Command command) {
        CommandRequest request;
        request.instance = instance;
        request.actor = std::move(actor);
        request.command = std::move(command);
        ++report_.commands;
        CommandOutcome outcome = runtime_.Execute(request);
        Sync();
        return outcome;
    }

    void Deliver() {
        const Deliverer deliver = [this](const store::OutboxRow& effect) {
            if (effect.kind == "notify") {
                if (effect.attempts == 0) {
                    ++report_.notifications;
                }
                if (options_.deliver_notifications) {
                    return options_.deliver_notifications(effect);
                }
            }
            return Delivery{};  // every notifier and action answers OK in a simulation
        };
        for (;;) {
            const DeliveryCounts counts = runtime_.DeliverDueEffects(deliver);
            Sync();
            if (counts.delivered + counts.retried + counts.dead < 10'000) {
                break;
            }
        }
    }

    engine::Actor ActorFor(const Tracked& tracked, const std::optional<model::RoleRef>& role) {
        engine::Actor actor;
        const model::RoleRef who = role.value_or(model::RoleRef{0, "leader", {}});
        const engine::Holders holders = engine::ResolveRole(runtime_.Units(), tracked.state.unit, who);
        actor.role = who.role;
        actor.unit = holders.unit;
        actor.person = holders.people.empty() ? "" : holders.people.front().name;
        return actor;
    }

    std::string LeaderName(const Tracked& tracked) const {
        if (tracked.unit != nullptr) {
            if (const auto found = tracked.unit->roles.find("leader");
                found != tracked.unit->roles.end() && !found->second.empty()) {
                return found->second.front().name;
            }
        }
        return tracked.state.unit;
    }

    // ---- behaviour

    // A day among [from, to]: a working day when there is one.
    Date PickDay(Rng& rng, Date from, Date to) const {
        std::vector<Date> working;
        for (Date day = from; day <= to; day = day.AddDays(1)) {
            if (IsWorkingDay(definition_, day)) {
                working.push_back(day);
            }
        }
        if (!working.empty()) {
            return working[static_cast<std::size_t>(rng.Uniform(0, static_cast<std::int64_t>(working.size()) - 1))];
        }
        return from.AddDays(static_cast<std::int32_t>(rng.Uniform(0, std::max(0, to - from))));
    }

    Plan NewPlan(const Tracked& tracked, const model::Step& step, const engine::StepRecord& record) {
        Plan plan(SeedFor(options_.seed, PlanKey(tracked.state.id, step.id, record.activation)), record.activation);
        Rng& rng = plan.rng;
        plan.late = rng.Chance(options_.late_share);
        plan.miss_gate = rng.Chance(options_.gate_miss_share);
        plan.rework_ok = rng.Chance(options_.return_share);
        const std::int64_t mean = std::max(options_.problems_per_unit, 1);
        plan.problem_items = static_cast<std::size_t>(rng.Uniform(1, 2 * mean - 1));
        Date earliest = std::max(today_, record.activated_on);
        if (record.opens_on) {
            earliest = std::max(earliest, *record.opens_on);
        }
        if (!record.due) {
            plan.late = false;
            plan.act_on = earliest.AddDays(static_cast<std::int32_t>(rng.Uniform(1, 10)) - 1);
            return plan;
        }
        const Date due = *record.due;
        if (plan.late) {
            plan.act_on = std::max(earliest, due.AddDays(static_cast<std::int32_t>(rng.Uniform(1, 15))));
            return plan;
        }
        // A step opened today is worked on from tomorrow, if there is time.
        if (record.activated_on == today_ && earliest == today_ && earliest < due) {
            earliest = earliest.AddDays(1);
        }
        // Reviewed evidence is handed in early enough for the reviewer (1–3 days) to finish by the due date.
        const Date latest = due.AddDays(step.review ? -3 : 0);
        plan.act_on = latest < earliest ? std::min(earliest, std::max(today_, due)) : PickDay(rng, earliest, latest);
        return plan;
    }

    Date ReviewDay(Plan& plan, const engine::StepRecord& record) {
        Date day = today_.AddDays(static_cast<std::int32_t>(plan.rng.Uniform(1, 3)));
        if (!plan.late && record.due && day > *record.due) {
            day = std::max(today_, *record.due);
        }
        return day;
    }

    // One pass over every running instance's open tasks. True when anything was done.
    bool Act() {
        bool acted = false;
        for (auto& [id, tracked] : instances_) {
            if (tracked.state.status != engine::InstanceStatus::running ||
                (!tracked.changed && today_ < tracked.next_action)) {
                continue;
            }
            tracked.changed = false;  // set again by the events of whatever is done now
            std::vector<std::string> open;
            for (const auto& [step_id, record] : tracked.state.steps) {
                if (record.status == engine::StepStatus::active || record.status == engine::StepStatus::submitted) {
                    open.push_back(step_id);
                }
            }
            for (const auto& step_id : open) {
                acted = ActOn(tracked, step_id) || acted;
            }
            tracked.next_action = NextAction(tracked);
        }
        return acted;
    }

    // The first day a plan of the instance's open tasks asks for action.
    Date NextAction(const Tracked& tracked) const {
        Date next(std::numeric_limits<std::int32_t>::max());
        for (const auto& [step_id, record] : tracked.state.steps) {
            if (record.status != engine::StepStatus::active && record.status != engine::StepStatus::submitted) {
                continue;
            }
            const auto plan = tracked.plans.find(step_id);
            if (plan == tracked.plans.end() || plan->second.activation != record.activation) {
                return today_;  // not planned yet
            }
            if (plan->second.stuck) {
                continue;
            }
            if (record.status == engine::StepStatus::active) {
                next = std::min(next, std::max(plan->second.act_on, record.opens_on.value_or(Date())));
            } else {
                next = std::min(next, plan->second.review_on.value_or(today_));
            }
        }
        return next;
    }

    bool ActOn(Tracked& tracked, const std::string& step_id) {
        const model::Step* step = tracked.definition->FindStep(step_id);
        const auto found = tracked.state.steps.find(step_id);
        if (step == nullptr || step->kind != model::StepKind::task || found == tracked.state.steps.end() ||
            tracked.state.status != engine::InstanceStatus::running) {
            return false;
        }
        const engine::StepRecord& record = found->second;
        auto plan_entry = tracked.plans.find(step_id);
        if (plan_entry == tracked.plans.end()) {
            plan_entry = tracked.plans.emplace(step_id, NewPlan(tracked, *step, record)).first;
        } else if (plan_entry->second.activation != record.activation) {
            plan_entry->second = NewPlan(tracked, *step, record);  // the step was entered again (a rework loop)
        }
        Plan& plan = plan_entry->second;
        if (plan.stuck) {
            return false;
        }
        if (record.status == engine::StepStatus::active) {
            if (today_ < plan.act_on || (record.opens_on && today_ < *record.opens_on)) {
                return false;
            }
            return Submit(tracked, *step, plan);
        }
        if (record.status == engine::StepStatus::submitted && step->review) {
            if (!plan.review_on) {
                plan.review_on = ReviewDay(plan, record);
            }
            if (today_ < *plan.review_on) {
                return false;
            }
            return ReviewStep(tracked, *step, plan);
        }
        return false;
    }

    bool Submit(Tracked& tracked, const model::Step& step, Plan& plan) {
        const engine::StepRecord record = tracked.state.steps.at(step.id);
        const engine::Actor actor = ActorFor(tracked, step.assignee);
        if (actor.unit.empty()) {
            Stuck(tracked, step.id, record,
                  "nobody holds " + (step.assignee ? step.assignee->ToString() : std::string("leader")) +
                      " for this unit");
            return false;
        }
        const std::string key = PlanKey(tracked.state.id, step.id, record.activation);
        const engine::Context context = runtime_.ContextFor(*tracked.definition);
        if (plan.miss_gate && !plan.submitted_once) {
            // As people do: hand in what they have, be told it does not meet the bar, fix it.
            if (auto failing = FailingForm(context, tracked.state, step, SeedFor(options_.seed, key + "\nmiss"),
                                           plan.problem_items)) {
                const CommandOutcome outcome = Execute(tracked.state.id, actor, engine::Submit{step.id, *failing});
                if (outcome.error) {
                    ++report_.refused;
                } else {
                    plan.submitted_once = true;
                    return true;  // it passed after all (the state moved on): nothing left to fix
                }
            }
        }
        const SolveOptions solve{plan.problem_items, !plan.rework_ok};
        const std::uint64_t seed = SeedFor(options_.seed, key + "\n" + std::to_string(record.returns));
        auto payload = SolveIn(context, tracked.state, step, seed, solve);
        if (!payload && step.gate && step.gate->tree && ReadsNamespace(*step.gate->tree, "problems") &&
            FixProblemsFor(tracked, step)) {
            payload = SolveIn(runtime_.ContextFor(*tracked.definition), tracked.state, step, seed, solve);
        }
        if (!payload) {
            Stuck(tracked, step.id, record, WhyUnsolved(context, tracked.state, step, seed));
            return false;
        }
        const CommandOutcome outcome = Execute(tracked.state.id, actor, engine::Submit{step.id, *payload});
        plan.submitted_once = true;
        if (outcome.error) {
            std::string why = "the submission was refused (" + outcome.error->code + "): " + outcome.error->message;
            for (const auto& detail : outcome.error->details) {
                why += "; " + detail;
            }
            Stuck(tracked, step.id, record, why);
            return false;
        }
        if (const FormField* list = ProblemListField(step); list != nullptr && !tracked.problems_listed) {
            tracked.problems_listed = true;
            if (const auto* items = payload->if_contains(list->name); items != nullptr && items->is_array()) {
                AddProblems(tracked, items->get_array());
            }
        }
        if (step.review) {
            const auto now = tracked.state.steps.find(step.id);
            if (now != tracked.state.steps.end() && now->second.status == engine::StepStatus::submitted) {
                plan.review_on = ReviewDay(plan, now->second);
                if (*plan.review_on <= today_) {
                    ReviewStep(tracked, step, plan);
                }
            }
        }
        return true;
    }

    bool ReviewStep(Tracked& tracked, const model::Step& step, Plan& plan) {
        const engine::StepRecord record = tracked.state.steps.at(step.id);
        const engine::Actor reviewer = ActorFor(tracked, step.review->by);
        if (reviewer.unit.empty()) {
            Stuck(tracked, step.id, record, "nobody holds " + step.review->by.ToString() + " to review this step");
            return false;
        }
        plan.review_on.reset();
        const bool send_back = record.returns < step.review->max_rounds && plan.rng.Chance(options_.return_share);
        engine::Review review{step.id, !send_back, ""};
        if (send_back) {
            review.reason = std::string(kReturnReasons[static_cast<std::size_t>(
                plan.rng.Uniform(0, static_cast<std::int64_t>(std::size(kReturnReasons)) - 1))]);
        }
        const CommandOutcome outcome = Execute(tracked.state.id, reviewer, review);
        if (outcome.error) {
            Stuck(tracked, step.id, record,
                  "the review was refused (" + outcome.error->code + "): " + outcome.error->message);
            return false;
        }
        if (send_back) {
            ++report_.returned;
            Date again = today_.AddDays(static_cast<std::int32_t>(plan.rng.Uniform(1, 3)));
            if (!plan.late && record.due) {
                // A punctual unit still makes the due date: redone in time for the reviewer to look again.
                again = std::min(again, std::max(today_, record.due->AddDays(-1)));
            }
            plan.act_on = again;
        }
        return true;
    }

    // The problem list goes into the unit's ledger: each item fixed at once
    // (立行立改) or by a dated plan, closed on a drawn day.
    void AddProblems(Tracked& tracked, const json::array& items) {
        Rng rng(SeedFor(options_.seed, tracked.state.id + "\nproblems"));
        const engine::Actor actor{"leader", tracked.state.unit, LeaderName(tracked)};
        const Date last = std::max(today_.AddDays(1), definition_.end.AddDays(-1));
        for (const auto& item : items) {
            if (!item.is_string()) {
                continue;
            }
            engine::AddProblem add;
            add.title = std::string(item.get_string());
            add.owner = LeaderName(tracked);
            add.immediate = rng.Chance(options_.immediate_share);
            if (!add.immediate) {
                add.due = today_.AddDays(static_cast<std::int32_t>(rng.Uniform(1, std::max(1, last - today_))));
            }
            const CommandOutcome outcome = Execute(tracked.state.id, actor, add);
            if (outcome.error) {
                continue;
            }
            // The engine numbers problems P1, P2 ... in the order they are added.
            std::string id = "P";
            id += std::to_string(tracked.state.problems_added);  // (not "P" + ...: GCC 12 -Wrestrict false positive)
            Date close_on;
            if (add.immediate) {
                close_on = today_.AddDays(static_cast<std::int32_t>(rng.Uniform(1, 5)));
            } else if (rng.Chance(options_.late_share)) {
                close_on = add.due->AddDays(static_cast<std::int32_t>(rng.Uniform(1, 15)));
            } else {
                close_on = std::max(today_.AddDays(1), add.due->AddDays(-static_cast<std::int32_t>(rng.Uniform(0, 5))));
            }
            closings_[close_on].emplace_back(tracked.state.id, id);
        }
    }

    void CloseProblem(Tracked& tracked, const std::string& id) {
        const auto found = tracked.state.problems.find(id);
        if (found == tracked.state.problems.end() || found->second.closed ||
            tracked.state.status != engine::InstanceStatus::running) {
            return;
        }
        Execute(tracked.state.id, engine::Actor{"leader", tracked.state.unit, LeaderName(tracked)},
                engine::CloseProblem{id, "已整改销号"});
    }

    void CloseDueProblems() {
        while (!closings_.empty() && closings_.begin()->first <= today_) {
            const auto due = std::move(closings_.begin()->second);
            closings_.erase(closings_.begin());
            for (const auto& [instance, id] : due) {
                CloseProblem(Track(instance), id);
            }
        }
    }

    // A gate that counts open or overdue problems (`problems.open <= ...`,
    // `problems.overdue == 0`) is met by fixing problems, not by the form:
    // the unit signs off problems — overdue ones first, then immediate ones,
    // then by due date — until those parts of the gate hold.
    bool FixProblemsFor(Tracked& tracked, const model::Step& step) {
        std::vector<const Expression*> conjuncts;
        Conjuncts(*step.gate->tree, conjuncts);
        bool fixed = false;
        for (const Expression* conjunct : conjuncts) {
            if (DependsOnForm(*conjunct) || !ReadsNamespace(*conjunct, "problems")) {
                continue;
            }
            for (;;) {
                const engine::Context context = runtime_.ContextFor(*tracked.definition);
                if (IsTrue(*conjunct, engine::EvaluationContextFor(context, tracked.state, &step, nullptr))) {
                    break;
                }
                const engine::Problem* next = nullptr;
                const auto rank = [&](const engine::Problem& problem) {
                    const bool overdue = problem.due && *problem.due < today_;
                    return std::tuple(!overdue, !problem.immediate,
                                      problem.due.value_or(Date(std::numeric_limits<std::int32_t>::max())));
                };
                for (const auto& [id, problem] : tracked.state.problems) {
                    if (!problem.closed && (next == nullptr || rank(problem) < rank(*next))) {
                        next = &problem;
                    }
                }
                if (next == nullptr) {
                    break;
                }
                const std::string id = next->id;
                CloseProblem(tracked, id);
                if (!tracked.state.problems.at(id).closed) {
                    break;  // refused: do not loop
                }
                fixed = true;
            }
        }
        return fixed;
    }

    Runtime& runtime_;
    engine::VirtualClock& clock_;
    const Workflow& workflow_;
    const model::Definition& definition_;
    const SimulationOptions& options_;
    SimulationReport& report_;
    Date today_;
    std::int64_t cursor_ = 0;                   // position of the last event read
    std::map<std::string, Tracked> instances_;  // ordered: the same visiting order in every run
    std::set<std::string> stuck_;
    std::map<Date, std::vector<std::pair<std::string, std::string>>> closings_;  // day -> (instance, problem)
};

}  // namespace

SimulationReport Simulate(Runtime& runtime, engine::VirtualClock& clock, const Workflow& workflow,
                          const SimulationOptions& options, const Progress& progress) {
    const auto started = std::chrono::steady_clock::now();
    const model::Definition& definition = *workflow.definition;
    SimulationReport report;
    report.campaign = definition.id;
    report.from = definition.start;
    report.until = options.until.value_or(definition.end);
    if (report.until < report.from) {
        throw std::invalid_argument("the simulation would end (" + report.until.ToString() +
                                    ") before the campaign starts (" + report.from.ToString() + ")");
    }
    runtime.Units();  // loads the roster, which ContextFor needs
    Simulator simulator(runtime, clock, workflow, options, report);
    const std::int64_t days = report.until - report.from + 1;
    for (std::int64_t index = 0; index < days; ++index) {
        simulator.Day(report.from.AddDays(static_cast<std::int32_t>(index)), index == 0);
        if (progress) {
            progress(index + 1, days);
        }
    }
    simulator.Finish();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

std::optional<json::object> SolveForm(Runtime& runtime, const std::string& instance, const model::Step& step,
                                      std::uint64_t seed) {
    const engine::InstanceState state = runtime.State(instance);  // loads the roster, which ContextFor needs
    const engine::Context context = runtime.ContextFor(runtime.DefinitionOf(instance));
    return SolveIn(context, state, step, seed, {});
}

}  // namespace cascade::runtime
