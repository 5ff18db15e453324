#include "tests/testing/sigv4_check.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace coffer::testing {
namespace {

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// AWS's encoding: unreserved characters as they are, every other byte %XX.
std::string Encode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

// Parameters decoded, then encoded AWS's way and sorted by name, then value.
std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    params.emplace_back(
        Encode(Decode(param.substr(0, eq)), false),
        eq == std::string_view::npos ? "" : Encode(Decode(param.substr(eq + 1)), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

// The value of "NAME=" in a comma-separated list of the Authorization field.
std::string Part(std::string_view authorization, std::string_view name) {
  const size_t at = authorization.find(std::string(name) + "=");
  if (at == std::string_view::npos) return "";
  std::string_view rest = authorization.substr(at + name.size() + 1);
  return std::string(rest.substr(0, rest.find(',')));
}

}  // namespace

std::string CheckSigV4(const SignedRequest& request, std::string_view secret_key) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) headers[Lower(name)] = value;
  auto header = [&](const std::string& name) -> std::string {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  };
  const std::string authorization = header("authorization");
  const std::string kAlgorithm = "AWS4-HMAC-SHA256 ";
  if (authorization.rfind(kAlgorithm, 0) != 0) return "no AWS4-HMAC-SHA256 Authorization field";
  const std::string credential = Part(authorization, "Credential");
  const std::string signed_list = Part(authorization, "SignedHeaders");
  const std::string signature = Part(authorization, "Signature");
  // KEYID/DATE/REGION/s3/aws4_request
  std::vector<std::string> scope_parts;
  for (size_t at = 0; at <= credential.size();) {
    const size_t slash = std::min(credential.find('/', at), credential.size());
    scope_parts.push_back(credential.substr(at, slash - at));
    at = slash + 1;
  }
  if (scope_parts.size() != 5 || scope_parts[3] != "s3" || scope_parts[4] != "aws4_request") {
    return "a credential scope that is not KEYID/DATE/REGION/s3/aws4_request: " + credential;
  }
  const std::string date = header("x-amz-date");
  if (date.size() != 16 || date.substr(0, 8) != scope_parts[1])
    return "x-amz-date does not match the scope";
  const std::string payload_hash = header("x-amz-content-sha256");
  if (payload_hash.empty()) return "no x-amz-content-sha256";
  if (payload_hash != "UNSIGNED-PAYLOAD" && payload_hash != Sha256Hex(request.body)) {
    return "x-amz-content-sha256 is not the body's hash";
  }

  std::vector<std::string> signed_names;
  for (size_t at = 0; at <= signed_list.size();) {
    const size_t semi = std::min(signed_list.find(';', at), signed_list.size());
    signed_names.push_back(signed_list.substr(at, semi - at));
    at = semi + 1;
  }
  for (const char* required : {"host", "x-amz-date", "x-amz-content-sha256"}) {
    if (std::find(signed_names.begin(), signed_names.end(), required) == signed_names.end()) {
      return std::string(required) + " is not signed";
    }
  }
  for (const auto& [name, value] : headers) {
    if (name.rfind("x-amz-", 0) == 0 &&
        std::find(signed_names.begin(), signed_names.end(), name) == signed_names.end()) {
      return name + " is sent but not signed";
    }
  }
  std::string canonical_headers;
  for (const std::string& name : signed_names) {
    if (!headers.count(name)) return "signed header " + name + " is not sent";
    canonical_headers += name + ":" + headers[name] + "\n";
  }

  const size_t question = request.target.find('?');
  const std::string path = request.target.substr(0, question);
  const std::string query =
      question == std::string::npos ? "" : request.target.substr(question + 1);
  // S3 signs the path encoded once: decoded as sent, then encoded AWS's way.
  const std::string canonical = request.method + "\n" + Encode(Decode(path), true) + "\n" +
                                CanonicalQuery(query) + "\n" + canonical_headers + "\n" +
                                signed_list + "\n" + payload_hash;
  const std::string scope = scope_parts[1] + "/" + scope_parts[2] + "/s3/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + Sha256Hex(canonical);
  const std::string key =
      Hmac(Hmac(Hmac(Hmac("AWS4" + std::string(secret_key), scope_parts[1]), scope_parts[2]), "s3"),
           "aws4_request");
  const std::string expected = Hmac(key, to_sign);
  if (Hex(reinterpret_cast<const unsigned char*>(expected.data()), expected.size()) != signature) {
    return "the signature does not match; canonical request was:\n" + canonical;
  }
  return "";
}

}  // namespace coffer::testing
