// SHA-256 against FIPS 180-2's test vectors and against the system's `sha256sum` on a real library.
#include <compaudit/host/sha256.h>

#include "test_support.h"

#include <cstdio>

TEST_CASE("sha256 of the FIPS 180-2 test vectors", "[sha256]") {
  using compaudit::host::sha256_hex;
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 of a file equals what sha256sum prints", "[sha256]") {
  const std::string lib = test::plugin_lib("tp_good").string();
  std::FILE* pipe = ::popen(("sha256sum " + lib).c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[65] = {};
  REQUIRE(std::fread(buffer, 1, 64, pipe) == 64);
  ::pclose(pipe);
  CHECK(compaudit::host::sha256_file(lib) == std::string(buffer, 64));
}

TEST_CASE("sha256 of a missing file is an io error", "[sha256]") {
  REQUIRE_THROWS_ERROR(compaudit::Error, error, compaudit::host::sha256_file("/nonexistent/file"));
  CHECK(error->code() == compaudit::ErrorCode::io);
}
