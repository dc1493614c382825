#include "store/sqlite_wal_batching.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace durable::store {
namespace {

constexpr char kName[] = "durable-wal-batching";
// A run longer than this is written out and a new one started: bounds the memory a huge
// transaction (a big payload, a migration) holds twice.
constexpr std::size_t kMaxGathered = std::size_t{1} << 20;
// The unix VFS writes at most 128 KiB - 1 bytes in one call (it expects pages, at most 64 KiB)
// and reports a longer write as a full disk, so a gathered run goes out in pieces of 64 KiB.
constexpr std::size_t kMaxWrite = std::size_t{1} << 16;

sqlite3_vfs* underlying = nullptr;  // the default VFS, found at registration

// A WAL file: this header, then the underlying VFS's file object (at real_offset()).
struct WalFile {
  sqlite3_file base;  // first, as SQLite requires: base.pMethods is ours
  sqlite3_file* real;
  std::vector<char> gathered;  // bytes for [start, start + gathered.size()) not yet written
  sqlite3_int64 start = 0;

  sqlite3_int64 end() const { return start + static_cast<sqlite3_int64>(gathered.size()); }
  bool overlaps(sqlite3_int64 offset, int amount) const {
    return !gathered.empty() && offset < end() && offset + amount > start;
  }
  int write_out() {
    int rc = SQLITE_OK;
    for (std::size_t done = 0; done < gathered.size() && rc == SQLITE_OK; done += kMaxWrite) {
      const std::size_t size = std::min(kMaxWrite, gathered.size() - done);
      rc = real->pMethods->xWrite(real, gathered.data() + done, static_cast<int>(size),
                                  start + static_cast<sqlite3_int64>(done));
    }
    gathered.clear();
    return rc;
  }
};

constexpr std::size_t real_offset() {
  return (sizeof(WalFile) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
         alignof(std::max_align_t);
}

WalFile* wal(sqlite3_file* file) {
  return reinterpret_cast<WalFile*>(file);
}

int wal_close(sqlite3_file* file) {
  WalFile* w = wal(file);
  int rc = w->write_out();
  int closed = w->real->pMethods->xClose(w->real);
  w->~WalFile();
  return rc != SQLITE_OK ? rc : closed;
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  WalFile* w = wal(file);
  if (w->overlaps(offset, amount)) {
    if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
  }
  return w->real->pMethods->xRead(w->real, out, amount, offset);
}

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* w = wal(file);
  const char* bytes = static_cast<const char*>(data);
  if (!w->gathered.empty() && offset >= w->start && offset + amount <= w->end()) {
    // SQLite rewrites a frame of the transaction in progress in place when the page changes again.
    std::memcpy(w->gathered.data() + (offset - w->start), bytes, static_cast<std::size_t>(amount));
    return SQLITE_OK;
  }
  const std::size_t size = static_cast<std::size_t>(amount);
  if (w->gathered.empty() || offset != w->end() || w->gathered.size() + size > kMaxGathered) {
    if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
    w->start = offset;
  }
  w->gathered.insert(w->gathered.end(), bytes, bytes + size);
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* w = wal(file);
  if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xTruncate(w->real, size);
}

int wal_sync(sqlite3_file* file, int flags) {
  WalFile* w = wal(file);
  if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xSync(w->real, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* w = wal(file);
  if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileSize(w->real, size);
}

int wal_lock(sqlite3_file* file, int level) {
  return wal(file)->real->pMethods->xLock(wal(file)->real, level);
}

int wal_unlock(sqlite3_file* file, int level) {
  return wal(file)->real->pMethods->xUnlock(wal(file)->real, level);
}

int wal_check_reserved_lock(sqlite3_file* file, int* out) {
  return wal(file)->real->pMethods->xCheckReservedLock(wal(file)->real, out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile* w = wal(file);
  if (int rc = w->write_out(); rc != SQLITE_OK) return rc;
  return w->real->pMethods->xFileControl(w->real, op, arg);
}

int wal_sector_size(sqlite3_file* file) {
  return wal(file)->real->pMethods->xSectorSize(wal(file)->real);
}

int wal_device_characteristics(sqlite3_file* file) {
  return wal(file)->real->pMethods->xDeviceCharacteristics(wal(file)->real);
}

// Version 1: SQLite asks a WAL file for no shared memory and no memory mapping.
const sqlite3_io_methods kWalMethods = {
    1,
    &wal_close,
    &wal_read,
    &wal_write,
    &wal_truncate,
    &wal_sync,
    &wal_file_size,
    &wal_lock,
    &wal_unlock,
    &wal_check_reserved_lock,
    &wal_file_control,
    &wal_sector_size,
    &wal_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

// Every other file is the underlying VFS's own object, opened in place: SQLite then calls the
// underlying methods directly.
int open_file(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0)
    return underlying->xOpen(underlying, name, file, flags, out_flags);
  sqlite3_file* real =
      reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + real_offset());
  int rc = underlying->xOpen(underlying, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    file->pMethods = nullptr;  // nothing to close
    return rc;
  }
  WalFile* w = new (file) WalFile{};
  w->real = real;
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int delete_file(sqlite3_vfs*, const char* name, int sync_dir) {
  return underlying->xDelete(underlying, name, sync_dir);
}
int access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return underlying->xAccess(underlying, name, flags, out);
}
int full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return underlying->xFullPathname(underlying, name, size, out);
}
void* dl_open(sqlite3_vfs*, const char* name) {
  return underlying->xDlOpen(underlying, name);
}
void dl_error(sqlite3_vfs*, int size, char* out) {
  underlying->xDlError(underlying, size, out);
}
void (*dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return underlying->xDlSym(underlying, handle, symbol);
}
void dl_close(sqlite3_vfs*, void* handle) {
  underlying->xDlClose(underlying, handle);
}
int randomness(sqlite3_vfs*, int size, char* out) {
  return underlying->xRandomness(underlying, size, out);
}
int sleep_for(sqlite3_vfs*, int micros) {
  return underlying->xSleep(underlying, micros);
}
int current_time(sqlite3_vfs*, double* out) {
  return underlying->xCurrentTime(underlying, out);
}
int last_error(sqlite3_vfs*, int size, char* out) {
  return underlying->xGetLastError(underlying, size, out);
}
int current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  if (underlying->iVersion >= 2 && underlying->xCurrentTimeInt64)
    return underlying->xCurrentTimeInt64(underlying, out);
  double days = 0;
  int rc = underlying->xCurrentTime(underlying, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

sqlite3_vfs vfs = {};

}  // namespace

const char* wal_batching_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    underlying = sqlite3_vfs_find(nullptr);
    const int largest = underlying->szOsFile > 0 ? underlying->szOsFile : 0;
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(real_offset()) + largest;
    vfs.mxPathname = underlying->mxPathname;
    vfs.zName = kName;
    vfs.xOpen = &open_file;
    vfs.xDelete = &delete_file;
    vfs.xAccess = &access;
    vfs.xFullPathname = &full_pathname;
    vfs.xDlOpen = &dl_open;
    vfs.xDlError = &dl_error;
    vfs.xDlSym = &dl_sym;
    vfs.xDlClose = &dl_close;
    vfs.xRandomness = &randomness;
    vfs.xSleep = &sleep_for;
    vfs.xCurrentTime = &current_time;
    vfs.xGetLastError = &last_error;
    vfs.xCurrentTimeInt64 = &current_time_int64;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
  });
  return kName;
}

}  // namespace durable::store
