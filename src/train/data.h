// Training data: gym items as token documents, and whole documents packed into fixed-size
// batches. Two formats:
//   plain (pretraining): "question\n" + trace + <|endoftext|>, every token trained;
//   chat  (SFT): the chat template's prompt for the question (as inference renders it, so
//         the model learns exactly the context it will see), then trace + end-of-turn; only
//         the response is trained.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/status.h"
#include "gym/gym.h"
#include "tokenizer/tokenizer.h"
#include "train/model.h"

namespace muse {

struct TrainDoc {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;  // trained[i]: predicting tokens[i] from its prefix counts
};

enum class DocFormat { kPlain, kChat };

struct DocSpec {
  DocFormat format = DocFormat::kPlain;
  const chat::ChatTemplate* chat_template = nullptr;  // kChat
  std::string end_of_text = "<|endoftext|>";          // kPlain: ends each document
  std::string end_of_turn = "<|im_end|>";             // kChat: ends the response
};

StatusOr<std::vector<TrainDoc>> gym_documents(const Tokenizer& tok, std::span<const GymItem> items,
                                              const DocSpec& spec);

// Fills n_seq rows of seq_len tokens with whole documents from docs[*cursor] on (wrapping
// around at the end); the rest of a row is `pad` with no loss. A document longer than
// seq_len + 1 tokens cannot fit and is skipped (counted in *skipped). Deterministic: the
// batch is a function of (docs, cursor).
TrainBatch pack_batch(std::span<const TrainDoc> docs, int64_t n_seq, int64_t seq_len, int32_t pad,
                      int64_t* cursor, int64_t* skipped);

}  // namespace muse
