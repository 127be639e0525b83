// SHA-256: the NIST FIPS 180-2 example vectors, incremental and reused hashing,
// and the strict hex form of a digest.
#include "cascade/store/sha256.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using cascade::store::Digest;
using cascade::store::FromHex;
using cascade::store::Sha256;
using cascade::store::Sha256Of;
using cascade::store::ToHex;

namespace {

constexpr std::string_view kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kAbcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view k448Bits = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view k448BitsHash = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view k896Bits =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
constexpr std::string_view k896BitsHash = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
constexpr std::string_view kMillionAHash = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

}  // namespace

TEST_CASE("sha256: NIST vectors, one shot", "[sha256]") {
    CHECK(ToHex(Sha256Of("")) == kEmptyHash);
    CHECK(ToHex(Sha256Of(std::string_view())) == kEmptyHash);
    CHECK(ToHex(Sha256Of("abc")) == kAbcHash);
    CHECK(ToHex(Sha256Of(k448Bits)) == k448BitsHash);
    CHECK(ToHex(Sha256Of(k896Bits)) == k896BitsHash);
    CHECK(ToHex(Sha256Of(std::string(1000000, 'a'))) == kMillionAHash);
}

TEST_CASE("sha256: incremental hashing matches one shot", "[sha256]") {
    Sha256 hasher;
    CHECK(ToHex(hasher.Finish()) == kEmptyHash);

    // One million 'a', fed in uneven pieces that straddle the 64-byte blocks.
    const std::string chunk(1000, 'a');
    for (int i = 0; i < 999; ++i) {
        hasher.Update(std::string_view(chunk).substr(0, 1 + (i % 7) * 10))
            .Update(std::string_view(chunk).substr(0, 1000 - 1 - (i % 7) * 10));
    }
    hasher.Update(chunk);
    CHECK(ToHex(hasher.Finish()) == kMillionAHash);

    // Byte by byte, and with empty updates in between.
    for (const char c : k448Bits) {
        hasher.Update(std::string_view(&c, 1)).Update("");
    }
    CHECK(ToHex(hasher.Finish()) == k448BitsHash);
}

TEST_CASE("sha256: a hasher is reusable after Finish", "[sha256]") {
    Sha256 hasher;
    CHECK(ToHex(hasher.Update("abc").Finish()) == kAbcHash);
    CHECK(ToHex(hasher.Update("abc").Finish()) == kAbcHash);  // nothing carried over
    CHECK(ToHex(hasher.Finish()) == kEmptyHash);
    CHECK(ToHex(hasher.Update("a").Update("b").Update("c").Finish()) == kAbcHash);
}

TEST_CASE("sha256: chaining a digest hashes its 32 raw bytes", "[sha256]") {
    const Digest previous = Sha256Of("abc");
    Sha256 hasher;
    const Digest chained = hasher.Update("prefix").Update(previous).Finish();
    CHECK(ToHex(chained) == "e570b7c7d3f22b1ad567377715cd091d48929c08dfd439bc0dd3188ef176c3c4");
    const std::string raw(previous.begin(), previous.end());
    CHECK(chained == Sha256Of("prefix" + raw));
}

TEST_CASE("sha256: hex round trip", "[sha256]") {
    for (const std::string_view text : {std::string_view(""), std::string_view("abc"), k896Bits}) {
        const Digest digest = Sha256Of(text);
        const std::string hex = ToHex(digest);
        CHECK(hex.size() == 64);
        CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
        Digest decoded{};
        REQUIRE(FromHex(hex, decoded));
        CHECK(decoded == digest);
    }

    Digest all_bytes{};
    for (std::size_t i = 0; i < all_bytes.size(); ++i) {
        all_bytes[i] = static_cast<std::uint8_t>(i * 8 + 7);
    }
    Digest decoded{};
    REQUIRE(FromHex(ToHex(all_bytes), decoded));
    CHECK(decoded == all_bytes);

    // Upper-case digits are hex digits too; ToHex always writes lower case.
    std::string upper(kAbcHash);
    for (char& c : upper) {
        c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    REQUIRE(FromHex(upper, decoded));
    CHECK(ToHex(decoded) == kAbcHash);
}

TEST_CASE("sha256: FromHex rejects anything but 64 hex digits", "[sha256]") {
    const std::string good(kAbcHash);
    const Digest before = Sha256Of("unchanged");
    for (const std::string& bad : {
             std::string(), good.substr(0, 63), good + "0", good.substr(0, 62), "0x" + good.substr(0, 62),
             " " + good.substr(1), good.substr(0, 63) + " ", good.substr(0, 63) + "g",
             good.substr(0, 32) + "-" + good.substr(33), good.substr(0, 10) + std::string(1, '\0') + good.substr(11),
             std::string(64, 'z'), good.substr(0, 31) + "\xC3\xA9" + good.substr(33),  // é: two bytes, same length
         }) {
        INFO(bad);
        Digest digest = before;
        CHECK_FALSE(FromHex(bad, digest));
        CHECK(digest == before);  // untouched on failure
    }
}
