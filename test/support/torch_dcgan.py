#!/usr/bin/env python3
"""The PyTorch side of test/pytorch-interop.test.ts: PyTorch's DCGAN and safetensors files without the
safetensors package (Debian has python3-torch but no python3-safetensors; the format is 8 bytes of
little-endian header length, a JSON header, then the raw little-endian tensor bytes).

  torch_dcgan.py save OUT --which G|D|GD [--prefix] [--dtype F32|F16|BF16|F64] [--metadata JSON]
                 [--image-size 32] [--nz 16] [--ngf 8] [--ndf 8] [--nc 3] [--seed 1]
      Builds the models, initialises them as the example's weights_init does, runs a few batches through
      them in training mode (so the batchnorm running statistics and counters are not the fresh ones:
      averaged over the batches, as in a trained model, else G(z) in eval mode is nearly flat), and saves their state_dict(): G alone or D alone without prefixes (or with netG./netD. under
      --prefix), both with the prefixes under GD.
  torch_dcgan.py run-g WEIGHTS Z OUT [--prefix netG.] [sizes as above]
      load_state_dict(strict=True) into a float32 Generator, eval mode, G(z) for the raw float32 z
      [N, nz, 1, 1] in Z, raw float32 to OUT. Prints the dtypes it found, one per line: "dtype KEY DTYPE".
  torch_dcgan.py run-d WEIGHTS X OUT [--prefix netD.] [sizes as above]
      the same for D(x), x raw float32 [N, nc, S, S].
  torch_dcgan.py compare-half F32_FILE F16_FILE
      how many values of F16_FILE differ from torch's .half() of F32_FILE (key by key).

Prints one JSON line on success; exits non-zero with the reason (load_state_dict's own message) else.
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn as nn

# safetensors dtype names <-> torch dtypes
DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64, 'I64': torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


# PyTorch's example (pytorch/examples, dcgan/main.py), with the number of middle blocks following the image
# size (S = 4 * 2^n): at 64 px these are the example's classes layer for layer
# (ngf*8 -> ngf*4 -> ngf*2 -> ngf -> nc; nc -> ndf -> ndf*2 -> ndf*4 -> ndf*8 -> 1).
def strided_layers(image_size):
    n = (image_size // 4).bit_length() - 1
    assert 4 * 2**n == image_size and n >= 1, f'image size {image_size} is not 4 * 2^n'
    return n


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc, image_size):
        super().__init__()
        n = strided_layers(image_size)
        channels = ngf * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(nz, channels, 4, 1, 0, bias=False), nn.BatchNorm2d(channels), nn.ReLU(True)]
        for _ in range(1, n):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc, image_size):
        super().__init__()
        n = strided_layers(image_size)
        channels = ndf
        layers = [nn.Conv2d(nc, channels, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(1, n):
            layers += [nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(channels * 2), nn.LeakyReLU(0.2, inplace=True)]
            channels *= 2
        layers += [nn.Conv2d(channels, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    # the example's custom init
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the same 2 bytes as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    chunks = []
    offset = 0
    for name, t in tensors.items():
        raw = tensor_bytes(t)
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def load_safetensors(path):
    """What safetensors.torch.load_file returns: name -> tensor of the file's dtype."""
    with open(path, 'rb') as f:
        (length,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        dtype = DTYPES[entry['dtype']]
        raw = bytearray(data[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry['shape']).clone()
    return out


def sizes(parser):
    parser.add_argument('--image-size', type=int, default=32)
    parser.add_argument('--nz', type=int, default=16)
    parser.add_argument('--ngf', type=int, default=8)
    parser.add_argument('--ndf', type=int, default=8)
    parser.add_argument('--nc', type=int, default=3)


def warm_up(model, batches):
    """Running statistics that are the batches' average (momentum None), as after long training."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.momentum = None
    with torch.no_grad():
        for x in batches:
            model(x)
    for m in norms:
        m.momentum = 0.1


def save(args):
    torch.manual_seed(args.seed)
    state = {}
    if 'G' in args.which:
        G = Generator(args.nz, args.ngf, args.nc, args.image_size)
        G.apply(weights_init)
        warm_up(G, [torch.randn(16, args.nz, 1, 1) for _ in range(4)])
        prefix = 'netG.' if args.prefix or args.which == 'GD' else ''
        state.update({prefix + k: v for k, v in G.state_dict().items()})
    if 'D' in args.which:
        D = Discriminator(args.ndf, args.nc, args.image_size)
        D.apply(weights_init)
        warm_up(D, [torch.rand(16, args.nc, args.image_size, args.image_size) * 2 - 1 for _ in range(4)])
        prefix = 'netD.' if args.prefix or args.which == 'GD' else ''
        state.update({prefix + k: v for k, v in D.state_dict().items()})
    dtype = DTYPES[args.dtype]
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    save_safetensors(args.out, state, json.loads(args.metadata) if args.metadata else None)
    print(json.dumps({'saved': args.out, 'tensors': len(state), 'dtype': args.dtype}))


def run(args, model, input_shape):
    state = load_safetensors(args.weights)
    dtypes = {k: NAMES[v.dtype] for k, v in state.items()}
    if args.prefix:
        state = {k[len(args.prefix):]: v for k, v in state.items() if k.startswith(args.prefix)}
    try:
        result = model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        sys.exit(f'load_state_dict(strict=True) failed: {e}')
    model.eval()
    with open(args.input, 'rb') as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    x = x.reshape(-1, *input_shape)
    with torch.no_grad():
        y = model(x)
    with open(args.out, 'wb') as f:
        f.write(y.contiguous().numpy().astype('<f4').tobytes())
    counters = {k: int(v) for k, v in model.state_dict().items() if k.endswith('num_batches_tracked')}
    print(json.dumps({'load_state_dict': str(result), 'dtypes': dtypes, 'num_batches_tracked': counters, 'shape': list(y.shape)}))


def compare_half(args):
    full, half = load_safetensors(args.f32), load_safetensors(args.f16)
    differ = sum(int((full[k].half().view(torch.int16) != half[k].view(torch.int16)).sum()) for k in full if full[k].is_floating_point())
    counted = sum(full[k].numel() for k in full if full[k].is_floating_point())
    print(json.dumps({'values': counted, 'differ': differ, 'keys_equal': sorted(full) == sorted(half)}))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest='command', required=True)
    p = commands.add_parser('save')
    p.add_argument('out')
    p.add_argument('--which', choices=['G', 'D', 'GD'], required=True)
    p.add_argument('--prefix', action='store_true')
    p.add_argument('--dtype', choices=['F32', 'F16', 'BF16', 'F64'], default='F32')
    p.add_argument('--metadata')
    p.add_argument('--seed', type=int, default=1)
    sizes(p)
    for name in ['run-g', 'run-d']:
        p = commands.add_parser(name)
        p.add_argument('weights')
        p.add_argument('input')
        p.add_argument('out')
        p.add_argument('--prefix', default='')
        sizes(p)
    p = commands.add_parser('compare-half')
    p.add_argument('f32')
    p.add_argument('f16')
    args = parser.parse_args()
    if args.command == 'save':
        save(args)
    elif args.command == 'compare-half':
        compare_half(args)
    elif args.command == 'run-g':
        run(args, Generator(args.nz, args.ngf, args.nc, args.image_size), [args.nz, 1, 1])
    else:
        run(args, Discriminator(args.ndf, args.nc, args.image_size), [args.nc, args.image_size, args.image_size])


if __name__ == '__main__':
    main()
