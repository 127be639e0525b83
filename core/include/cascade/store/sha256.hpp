// SHA-256 through OpenSSL's EVP interface, for the event log's hash chain.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cascade::store {

using Digest = std::array<std::uint8_t, 32>;

// Incremental hashing; reusable after Finish().
class Sha256 {
public:
    Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    ~Sha256();
    Sha256& Update(std::string_view bytes);
    Sha256& Update(const Digest& digest);
    Digest Finish();

private:
    void* context_ = nullptr;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay out of this one
};

Digest Sha256Of(std::string_view bytes);
std::string ToHex(const Digest& digest);
// False (and `digest` untouched) unless `hex` is exactly 64 hex digits, either case;
// no prefix, no spaces.
bool FromHex(std::string_view hex, Digest& digest);

}  // namespace cascade::store
