// The GoogleTest sample: pass, fail (with a non-ASCII message), skip, disabled, parameters.
#include <gtest/gtest.h>

TEST(Basic, Passes) { EXPECT_EQ(1, 1); }
TEST(Basic, Fails) { EXPECT_EQ(1, 2) << "grüße, 世界"; }
TEST(Basic, Skipped) { GTEST_SKIP() << "not here"; }
TEST(Basic, DISABLED_Off) { EXPECT_EQ(1, 1); }

class Param : public ::testing::TestWithParam<int> {};
TEST_P(Param, Small) { EXPECT_LT(GetParam(), 3); }
INSTANTIATE_TEST_SUITE_P(Ints, Param, ::testing::Values(1, 2, 3));
