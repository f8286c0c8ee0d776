// Red-black tree balancing, written from the textbook rules (Cormen et al.,
// "Introduction to Algorithms", ch. 13), with null leaves instead of a shared
// sentinel so that trees need no static state:
//   1. every node is red or black; 2. the root is black; 3. a red node has
//   black children; 4. every root-to-leaf path has the same number of black
//   nodes. Together they bound the height by 2*log2(n+1).
#include "lib/rbtree.h"

namespace capsule {
namespace {

bool is_red(const RbNode* n) { return n && n->red; }

// Makes v take u's place under u's parent.
void replace_child(RbRoot& t, RbNode* u, RbNode* v) {
  if (!u->parent)
    t.root = v;
  else if (u == u->parent->left)
    u->parent->left = v;
  else
    u->parent->right = v;
  if (v) v->parent = u->parent;
}

void rotate_left(RbRoot& t, RbNode* x) {
  RbNode* y = x->right;
  x->right = y->left;
  if (y->left) y->left->parent = x;
  replace_child(t, x, y);
  y->left = x;
  x->parent = y;
}

void rotate_right(RbRoot& t, RbNode* x) {
  RbNode* y = x->left;
  x->left = y->right;
  if (y->right) y->right->parent = x;
  replace_child(t, x, y);
  y->right = x;
  x->parent = y;
}

RbNode* leftmost_under(RbNode* n) {
  while (n->left) n = n->left;
  return n;
}
RbNode* rightmost_under(RbNode* n) {
  while (n->right) n = n->right;
  return n;
}

// A red node may now have a red parent (rule 3); push the violation up.
void insert_fixup(RbRoot& t, RbNode* z) {
  while (is_red(z->parent)) {
    RbNode* p = z->parent;
    RbNode* g = p->parent;  // exists: a red parent is never the root
    bool p_is_left = (p == g->left);
    RbNode* uncle = p_is_left ? g->right : g->left;
    if (is_red(uncle)) {
      // Recolour and continue from the grandparent.
      p->red = false;
      uncle->red = false;
      g->red = true;
      z = g;
      continue;
    }
    // Rotate z into line with p, then rotate g; done.
    if (p_is_left) {
      if (z == p->right) {
        z = p;
        rotate_left(t, z);
        p = z->parent;
      }
      p->red = false;
      g->red = true;
      rotate_right(t, g);
    } else {
      if (z == p->left) {
        z = p;
        rotate_right(t, z);
        p = z->parent;
      }
      p->red = false;
      g->red = true;
      rotate_left(t, g);
    }
  }
  t.root->red = false;
}

// x (possibly null) carries an extra black; xp is its parent.
void erase_fixup(RbRoot& t, RbNode* x, RbNode* xp) {
  while (x != t.root && !is_red(x)) {
    if (x == xp->left) {
      RbNode* w = xp->right;  // non-null: its side has black height >= 1
      if (w->red) {
        w->red = false;
        xp->red = true;
        rotate_left(t, xp);
        w = xp->right;
      }
      if (!is_red(w->left) && !is_red(w->right)) {
        w->red = true;
        x = xp;
        xp = x->parent;
      } else {
        if (!is_red(w->right)) {
          w->left->red = false;
          w->red = true;
          rotate_right(t, w);
          w = xp->right;
        }
        w->red = xp->red;
        xp->red = false;
        w->right->red = false;
        rotate_left(t, xp);
        x = t.root;
        xp = nullptr;
      }
    } else {
      RbNode* w = xp->left;
      if (w->red) {
        w->red = false;
        xp->red = true;
        rotate_right(t, xp);
        w = xp->left;
      }
      if (!is_red(w->left) && !is_red(w->right)) {
        w->red = true;
        x = xp;
        xp = x->parent;
      } else {
        if (!is_red(w->left)) {
          w->right->red = false;
          w->red = true;
          rotate_left(t, w);
          w = xp->left;
        }
        w->red = xp->red;
        xp->red = false;
        w->left->red = false;
        rotate_right(t, xp);
        x = t.root;
        xp = nullptr;
      }
    }
  }
  if (x) x->red = false;
}

int check_subtree(const RbNode* n, const RbNode* parent) {
  if (!n) return 1;
  if (n->parent != parent || !n->linked_) return -1;
  if (n->red && (is_red(n->left) || is_red(n->right))) return -1;
  int l = check_subtree(n->left, n);
  int r = check_subtree(n->right, n);
  if (l < 0 || r < 0 || l != r) return -1;
  return l + (n->red ? 0 : 1);
}

}  // namespace

void rb_link(RbRoot& t, RbNode* node, RbNode* parent, bool as_left_child) {
  node->parent = parent;
  node->left = node->right = nullptr;
  node->red = true;
  node->linked_ = true;
  if (!parent) {
    t.root = t.leftmost = t.rightmost = node;
  } else if (as_left_child) {
    parent->left = node;
    if (parent == t.leftmost) t.leftmost = node;
  } else {
    parent->right = node;
    if (parent == t.rightmost) t.rightmost = node;
  }
  insert_fixup(t, node);
}

void rb_erase(RbRoot& t, RbNode* z) {
  if (z == t.leftmost) t.leftmost = rb_next(z);
  if (z == t.rightmost) t.rightmost = rb_prev(z);

  RbNode* x;   // the node that moves into the removed position (may be null)
  RbNode* xp;  // its parent after the removal
  bool removed_black;
  if (!z->left || !z->right) {
    x = z->left ? z->left : z->right;
    xp = z->parent;
    removed_black = !z->red;
    replace_child(t, z, x);
  } else {
    // Two children: z's in-order successor y takes z's place and colour, so
    // the colour actually removed from the tree is y's, at y's old spot.
    RbNode* y = leftmost_under(z->right);
    removed_black = !y->red;
    x = y->right;
    if (y->parent == z) {
      xp = y;
    } else {
      xp = y->parent;
      replace_child(t, y, y->right);
      y->right = z->right;
      y->right->parent = y;
    }
    replace_child(t, z, y);
    y->left = z->left;
    y->left->parent = y;
    y->red = z->red;
  }
  if (removed_black && t.root) erase_fixup(t, x, xp);

  z->parent = z->left = z->right = nullptr;
  z->red = false;
  z->linked_ = false;
}

RbNode* rb_next(const RbNode* n) {
  if (n->right) return leftmost_under(n->right);
  while (n->parent && n == n->parent->right) n = n->parent;
  return n->parent;
}

RbNode* rb_prev(const RbNode* n) {
  if (n->left) return rightmost_under(n->left);
  while (n->parent && n == n->parent->left) n = n->parent;
  return n->parent;
}

int rb_check(const RbRoot& t) {
  if (!t.root) return (t.leftmost || t.rightmost) ? -1 : 0;
  if (t.root->red) return -1;
  if (t.leftmost != leftmost_under(t.root) || t.rightmost != rightmost_under(t.root)) return -1;
  return check_subtree(t.root, nullptr);
}

}  // namespace capsule
