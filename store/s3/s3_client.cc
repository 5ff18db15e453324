#include "store/s3/s3_client.h"

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include <curl/curl.h>
#include <sodium.h>

namespace coffer::s3 {
namespace {

// No object Coffer reads is larger: a pack, an index of a large repository.
constexpr size_t kMaxBody = size_t{2} << 30;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// AWS's URI encoding: unreserved characters as they are, every other byte
// as %XX; '/' kept in paths.
std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Sha256Hex(ByteView body) {
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, body.data(), body.size());
  return ToHex(ByteView(digest, sizeof digest));
}

bool TransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return true;
    default: return false;
  }
}

bool TransientStatus(long status, const std::optional<ErrorBody>& error) {
  if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429)
    return true;
  return status == 400 && error && error->code == "RequestTimeout";
}

size_t AppendBody(char* data, size_t size, size_t count, void* out_ptr) {
  auto* out = static_cast<Bytes*>(out_ptr);
  const size_t n = size * count;
  if (out->size() + n > kMaxBody) return 0;  // aborts the transfer
  out->insert(out->end(), data, data + n);
  return n;
}

struct Upload {
  ByteView body;
  size_t sent = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* upload_ptr) {
  auto* upload = static_cast<Upload*>(upload_ptr);
  const size_t n = std::min(size * count, upload->body.size() - upload->sent);
  std::copy_n(upload->body.data() + upload->sent, n, buffer);
  upload->sent += n;
  return n;
}

}  // namespace

struct S3Client::Handle {
  CURL* curl = nullptr;
  Handle() : curl(curl_easy_init()) {}
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

struct S3Client::Request {
  std::string method;  // GET, PUT, DELETE, HEAD
  std::string key;     // "" for the bucket
  std::string query;   // already encoded, parameters in name order
  ByteView body;
  std::optional<std::pair<uint64_t, uint64_t>> range;  // offset, length
  std::string what;                                    // for messages: "reading packs/ab/ab12..."
};

S3Client::S3Client(S3Settings settings, std::string bucket, RetryPolicy retry)
    : settings_(std::move(settings)), bucket_(std::move(bucket)), retry_(retry) {
  GlobalInit();
}

S3Client::~S3Client() = default;

std::string S3Client::Describe() const {
  return "s3://" + bucket_ + " at " + settings_.endpoint;
}

std::string S3Client::UrlFor(const std::string& key, const std::string& query) const {
  std::string url;
  if (settings_.path_style) {
    url = settings_.endpoint + "/" + bucket_;
  } else {
    // https://s3.REGION.amazonaws.com -> https://BUCKET.s3.REGION.amazonaws.com
    const size_t host = settings_.endpoint.find("://") + 3;
    url = settings_.endpoint.substr(0, host) + bucket_ + "." + settings_.endpoint.substr(host);
  }
  url += "/" + UriEncode(key, /*keep_slash=*/true);
  if (!query.empty()) url += "?" + query;
  return url;
}

std::unique_ptr<S3Client::Handle> S3Client::TakeHandle() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      std::unique_ptr<Handle> handle = std::move(pool_.back());
      pool_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void S3Client::ReturnHandle(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(std::move(handle));
}

Result<S3Client::Response> S3Client::PerformOnce(Handle& handle, const Request& request,
                                                 bool* transient) {
  *transient = false;
  CURL* curl = handle.curl;
  if (curl == nullptr) return Status::IoError("cannot start an HTTP client");
  curl_easy_reset(curl);
  const std::string url = UrlFor(request.key, request.query);
  const std::string credentials = settings_.access_key_id + ":" + settings_.secret_access_key;
  const std::string signing = "aws:amz:" + settings_.region + ":s3";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, signing.c_str());
  curl_easy_setopt(curl, CURLOPT_USERPWD, credentials.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  // A stalled connection (under 1 KiB/s for 30 s) is dropped and retried.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
  if (!settings_.ca_bundle.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_bundle.c_str());

  // Signature V4 over S3 wants the body's hash in a header, which curl
  // 7.88 signs but does not compute.
  curl_slist* headers = nullptr;
  const std::string content_hash = "x-amz-content-sha256: " + Sha256Hex(request.body);
  headers = curl_slist_append(headers, content_hash.c_str());
  std::string token;
  if (!settings_.session_token.empty()) {
    token = "x-amz-security-token: " + settings_.session_token;
    headers = curl_slist_append(headers, token.c_str());
  }
  std::string range;
  if (request.range) {
    range = "Range: bytes=" + std::to_string(request.range->first) + "-" +
            std::to_string(request.range->first + request.range->second - 1);
    headers = curl_slist_append(headers, range.c_str());
  }
  Upload upload{request.body};
  if (request.method == "PUT") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  Response response;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  char error_text[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    *transient = TransientCurlError(code);
    return Status::IoError(request.what + ": " +
                           (error_text[0] ? error_text : curl_easy_strerror(code)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status >= 300) {
    *transient = TransientStatus(response.status, ParseErrorBody(AsChars(response.body)));
  }
  return response;
}

Result<S3Client::Response> S3Client::Perform(const Request& request) {
  std::mt19937_64 jitter(std::random_device{}());
  std::chrono::milliseconds backoff = retry_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<Handle> handle = TakeHandle();
    bool transient = false;
    Result<Response> response = PerformOnce(*handle, request, &transient);
    ReturnHandle(std::move(handle));
    if (!transient || attempt >= retry_.attempts) {
      if (transient && response.ok()) {
        // Still failing after every try: say what the server said last.
        return ErrorFor(*response, request.what)
            .WithContext("after " + std::to_string(attempt) + " tries");
      }
      if (!response.ok() && attempt > 1) {
        return response.status().WithContext("after " + std::to_string(attempt) + " tries");
      }
      return response;
    }
    ++retries_;
    // Full jitter: many clients retrying together do not arrive together.
    const auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(jitter));
    std::this_thread::sleep_for(wait);
    backoff = std::min(backoff * 2, retry_.max_backoff);
  }
}

bool S3Client::MissingBucket(const Response& response) {
  const std::optional<ErrorBody> error = ParseErrorBody(AsChars(response.body));
  return error && error->code == "NoSuchBucket";
}

Status S3Client::ErrorFor(const Response& response, const std::string& what) const {
  const std::optional<ErrorBody> error = ParseErrorBody(AsChars(response.body));
  std::string said = "HTTP " + std::to_string(response.status);
  if (error) said = error->code + (error->message.empty() ? "" : ": " + error->message);
  if (MissingBucket(response)) {
    return Status::NotFound("there is no bucket " + bucket_ + " at " + settings_.endpoint);
  }
  if (response.status == 403 || response.status == 401) {
    return Status::PermissionDenied(what + ": the object storage refused the credentials (" + said +
                                    "); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or "
                                    "~/.aws/credentials");
  }
  if (response.status == 404) return Status::NotFound(what + ": " + said);
  return Status::IoError(what + ": the object storage answered " + said);
}

Status S3Client::CheckBucket() {
  Request request{"GET", "", "list-type=2&max-keys=1", {}, std::nullopt, "listing " + Describe()};
  COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status != 200) {
    Status error = ErrorFor(response, request.what);
    // A 404 on the bucket itself is always a missing bucket.
    if (error.code() == Code::kNotFound) {
      return Status::NotFound("there is no bucket " + bucket_ + " at " + settings_.endpoint);
    }
    return error;
  }
  return Status::Ok();
}

Status S3Client::Put(const std::string& key, ByteView body) {
  Request request{"PUT", key, "", body, std::nullopt, "writing " + key};
  COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status != 200) return ErrorFor(response, request.what);
  return Status::Ok();
}

Result<std::optional<Bytes>> S3Client::Get(const std::string& key) {
  Request request{"GET", key, "", {}, std::nullopt, "reading " + key};
  COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status == 200) return std::optional<Bytes>(std::move(response.body));
  if (response.status == 404 && !MissingBucket(response)) return std::optional<Bytes>();
  return ErrorFor(response, request.what);
}

Result<Bytes> S3Client::GetRange(const std::string& key, uint64_t offset, uint64_t length) {
  if (length == 0) return Bytes();
  Request request{"GET", key, "", {}, std::make_pair(offset, length), "reading " + key};
  for (int attempt = 1;; ++attempt) {
    COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
    if (response.status == 200 && response.body.size() >= offset + length) {
      // A server that ignores ranges sends it whole.
      return Bytes(response.body.begin() + static_cast<ptrdiff_t>(offset),
                   response.body.begin() + static_cast<ptrdiff_t>(offset + length));
    }
    if (response.status != 200 && response.status != 206) return ErrorFor(response, request.what);
    if (response.status == 206 && response.body.size() == length) return std::move(response.body);
    // A short answer that still said 206: the object is shorter than its
    // index says, or the connection was cut without curl noticing.
    if (attempt >= 2) {
      return Status::Corruption(request.what + ": " + std::to_string(length) + " bytes at " +
                                std::to_string(offset) + " asked, " +
                                std::to_string(response.body.size()) + " answered");
    }
  }
}

Status S3Client::Delete(const std::string& key) {
  Request request{"DELETE", key, "", {}, std::nullopt, "deleting " + key};
  COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status == 204 || response.status == 200) return Status::Ok();
  if (response.status == 404 && !MissingBucket(response)) return Status::Ok();
  return ErrorFor(response, request.what);
}

Result<std::vector<ListedObject>> S3Client::List(const std::string& prefix) {
  std::vector<ListedObject> all;
  std::optional<std::string> token;
  do {
    // Parameters in name order, encoded: the canonical form SigV4 signs.
    std::string query;
    if (token) query += "continuation-token=" + UriEncode(*token, false) + "&";
    query += "list-type=2&prefix=" + UriEncode(prefix, false);
    Request request{"GET", "", query, {}, std::nullopt, "listing " + prefix + " in " + Describe()};
    COFFER_ASSIGN_OR_RETURN(Response response, Perform(request));
    if (response.status != 200) return ErrorFor(response, request.what);
    Result<ListPage> page = ParseListPage(AsChars(response.body));
    if (!page.ok()) return Status::IoError(request.what + ": " + page.status().message());
    for (ListedObject& o : page->objects) all.push_back(std::move(o));
    token = page->next_token;
  } while (token);
  std::sort(all.begin(), all.end(),
            [](const ListedObject& a, const ListedObject& b) { return a.key < b.key; });
  return all;
}

}  // namespace coffer::s3
