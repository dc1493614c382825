// A SQLite VFS that writes each WAL commit with one system call instead of two per page.
#pragma once

namespace durable::store {

// The name of a VFS (registered on first call; thread-safe) that forwards every file to the
// default VFS, except that writes to a WAL file are gathered in memory while they are contiguous
// and reach the file when SQLite syncs, reads or sizes it (or closes it, or a gathered run would
// pass 1 MiB). SQLite writes each WAL frame as two writes (its 24-byte header, then the page), so
// a commit of N pages costs 2N write calls through the kernel's buffered write path; gathered, it
// costs one.
//
// Contract: only for connections with `PRAGMA synchronous = FULL` (or EXTRA). There SQLite syncs
// the WAL at every commit *before* it publishes the commit's frames in the shared wal-index, so
// no other connection can look for a frame that is still in this process's memory. Under NORMAL
// a commit publishes frames it never syncs, and another process would read what is not yet in the
// file. A write error of a gathered run is reported by the call that writes it (usually the
// commit's sync), so the transaction fails as it would have. A process that dies loses only
// frames of a commit that had not returned: they were never synced, so the commit never happened.
const char* wal_batching_vfs();

}  // namespace durable::store
