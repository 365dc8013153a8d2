#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

std::string name_error_message(std::string_view name) {
  try {
    shmkit::validate_name(name, "shared array");
  } catch (const shmkit::NameError& e) {
    return e.what();
  }
  return {};
}

TEST(NameTest, AcceptsTheAllowedAlphabet) {
  EXPECT_NO_THROW(shmkit::validate_name("frames_0.raw-v2", "shared array"));
  EXPECT_NO_THROW(shmkit::validate_name(std::string(shmkit::kMaxNameLength, 'a'), "shared array"));
  EXPECT_TRUE(shmkit::is_valid_name("a"));
}

TEST(NameTest, RejectsEmptyName) {
  const std::string message = name_error_message("");
  EXPECT_NE(message.find("empty"), std::string::npos) << message;
}

TEST(NameTest, RejectsTooLongName) {
  const std::string message = name_error_message(std::string(shmkit::kMaxNameLength + 1, 'a'));
  EXPECT_NE(message.find("201 characters"), std::string::npos) << message;
}

TEST(NameTest, RejectsLeadingDot) {
  EXPECT_NE(name_error_message(".hidden").find("starts with '.'"), std::string::npos);
  EXPECT_FALSE(shmkit::is_valid_name(".."));
}

TEST(NameTest, NamesTheBadCharacterAndPosition) {
  const std::string message = name_error_message("cam/frames");
  EXPECT_NE(message.find("'/'"), std::string::npos) << message;
  EXPECT_NE(message.find("position 3"), std::string::npos) << message;
  EXPECT_NE(message.find("shared array"), std::string::npos) << message;
}

TEST(NameTest, ShowsNonPrintableBytesAsHex) {
  const std::string message = name_error_message(std::string("a\nb"));
  EXPECT_NE(message.find("byte 0x0a"), std::string::npos) << message;
}

}  // namespace
