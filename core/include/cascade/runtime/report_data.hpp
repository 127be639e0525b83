// The data a reporter plugin renders: a campaign's progress by stage, unit
// category and unit, its overdue steps and its problem-list burn-down, as the
// JSON params of the `report` method (docs/plugins.md, "report").
#pragma once

#include "cascade/runtime/runtime.hpp"

#include <boost/json.hpp>

#include <string>

namespace cascade::runtime {

struct ReportRequest {
    std::string campaign;  // empty: the database's only (or first) campaign
    std::string locale = "zh";
    std::string out_dir;  // absolute
};

// Throws std::invalid_argument when the campaign does not exist.
boost::json::object BuildReportParams(Runtime& runtime, const ReportRequest& request);

}  // namespace cascade::runtime
