// Looking at a report as a person would: report-html's page rendered by a
// real headless chromium, its screenshot decoded, and each chart's colour
// counted. Shared by the report-html tests and the county campaign test.
#pragma once

#include "report_test_support.hpp"

#include <dlfcn.h>
#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace cascade::test::report {

// The chart colours of report-html (plugins/report-html/svg_charts.hpp).
struct Rgb {
    int r, g, b;
};
constexpr Rgb kDone{0x2a, 0x9d, 0x8f};
constexpr Rgb kOpen{0xe9, 0xc4, 0x6a};
constexpr Rgb kOverdue{0xe7, 0x6f, 0x51};
constexpr Rgb kOverdueBar{0x9d, 0x02, 0x08};
constexpr Rgb kProblemsOpen{0x7b, 0x2c, 0xbf};
constexpr Rgb kProblemsClosed{0x00, 0x77, 0xb6};
constexpr Rgb kEmptyState{0xfd, 0xf0, 0xd5};  // the empty-state panel's background

// An RGB image decoded with libpng's simplified API. libpng is loaded at run
// time so the test binary needs no extra link dependency.
struct Image {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::vector<std::uint8_t> pixels;  // RGB, row by row

    // Pixels within `tolerance` of `color` on every channel.
    std::size_t Count(Rgb color, int tolerance = 2) const {
        std::size_t count = 0;
        for (std::size_t i = 0; i + 2 < pixels.size(); i += 3) {
            if (std::abs(pixels[i] - color.r) <= tolerance && std::abs(pixels[i + 1] - color.g) <= tolerance &&
                std::abs(pixels[i + 2] - color.b) <= tolerance) {
                ++count;
            }
        }
        return count;
    }
};

inline Image DecodePng(const fs::path& file) {
    void* library = ::dlopen("libpng16.so.16", RTLD_NOW | RTLD_LOCAL);
    INFO("libpng16.so.16 must be installed (libpng-dev): " << (library == nullptr ? ::dlerror() : ""));
    REQUIRE(library != nullptr);
    using Begin = int (*)(png_imagep, const char*);
    using Finish = int (*)(png_imagep, png_const_colorp, void*, png_int_32, void*);
    using Free = void (*)(png_imagep);
    auto begin = reinterpret_cast<Begin>(::dlsym(library, "png_image_begin_read_from_file"));
    auto finish = reinterpret_cast<Finish>(::dlsym(library, "png_image_finish_read"));
    auto release = reinterpret_cast<Free>(::dlsym(library, "png_image_free"));
    REQUIRE((begin != nullptr && finish != nullptr && release != nullptr));
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    Image decoded;
    if (begin(&image, file.c_str()) != 0) {
        image.format = PNG_FORMAT_RGB;
        decoded.width = image.width;
        decoded.height = image.height;
        decoded.pixels.resize(PNG_IMAGE_SIZE(image));
        if (finish(&image, nullptr, decoded.pixels.data(), 0, nullptr) == 0)
            decoded.pixels.clear();
    }
    release(&image);
    ::dlclose(library);
    REQUIRE(!decoded.pixels.empty());
    return decoded;
}

// Takes a screenshot of `page` with headless chromium. CI installs chromium;
// its absence is a failure, not a reason to skip.
inline Image Screenshot(const fs::path& page, const fs::path& png) {
    const ProcessResult version = Run({"chromium", "--version"});
    INFO(
        "chromium is not installed or does not run: the HTML report is checked in a real headless browser "
        "(Debian: apt-get install chromium)");
    REQUIRE(version.exit_code == 0);
    const ProcessResult shot = Run({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                    "--force-device-scale-factor=1", "--screenshot=" + png.string(),
                                    "--window-size=1280,2400", "file://" + page.string()});
    INFO("chromium --headless --screenshot failed with exit code " << shot.exit_code);
    REQUIRE(shot.exit_code == 0);
    REQUIRE(fs::is_regular_file(png));
    return DecodePng(png);
}

}  // namespace cascade::test::report
