// Where reports go and how they get there: the output folder (the engine's
// out_dir, else the declaration's output_dir) and atomic writes, so a reader
// never sees half a workbook — each file is written to a temporary file in
// the same folder, flushed, and renamed over the final name.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace cascade::report {

// Writing failed. `transient` marks conditions that may pass (a full disk),
// which the engine should retry; the rest (no permission, not a folder) are permanent.
class OutputError : public std::runtime_error {
public:
    OutputError(const std::string& message, bool transient) : std::runtime_error(message), transient_(transient) {}
    bool Transient() const { return transient_; }

private:
    bool transient_;
};

namespace detail {

inline bool TransientErrno(int error) {
    return error == ENOSPC || error == EDQUOT || error == EIO || error == EAGAIN || error == EINTR || error == EMFILE ||
           error == ENFILE || error == ENOMEM;
}

[[noreturn]] inline void ThrowErrno(const std::string& what, int error) {
    throw OutputError(what + ": " + std::strerror(error), TransientErrno(error));
}

}  // namespace detail

// The folder to write into: the params' out_dir (the engine's choice, e.g. the
// CLI's --out) wins; else the declaration's output_dir, relative to the
// engine's working directory. Throws OutputError when neither is given.
inline std::filesystem::path ResolveOutDir(const std::optional<std::string>& params_out_dir,
                                           const std::optional<std::filesystem::path>& config_output_dir) {
    std::filesystem::path dir;
    if (params_out_dir) {
        dir = *params_out_dir;
    } else if (config_output_dir) {
        dir = *config_output_dir;
    } else {
        throw OutputError("no output folder: params.out_dir is missing and the config sets no output_dir", false);
    }
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(dir, error);
    if (error)
        throw OutputError("cannot resolve the output folder '" + dir.string() + "': " + error.message(), false);
    return absolute.lexically_normal();
}

// Creates the output folder when missing and checks that files can be made in it.
inline void PrepareOutDir(const std::filesystem::path& dir) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
        throw OutputError("cannot create the output folder '" + dir.string() + "': " + error.message(),
                          detail::TransientErrno(error.value()));
    }
    if (!std::filesystem::is_directory(dir, error)) {
        throw OutputError("the output folder '" + dir.string() + "' is not a folder", false);
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        detail::ThrowErrno("the output folder '" + dir.string() + "' is not writable", errno);
    }
}

// A temporary file next to its final name. Commit() renames it into place;
// otherwise the destructor removes it, so a failed report leaves nothing behind.
class TempFile {
public:
    TempFile(const std::filesystem::path& dir, std::string_view final_name) : dir_(dir) {
        std::string pattern = (dir / ("." + std::string(final_name) + ".XXXXXX")).string();
        const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd < 0)
            detail::ThrowErrno("cannot create a file in the output folder '" + dir.string() + "'", errno);
        fd_ = fd;
        path_ = pattern;
        // mkstemp makes the file private; a report is for reading by others.
        ::fchmod(fd_, S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        Close();
        if (!committed_) {
            std::error_code ignored;
            std::filesystem::remove(path_, ignored);
        }
    }

    const std::filesystem::path& Path() const { return path_; }

    void Write(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
            if (written < 0) {
                if (errno == EINTR)
                    continue;
                detail::ThrowErrno("cannot write in the output folder '" + dir_.string() + "'", errno);
            }
            bytes.remove_prefix(static_cast<std::size_t>(written));
        }
    }

    // Closes the descriptor, for writers that reopen the file by name.
    void Close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    // Flushes the content to disk and renames the file to `final_name`.
    std::filesystem::path Commit(std::string_view final_name) {
        if (fd_ < 0) {
            fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd_ < 0)
                detail::ThrowErrno("cannot reopen '" + path_.string() + "'", errno);
        }
        if (::fsync(fd_) != 0)
            detail::ThrowErrno("cannot flush in the output folder '" + dir_.string() + "'", errno);
        Close();
        std::filesystem::path target = dir_ / std::string(final_name);
        if (::rename(path_.c_str(), target.c_str()) != 0) {
            detail::ThrowErrno("cannot rename into the output folder '" + dir_.string() + "'", errno);
        }
        committed_ = true;
        // Make the rename itself durable.
        if (const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
            ::fsync(dir_fd);
            ::close(dir_fd);
        }
        return target;
    }

private:
    std::filesystem::path dir_;
    std::filesystem::path path_;
    int fd_ = -1;
    bool committed_ = false;
};

// Writes `content` to dir/name atomically and returns the file's path.
inline std::filesystem::path WriteFileAtomically(const std::filesystem::path& dir, std::string_view name,
                                                 std::string_view content) {
    TempFile file(dir, name);
    file.Write(content);
    return file.Commit(name);
}

// The file name for base name `base` and extension `extension` (".html"): the
// extension is added unless the base already ends with it.
inline std::string OutputName(std::string_view base, std::string_view extension) {
    if (base.size() > extension.size() && base.substr(base.size() - extension.size()) == extension) {
        return std::string(base);
    }
    return std::string(base) + std::string(extension);
}

// Why `name` cannot be a base file name, or empty when it can.
inline std::string CheckBaseName(std::string_view name) {
    if (name.empty())
        return "must not be empty";
    if (name == "." || name == "..")
        return "must not be '.' or '..'";
    if (name.front() == '.')
        return "must not start with '.'";
    for (const char c : name) {
        if (c == '/' || c == '\\' || c == '\0')
            return "must be a file name, not a path";
    }
    return {};
}

}  // namespace cascade::report
