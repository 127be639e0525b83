// Shape validation of a workflow document against schemas/workflow.schema.json
// (valijson), with valijson's raw results turned into located, readable diagnostics.
#pragma once

#include "cascade/lang/diagnostic.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/value.hpp>
#include <string>

namespace cascade::lang::detail {

// Reports every schema violation of `document` (the JSON form of `root`) at
// the YAML location it concerns.
void ValidateWorkflowShape(const boost::json::value& document, const YAML::Node& root, const std::string& file,
                           Diagnostics& diagnostics);

// The parsed embedded workflow schema (parsed once per process).
const boost::json::value& WorkflowSchemaJson();

}  // namespace cascade::lang::detail
