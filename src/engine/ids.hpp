// Identifiers: deterministic execution ids, UUIDs from journaled random bits, and OS randomness.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace durable::detail {

// "<workflow>-<first 20 lowercase hex chars of SHA-256(workflow \0 key)>". Deterministic, so the
// same (workflow, key) names the same execution in every process sharing a store. The workflow
// name appears verbatim and the suffix has a fixed length, so ids of different workflows never
// coincide, and a key's bytes cannot shift into the workflow name.
std::string execution_id_for(std::string_view workflow, std::string_view idempotency_key);

// "<workflow>-<12 hex digits: milliseconds since the epoch at `now`><16 random hex digits>": the
// id of an execution started without a key. Time-ordered, so executions started together are
// neighbours in the store's B-trees keyed by id (the SQLite executions table, its indexes, the
// stream entries) and a group commit touches few pages (random ids scattered each commit's rows
// over as many pages as executions).
std::string random_execution_id(std::string_view workflow, std::int64_t now_ms);

// The RFC 4122 version-4 UUID (lowercase 8-4-4-4-12) whose random bits are taken from hi (first
// 8 bytes, big-endian) and lo: the version nibble and the variant bits are overwritten. A pure
// function: the engine journals the random bits, so replay yields the same UUID.
std::string format_uuid_v4(std::uint64_t hi, std::uint64_t lo);

// 64 bits from OpenSSL's CSPRNG (RAND_bytes). Throws durable::DurableError if it fails.
std::uint64_t secure_random_u64();

// Lowercase hex SHA-256 of the bytes (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace durable::detail
