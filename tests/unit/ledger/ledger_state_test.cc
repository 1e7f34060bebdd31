#include "ledger/ledger_state.h"

#include <gtest/gtest.h>

namespace cl::ledger {
namespace {

TEST(LedgerState, RollbackUndoesEveryWriteSinceTheSavepoint) {
  MapStateReader base({{ToBytes("a"), ToBytes("1")}, {ToBytes("b"), ToBytes("2")}});
  LedgerState st(base);
  st.Put(ToBytes("a"), ToBytes("10"));
  size_t sp = st.Savepoint();
  st.Put(ToBytes("a"), ToBytes("11"));
  st.Delete(ToBytes("b"));
  st.Put(ToBytes("c"), ToBytes("3"));
  EXPECT_EQ(**st.Get(ToBytes("a")), ToBytes("11"));
  EXPECT_FALSE(st.Get(ToBytes("b"))->has_value());
  st.RollbackTo(sp);
  EXPECT_EQ(**st.Get(ToBytes("a")), ToBytes("10"));
  EXPECT_EQ(**st.Get(ToBytes("b")), ToBytes("2"));
  EXPECT_FALSE(st.Get(ToBytes("c"))->has_value());
  auto changes = st.TakeChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, ToBytes("a"));
}

TEST(LedgerState, ChangesComeOutSortedByKeyOncePerKey) {
  MapStateReader base;
  LedgerState st(base);
  st.Put(ToBytes("z"), ToBytes("1"));
  st.Put(ToBytes("a"), ToBytes("1"));
  st.Put(ToBytes("z"), ToBytes("2"));
  st.Delete(ToBytes("m"));
  auto changes = st.TakeChanges();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, ToBytes("a"));
  EXPECT_EQ(changes[1].key, ToBytes("m"));
  EXPECT_FALSE(changes[1].value.has_value());
  EXPECT_EQ(changes[2].value, ToBytes("2"));
}

TEST(LedgerState, KeyLayoutIsPinned) {
  // These bytes are hashed into the state root: a change here is a protocol change.
  EXPECT_EQ(keys::Member(7), (Bytes{'m', 0, 0, 0, 7}));
  EXPECT_EQ(keys::ExpiryCount(1), (Bytes{'e', 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(keys::Account(std::string(16, '\x01')).size(), 17u);
  EXPECT_EQ(keys::Asset("USD"), (Bytes{'s', 'U', 'S', 'D'}));
}

}  // namespace
}  // namespace cl::ledger
