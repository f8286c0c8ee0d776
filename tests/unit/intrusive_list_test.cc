#include "lib/intrusive_list.h"

#include <gtest/gtest.h>

#include <vector>

using capsule::IntrusiveList;
using capsule::ListNode;

namespace {

struct Item {
  Item(int v = 0) : value(v) {}
  int value;
  ListNode a;
  ListNode b;
};
using ListA = IntrusiveList<Item, &Item::a>;
using ListB = IntrusiveList<Item, &Item::b>;

template <typename L>
std::vector<int> values(L& l) {
  std::vector<int> v;
  for (auto& i : l) v.push_back(i.value);
  return v;
}

TEST(IntrusiveList, PushPopOrder) {
  Item x{1}, y{2}, z{3};
  ListA l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  l.push_back(y);
  l.push_back(z);
  l.push_front(x);
  EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.front(), &x);
  EXPECT_EQ(l.back(), &z);
  EXPECT_EQ(l.pop_front(), &x);
  EXPECT_EQ(l.pop_back(), &z);
  EXPECT_EQ(l.pop_front(), &y);
  EXPECT_EQ(l.pop_front(), nullptr);
  EXPECT_FALSE(x.a.linked());
}

TEST(IntrusiveList, RemoveFromMiddleIsConstantTimeAndUnlinks) {
  Item it[5];
  ListA l;
  for (int i = 0; i < 5; ++i) {
    it[i].value = i;
    l.push_back(it[i]);
  }
  l.remove(it[2]);
  l.remove(it[0]);
  l.remove(it[4]);
  EXPECT_EQ(values(l), (std::vector<int>{1, 3}));
  EXPECT_FALSE(ListA::is_linked(it[2]));
  EXPECT_TRUE(ListA::is_linked(it[1]));
  EXPECT_FALSE(l.contains(it[0]));
  EXPECT_TRUE(l.contains(it[3]));
  // A removed node can be reused.
  l.push_front(it[4]);
  EXPECT_EQ(values(l), (std::vector<int>{4, 1, 3}));
}

TEST(IntrusiveList, ObjectOnTwoListsThroughTwoMembers) {
  Item x{1}, y{2};
  ListA la;
  ListB lb;
  la.push_back(x);
  la.push_back(y);
  lb.push_back(y);
  lb.push_back(x);
  EXPECT_EQ(values(la), (std::vector<int>{1, 2}));
  EXPECT_EQ(values(lb), (std::vector<int>{2, 1}));
  la.remove(x);
  EXPECT_EQ(values(lb), (std::vector<int>{2, 1}));
  lb.clear();
  EXPECT_FALSE(y.b.linked());
  EXPECT_TRUE(y.a.linked());
}

TEST(IntrusiveList, InsertBeforeIterator) {
  Item x{1}, y{2}, z{3};
  ListA l;
  l.push_back(x);
  l.push_back(z);
  auto it = l.begin();
  ++it;
  l.insert_before(it, y);
  EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3}));
}

TEST(IntrusiveList, DestructorUnlinksMembers) {
  Item x{1};
  {
    ListA l;
    l.push_back(x);
  }
  EXPECT_FALSE(x.a.linked());
}

}  // namespace
