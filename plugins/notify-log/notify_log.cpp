// notify-log: writes each notification as one JSON line, either appended to a
// file or handed to the engine's log. It is the cheapest notifier there is, so
// the engine's delivery benchmark runs against it: the file stays open for the
// instance's lifetime and each line is a single write(2).
#include <cascade/sdk.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
using cascade::sdk::LogLevel;
using cascade::sdk::Result;

// The three fields of `notify` itself, written before the payload's fields;
// a payload field of the same name never replaces them.
constexpr std::string_view kEnvelopeFields[] = {"key", "declaration", "attempt"};

std::string ErrnoText(int error) {
    return std::strerror(error);
}

// An owned file descriptor.
class File {
public:
    File() = default;
    explicit File(int fd) : fd_(fd) {}
    ~File() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    File(File&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    File& operator=(File&& other) noexcept {
        if (this != &other) {
            File doomed(std::exchange(fd_, std::exchange(other.fd_, -1)));
        }
        return *this;
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    int Fd() const { return fd_; }
    bool IsOpen() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

class NotifyLog final : public cascade::sdk::Plugin {
public:
    NotifyLog(cascade::sdk::Host host, json::object config) : Plugin(host, std::move(config)) {
        if (const auto* path = this->config().if_contains("path")) {
            if (!path->is_string() || path->get_string().empty()) {
                throw std::invalid_argument("path must be a non-empty string");
            }
            path_ = std::string(path->get_string());
        }
        if (const auto* fields = this->config().if_contains("fields")) {
            if (!fields->is_array()) {
                throw std::invalid_argument("fields must be a list of payload field names");
            }
            keep_all_ = false;
            for (const auto& field : fields->get_array()) {
                if (!field.is_string()) {
                    throw std::invalid_argument("fields must be a list of payload field names");
                }
                fields_.emplace_back(field.get_string());
            }
        }
        // A file that cannot be opened now (a folder not mounted yet) is
        // retried on each notification, so it is not a reason to refuse.
        if (!path_.empty()) {
            OpenFile();
        }
    }

    Result Notify(const json::object& params) override {
        const auto* key = params.if_contains("key");
        if (key == nullptr || !key->is_string() || key->get_string().empty()) {
            return Result::Error("notify needs a non-empty string 'key'");
        }
        const auto* payload = params.if_contains("payload");
        if (payload != nullptr && !payload->is_object()) {
            return Result::Error("notify's 'payload' must be an object");
        }

        std::string line = FormatLine(params, payload != nullptr ? &payload->get_object() : nullptr);
        if (path_.empty()) {
            host().Log(LogLevel::info, line);
            return Result::Ok(json::object{});
        }
        if (!file_.IsOpen() && !OpenFile()) {
            return Result::Retry("cannot open " + path_ + ": " + open_error_);
        }
        line.push_back('\n');
        if (std::string error = WriteLine(line); !error.empty()) {
            return Result::Retry("cannot append to " + path_ + ": " + error);
        }
        return Result::Ok(json::object{});
    }

    Result SelfTest() override {
        json::array checks;
        if (path_.empty()) {
            checks.push_back(Check("destination", true, "the engine's log (info level)"));
        } else {
            const bool open = file_.IsOpen() || OpenFile();
            checks.push_back(Check("file writable", open, open ? path_ : "cannot open " + path_ + ": " + open_error_));
            if (open) {
                struct stat status {};
                const bool regular = ::fstat(file_.Fd(), &status) == 0 &&
                                     (S_ISREG(status.st_mode) || S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode));
                checks.push_back(Check("file kind", regular,
                                       regular ? "appends go to a regular file, a pipe or a device"
                                               : path_ + " is not a file lines can be appended to"));
            }
        }
        checks.push_back(Check(
            "fields", true, keep_all_ ? "every payload field" : std::to_string(fields_.size()) + " payload field(s)"));
        std::string failures;
        for (const auto& check : checks) {
            if (!check.as_object().at("ok").as_bool()) {
                failures += (failures.empty() ? "" : "; ") + std::string(check.as_object().at("detail").as_string());
            }
        }
        if (!failures.empty()) {
            return Result::Error(failures);
        }
        return Result::Ok(json::object{{"checks", std::move(checks)}});
    }

private:
    static json::value Check(std::string_view name, bool ok, std::string_view detail) {
        return json::object{{"name", name}, {"ok", ok}, {"detail", detail}};
    }

    // O_APPEND makes each write land at the current end of the file as one
    // unit, so lines of several instances or processes never interleave.
    bool OpenFile() {
        const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            open_error_ = ErrnoText(errno);
            return false;
        }
        file_ = File(fd);
        open_error_.clear();
        return true;
    }

    // One write(2) per line; a short write (a full disk) is finished so the
    // line at least ends, and reported only when the rest cannot be written.
    std::string WriteLine(std::string_view line) {
        std::size_t written = 0;
        while (written < line.size()) {
            const ssize_t count = ::write(file_.Fd(), line.data() + written, line.size() - written);
            if (count < 0) {
                if (errno == EINTR) {
                    continue;
                }
                const int error = errno;
                // The descriptor may be stale (a file system remounted): open
                // again on the next call.
                file_ = File();
                return ErrnoText(error);
            }
            written += static_cast<std::size_t>(count);
        }
        return {};
    }

    std::string FormatLine(const json::object& params, const json::object* payload) const {
        json::object line;
        line.reserve(3 + (payload != nullptr ? payload->size() : 0));
        for (const std::string_view field : kEnvelopeFields) {
            if (const auto* value = params.if_contains(field)) {
                line.emplace(field, *value);
            }
        }
        if (payload != nullptr) {
            if (keep_all_) {
                for (const auto& [name, value] : *payload) {
                    line.emplace(name, value);  // emplace keeps an envelope field already there
                }
            } else {
                for (const auto& name : fields_) {
                    if (const auto* value = payload->if_contains(name)) {
                        line.emplace(name, *value);
                    }
                }
            }
        }
        return json::serialize(line);
    }

    std::string path_;
    bool keep_all_ = true;
    std::vector<std::string> fields_;
    File file_;
    std::string open_error_;
};

}  // namespace

CASCADE_PLUGIN(NotifyLog, "notify-log")
