// Option parsing: every key, its accepted values, and one-line errors that
// name the option.
#include "delegates/options.h"

#include <gtest/gtest.h>

namespace tfq {
namespace {

const std::vector<std::string> kOps = {"FULLY_CONNECTED", "CONV_2D"};

bool Parse(std::vector<const char*> keys, std::vector<const char*> values,
           DelegateOptions* options, std::string* error) {
  return ParseDelegateOptions(keys.data(), values.data(), keys.size(), kOps, options, error);
}

TEST(OptionsTest, DefaultsWithoutOptions) {
  DelegateOptions options;
  std::string error;
  ASSERT_TRUE(Parse({}, {}, &options, &error));
  EXPECT_EQ(options.num_threads, 0);
  EXPECT_EQ(options.log_level, LogLevel::kWarning);
  EXPECT_TRUE(options.allow_ops.empty());
  EXPECT_FALSE(options.claim_all);
}

TEST(OptionsTest, ParsesEveryKey) {
  DelegateOptions options;
  std::string error;
  ASSERT_TRUE(Parse({"num_threads", "log_level", "allow_ops", "deny_ops", "claim_all", "profile"},
                    {"4", "verbose", "FULLY_CONNECTED,CONV_2D", "CONV_2D", "true", "true"},
                    &options, &error))
      << error;
  EXPECT_EQ(options.num_threads, 4);
  EXPECT_EQ(options.log_level, LogLevel::kVerbose);
  EXPECT_EQ(options.allow_ops.size(), 2u);
  EXPECT_EQ(options.deny_ops.count("CONV_2D"), 1u);
  EXPECT_TRUE(options.claim_all);
  EXPECT_TRUE(options.profile);
}

struct BadOption {
  const char* key;
  const char* value;
  const char* expected_in_error;
};

class BadOptionTest : public ::testing::TestWithParam<BadOption> {};

TEST_P(BadOptionTest, FailsNamingTheOption) {
  DelegateOptions options;
  std::string error;
  EXPECT_FALSE(Parse({GetParam().key}, {GetParam().value}, &options, &error));
  EXPECT_NE(error.find(GetParam().expected_in_error), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    All, BadOptionTest,
    ::testing::Values(BadOption{"num_threads", "x", "option num_threads"},
                      BadOption{"num_threads", "", "option num_threads"},
                      BadOption{"num_threads", "4x", "option num_threads"},
                      BadOption{"num_threads", "-2", "option num_threads"},
                      BadOption{"num_threads", "99999999999999999999", "option num_threads"},
                      BadOption{"log_level", "loud", "option log_level"},
                      BadOption{"allow_ops", "FULLY_CONNECTED,MAGIC", "'MAGIC'"},
                      BadOption{"deny_ops", "conv_2d", "'conv_2d'"},
                      BadOption{"claim_all", "yes", "option claim_all"},
                      BadOption{"threads", "1", "unknown option 'threads'"}));

TEST(OptionsTest, NullKeyIsAnError) {
  DelegateOptions options;
  std::string error;
  EXPECT_FALSE(Parse({nullptr}, {"1"}, &options, &error));
  EXPECT_NE(error.find("null"), std::string::npos);
}

}  // namespace
}  // namespace tfq
