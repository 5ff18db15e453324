#include "store/s3/s3_responses.h"

#include <gtest/gtest.h>

#include <string>

namespace coffer::s3 {
namespace {

constexpr std::string_view kHeader = R"(<?xml version="1.0" encoding="UTF-8"?>)";
constexpr std::string_view kOpen =
    R"(<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/">)";

// One <Contents> as AWS and s3rver write it.
std::string Contents(std::string_view key, std::string_view size) {
  return "<Contents><Key>" + std::string(key) +
         "</Key><LastModified>2026-12-06T23:47:33.000Z</LastModified>"
         "<ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>" +
         std::string(size) + "</Size><StorageClass>STANDARD</StorageClass></Contents>";
}

// A page holding `body` between the listing's own elements.
std::string Page(std::string_view body, std::string_view truncated = "false") {
  return std::string(kHeader) + std::string(kOpen) +
         "<Name>bkt</Name><Prefix>a/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
         "<IsTruncated>" +
         std::string(truncated) + "</IsTruncated>" + std::string(body) + "</ListBucketResult>";
}

void ExpectCorruption(const Result<ListPage>& page) {
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), Code::kCorruption) << page.status().ToString();
}

TEST(S3ResponsesTest, AListingPageAsS3WritesItIsRead) {
  const std::string xml =
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/">)"
      "<Name>bkt</Name><Prefix>a/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
      "<IsTruncated>false</IsTruncated><Contents><Key>a/h.txt</Key>"
      "<LastModified>2026-12-06T23:47:33.000Z</LastModified>"
      "<ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size>"
      "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>";
  Result<ListPage> page = ParseListPage(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a/h.txt");
  EXPECT_EQ(page->objects[0].size, 6u);
  EXPECT_FALSE(page->next_token.has_value());
}

TEST(S3ResponsesTest, ObjectsAreListedInOrderWithTheirSizes) {
  const std::string xml =
      Page(Contents("a/1", "0") + Contents("a/2", "18446744073709551615") +
           // An owner, as ListObjectsV2 with fetch-owner answers: ignored.
           "<Contents><Key>a/3</Key><Owner><ID>75aa57f0</ID><DisplayName>me</DisplayName>"
           "</Owner><Size>12</Size></Contents>"
           // Folders of a delimited listing are not objects.
           "<CommonPrefixes><Prefix>a/sub/</Prefix></CommonPrefixes>");
  Result<ListPage> page = ParseListPage(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 3u);
  EXPECT_EQ(page->objects[0].key, "a/1");
  EXPECT_EQ(page->objects[0].size, 0u);
  EXPECT_EQ(page->objects[1].key, "a/2");
  EXPECT_EQ(page->objects[1].size, 18446744073709551615u);
  EXPECT_EQ(page->objects[2].key, "a/3");
  EXPECT_EQ(page->objects[2].size, 12u);
}

TEST(S3ResponsesTest, KeysAreUnescaped) {
  Result<ListPage> page =
      ParseListPage(Page(Contents("a/x&amp;y&lt;z&gt;&quot;&apos;&#233;&#x20AC;.txt", "1") +
                         Contents("<![CDATA[a/<raw>&]]>", "2")));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a/x&y<z>\"'\xc3\xa9\xe2\x82\xac.txt");
  EXPECT_EQ(page->objects[1].key, "a/<raw>&");
}

TEST(S3ResponsesTest, ElementsWithANamespacePrefixAreRead) {
  const std::string xml =
      R"(<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">)"
      "<s3:IsTruncated>false</s3:IsTruncated><s3:Contents><s3:Key>k</s3:Key>"
      "<s3:Size>3</s3:Size></s3:Contents></s3:ListBucketResult>";
  Result<ListPage> page = ParseListPage(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "k");
  EXPECT_EQ(page->objects[0].size, 3u);
}

TEST(S3ResponsesTest, AnEmptyListingHasNoObjects) {
  for (const std::string& xml :
       {std::string(kHeader) + std::string(kOpen) +
            "<Name>bkt</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount>"
            "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>",
        std::string("<ListBucketResult/>")}) {
    Result<ListPage> page = ParseListPage(xml);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_TRUE(page->objects.empty());
    EXPECT_FALSE(page->next_token.has_value());
  }
}

TEST(S3ResponsesTest, ATruncatedPageSaysWhereTheListingGoesOn) {
  const std::string token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=";
  Result<ListPage> page = ParseListPage(
      Page(Contents("a/1", "5") + "<NextContinuationToken>" + token + "</NextContinuationToken>",
           "true"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  ASSERT_TRUE(page->next_token.has_value());
  EXPECT_EQ(*page->next_token, token);

  // A token on the last page means nothing.
  page = ParseListPage(
      Page(Contents("a/1", "5") + "<NextContinuationToken>" + token + "</NextContinuationToken>"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_FALSE(page->next_token.has_value());
}

TEST(S3ResponsesTest, ATruncatedPageWithoutATokenIsDamaged) {
  ExpectCorruption(ParseListPage(Page(Contents("a/1", "5"), "true")));
  ExpectCorruption(ParseListPage(
      Page(Contents("a/1", "5") + "<NextContinuationToken></NextContinuationToken>", "true")));
}

TEST(S3ResponsesTest, AnObjectWithABadSizeIsDamaged) {
  for (std::string_view size :
       {"", "-1", "six", "6 ", " 6", "+6", "1.5", "0x10", "18446744073709551616"}) {
    SCOPED_TRACE(size);
    ExpectCorruption(ParseListPage(Page(Contents("a/1", "5") + Contents("a/2", size))));
  }
}

constexpr const char* kNoSuchBucket =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
    "<BucketName>bkt</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>";

TEST(S3ResponsesTest, AnythingButAListingIsRefused) {
  for (std::string_view xml : {
           "",
           "hello",
           "<ListBucketResult>",  // never closed
           "<ListBucketResult></ListBucketResult><extra/>",
           "<html><body><h1>502 Bad Gateway</h1><hr></body></html>",
           "<html><body><h1>502 Bad Gateway</h1></body></html>",
           kNoSuchBucket,
           "<Wrapper><ListBucketResult></ListBucketResult></Wrapper>",
       }) {
    SCOPED_TRACE(xml);
    ExpectCorruption(ParseListPage(xml));
  }
}

TEST(S3ResponsesTest, EntityDeclarationsAreRefusedBeforeTheyExpand) {
  // "Billion laughs": ten levels of ten references, 10^9 "lol"s. Expanded,
  // they would take gigabytes and minutes: the test would not end in time.
  std::string bomb = R"(<?xml version="1.0"?><!DOCTYPE ListBucketResult [<!ENTITY lol0 "lol">)";
  for (int level = 1; level < 10; ++level) {
    bomb += "<!ENTITY lol" + std::to_string(level) + " \"";
    for (int i = 0; i < 10; ++i) bomb += "&lol" + std::to_string(level - 1) + ";";
    bomb += "\">";
  }
  bomb += "]>" + std::string(kOpen) + "<IsTruncated>false</IsTruncated>" + Contents("&lol9;", "1") +
          "</ListBucketResult>";
  ExpectCorruption(ParseListPage(bomb));
  EXPECT_FALSE(ParseErrorBody("<!DOCTYPE Error [<!ENTITY c \"&#x26;c;\">]>"
                              "<Error><Code>&c;</Code></Error>")
                   .has_value());

  // Even one harmless entity: a server has no business declaring any.
  ExpectCorruption(ParseListPage(R"(<!DOCTYPE ListBucketResult [<!ENTITY k "a/evil">]>)" +
                                 std::string(kOpen) + "<IsTruncated>false</IsTruncated>" +
                                 Contents("&k;", "1") + "</ListBucketResult>"));
}

TEST(S3ResponsesTest, ALongPageIsReadWhole) {
  // Over the 1 MiB the parser is fed at a time.
  std::string body;
  constexpr int kObjects = 12000;
  for (int i = 0; i < kObjects; ++i) body += Contents("a/object-" + std::to_string(i), "7");
  const std::string xml = Page(body);
  ASSERT_GT(xml.size(), size_t{2} << 20);
  Result<ListPage> page = ParseListPage(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), size_t{kObjects});
  EXPECT_EQ(page->objects.front().key, "a/object-0");
  EXPECT_EQ(page->objects.back().key, "a/object-" + std::to_string(kObjects - 1));
  // Cut short, it is no listing.
  ExpectCorruption(ParseListPage(std::string_view(xml).substr(0, (size_t{1} << 20) + 17)));
}

TEST(S3ResponsesTest, AnErrorBodyNamesTheError) {
  std::optional<ErrorBody> error = ParseErrorBody(kNoSuchBucket);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "NoSuchBucket");
  EXPECT_EQ(error->message, "The specified bucket does not exist");

  error = ParseErrorBody(
      "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
      "<RequestId>1</RequestId></Error>");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "SlowDown");
  EXPECT_EQ(error->message, "Please reduce your request rate.");

  // A code without a message is still an error.
  error = ParseErrorBody("<Error><Code>InternalError</Code></Error>");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "InternalError");
  EXPECT_EQ(error->message, "");
}

TEST(S3ResponsesTest, ABodyThatIsNoErrorDocumentHasNoError) {
  for (std::string_view body : {
           "",
           "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
           "<html><body><hr></body></html>",
           "<Error><Message>no code</Message></Error>",
           "<Error><Details><Code>Nested</Code></Details></Error>",
           "<Error><Code>Cut",
           R"(<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>)",
           "Service Unavailable",
       }) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(ParseErrorBody(body).has_value());
  }
}

}  // namespace
}  // namespace coffer::s3
