// Unit tests of the data plane: subpartitions, record framing across buffers, the wire format, and
// credit-based exchange over a real loopback TCP connection (in one process).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "sluice/key_groups.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/client_connection.h"
#include "taskmanager/network/connection_manager.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/local_channel.h"
#include "taskmanager/network/record_writer.h"
#include "taskmanager/network/remote_channel.h"
#include "taskmanager/network/server.h"
#include "taskmanager/network/socket.h"
#include "taskmanager/network/wire.h"

namespace sluice::network {
namespace {

BufferPtr Data(std::vector<uint8_t> bytes) {
  BufferPtr b = MakeHeapBuffer(std::max<size_t>(bytes.size(), 1));
  b->Append(bytes.data(), bytes.size());
  return b;
}

std::vector<uint8_t> Bytes(const Buffer& b) {
  return std::vector<uint8_t>(b.data, b.data + b.size);
}

//! A pool over its own small network memory.
std::shared_ptr<LocalBufferPool> Pool(int buffers, size_t segment = 128) {
  auto global =
      std::make_shared<NetworkBufferPool>(static_cast<size_t>(buffers) * segment, segment);
  return *LocalBufferPool::Create(global, buffers, "test");
}

TEST(SubpartitionTest, ProducerBlocksWhenFullAndEventsBypassCapacity) {
  Subpartition sub(1);
  ASSERT_TRUE(sub.Add(Data({1})));
  std::atomic<bool> added{false};
  std::thread producer([&] {
    sub.Add(Data({2}));
    added = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(added.load());  // full: the producer waits (backpressure)
  EXPECT_TRUE(sub.Add(MakeEvent(BufferKind::kEndOfPartition)));  // no wait for space
  auto first = sub.Poll();
  ASSERT_TRUE(first);
  producer.join();
  EXPECT_TRUE(added.load());
}

//! A subpartition of `capacity` buffers, filled, and a producer thread blocked adding one more;
//! `added` turns true once it resumes. Released at the end, so that the producer always returns.
struct BlockedProducer {
  explicit BlockedProducer(int capacity) : sub(capacity) {
    for (int i = 0; i < capacity; ++i) EXPECT_TRUE(sub.Add(Data({static_cast<uint8_t>(i)})));
    producer = std::thread([this, capacity] {
      sub.Add(Data({static_cast<uint8_t>(capacity)}), {&since, &total});
      added = true;
    });
    // `since` is set while the producer waits: it is blocked from then on.
    while (since.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  //! Whether the producer resumed within 10 s.
  bool Resumed() {
    for (int i = 0; i < 10'000 && !added.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return added.load();
  }
  ~BlockedProducer() {
    sub.Release();
    producer.join();
  }
  Subpartition sub;
  std::atomic<bool> added{false};
  std::atomic<int64_t> since{0}, total{0};
  std::thread producer;
};

TEST(SubpartitionTest, ABlockedProducerResumesOnceAQuarterOfTheQueueIsLeft) {
  BlockedProducer p(8);
  ASSERT_FALSE(p.added.load());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.sub.Poll());  // 3 queued: room, but the producer waits
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(p.added.load());
  ASSERT_TRUE(p.sub.Poll());  // 2 queued: a quarter of the capacity
  EXPECT_TRUE(p.Resumed());
  int backlog = -1;
  ASSERT_TRUE(p.sub.Poll(&backlog));
  EXPECT_EQ(backlog, 2);  // the producer's buffer is behind the two left
}

TEST(SubpartitionTest, ASmallQueueResumesWithOneBufferLeft) {
  // A quarter of 2 or 3 rounds down to none; the producer still resumes before the queue is
  // empty, so that its consumer has something to take while the producer wakes up.
  BlockedProducer p(3);
  ASSERT_TRUE(p.sub.Poll());  // 2 queued
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(p.added.load());
  ASSERT_TRUE(p.sub.Poll());  // 1 queued
  EXPECT_TRUE(p.Resumed());
}

TEST(SubpartitionTest, AWaitingProducerShowsItsWaitWhileItLasts) {
  // The metrics reporter counts a wait in progress from `since`: a producer blocked for seconds
  // must not look unblocked until it resumes.
  Subpartition sub(1);
  ASSERT_TRUE(sub.Add(Data({1})));
  std::atomic<int64_t> since{0}, total{0};
  std::thread producer([&] { sub.Add(Data({2}), {&since, &total}); });
  for (int i = 0; i < 500 && since.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(since.load(), 0) << "the blocked producer did not publish when its wait began";
  EXPECT_EQ(total.load(), 0);
  ASSERT_TRUE(sub.Poll());
  producer.join();
  EXPECT_EQ(since.load(), 0);
  EXPECT_GT(total.load(), 0);
}

TEST(SubpartitionTest, ReleaseWakesABlockedProducer) {
  Subpartition sub(1);
  ASSERT_TRUE(sub.Add(Data({1})));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = sub.Add(Data({2})) ? 1 : 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sub.Release();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_FALSE(sub.Add(Data({3})));
}

struct Rec {
  int64_t key = 0;
  std::string payload;
  SLUICE_FIELDS(key, payload)
};

//! Reads everything a subpartition holds back into records.
std::vector<Rec> Drain(Subpartition& sub, bool* ended) {
  std::vector<Rec> out;
  RecordReader reader;
  while (auto b = sub.Poll()) {
    if (b->kind == BufferKind::kEndOfPartition) {
      EXPECT_FALSE(reader.has_partial());
      *ended = true;
      continue;
    }
    reader.Read(b->data, b->size, [&](const uint8_t* d, size_t n) {
      Rec r;
      DeserializeRecord(d, n, r);
      out.push_back(r);
    });
  }
  return out;
}

//! Writes the records through a forward RecordWriter over `segment`-byte buffers, then reads them
//! back from the subpartition: every record, in order, and the end of the partition.
void ExpectRoundTrip(const std::vector<Rec>& sent, size_t segment) {
  auto partition = std::make_shared<ResultPartition>("j.0/p", 1, 1000, Pool(1000, segment));
  RecordWriter writer(partition, PartitionKind::kForward, 128, nullptr, &SerializeErased<Rec>, 0);
  for (const Rec& r : sent) writer.Emit(&r);
  writer.Finish();
  bool ended = false;
  auto got = Drain(partition->subpartition(0), &ended);
  EXPECT_TRUE(ended);
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].key, sent[i].key);
    EXPECT_EQ(got[i].payload, sent[i].payload);
  }
}

TEST(RecordWriterTest, RecordsLargerThanABufferSpanSeveralBuffers) {
  std::vector<Rec> sent;
  for (int i = 0; i < 200; ++i) {
    sent.push_back(
        Rec{i, std::string(static_cast<size_t>(i * 7 % 300), static_cast<char>('a' + i % 26))});
  }
  ExpectRoundTrip(sent, 64);
}

TEST(RecordWriterTest, LengthPrefixSplitAcrossBuffersIsReassembled) {
  // With 3-byte buffers even the 4-byte length prefix spans buffers.
  auto partition = std::make_shared<ResultPartition>("j.0/p", 1, 10000, Pool(1000, 3));
  RecordWriter writer(partition, PartitionKind::kForward, 128, nullptr, &SerializeErased<Rec>, 0);
  for (int i = 0; i < 50; ++i) {
    Rec r{i, "x"};
    writer.Emit(&r);
  }
  writer.Finish();
  bool ended = false;
  auto got = Drain(partition->subpartition(0), &ended);
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got[49].key, 49);
}

TEST(RecordWriterTest, RecordsThatFillBuffersExactlyAreSerializedInPlace) {
  // 4-byte length + 8-byte key + 1-byte length + 19 bytes = 32: two records per 64-byte buffer,
  // then records that leave 1..4 bytes of room (the length slot no longer fits).
  std::vector<Rec> sent;
  for (int i = 0; i < 40; ++i) {
    sent.push_back(Rec{i, std::string(i < 20 ? 19 : static_cast<size_t>(15 + i % 5), 'p')});
  }
  ExpectRoundTrip(sent, 64);
}

TEST(RecordWriterTest, HashPartitioningFollowsKeyGroups) {
  for (int max_p : {128, 100}) {  // power of two (masked) and not (modulo)
    const int channels = 3;
    auto partition = std::make_shared<ResultPartition>("j.0/p", channels, 10000, Pool(1000));
    auto key_hash = [](const void* r) { return KeyHash(static_cast<const Rec*>(r)->key); };
    RecordWriter writer(partition, PartitionKind::kHash, max_p, key_hash, &SerializeErased<Rec>, 0);
    // Keys that change with every record, then runs of one key (the writer reuses the previous
    // record's channel while the key hash repeats), starting with key 0 — whose hash, 0, is
    // what the writer holds before its first record.
    std::vector<int64_t> keys;
    for (int i = 0; i < 250; ++i) keys.push_back(i == 0 ? 0 : i * 7919 - 1000);
    for (int run = 0; keys.size() < 500; ++run) {
      keys.insert(keys.end(), static_cast<size_t>(run % 4 + 1), run % 3 == 0 ? 0 : run * 31 - 7);
    }
    keys.resize(500);
    for (int64_t key : keys) {
      Rec r{key, ""};
      writer.Emit(&r);
    }
    writer.Finish();
    int total = 0;
    for (int c = 0; c < channels; ++c) {
      bool ended = false;
      for (const Rec& r : Drain(partition->subpartition(c), &ended)) {
        EXPECT_EQ(OperatorIndexForKeyGroup(max_p, channels, KeyGroupFor(r.key, max_p)), c) << max_p;
        ++total;
      }
      EXPECT_TRUE(ended);
    }
    EXPECT_EQ(total, 500);
  }
}

TEST(RecordWriterTest, BroadcastAndRebalance) {
  auto bp = std::make_shared<ResultPartition>("j.0/b", 3, 10000, Pool(100));
  RecordWriter broadcast(bp, PartitionKind::kBroadcast, 128, nullptr, &SerializeErased<Rec>, 0);
  auto rp = std::make_shared<ResultPartition>("j.0/r", 3, 10000, Pool(100));
  RecordWriter rebalance(rp, PartitionKind::kRebalance, 128, nullptr, &SerializeErased<Rec>, 0);
  for (int i = 0; i < 30; ++i) {
    Rec r{i, ""};
    broadcast.Emit(&r);
    rebalance.Emit(&r);
  }
  broadcast.Finish();
  rebalance.Finish();
  for (int c = 0; c < 3; ++c) {
    bool ended = false;
    EXPECT_EQ(Drain(bp->subpartition(c), &ended).size(), 30u);
    EXPECT_EQ(Drain(rp->subpartition(c), &ended).size(), 10u);
  }
}

TEST(WireTest, FramesRoundTrip) {
  Frame f;
  f.type = FrameType::kPartitionRequest;
  f.channel = 42;
  f.subpartition = 3;
  f.credit = 2;
  f.text = "job.0/1-2.0/1";
  std::string enc = EncodeHeader(f, 0);
  auto d = DecodeBody(reinterpret_cast<const uint8_t*>(enc.data()) + 4, enc.size() - 4);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->channel, 42u);
  EXPECT_EQ(d->subpartition, 3u);
  EXPECT_EQ(d->credit, 2u);
  EXPECT_EQ(d->text, f.text);
}

TEST(WireTest, MalformedFramesAreRejectedNotCrashing) {
  const uint8_t unknown[] = {99, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(DecodeBody(unknown, sizeof(unknown)).ok());
  const uint8_t short_frame[] = {10, 1, 2};
  EXPECT_FALSE(DecodeBody(short_frame, sizeof(short_frame)).ok());
  Frame f;
  f.type = FrameType::kBuffer;
  f.kind = BufferKind::kData;
  std::string enc = EncodeHeader(f, 0);
  enc[enc.size() - 1] = 7;  // unknown buffer kind
  EXPECT_FALSE(DecodeBody(reinterpret_cast<const uint8_t*>(enc.data()) + 4, enc.size() - 4).ok());
  // Every truncation of a valid buffer frame header fails cleanly.
  std::string ok = EncodeHeader(f, 0);
  for (size_t n = 0; n + 1 < ok.size() - 4; ++n) {
    EXPECT_FALSE(DecodeBody(reinterpret_cast<const uint8_t*>(ok.data()) + 4, n).ok()) << n;
  }
}

TEST(WireTest, FixedFieldsDecodeWithoutTheTail) {
  // The consumer's reader decodes a buffer frame's fixed fields before its payload has arrived.
  Frame f;
  f.type = FrameType::kBuffer;
  f.channel = 42;
  f.seq = 7;
  f.backlog = 3;
  f.kind = BufferKind::kEndOfPartition;
  std::string enc = EncodeHeader(f, /*payload_size=*/1000);
  ASSERT_EQ(enc.size(), 4 + kBufferHeaderBytes);
  EXPECT_EQ(FixedFieldBytes(FrameType::kBuffer), kBufferHeaderBytes);
  Frame d;
  ASSERT_TRUE(DecodeFixedFields(reinterpret_cast<const uint8_t*>(enc.data()) + 4,
                                kBufferHeaderBytes + 1000, &d)
                  .ok());
  EXPECT_EQ(d.type, FrameType::kBuffer);
  EXPECT_EQ(d.channel, 42u);
  EXPECT_EQ(d.seq, 7u);
  EXPECT_EQ(d.backlog, 3u);
  EXPECT_EQ(d.kind, BufferKind::kEndOfPartition);
  // A credit frame is exactly its fixed fields; anything after them is malformed.
  Frame credit;
  credit.type = FrameType::kAddCredit;
  credit.credit = 5;
  enc = EncodeHeader(credit, 0);
  const auto* body = reinterpret_cast<const uint8_t*>(enc.data()) + 4;
  ASSERT_EQ(enc.size() - 4, FixedFieldBytes(FrameType::kAddCredit));
  ASSERT_TRUE(DecodeFixedFields(body, enc.size() - 4, &d).ok());
  EXPECT_EQ(d.credit, 5u);
  EXPECT_FALSE(DecodeFixedFields(body, enc.size() - 4 + 1, &d).ok());
}

//! A producer TaskManager's network server and a consumer's connection manager in one process.
class LoopbackExchange : public ::testing::Test {
 protected:
  void SetUp() override {
    auto port = server_.Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    address_ = "127.0.0.1:" + std::to_string(*port);
  }
  void TearDown() override {
    connections_.Shutdown();
    server_.Shutdown();
  }

  //! Reads until every channel ended; returns data buffers per channel.
  std::vector<int> ReadAll(InputGate& gate, std::string* error) {
    std::vector<int> buffers(static_cast<size_t>(gate.size()));
    int ended = 0;
    while (ended < gate.size()) {
      int ch;
      BufferPtr b;
      auto r = gate.Next(absl::Seconds(20), &ch, &b, error);
      if (r != InputGate::Result::kBuffer) return buffers;
      if (b->kind == BufferKind::kEndOfPartition) {
        ++ended;
      } else {
        ++buffers[static_cast<size_t>(ch)];
      }
    }
    return buffers;
  }

  PartitionManager partitions_;
  NetworkServer server_{&partitions_};
  ConnectionManager connections_;
  std::string address_;
};

//! Records the calls the gate makes, in order.
class RecordingChannel final : public InputChannel {
 public:
  RecordingChannel(int id, std::vector<std::string>* log) : id_(id), log_(log) {}
  void AssignExclusiveBuffers() override { log_->push_back("assign " + std::to_string(id_)); }
  void Start(std::shared_ptr<InputGate>, int) override {
    log_->push_back("start " + std::to_string(id_));
  }
  BufferPtr Poll() override { return nullptr; }
  void Close() override {}

 private:
  int id_;
  std::vector<std::string>* log_;
};

// Regression: remote channels share the gate's pool for exclusive and floating buffers. A channel
// that started (and received data with a backlog) before the next channel took its exclusive
// buffer could borrow that buffer as a floating one; the next channel then started without credit
// and its producer waited for ever (IntegrationBackpressure with one buffer per channel and no
// floating buffers hung about once in 150 runs under load).
TEST(InputGate, EveryChannelHasItsExclusiveBuffersBeforeAnyStarts) {
  std::vector<std::string> log;
  auto gate = std::make_shared<InputGate>();
  for (int i = 0; i < 3; ++i) gate->AddChannel(std::make_shared<RecordingChannel>(i, &log));
  gate->Start();
  EXPECT_EQ(log, (std::vector<std::string>{"assign 0", "assign 1", "assign 2", "start 0", "start 1",
                                           "start 2"}));
}

TEST_F(LoopbackExchange, ChannelsSharingATightPoolEachGetTheirExclusiveBuffer) {
  // Two remote channels, one buffer each and no floating ones; the first producer has a backlog,
  // so its channel asks for floating buffers as soon as data arrives.
  auto gate_pool = Pool(2, 256);
  auto gate = std::make_shared<InputGate>();
  std::vector<std::shared_ptr<RemoteInputChannel>> channels;
  std::vector<std::shared_ptr<ResultPartition>> partitions;
  for (const char* id : {"j.0/t0", "j.0/t1"}) {
    partitions.push_back(std::make_shared<ResultPartition>(id, 1, 8, Pool(8, 256)));
    partitions_.Register(partitions.back());
    channels.push_back(
        std::make_shared<RemoteInputChannel>(&connections_, address_, id, 0, gate_pool, 1));
    gate->AddChannel(channels.back());
  }
  for (int i = 0; i < 6; ++i) {
    BufferPtr b = partitions[0]->pool().Request();
    ASSERT_TRUE(b);
    b->Append(reinterpret_cast<const uint8_t*>("x"), 1);
    partitions[0]->subpartition(0).Add(std::move(b));
  }
  gate->Start();
  EXPECT_EQ(channels[1]->owned(), 1);
  for (auto& p : partitions) p->subpartition(0).Add(MakeEvent(BufferKind::kEndOfPartition));
  std::string error;
  auto counts = ReadAll(*gate, &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(counts[0], 6);
  gate->Close();
}

TEST_F(LoopbackExchange, OneExclusiveBufferAndNoFloatingDoNotDeadlock) {
  auto gate_pool = Pool(1, 256);  // 1 exclusive, 0 floating
  auto gate = std::make_shared<InputGate>();
  gate->AddChannel(
      std::make_shared<RemoteInputChannel>(&connections_, address_, "j.0/a", 0, gate_pool, 1));
  gate->Start();  // requested before the producer exists: the request waits
  auto partition = std::make_shared<ResultPartition>("j.0/a", 1, 1, Pool(2, 256));
  partitions_.Register(partition);
  std::thread producer([&] {
    for (int i = 0; i < 2000; ++i) {
      BufferPtr b = partition->pool().RequestBlocking(nullptr);
      std::vector<uint8_t> bytes(100, static_cast<uint8_t>(i));
      b->Append(bytes.data(), bytes.size());
      partition->subpartition(0).Add(std::move(b));
    }
    partition->subpartition(0).Add(MakeEvent(BufferKind::kEndOfPartition));
  });
  std::string error;
  auto counts = ReadAll(*gate, &error);
  producer.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(counts[0], 2000);
  gate->Close();
}

TEST_F(LoopbackExchange, AConsumerThatStopsReadingNeverBlocksTheProducingThread) {
  // The test is the consumer, on a raw socket with a small receive buffer, granting credit for
  // everything and reading nothing at first. The producing thread sends inline until the socket is
  // full; the rest must go to the connection's writer thread, so every Add returns at once.
  const int kBuffers = 600;
  const size_t kSegment = 16 * 1024;  // 9.4 MiB in all: more than the socket buffers hold
  auto partition =
      std::make_shared<ResultPartition>("j.0/s", 1, kBuffers + 1, Pool(kBuffers, kSegment));
  partitions_.Register(partition);
  auto fd = ConnectTcp(address_);
  ASSERT_TRUE(fd.ok());
  int small = 32 * 1024;
  setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  Frame request;
  request.type = FrameType::kPartitionRequest;
  request.channel = 7;
  request.credit = kBuffers;
  request.text = "j.0/s";
  ASSERT_TRUE(WriteFrame(*fd, request));
  std::atomic<bool> produced{false};
  std::thread producer([&] {
    for (int i = 0; i < kBuffers; ++i) {
      BufferPtr b = partition->pool().RequestBlocking(nullptr);
      std::vector<uint8_t> bytes(kSegment, static_cast<uint8_t>(i));
      b->Append(bytes.data(), bytes.size());
      partition->subpartition(0).Add(std::move(b));
    }
    partition->subpartition(0).Add(MakeEvent(BufferKind::kEndOfPartition));
    produced = true;
  });
  for (int i = 0; i < 2000 && !produced; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(produced.load()) << "the producing thread blocked on a consumer that does not read";
  // Now everything arrives, in order.
  for (int i = 0; i <= kBuffers; ++i) {
    auto f = ReadFrame(*fd);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_EQ(f->type, FrameType::kBuffer);
    EXPECT_EQ(f->channel, 7u);
    ASSERT_EQ(f->seq, static_cast<uint32_t>(i));
    if (i == kBuffers) {
      EXPECT_EQ(f->kind, BufferKind::kEndOfPartition);
    } else {
      ASSERT_EQ(f->bytes.size(), kSegment);
      EXPECT_EQ(f->bytes.front(), static_cast<uint8_t>(i));
      EXPECT_EQ(f->bytes.back(), static_cast<uint8_t>(i));
    }
  }
  producer.join();
  close(*fd);
}

TEST_F(LoopbackExchange, HundredsOfChannelsShareOneConnection) {
  const int kChannels = 300, kBuffers = 20;
  auto gate_pool = Pool(kChannels * 2 + 8);
  auto gate = std::make_shared<InputGate>();
  std::vector<std::shared_ptr<ResultPartition>> parts;
  for (int c = 0; c < kChannels; ++c) {
    std::string id = "j.0/p" + std::to_string(c);
    parts.push_back(std::make_shared<ResultPartition>(id, 1, 2, Pool(3)));
    partitions_.Register(parts.back());
    gate->AddChannel(
        std::make_shared<RemoteInputChannel>(&connections_, address_, id, 0, gate_pool, 2));
  }
  gate->Start();
  std::thread producer([&] {
    for (int i = 0; i < kBuffers; ++i) {
      for (auto& p : parts) {
        BufferPtr b = p->pool().RequestBlocking(nullptr);
        uint8_t v = static_cast<uint8_t>(i);
        b->Append(&v, 1);
        p->subpartition(0).Add(std::move(b));
      }
    }
    for (auto& p : parts) p->subpartition(0).Add(MakeEvent(BufferKind::kEndOfPartition));
  });
  std::string error;
  auto counts = ReadAll(*gate, &error);
  producer.join();
  EXPECT_EQ(error, "");
  for (int c = 0; c < kChannels; ++c) EXPECT_EQ(counts[static_cast<size_t>(c)], kBuffers) << c;
  gate->Close();
}

TEST_F(LoopbackExchange, FloatingBuffersCoverTheBacklogWithinTheGatePool) {
  // 1 exclusive + 4 floating: a fast producer's backlog makes the channel borrow floating buffers,
  // never more than the pool holds; a slow consumer keeps the producer's pool exhausted.
  auto gate_pool = Pool(5, 256);
  auto channel =
      std::make_shared<RemoteInputChannel>(&connections_, address_, "j.0/f", 0, gate_pool, 1);
  auto gate = std::make_shared<InputGate>();
  gate->AddChannel(channel);
  gate->Start();
  auto out_pool = Pool(8, 256);
  auto partition = std::make_shared<ResultPartition>("j.0/f", 1, 8, out_pool);
  partitions_.Register(partition);
  std::thread producer([&] {
    for (int i = 0; i < 300; ++i) {
      BufferPtr b = partition->pool().RequestBlocking(nullptr);
      b->Append(reinterpret_cast<const uint8_t*>("x"), 1);
      partition->subpartition(0).Add(std::move(b));
    }
    partition->subpartition(0).Add(MakeEvent(BufferKind::kEndOfPartition));
  });
  int max_owned = 0, max_out_used = 0, received = 0;
  while (true) {
    int ch;
    BufferPtr b;
    std::string error;
    ASSERT_EQ(gate->Next(absl::Seconds(20), &ch, &b, &error), InputGate::Result::kBuffer) << error;
    if (b->kind == BufferKind::kEndOfPartition) break;
    ++received;
    max_owned = std::max(max_owned, channel->owned());
    max_out_used = std::max(max_out_used, out_pool->in_use());
    EXPECT_LE(gate_pool->in_use(), gate_pool->size());
    if (received % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  producer.join();
  EXPECT_EQ(received, 300);
  EXPECT_GT(max_owned, 1);  // floating buffers were borrowed for the backlog
  EXPECT_LE(max_owned, 5);
  EXPECT_LE(max_out_used, 8);
  gate->Close();
}

TEST(WireTest, AReaderPollsWhileDataComesQuicklyAndSleepsAtOnceWhenItDoesNot) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  // The reader switches modes at a tenth of the budget: 5 ms, fifty times the quick gaps and a
  // twentieth of the slow ones, so that a loaded machine does not blur the two.
  BufferedSocketReader reader(fds[0], 64, std::chrono::milliseconds(50));
  // Each byte is sent only once the previous one was read, so every byte is one refill however
  // late a loaded machine runs either thread.
  auto write_bytes = [&](int n, std::chrono::microseconds gap) {
    std::atomic<int> consumed{0};
    std::thread writer([&] {
      for (int i = 0; i < n; ++i) {
        while (consumed.load() < i) std::this_thread::yield();
        std::this_thread::sleep_for(gap);
        uint8_t b = static_cast<uint8_t>(i);
        ASSERT_EQ(send(fds[1], &b, 1, MSG_NOSIGNAL), 1);
      }
    });
    for (int i = 0; i < n; ++i) {
      uint8_t b;
      ASSERT_TRUE(reader.Read(&b, 1));
      EXPECT_EQ(b, static_cast<uint8_t>(i));
      consumed.store(i + 1);
    }
    writer.join();
  };
  // Whether it polls at the end depends on the last few gaps, which a loaded machine can stretch
  // past 5 ms (the writer descheduled): what is checked is that most quick refills were polled.
  write_bytes(20, std::chrono::microseconds(100));
  EXPECT_GE(reader.polled_fills(), 10u) << reader.slept_fills() << " slept";
  // Sparse data: after a few long waits the reader no longer polls before it sleeps (a late
  // writer only makes the gaps longer).
  write_bytes(10, std::chrono::milliseconds(100));
  EXPECT_FALSE(reader.polling());
  const uint64_t slept = reader.slept_fills();
  const uint64_t polled = reader.polled_fills();
  // Busy again: it polls again after some quick refills.
  write_bytes(40, std::chrono::microseconds(100));
  EXPECT_GE(reader.polled_fills() - polled, 20u) << reader.slept_fills() - slept << " slept";
  EXPECT_LT(reader.slept_fills() - slept, 40u);
  close(fds[1]);
  uint8_t b;
  EXPECT_FALSE(reader.Read(&b, 1));  // end of stream, polled or not
  close(fds[0]);
}

TEST(WireTest, WithoutBusyPollingAReaderAlwaysSleeps) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  BufferedSocketReader reader(fds[0], 64);
  std::atomic<int> consumed{0};  // one byte per refill, as above
  std::thread writer([&] {
    for (int i = 0; i < 5; ++i) {
      while (consumed.load() < i) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      uint8_t b = 1;
      ASSERT_EQ(send(fds[1], &b, 1, MSG_NOSIGNAL), 1);
    }
  });
  for (int i = 0; i < 5; ++i) {
    uint8_t b;
    ASSERT_TRUE(reader.Read(&b, 1));
    consumed.store(i + 1);
  }
  writer.join();
  EXPECT_FALSE(reader.polling());
  EXPECT_EQ(reader.polled_fills(), 0u);
  EXPECT_EQ(reader.slept_fills(), 5u);
  close(fds[1]);
  close(fds[0]);
}

//! The producer's side of one data connection, played by the test over a raw socket: it accepts
//! the consumer's connection, and reads and writes frames itself. Reads time out (a frame that
//! never comes fails the test instead of hanging it).
class ScriptedProducer {
 public:
  //! `receive_buffer`: SO_RCVBUF of the accepted connection, bytes (0: the system's default).
  explicit ScriptedProducer(int receive_buffer = 0) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  ~ScriptedProducer() {
    if (fd_ >= 0) close(fd_);
    close(listener_);
  }
  const std::string& address() const { return address_; }
  //! Accepts the consumer and reads its partition request.
  Frame Accept() {
    fd_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(fd_, 0);
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return Next();
  }
  Frame Next() {
    auto f = ReadFrame(fd_);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *f : Frame{};
  }
  //! Reads `n` frames through a buffered reader (faster than Next for many small frames).
  std::vector<Frame> NextMany(size_t n) {
    BufferedSocketReader in(fd_);
    std::vector<Frame> frames;
    for (size_t i = 0; i < n; ++i) {
      auto f = ReadFrame(in);
      EXPECT_TRUE(f.ok()) << f.status() << " after " << i << " frames";
      if (!f.ok()) break;
      frames.push_back(*std::move(f));
    }
    return frames;
  }
  void SendData(uint64_t channel, uint32_t seq, uint32_t backlog) {
    Frame f;
    f.type = FrameType::kBuffer;
    f.channel = channel;
    f.seq = seq;
    f.backlog = backlog;
    const uint8_t byte = 'x';
    EXPECT_TRUE(WriteFrame(fd_, f, &byte, 1));
  }

 private:
  int listener_ = -1;
  int fd_ = -1;
  std::string address_;
};

//! A consumer's channel and gate against a ScriptedProducer.
class CreditTest : public ::testing::Test {
 protected:
  //! Starts a gate with one remote channel over a pool of `buffers`; returns the partition request.
  Frame Connect(int buffers, int exclusive) {
    channel_ = std::make_shared<RemoteInputChannel>(&connections_, producer_.address(), "j.0/c", 0,
                                                    Pool(buffers), exclusive);
    gate_ = std::make_shared<InputGate>();
    gate_->AddChannel(channel_);
    std::thread start([&] { gate_->Start(); });
    Frame request = producer_.Accept();
    start.join();
    EXPECT_EQ(request.type, FrameType::kPartitionRequest);
    return request;
  }
  BufferPtr Next() {
    int ch;
    BufferPtr b;
    std::string error;
    EXPECT_EQ(gate_->Next(absl::Seconds(5), &ch, &b, &error), InputGate::Result::kBuffer) << error;
    return b;
  }
  void TearDown() override {
    if (gate_) gate_->Close();
    connections_.Shutdown();
  }

  ScriptedProducer producer_;
  ConnectionManager connections_;
  std::shared_ptr<RemoteInputChannel> channel_;
  std::shared_ptr<InputGate> gate_;
};

TEST_F(CreditTest, ABacklogBorrowsFloatingBuffersOnTopOfTheExclusiveOnes) {
  // As Flink's onSenderBacklog: the channel aims at backlog + exclusive free buffers, so a backlog
  // of one buffer still widens the window (aiming at the backlog alone, the channel's one free
  // exclusive buffer would cover it and the floating buffers would stay unused).
  Frame request = Connect(/*buffers=*/6, /*exclusive=*/2);
  EXPECT_EQ(request.credit, 2u);
  producer_.SendData(request.channel, 0, /*backlog=*/1);
  BufferPtr held = Next();
  ASSERT_TRUE(held);
  EXPECT_EQ(channel_->owned(), 4);  // 2 exclusive + 2 floating: 3 free for a backlog of 1
  Frame credit = producer_.Next();
  EXPECT_EQ(credit.type, FrameType::kAddCredit);
  EXPECT_EQ(credit.credit, 2u);
}

TEST_F(CreditTest, TheTaskAnnouncesFreedBuffersInPairsAndTheRestBeforeItWaits) {
  Frame request = Connect(/*buffers=*/4, /*exclusive=*/4);
  ASSERT_EQ(request.credit, 4u);
  // Two buffers of the four granted: the producer keeps credit for two more.
  producer_.SendData(request.channel, 0, 0);
  producer_.SendData(request.channel, 1, 0);
  BufferPtr first = Next(), second = Next();
  ASSERT_TRUE(first && second);
  // Let the connection's reader finish its batch (it announces what it holds, nothing here).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  first.reset();   // held: the producer still has credit
  second.reset();  // a pair: announced
  Frame pair = producer_.Next();
  EXPECT_EQ(pair.type, FrameType::kAddCredit);
  EXPECT_EQ(pair.credit, 2u);
  // One more buffer: its credit is held until the task is about to wait for input.
  producer_.SendData(request.channel, 2, 0);
  BufferPtr third = Next();
  ASSERT_TRUE(third);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  third.reset();
  int ch;
  std::string error;
  EXPECT_EQ(gate_->Next(absl::Milliseconds(50), &ch, &third, &error), InputGate::Result::kTimeout);
  Frame single = producer_.Next();  // sent before the wait began, or this times out
  EXPECT_EQ(single.type, FrameType::kAddCredit);
  EXPECT_EQ(single.credit, 1u);
}

TEST(ClientConnectionTest, AProducerThatStopsReadingNeverBlocksTheThreadAnnouncingCredit) {
  // The producer, played by the test with a small receive buffer, reads nothing at first. The
  // consumer's task thread keeps announcing credit: it writes inline until the socket is full,
  // then the rest must go to the connection's writer thread, so every AddCredit returns at once.
  ScriptedProducer producer(/*receive_buffer=*/32 * 1024);
  ConnectionManager connections;
  auto conn = connections.Get(producer.address());
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto channel = std::make_shared<RemoteInputChannel>(&connections, producer.address(), "j.0/c", 0,
                                                      Pool(1), 1);
  uint64_t id = (*conn)->Request(channel, "j.0/c", 0, /*credit=*/1);
  ASSERT_NE(id, 0u);
  Frame request = producer.Accept();
  ASSERT_EQ(request.type, FrameType::kPartitionRequest);
  // 21 bytes a frame: 8.4 MB, more than the socket buffers of both sides hold.
  const int kFrames = 400'000;
  std::atomic<bool> announced{false};
  std::thread task([&] {
    for (int i = 0; i < kFrames; ++i) (*conn)->AddCredit(id, static_cast<uint32_t>(i % 7 + 1));
    announced = true;
  });
  for (int i = 0; i < 2000 && !announced; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(announced.load()) << "the task thread blocked on a producer that does not read";
  // Now every credit arrives, in order.
  std::vector<Frame> frames = producer.NextMany(kFrames);
  ASSERT_EQ(frames.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(frames[i].type, FrameType::kAddCredit) << i;
    ASSERT_EQ(frames[i].channel, id);
    ASSERT_EQ(frames[i].credit, static_cast<uint32_t>(i % 7 + 1)) << i;
  }
  task.join();
  (*conn)->Cancel(id);
  connections.Shutdown();
}

TEST_F(LoopbackExchange, SequenceGapFailsTheChannel) {
  auto gate = std::make_shared<InputGate>();
  auto channel =
      std::make_shared<RemoteInputChannel>(&connections_, address_, "j.0/seq", 0, Pool(2), 2);
  gate->AddChannel(channel);
  gate->Start();
  channel->OnBuffer(channel->TakeReceiveBuffer(), /*seq=*/5, 0);  // expected 0
  int ch;
  BufferPtr b;
  std::string error;
  EXPECT_EQ(gate->Next(absl::Seconds(5), &ch, &b, &error), InputGate::Result::kError);
  EXPECT_NE(error.find("expected #0"), std::string::npos) << error;
  gate->Close();
}

TEST_F(LoopbackExchange, LostConnectionFailsTheConsumerWithAReason) {
  auto gate = std::make_shared<InputGate>();
  gate->AddChannel(std::make_shared<RemoteInputChannel>(&connections_, address_, "j.0/never", 0,
                                                        Pool(2), 2, "tm-producer"));
  gate->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_.Shutdown();  // the producer TaskManager goes away
  int ch;
  BufferPtr b;
  std::string error;
  EXPECT_EQ(gate->Next(absl::Seconds(10), &ch, &b, &error), InputGate::Result::kError);
  EXPECT_NE(error.find("lost"), std::string::npos) << error;
  EXPECT_NE(error.find("tm-producer"), std::string::npos) << error;
  gate->Close();
}

TEST(RoutingTest, EachConnectionOfAJobIsHandedOnByItsHelloAndServedWhereItIsAdopted) {
  // A TaskManager daemon with job processes: its server routes by the hello; the "process" (here
  // a second server on the same partitions) adopts the descriptor and serves it.
  PartitionManager partitions;
  NetworkServer process(&partitions);
  std::mutex mu;
  std::vector<std::string> jobs;
  NetworkServer daemon(&partitions);
  daemon.SetRouter([&](int fd, const std::string& job) {
    {
      std::lock_guard<std::mutex> lock(mu);
      jobs.push_back(job);
    }
    EXPECT_TRUE(process.Adopt(fd));
  });
  auto port = daemon.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  const std::string address = "127.0.0.1:" + std::to_string(*port);

  ConnectionManager connections;
  auto partition = std::make_shared<ResultPartition>("j1.0/p", 1, 8, Pool(8, 256));
  partitions.Register(partition);
  auto gate = std::make_shared<InputGate>();
  gate->AddChannel(std::make_shared<RemoteInputChannel>(&connections, address, "j1.0/p", 0,
                                                        Pool(2, 256), 2, "tm", "job-1"));
  gate->Start();
  BufferPtr b = partition->pool().Request();
  ASSERT_TRUE(b);
  b->Append(reinterpret_cast<const uint8_t*>("x"), 1);
  partition->subpartition(0).Add(std::move(b));
  int ch;
  BufferPtr got;
  std::string error;
  ASSERT_EQ(gate->Next(absl::Seconds(20), &ch, &got, &error), InputGate::Result::kBuffer) << error;
  EXPECT_EQ(got->size, 1u);
  got.reset();
  // Another job to the same address gets a connection (and a hello) of its own.
  ASSERT_TRUE(connections.Get(address, "job-2").ok());
  ASSERT_TRUE(connections.Get(address, "job-1").ok());  // the one it has
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (jobs.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(jobs, (std::vector<std::string>{"job-1", "job-2"}));
  }
  gate->Close();
  connections.Shutdown();
  daemon.Shutdown();
  process.Shutdown();
}

TEST(RoutingTest, AConnectionWithoutAHelloIsRefused) {
  PartitionManager partitions;
  NetworkServer daemon(&partitions);
  std::atomic<int> routed{0};
  daemon.SetRouter([&](int fd, const std::string&) {
    ++routed;
    close(fd);
  });
  auto port = daemon.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  ConnectionManager connections;
  auto conn = connections.Get("127.0.0.1:" + std::to_string(*port));  // no job: no hello
  ASSERT_TRUE(conn.ok());
  auto channel = std::make_shared<RemoteInputChannel>(&connections, "x", "j.0/c", 0, Pool(1), 1);
  (*conn)->Request(channel, "j.0/c", 0, 1);  // a partition request first: not a hello
  for (int i = 0; i < 250 && !(*conn)->broken(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE((*conn)->broken()) << "the daemon should have closed the connection";
  EXPECT_EQ(routed.load(), 0);
  connections.Shutdown();
  daemon.Shutdown();
}

TEST(LocalChannelTest, ReadsInMemoryAndWaitsForLateProducer) {
  PartitionManager partitions;
  auto gate = std::make_shared<InputGate>();
  gate->AddChannel(std::make_shared<LocalInputChannel>(&partitions, "j.0/local", 0));
  gate->Start();
  auto partition = std::make_shared<ResultPartition>("j.0/local", 1, 2, Pool(2));
  partitions.Register(partition);
  partition->subpartition(0).Add(Data({7}));
  int ch;
  BufferPtr b;
  std::string error;
  ASSERT_EQ(gate->Next(absl::Seconds(5), &ch, &b, &error), InputGate::Result::kBuffer);
  EXPECT_EQ(Bytes(*b), std::vector<uint8_t>{7});
  partitions.ReleaseJob("j");
  gate->Close();
  EXPECT_EQ(gate->Next(absl::Milliseconds(10), &ch, &b, &error), InputGate::Result::kClosed);
}

TEST(BufferPoolTest, BuffersAreRecycledNotAllocated) {
  auto global = std::make_shared<NetworkBufferPool>(4 * 1024, 1024);
  auto pool = *LocalBufferPool::Create(global, 4, "test");
  std::set<uint8_t*> seen;
  for (int round = 0; round < 100; ++round) {
    std::vector<BufferPtr> held;
    while (BufferPtr b = pool->Request()) {
      seen.insert(b->data);
      held.push_back(std::move(b));
    }
    EXPECT_EQ(held.size(), 4u);
    EXPECT_DOUBLE_EQ(pool->usage(), 1.0);
  }
  EXPECT_EQ(seen.size(), 4u);  // the same four segments, round after round
  EXPECT_EQ(pool->in_use(), 0);
  EXPECT_EQ(global->available_segments(), 0);
  pool.reset();
  EXPECT_EQ(global->available_segments(), 4);  // a dead pool gives its segments back
  EXPECT_EQ(global->peak_used_segments(), 4);
}

TEST(BufferPoolTest, ALimitCapsWhatThePoolHandsOut) {
  auto global = std::make_shared<NetworkBufferPool>(8 * 1024, 1024);
  global->SetLimit(3);  // a job process's share
  EXPECT_EQ(global->total_segments(), 3);
  auto first = LocalBufferPool::Create(global, 2, "a");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(global->available_segments(), 1);
  EXPECT_FALSE(LocalBufferPool::Create(global, 2, "b").ok());
  global->SetLimit(5);  // its job took another slot here
  EXPECT_TRUE(LocalBufferPool::Create(global, 2, "b").ok());
  global->SetLimit(100);
  EXPECT_EQ(global->total_segments(), 8);  // never beyond what it holds
}

TEST(BufferPoolTest, ShortNetworkMemoryIsAClearError) {
  auto global = std::make_shared<NetworkBufferPool>(3 * 1024, 1024);
  auto pool = LocalBufferPool::Create(global, 5, "Map (1/2) output");
  ASSERT_FALSE(pool.ok());
  std::string msg(pool.status().message());
  EXPECT_NE(msg.find("Map (1/2) output"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs 5 buffers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("taskmanager.memory.network.size"), std::string::npos) << msg;
}

TEST(BufferPoolTest, BlockedRequesterWakesOnRecycleOrClose) {
  auto global = std::make_shared<NetworkBufferPool>(1024, 1024);
  auto pool = *LocalBufferPool::Create(global, 1, "test");
  BufferPtr only = pool->Request();
  std::atomic<bool> got{false};
  int64_t waited = 0;
  std::thread t([&] { got = pool->RequestBlocking(&waited) != nullptr; });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(got.load());  // backpressure: no buffer, the requester waits
  only.reset();
  t.join();
  EXPECT_TRUE(got.load());
  EXPECT_GT(waited, 0);
  BufferPtr again = pool->Request();
  std::thread t2([&] { got = pool->RequestBlocking(nullptr) != nullptr; });
  pool->Close();
  t2.join();
  EXPECT_FALSE(got.load());
}

}  // namespace
}  // namespace sluice::network
