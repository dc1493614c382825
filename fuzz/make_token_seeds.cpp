// Writes the seed corpus for token_fuzz: valid tokens under the fuzz secret, one per file.
// Usage: make_token_seeds <directory>. Rerun it when the token format changes.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/token.hpp"
#include "token_fuzz_secret.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const std::vector<durable::detail::TokenClaims> seeds = {
      {"publish-3f2a9c0d1e5b7a8c6d4e", "approval"},
      {"", ""},
      {std::string("a.b\0c", 5), "dt1.x"},
  };
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string path = std::string(argv[1]) + "/valid-" + std::to_string(i + 1);
    std::ofstream out(path, std::ios::binary);
    out << durable::detail::encode_token(seeds[i], durable::fuzz::kTokenFuzzSecret);
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
