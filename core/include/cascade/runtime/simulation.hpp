// `cascade simulate`: plays a whole campaign on a virtual clock with a
// seeded model of how units behave (most on time, some late, some handing in
// work that fails its gate or is returned by the reviewer), so an
// administrator sees before launch which units would be overdue or
// escalated, and when.
#pragma once

#include "cascade/engine/clock.hpp"
#include "cascade/model/date.hpp"
#include "cascade/runtime/runtime.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cascade::runtime {

struct SimulationOptions {
    std::uint64_t seed = 2023;
    std::optional<model::Date> until;  // default: the workflow's calendar end
    double late_share = 0.15;          // share of (unit, step) pairs finished after their due date
    double gate_miss_share = 0.10;     // share of first submissions that fail their gate and are redone
    double return_share = 0.20;        // share of reviewed submissions the reviewer returns (within max_rounds);
                                       // also the share of steps whose own results may take a rework edge
                                       // (satisfaction below the threshold): the other units aim past it
    int problems_per_unit = 3;         // mean size of a unit's problem list (from its first list-field form)
    double immediate_share = 0.4;      // share of problems fixed at once (立行立改)
    int hour_of_day = 9;               // when simulated people act each day (local time)
    // Rows of the timeline kept in the report (the counts are always complete).
    std::size_t max_timeline = 100'000;
    // When set, notifications go through it (real plugins, e.g. to a test
    // mail server) as each simulated day ends; by default every notifier is
    // taken to answer OK. Actions always do.
    Deliverer deliver_notifications;
};

struct SimulatedIncident {
    model::Date on;
    std::string kind;  // "overdue", "escalated", "stuck"
    std::string instance;
    std::string unit;
    std::string unit_name;
    std::string category;
    std::string step;
    model::Date due;
    std::string escalated_to;  // "leader@anlan (于欣怡)" for escalations
    std::string detail;        // for "stuck": why the simulated unit could not go on
};

struct SimulationReport {
    std::string campaign;
    model::Date from;
    model::Date until;
    std::int64_t instances = 0;        // top level
    std::int64_t child_instances = 0;  // started through subflows
    std::int64_t completed_instances = 0;
    std::int64_t commands = 0;
    std::int64_t refused = 0;  // submissions refused (failed gates, as people do)
    std::int64_t returned = 0;
    std::int64_t events = 0;
    std::int64_t reminders = 0;
    std::int64_t notifications = 0;                                           // effects queued
    std::vector<SimulatedIncident> incidents;                                 // in date order
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> stage_done;  // stage -> (done, applicable) at the end
    double seconds = 0;                                                       // wall time of the run
};

// Runs the campaign in `runtime`, whose store must be empty apart from the
// roster (an in-memory or scratch database) and whose clock is `clock`.
// `progress` gets (day index, number of days). Each simulated day is one
// transaction. Deterministic for a seed: every random draw is seeded by the
// seed and what it is about (instance, step, activation), so two runs give
// the same incidents. Throws std::runtime_error when the campaign cannot be
// started (e.g. the store already holds it) and std::invalid_argument when
// `until` is before the calendar start.
SimulationReport Simulate(Runtime& runtime, engine::VirtualClock& clock, const Workflow& workflow,
                          const SimulationOptions& options, const Progress& progress = {});

// A payload for a task's form that passes its gate in the instance's current
// state, found by solving the gate's comparisons for the form fields; nullopt
// when none was found (a gate that only the state can satisfy, such as
// `problems.open <= steps.x.form.y`, or a field pattern too complex to sample).
// The step need not be open. Deterministic for a seed. Exposed for tests.
std::optional<boost::json::object> SolveForm(Runtime& runtime, const std::string& instance, const model::Step& step,
                                             std::uint64_t seed);

}  // namespace cascade::runtime
