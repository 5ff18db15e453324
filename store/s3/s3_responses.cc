#include "store/s3/s3_responses.h"

#include <charconv>
#include <functional>

#include <expat.h>

namespace coffer::s3 {
namespace {

// Collects the text of elements by their path from the root, such as
// "ListBucketResult/Contents/Key", and calls `on_close` at each end tag.
class XmlWalker {
 public:
  using CloseFn = std::function<void(const std::string& path, const std::string& text)>;

  explicit XmlWalker(CloseFn on_close) : on_close_(std::move(on_close)) {}

  // False if the document is not well-formed XML.
  bool Parse(std::string_view xml) {
    XML_Parser parser = XML_ParserCreate(nullptr);
    if (parser == nullptr) return false;
    parser_ = parser;
    XML_SetUserData(parser, this);
    XML_SetElementHandler(parser, &XmlWalker::Start, &XmlWalker::End);
    XML_SetCharacterDataHandler(parser, &XmlWalker::Text);
    // Entity declarations are refused outright: a hostile server's entity
    // expansion must not cost memory ("billion laughs").
    XML_SetEntityDeclHandler(parser, &XmlWalker::RefuseEntity);
    bool ok = true;
    constexpr size_t kStep = 1 << 20;
    for (size_t at = 0; ok && at <= xml.size(); at += kStep) {
      const size_t n = std::min(kStep, xml.size() - at);
      const bool last = at + n == xml.size();
      ok = XML_Parse(parser, xml.data() + at, static_cast<int>(n), last) == XML_STATUS_OK;
      if (last) break;
    }
    XML_ParserFree(parser);
    return ok && depth_ == 0;
  }

 private:
  static void Start(void* self_ptr, const XML_Char* name, const XML_Char**) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    self->lengths_.push_back(self->path_.size());
    if (!self->path_.empty()) self->path_ += '/';
    self->path_ += LocalName(name);
    self->text_.clear();
    ++self->depth_;
  }
  static void End(void* self_ptr, const XML_Char*) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    self->on_close_(self->path_, self->text_);
    self->text_.clear();
    self->path_.resize(self->lengths_.back());
    self->lengths_.pop_back();
    --self->depth_;
  }
  static void Text(void* self_ptr, const XML_Char* text, int length) {
    auto* self = static_cast<XmlWalker*>(self_ptr);
    // An element's text is bounded: no S3 value Coffer reads is long.
    if (self->text_.size() < 4096) self->text_.append(text, static_cast<size_t>(length));
  }
  static void RefuseEntity(void* self_ptr, const XML_Char*, int, const XML_Char*, int,
                           const XML_Char*, const XML_Char*, const XML_Char*, const XML_Char*) {
    XML_StopParser(static_cast<XmlWalker*>(self_ptr)->parser_, XML_FALSE);
  }
  // Without a namespace prefix ("s3:Key" is "Key").
  static std::string_view LocalName(std::string_view name) {
    const size_t colon = name.rfind(':');
    return colon == std::string_view::npos ? name : name.substr(colon + 1);
  }

  CloseFn on_close_;
  XML_Parser parser_ = nullptr;
  std::string path_;
  std::vector<size_t> lengths_;
  std::string text_;
  int depth_ = 0;
};

}  // namespace

Result<ListPage> ParseListPage(std::string_view xml) {
  ListPage page;
  ListedObject current;
  bool truncated = false;
  bool is_list = false;
  bool bad_size = false;
  XmlWalker walker([&](const std::string& path, const std::string& text) {
    if (path == "ListBucketResult") {
      is_list = true;
    } else if (path == "ListBucketResult/Contents/Key") {
      current.key = text;
    } else if (path == "ListBucketResult/Contents/Size") {
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), current.size);
      if (error != std::errc() || end != text.data() + text.size()) bad_size = true;
    } else if (path == "ListBucketResult/Contents") {
      page.objects.push_back(std::move(current));
      current = ListedObject();
    } else if (path == "ListBucketResult/IsTruncated") {
      truncated = text == "true";
    } else if (path == "ListBucketResult/NextContinuationToken") {
      page.next_token = text;
    }
  });
  if (!walker.Parse(xml) || !is_list) {
    return Status::Corruption("the object storage answered a listing with something else");
  }
  if (bad_size) return Status::Corruption("the object storage listed an object with a bad size");
  if (!truncated) {
    page.next_token.reset();
  } else if (!page.next_token || page.next_token->empty()) {
    return Status::Corruption(
        "the object storage cut a listing short without saying where it goes on");
  }
  return page;
}

std::optional<ErrorBody> ParseErrorBody(std::string_view xml) {
  ErrorBody body;
  bool found = false;
  XmlWalker walker([&](const std::string& path, const std::string& text) {
    if (path == "Error/Code") {
      body.code = text;
      found = true;
    } else if (path == "Error/Message") {
      body.message = text;
    }
  });
  if (!walker.Parse(xml) || !found) return std::nullopt;
  return body;
}

}  // namespace coffer::s3
