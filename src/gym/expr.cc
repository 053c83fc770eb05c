// Random integer expressions by rejection: draw a tree shape and numbers, keep it when every
// intermediate value is in [1, max_value] and every product has a small operand. Nodes are stored
// parent before children, so one backward pass over the array evaluates the tree.
#include <algorithm>

#include "gym/families.h"

namespace muse::gym {
namespace {

int precedence(char op) { return op == 0 ? 3 : (op == '+' || op == '-') ? 1 : 2; }

}  // namespace

int Expr::build(Rng& rng, int ops, const ExprLimits& limits) {
  const int index = int(nodes_.size());
  nodes_.push_back(Node{});
  if (ops == 0) return index;
  // Division only between two numbers ("48 / 6"): a dividend that is itself a sum would
  // rarely be divisible, and exactness is what keeps every line an integer.
  char op = "+-*"[rng.uniform(0, 2)];
  if (ops == 1 && limits.max_quotient > 0 && rng.percent(30)) op = '/';
  const int left_ops = int(rng.uniform(0, ops - 1));
  const int left = build(rng, left_ops, limits);
  const int right = build(rng, ops - 1 - left_ops, limits);
  nodes_[size_t(index)] = Node{.op = op, .left = left, .right = right};
  return index;
}

// Numbers for the leaves under `node`; `small` asks a leaf for a factor-sized number.
void Expr::fill(Rng& rng, int node, bool small, const ExprLimits& limits) {
  Node& n = nodes_[size_t(node)];
  if (n.op == 0) {
    n.value = small ? rng.uniform(2, limits.max_factor) : rng.uniform(1, limits.max_leaf);
    return;
  }
  const int left = n.left, right = n.right;
  if (n.op == '/') {
    const int64_t divisor = rng.uniform(2, 9);
    nodes_[size_t(right)].value = divisor;
    nodes_[size_t(left)].value = divisor * rng.uniform(2, limits.max_quotient);
    return;
  }
  bool small_left = false, small_right = false;
  if (n.op == '*') {
    // One operand of a product stays factor-sized: a leaf when there is one.
    const bool left_leaf = nodes_[size_t(left)].op == 0;
    const bool right_leaf = nodes_[size_t(right)].op == 0;
    if (left_leaf && right_leaf) {
      (rng.percent(50) ? small_left : small_right) = true;
    } else {
      small_left = left_leaf;
      small_right = right_leaf;
    }
  }
  fill(rng, left, small_left, limits);
  fill(rng, right, small_right, limits);
}

bool Expr::valid(const ExprLimits& limits) {
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& n = nodes_[i];
    if (n.op == 0) continue;
    const int64_t a = nodes_[size_t(n.left)].value, b = nodes_[size_t(n.right)].value;
    switch (n.op) {
      case '+':
        n.value = a + b;
        break;
      case '-':
        n.value = a - b;
        break;
      case '*':
        if (std::min(a, b) > limits.max_factor) return false;
        n.value = a * b;
        break;
      default:
        n.value = a / b;
        break;
    }
    // Zero is excluded too: "16 - 16 = 0" and then "0 * 7 = 0" teach nothing.
    if (n.value < 1 || n.value > limits.max_value) return false;
  }
  return true;
}

Expr Expr::random(Rng& rng, const ExprLimits& limits) {
  Expr e;
  for (int attempt = 0; attempt < 10000; ++attempt) {
    e.nodes_.clear();
    e.root_ = e.build(rng, int(rng.uniform(limits.ops_min, limits.ops_max)), limits);
    e.fill(rng, e.root_, false, limits);
    if (e.valid(limits)) return e;
  }
  // Unreachable for the limits the families use (each accepts within a few dozen draws);
  // a sum of ones keeps the function total all the same.
  e.nodes_ = {Node{.op = '+', .value = 2, .left = 1, .right = 2}, Node{.value = 1},
              Node{.value = 1}};
  e.root_ = 0;
  return e;
}

int Expr::ops() const {
  return int(std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.op; }));
}

std::string Expr::render(int node, const std::vector<bool>& done) const {
  const Node& n = nodes_[size_t(node)];
  if (n.op == 0 || done[size_t(node)]) return std::to_string(n.value);
  const auto prec = [&](int i) { return done[size_t(i)] ? 3 : precedence(nodes_[size_t(i)].op); };
  std::string left = render(n.left, done), right = render(n.right, done);
  if (prec(n.left) < precedence(n.op)) left = "(" + left + ")";
  if (prec(n.right) <= precedence(n.op)) right = "(" + right + ")";
  return left + " " + n.op + " " + right;
}

std::string Expr::text() const { return render(root_, std::vector<bool>(nodes_.size(), false)); }

void Expr::visit(int node, Trace& trace, bool rewrite, std::string_view label,
                 std::vector<bool>& done) const {
  const Node& n = nodes_[size_t(node)];
  if (n.op == 0) return;
  visit(n.left, trace, rewrite, label, done);
  visit(n.right, trace, rewrite, label, done);
  trace.op(nodes_[size_t(n.left)].value, n.op, nodes_[size_t(n.right)].value, label);
  done[size_t(node)] = true;
  if (rewrite && node != root_) trace.note("Now: " + render(root_, done), kNormal);
}

int64_t Expr::evaluate(Trace& trace, bool rewrite, std::string_view label) const {
  std::vector<bool> done(nodes_.size(), false);
  visit(root_, trace, rewrite, label, done);
  return value();
}

}  // namespace muse::gym
