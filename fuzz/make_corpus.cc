// Writes the seed corpora of the fuzz targets: real objects made by Coffer's
// own code under the fixed key (fuzz_util.h), in each target's input format.
//
//   fuzz_make_corpus DIR        writes DIR/TARGET/NAME (fuzz/corpus in the tree)
//   fuzz_make_corpus --new-key  prints a new wrapped key for fuzz_util.cc
//
// Sealing draws random nonces, so each run writes other bytes; the seeds
// committed are one run's.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/server_calls.h"
#include "store/crypto/padding.h"
#include "store/crypto/paper_key.h"
#include "store/crypto/zstd_codec.h"
#include "store/model/posix_acl.h"
#include "store/model/tree.h"
#include "store/objects/needs_list.h"
#include "store/objects/snapshot_key.h"
#include "store/s3/bucket_format.h"
#include "store/service/limits.h"
#include "store/service/service.pb.h"

using namespace coffer;
namespace fs = std::filesystem;

namespace {

fs::path g_dir;

void Write(const std::string& target, const std::string& name, ByteView bytes) {
  fs::create_directories(g_dir / target);
  std::ofstream out(g_dir / target / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) fuzz::Fail("cannot write " + (g_dir / target / name).string());
}
void Write(const std::string& target, const std::string& name, std::string_view text) {
  Write(target, name, AsBytes(text));
}

std::string IdBytes(const ObjectId& id) {
  return std::string(AsChars(id.view()));
}

// A directory with one of each kind of entry.
pb::Tree KitchenSink() {
  pb::Tree tree;
  pb::Entry* dir = tree.add_entries();
  dir->set_name("dir");
  dir->set_type(pb::Entry::DIRECTORY);
  dir->set_mode(0755);
  dir->set_subtree_id(std::string(32, '\x07'));
  pb::Entry* file = tree.add_entries();
  file->set_name("file.txt");
  file->set_mode(04755);
  file->set_uid(1000);
  file->set_user("alice");
  file->set_mtime_ns(1'795'485'600'123'456'789);
  file->set_size(3 << 20);
  pb::Extent* e = file->add_extents();
  e->set_chunk_id(std::string(32, '\x11'));
  e->set_size(1 << 20);
  file->add_extents()->set_size(1 << 20);  // a hole
  e = file->add_extents();
  e->set_chunk_id(std::string(32, '\x12'));
  e->set_size(1 << 20);
  pb::Xattr* x = file->add_xattrs();
  x->set_name("user.comment");
  x->set_value("kept");
  file->set_nlink(2);
  file->set_inode(42);
  pb::Entry* link = tree.add_entries();
  link->set_name("link");
  link->set_type(pb::Entry::SYMLINK);
  link->set_symlink_target("file.txt");
  pb::Entry* dev = tree.add_entries();
  dev->set_name("null");
  dev->set_type(pb::Entry::CHAR_DEVICE);
  dev->set_rdev(0x103);
  return tree;
}

pb::Tree Named(std::initializer_list<const char*> names) {
  pb::Tree tree;
  for (const char* n : names) tree.add_entries()->set_name(n);
  return tree;
}

// Tree part ids: first byte = the record that holds the part.
std::string PartId(uint8_t record) {
  std::string id(32, '\x5a');
  id[0] = static_cast<char>(record);
  return id;
}

void SealedObjects() {
  const Bytes text = [] {
    std::string s;
    for (int i = 0; i < 40; ++i) s += "Coffer keeps this safe. ";
    return Bytes(s.begin(), s.end());
  }();
  const Bytes tree = model::Encode(KitchenSink());
  const Bytes random = [] {
    Bytes b(300);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 131 + (i >> 3) * 7);
    return b;
  }();
  int n = 0;
  auto add = [&](uint8_t mode, const ObjectId& id, ByteView bytes) {
    Bytes input{mode};
    input.insert(input.end(), id.bytes.begin(), id.bytes.end());
    input.insert(input.end(), bytes.begin(), bytes.end());
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02d", n++);
    Write("sealed_object", name, input);
  };
  for (uint8_t kind = 0; kind < 4; ++kind) {
    const ByteView plain = kind == 1   ? ByteView(tree)
                           : kind == 0 ? ByteView(random)
                                       : ByteView(text);
    for (int what = 0; what < 2; ++what) {
      const crypto::Sealer& sealer = what == 0 ? fuzz::FixedSealer() : fuzz::PlainSealer();
      const ObjectId id = sealer.IdOf(plain);
      Result<Bytes> sealed = sealer.Seal(static_cast<ObjectKind>(kind + 1), id, plain);
      if (!sealed.ok()) fuzz::Fail(sealed.status().message());
      add(static_cast<uint8_t>(kind | what << 2), id, *sealed);
    }
  }
  // Padded payloads, a zstd frame and raw bytes.
  for (bool compressed : {true, false}) {
    Bytes payload(text.size());
    size_t n_payload = text.size();
    if (compressed) {
      auto size = crypto::ZstdCompress(text, 3, payload);
      if (!size) fuzz::Fail("text does not compress");
      n_payload = *size;
    } else {
      payload = text;
    }
    Bytes padded(crypto::PaddedSize(n_payload));
    std::copy_n(payload.begin(), n_payload, padded.begin());
    crypto::Pad(padded, n_payload);
    const ObjectId id = fuzz::FixedSealer().IdOf(text);
    add(static_cast<uint8_t>(1 | 2 << 2 | (compressed ? 0x20 : 0) | 0x10), id, padded);
  }
  add(static_cast<uint8_t>(1 | 3 << 2), ObjectId(), tree);
  add(static_cast<uint8_t>(0 | 3 << 2 | 0x20), ObjectId(), text);
}

void Trees() {
  auto write = [](const char* name, std::initializer_list<Bytes> records) {
    Bytes input;
    for (const Bytes& r : records) fuzz::AppendRecord(input, r);
    Write("tree", name, input);
  };
  write("plain", {model::Encode(KitchenSink())});
  // A directory split in two parts (records 1 and 2).
  pb::Tree index;
  pb::TreePart* p = index.add_parts();
  p->set_tree_id(PartId(1));
  p->set_first_name("a");
  p->set_entries(2);
  p = index.add_parts();
  p->set_tree_id(PartId(2));
  p->set_first_name("m");
  p->set_entries(3);
  write("split-directory", {model::Encode(index), model::Encode(Named({"a", "b"})),
                            model::Encode(Named({"m", "n", "z"}))});
  // A file whose extents are in two parts (records 1 and 2).
  pb::Tree holder;
  pb::Entry* file = holder.add_entries();
  file->set_name("disk.img");
  file->set_size(5 << 20);
  for (uint8_t k : {1, 2}) {
    pb::ExtentPart* ref = file->add_extent_parts();
    ref->set_tree_id(PartId(k));
    ref->set_size(k == 1 ? 2 << 20 : 3 << 20);
  }
  auto part = [](int extents) {
    pb::Tree t;
    pb::Entry* e = t.add_entries();
    for (int i = 0; i < extents; ++i) {
      pb::Extent* x = e->add_extents();
      x->set_chunk_id(std::string(32, static_cast<char>(0x20 + i)));
      x->set_size(1 << 20);
    }
    return t;
  };
  write("extent-parts", {model::Encode(holder), model::Encode(part(2)), model::Encode(part(3))});
}

pb::Snapshot Record(const std::string& group, int64_t seconds) {
  pb::Snapshot r;
  r.set_version(1);
  r.set_group(group);
  r.set_time_ns(seconds * 1'000'000'000);
  r.set_root_tree_id(std::string(32, '\x33'));
  r.add_paths("etc");
  r.add_tags("daily");
  r.set_hostname("web1");
  r.set_username("root");
  r.mutable_stats()->set_files_new(12);
  r.mutable_stats()->set_bytes_added(4096);
  return r;
}

void SnapshotRecords() {
  pb::SnapshotNote note;
  note.mutable_last_verify()->set_time_ns(1'795'489'200'000'000'000);
  note.mutable_last_verify()->set_ok(true);
  note.mutable_last_verify()->set_objects_checked(5);
  const Bytes note_bytes = model::Encode(note);
  for (uint8_t mode : {0, 1, 2, 3, 6}) {
    const bool plain = mode & 2;
    const crypto::Sealer& sealer = (mode & 1) ? fuzz::PlainSealer() : fuzz::FixedSealer();
    Bytes input{mode};
    int i = 0;
    for (auto [group, seconds] : {std::pair<const char*, int64_t>{"host/web1", 1'795'485'600},
                                  {"host/web1", 1'795'489'200},
                                  {"ct/101", 1'795'485'600}}) {
      const Bytes record = model::Encode(Record(group, seconds));
      const ObjectId id = sealer.IdOf(record);
      const std::string key = SnapshotKey(group, seconds * 1'000'000'000);
      Bytes value;
      Bytes sealed_note;
      if (plain) {
        value = SnapshotValue(id, record);
        if (i == 0) sealed_note = note_bytes;
      } else {
        value = SnapshotValue(id, *sealer.Seal(ObjectKind::kSnapshot, id, record));
        if (i == 0) sealed_note = *sealer.Seal(ObjectKind::kSnapshotNote, id, note_bytes);
      }
      fuzz::AppendRecord(input, AsBytes(key));
      fuzz::AppendRecord(input, value);
      fuzz::AppendRecord(input, sealed_note);
      ++i;
    }
    Write("snapshot_record", "seed-mode" + std::to_string(mode), input);
  }
}

void RepoConfigs() {
  for (bool encrypted : {true, false}) {
    pb::RepoConfig config = fuzz::DefaultRepoConfig(encrypted);
    // Mode: the key's checksum and the config's code as stored (0), or
    // written by the target (1 | 2); unencrypted ones allowed (4).
    auto write = [&](const char* name, uint8_t mode) {
      Bytes input{mode};
      const Bytes bytes = model::Encode(config);
      fuzz::AppendRecord(input, bytes);
      fuzz::AppendRecord(input, encrypted ? fuzz::FixedWrappedKey() : ByteView());
      fuzz::AppendRecord(input, encrypted ? fuzz::FixedKeys().ConfigMac(bytes) : Bytes());
      Write("repo_config", name, input);
    };
    write(encrypted ? "encrypted" : "unencrypted", encrypted ? 0 : 4);
    config.set_chunk_min_size(64);
    config.set_chunk_avg_size(128);
    config.set_chunk_max_size(256);
    write(encrypted ? "encrypted-small-chunks" : "unencrypted-small-chunks", encrypted ? 3 : 4);
  }
}

void Texts() {
  int n = 0;
  for (const char* text : {"host/web1/2026-11-24T02:00:00Z", "host/web1/latest", "ct/101/latest",
                           "vm/100/2026-11-24 02:00:00+01:00", "host/a.b-c_d/2026-11-24",
                           "0123abcd", "2026-11-24T02:00:00-05:30", "1970-01-01T00:00:00Z"}) {
    Write("snapshot_name", "seed-" + std::to_string(n++), std::string_view(text));
  }
  n = 0;
  for (const char* text : {"64M", "1G", "512K", "4096", "30s", "5m", "1h30m", "2d", "1.5h", "0"}) {
    Write("cli_values", "seed-" + std::to_string(n++), std::string_view(text));
  }
}

// ACL xattr values in the kernel's form: a minimal access ACL, one with
// named entries and a mask, a default ACL, and the version alone.
void PosixAcls() {
  using namespace coffer::model;
  const std::vector<std::vector<AclEntry>> acls = {
      {{kAclUserObj, 6, kAclUndefinedId},
       {kAclGroupObj, 4, kAclUndefinedId},
       {kAclOther, 4, kAclUndefinedId}},
      {{kAclUserObj, 7, kAclUndefinedId},
       {kAclUser, 5, 1000},
       {kAclUser, 4, 3000000000},
       {kAclGroupObj, 7, kAclUndefinedId},
       {kAclGroup, 6, 2000},
       {kAclMask, 4, kAclUndefinedId},
       {kAclOther, 0, kAclUndefinedId}},
      {{kAclUserObj, 7, kAclUndefinedId},
       {kAclGroupObj, 5, kAclUndefinedId},
       {kAclGroup, 7, 0},
       {kAclMask, 7, kAclUndefinedId},
       {kAclOther, 1, kAclUndefinedId}},
      {},
  };
  int n = 0;
  for (const auto& acl : acls) {
    Write("posix_acl", "seed-" + std::to_string(n++), std::string_view(EncodeAclXattr(acl)));
  }
}

// Pages and key lines of records of several lengths, as printed, as typed
// back (lower case, O for 0, l for 1, CRLF, no header), as zbarimg prints the
// QR code, and with a line missing or mistyped.
void PaperKeys() {
  const crypto::PaperKeyHeader header{
      "3f0c9d2e8b7a61554433221100ffeeddccbbaa99887766554433221100aabbcc", "2026-11-24"};
  auto record = [](size_t size) {
    Bytes bytes(size);
    uint32_t x = static_cast<uint32_t>(size) + 1;
    for (uint8_t& b : bytes) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    return bytes;
  };
  const std::string_view demo_text = "coffer paper key demo";
  const Bytes demo(demo_text.begin(), demo_text.end());
  Write("paper_key", "demo-page", std::string_view(crypto::RenderPaperKey(demo, header)));
  int n = 0;
  for (size_t size : {0, 1, 10, 11, 121, 256}) {
    Write("paper_key", "lines-" + std::to_string(n++),
          std::string_view(crypto::RenderPaperKeyLines(record(size))));
  }
  const std::string page = crypto::RenderPaperKey(record(121), header);
  std::string typed;
  for (size_t at = 0; at < page.size();) {
    std::string line = page.substr(at, page.find('\n', at) - at);
    at += line.size() + 1;
    for (size_t i = 0; i < line.size(); ++i) {
      char& c = line[i];
      const bool key_char = i > 2 && line[2] == ':';  // after " 7:" or "12:"
      c = key_char && c == '0'   ? 'O'
          : key_char && c == '1' ? 'l'
                                 : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    typed += line + "\r\n";
  }
  Write("paper_key", "typed-back", std::string_view(typed));
  Write("paper_key", "scanned", std::string_view(crypto::RenderPaperKeyLines(record(121)) + "\n"));
  std::string missing = crypto::RenderPaperKeyLines(record(90));
  const size_t line3 = missing.find(" 3:");
  missing.erase(line3, missing.find('\n', line3) + 1 - line3);
  Write("paper_key", "line-missing", std::string_view(missing));
  std::string mistyped = crypto::RenderPaperKeyLines(record(90));
  char& typo = mistyped[mistyped.find(" 4:") + 5];
  typo = typo == '7' ? '8' : '7';
  Write("paper_key", "line-mistyped", std::string_view(mistyped));
}

void ServerRequests() {
  using namespace coffer::service;
  const ObjectId id = fuzz::FixedSealer().IdOf(AsBytes(std::string_view("chunk")));
  const std::string id_bytes = IdBytes(id);
  const Bytes sealed =
      *fuzz::FixedSealer().Seal(ObjectKind::kChunk, id, AsBytes(std::string_view("chunk")));
  auto ref = [&](SnapshotRefMsg* r) {
    r->set_group("host/web1");
    r->set_time_ns(1'795'485'600'000'000'000);
    r->set_id(id_bytes);
  };
  auto write = [](int method, const google::protobuf::MessageLite& req) {
    Bytes input{static_cast<uint8_t>(method)};
    const Bytes body = model::Encode(req);
    input.insert(input.end(), body.begin(), body.end());
    Write("server_request", "method-" + std::to_string(method), input);
  };
  HelloRequest hello;
  hello.set_client("fuzz");
  hello.add_writers(1);
  write(0, hello);
  GetMetaRequest get_meta;
  get_meta.set_key("config");
  write(1, get_meta);
  PutMetaRequest put_meta;
  put_meta.set_key("snapshot-note/x");
  put_meta.set_value("v");
  write(2, put_meta);
  ContainsRequest contains;
  contains.set_kind(1);
  contains.set_ids(id_bytes + id_bytes);
  write(3, contains);
  PutObjectsRequest put;
  SealedObject* object = put.add_objects();
  object->set_kind(1);
  object->set_id(id_bytes);
  object->set_sealed(std::string(AsChars(sealed)));
  write(4, put);
  GetRequest get;
  get.set_kind(1);
  get.set_id(id_bytes);
  write(5, get);
  GetObjectsRequest get_objects;
  get_objects.set_kind(1);
  get_objects.set_ids(id_bytes + std::string(32, '\0'));
  write(6, get_objects);
  CommitSnapshotRequest commit;
  ref(commit.mutable_ref());
  commit.set_sealed_record(std::string(AsChars(sealed)));
  write(7, commit);
  ListSnapshotsRequest list;
  list.set_group("host/web1");
  write(8, list);
  DeleteSnapshotRequest del;
  ref(del.mutable_ref());
  write(9, del);
  SetSnapshotProtectedRequest protect;
  ref(protect.mutable_ref());
  protect.set_is_protected(true);
  write(10, protect);
  SetSnapshotNoteRequest note;
  ref(note.mutable_ref());
  note.set_sealed_note("note");
  write(11, note);
  BeginWriteRequest begin;
  ref(begin.mutable_parent());
  write(12, begin);
  EndWriteRequest end;
  end.set_writer(1);
  write(13, end);
  write(14, BeginGcRequest());
  AddGcMarksRequest marks;
  marks.set_gc_id(1);
  marks.set_prefixes(id_bytes.substr(0, 16));
  write(15, marks);
  FinishGcRequest finish;
  finish.set_gc_id(1);
  write(16, finish);
  AbortGcRequest abort;
  abort.set_gc_id(1);
  write(17, abort);
}

// Requests an append-only client may make and, mostly, may not, naming what
// the append_only_request target's store holds (TheAppendOnlyFixture()).
void AppendOnlyRequests() {
  using namespace coffer::service;
  const fuzz::AppendOnlyFixture& fixture = fuzz::TheAppendOnlyFixture();
  const crypto::Sealer& sealer = fuzz::FixedSealer();
  const fuzz::FixtureSnapshot& protected_snapshot = fixture.snapshots[0];
  const fuzz::FixtureSnapshot& plain_snapshot = fixture.snapshots[1];
  const fuzz::FixtureSnapshot& noted_snapshot = fixture.snapshots[2];
  auto first_of = [&](ObjectKind kind) -> const fuzz::FixtureObject& {
    return *std::find_if(fixture.objects.begin(), fixture.objects.end(),
                         [&](const fuzz::FixtureObject& o) { return o.kind == kind; });
  };
  const fuzz::FixtureObject& chunk = first_of(ObjectKind::kChunk);
  const fuzz::FixtureObject& tree = first_of(ObjectKind::kTree);
  auto seal = [&](ObjectKind kind, const ObjectId& id, ByteView plain) {
    Result<Bytes> sealed = sealer.Seal(kind, id, plain);
    if (!sealed.ok()) fuzz::Fail(sealed.status().message());
    return std::string(AsChars(*sealed));
  };
  auto set_ref = [](const SnapshotRef& ref, SnapshotRefMsg* out) {
    out->set_group(ref.group);
    out->set_time_ns(ref.time_ns);
    out->set_id(IdBytes(ref.id));
  };
  auto write = [](fuzz::ServiceCall call, const std::string& what,
                  const google::protobuf::MessageLite& req) {
    const auto method = static_cast<uint8_t>(call);
    Bytes input{method};
    const Bytes body = model::Encode(req);
    input.insert(input.end(), body.begin(), body.end());
    char prefix[8];
    std::snprintf(prefix, sizeof prefix, "%02d-", method);
    Write("append_only_request", prefix + what, input);
  };
  using C = fuzz::ServiceCall;

  // Allowed: reads, writers, objects and new snapshots.
  HelloRequest hello;
  hello.set_client("fuzz");
  hello.add_writers(1);
  write(C::kHello, "with-writer", hello);
  for (const auto& [key, value] : fixture.meta) {
    GetMetaRequest get_meta;
    get_meta.set_key(key);
    write(C::kGetMeta, key, get_meta);
  }
  ContainsRequest contains;
  contains.set_kind(1);
  for (const fuzz::FixtureObject& o : fixture.objects) {
    if (o.kind == ObjectKind::kChunk) contains.set_ids(contains.ids() + IdBytes(o.id));
  }
  write(C::kContains, "chunks", contains);
  // A new chunk; and other bytes under a stored chunk's and tree's ids, which
  // an append-only client may not store over them.
  const ByteView new_plain = AsBytes(std::string_view("a chunk the fixture does not have"));
  const ObjectId new_id = sealer.IdOf(new_plain);
  PutObjectsRequest put;
  SealedObject* object = put.add_objects();
  object->set_kind(1);
  object->set_id(IdBytes(new_id));
  object->set_sealed(seal(ObjectKind::kChunk, new_id, new_plain));
  write(C::kPutObjects, "new-chunk", put);
  put.Clear();
  object = put.add_objects();
  object->set_kind(1);
  object->set_id(IdBytes(chunk.id));
  object->set_sealed(seal(ObjectKind::kChunk, new_id, new_plain));
  object = put.add_objects();
  object->set_kind(2);
  object->set_id(IdBytes(tree.id));
  object->set_sealed("not the tree");
  write(C::kPutObjects, "over-stored-objects", put);
  GetRequest get;
  get.set_kind(2);
  get.set_id(IdBytes(tree.id));
  write(C::kGet, "tree", get);
  GetObjectsRequest get_objects;
  get_objects.set_kind(1);
  get_objects.set_ids(contains.ids() + std::string(32, '\0'));
  write(C::kGetObjects, "chunks-and-absent", get_objects);
  // A new snapshot in a fixture group; another record at a stored snapshot's
  // group and time (refused: nothing is overwritten).
  pb::Snapshot record;
  record.set_version(1);
  record.set_group(plain_snapshot.ref.group);
  record.set_time_ns(plain_snapshot.ref.time_ns + 3'600'000'000'000);
  record.set_root_tree_id(IdBytes(tree.id));
  const Bytes record_bytes = model::Encode(record);
  const ObjectId record_id = sealer.IdOf(record_bytes);
  CommitSnapshotRequest commit;
  set_ref(SnapshotRef{record.group(), record.time_ns(), record_id}, commit.mutable_ref());
  commit.set_sealed_record(seal(ObjectKind::kSnapshot, record_id, record_bytes));
  write(C::kCommitSnapshot, "new", commit);
  record.set_group("host/new");
  const Bytes other_group_bytes = model::Encode(record);
  const ObjectId other_group_id = sealer.IdOf(other_group_bytes);
  set_ref(SnapshotRef{record.group(), record.time_ns(), other_group_id}, commit.mutable_ref());
  commit.set_sealed_record(seal(ObjectKind::kSnapshot, other_group_id, other_group_bytes));
  write(C::kCommitSnapshot, "new-group", commit);
  set_ref(SnapshotRef{protected_snapshot.ref.group, protected_snapshot.ref.time_ns, record_id},
          commit.mutable_ref());
  write(C::kCommitSnapshot, "over-protected", commit);
  ListSnapshotsRequest list;
  write(C::kListSnapshots, "all", list);
  list.set_group(noted_snapshot.ref.group);
  write(C::kListSnapshots, "noted-group", list);
  BeginWriteRequest begin;
  set_ref(plain_snapshot.ref, begin.mutable_parent());
  write(C::kBeginWrite, "with-parent", begin);
  write(C::kBeginWrite, "without-parent", BeginWriteRequest());
  EndWriteRequest end;
  end.set_writer(1);
  write(C::kEndWrite, "1", end);

  // Not allowed: meta, removing, protecting, annotating, collecting.
  PutMetaRequest put_meta;
  put_meta.set_key("config");
  put_meta.set_value("not the config");
  write(C::kPutMeta, "over-config", put_meta);
  for (const auto& [key, value] : fixture.meta) {
    if (key == "config") put_meta.set_value(std::string(AsChars(value)));
  }
  write(C::kPutMeta, "config-as-it-is", put_meta);
  put_meta.set_key("snapshot-protected/" +
                   SnapshotKey(plain_snapshot.ref.group, plain_snapshot.ref.time_ns));
  put_meta.set_value("1");
  write(C::kPutMeta, "protect-by-meta", put_meta);
  for (const auto& [what, s] : {std::pair{"protected", &protected_snapshot},
                                {"plain", &plain_snapshot},
                                {"noted", &noted_snapshot}}) {
    DeleteSnapshotRequest del;
    set_ref(s->ref, del.mutable_ref());
    write(C::kDeleteSnapshot, what, del);
  }
  SetSnapshotProtectedRequest protect;
  set_ref(protected_snapshot.ref, protect.mutable_ref());
  protect.set_is_protected(false);
  write(C::kSetSnapshotProtected, "unprotect", protect);
  set_ref(plain_snapshot.ref, protect.mutable_ref());
  protect.set_is_protected(true);
  write(C::kSetSnapshotProtected, "protect", protect);
  SetSnapshotNoteRequest note;
  set_ref(noted_snapshot.ref, note.mutable_ref());
  write(C::kSetSnapshotNote, "clear", note);
  set_ref(plain_snapshot.ref, note.mutable_ref());
  note.set_sealed_note(seal(ObjectKind::kSnapshotNote, plain_snapshot.ref.id, noted_snapshot.note));
  write(C::kSetSnapshotNote, "add", note);
  write(C::kBeginGc, "begin", BeginGcRequest());
  AddGcMarksRequest marks;
  marks.set_gc_id(1);
  marks.set_prefixes(IdBytes(chunk.id).substr(0, 8));
  write(C::kAddGcMarks, "one", marks);
  FinishGcRequest finish;
  finish.set_gc_id(1);
  write(C::kFinishGc, "1", finish);
  AbortGcRequest abort;
  abort.set_gc_id(1);
  write(C::kAbortGc, "1", abort);
}

// A chain of three lists (a whole set, then two differences), as records;
// the base ids are fixed up by the target, so they are left as written.
void NeedsLists() {
  auto object = [](ObjectKind kind, uint8_t n) {
    NeededObject o{kind, {}};
    o.id.bytes.fill(n);
    return o;
  };
  NeedsList whole;
  whole.added = {object(ObjectKind::kChunk, 1), object(ObjectKind::kChunk, 2),
                 object(ObjectKind::kTree, 3), object(ObjectKind::kTree, 4)};
  const Bytes whole_bytes = EncodeNeedsList(whole);
  NeedsList first;
  first.base = NeedsListId(whole_bytes);
  first.added = {object(ObjectKind::kChunk, 5), object(ObjectKind::kTree, 6)};
  first.removed = {object(ObjectKind::kChunk, 1), object(ObjectKind::kTree, 4)};
  const Bytes first_bytes = EncodeNeedsList(first);
  NeedsList second;
  second.base = NeedsListId(first_bytes);
  second.added = {object(ObjectKind::kTree, 4)};
  second.removed = {object(ObjectKind::kChunk, 5)};
  Bytes input;
  fuzz::AppendRecord(input, EncodeNeedsList(second));
  fuzz::AppendRecord(input, first_bytes);
  fuzz::AppendRecord(input, whole_bytes);
  Write("needs_list", "chain-of-three", input);
  Bytes alone;
  fuzz::AppendRecord(alone, whole_bytes);
  Write("needs_list", "whole-set", alone);
  Bytes empty;
  fuzz::AppendRecord(empty, EncodeNeedsList(NeedsList{}));
  Write("needs_list", "empty", empty);
}

// A copy in object storage: a pack of three objects and an empty one, an
// index of both, snapshot records and names (s3_bucket); and what an S3
// server answers, the AWS files, addresses and an environment, each after
// the byte that selects its reader (s3_responses).
void S3Records() {
  auto id = [](uint8_t n) {
    ObjectId o;
    o.bytes.fill(n);
    return o;
  };
  const std::string data = "first object|a tree's bytes|a needs list";
  const std::vector<s3::PackEntry> entries = {{ObjectKind::kChunk, id(1), 0, 13},
                                              {ObjectKind::kTree, id(2), 13, 15},
                                              {ObjectKind::kNeeds, id(3), 28, 12}};
  Bytes pack(data.begin(), data.end());
  const Bytes trailer = s3::EncodePackTrailer(entries);
  pack.insert(pack.end(), trailer.begin(), trailer.end());
  Write("s3_bucket", "pack", pack);
  const Bytes empty_pack = s3::EncodePackTrailer({});
  Write("s3_bucket", "pack-empty", empty_pack);
  const std::vector<s3::IndexedPack> packs = {{s3::ContentId(pack), pack.size(), entries},
                                              {s3::ContentId(empty_pack), empty_pack.size(), {}}};
  Write("s3_bucket", "index", s3::EncodeIndex(packs));
  s3::BucketSnapshot snapshot;
  snapshot.id = id(4);
  snapshot.sealed = Bytes(24, 0x5a);
  Write("s3_bucket", "snapshot-plain", s3::EncodeSnapshot(snapshot));
  snapshot.is_protected = true;
  snapshot.needs = id(5);
  snapshot.sealed_note = Bytes(8, 0xa5);
  Write("s3_bucket", "snapshot-full", s3::EncodeSnapshot(snapshot));
  Write("s3_bucket", "snapshot-name",
        std::string_view(s3::SnapshotName("host/web", 1'795'485'600'123'456'789)));
  Write("s3_bucket", "snapshot-name-1969", std::string_view(s3::SnapshotName("g", -1)));

  auto text = [](const std::string& name, char mode, std::string_view body) {
    Write("s3_responses", name, std::string(1, mode) + std::string(body));
  };
  const std::string list_head =
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/">)"
      "<Name>bkt</Name><Prefix>a/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>";
  const std::string contents =
      "<Contents><Key>a/h.txt</Key><LastModified>2026-12-06T23:47:33.000Z</LastModified>"
      "<ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size>"
      "<StorageClass>STANDARD</StorageClass></Contents>";
  text("list-page", 0,
       list_head + "<IsTruncated>false</IsTruncated>" + contents + "</ListBucketResult>");
  text("list-truncated", 0,
       list_head + "<IsTruncated>true</IsTruncated>" + contents +
           "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
           "</NextContinuationToken></ListBucketResult>");
  text("list-escaped", 0,
       "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a/x&amp;y&#233;"
       "<![CDATA[<z>]]></Key><Size>18446744073709551615</Size></Contents>"
       "<CommonPrefixes><Prefix>a/sub/</Prefix></CommonPrefixes></ListBucketResult>");
  text("list-empty", 0, "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>");
  text("error-no-such-bucket", 1,
       R"(<?xml version="1.0" encoding="UTF-8"?>)"
       "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
       "<BucketName>bkt</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  text("error-slow-down", 1,
       "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
  text("error-html", 1, "<html><body><h1>502 Bad Gateway</h1><hr></body></html>");
  text("ini-credentials", 2,
       "# written by aws configure\n[default]\naws_access_key_id = AKIAEXAMPLE\n"
       "aws_secret_access_key = secret\n[dev]\naws_session_token = token\n");
  text("ini-config", 2,
       "[profile minio]\nregion = eu-central-1\ns3 =\n    endpoint_url = http://10.0.0.5:9000\n"
       "    addressing_style = path\n; done\noutput = json\n");
  text("address", 3, "s3://my-bucket/backups/host-1/");
  text("address-bucket", 3, "s3://bkt");
  text("environment", 4,
       "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=secret\nAWS_SESSION_TOKEN=token\n"
       "AWS_REGION=eu-west-1\nAWS_ENDPOINT_URL_S3=https://s3.example:9000/\n"
       "AWS_CA_BUNDLE=/etc/ssl/ca.pem\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--new-key") {
    crypto::KeySet keys = crypto::KeySet::Generate();
    Result<Bytes> wrapped = keys.Wrap(fuzz::kFixedPassphrase, crypto::KdfParams::Minimum());
    if (!wrapped.ok()) fuzz::Fail(wrapped.status().message());
    for (size_t i = 0; i < wrapped->size(); ++i) {
      std::printf("0x%02x,%s", (*wrapped)[i], i % 12 == 11 ? "\n" : " ");
    }
    std::printf("\n");
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus DIR | --new-key\n");
    return 2;
  }
  g_dir = argv[1];
  SealedObjects();
  Trees();
  SnapshotRecords();
  RepoConfigs();
  Texts();
  PosixAcls();
  PaperKeys();
  ServerRequests();
  AppendOnlyRequests();
  NeedsLists();
  S3Records();
  return 0;
}
