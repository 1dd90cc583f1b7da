#!/usr/bin/env python3
"""Times the GPU check's cases in PyTorch, the peer the check program's table compares with.

usage: torch_reference.py PLAN --out RESULTS [--device cuda|cpu] [--budget SECONDS]

PLAN is written by `engine-gpu-check --plan PLAN`: a list of cases, each a kind ("matmul",
"attention", "softmax", ...) with its arguments. Each case is built in torch at float32 with
TF32 off everywhere (so cuBLAS and cuDNN do true fp32, as our kernels do), run once to warm up,
then timed: back-to-back launches for about 100 ms between two CUDA events, best of three
samples. RESULTS gets {"torch", "device", "settings", "results": {id: {"ms", "note"}}}, which
`engine-gpu-check --torch RESULTS` reads into its torch columns; the timings are also printed as
a Markdown table. A case torch cannot run is recorded with its error and the rest go on.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

SAMPLE_MS = 100.0
SAMPLES = 3
MAX_REPETITIONS = 1000


def configure_fp32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return "fp32, TF32 off (allow_tf32=False, float32_matmul_precision=highest)"


class Timer:
    """Milliseconds per call of fn: CUDA events on a GPU, perf_counter on the CPU."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def batch_ms(self, fn, repetitions):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repetitions):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / repetitions
        begin = time.perf_counter()
        for _ in range(repetitions):
            fn()
        return (time.perf_counter() - begin) * 1e3 / repetitions

    def measure(self, fn):
        fn()
        self.sync()
        single = max(self.batch_ms(fn, 1), 1e-3)
        repetitions = int(min(MAX_REPETITIONS, max(1, SAMPLE_MS / single)))
        samples = 1 if single > SAMPLE_MS else SAMPLES
        return min([single] + [self.batch_ms(fn, repetitions) for _ in range(samples)])


def uniform(shape, low, high, device):
    return torch.empty(shape, device=device, dtype=torch.float32).uniform_(low, high)


def matmul_case(args, device):
    batch, m, n, k = args["batch"], args["m"], args["n"], args["k"]
    alpha = args["alpha"]
    prefix = (batch,) if batch > 1 else ()
    a = uniform(prefix + ((k, m) if args["trans_a"] else (m, k)), -1, 1, device)
    b = uniform(prefix + ((n, k) if args["trans_b"] else (k, n)), -1, 1, device)
    a_op = a.transpose(-1, -2) if args["trans_a"] else a
    b_op = b.transpose(-1, -2) if args["trans_b"] else b
    c = uniform(prefix + (m, n), -1, 1, device)
    if batch > 1:
        if args["accumulate"]:
            return lambda: c.baddbmm_(a_op, b_op, alpha=alpha)
        return lambda: torch.baddbmm(c, a_op, b_op, beta=0, alpha=alpha, out=c)
    if args["bias"]:
        bias = uniform((n,), -1, 1, device)
        return lambda: torch.addmm(bias, a_op, b_op, alpha=alpha, out=c)
    if args["accumulate"]:
        return lambda: c.addmm_(a_op, b_op, alpha=alpha)
    if alpha == 1:
        return lambda: torch.mm(a_op, b_op, out=c)
    return lambda: torch.addmm(c, a_op, b_op, beta=0, alpha=alpha, out=c)


def attention_case(args, device, timer):
    """Times attention composed as ours is (scores materialised), with SDPA's time in the note."""
    batch, heads, t, d = args["batch"], args["heads"], args["t"], args["d"]
    q, k, v = (uniform((batch * heads, t, d), -1, 1, device) for _ in range(3))
    mask = torch.full((t, t), float("-inf"), device=device).triu_(1) if args["causal"] else torch.zeros((t, t), device=device)
    scale = 1.0 / math.sqrt(d)
    scores = torch.empty((batch * heads, t, t), device=device)

    def composed():
        torch.baddbmm(scores, q, k.transpose(1, 2), beta=0, alpha=scale, out=scores)
        return torch.bmm(torch.softmax(scores + mask, dim=-1), v)

    if not hasattr(F, "scaled_dot_product_attention"):
        return composed, f"torch {torch.__version__} has no SDPA"
    q4, k4, v4 = (x.view(batch, heads, t, d) for x in (q, k, v))
    try:
        sdpa_ms = timer.measure(lambda: F.scaled_dot_product_attention(q4, k4, v4, is_causal=args["causal"]))
    except RuntimeError as error:
        return composed, f"torch SDPA failed: {error}"
    return composed, f"torch SDPA {sdpa_ms:.3f} ms"


def sdpa_case(args, device, backward):
    """Times torch's scaled_dot_product_attention (causal), forward alone or forward + backward."""
    batch, heads, t, d = args["batch"], args["heads"], args["t"], args["d"]
    q, k, v, grad = (uniform((batch, heads, t, d), -1, 1, device) for _ in range(4))
    if not backward:
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=args["causal"])
    q, k, v = (x.requires_grad_(True) for x in (q, k, v))

    def forward_backward():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=args["causal"])
        return torch.autograd.grad(out, (q, k, v), grad)

    return forward_backward


UNARY = {
    "identity": lambda x, y: y.copy_(x),
    "neg": lambda x, y: torch.neg(x, out=y),
    "relu": lambda x, y: torch.clamp_min(x, 0, out=y),
    "gelu_tanh": lambda x, y: F.gelu(x, approximate="tanh"),
    "gelu_erf": lambda x, y: F.gelu(x),
    "exp": lambda x, y: torch.exp(x, out=y),
    "log": lambda x, y: torch.log(x, out=y),
    "log1p": lambda x, y: torch.log1p(x, out=y),
    "tanh": lambda x, y: torch.tanh(x, out=y),
    "sqrt": lambda x, y: torch.sqrt(x, out=y),
    "abs": lambda x, y: torch.abs(x, out=y),
    "sign": lambda x, y: torch.sign(x, out=y),
    "sigmoid": lambda x, y: torch.sigmoid(x, out=y),
    "erf": lambda x, y: torch.erf(x, out=y),
    "reciprocal": lambda x, y: torch.reciprocal(x, out=y),
    "square": lambda x, y: torch.square(x, out=y),
}

BINARY = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "max": torch.maximum,
    "min": torch.minimum,
    "pow": torch.pow,
}


def unary_case(args, device):
    x = uniform((args["n"],), 0.1, 4, device)
    y = torch.empty_like(x)
    op = UNARY[args["op"]]
    return lambda: op(x, y)


def binary_case(args, device):
    a = uniform((args["n"],), 0.1, 4, device)
    b = uniform((args["n"],), 0.5, 2, device)
    y = torch.empty_like(a)
    op = BINARY[args["op"]]
    return lambda: op(a, b, out=y)


def binary_broadcast_case(args, device):
    x = uniform((args["rows"], args["cols"]), -4, 4, device)
    bias = uniform((args["cols"],), -4, 4, device)
    y = torch.empty_like(x)
    return lambda: torch.add(x, bias, out=y)


def transpose_copy_case(args, device):
    x = uniform((args["cols"], args["rows"]), -4, 4, device)
    y = torch.empty((args["rows"], args["cols"]), device=device)
    return lambda: y.copy_(x.t())


def fill_case(args, device):
    y = torch.empty((args["n"],), device=device)
    return lambda: y.fill_(1.5)


def reduce_case(args, device):
    x = uniform((args["outer"], args["n"], args["inner"]), -4, 4, device)
    op = args["op"]
    if op == "arg_max":
        indices = torch.empty((args["outer"], args["inner"]), device=device, dtype=torch.int64)
        return lambda: torch.argmax(x, dim=1, out=indices)
    y = torch.empty((args["outer"], args["inner"]), device=device)
    reduce = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}[op]
    return lambda: reduce(x, dim=1, out=y)


def softmax_case(args, device):
    x = uniform((args["rows"], args["cols"]), -8, 8, device)
    return (lambda: torch.log_softmax(x, dim=-1)) if args["log"] else (lambda: torch.softmax(x, dim=-1))


def layer_norm_case(args, device):
    cols = args["cols"]
    x = uniform((args["rows"], cols), -3, 5, device)
    gamma = uniform((cols,), 0.5, 1.5, device) if args["affine"] else None
    beta = uniform((cols,), -1, 1, device) if args["affine"] else None
    # native_layer_norm also returns the mean and rstd, which ours writes for the backward too.
    return lambda: torch.native_layer_norm(x, [cols], gamma, beta, 1e-5)


def embedding_case(args, device):
    table = uniform((args["vocab"], args["dim"]), -1, 1, device)
    ids = torch.randint(0, args["vocab"], (args["n"],), device=device)
    return lambda: F.embedding(ids, table)


def cross_entropy_case(args, device):
    rows, cols = args["rows"], args["cols"]
    logits = uniform((rows, cols), -8, 8, device)
    targets = torch.randint(0, cols, (rows,), device=device)
    targets[::7] = -100
    return lambda: F.cross_entropy(logits, targets, ignore_index=-100, reduction="none")


BUILDERS = {
    "matmul": matmul_case,
    "unary": unary_case,
    "binary": binary_case,
    "binary_broadcast": binary_broadcast_case,
    "transpose_copy": transpose_copy_case,
    "fill": fill_case,
    "reduce": reduce_case,
    "softmax": softmax_case,
    "layer_norm": layer_norm_case,
    "embedding": embedding_case,
    "cross_entropy": cross_entropy_case,
}


def time_case(case, device, timer):
    kind, args = case["kind"], case["args"]
    if kind == "attention":
        fn, note = attention_case(args, device, timer)
    elif kind in ("sdpa", "sdpa_backward"):
        fn, note = sdpa_case(args, device, backward=kind == "sdpa_backward"), ""
    elif kind in BUILDERS:
        fn, note = BUILDERS[kind](args, device), ""
    else:
        return {"ms": None, "note": f"torch script has no builder for kind '{kind}'"}
    return {"ms": timer.measure(fn), "note": note}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plan", help="plan written by engine-gpu-check --plan")
    parser.add_argument("--out", required=True, help="where to write the torch results (JSON)")
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds after which remaining cases are skipped")
    options = parser.parse_args()

    device = torch.device(options.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_reference.py: torch sees no CUDA device")
    settings = configure_fp32()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    with open(options.plan) as f:
        cases = json.load(f)["cases"]

    timer = Timer(device)
    results = {}
    began = time.monotonic()
    print(f"torch {torch.__version__} on {name}, {settings}")
    print("| id | torch ms | note |")
    print("|---|---:|---|")
    for case in cases:
        if time.monotonic() - began > options.budget:
            results[case["id"]] = {"ms": None, "note": f"skipped: torch budget of {options.budget:.0f} s spent"}
            continue
        try:
            result = time_case(case, device, timer)
        except Exception as error:  # one case torch cannot run must not lose the others
            result = {"ms": None, "note": f"torch failed: {type(error).__name__}: {error}"}
        if device.type == "cuda":
            torch.cuda.empty_cache()
        results[case["id"]] = result
        ms = "-" if result["ms"] is None else f"{result['ms']:.3f}"
        print(f"| {case['id']} | {ms} | {result['note']} |", flush=True)

    with open(options.out, "w") as f:
        json.dump({"torch": torch.__version__, "device": name, "settings": settings, "results": results}, f, indent=2)
    print(f"torch results written to {options.out}")


if __name__ == "__main__":
    main()
