"""PyTorch's side of bench/torch.ts: our `lenet` preset trained with torch on batches built by the
TypeScript side, so both engines train on the same bytes from the same initial θ.

Shapes: B batch, C=1, H=W=28, N pre-built batches, P parameters (184,586 for lenet).
Data file (little-endian, written by bench/torch.ts):
  x      float32 [N, B, C, H, W]   normalised as src/data/dataset.ts fillBatch does
  y      int32   [N, B]
  theta  float32 [P]               our initial θ, in state_dict order (weight then bias, layer by layer)

Protocol: started with --data FILE --batches N --batch B; prints one JSON line (versions, parameter
count, the loss of θ on batch 0 before any step), then answers one JSON command a line on stdin:
  {"threads": T, "steps": S, "warmup": W}   → {"threads", "steps", "seconds", "samplesPerSecond", "loss"}
  {"profile": T, "steps": S}                → {"ops": [[name, ms a step, share of the step], ...], "msPerStep"}
The model keeps training across commands (one SGD trajectory, like ours). `--probe` prints the
versions and exits: bench/torch.ts uses it to find a python with torch.
"""
import json
import sys
import time

import torch
from torch import nn


def lenet() -> nn.Sequential:
    """src/nn/spec.ts PRESETS.lenet: conv5×5×32 valid → ReLU → pool 2 → conv5×5×64 → ReLU → pool 2
    → flatten (NCHW order) → dense 128 → ReLU → dense 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def blas_libraries() -> list:
    """The BLAS libraries this process has mapped (Linux): PyTorch's dense layers (addmm, mm) call them."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().split("\n")
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps if line.count("/") and any(k in line.lower() for k in ("blas", "blis", "mkl_"))}
    return sorted(p for p in paths if ".so" in p)


def versions() -> dict:
    return {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "maxThreads": torch.get_num_threads(),
        "blas": blas_libraries(),
    }


def main() -> None:
    if "--probe" in sys.argv:
        print(json.dumps(versions()))
        return
    def arg(name: str) -> str:
        return sys.argv[sys.argv.index(name) + 1]

    path, n, b = arg("--data"), int(arg("--batches")), int(arg("--batch"))
    model = lenet()
    p = sum(t.numel() for t in model.parameters())
    with open(path, "rb") as f:
        raw = f.read()
    xs_n, ys_n = n * b * 28 * 28, n * b
    if len(raw) != 4 * (xs_n + ys_n + p):
        raise SystemExit(f"torch-lenet: {path} has {len(raw)} bytes, expected {4 * (xs_n + ys_n + p)} for {n} batches of {b} and {p} parameters")
    flat = torch.frombuffer(bytearray(raw), dtype=torch.float32)
    xs = flat[:xs_n].reshape(n, b, 1, 28, 28).clone()
    ys = flat[xs_n:xs_n + ys_n].view(torch.int32).to(torch.int64).reshape(n, b)
    theta = flat[xs_n + ys_n:].clone()
    # parameters() is state_dict order, the layout of our flat θ.
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)  # plain SGD: no momentum, no weight decay
    with torch.no_grad():
        first = loss_fn(model(xs[0]), ys[0]).item()
    print(json.dumps({**versions(), "params": p, "firstLoss": first}), flush=True)

    i = 0

    def step() -> torch.Tensor:
        nonlocal i
        x, y = xs[i % n], ys[i % n]
        i += 1
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for line in sys.stdin:
        cmd = json.loads(line)
        if "profile" in cmd:
            torch.set_num_threads(cmd["profile"])
            for _ in range(5):
                step()
            with torch.autograd.profiler.profile() as prof:
                t0 = time.perf_counter()
                for _ in range(cmd["steps"]):
                    step()
                total = time.perf_counter() - t0
            rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
            ops = [[e.key, e.self_cpu_time_total / 1000 / cmd["steps"], e.self_cpu_time_total / 1e6 / total] for e in rows]
            print(json.dumps({"ops": ops, "msPerStep": 1000 * total / cmd["steps"]}), flush=True)
            continue
        torch.set_num_threads(cmd["threads"])
        for _ in range(cmd["warmup"]):
            step()
        t0 = time.perf_counter()
        for _ in range(cmd["steps"]):
            loss = step()
        seconds = time.perf_counter() - t0
        print(json.dumps({"threads": torch.get_num_threads(), "steps": cmd["steps"], "seconds": seconds,
                          "samplesPerSecond": cmd["steps"] * b / seconds, "loss": loss.item()}), flush=True)


if __name__ == "__main__":
    main()
