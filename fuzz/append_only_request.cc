// The token roles of the object server (store/service/auth.h): every request
// of the object service, sent over TLS on tcp://127.0.0.1 with an append-only
// token, to a real ObjectServer that also knows a full token, serving a real
// LocalObjectStore (RocksDB) in a temporary folder. Before the first input
// the store holds a repository as `coffer init` and backups leave it
// (fuzz_util.h, TheAppendOnlyFixture()): its meta records, chunks and trees,
// and snapshots in two groups, one protected and one with a note. Inputs
// add to it what an append-only client may.
//
// Input: [method][request], as for server_request (fuzz/server_calls.h): the
// first byte's low 7 bits modulo the number of calls pick the call, the rest
// is its request message; unless bit 7 is set, the protocol version is set
// to the server's.
//
// Properties, read from the store itself after every call:
// - every snapshot of the fixture is still there, with the same sealed
//   record, protected flag and note; every meta record and object of the
//   fixture is byte for byte what it was;
// - no garbage collection is running (the store's own BeginGc is not busy);
// - a snapshot or meta record a call that needs the full token names is as
//   it was before the call (so snapshots the fuzzer added are kept too);
// - such a call (PutMeta, RemoveKeySlot, DeleteSnapshot, SetSnapshotProtected,
//   SetSnapshotNote and the gc calls) is refused with PERMISSION_DENIED, and
//   no call is refused the token (UNAUTHENTICATED);
// - the server answers every call.
// Adding snapshots and objects is allowed: that is what the token is for.
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "fuzz/server_calls.h"
#include "store/objects/local_object_store.h"
#include "store/service/auth.h"
#include "store/service/server.h"
#include "store/service/service.grpc.pb.h"

using namespace coffer;
using namespace coffer::service;
using fuzz::ServiceCall;

namespace {

constexpr std::string_view kFullToken = "fuzz-full-token-5f2c9a7e41d8b306";
constexpr std::string_view kAppendOnlyToken = "fuzz-append-only-token-c83e06b2d7f4a915";

struct Env {
  std::string dir;
  std::unique_ptr<LocalObjectStore> store;
  std::unique_ptr<ObjectServer> server;
  std::thread serving;
  std::unique_ptr<ObjectService::Stub> stub;  // carries the append-only token
  // The fixture as the store answers for it once set up.
  std::vector<std::pair<std::string, Bytes>> meta;
  std::vector<std::tuple<ObjectKind, ObjectId, Bytes>> objects;
  std::vector<StoredSnapshot> snapshots;
};

// `bytes` for a message: groups and meta keys may hold any byte.
std::string Printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

std::string Describe(const SnapshotRef& ref) {
  return Printable(ref.group) + " at " + std::to_string(ref.time_ns) + " (" + ref.id.short_hex() +
         ")";
}

// The snapshot stored at `ref` (group, time and id), if any.
std::optional<StoredSnapshot> FindSnapshot(LocalObjectStore& store, const SnapshotRef& ref) {
  // An empty group would list every group; no snapshot has one.
  if (ref.group.empty()) return std::nullopt;
  Result<std::vector<StoredSnapshot>> listed = store.ListSnapshots(ref.group);
  if (!listed.ok()) return std::nullopt;  // a group the store refuses holds nothing
  for (StoredSnapshot& s : *listed) {
    if (s.ref == ref) return std::move(s);
  }
  return std::nullopt;
}

bool SameSnapshot(const std::optional<StoredSnapshot>& a, const std::optional<StoredSnapshot>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->sealed == b->sealed && a->is_protected == b->is_protected &&
                a->sealed_note == b->sealed_note);
}

// A PEM certificate and key for CN=localhost and 127.0.0.1, made by the same
// openssl command as the tests' (tests/store/service/tls_fixtures.h).
std::pair<std::string, std::string> MakeSelfSignedCert(const std::string& dir) {
  const std::string cert_file = dir + "/server.crt";
  const std::string key_file = dir + "/server.key";
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
      "-keyout '" +
      key_file + "' -out '" + cert_file + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) fuzz::Fail("openssl failed: " + cmd);
  Result<std::string> cert = ReadCredentialFile(cert_file, "certificate");
  Result<std::string> key = ReadCredentialFile(key_file, "key");
  if (!cert.ok() || !key.ok()) fuzz::Fail("cannot read the certificate or its key");
  return {*cert, *key};
}

void Check(const Status& status, std::string_view what) {
  if (!status.ok()) fuzz::Fail(std::string(what) + ": " + status.message());
}

// Stores the fixture directly, as earlier backups and `coffer init` would
// have, then reads back what the property compares with.
void StoreFixture(Env& env) {
  const fuzz::AppendOnlyFixture& fixture = fuzz::TheAppendOnlyFixture();
  const crypto::Sealer& sealer = fuzz::FixedSealer();
  LocalObjectStore& store = *env.store;
  for (const auto& [key, value] : fixture.meta) Check(store.PutMeta(key, value), "PutMeta " + key);
  for (const fuzz::FixtureObject& object : fixture.objects) {
    Result<Bytes> sealed = sealer.Seal(object.kind, object.id, object.plaintext);
    Check(sealed.status(), "sealing an object");
    Check(store.Put(object.kind, object.id, *sealed), "Put");
  }
  for (const fuzz::FixtureSnapshot& s : fixture.snapshots) {
    Result<Bytes> record = sealer.Seal(ObjectKind::kSnapshot, s.ref.id, s.record);
    Check(record.status(), "sealing a snapshot record");
    Check(store.CommitSnapshot(s.ref, *record, kNoWriter, std::nullopt), "CommitSnapshot");
    if (s.is_protected) Check(store.SetSnapshotProtected(s.ref, true), "SetSnapshotProtected");
    if (!s.note.empty()) {
      Result<Bytes> note = sealer.Seal(ObjectKind::kSnapshotNote, s.ref.id, s.note);
      Check(note.status(), "sealing a note");
      Check(store.SetSnapshotNote(s.ref, *note), "SetSnapshotNote");
    }
  }

  for (const auto& [key, value] : fixture.meta) {
    Result<std::optional<Bytes>> stored = store.GetMeta(key);
    if (!stored.ok() || !*stored || **stored != value) fuzz::Fail("meta " + key + " did not store");
    env.meta.emplace_back(key, **stored);
  }
  for (const fuzz::FixtureObject& object : fixture.objects) {
    Result<Bytes> stored = store.Get(object.kind, object.id);
    Check(stored.status(), "Get");
    env.objects.emplace_back(object.kind, object.id, *stored);
  }
  for (const fuzz::FixtureSnapshot& s : fixture.snapshots) {
    std::optional<StoredSnapshot> stored = FindSnapshot(store, s.ref);
    if (!stored || stored->is_protected != s.is_protected ||
        stored->sealed_note.empty() != s.note.empty()) {
      fuzz::Fail("snapshot " + Describe(s.ref) + " did not store as set up");
    }
    env.snapshots.push_back(*stored);
  }
}

// Made once and never destroyed: the server serves until the process exits.
Env* MakeEnv() {
  auto* env = new Env;
  // In memory where there is a tmpfs: commits and collections sync the database.
  std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm/coffer-fuzz-roles-XXXXXX"
                                                  : "/tmp/coffer-fuzz-roles-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) fuzz::Fail("mkdtemp");
  env->dir = dir;
  auto store = LocalObjectStore::Create(env->dir + "/db");
  if (!store.ok()) fuzz::Fail("cannot create the store: " + store.status().message());
  env->store = std::move(store).value();
  StoreFixture(*env);

  const auto [cert_pem, key_pem] = MakeSelfSignedCert(env->dir);
  ServerOptions options;
  options.repository_format = 1;
  options.tls_cert_pem = cert_pem;
  options.tls_key_pem = key_pem;
  options.token = kFullToken;
  options.append_only_tokens = {std::string(kAppendOnlyToken)};
  auto server = ObjectServer::Start(*env->store, "tcp://127.0.0.1:0", options);
  if (!server.ok()) fuzz::Fail("cannot start the server: " + server.status().message());
  env->server = std::move(server).value();
  env->serving = std::thread([env] { (void)env->server->Serve(std::chrono::milliseconds(0)); });

  // As RemoteObjectStore::Connect builds its channel: TLS trusting the
  // server's certificate, the token as "authorization: Bearer" on every call.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = cert_pem;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::CompositeChannelCredentials(
      grpc::SslCredentials(ssl), grpc::AccessTokenCredentials(std::string(kAppendOnlyToken)));
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  // The certificate names 127.0.0.1: no name override needed.
  const std::string target = "127.0.0.1:" + std::to_string(env->server->address().port);
  env->stub = ObjectService::NewStub(grpc::CreateCustomChannel(target, creds, args));

  // Inputs prove nothing unless calls get through TLS and the token check.
  HelloRequest hello;
  hello.set_protocol_version(kProtocolVersion);
  HelloResponse reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status said = env->stub->Hello(&ctx, hello, &reply);
  if (!said.ok()) fuzz::Fail("Hello with the append-only token failed: " + said.error_message());

  std::fprintf(stderr, "append_only_request: serving a store in %s on %s\n", env->dir.c_str(),
               target.c_str());
  // The folder goes when libFuzzer exits; the server's files are unlinked
  // under it, which the process still serving them does not notice.
  static std::string* folder = &env->dir;
  std::atexit([] { std::filesystem::remove_all(*folder); });
  return env;
}

// What auth.h and DESIGN.md ("Tokens and roles") say an append-only token
// may not do, written out here rather than taken from server.cc.
bool NeedsFullToken(ServiceCall call) {
  switch (call) {
    case ServiceCall::kPutMeta:
    case ServiceCall::kDeleteSnapshot:
    case ServiceCall::kSetSnapshotProtected:
    case ServiceCall::kSetSnapshotNote:
    case ServiceCall::kBeginGc:
    case ServiceCall::kAddGcMarks:
    case ServiceCall::kFinishGc:
    case ServiceCall::kAbortGc:
    case ServiceCall::kRemoveKeySlot: return true;
    default: return false;
  }
}

// What a call that needs the full token names: a meta record or a snapshot.
struct Target {
  std::optional<std::string> meta_key;
  std::optional<SnapshotRef> snapshot;
};

template <typename Req>
std::optional<Req> Parse(ByteView bytes) {
  Req req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return req;
}

std::optional<SnapshotRef> RefOf(const SnapshotRefMsg& msg) {
  std::optional<ObjectId> id = ObjectId::FromBytes(AsBytes(msg.id()));
  if (!id) return std::nullopt;  // the server refuses it before the store
  return SnapshotRef{msg.group(), msg.time_ns(), *id};
}

Target TargetOf(ServiceCall call, ByteView request) {
  Target target;
  switch (call) {
    case ServiceCall::kPutMeta:
      if (auto req = Parse<PutMetaRequest>(request)) target.meta_key = req->key();
      break;
    case ServiceCall::kRemoveKeySlot:
      if (auto req = Parse<RemoveKeySlotRequest>(request)) target.meta_key = req->name();
      break;
    case ServiceCall::kDeleteSnapshot:
      if (auto req = Parse<DeleteSnapshotRequest>(request)) target.snapshot = RefOf(req->ref());
      break;
    case ServiceCall::kSetSnapshotProtected:
      if (auto req = Parse<SetSnapshotProtectedRequest>(request)) {
        target.snapshot = RefOf(req->ref());
      }
      break;
    case ServiceCall::kSetSnapshotNote:
      if (auto req = Parse<SetSnapshotNoteRequest>(request)) target.snapshot = RefOf(req->ref());
      break;
    default: break;
  }
  return target;
}

// The target's state: the meta value (or its absence) or the snapshot.
struct TargetState {
  std::optional<Bytes> meta;
  std::optional<StoredSnapshot> snapshot;
};

TargetState Observe(LocalObjectStore& store, const Target& target) {
  TargetState state;
  if (target.meta_key) {
    Result<std::optional<Bytes>> value = store.GetMeta(*target.meta_key);
    if (value.ok()) state.meta = std::move(value).value();
  }
  if (target.snapshot) state.snapshot = FindSnapshot(store, *target.snapshot);
  return state;
}

void CheckFixtureIntact(Env& env, ServiceCall call) {
  LocalObjectStore& store = *env.store;
  const std::string after = " after an append-only " + std::string(fuzz::CallName(call));
  for (const auto& [key, value] : env.meta) {
    Result<std::optional<Bytes>> now = store.GetMeta(key);
    if (!now.ok() || !*now || **now != value) fuzz::Fail("meta record " + key + " changed" + after);
  }
  for (const auto& [kind, id, sealed] : env.objects) {
    Result<Bytes> now = store.Get(kind, id);
    const std::string object = std::string(KindName(kind)) + " " + id.short_hex();
    if (!now.ok()) fuzz::Fail(object + " is gone" + after);
    if (*now != sealed) fuzz::Fail(object + " was replaced" + after);
  }
  // One listing per group of the fixture.
  std::set<std::string> groups;
  for (const StoredSnapshot& s : env.snapshots) groups.insert(s.ref.group);
  for (const std::string& group : groups) {
    Result<std::vector<StoredSnapshot>> listed = store.ListSnapshots(group);
    if (!listed.ok()) fuzz::Fail("cannot list " + group + after + ": " + listed.status().message());
    for (const StoredSnapshot& was : env.snapshots) {
      if (was.ref.group != group) continue;
      auto now = std::find_if(listed->begin(), listed->end(),
                              [&](const StoredSnapshot& s) { return s.ref == was.ref; });
      const std::string snapshot = "snapshot " + Describe(was.ref);
      if (now == listed->end()) fuzz::Fail(snapshot + " is gone" + after);
      if (now->sealed != was.sealed) fuzz::Fail(snapshot + " has another record" + after);
      if (now->is_protected != was.is_protected) {
        fuzz::Fail(snapshot + " is " + (now->is_protected ? "protected" : "no longer protected") +
                   after);
      }
      if (now->sealed_note != was.sealed_note) fuzz::Fail(snapshot + " has another note" + after);
    }
  }
  // Only a client can have started a collection: this target never keeps one.
  Result<GcStart> gc = store.BeginGc();
  if (!gc.ok()) {
    fuzz::Fail("a garbage collection is running" + after +
               " (the store's BeginGc: " + gc.status().message() + ")");
  }
  Check(store.AbortGc(gc->gc_id), "AbortGc");
}

}  // namespace

// gRPC's TLS stack keeps a few allocations made in libgpr for the life of the
// process (scripts/lsan.supp, which the sanitizer suite uses): not Coffer's,
// and they do not grow with inputs. Here so that a replay by hand needs no
// LSAN_OPTIONS.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgpr.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = MakeEnv();
  if (size < 1) return 0;
  const ServiceCall call = fuzz::PickCall(data[0]);
  const bool keep_version = (data[0] & 0x80) != 0;
  const ByteView request(data + 1, size - 1);
  const std::string name(fuzz::CallName(call));

  const Target target = TargetOf(call, request);
  const TargetState before = Observe(*env->store, target);
  std::optional<grpc::Status> status = fuzz::SendCall(*env->stub, call, request, keep_version);
  if (!status) return 0;  // not a request of that call: nothing was sent

  if (status->error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    fuzz::Fail("the server refused the append-only token for " + name + ": " +
               status->error_message());
  }
  if (NeedsFullToken(call) && status->error_code() != grpc::StatusCode::PERMISSION_DENIED) {
    fuzz::Fail("the server let an append-only token call " + name + " (gRPC code " +
               std::to_string(status->error_code()) + ": " + status->error_message() + ")");
  }
  const TargetState now = Observe(*env->store, target);
  if (before.meta != now.meta) {
    fuzz::Fail("an append-only " + name + " changed meta record " + Printable(*target.meta_key));
  }
  if (!SameSnapshot(before.snapshot, now.snapshot)) {
    fuzz::Fail("an append-only " + name + " changed snapshot " + Describe(*target.snapshot));
  }
  CheckFixtureIntact(*env, call);
  return 0;
}
