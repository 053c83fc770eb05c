// Entry points of the `muse` subcommands. Each lives in cmd_<name>.cc, parses its own
// flags, prints errors to stderr and returns the process exit code. No model logic here.
#pragma once

namespace muse::cli {

int cmd_info(int argc, char** argv);
int cmd_gen_model(int argc, char** argv);
int cmd_bench(int argc, char** argv);
// `muse bench --shared-prompt P`: branches forked from one prompt, through the engine.
int cmd_bench_parallel(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_contemplate(int argc, char** argv);
int cmd_eval(int argc, char** argv);
// `muse gym`: the gym's procedural tasks as a training corpus (gym/gym.h).
int cmd_gym(int argc, char** argv);
// `muse train --recipe NAME`: tokenizer, pretraining, SFT, export, report (train/recipe.h).
int cmd_train(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_serve(int argc, char** argv);

}  // namespace muse::cli
