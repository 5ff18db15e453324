#include "store/ingest/vma_import.h"

#include <chrono>
#include <map>
#include <set>

#include "store/chunk/image_chunks.h"
#include "store/ingest/commit_record.h"
#include "store/ingest/image_builder.h"
#include "store/model/tree.h"
#include "store/repo/write_session.h"

namespace coffer::ingest {
namespace {

static_assert(vma::kClusterSize == chunk::kImageChunkSize,
              "a VMA cluster must be exactly one image chunk");

constexpr uint32_t kFileMode = 0640;  // what /etc/pve gives a guest's config

// A name from the archive is used as a file name in the snapshot.
Status CheckFileName(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return Status::Corruption(what + " '" + name + "' cannot be a file name");
  }
  return Status::Ok();
}

pb::Entry FileEntry(const std::string& name, int64_t time_ns) {
  pb::Entry entry;
  entry.set_name(name);
  entry.set_type(pb::Entry::FILE);
  entry.set_mode(kFileMode);
  entry.set_user("root");
  entry.set_group("root");
  entry.set_mtime_ns(time_ns);
  entry.set_ctime_ns(time_ns);
  entry.set_nlink(1);
  return entry;
}

}  // namespace

std::string ImageFileName(std::string_view device_name) {
  return std::string(device_name) + ".img";
}

VmaImporter::VmaImporter(Repository& repo, BackupOptions options, BackupProgress* progress)
    : repo_(repo), options_(std::move(options)), progress_(progress ? progress : &own_progress_) {}

Result<BackupResult> VmaImporter::Import(const vma::ReadFn& read, const std::string& source_name) {
  const auto start = std::chrono::steady_clock::now();
  // Named once: a failed read of the source already names it.
  auto in_source = [&source_name](const Status& status) {
    if (status.message().find(source_name) != std::string::npos) return status;
    return Status(status.code(), source_name + ": " + status.message());
  };
  vma::Reader reader(read);
  auto header = reader.ReadHeader();
  if (!header.ok()) return in_source(header.status());
  const int64_t archive_time_ns = header->ctime * 1'000'000'000;

  WriteSession session(repo_);
  pb::Tree root;
  std::set<std::string> names;
  auto add_name = [&](const std::string& name, const std::string& what) -> Status {
    COFFER_RETURN_IF_ERROR(CheckFileName(name, what));
    if (!names.insert(name).second) {
      return Status::Corruption(what + " '" + name + "' is in the archive twice");
    }
    return Status::Ok();
  };

  uint64_t config_bytes = 0;
  for (const vma::Config& config : header->configs) {
    if (Status s = add_name(config.name, "config"); !s.ok()) return in_source(s);
    pb::Entry entry = FileEntry(config.name, archive_time_ns);
    entry.set_size(config.data.size());
    config_bytes += config.data.size();
    if (!config.data.empty()) {
      auto id = session.AddChunk(config.data);
      if (!id.ok()) return id.status();
      pb::Extent* extent = entry.add_extents();
      extent->set_chunk_id(id->bytes.data(), id->bytes.size());
      extent->set_size(config.data.size());
    }
    *root.add_entries() = std::move(entry);
  }

  // The disks' chunks are hashed and sealed here, not in this thread, which
  // reads the archive (declared before the disks: their builders wait for it).
  const unsigned cores = Executor::DefaultThreads();
  Executor hashers(cores, cores);
  struct Disk {
    std::string file_name;
    std::unique_ptr<ImageBuilder> image;
  };
  std::map<uint8_t, Disk> disks;
  for (const vma::Device& device : header->devices) {
    Disk disk{ImageFileName(device.name), nullptr};
    if (Status s = add_name(disk.file_name, "device"); !s.ok()) return in_source(s);
    COFFER_ASSIGN_OR_RETURN(disk.image, ImageBuilder::Create(session, device.size,
                                                             ImageBuilder::Order::kAny, &hashers));
    disks.emplace(device.id, std::move(disk));
  }

  uint64_t bytes_read = 0;
  progress_->set_current(source_name);
  while (true) {
    auto next = reader.Next();
    if (!next.ok()) return in_source(next.status());
    if (!next->has_value()) break;
    const vma::Cluster& cluster = **next;
    auto disk = disks.find(cluster.device_id);
    if (disk == disks.end()) {  // the reader checks this; never trust one layer alone
      return in_source(
          Status::Corruption("a cluster of unknown device " + std::to_string(cluster.device_id)));
    }
    ImageBuilder& image = *disk->second.image;
    const uint64_t length = chunk::ImageChunkLength(image.size(), cluster.index);
    bytes_read += length;
    progress_->bytes_read += length;
    if (cluster.mask == 0) continue;  // all zero: stays a hole
    if (Status s = image.Put(cluster.index, cluster.data.first(length)); !s.ok()) {
      return s.code() == Code::kInvalidArgument ? in_source(Status::Corruption(s.message())) : s;
    }
  }

  uint64_t bytes_total = config_bytes;
  for (auto& [id, disk] : disks) {
    pb::Entry entry = FileEntry(disk.file_name, archive_time_ns);
    COFFER_RETURN_IF_ERROR(disk.image->Finish(&entry));
    bytes_total += entry.size();
    *root.add_entries() = std::move(entry);
    ++progress_->files;
  }
  model::SortEntries(&root);
  COFFER_ASSIGN_OR_RETURN(ObjectId root_id, session.AddTree(root));

  pb::SnapshotStats stats;
  stats.set_files_new(static_cast<uint64_t>(root.entries_size()));
  stats.set_files_total(static_cast<uint64_t>(root.entries_size()));
  stats.set_bytes_read(bytes_read);
  stats.set_bytes_total(bytes_total);
  COFFER_ASSIGN_OR_RETURN(Snapshot committed,
                          CommitRecord(session, options_, root_id, {source_name}, std::nullopt,
                                       /*incomplete=*/false, std::move(stats), start));
  return BackupResult{std::move(committed), {}};
}

}  // namespace coffer::ingest
