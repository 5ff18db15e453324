#include "store/service/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "store/objects/folder_copy.h"
#include "store/objects/needs_list.h"
#include "store/service/auth.h"
#include "store/service/grpc_status.h"
#include "store/service/limits.h"
#include "store/service/service.grpc.pb.h"

namespace coffer::service {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Status CheckVersion(uint32_t version) {
  if (version == kProtocolVersion) return Status::Ok();
  return Status::Unsupported("this coffer server speaks object protocol " +
                             std::to_string(kProtocolVersion) + ", the client speaks " +
                             std::to_string(version) +
                             ": run the same coffer version on both sides");
}

Status CheckNeedsList(const ObjectId& id, ByteView bytes) {
  if (NeedsListId(bytes) != id) return Status::InvalidArgument("it does not match its id");
  return DecodeNeedsList(bytes).status();
}

Result<ObjectKind> ParseKind(uint32_t kind) {
  switch (kind) {
    case static_cast<uint32_t>(ObjectKind::kChunk): return ObjectKind::kChunk;
    case static_cast<uint32_t>(ObjectKind::kTree): return ObjectKind::kTree;
    case static_cast<uint32_t>(ObjectKind::kSnapshot): return ObjectKind::kSnapshot;
    case static_cast<uint32_t>(ObjectKind::kNeeds): return ObjectKind::kNeeds;
  }
  return Status::InvalidArgument("unknown object kind " + std::to_string(kind));
}

Result<ObjectId> ParseId(const std::string& bytes) {
  auto id = ObjectId::FromBytes(AsBytes(bytes));
  if (!id) {
    return Status::InvalidArgument("object id of " + std::to_string(bytes.size()) +
                                   " bytes; ids are " + std::to_string(ObjectId::kSize));
  }
  return *id;
}

// `raw` as concatenated 32-byte ids, at most `max` of them; `call` names
// the call in errors.
Result<std::vector<ObjectId>> ParseIds(const std::string& raw, size_t max, std::string_view call) {
  if (raw.size() % ObjectId::kSize != 0) {
    return Status::InvalidArgument(std::string(call) +
                                   ": ids are not a whole number of 32-byte ids");
  }
  size_t n = raw.size() / ObjectId::kSize;
  if (n > max) {
    return Status::InvalidArgument(std::string(call) + ": " + std::to_string(n) + " ids; at most " +
                                   std::to_string(max) + " per call");
  }
  std::vector<ObjectId> ids(n);
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(ids[i].bytes.data(), raw.data() + i * ObjectId::kSize, ObjectId::kSize);
  }
  return ids;
}

Result<SnapshotRef> ParseRef(const SnapshotRefMsg& in) {
  if (in.group().size() > kMaxGroupBytes) return Status::InvalidArgument("snapshot group too long");
  COFFER_ASSIGN_OR_RETURN(ObjectId id, ParseId(in.id()));
  return coffer::SnapshotRef{in.group(), in.time_ns(), id};
}

void SetRef(const coffer::SnapshotRef& ref, SnapshotRefMsg* out) {
  out->set_group(ref.group);
  out->set_time_ns(ref.time_ns);
  out->set_id(ref.id.bytes.data(), ref.id.bytes.size());
}

void SetStored(const coffer::StoredSnapshot& s, StoredSnapshotMsg* out) {
  SetRef(s.ref, out->mutable_ref());
  out->set_sealed(s.sealed.data(), s.sealed.size());
  if (s.needs) out->set_needs(s.needs->bytes.data(), s.needs->bytes.size());
  out->set_is_protected(s.is_protected);
  out->set_sealed_note(s.sealed_note.data(), s.sealed_note.size());
}

// Sends `list` in pages of about kListPageBytes; `start_page` prepares each page.
template <typename Response>
Status WritePages(const std::vector<coffer::StoredSnapshot>& list,
                  grpc::ServerWriter<Response>* writer,
                  const std::function<void(Response&)>& start_page,
                  const std::function<StoredSnapshotMsg*(Response&)>& add) {
  Response page;
  start_page(page);
  size_t page_bytes = 0;
  bool page_sent = false;
  for (const coffer::StoredSnapshot& s : list) {
    SetStored(s, add(page));
    page_bytes += s.sealed.size() + s.sealed_note.size() + s.ref.group.size() + 64;
    if (page_bytes >= kListPageBytes) {
      if (!writer->Write(page)) return Status::IoError("the client went away");
      page.Clear();
      start_page(page);
      page_bytes = 0;
      page_sent = true;
    }
  }
  // An empty listing still sends one page when start_page carries data.
  bool has_header = page.ByteSizeLong() > 0;
  if ((page_bytes > 0 || (!page_sent && has_header)) && !writer->Write(page)) {
    return Status::IoError("the client went away");
  }
  return Status::Ok();
}

ByteView ViewOf(const std::string& s) {
  return AsBytes(s);
}

// Whether a sealed object of `size` bytes fits in a reply with room to spare
// for the message around it.
Status CheckSendable(const ObjectId& id, size_t size) {
  if (size + 1024 > kMaxMessageBytes) {
    return Status::InvalidArgument("object " + id.short_hex() + " is too large to send");
  }
  return Status::Ok();
}

// Objects GetObjects reads from the store at once: the first slice, and at
// most (which bounds what a call holds beyond its reply).
constexpr size_t kFirstGetSlice = 4;
constexpr size_t kMaxGetSlice = 16;

// Threads kept waiting for calls between calls (see Start).
constexpr int kMaxIdleThreads = 8;

// The one place tokens are checked: gRPC runs it on every call's metadata,
// before the handler and before the request message is read, so a client
// without a token costs no handler thread and keeps no server alive.
//
// It also tells the handlers the caller's role, through the auth context.
// gRPC gives the processor the connection's auth context, shared by every
// call on the connection, not one per call; so the role of the first token
// a connection carries is bound to it (once: the property is never written
// again, so handlers read it without a lock), and a call with a token of
// another role on that connection is refused. Our clients send one token
// per connection.
class TokenChecker final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenChecker(std::vector<ServerToken> tokens) : tokens_(std::move(tokens)) {}
  // A comparison takes no time: run inline rather than on another thread.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* connection,
                       OutputMetadata* consumed, OutputMetadata*) override {
    auto [begin, end] =
        metadata.equal_range(grpc::string_ref(kAuthorizationKey.data(), kAuthorizationKey.size()));
    std::optional<TokenRole> role;
    int seen = 0;
    for (auto it = begin; it != end; ++it) {
      ++seen;
      role = MatchBearer(std::string_view(it->second.data(), it->second.size()), tokens_);
    }
    if (!role || seen != 1) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(kTokenRefused));
    }
    if (!BindRole(*connection, *role)) {
      return grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          std::string(kTokenRefused) + ": this connection already carries a token of another role");
    }
    // The handlers never need the token: keep it out of their metadata.
    consumed->emplace(std::string(kAuthorizationKey),
                      std::string(begin->second.data(), begin->second.size()));
    return grpc::Status::OK;
  }

 private:
  // Binds `role` to the connection unless it has one; false if it has another.
  bool BindRole(grpc::AuthContext& connection, TokenRole role) {
    const std::string name(RoleName(role));
    std::lock_guard lock(mu_);
    std::vector<grpc::string_ref> bound = connection.FindPropertyValues(std::string(kRoleProperty));
    if (bound.empty()) {
      connection.AddProperty(std::string(kRoleProperty), name);
      connection.SetPeerIdentityPropertyName(std::string(kRoleProperty));
      return true;
    }
    return bound.size() == 1 && std::string_view(bound[0].data(), bound[0].size()) == name;
  }

  const std::vector<ServerToken> tokens_;
  std::mutex mu_;  // the processor runs on gRPC's threads, for many connections at once
};

// The server's tokens and their roles; kInvalidArgument when there is none
// or one is given twice.
Result<std::vector<ServerToken>> ServerTokens(const ServerOptions& options) {
  std::vector<ServerToken> tokens;
  if (!options.token.empty()) tokens.push_back({options.token, TokenRole::kFull});
  for (const std::string& token : options.append_only_tokens) {
    if (token.empty()) return Status::InvalidArgument("an append-only token is empty");
    tokens.push_back({token, TokenRole::kAppendOnly});
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    for (size_t j = i + 1; j < tokens.size(); ++j) {
      if (tokens[i].token == tokens[j].token) {
        return Status::InvalidArgument(
            tokens[i].role == tokens[j].role
                ? "an append-only token is given twice"
                : "the full token and an append-only token are the same: they must differ");
      }
    }
  }
  return tokens;
}

// Credentials for `address`: none for a unix socket, TLS and the token
// check for tcp://.
Result<std::shared_ptr<grpc::ServerCredentials>> ListenCredentials(const ServiceAddress& address,
                                                                   const ServerOptions& options) {
  if (address.kind == ServiceAddress::Kind::kUnix) return grpc::InsecureServerCredentials();
  if (options.tls_cert_pem.empty() || options.tls_key_pem.empty() ||
      (options.token.empty() && options.append_only_tokens.empty())) {
    return Status::InvalidArgument("listening on " + address.ToString() +
                                   " needs a TLS certificate, its key and a client token");
  }
  COFFER_ASSIGN_OR_RETURN(std::vector<ServerToken> tokens, ServerTokens(options));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(ssl);
  creds->SetAuthMetadataProcessor(std::make_shared<TokenChecker>(std::move(tokens)));
  return creds;
}

// What a call needs of its caller's token: each handler says which, and
// ObjectServiceImpl::Run checks it before the handler's body runs.
enum class Needs {
  kAppend,  // adds or reads: any token
  kFull,    // removes, protects, annotates, changes meta or collects garbage
};

}  // namespace

// Whether new writers and collections may still register (ObjectServer::
// CloseToNewWritersIf). Registering holds `mu` shared from the check to the
// registration, so closing (exclusive) never falls between the two.
struct WriterGate {
  std::shared_mutex mu;
  bool closed = false;  // guarded by mu
};

// What a registration gets once the gate is closed: UNAVAILABLE without the
// mark of a store status, which clients take for a server gone away (they
// start a server of their own and repeat the call there).
static grpc::Status ClosedToNewWriters() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the command serving this repository is closing it");
}

// The gRPC handlers. Each says what it needs of the caller's token, checks
// the protocol version and the limits, calls the store and maps its Status;
// exceptions stop here (INTERNAL).
class ObjectServiceImpl final : public ObjectService::Service {
 public:
  // `checks_tokens`: whether calls come over tcp://, where TokenChecker
  // binds a role to every connection; over a unix socket every caller has
  // full rights.
  ObjectServiceImpl(ObjectStore& store, const ServerOptions& options, bool checks_tokens,
                    WriterGate& writer_gate)
      : store_(store),
        options_(options),
        checks_tokens_(checks_tokens),
        writer_gate_(writer_gate),
        last_end_ns_(NowNs()) {}

  int active() const { return active_.load(); }
  std::chrono::milliseconds IdleFor() const {
    if (active_.load() > 0) return std::chrono::milliseconds(0);
    int64_t idle_ns = NowNs() - last_end_ns_.load();
    return std::chrono::milliseconds(idle_ns > 0 ? idle_ns / 1'000'000 : 0);
  }

  grpc::Status Hello(grpc::ServerContext* ctx, const HelloRequest* req,
                     HelloResponse* resp) override {
    return Run(ctx, Needs::kAppend, [&] {
      resp->set_protocol_version(kProtocolVersion);
      resp->set_repository_format(options_.repository_format);
      resp->set_idle_exit_ms(static_cast<uint64_t>(options_.idle_exit.count()));
      resp->set_max_message_bytes(kMaxMessageBytes);
      resp->set_max_object_bytes(kMaxObjectBytes);
      resp->set_max_contains_ids(kMaxContainsIds);
      resp->set_max_put_objects(kMaxPutObjects);
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (static_cast<size_t>(req->writers_size()) > kMaxHelloWriters) {
        return Status::InvalidArgument("Hello: too many writers");
      }
      if (req->writers_size() == 0) return Status::Ok();
      std::vector<WriteId> writers(req->writers().begin(), req->writers().end());
      return store_.RefreshWriters(writers);
    });
  }

  grpc::Status GetMeta(grpc::ServerContext* ctx, const GetMetaRequest* req,
                       GetMetaResponse* resp) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (req->key().size() > kMaxMetaKeyBytes) return Status::InvalidArgument("meta key too long");
      COFFER_ASSIGN_OR_RETURN(std::optional<Bytes> value, store_.GetMeta(req->key()));
      resp->set_found(value.has_value());
      if (value) resp->set_value(value->data(), value->size());
      return Status::Ok();
    });
  }

  grpc::Status PutMeta(grpc::ServerContext* ctx, const PutMetaRequest* req,
                       PutMetaResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (req->key().size() > kMaxMetaKeyBytes) return Status::InvalidArgument("meta key too long");
      if (req->value().size() > kMaxMetaValueBytes) {
        return Status::InvalidArgument("meta value too large");
      }
      return store_.PutMeta(req->key(), ViewOf(req->value()));
    });
  }

  grpc::Status ListMeta(grpc::ServerContext* ctx, const ListMetaRequest* req,
                        ListMetaResponse* resp) override {
    // Append-only clients read the key slots too: they unwrap the key to write.
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (req->prefix().size() > kMaxMetaKeyBytes)
        return Status::InvalidArgument("meta key too long");
      COFFER_ASSIGN_OR_RETURN(std::vector<MetaRecord> records, store_.ListMeta(req->prefix()));
      if (records.size() > kMaxListedMetaRecords) {
        return Status::InvalidArgument("more than " + std::to_string(kMaxListedMetaRecords) +
                                       " meta records start with the prefix");
      }
      for (const MetaRecord& record : records) {
        MetaRecordMsg* out = resp->add_records();
        out->set_key(record.key);
        out->set_value(record.value.data(), record.value.size());
      }
      return Status::Ok();
    });
  }

  grpc::Status RemoveKeySlot(grpc::ServerContext* ctx, const RemoveKeySlotRequest* req,
                             RemoveKeySlotResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (req->name().size() > kMaxMetaKeyBytes)
        return Status::InvalidArgument("meta key too long");
      return store_.RemoveKeySlot(req->name());
    });
  }

  grpc::Status Contains(grpc::ServerContext* ctx, const ContainsRequest* req,
                        ContainsResponse* resp) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(ObjectKind kind, ParseKind(req->kind()));
      COFFER_ASSIGN_OR_RETURN(std::vector<ObjectId> ids,
                              ParseIds(req->ids(), kMaxContainsIds, "Contains"));
      COFFER_ASSIGN_OR_RETURN(std::vector<bool> present, store_.Contains(kind, ids));
      std::string* out = resp->mutable_present();
      out->resize(ids.size());
      for (size_t i = 0; i < ids.size(); ++i) (*out)[i] = present[i] ? 1 : 0;
      return Status::Ok();
    });
  }

  grpc::Status PutObjects(grpc::ServerContext* ctx, const PutObjectsRequest* req,
                          PutObjectsResponse*) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (static_cast<size_t>(req->objects_size()) > kMaxPutObjects) {
        return Status::InvalidArgument("PutObjects: " + std::to_string(req->objects_size()) +
                                       " objects; at most " + std::to_string(kMaxPutObjects));
      }
      // Validate everything first, so a bad request stores nothing.
      std::vector<std::pair<ObjectKind, ObjectId>> keys;
      std::map<ObjectKind, std::vector<ObjectId>> ids;  // to look up for an append-only caller
      keys.reserve(req->objects_size());
      for (const SealedObject& object : req->objects()) {
        COFFER_ASSIGN_OR_RETURN(ObjectKind kind, ParseKind(object.kind()));
        if (kind == ObjectKind::kSnapshot) {
          return Status::InvalidArgument("objects of kind snapshot are not stored by id");
        }
        COFFER_ASSIGN_OR_RETURN(ObjectId id, ParseId(object.id()));
        if (object.sealed().size() > kMaxObjectBytes) {
          return Status::InvalidArgument("object " + id.short_hex() + " is " +
                                         std::to_string(object.sealed().size()) +
                                         " bytes; at most " + std::to_string(kMaxObjectBytes));
        }
        // A needs list is plain and named by its hash: every server checks
        // it. Sealed objects only the server of an unencrypted repository can.
        Status valid = Status::Ok();
        if (kind == ObjectKind::kNeeds) {
          valid = CheckNeedsList(id, ViewOf(object.sealed()));
        } else if (options_.check_object) {
          valid = options_.check_object(kind, id, ViewOf(object.sealed()));
        }
        {
          if (!valid.ok()) {
            return Status::InvalidArgument("PutObjects: " + std::string(KindName(kind)) + " " +
                                           id.short_hex() + " refused: " + valid.message());
          }
        }
        keys.emplace_back(kind, id);
        ids[kind].push_back(id);
      }
      // An append-only caller adds objects, never replaces one: what is
      // stored under an id stays. (A full caller may store a good copy over
      // a damaged one.) Those found count as put, as for a client that
      // asked Contains first.
      std::set<std::pair<ObjectKind, ObjectId>> present;
      if (CallerRole(*ctx) != TokenRole::kFull) {
        for (const auto& [kind, of_kind] : ids) {
          COFFER_ASSIGN_OR_RETURN(std::vector<bool> found, store_.Contains(kind, of_kind));
          for (size_t i = 0; i < of_kind.size(); ++i) {
            if (found[i]) present.emplace(kind, of_kind[i]);
          }
        }
      }
      for (int i = 0; i < req->objects_size(); ++i) {
        if (present.count(keys[i])) continue;
        COFFER_RETURN_IF_ERROR(
            store_.Put(keys[i].first, keys[i].second, ViewOf(req->objects(i).sealed())));
      }
      return Status::Ok();
    });
  }

  grpc::Status Get(grpc::ServerContext* ctx, const GetRequest* req, GetResponse* resp) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(ObjectKind kind, ParseKind(req->kind()));
      COFFER_ASSIGN_OR_RETURN(ObjectId id, ParseId(req->id()));
      COFFER_ASSIGN_OR_RETURN(Bytes sealed, store_.Get(kind, id));
      COFFER_RETURN_IF_ERROR(CheckSendable(id, sealed.size()));
      resp->set_sealed(sealed.data(), sealed.size());
      return Status::Ok();
    });
  }

  // Reads a few objects at a time, so that little is read that will not fit:
  // after the first slice, each slice is the room left over the mean size so
  // far. Whatever does not fit is not sent; the client asks for it again.
  grpc::Status GetObjects(grpc::ServerContext* ctx, const GetObjectsRequest* req,
                          GetObjectsResponse* resp) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(ObjectKind kind, ParseKind(req->kind()));
      COFFER_ASSIGN_OR_RETURN(std::vector<ObjectId> ids,
                              ParseIds(req->ids(), kMaxGetObjectsIds, "GetObjects"));
      size_t reply_bytes = 0;
      size_t answered = 0;
      while (answered < ids.size() && reply_bytes < kGetObjectsReplyBytes) {
        size_t slice = kFirstGetSlice;
        if (answered > 0) {
          size_t mean = std::max<size_t>(1, reply_bytes / answered);
          slice = std::clamp<size_t>((kGetObjectsReplyBytes - reply_bytes) / mean, 1, kMaxGetSlice);
        }
        slice = std::min(slice, ids.size() - answered);
        const size_t asked_from = answered;
        bool full = false;
        Status too_large;
        // Straight from RocksDB's buffers into the reply: no copy between.
        auto read = [&](std::span<const ObjectId> some, const ObjectStore::SealedVisitor& use) {
          return req->checked() ? store_.GetManyChecked(kind, some, use)
                                : store_.GetMany(kind, some, use);
        };
        COFFER_RETURN_IF_ERROR(
            read(std::span<const ObjectId>(ids).subspan(asked_from, slice),
                 [&](size_t i, Result<ByteView> object) {
                   if (full || !too_large.ok() || asked_from + i != answered) return;
                   size_t size = object.ok() ? object->size() : object.status().message().size();
                   if (answered > 0 && reply_bytes + size > kGetObjectsReplyBytes) {
                     full = true;
                     return;
                   }
                   if (object.ok()) {
                     too_large = CheckSendable(ids[answered], size);
                     if (!too_large.ok()) return;
                   }
                   FetchedObject* out = resp->add_objects();
                   if (object.ok()) {
                     out->set_sealed(object->data(), object->size());
                   } else {
                     out->set_code(static_cast<uint32_t>(object.status().code()));
                     out->set_error(object.status().message());
                   }
                   reply_bytes += size;
                   ++answered;
                 }));
        COFFER_RETURN_IF_ERROR(too_large);
        if (full) return Status::Ok();
        if (answered != asked_from + slice) {
          return Status::IoError("GetObjects: the store answered too few");
        }
      }
      return Status::Ok();
    });
  }

  grpc::Status CommitSnapshot(grpc::ServerContext* ctx, const CommitSnapshotRequest* req,
                              CommitSnapshotResponse*) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(coffer::SnapshotRef ref, ParseRef(req->ref()));
      if (req->sealed_record().size() > kMaxObjectBytes) {
        return Status::InvalidArgument("snapshot record too large");
      }
      std::optional<ObjectId> needs;
      if (!req->needs().empty()) {
        COFFER_ASSIGN_OR_RETURN(needs, ParseId(req->needs()));
      }
      return store_.CommitSnapshot(ref, ViewOf(req->sealed_record()), req->writer(), needs);
    });
  }

  grpc::Status ListSnapshots(grpc::ServerContext* ctx, const ListSnapshotsRequest* req,
                             grpc::ServerWriter<ListSnapshotsResponse>* writer) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (req->group().size() > kMaxGroupBytes) {
        return Status::InvalidArgument("snapshot group too long");
      }
      COFFER_ASSIGN_OR_RETURN(std::vector<coffer::StoredSnapshot> list,
                              store_.ListSnapshots(req->group()));
      COFFER_RETURN_IF_ERROR(WritePages<ListSnapshotsResponse>(
          list, writer, [](ListSnapshotsResponse&) {},
          [](ListSnapshotsResponse& page) { return page.add_snapshots(); }));
      return Status::Ok();
    });
  }

  grpc::Status DeleteSnapshot(grpc::ServerContext* ctx, const DeleteSnapshotRequest* req,
                              DeleteSnapshotResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(coffer::SnapshotRef ref, ParseRef(req->ref()));
      return store_.DeleteSnapshot(ref);
    });
  }

  grpc::Status SetSnapshotProtected(grpc::ServerContext* ctx,
                                    const SetSnapshotProtectedRequest* req,
                                    SetSnapshotProtectedResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(coffer::SnapshotRef ref, ParseRef(req->ref()));
      return store_.SetSnapshotProtected(ref, req->is_protected());
    });
  }

  grpc::Status SetSnapshotNote(grpc::ServerContext* ctx, const SetSnapshotNoteRequest* req,
                               SetSnapshotNoteResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(coffer::SnapshotRef ref, ParseRef(req->ref()));
      if (req->sealed_note().size() > kMaxMetaValueBytes) {
        return Status::InvalidArgument("snapshot note too large");
      }
      return store_.SetSnapshotNote(ref, ViewOf(req->sealed_note()));
    });
  }

  // An append-only caller may name a snapshot's needs: only where it has
  // none, and a list that is stored and matches its id; it can make a copy
  // incomplete at worst, never change what a snapshot holds.
  grpc::Status SetSnapshotNeeds(grpc::ServerContext* ctx, const SetSnapshotNeedsRequest* req,
                                SetSnapshotNeedsResponse*) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(coffer::SnapshotRef ref, ParseRef(req->ref()));
      COFFER_ASSIGN_OR_RETURN(ObjectId needs, ParseId(req->needs()));
      return store_.SetSnapshotNeeds(ref, needs);
    });
  }

  grpc::Status BeginWrite(grpc::ServerContext* ctx, const BeginWriteRequest* req,
                          BeginWriteResponse* resp) override {
    std::shared_lock registering(writer_gate_.mu);
    if (writer_gate_.closed) return ClosedToNewWriters();
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      std::optional<coffer::SnapshotRef> parent;
      if (req->has_parent()) {
        COFFER_ASSIGN_OR_RETURN(parent, ParseRef(req->parent()));
      }
      COFFER_ASSIGN_OR_RETURN(WriteId writer, store_.BeginWrite(parent));
      resp->set_writer(writer);
      return Status::Ok();
    });
  }

  grpc::Status EndWrite(grpc::ServerContext* ctx, const EndWriteRequest* req,
                        EndWriteResponse*) override {
    return Run(ctx, Needs::kAppend, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      return store_.EndWrite(req->writer());
    });
  }

  grpc::Status BeginGc(grpc::ServerContext* ctx, const BeginGcRequest* req,
                       grpc::ServerWriter<BeginGcResponse>* writer) override {
    std::shared_lock registering(writer_gate_.mu);
    if (writer_gate_.closed) return ClosedToNewWriters();
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(GcStart start, store_.BeginGc());
      Status sent = WritePages<BeginGcResponse>(
          start.roots, writer, [&](BeginGcResponse& page) { page.set_gc_id(start.gc_id); },
          [](BeginGcResponse& page) { return page.add_roots(); });
      if (!sent.ok()) (void)store_.AbortGc(start.gc_id);
      return sent;
    });
  }

  grpc::Status AddGcMarks(grpc::ServerContext* ctx, const AddGcMarksRequest* req,
                          AddGcMarksResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      const std::string& raw = req->prefixes();
      if (raw.size() % 8 != 0 || raw.size() / 8 > kMaxGcMarks) {
        return Status::InvalidArgument(
            "AddGcMarks: not a whole number of 8-byte prefixes, or more than " +
            std::to_string(kMaxGcMarks));
      }
      std::vector<uint64_t> prefixes(raw.size() / 8);
      for (size_t i = 0; i < prefixes.size(); ++i) {
        uint64_t v = 0;
        for (size_t b = 0; b < 8; ++b) v = (v << 8) | static_cast<uint8_t>(raw[i * 8 + b]);
        prefixes[i] = v;
      }
      return store_.AddGcMarks(req->gc_id(), prefixes);
    });
  }

  grpc::Status FinishGc(grpc::ServerContext* ctx, const FinishGcRequest* req,
                        FinishGcResponse* resp) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      COFFER_ASSIGN_OR_RETURN(GcResult result, store_.FinishGc(req->gc_id()));
      resp->set_objects_examined(result.objects_examined);
      resp->set_objects_deleted(result.objects_deleted);
      resp->set_objects_kept_for_writers(result.objects_kept_for_writers);
      resp->set_bytes_before(result.bytes_before);
      resp->set_bytes_after(result.bytes_after);
      return Status::Ok();
    });
  }

  grpc::Status AbortGc(grpc::ServerContext* ctx, const AbortGcRequest* req,
                       AbortGcResponse*) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      return store_.AbortGc(req->gc_id());
    });
  }

  grpc::Status CopyRepository(grpc::ServerContext* ctx, const CopyRepositoryRequest* req,
                              CopyRepositoryResponse* resp) override {
    return Run(ctx, Needs::kFull, [&]() -> Status {
      COFFER_RETURN_IF_ERROR(CheckVersion(req->protocol_version()));
      if (checks_tokens_) {
        return Status::PermissionDenied(
            "copying the repository's files is for callers on the server's host");
      }
      auto* source = dynamic_cast<FolderCopySource*>(&store_);
      if (source == nullptr)
        return Status::Unsupported("this server cannot copy its repository's files");
      COFFER_ASSIGN_OR_RETURN(FolderCopyReport report,
                              source->CopyRepositoryTo(req->destination()));
      resp->set_files(report.files);
      resp->set_bytes(report.bytes);
      resp->set_snapshots(report.snapshots);
      resp->set_objects(report.objects);
      resp->set_needs_lists(report.needs_lists);
      return Status::Ok();
    });
  }

 private:
  // The role of the caller of `ctx`'s call: full over a unix socket; over
  // tcp:// the one TokenChecker bound to the connection (append-only, the
  // lesser, should none be bound, which it never lets happen).
  TokenRole CallerRole(const grpc::ServerContext& ctx) const {
    if (!checks_tokens_) return TokenRole::kFull;
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (!auth) return TokenRole::kAppendOnly;
    std::vector<grpc::string_ref> bound = auth->FindPropertyValues(std::string(kRoleProperty));
    bool full = bound.size() == 1 &&
                std::string_view(bound[0].data(), bound[0].size()) == RoleName(TokenRole::kFull);
    return full ? TokenRole::kFull : TokenRole::kAppendOnly;
  }

  // The one place a call's needs meet the caller's role: refuses it
  // (PERMISSION_DENIED) before `body` runs, so a refused call changes
  // nothing. Counts the call as active while `body` runs and maps its Status.
  template <typename F>
  grpc::Status Run(grpc::ServerContext* ctx, Needs needs, F&& body) {
    active_.fetch_add(1);
    Status status;
    try {
      if (needs == Needs::kFull && CallerRole(*ctx) != TokenRole::kFull) {
        status = Status::PermissionDenied(std::string(kAppendOnlyRefused));
      } else {
        status = body();
      }
    } catch (const std::exception& e) {
      status = Status::IoError(std::string("object server: ") + e.what());
    } catch (...) {
      status = Status::IoError("object server: unknown exception");
    }
    last_end_ns_.store(NowNs());
    active_.fetch_sub(1);
    return ToGrpcStatus(status);
  }

  ObjectStore& store_;
  const ServerOptions options_;
  const bool checks_tokens_;
  WriterGate& writer_gate_;
  std::atomic<int> active_{0};
  std::atomic<int64_t> last_end_ns_;
};

namespace {

// A gRPC server for `address` with Coffer's message sizes, windows and
// threads, serving `service`. Null (and the reason) if it cannot listen.
Result<std::unique_ptr<grpc::Server>> Listen(const ServiceAddress& address,
                                             std::shared_ptr<grpc::ServerCredentials> creds,
                                             grpc::Service* service, const ServerOptions& options,
                                             int* selected_port) {
  const bool unix_socket = address.kind == ServiceAddress::Kind::kUnix;
  grpc::ServerBuilder builder;
  COFFER_ASSIGN_OR_RETURN(std::string target, address.ResolvedGrpcTarget());
  builder.AddListeningPort(target, std::move(creds), selected_port);
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  // Large HTTP/2 frames and windows: objects are megabytes, and 16 KiB
  // frames cost a lot of CPU per byte over a unix socket.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, kHttp2MaxFrameBytes);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kHttp2WindowBytes);
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, kSocketReadBytes);
  builder.AddChannelArgument(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, kSocketReadBytes);
  builder.AddChannelArgument(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, kSocketReadBytes);
  grpc::ResourceQuota quota("coffer-object-server");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  // A thread that finished a call waits for the next one rather than exit.
  // gRPC keeps only 2 such threads by default, so a mount's concurrent chunk
  // loads made it start and end a thread every few calls (each new stack
  // faulted in afresh): ~10% of the server's CPU during a sequential read.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              std::min(options.max_threads, kMaxIdleThreads));

  // The socket is created with mode 0600 (then chmod'ed to be sure): the
  // umask is process-wide, so another thread creating a file meanwhile gets
  // stricter permissions too, which is harmless.
  mode_t old_umask = ::umask(0077);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server || (!unix_socket && *selected_port == 0)) {
    return Status::IoError("cannot listen on " + address.ToString() +
                           (unix_socket
                                ? " (is the folder writable? the gRPC log above may say more)"
                                : " (is the port in use, the certificate and key a pair? "
                                  "the gRPC log above may say more)"));
  }
  if (unix_socket && ::chmod(address.path.c_str(), 0600) != 0) {
    return Status::FromErrno(errno, "chmod " + address.path);
  }
  return server;
}

}  // namespace

Result<std::unique_ptr<ObjectServer>> ObjectServer::Start(ObjectStore& store,
                                                          const std::string& address,
                                                          const ServerOptions& options) {
  COFFER_ASSIGN_OR_RETURN(ServiceAddress parsed, ParseListenAddress(address));
  COFFER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                          ListenCredentials(parsed, options));
  const bool unix_socket = parsed.kind == ServiceAddress::Kind::kUnix;
  std::optional<ServiceAddress> local;
  if (!options.local_socket.empty()) {
    if (unix_socket) {
      return Status::InvalidArgument("a local socket is for a tcp:// listener; " +
                                     parsed.ToString() + " is one already");
    }
    COFFER_ASSIGN_OR_RETURN(local, ParseListenAddress(options.local_socket));
    if (local->kind != ServiceAddress::Kind::kUnix) {
      return Status::InvalidArgument("the local socket " + local->ToString() +
                                     " is not a unix: address");
    }
  }
  std::unique_ptr<ObjectServer> server(new ObjectServer());
  server->address_ = parsed;
  server->local_address_ = local;
  // The server's own destructor stops every listener started so far, should
  // a later one fail.
  auto add = [&](const ServiceAddress& where, std::shared_ptr<grpc::ServerCredentials> with,
                 bool checks_tokens, int* port) -> Status {
    Listener& listener = server->listeners_.emplace_back();
    listener.service =
        std::make_unique<ObjectServiceImpl>(store, options, checks_tokens, *server->writer_gate_);
    COFFER_ASSIGN_OR_RETURN(listener.server,
                            Listen(where, std::move(with), listener.service.get(), options, port));
    return Status::Ok();
  };
  // The local socket first: once the TCP port answers, so does the socket.
  if (local) {
    int unused_port = 0;
    COFFER_RETURN_IF_ERROR(
        add(*local, grpc::InsecureServerCredentials(), /*checks_tokens=*/false, &unused_port));
  }
  int selected_port = 0;
  COFFER_RETURN_IF_ERROR(add(parsed, creds, /*checks_tokens=*/!unix_socket, &selected_port));
  if (!unix_socket) server->address_.port = selected_port;
  return server;
}

ObjectServer::ObjectServer() : writer_gate_(std::make_unique<WriterGate>()) {}

ObjectServer::~ObjectServer() {
  StopServing();
}

bool ObjectServer::CloseToNewWritersIf(const std::function<bool()>& condition) {
  std::unique_lock closing(writer_gate_->mu);
  if (!condition()) return false;
  writer_gate_->closed = true;
  return true;
}

Status ObjectServer::Serve(std::chrono::milliseconds idle_exit) {
  constexpr auto kPoll = std::chrono::milliseconds(20);
  while (!shutdown_requested_.load(std::memory_order_relaxed)) {
    if (idle_exit.count() > 0 && IdleFor() >= idle_exit) break;
    std::this_thread::sleep_for(kPoll);
  }
  StopServing();
  return Status::Ok();
}

void ObjectServer::StopServing() {
  if (stopped_) return;
  stopped_ = true;
  // Calls in flight get a few seconds to finish; new calls are refused.
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  for (Listener& listener : listeners_) {
    if (listener.server) listener.server->Shutdown(deadline);
  }
  for (Listener& listener : listeners_) {
    if (listener.server) listener.server->Wait();
  }
}

std::chrono::milliseconds ObjectServer::IdleFor() const {
  // Idle only as long as every listener has been.
  std::optional<std::chrono::milliseconds> idle;
  for (const Listener& listener : listeners_) {
    auto own = listener.service->IdleFor();
    idle = idle ? std::min(*idle, own) : own;
  }
  return idle.value_or(std::chrono::milliseconds(0));
}
int ObjectServer::active_calls() const {
  int active = 0;
  for (const Listener& listener : listeners_) active += listener.service->active();
  return active;
}

}  // namespace coffer::service
