#include "util/text.h"

#include <gtest/gtest.h>

namespace cl {
namespace {

TEST(Utf8, AcceptsWellFormedTextAndRefusesEverythingElse) {
  EXPECT_TRUE(IsValidUtf8("Bank A"));
  EXPECT_TRUE(IsValidUtf8("Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\xa6"));  // é € 🏦
  EXPECT_FALSE(IsValidUtf8("Bank \xe9"));                                 // Latin-1 é
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));                                  // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));                              // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));                          // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));                                  // cut short
  EXPECT_FALSE(IsValidUtf8("\x80"));                                      // a lone continuation
}

TEST(EscapeText, LeavesOnlyPrintableAscii) {
  EXPECT_EQ(EscapeText("Bank A"), "Bank A");
  EXPECT_EQ(EscapeText("say \"hi\" \\"), "say \\\"hi\\\" \\\\");
  EXPECT_EQ(EscapeText("\x1b]0;pwned\x07\n\r\x7f"), "\\u001b]0;pwned\\u0007\\u000a\\u000d\\u007f");
  EXPECT_EQ(EscapeText("Bank 1\xe2\x80\x8b"), "Bank 1\\u200b");  // zero-width space
  EXPECT_EQ(EscapeText("\xe2\x80\xae"
                       "1 knaB"),
            "\\u202e1 knaB");                                   // right-to-left override
  EXPECT_EQ(EscapeText("\xc2\x9b"), "\\u009b");                 // C1 CSI
  EXPECT_EQ(EscapeText("\xf0\x9f\x8f\xa6"), "\\ud83c\\udfe6");  // a surrogate pair
  EXPECT_EQ(EscapeText("Bank \xe9"), "Bank \\xe9");             // not UTF-8
}

}  // namespace
}  // namespace cl
