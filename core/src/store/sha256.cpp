// SHA-256 through OpenSSL's EVP interface, and the hex form the event log
// stores. OpenSSL failures here mean a broken or misconfigured library (no
// SHA-256 provider), so they are std::runtime_error naming the call.
#include "cascade/store/sha256.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <new>
#include <stdexcept>

namespace cascade::store {

namespace {

EVP_MD_CTX* Context(void* context) {
    return static_cast<EVP_MD_CTX*>(context);
}

[[noreturn]] void ThrowOpenSsl(const char* call) {
    char reason[256] = "no OpenSSL error queued";
    if (const unsigned long error = ERR_get_error(); error != 0) {
        ERR_error_string_n(error, reason, sizeof reason);
    }
    ERR_clear_error();  // the queue is per thread; leave nothing behind for the next caller
    throw std::runtime_error(std::string("SHA-256: ") + call + " failed: " + reason);
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

Sha256::Sha256() {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    if (context == nullptr) {
        throw std::bad_alloc();
    }
    // A constructor that throws runs no destructor, so a failed init frees the context here.
    if (EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(context);
        ThrowOpenSsl("EVP_DigestInit_ex");
    }
    context_ = context;
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(Context(context_));
}

Sha256& Sha256::Update(std::string_view bytes) {
    if (!bytes.empty() && EVP_DigestUpdate(Context(context_), bytes.data(), bytes.size()) != 1) {
        ThrowOpenSsl("EVP_DigestUpdate");
    }
    return *this;
}

Sha256& Sha256::Update(const Digest& digest) {
    if (EVP_DigestUpdate(Context(context_), digest.data(), digest.size()) != 1) {
        ThrowOpenSsl("EVP_DigestUpdate");
    }
    return *this;
}

Digest Sha256::Finish() {
    Digest digest{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(Context(context_), digest.data(), &size) != 1 || size != digest.size()) {
        ThrowOpenSsl("EVP_DigestFinal_ex");
    }
    // Ready for the next message. A null type reuses the digest already set,
    // which spares OpenSSL 3 a fetch of the algorithm per message.
    if (EVP_DigestInit_ex(Context(context_), nullptr, nullptr) != 1) {
        ThrowOpenSsl("EVP_DigestInit_ex");
    }
    return digest;
}

Digest Sha256Of(std::string_view bytes) {
    Digest digest{};
    unsigned int size = 0;
    // EVP_Digest wants a valid pointer even for zero bytes; an empty string_view may not carry one.
    const char* data = bytes.data() != nullptr ? bytes.data() : "";
    if (EVP_Digest(data, bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != digest.size()) {
        ThrowOpenSsl("EVP_Digest");
    }
    return digest;
}

std::string ToHex(const Digest& digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(digest.size() * 2);
    for (const std::uint8_t byte : digest) {
        hex += kDigits[byte >> 4];
        hex += kDigits[byte & 0x0F];
    }
    return hex;
}

bool FromHex(std::string_view hex, Digest& digest) {
    if (hex.size() != digest.size() * 2) {
        return false;
    }
    // Decode into a copy so a bad digit half-way leaves `digest` as it was.
    Digest decoded{};
    for (std::size_t i = 0; i < decoded.size(); ++i) {
        const int high = HexValue(hex[2 * i]);
        const int low = HexValue(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            return false;
        }
        decoded[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    digest = decoded;
    return true;
}

}  // namespace cascade::store
