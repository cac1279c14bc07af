// The Catch2 (v2, Debian's) sample: plain, failing, skipped by tag, and the two tags that expect
// a failure ([!mayfail], [!shouldfail]), each both failing and passing.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

TEST_CASE("passes", "[basic]") { REQUIRE(1 == 1); }
TEST_CASE("fails", "[basic]") { REQUIRE(1 == 2); }
TEST_CASE("may fail and fails", "[!mayfail]") { REQUIRE(1 == 2); }
TEST_CASE("may fail and passes", "[!mayfail]") { REQUIRE(1 == 1); }
TEST_CASE("should fail and fails", "[!shouldfail]") { REQUIRE(1 == 2); }
TEST_CASE("should fail and passes", "[!shouldfail]") { REQUIRE(1 == 1); }
