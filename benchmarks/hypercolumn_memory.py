"""Peak memory and time of the dense hypercolumn forward vs the backbone's own forward.

At ``--size`` x ``--size`` (512) with every VGG16 convolution tapped (4,227
channels per pixel with the image), one image, no gradients, in one run of this
script: each measurement runs in a fresh process (so its peak resident memory
is its own) that builds the network, runs one warm-up forward, then times
``--repeats`` forwards; the memory figure is the peak RSS during the forwards
minus the RSS before them (the forward's own working memory; the weights are
counted once, before). Printed:

* the backbone's own forward (timm ``forward_features`` of VGG16);
* the hypercolumn segmenter's dense forward (each tap projected by its slice of
  the first layer, then upsampled: the largest full-size tensor has the hidden
  width, 1,024);
* what concatenating the upsampled taps would need: 4,227 x H x W float32.

Target: hypercolumn forward memory <= 2x the backbone's.

    python benchmarks/hypercolumn_memory.py [--size 512] [--repeats 3] [--hidden 1024]
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import torch


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def child(kind: str, size: int, repeats: int, hidden: int) -> dict[str, Any]:
    import timm

    from torchgeo_als4gan.models import HypercolumnSegmenter

    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    if kind == 'backbone':
        model = timm.create_model('vgg16', pretrained=False, num_classes=0).eval()
        model.pre_logits = torch.nn.Identity()  # the same weights as the segmenter's

        def run(x: torch.Tensor) -> Any:
            return model.forward_features(x)
    else:
        segmenter = HypercolumnSegmenter('vgg16', 3, 2, hidden=(hidden, hidden)).eval()

        def run(x: torch.Tensor) -> Any:
            return segmenter(x)

    x = torch.randn(1, 3, size, size)
    run(x)  # warm-up
    before = rss_mb()
    start = time.perf_counter()
    for _ in range(repeats):
        out = run(x)
        del out
    seconds = (time.perf_counter() - start) / repeats
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        'kind': kind,
        'seconds': seconds,
        'forward_mb': peak - before,
        'peak_mb': peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--hidden', type=int, default=1024)
    parser.add_argument('--child', choices=['backbone', 'hypercolumn'])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.repeats, args.hidden)))
        return
    results = {}
    for kind in ('backbone', 'hypercolumn'):
        cmd = [sys.executable, __file__, '--child', kind, '--size', str(args.size),
               '--repeats', str(args.repeats), '--hidden', str(args.hidden)]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[kind] = json.loads(out.strip().splitlines()[-1])
    naive = 4227 * args.size * args.size * 4 / 2**20
    print(
        f'VGG16, one {args.size} x {args.size} image, no gradients, {args.repeats} forwards:'
    )
    print('| forward | seconds | forward memory MiB | peak RSS MiB |')
    print('|---|---:|---:|---:|')
    for kind, r in results.items():
        print(
            f'| {kind} | {r["seconds"]:.2f} | {r["forward_mb"]:.0f} | {r["peak_mb"]:.0f} |'
        )
    print(f'| concatenated 4,227-channel map alone | | {naive:.0f} | |')
    back, hyper = results['backbone'], results['hypercolumn']
    print(
        f'hypercolumn / backbone: time {hyper["seconds"] / back["seconds"]:.2f}x,'
        f' forward memory {hyper["forward_mb"] / back["forward_mb"]:.2f}x (target <= 2),'
        f' peak RSS {hyper["peak_mb"] / back["peak_mb"]:.2f}x'
    )


if __name__ == '__main__':
    main()
