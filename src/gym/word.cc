// word: GSM8K-like stories from templates. A person starts with some items; each event
// changes the count by one or two operations (buy, give away, packs of q, ...); an optional
// last event asks about someone else (k times as many) or a share (k friends, exact). Every
// sentence maps to the lines of the trace in order, so reading and computing stay aligned.
#include <algorithm>
#include <array>
#include <span>

#include "gym/families.h"

namespace muse::gym {
namespace {

struct Person {
  const char* name;
  const char* subject;  // "She"
  const char* object;   // "her"
};
constexpr std::array<Person, 12> kPeople = {{{"Ana", "She", "her"},
                                             {"Ben", "He", "him"},
                                             {"Carl", "He", "him"},
                                             {"Dora", "She", "her"},
                                             {"Eva", "She", "her"},
                                             {"Finn", "He", "him"},
                                             {"Gina", "She", "her"},
                                             {"Hugo", "He", "him"},
                                             {"Ivy", "She", "her"},
                                             {"Jack", "He", "him"},
                                             {"Mia", "She", "her"},
                                             {"Leo", "He", "him"}}};

struct Thing {
  const char* plural;
  bool edible;
};
constexpr std::array<Thing, 10> kThings = {{{"apples", true},
                                            {"cookies", true},
                                            {"pears", true},
                                            {"pens", false},
                                            {"stickers", false},
                                            {"marbles", false},
                                            {"cards", false},
                                            {"books", false},
                                            {"coins", false},
                                            {"shells", false}}};

struct Bounds {
  int steps_min, steps_max;
  int64_t start, change, packs, per_pack, max_value;
};
Bounds bounds(Level level) {
  switch (level) {
    case Level::kEasy:
      return {1, 1, 20, 10, 5, 9, 100};
    case Level::kMedium:
      return {2, 3, 50, 20, 9, 12, 500};
    case Level::kHard:
      break;
  }
  return {3, 5, 99, 50, 9, 25, 999};
}

std::string num(int64_t v) { return std::to_string(v); }

struct Story {
  const Bounds& b;
  Rng& rng;
  Trace& trace;
  const Person& who;
  const Thing& thing;
  std::string text;
  int64_t x = 0;

  void say(const std::string& sentence) { text += " " + sentence; }

  const Person& other() {
    for (;;) {
      const Person& p = rng.pick(std::span<const Person>(kPeople));
      if (&p != &who) return p;
    }
  }

  // One operation that keeps the count in [1, max_value].
  void one_step() {
    const bool can_add = x<b.max_value, can_sub = x> 1;
    if (can_add && (!can_sub || rng.percent(50))) {
      const int64_t n = rng.uniform(1, std::min(b.change, b.max_value - x));
      switch (rng.uniform(0, 2)) {
        case 0:
          say(std::string(who.subject) + " buys " + num(n) + " more.");
          x = trace.op(x, '+', n, "After buying");
          return;
        case 1:
          say(std::string(who.subject) + " finds " + num(n) + " more.");
          x = trace.op(x, '+', n, "After finding");
          return;
        default:
          say(std::string(other().name) + " gives " + who.object + " " + num(n) + ".");
          x = trace.op(x, '+', n, "After the gift");
          return;
      }
    }
    const int64_t n = rng.uniform(1, std::min(b.change, x - 1));
    switch (rng.uniform(0, thing.edible ? 2 : 1)) {
      case 0:
        say(std::string(who.subject) + " gives " + num(n) + " to " + other().name + ".");
        x = trace.op(x, '-', n, "After giving");
        return;
      case 1:
        say(std::string(who.subject) + " loses " + num(n) + ".");
        x = trace.op(x, '-', n, "After losing");
        return;
      default:
        say(std::string(who.subject) + " eats " + num(n) + ".");
        x = trace.op(x, '-', n, "After eating");
        return;
    }
  }

  // Packs bought or sold: a product, then a sum or difference. False when none fits.
  bool two_steps() {
    const int64_t p = rng.uniform(2, b.packs), q = rng.uniform(2, b.per_pack);
    const std::string packs = num(p) + " packs of " + num(q) + " " + thing.plural;
    if (x + p * q <= b.max_value && rng.percent(60)) {
      say(std::string(who.subject) + " buys " + packs + ".");
      const int64_t t = trace.op(p, '*', q, "In the packs");
      x = trace.op(x, '+', t, "After buying");
      return true;
    }
    if (p * q < x) {
      say(std::string(who.subject) + " sells " + packs + ".");
      const int64_t t = trace.op(p, '*', q, "Sold");
      x = trace.op(x, '-', t, "After selling");
      return true;
    }
    return false;
  }

  // A last event that changes what is asked; returns the question, or "" when none fits.
  std::string last_step() {
    const int64_t k = rng.uniform(2, 6);
    if (rng.percent(50) && x * k <= b.max_value) {
      const Person& p = other();
      say(std::string(p.name) + " has " + num(k) + " times as many " + thing.plural + " as " +
          who.name + ".");
      x = trace.op(x, '*', k, p.name);
      return std::string("How many ") + thing.plural + " does " + p.name + " have?";
    }
    for (int i = 0; i < 5; ++i) {
      const int64_t friends = 2 + (k - 2 + i) % 5;  // k, k + 1, ... wrapping inside [2, 6]
      if (x % friends != 0) continue;
      say(std::string(who.subject) + " shares them equally among " + num(friends) + " friends.");
      x = trace.op(x, '/', friends, "Each friend");
      return std::string("How many ") + thing.plural + " does each friend get?";
    }
    return "";
  }
};

}  // namespace

Problem make_word(Level level, Rng& rng, int verbosity) {
  const Bounds b = bounds(level);
  Trace trace(verbosity);
  const Person& who = rng.pick(std::span<const Person>(kPeople));
  const Thing& thing = rng.pick(std::span<const Thing>(kThings));
  Story s{.b = b, .rng = rng, .trace = trace, .who = who, .thing = thing, .text = {}};
  int left = int(rng.uniform(b.steps_min, b.steps_max));
  std::string question;
  if (rng.percent(30)) {
    const int64_t bags = rng.uniform(2, b.packs), each = rng.uniform(2, b.per_pack);
    s.text = std::string(who.name) + " has " + num(bags) + " bags with " + num(each) + " " +
             thing.plural + " in each.";
    s.x = trace.op(bags, '*', each, "In the bags");
    --left;
  } else {
    s.x = rng.uniform(2, b.start);
    s.text = std::string(who.name) + " has " + num(s.x) + " " + thing.plural + ".";
  }
  const bool changed = left > 0;
  while (left > 0) {
    if (left == 1 && rng.percent(40)) {
      question = s.last_step();
      if (!question.empty()) break;
    }
    if (left >= 2 && rng.percent(40) && s.two_steps()) {
      left -= 2;
    } else {
      s.one_step();
      --left;
    }
  }
  if (question.empty()) {
    question = std::string("How many ") + thing.plural + " does " + who.name + " have" +
               (changed ? " now?" : "?");
  }
  const std::string answer = num(s.x);
  return {.question = s.text + " " + question,
          .answer = answer,
          .trace = trace.finish(answer),
          .steps = trace.steps()};
}

}  // namespace muse::gym
