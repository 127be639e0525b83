// DOT, Mermaid and outline renderings. Stages become clusters/subgraphs,
// decisions are diamonds, parallel/join bars, ends circles, and rework edges
// (max_rounds loops) are dashed and labelled with their bound.
#include "cascade/cli/render.hpp"

#include "cascade/check/checker.hpp"

#include <algorithm>
#include <map>
#include <queue>
#include <sstream>

namespace cascade::cli {

using model::Definition;
using model::Step;
using model::StepKind;

namespace {

std::string Title(const model::LocalizedText& text, std::string_view language, const std::string& fallback) {
    const std::string& chosen = text.In(language);
    return chosen.empty() ? fallback : chosen;
}

std::string DotEscape(std::string_view text) {
    std::string escaped;
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            escaped += '\\';
        }
        if (c == '\n') {
            escaped += "\\n";  // DOT's own line break inside a label
        } else {
            escaped += c;
        }
    }
    return escaped;
}

std::string MermaidEscape(std::string_view text) {
    std::string escaped;
    for (const char c : text) {
        if (c == '"') {
            escaped += "#quot;";
        } else if (c == '\n') {
            escaped += ' ';
        } else {
            escaped += c;
        }
    }
    return escaped;
}

std::string EdgeLabel(const model::Transition& transition, std::string_view language) {
    std::string label = transition.label.Empty() ? std::string() : transition.label.In(language);
    if (label.empty() && transition.when) {
        label = transition.when->text;
    }
    if (transition.max_rounds) {
        label += (label.empty() ? "" : " ") + std::string("(≤") + std::to_string(*transition.max_rounds) + "×)";
    }
    return label;
}

// Durations as people write them: "10个工作日", "7天"; "10 working days", "7 days".
std::string DurationText(const model::Duration& duration, std::string_view language) {
    if (language != "zh") {
        const bool working = duration.unit == model::DurationUnit::working_days;
        return std::to_string(duration.amount) + (working ? " working day" : " day") +
               (duration.amount == 1 ? "" : "s");
    }
    return std::to_string(duration.amount) + (duration.unit == model::DurationUnit::working_days ? "个工作日" : "天");
}

std::string DeadlineText(const model::Deadline& deadline, std::string_view language) {
    if (deadline.kind == model::DeadlineKind::after_activation) {
        return DurationText(deadline.duration, language);
    }
    return deadline.ToString();
}

std::string StepLabel(const Step& step, std::string_view language) {
    std::string label = Title(step.title, language, step.id);
    if (step.assignee) {
        label += "\n" + step.assignee->ToString();
    }
    if (step.due.kind != model::DeadlineKind::none) {
        label += (step.assignee ? " · " : "\n") + std::string(language == "zh" ? "截止 " : "due ") +
                 DeadlineText(step.due, language);
    }
    return label;
}

// Steps grouped by stage in the order stages are declared; steps without a stage last.
std::vector<std::pair<std::string, std::vector<std::size_t>>> ByStage(const Definition& definition) {
    std::vector<std::pair<std::string, std::vector<std::size_t>>> groups;
    for (const auto& stage : definition.stages) {
        groups.emplace_back(stage.id, std::vector<std::size_t>{});
    }
    groups.emplace_back("", std::vector<std::size_t>{});
    for (const std::size_t index : ReadingOrder(definition)) {
        const std::string& stage = definition.steps[index].stage;
        auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == stage; });
        if (group == groups.end()) {
            group = groups.end() - 1;
        }
        group->second.push_back(index);
    }
    return groups;
}

}  // namespace

std::vector<std::size_t> ReadingOrder(const Definition& definition) {
    const std::size_t count = definition.steps.size();
    const auto rework = check::ReworkEdges(definition);
    std::vector<std::vector<std::size_t>> successors(count);
    std::vector<std::size_t> indegree(count, 0);
    for (std::size_t from = 0; from < count; ++from) {
        const auto& next = definition.steps[from].next;
        for (std::size_t position = 0; position < next.size(); ++position) {
            const auto to = definition.StepIndex(next[position].to);
            if (to && rework.count({from, position}) == 0) {
                successors[from].push_back(*to);
                ++indegree[*to];
            }
        }
    }
    // Kahn's algorithm with the author's order as the tie-breaker.
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t v = 0; v < count; ++v) {
        if (indegree[v] == 0) {
            ready.push(v);
        }
    }
    std::vector<std::size_t> order;
    std::vector<bool> placed(count, false);
    while (order.size() < count) {
        if (ready.empty()) {
            // A loop without max_rounds: place the earliest remaining step to break it.
            for (std::size_t v = 0; v < count; ++v) {
                if (!placed[v]) {
                    indegree[v] = 0;
                    ready.push(v);
                    break;
                }
            }
        }
        const std::size_t v = ready.top();
        ready.pop();
        if (placed[v]) {
            continue;
        }
        placed[v] = true;
        order.push_back(v);
        for (const std::size_t next : successors[v]) {
            if (indegree[next] > 0 && --indegree[next] == 0) {
                ready.push(next);
            }
        }
    }
    return order;
}

std::string RenderDot(const Definition& definition, std::string_view language) {
    std::ostringstream dot;
    const auto rework = check::ReworkEdges(definition);
    dot << "digraph \"" << DotEscape(definition.id) << "\" {\n"
        << "  graph [rankdir=TB, fontname=\"Noto Sans CJK SC, sans-serif\", label=\""
        << DotEscape(Title(definition.title, language, definition.id)) << "\", labelloc=t];\n"
        << "  node [fontname=\"Noto Sans CJK SC, sans-serif\", fontsize=11];\n"
        << "  edge [fontname=\"Noto Sans CJK SC, sans-serif\", fontsize=9];\n";
    int cluster = 0;
    for (const auto& [stage, members] : ByStage(definition)) {
        if (members.empty()) {
            continue;
        }
        std::string indent = "  ";
        if (!stage.empty()) {
            const auto* named = definition.FindStage(stage);
            dot << "  subgraph cluster_" << cluster++ << " {\n    label=\""
                << DotEscape(named ? Title(named->title, language, stage) : stage)
                << "\"; style=rounded; color=gray60;\n";
            indent = "    ";
        }
        for (const std::size_t index : members) {
            const Step& step = definition.steps[index];
            std::string shape;
            switch (step.kind) {
            case StepKind::task:
                shape = "shape=box, style=rounded";
                break;
            case StepKind::action:
                shape = "shape=box, style=\"rounded,filled\", fillcolor=lightblue";
                break;
            case StepKind::decision:
                shape = "shape=diamond";
                break;
            case StepKind::parallel:
            case StepKind::join:
                shape = "shape=box, style=filled, fillcolor=black, fontcolor=white, height=0.2";
                break;
            case StepKind::subflow:
                shape = "shape=box, peripheries=2";
                break;
            case StepKind::end:
                shape = "shape=doublecircle";
                break;
            }
            dot << indent << '"' << DotEscape(step.id) << "\" [label=\"" << DotEscape(StepLabel(step, language))
                << "\", " << shape << "];\n";
        }
        if (!stage.empty()) {
            dot << "  }\n";
        }
    }
    for (std::size_t from = 0; from < definition.steps.size(); ++from) {
        const Step& step = definition.steps[from];
        for (std::size_t position = 0; position < step.next.size(); ++position) {
            const auto& transition = step.next[position];
            dot << "  \"" << DotEscape(step.id) << "\" -> \"" << DotEscape(transition.to) << '"';
            std::vector<std::string> attributes;
            const std::string label = EdgeLabel(transition, language);
            if (!label.empty()) {
                attributes.push_back("label=\"" + DotEscape(label) + "\"");
            }
            if (rework.count({from, position}) != 0) {
                attributes.emplace_back("style=dashed, color=firebrick, constraint=false");
            }
            if (!attributes.empty()) {
                dot << " [";
                for (std::size_t i = 0; i < attributes.size(); ++i) {
                    dot << (i == 0 ? "" : ", ") << attributes[i];
                }
                dot << ']';
            }
            dot << ";\n";
        }
    }
    dot << "}\n";
    return dot.str();
}

std::string RenderMermaid(const Definition& definition, std::string_view language) {
    std::ostringstream out;
    const auto rework = check::ReworkEdges(definition);
    out << "---\ntitle: " << MermaidEscape(Title(definition.title, language, definition.id)) << "\n---\n"
        << "flowchart TD\n";
    for (const auto& [stage, members] : ByStage(definition)) {
        if (members.empty()) {
            continue;
        }
        std::string indent = "  ";
        if (!stage.empty()) {
            const auto* named = definition.FindStage(stage);
            out << "  subgraph stage_" << stage << "[\""
                << MermaidEscape(named ? Title(named->title, language, stage) : stage) << "\"]\n";
            indent = "    ";
        }
        for (const std::size_t index : members) {
            const Step& step = definition.steps[index];
            std::string label = StepLabel(step, language);
            for (std::size_t at = label.find('\n'); at != std::string::npos; at = label.find('\n', at)) {
                label.replace(at, 1, "<br/>");
            }
            label = MermaidEscape(label);
            std::string node;
            switch (step.kind) {
            case StepKind::task:
                node = "(\"" + label + "\")";
                break;
            case StepKind::action:
                node = "[[\"" + label + "\"]]";
                break;
            case StepKind::decision:
                node = "{\"" + label + "\"}";
                break;
            case StepKind::parallel:
            case StepKind::join:
                node = "[/\"" + label + "\"\\]";
                break;
            case StepKind::subflow:
                node = "[[\"" + label + "\"]]";
                break;
            case StepKind::end:
                node = "((\"" + label + "\"))";
                break;
            }
            out << indent << step.id << node << "\n";
        }
        if (!stage.empty()) {
            out << "  end\n";
        }
    }
    for (std::size_t from = 0; from < definition.steps.size(); ++from) {
        const Step& step = definition.steps[from];
        for (std::size_t position = 0; position < step.next.size(); ++position) {
            const auto& transition = step.next[position];
            const std::string label = EdgeLabel(transition, language);
            const bool is_rework = rework.count({from, position}) != 0;
            out << "  " << step.id << (is_rework ? " -.->" : " -->");
            if (!label.empty()) {
                out << "|\"" << MermaidEscape(label) << "\"|";
            }
            out << ' ' << transition.to << "\n";
        }
    }
    out << "  classDef rework stroke:#b22222\n";
    return out.str();
}

namespace {

std::string FieldSummary(const model::FormField& field, std::string_view language) {
    std::string text = field.name + " (" + std::string(model::FieldTypeName(field.type));
    if (field.minimum) {
        std::ostringstream number;
        number << *field.minimum;
        text += " ≥ " + number.str();
    }
    if (field.maximum) {
        std::ostringstream number;
        number << *field.maximum;
        text += " ≤ " + number.str();
    }
    if (!field.choices.empty()) {
        std::string choices;
        for (const auto& choice : field.choices) {
            choices += (choices.empty() ? "" : "|") + choice;
        }
        text += ": " + choices;
    }
    if (field.min_items) {
        text += ", ≥ " + std::to_string(*field.min_items) + (language == "zh" ? " 项" : " items");
    }
    if (!field.unit.empty()) {
        text += ", " + field.unit;
    }
    text += field.required ? (language == "zh" ? "，必填" : ", required") : "";
    text += ")";
    const std::string title = field.title.In(language);
    if (!title.empty()) {
        text += " " + title;
    }
    return text;
}

}  // namespace

std::string RenderOutline(const Definition& definition, std::string_view language) {
    const bool zh = language == "zh";
    std::ostringstream out;
    out << Title(definition.title, language, definition.id) << "  [" << definition.id
        << (definition.version.empty() ? "" : " v" + definition.version) << "]\n";
    const std::string description = definition.description.In(language);
    if (!description.empty()) {
        out << description << "\n";
    }
    out << (zh ? "时间：" : "Runs: ") << definition.start.ToString() << " → " << definition.end.ToString();
    if (definition.calendar) {
        out << (zh ? "，工作日历 " : ", calendar ") << definition.calendar->id << " ("
            << definition.calendar->WorkingDaysBetween(definition.start, definition.end.AddDays(1))
            << (zh ? " 个工作日)" : " working days)");
    }
    out << "\n";
    if (!definition.categories.empty()) {
        out << (zh ? "单位类别：" : "Unit categories: ");
        for (std::size_t i = 0; i < definition.categories.size(); ++i) {
            out << (i == 0 ? "" : ", ") << Title(definition.categories[i].title, language, definition.categories[i].id)
                << " (" << definition.categories[i].id << ")";
        }
        out << "\n";
    }
    std::string current_stage = "\x01";
    int number = 0;
    for (const std::size_t index : ReadingOrder(definition)) {
        const Step& step = definition.steps[index];
        if (step.stage != current_stage) {
            current_stage = step.stage;
            const auto* stage = definition.FindStage(step.stage);
            out << "\n"
                << (step.stage.empty()
                        ? std::string(zh ? "（未分阶段）" : "(no stage)")
                        : "■ " + Title(stage ? stage->title : model::LocalizedText{}, language, step.stage))
                << "\n";
        }
        ++number;
        out << "  " << number << ". " << Title(step.title, language, step.id) << "  [" << step.id << ", "
            << model::StepKindName(step.kind) << "]\n";
        auto line = [&](std::string_view label_zh, std::string_view label_en, const std::string& value) {
            if (!value.empty()) {
                out << "       " << (zh ? label_zh : label_en) << value << "\n";
            }
        };
        if (!step.applies_to.empty()) {
            std::string categories;
            for (const auto& category : step.applies_to) {
                categories += (categories.empty() ? "" : ", ") + category;
            }
            line("适用：", "applies to: ", categories);
        }
        if (step.applies_if) {
            line("适用条件：", "applies if: ", step.applies_if->text);
        }
        if (step.assignee) {
            const auto* role = definition.FindRole(step.assignee->role);
            std::string who = step.assignee->ToString();
            if (role != nullptr && !role->title.Empty()) {
                who += " (" + role->title.In(language) + ")";
            }
            line("责任：", "who: ", who);
        }
        if (step.opens) {
            line("开始不早于：", "opens: ", step.opens->ToString());
        }
        if (step.due.kind != model::DeadlineKind::none) {
            std::string due = DeadlineText(step.due, language);
            if (step.due.kind == model::DeadlineKind::after_activation) {
                if (zh) {
                    due.insert(0, "启动后 ");
                } else {
                    due.append(" after it starts");
                }
            }
            if (!step.remind.empty()) {
                std::string reminders;
                for (const auto& remind : step.remind) {
                    reminders += (reminders.empty() ? "" : ", ") + DurationText(remind, language);
                }
                due += zh ? "；提前 " + reminders + " 提醒" : "; reminders " + reminders + " before";
            }
            for (const auto& escalation : step.escalate) {
                due += zh ? "；逾期 " + DurationText(escalation.after, language) + " 后上报 " + escalation.to.ToString()
                          : "; escalates to " + escalation.to.ToString() + " " +
                                DurationText(escalation.after, language) + " late";
            }
            line("期限：", "by: ", due);
        }
        for (const auto& field : step.form) {
            line("填报：", "form: ", FieldSummary(field, language));
        }
        if (step.gate) {
            line("完成条件：", "gate: ", step.gate->text);
        }
        if (step.review) {
            line("审核：", "review: ",
                 step.review->by.ToString() + (zh ? "，最多 " : ", at most ") +
                     std::to_string(step.review->max_rounds) + (zh ? " 轮" : " rounds"));
        }
        if (step.kind == StepKind::action) {
            line("插件：",
                 "plugin: ", step.action.plugin + (step.action.action.empty() ? "" : "." + step.action.action));
        }
        if (step.kind == StepKind::subflow) {
            line("下级流程：", "cascades: ", step.subflow.workflow_path);
        }
        if (step.kind == StepKind::join) {
            line("汇合：", "joins: ",
                 step.join_rule == model::JoinRule::all ? std::string(zh ? "全部分支" : "all branches")
                 : step.join_rule == model::JoinRule::any
                     ? std::string(zh ? "任一分支" : "any branch")
                     : (zh ? "至少 " : "at least ") + std::to_string(step.join_count));
        }
        std::string next;
        for (const auto& transition : step.next) {
            next += (next.empty() ? "" : (step.kind == StepKind::parallel ? " ∥ " : "; ")) + transition.to;
            if (transition.when) {
                next += zh ? "（当 " + transition.when->text + "）" : " (when " + transition.when->text + ")";
            }
            if (transition.max_rounds) {
                next += zh ? "［回炉，至多 " + std::to_string(*transition.max_rounds) + " 轮］"
                           : " [rework, at most " + std::to_string(*transition.max_rounds) + " rounds]";
            }
        }
        line("下一步：", "then: ", next);
    }
    return out.str();
}

}  // namespace cascade::cli
