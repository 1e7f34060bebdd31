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

// SortedWrites orders keys byte by byte like the tree (BytesLess), including keys that are
// prefixes of others, share their first 8 bytes, or hold zero bytes; each key once.
TEST(LedgerState, SortedWritesFollowTheTreesKeyOrder) {
  MapStateReader base(BytesMap<Bytes>{{ToBytes("b"), ToBytes("committed")}});
  LedgerState st(base);
  std::vector<Bytes> keys = {Bytes{'a'},
                             Bytes{'a', 0},
                             Bytes{'a', 0, 0, 0, 0, 0, 0, 0, 0},
                             Bytes{'a', 0, 0, 0, 0, 0, 0, 0, 1},
                             Bytes{'a', 0, 0, 0, 0, 0, 0, 1},
                             Bytes{0xff},
                             Bytes{0x80, 1},
                             Bytes{'t', 1, 2, 3, 4, 5, 6, 7, 9, 9},
                             Bytes{'t', 1, 2, 3, 4, 5, 6, 7, 8},
                             ToBytes("b")};
  uint64_t rng = 1;
  auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  for (int i = 0; i < 200; ++i) {
    Bytes k(1 + next() % 12);
    for (auto& b : k)
      b = next() % 3 == 0 ? 0 : static_cast<uint8_t>(next());  // many zero bytes
    keys.push_back(k);
  }
  for (const Bytes& k : keys)
    st.Put(k, ToBytes("v"));
  st.Put(keys[0], ToBytes("w"));  // written twice: listed once
  auto writes = st.SortedWrites();
  ASSERT_TRUE(writes.has_value());
  BytesMap<bool> expected;
  for (const Bytes& k : keys)
    expected[k] = true;
  ASSERT_EQ(writes->size(), expected.size());
  size_t i = 0;
  for (const auto& [k, unused] : expected) {
    EXPECT_EQ(ToBytes((*writes)[i].key), k) << "position " << i;
    ++i;
  }
  // The committed value comes with each write (read now for keys written without a read).
  for (const auto& w : *writes) {
    if (w.key == "b") {
      EXPECT_EQ(*w.before, ToBytes("committed"));
    } else {
      EXPECT_FALSE(w.before->has_value());
    }
  }
}

// The executor's end of block (SortedWrites, then MoveChanges) yields exactly TakeChanges' list,
// including deletions and keys written, rolled back and written again.
TEST(LedgerState, MovedChangesEqualTakenChanges) {
  MapStateReader base(BytesMap<Bytes>{{ToBytes("k1"), ToBytes("old")}});
  LedgerState st(base);
  st.Put(ToBytes("k2"), ToBytes("a"));
  size_t sp = st.Savepoint();
  st.Put(ToBytes("k3"), ToBytes("rolled back"));
  st.RollbackTo(sp);
  st.Delete(ToBytes("k1"));
  st.Put(ToBytes("k0"), ToBytes("b"));
  st.Put(ToBytes("k2"), ToBytes("c"));
  auto taken = st.TakeChanges();
  auto writes = st.SortedWrites();
  ASSERT_TRUE(writes.has_value());
  EXPECT_EQ(st.MoveChanges(*writes), taken);
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[0], (StateChange{ToBytes("k0"), ToBytes("b")}));
  EXPECT_EQ(taken[1], (StateChange{ToBytes("k1"), std::nullopt}));
  EXPECT_EQ(taken[2], (StateChange{ToBytes("k2"), ToBytes("c")}));
}

}  // namespace
}  // namespace cl::ledger
