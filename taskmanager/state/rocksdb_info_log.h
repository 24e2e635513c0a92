// RocksDB's info log and error recovery for the RocksDB state backend: internal to state/.
//
// Why: RocksDB 7.6–8.2 write their LOG file (in the instance folder) through a writer that keeps
// appending after a failed write, and Debian's 7.8.3 keeps assert() on, so the next log line after
// a full-disk write error aborted the whole TaskManager
// (WritableFileWriter::AssertFalseAndGetStatusForPrevError; fixed upstream in 8.3.0). Measured on
// a tmpfs: every abort path went through that LOG file, none through SST, MANIFEST or checkpoint
// writes. With the info log forwarded to our "state" logger there is no LOG file, and a full disk
// comes back as error statuses only.
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
class EventListener;
}  // namespace rocksdb

namespace sluice::state {

//! RocksDB's info log (WARN and above) as lines of the "state" logger, named after the instance;
//! writes no file. Thread-safe (RocksDB logs from its background threads).
std::shared_ptr<rocksdb::Logger> MakeRocksDbInfoLog(std::string name);

//! A listener that turns off RocksDB's automatic recovery from background errors (the
//! SstFileManager polls free space every 5 s and never succeeds on a disk smaller than its 64 MiB
//! reserve): the task fails on the first error and restarts with a new instance anyway.
std::shared_ptr<rocksdb::EventListener> MakeNoAutoRecoveryListener();

}  // namespace sluice::state
