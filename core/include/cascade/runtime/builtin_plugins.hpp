// The effects Cascade can deliver without loading a plugin: a notifier that
// writes one JSON line per notification (`log`), and a scriptable action
// (`test-action`) for trying workflows and testing repairs. Effects aimed at
// any other plugin stay in the outbox, retried with back-off, until a plugin
// runtime that knows them delivers them.
#pragma once

#include "cascade/runtime/runtime.hpp"

#include <ostream>
#include <string>

namespace cascade::runtime {

class BuiltinDeliverer {
public:
    // `log_stream` receives the `log` notifier's lines when its config has no `path`.
    BuiltinDeliverer(Runtime& runtime, std::ostream& log_stream) : runtime_(runtime), log_stream_(log_stream) {}

    Delivery operator()(const store::OutboxRow& effect);

private:
    Runtime& runtime_;
    std::ostream& log_stream_;
};

}  // namespace cascade::runtime
