// Plugin manifests: reading them out of a library file without loading it,
// checking them, discovering plugins in the configured folders, and checking
// a declaration's config against a manifest's JSON Schema.
#include "cascade/plugin/plugin.hpp"

#include "cascade/store/sha256.hpp"

#include <elf.h>
#include <unistd.h>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace cascade::plugin {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kManifestSection = ".cascade_manifest";
constexpr std::size_t kMaxManifestBytes = 1u << 20;
constexpr std::string_view kKinds[] = {"notifier", "reporter", "source", "action"};

template <typename T>
bool ReadAt(std::istream& file, std::uint64_t offset, T& out) {
    file.clear();
    file.seekg(static_cast<std::streamoff>(offset));
    return static_cast<bool>(file.read(reinterpret_cast<char*>(&out), sizeof(T)));
}

std::optional<std::string> ReadBytes(std::istream& file, std::uint64_t offset, std::uint64_t size) {
    file.clear();
    if (size > kMaxManifestBytes) {
        return std::nullopt;
    }
    std::string bytes(size, '\0');
    file.seekg(static_cast<std::streamoff>(offset));
    if (!file.read(bytes.data(), static_cast<std::streamsize>(size))) {
        return std::nullopt;
    }
    return bytes;
}

bool ValidName(std::string_view name) {
    static const std::regex pattern("^[a-z][a-z0-9-]{0,63}$");
    return std::regex_match(name.begin(), name.end(), pattern);
}

// Compiles a JSON Schema with valijson; an invalid schema throws with valijson's reason.
std::unique_ptr<valijson::Schema> CompileSchema(const json::value& schema) {
    auto compiled = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser;
    valijson::adapters::BoostJsonAdapter adapter(schema);
    parser.populateSchema(adapter, *compiled);
    return compiled;
}

// "[smtp]" "[port]" -> "/smtp/port"; array items come as "[0]".
std::string JsonPath(const std::vector<std::string>& context) {
    std::string path;
    for (std::size_t i = 1; i < context.size(); ++i) {
        std::string part = context[i];
        if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
            part = part.substr(1, part.size() - 2);
        }
        if (part.size() >= 2 && part.front() == '"' && part.back() == '"') {
            part = part.substr(1, part.size() - 2);
        }
        path += "/" + part;
    }
    return path.empty() ? "/" : path;
}

// valijson reports a failure at every level it passes through; keep the leaves.
bool IsAggregate(const std::string& description) {
    if (description.find("enum") != std::string::npos)
        return false;  // "Failed to match against any enum values"
    return description.find("Failed to validate against") != std::string::npos ||
           description.find("Failed to match against") != std::string::npos ||
           description.find("failed to match") != std::string::npos ||
           description.find("Failed to validate item") != std::string::npos ||
           description.find("Failed to validate value") != std::string::npos;
}

// valijson names a property no schema allows only inside its message, as
// "... constraints: 'colour'": report it at that key, in plain words.
std::optional<std::string> UnknownProperty(const std::string& description) {
    if (description.find("additionalProperties") == std::string::npos)
        return std::nullopt;
    const auto end = description.rfind('\'');
    if (end == std::string::npos || end == 0)
        return std::nullopt;
    const auto start = description.rfind('\'', end - 1);
    if (start == std::string::npos)
        return std::nullopt;
    return description.substr(start + 1, end - start - 1);
}

// The sub-schema that validates the value at `context` (properties only).
const json::value* SchemaAt(const json::value& schema, const std::vector<std::string>& context) {
    const json::value* node = &schema;
    for (std::size_t i = 1; i < context.size() && node != nullptr; ++i) {
        std::string part = context[i];
        if (part.size() >= 2 && part.front() == '[' && part.back() == ']')
            part = part.substr(1, part.size() - 2);
        if (part.size() >= 2 && part.front() == '"' && part.back() == '"')
            part = part.substr(1, part.size() - 2);
        const auto* properties = node->is_object() ? node->as_object().if_contains("properties") : nullptr;
        node = properties != nullptr && properties->is_object() ? properties->as_object().if_contains(part) : nullptr;
    }
    return node != nullptr && node->is_object() ? node : nullptr;
}

std::string SchemaField(const json::value& schema, const std::vector<std::string>& context, std::string_view field) {
    const json::value* node = SchemaAt(schema, context);
    const auto* value = node != nullptr ? node->as_object().if_contains(field) : nullptr;
    if (value == nullptr)
        return {};
    return value->is_string() ? std::string(value->get_string()) : json::serialize(*value);
}

std::string ProgramPath() {
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    return error ? std::string() : self.string();
}

}  // namespace

bool Manifest::HasKind(std::string_view kind) const {
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

const Manifest* Catalog::Find(std::string_view name) const {
    for (const auto& manifest : plugins) {
        if (manifest.name == name) {
            return &manifest;
        }
    }
    return nullptr;
}

std::variant<std::string, std::string> ReadEmbeddedManifest(const fs::path& library) {
    std::ifstream file(library, std::ios::binary);
    if (!file) {
        return std::variant<std::string, std::string>(std::in_place_index<1>, "cannot open the file");
    }
    return ReadEmbeddedManifest(file);
}

std::variant<std::string, std::string> ReadEmbeddedManifest(std::istream& file) {
    using Failure = std::variant<std::string, std::string>;
    auto fail = [](std::string message) { return Failure(std::in_place_index<1>, std::move(message)); };
    Elf64_Ehdr header{};
    if (!ReadAt(file, 0, header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
        return fail("not an ELF shared library");
    }
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
        return fail("not a 64-bit little-endian ELF file");
    }
    if (header.e_type != ET_DYN) {
        return fail("not a shared library (ELF type " + std::to_string(header.e_type) + ")");
    }
    if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0 || header.e_shnum > 4096 ||
        header.e_shstrndx >= header.e_shnum) {
        return fail("the ELF section table is malformed");
    }
    std::vector<Elf64_Shdr> sections(header.e_shnum);
    for (std::size_t i = 0; i < sections.size(); ++i) {
        if (!ReadAt(file, header.e_shoff + i * sizeof(Elf64_Shdr), sections[i])) {
            return fail("the ELF section table is truncated");
        }
    }
    const Elf64_Shdr& names = sections[header.e_shstrndx];
    if (names.sh_size > kMaxManifestBytes) {
        return fail("the ELF section names are malformed");
    }
    const auto name_table = ReadBytes(file, names.sh_offset, names.sh_size);
    if (!name_table) {
        return fail("the ELF section names are truncated");
    }
    for (const auto& section : sections) {
        if (section.sh_name >= name_table->size()) {
            continue;
        }
        const char* name = name_table->c_str() + section.sh_name;
        if (kManifestSection != name) {
            continue;
        }
        if (section.sh_size == 0 || section.sh_size > kMaxManifestBytes) {
            return fail("its manifest section is empty or larger than 1 MiB");
        }
        auto text = ReadBytes(file, section.sh_offset, section.sh_size);
        if (!text) {
            return fail("its manifest section is truncated");
        }
        if (const auto end = text->find('\0'); end != std::string::npos) {
            text->resize(end);
        }
        return Failure(std::in_place_index<0>, std::move(*text));
    }
    return fail("it has no plugin manifest (no .cascade_manifest section; build it with cascade_add_plugin)");
}

std::variant<Manifest, std::string> ParseManifest(std::string_view text, const fs::path& origin, Transport transport) {
    json::error_code parse_error;
    json::value document = json::parse(text, parse_error);
    if (parse_error) {
        return "the manifest is not valid JSON (" + parse_error.message() + ")";
    }
    if (!document.is_object()) {
        return std::string("the manifest is not a JSON object");
    }
    const json::object& object = document.as_object();
    std::vector<std::string> problems;
    auto string_field = [&](std::string_view key, bool required) -> std::string {
        const auto* value = object.if_contains(key);
        if (value == nullptr) {
            if (required)
                problems.push_back("\"" + std::string(key) + "\" is missing");
            return {};
        }
        if (!value->is_string()) {
            problems.push_back("\"" + std::string(key) + "\" must be a string");
            return {};
        }
        return std::string(value->get_string());
    };

    Manifest manifest;
    manifest.transport = transport;
    manifest.path = origin;
    manifest.name = string_field("name", true);
    if (!manifest.name.empty() && !ValidName(manifest.name)) {
        problems.push_back("\"name\" must be lower-case letters, digits and '-', starting with a letter (got '" +
                           manifest.name + "')");
    }
    manifest.version = string_field("version", true);
    manifest.description = string_field("description", false);
    const std::string abi = string_field("abi", true);
    if (!abi.empty()) {
        static const std::regex abi_pattern("^([0-9]{1,4})\\.([0-9]{1,4})$");
        std::smatch match;
        if (std::regex_match(abi, match, abi_pattern)) {
            manifest.abi_major = std::stoi(match[1].str());
            manifest.abi_minor = std::stoi(match[2].str());
        } else {
            problems.push_back("\"abi\" must be \"major.minor\", e.g. \"1.0\" (got '" + abi + "')");
        }
    }
    if (const auto* kinds = object.if_contains("kinds"); kinds == nullptr) {
        problems.push_back("\"kinds\" is missing (a list of notifier, reporter, source, action)");
    } else if (!kinds->is_array() || kinds->as_array().empty()) {
        problems.push_back("\"kinds\" must be a non-empty list of notifier, reporter, source, action");
    } else {
        std::set<std::string> seen;
        for (const auto& kind : kinds->as_array()) {
            const std::string value = kind.is_string() ? std::string(kind.get_string()) : json::serialize(kind);
            if (std::find(std::begin(kKinds), std::end(kKinds), value) == std::end(kKinds)) {
                problems.push_back("\"kinds\" has '" + value + "'; a plugin is a notifier, reporter, source or action");
            } else if (seen.insert(value).second) {
                manifest.kinds.push_back(value);
            }
        }
    }
    if (const auto* schema = object.if_contains("config_schema")) {
        if (!schema->is_object()) {
            problems.push_back("\"config_schema\" must be a JSON Schema object");
        } else {
            try {
                CompileSchema(*schema);
                manifest.config_schema = *schema;
            } catch (const std::exception& error) {
                problems.push_back(std::string("\"config_schema\" is not a usable JSON Schema: ") + error.what());
            }
        }
    }
    if (transport == Transport::process) {
        const std::string exec = string_field("exec", true);
        if (!exec.empty()) {
            const fs::path program(exec);
            manifest.executable = program.is_absolute() ? program : origin.parent_path() / program;
        }
        if (const auto* args = object.if_contains("args")) {
            if (!args->is_array()) {
                problems.push_back("\"args\" must be a list of strings");
            } else {
                for (const auto& arg : args->as_array()) {
                    if (!arg.is_string()) {
                        problems.push_back("\"args\" must be a list of strings");
                        break;
                    }
                    manifest.args.emplace_back(arg.get_string());
                }
            }
        }
    }
    if (!problems.empty()) {
        std::string message = "the manifest is invalid: ";
        for (std::size_t i = 0; i < problems.size(); ++i) {
            message += (i == 0 ? "" : "; ") + problems[i];
        }
        return message;
    }
    manifest.document = object;
    return manifest;
}

std::variant<Manifest, std::string> ReadManifest(const fs::path& file) {
    const std::string name = file.filename().string();
    constexpr std::string_view kProcessSuffix = ".plugin.json";
    if (name.size() > kProcessSuffix.size() &&
        name.compare(name.size() - kProcessSuffix.size(), kProcessSuffix.size(), kProcessSuffix) == 0) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            return "cannot read " + file.string();
        }
        std::ostringstream text;
        text << in.rdbuf();
        if (text.str().size() > kMaxManifestBytes) {
            return file.string() + ": the manifest is larger than 1 MiB";
        }
        auto parsed = ParseManifest(text.str(), file, Transport::process);
        if (auto* message = std::get_if<std::string>(&parsed)) {
            return file.string() + ": " + *message;
        }
        auto& manifest = std::get<Manifest>(parsed);
        std::error_code error;
        if (!fs::is_regular_file(manifest.executable, error)) {
            return file.string() + ": its program " + manifest.executable.string() + " does not exist";
        }
        if (::access(manifest.executable.c_str(), X_OK) != 0) {
            return file.string() + ": its program " + manifest.executable.string() + " is not executable";
        }
        return parsed;
    }
    auto embedded = ReadEmbeddedManifest(file);
    if (embedded.index() == 1) {
        return file.string() + ": " + std::get<1>(embedded);
    }
    auto parsed = ParseManifest(std::get<0>(embedded), file, Transport::library);
    if (auto* message = std::get_if<std::string>(&parsed)) {
        return file.string() + ": " + *message;
    }
    return parsed;
}

std::vector<fs::path> SearchPath(const std::vector<fs::path>& plugin_dirs) {
    std::vector<fs::path> folders(plugin_dirs.begin(), plugin_dirs.end());
    if (const char* path = std::getenv("CASCADE_PLUGIN_PATH"); path != nullptr) {
        std::stringstream entries(path);
        std::string entry;
        while (std::getline(entries, entry, ':')) {
            if (!entry.empty())
                folders.emplace_back(entry);
        }
    }
#ifdef CASCADE_BUILD_ROOT
    // A `cascade` run from its build tree finds the plugins built beside it.
    const std::string program = ProgramPath();
    const std::string build_root = CASCADE_BUILD_ROOT;
    if (!program.empty() && program.rfind(build_root + "/", 0) == 0) {
        folders.emplace_back(build_root + "/lib/cascade/plugins");
    }
#endif
#if defined(CASCADE_INSTALL_BINDIR) && defined(CASCADE_INSTALL_PLUGIN_RELDIR)
    // An installed `cascade` finds the plugins installed with it, wherever the
    // prefix was moved: <prefix>/bin/cascade -> <prefix>/lib/cascade/plugins.
    if (const fs::path self = ProgramPath(); !self.empty() && self.parent_path().filename() == CASCADE_INSTALL_BINDIR) {
        folders.push_back(self.parent_path().parent_path() / CASCADE_INSTALL_PLUGIN_RELDIR);
    }
#endif
#ifdef CASCADE_INSTALL_PLUGIN_DIR
    folders.emplace_back(CASCADE_INSTALL_PLUGIN_DIR);
#endif
    // The same folder once, at its first place.
    std::vector<fs::path> unique;
    for (auto& folder : folders) {
        const fs::path normal = folder.lexically_normal();
        if (std::find(unique.begin(), unique.end(), normal) == unique.end())
            unique.push_back(normal);
    }
    return unique;
}

Catalog Discover(const std::vector<fs::path>& folders) {
    Catalog catalog;
    catalog.folders = folders;
    auto consider = [&](const fs::path& file) {
        const std::string name = file.filename().string();
        const bool library = file.extension() == ".so";
        const bool process = name.size() > 12 && name.compare(name.size() - 12, 12, ".plugin.json") == 0;
        if (!library && !process)
            return;
        auto read = ReadManifest(file);
        if (auto* message = std::get_if<std::string>(&read)) {
            catalog.problems.push_back(*message);
            return;
        }
        auto& manifest = std::get<Manifest>(read);
        if (const Manifest* first = catalog.Find(manifest.name)) {
            catalog.problems.push_back(file.string() + ": plugin '" + manifest.name + "' is also in " +
                                       first->path.string() + ", which is used");
            return;
        }
        catalog.plugins.push_back(std::move(manifest));
    };
    for (const auto& folder : folders) {
        std::error_code error;
        if (!fs::is_directory(folder, error))
            continue;
        std::vector<fs::path> entries;
        for (const auto& entry : fs::directory_iterator(folder, error))
            entries.push_back(entry.path());
        std::sort(entries.begin(), entries.end());
        for (const auto& entry : entries) {
            if (fs::is_directory(entry, error)) {
                std::vector<fs::path> inner;
                for (const auto& item : fs::directory_iterator(entry, error))
                    inner.push_back(item.path());
                std::sort(inner.begin(), inner.end());
                for (const auto& item : inner) {
                    if (fs::is_regular_file(item, error))
                        consider(item);
                }
            } else if (fs::is_regular_file(entry, error)) {
                consider(entry);
            }
        }
    }
    return catalog;
}

std::vector<std::string> CheckConfig(const Manifest& manifest, const json::value& config) {
    std::vector<std::string> problems;
    std::unique_ptr<valijson::Schema> schema;
    try {
        schema = CompileSchema(manifest.config_schema);
    } catch (const std::exception& error) {
        return {std::string("/: the plugin's config schema is unusable: ") + error.what()};
    }
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter target(config);
    if (validator.validate(*schema, target, &results)) {
        return problems;
    }
    std::set<std::string> seen;
    for (const auto& error : results) {
        if (IsAggregate(error.description))
            continue;
        std::string line = JsonPath(error.context) + ": " + error.description;
        constexpr std::string_view kMissing = "Missing required property '";
        if (error.description.rfind(kMissing, 0) == 0) {
            const std::string base = JsonPath(error.context);
            const std::string key = error.description.substr(
                kMissing.size(), error.description.find('\'', kMissing.size()) - kMissing.size());
            line = (base == "/" ? "" : base) + "/" + key + ": is required";
        } else if (const auto unknown = UnknownProperty(error.description)) {
            const std::string base = JsonPath(error.context);
            line = (base == "/" ? "" : base) + "/" + *unknown + ": unknown setting '" + *unknown +
                   "' (the plugin's schema does not allow it)";
        } else if (error.description.find("enum") != std::string::npos) {
            const std::string values = SchemaField(manifest.config_schema, error.context, "enum");
            line = JsonPath(error.context) + ": must be one of " + (values.empty() ? "the allowed values" : values);
        } else if (error.description.rfind("Value type not permitted", 0) == 0) {
            const std::string type = SchemaField(manifest.config_schema, error.context, "type");
            if (!type.empty())
                line = JsonPath(error.context) + ": must be of type " + type;
        }
        if (seen.insert(line).second)
            problems.push_back(std::move(line));
    }
    if (problems.empty())
        problems.emplace_back("/: the config does not match the plugin's schema");
    return problems;
}

std::optional<std::string> FileSha256(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return std::nullopt;
    store::Sha256 hash;
    std::array<char, 1 << 16> buffer{};
    while (in) {
        in.read(buffer.data(), buffer.size());
        const auto got = in.gcount();
        if (got > 0)
            hash.Update(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
    }
    if (in.bad())
        return std::nullopt;
    return store::ToHex(hash.Finish());
}

}  // namespace cascade::plugin
