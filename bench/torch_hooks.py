"""PyTorch baseline for `npm run bench`: ResNet-18 eager with forward hooks on every leaf module.

Prints one JSON line: {"median_ms", "min_ms", "max_ms", "runs", "threads", "torch"}.
Usage: /usr/bin/python3 bench/torch_hooks.py BATCH SIZE THREADS RUNS [wall|cpu]
(cpu: the process's CPU time, as `npm run bench` measures with BENCH_CLOCK=cpu)
"""
import json
import sys
import time

import torch
import torchvision


def main() -> None:
    batch, size, threads, runs = (int(a) for a in sys.argv[1:5])
    clock = time.process_time if sys.argv[5:6] == ["cpu"] else time.perf_counter
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    acts = {}
    handles = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            # Keeping a reference is all a hook needs to do, as in the seed's example.
            handles.append(module.register_forward_hook(lambda m, i, o, n=name: acts.__setitem__(n, o.detach())))
    x = torch.randn(batch, 3, size, size)
    times = []
    with torch.no_grad():
        for i in range(runs + 3):
            acts.clear()
            t = clock()
            model(x)
            if i >= 3:
                times.append((clock() - t) * 1000)
    for h in handles:
        h.remove()
    times.sort()
    print(json.dumps({"median_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1], "runs": runs,
                      "threads": threads, "hooks": len(handles), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
