#!/usr/bin/python3
"""PyTorch reference of muse-nano's training step, for a side-by-side throughput benchmark.

What is measured: training tokens per second of one full optimizer step of the model that
`muse train --recipe nano` trains (src/train/recipes.cc), in PyTorch on the CPU in float32:
zero_grad, forward, cross-entropy loss, backward, global-norm gradient clipping at 1.0,
AdamW (lr 2e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices only) and the
auxiliary-loss-free selection-bias update of every MoE layer. One step is a batch of
8 rows x 320 tokens (2560 tokens) of random token ids from a fixed seed; batches are made
before timing. The reported number is the median step time over the timed steps (the first
--warmup steps are run but not counted) and tokens/s = 2560 / median step time.

The model mirrors src/train/model.h (equations) and src/train/model_pass.cc (forward and
backward order), with the nano shapes of src/train/recipes.cc:
  x = token_embd[tokens]
  per layer (6): h = RMSNorm(x)
    MLA, q_lora_rank 0: q = W_q h            [T][H][qk_nope + qk_rope], RoPE on the rope part
                        [c ; k_r] = W_kva h  [T][kv_lora + qk_rope],    RoPE on k_r (shared)
                        [k_nope ; v] = W_kvb RMSNorm(c)   [T][H][qk_nope + v_head_dim]
                        x += W_o softmax_causal(q.[k_nope ; k_r] / sqrt(qk_nope + qk_rope)) v
    h = RMSNorm(x)
    layer 0: x += W_down(silu(W_gate h) * W_up h), width n_ff 576
    layers 1-5 (MoE): p = sigmoid(W_router h) [16]; top-2 chosen by p + selection bias (the bias
                        has no gradient and only affects the choice); w = p_k / sum(p_chosen);
                        x += sum_k w_k Expert_k(h) + Shared(h), SwiGLU experts of width 192
  logits = W_out RMSNorm(x) (untied), loss = mean cross-entropy.
RoPE is GGML's "normal" style (adjacent pairs (x[2i], x[2i+1])), base 10000, positions
restarting at 0 on every row; RMSNorm eps 1e-5; attention is causal within a row.
Weights are initialised as src/train/model.cc does (Gaussian, std 1/sqrt(fan_in), residual
output projections further divided by sqrt(2 * n_layer), norms one, selection bias zero), but
from torch's generator, so values differ from muse's.

The MoE is routed the way a PyTorch MoE is usually written: token rows are sorted by expert,
gathered with index_select, each expert runs its SwiGLU on its own rows (gate and up as one
fused [2*Fe][D] product per expert), and results are scattered back with index_add_. The
router backward treats the selection as fixed, as muse's does.

Threads: torch.set_num_threads(N) for ATen's OpenMP pool, and OpenBLAS (Debian's python3-torch
calls the system libblas.so.3, the openblas-pthread alternative) gets N threads through
OPENBLAS_NUM_THREADS, set here before torch is imported, and openblas_set_num_threads.

Run (Debian's torch is installed for /usr/bin/python3; under another `python3`, such as a
pyenv one, the script re-executes itself with /usr/bin/python3):
  /usr/bin/python3 bench/torch_nano_step.py --threads 2 --steps 30 --warmup 3
  /usr/bin/python3 bench/torch_nano_step.py --small --threads 1 --steps 10 --repeat-batch
--small uses the shapes of the "smoke" recipe (a tiny model) for a quick functional check;
--repeat-batch feeds the same batch every step, so the printed loss should fall.
"""

import argparse
import ctypes
import math
import os
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    ap.add_argument("--small", action="store_true", help="the tiny 'smoke' shapes")
    ap.add_argument("--repeat-batch", action="store_true", help="reuse one batch every step")
    ap.add_argument("--seed", type=int, default=20261122)
    return ap.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # OpenBLAS reads these when it is loaded (with torch), so set them first.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

try:
    import torch  # noqa: E402
except ModuleNotFoundError:
    # `python3` may be another interpreter (pyenv) than the one Debian's python3-torch is
    # installed for: rerun under the system one.
    if __name__ == "__main__" and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# --------------------------------------------------------------------------- config

NANO = dict(n_embd=192, n_layer=6, n_head=3, n_ff=576, n_expert=16, n_expert_used=2,
            n_expert_shared=1, n_ff_exp=192, n_leading_dense=1, kv_lora_rank=96, qk_nope=32,
            qk_rope=32, v_head_dim=64, rope_base=10000.0, eps=1e-5, vocab=576,
            n_seq=8, seq_len=320)
# src/train/recipes.cc smoke(): nano with these overrides.
SMOKE = dict(NANO, n_embd=64, n_layer=2, n_head=1, n_ff=128, n_expert=4, n_ff_exp=32,
             kv_lora_rank=32, qk_nope=16, qk_rope=16, v_head_dim=32, vocab=320,
             n_seq=2, seq_len=256)

LR, BETAS, ADAM_EPS, WEIGHT_DECAY, CLIP = 2e-3, (0.9, 0.95), 1e-8, 0.1, 1.0
BIAS_RATE = 1e-3                 # recipe.h bias_rate: DeepSeek-V3's gamma
NORM_FLOOR = 6.103515625e-5      # router.cc kNormFloor under the renormalising sum


# --------------------------------------------------------------------------- ops

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(seq_len, n_rot, base):
    # GGML mode 0: pair i of a head turns by pos * base^(-2i/n_rot).
    inv = base ** (-torch.arange(0, n_rot, 2, dtype=torch.float64) / n_rot)
    theta = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv[None, :]
    return theta.cos().float(), theta.sin().float()      # [L][n_rot/2]


def rope(x, cos, sin):
    # x [B][L][..][R]: rotate adjacent pairs (x[2i], x[2i+1]).
    shape = x.shape
    xp = x.reshape(*shape[:-1], shape[-1] // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    extra = x0.dim() - 3                                  # head dims between L and pairs
    c = cos.view(1, cos.shape[0], *([1] * extra), cos.shape[1])
    s = sin.view(1, sin.shape[0], *([1] * extra), sin.shape[1])
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).reshape(shape)


if hasattr(F, "scaled_dot_product_attention"):            # torch >= 2.0
    ATTN_IMPL = "F.scaled_dot_product_attention"

    def causal_attention(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
else:                                                     # torch 1.13 (Debian bookworm)
    ATTN_IMPL = "torch._C._nn._scaled_dot_product_attention"

    def causal_attention(q, k, v):
        # The same op under its 1.13 private name (math path; scale 1/sqrt(q.size(-1))).
        return torch._C._nn._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]


# --------------------------------------------------------------------------- model

class Layer(nn.Module):
    def __init__(self, c, moe):
        super().__init__()
        D, H, N, R, C, Dv = (c["n_embd"], c["n_head"], c["qk_nope"], c["qk_rope"],
                             c["kv_lora_rank"], c["v_head_dim"])
        self.c, self.moe = c, moe
        P = lambda *s: nn.Parameter(torch.empty(*s))      # noqa: E731
        self.attn_norm = nn.Parameter(torch.ones(D))
        self.wq = P(H * (N + R), D)                       # attn_q
        self.wkva = P(C + R, D)                           # attn_kv_a_mqa
        self.kv_a_norm = nn.Parameter(torch.ones(C))
        self.wkvb = P(H * (N + Dv), C)                    # attn_kv_b
        self.wo = P(D, H * Dv)                            # attn_output
        self.ffn_norm = nn.Parameter(torch.ones(D))
        if not moe:
            Fd = c["n_ff"]
            self.w_gate_up = P(2 * Fd, D)                 # ffn_gate ; ffn_up
            self.w_down = P(D, Fd)
        else:
            E, Fe = c["n_expert"], c["n_ff_exp"]
            Fs = Fe * c["n_expert_shared"]
            self.w_router = P(E, D)                       # ffn_gate_inp
            self.register_buffer("sel_bias", torch.zeros(E))  # exp_probs_b: no gradient
            self.register_buffer("load", torch.zeros(E, dtype=torch.long))
            self.w_gate_up_exps = P(E, 2 * Fe, D)         # ffn_gate_exps ; ffn_up_exps
            self.w_down_exps = P(E, D, Fe)
            self.w_gate_up_sh = P(2 * Fs, D)              # ffn_gate_shexp ; ffn_up_shexp
            self.w_down_sh = P(D, Fs)

    def init_weights(self, n_layer):
        resid = 1.0 / math.sqrt(2.0 * n_layer)
        for name, p in self.named_parameters():
            if p.dim() < 2:
                continue                                   # norms stay ones
            fan_in = p.shape[-1]
            std = 1.0 / math.sqrt(fan_in)
            if name in ("wo", "w_down", "w_down_exps", "w_down_sh"):
                std *= resid
            nn.init.normal_(p, 0.0, std)

    def forward(self, x, cos, sin):
        c = self.c
        B, L, D = x.shape
        H, N, R, C, Dv = c["n_head"], c["qk_nope"], c["qk_rope"], c["kv_lora_rank"], c["v_head_dim"]
        # ---- attention (MLA, full-rank q) ----
        h = rms_norm(x, self.attn_norm, c["eps"])
        q = F.linear(h, self.wq).view(B, L, H, N + R)
        q = torch.cat((q[..., :N], rope(q[..., N:], cos, sin)), dim=-1)
        kva = F.linear(h, self.wkva)                                   # [B][L][C + R]
        k_r = rope(kva[..., C:], cos, sin)                             # [B][L][R], shared
        kvb = F.linear(rms_norm(kva[..., :C], self.kv_a_norm, c["eps"]), self.wkvb)
        kvb = kvb.view(B, L, H, N + Dv)
        k = torch.cat((kvb[..., :N], k_r.unsqueeze(2).expand(B, L, H, R)), dim=-1)
        v = kvb[..., N:]
        o = causal_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + F.linear(o.transpose(1, 2).reshape(B, L, H * Dv), self.wo)
        # ---- FFN ----
        h = rms_norm(x, self.ffn_norm, c["eps"])
        if not self.moe:
            return x + swiglu(h, self.w_gate_up, self.w_down)
        h2 = h.reshape(B * L, D)
        return x + (self.moe_ffn(h2) + swiglu(h2, self.w_gate_up_sh, self.w_down_sh)).view(B, L, D)

    def moe_ffn(self, h):
        c = self.c
        T, D = h.shape
        E, K, Fe = c["n_expert"], c["n_expert_used"], c["n_ff_exp"]
        probs = torch.sigmoid(F.linear(h, self.w_router))               # [T][E]
        with torch.no_grad():
            ids = torch.topk(probs + self.sel_bias, K, dim=-1).indices   # [T][K], best first
        w = probs.gather(1, ids)
        w = w / w.sum(-1, keepdim=True).clamp_min(NORM_FLOOR)            # renormalise (scale 1)
        flat = ids.reshape(-1)                                           # [T*K]
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=E)
        with torch.no_grad():
            self.load += counts
        token = torch.div(order, K, rounding_mode="floor")               # row -> token
        xe = h.index_select(0, token)                                    # rows grouped by expert
        sizes = counts.tolist()
        outs = []
        for e, xs in enumerate(torch.split(xe, sizes)):
            if sizes[e] == 0:
                continue
            gu = F.linear(xs, self.w_gate_up_exps[e])
            outs.append(F.linear(F.silu(gu[:, :Fe]) * gu[:, Fe:], self.w_down_exps[e]))
        ye = torch.cat(outs) * w.reshape(-1).index_select(0, order).unsqueeze(1)
        return torch.zeros_like(h).index_add_(0, token, ye)

    @torch.no_grad()
    def update_selection_bias(self, rate):
        # router.cc moe_update_bias: bias_i += rate * sign(mean(load) - load_i), then reset.
        load = self.load.double()
        self.sel_bias += rate * torch.sign(load.mean() - load).float()
        self.load.zero_()


def swiglu(h, w_gate_up, w_down):
    gu = F.linear(h, w_gate_up)
    g, u = gu.chunk(2, dim=-1)
    return F.linear(F.silu(g) * u, w_down)


class Muse(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D, V = c["n_embd"], c["vocab"]
        self.token_embd = nn.Parameter(torch.empty(V, D))
        self.layers = nn.ModuleList(
            Layer(c, moe=(l >= c["n_leading_dense"])) for l in range(c["n_layer"]))
        self.output_norm = nn.Parameter(torch.ones(D))
        self.output = nn.Parameter(torch.empty(V, D))
        nn.init.normal_(self.token_embd, 0.0, 1.0 / math.sqrt(D))
        nn.init.normal_(self.output, 0.0, 1.0 / math.sqrt(D))
        for layer in self.layers:
            layer.init_weights(c["n_layer"])
        cos, sin = rope_tables(c["seq_len"], c["qk_rope"], c["rope_base"])
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, tokens, targets):
        x = F.embedding(tokens, self.token_embd)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin)
        logits = F.linear(rms_norm(x, self.output_norm, self.c["eps"]), self.output)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))

    def n_params(self):
        # Every tensor gen-model's muse tables hold, as TrainModel::n_params counts them:
        # trained parameters plus the selection biases.
        n = sum(p.numel() for p in self.parameters())
        return n + sum(l.sel_bias.numel() for l in self.layers if l.moe)


# --------------------------------------------------------------------------- benchmark

def set_openblas_threads(n):
    """Returns a description of the OpenBLAS torch loaded, after giving it n threads."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "openblas" in path and ".so" in path:
                libs.add(path)
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads(n)
            lib.openblas_get_config.restype = ctypes.c_char_p
            return "%s (%s, %d threads)" % (lib.openblas_get_config().decode(), path,
                                            lib.openblas_get_num_threads())
        except (OSError, AttributeError):
            continue
    return "no OpenBLAS loaded"


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = SMOKE if a.small else NANO
    model = Muse(c)
    blas = set_openblas_threads(a.threads)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n != "token_embd"]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n != "token_embd")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=ADAM_EPS)
    params = list(model.parameters())
    moe_layers = [l for l in model.layers if l.moe]

    B, L, V = c["n_seq"], c["seq_len"], c["vocab"]
    total = a.warmup + a.steps
    g = torch.Generator().manual_seed(a.seed + 1)
    n_batches = 1 if a.repeat_batch else total
    data = [torch.randint(0, V, (B, L + 1), generator=g) for _ in range(n_batches)]
    batches = [(d[:, :-1].contiguous(), d[:, 1:].contiguous()) for d in data]

    n = model.n_params()
    print("torch %s, %s, BLAS: %s" % (torch.__version__, ATTN_IMPL, blas))
    print("config %s: %s" % ("smoke" if a.small else "nano", c))
    print("params %d (%.2fM, %d decayed matrices' values)" %
          (n, n / 1e6, sum(p.numel() for p in decay)))

    times, cpu_times = [], []
    for step in range(total):
        tokens, targets = batches[step % n_batches]
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model(tokens, targets)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        for layer in moe_layers:
            layer.update_selection_bias(BIAS_RATE)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if step >= a.warmup:
            times.append(dt)
            cpu_times.append(dc)
        # cpu: this process's CPU seconds over all its threads; well under threads x wall
        # means the step waited for a core (a busy machine) rather than computed.
        print("step %3d%s  loss %.4f  grad_norm %.3f  %.3f s (cpu %.3f s)  %.0f tokens/s" %
              (step, " (warmup)" if step < a.warmup else "", loss.item(), float(norm), dt, dc,
               B * L / dt), flush=True)

    if times:
        med = statistics.median(times)
        print("torch %s threads %d: median step %.3f s, %.0f tokens/s (%d x %d tokens/step), "
              "params %.1fM, median cpu %.3f s/step" % (torch.__version__, a.threads, med,
                                                       B * L / med, B, L, n / 1e6,
                                                       statistics.median(cpu_times)))


if __name__ == "__main__":
    sys.exit(main())
