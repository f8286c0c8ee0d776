#include "lib/rbtree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using capsule::IntrusiveRbTree;
using capsule::RbNode;

namespace {

struct Item {
  int key = 0;
  int id = 0;
  RbNode node;
};
struct ByKey {
  bool operator()(const Item& a, const Item& b) const { return a.key < b.key; }
};
using Tree = IntrusiveRbTree<Item, &Item::node, ByKey>;

std::vector<int> ids_in_order(const Tree& t) {
  std::vector<int> v;
  for (Item* i = t.first(); i; i = Tree::next(*i)) v.push_back(i->id);
  return v;
}

TEST(RbTree, EmptyTree) {
  Tree t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.first(), nullptr);
  EXPECT_EQ(t.last(), nullptr);
  EXPECT_EQ(t.pop_first(), nullptr);
  EXPECT_TRUE(t.check());
}

TEST(RbTree, EqualKeysKeepInsertionOrder) {
  std::vector<Item> items(6);
  Tree t;
  int keys[] = {5, 1, 5, 1, 5, 3};
  for (int i = 0; i < 6; ++i) {
    items[i].key = keys[i];
    items[i].id = i;
    t.insert(items[i]);
  }
  EXPECT_EQ(ids_in_order(t), (std::vector<int>{1, 3, 5, 0, 2, 4}));
  t.remove(items[2]);
  t.insert(items[2]);  // re-inserted: now behind its equals
  EXPECT_EQ(ids_in_order(t), (std::vector<int>{1, 3, 5, 0, 4, 2}));
}

TEST(RbTree, RandomOperationsMatchReferenceAndKeepInvariants) {
  std::mt19937 rng(12345);
  constexpr int N = 600;
  std::vector<Item> items(N);
  std::multimap<int, int> ref;  // key -> id, insertion order within a key
  Tree t;
  for (int i = 0; i < N; ++i) items[i].id = i;

  for (int step = 0; step < 20000; ++step) {
    Item& it = items[rng() % N];
    if (Tree::is_linked(it)) {
      t.remove(it);
      auto range = ref.equal_range(it.key);
      for (auto r = range.first; r != range.second; ++r)
        if (r->second == it.id) {
          ref.erase(r);
          break;
        }
    } else {
      it.key = int(rng() % 200);
      t.insert(it);
      ref.emplace(it.key, it.id);  // multimap also appends to equal range
    }
    if (step % 97 == 0) {
      ASSERT_TRUE(t.check()) << "step " << step;
      std::vector<int> want;
      for (auto& [k, id] : ref) want.push_back(id);
      ASSERT_EQ(ids_in_order(t), want) << "step " << step;
      ASSERT_EQ(t.size(), ref.size());
      if (!ref.empty()) {
        ASSERT_EQ(t.first()->id, ref.begin()->second);
        ASSERT_EQ(t.last()->id, std::prev(ref.end())->second);
      }
    }
  }
  // Drain in order through pop_first.
  int last = -1;
  while (Item* i = t.pop_first()) {
    EXPECT_GE(i->key, last);
    last = i->key;
    EXPECT_FALSE(Tree::is_linked(*i));
  }
  EXPECT_TRUE(t.check());
}

TEST(RbTree, SequentialInsertStaysBalanced) {
  constexpr int N = 4096;
  std::vector<Item> items(N);
  Tree t;
  for (int i = 0; i < N; ++i) {
    items[i].key = i;
    t.insert(items[i]);
  }
  ASSERT_TRUE(t.check());
  // Height <= 2*log2(n+1): walk from leftmost to root.
  int depth = 0;
  for (const RbNode* n = &t.first()->node; n; n = n->parent) ++depth;
  EXPECT_LE(depth, 2 * 13);
  for (int i = 0; i < N; i += 2) t.remove(items[i]);
  ASSERT_TRUE(t.check());
  EXPECT_EQ(t.first()->key, 1);
  EXPECT_EQ(t.last()->key, N - 1);
  EXPECT_EQ(Tree::prev(*t.last())->key, N - 3);
}

}  // namespace
