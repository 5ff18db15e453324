// The object service's limits, in one place. Both ends enforce them: the
// client refuses early, the server refuses whatever a client sends anyway
// (INVALID_ARGUMENT or RESOURCE_EXHAUSTED, nothing stored, still serving).
#pragma once

#include <cstddef>
#include <cstdint>

namespace coffer::service {

// Bumped whenever the messages or their meaning change incompatibly.
// 3: GetObjects. 4: ListMeta and RemoveKeySlot (key slots). 5: needs
// lists (ObjectKind::kNeeds) in Contains, PutObjects, Get and GetObjects,
// and a snapshot's needs in CommitSnapshot, ListSnapshots, BeginGc and
// SetSnapshotNeeds. 6: GetObjects reads checked (GetManyChecked) when asked.
constexpr uint32_t kProtocolVersion = 6;

// Largest gRPC message either way. Holds one maximal object plus framing, or
// one full PutObjects batch.
constexpr size_t kMaxMessageBytes = 32u << 20;
// Largest sealed object (a 4 MiB chunk seals to a bit more; trees are split).
constexpr size_t kMaxObjectBytes = 16u << 20;
// Largest meta key and value.
constexpr size_t kMaxMetaKeyBytes = 1024;
constexpr size_t kMaxMetaValueBytes = 1u << 20;
// Most records one ListMeta answers (the key slots are at most 100).
constexpr size_t kMaxListedMetaRecords = 256;
// Largest snapshot group name.
constexpr size_t kMaxGroupBytes = 4096;
// Ids per Contains call (16 KiB of ids is 512 KiB of request).
constexpr size_t kMaxContainsIds = 16384;
// Objects per PutObjects call; their bytes are bounded by kMaxMessageBytes.
constexpr size_t kMaxPutObjects = 1024;

// Ids per GetObjects call (8 KiB of request).
constexpr size_t kMaxGetObjectsIds = 256;
// A GetObjects response holds objects up to this many bytes; it stops before
// an object that would go beyond (a first object larger than this goes alone).
constexpr size_t kGetObjectsReplyBytes = 8u << 20;

// What RemoteObjectStore sends in one PutObjects call: a batch is sent once
// it holds this many bytes or objects (a single larger object goes alone).
// Up to three batches are in memory (one filling, two in flight), each also
// serialized by gRPC: 4 MiB keeps that near 20 MiB, and a round trip per
// 4 MiB is still a small part of storing them.
constexpr size_t kBatchBytes = 4u << 20;
constexpr size_t kBatchObjects = 256;
// Id prefixes per AddGcMarks call (8 MiB of request).
constexpr size_t kMaxGcMarks = 1u << 20;
// Writer registrations a Hello may refresh.
constexpr size_t kMaxHelloWriters = 1024;
// Snapshots per ListSnapshots (and BeginGc) response page.
constexpr size_t kListPageBytes = 4u << 20;

// HTTP/2 tuning, both ends: the largest frame a peer may send (the protocol
// allows up to 2^24-1) and the initial flow-control window of a stream.
constexpr int kHttp2MaxFrameBytes = (1 << 24) - 1;
constexpr int kHttp2WindowBytes = 32 << 20;
// Bytes gRPC asks of the socket per read (its default starts at 8 KiB).
constexpr int kSocketReadBytes = 1 << 20;

static_assert(kBatchBytes + kMaxObjectBytes + (64u << 10) <= kMaxMessageBytes);
static_assert(kBatchObjects <= kMaxPutObjects);
static_assert(kGetObjectsReplyBytes + kMaxObjectBytes + (64u << 10) <= kMaxMessageBytes);

}  // namespace coffer::service
