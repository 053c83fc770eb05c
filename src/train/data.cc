#include "train/data.h"

#include "train/ops/cross_entropy.h"

namespace muse {

StatusOr<std::vector<TrainDoc>> gym_documents(const Tokenizer& tok, std::span<const GymItem> items,
                                              const DocSpec& spec) {
  if (spec.format == DocFormat::kChat && spec.chat_template == nullptr) {
    return Status::Error("chat documents need a chat template");
  }
  std::vector<TrainDoc> docs;
  docs.reserve(items.size());
  for (const GymItem& item : items) {
    TrainDoc& d = docs.emplace_back();
    std::string prompt, response;
    if (spec.format == DocFormat::kPlain) {
      response = item.question + "\n" + item.trace + spec.end_of_text;
    } else {
      chat::ChatInputs in;
      in.messages.push_back({{"role", "user"}, {"content", item.question}});
      in.add_generation_prompt = true;
      auto rendered = spec.chat_template->apply(in);
      if (!rendered.ok()) return rendered.status();
      prompt = std::move(*rendered);
      response = item.trace + spec.end_of_turn;
    }
    // Prompt and response are tokenized apart, as at inference: the prompt is fed, the
    // response is generated token by token after it.
    d.tokens = tok.encode(prompt, false, true);
    d.trained.assign(d.tokens.size(), 0);
    const std::vector<int32_t> r = tok.encode(response, false, true);
    d.tokens.insert(d.tokens.end(), r.begin(), r.end());
    d.trained.resize(d.tokens.size(), 1);
  }
  return docs;
}

TrainBatch pack_batch(std::span<const TrainDoc> docs, int64_t n_seq, int64_t seq_len, int32_t pad,
                      int64_t* cursor, int64_t* skipped) {
  TrainBatch b{.n_seq = n_seq, .seq_len = seq_len};
  b.tokens.reserve(size_t(n_seq * seq_len));
  b.targets.reserve(size_t(n_seq * seq_len));
  std::vector<int32_t> row;
  std::vector<uint8_t> trained;
  const int64_t n_docs = int64_t(docs.size());
  for (int64_t s = 0; s < n_seq; ++s) {
    row.clear();
    trained.clear();
    // Rows hold seq_len + 1 tokens: the last one is only a target.
    for (int64_t tries = 0; n_docs > 0 && tries < n_docs; ++tries) {
      const TrainDoc& d = docs[size_t(*cursor % n_docs)];
      if (int64_t(d.tokens.size()) > seq_len + 1) {
        ++*skipped;
        ++*cursor;
        continue;
      }
      if (int64_t(row.size() + d.tokens.size()) > seq_len + 1) break;
      row.insert(row.end(), d.tokens.begin(), d.tokens.end());
      trained.insert(trained.end(), d.trained.begin(), d.trained.end());
      ++*cursor;
    }
    row.resize(size_t(seq_len + 1), pad);
    trained.resize(size_t(seq_len + 1), 0);
    for (int64_t i = 0; i < seq_len; ++i) {
      b.tokens.push_back(row[size_t(i)]);
      b.targets.push_back(trained[size_t(i + 1)] ? row[size_t(i + 1)] : kIgnoreTarget);
    }
  }
  return b;
}

}  // namespace muse
