// TLS material for tests of tcp:// serving: self-signed certificates for
// CN=localhost (subjectAltName DNS:localhost, IP:127.0.0.1), made by the
// openssl command at test time, and the options of a server and a client
// that trust each other. Tests listen on 127.0.0.1 only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "store/service/remote_object_store.h"
#include "store/service/server.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_file;
  std::string key_file;
};

// A fresh self-signed certificate and key in `dir` (NAME.crt, NAME.key).
inline TestCert MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  TestCert out;
  out.cert_file = dir + "/" + name + ".crt";
  out.key_file = dir + "/" + name + ".key";
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
      "-keyout '" +
      out.key_file + "' -out '" + out.cert_file + "' >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "openssl failed: " << cmd;
  if (rc == 0) {
    out.cert_pem = ReadFile(out.cert_file);
    out.key_pem = ReadFile(out.key_file);
  }
  return out;
}

// The server's certificate (0) and an unrelated one (1), made once per process.
inline const TestCert& SharedTestCert(int which) {
  static TempDir dir;
  static const TestCert certs[2] = {MakeSelfSignedCert(dir.path(), "server"),
                                    MakeSelfSignedCert(dir.path(), "other")};
  return certs[which];
}

constexpr const char* kTestToken = "test-token-0123456789abcdef";
// Any free port on the loopback interface only.
constexpr const char* kLoopbackAnyPort = "tcp://127.0.0.1:0";

inline service::ServerOptions TlsServerOptions() {
  service::ServerOptions options;
  options.tls_cert_pem = SharedTestCert(0).cert_pem;
  options.tls_key_pem = SharedTestCert(0).key_pem;
  options.token = kTestToken;
  return options;
}

inline service::ConnectOptions TlsConnectOptions(const std::string& token = kTestToken,
                                                 int ca = 0) {
  service::ConnectOptions options;
  options.tls_ca_pem = SharedTestCert(ca).cert_pem;
  options.token = token;
  options.timeout = std::chrono::milliseconds(5000);
  return options;
}

}  // namespace coffer::testing
