#!/usr/bin/env python3
"""The Python half of scripts/device/measure-and-train.sh, for the GPU machine, which has Python 3.12 with
Pillow but no Node modules (no sharp). Standard library and Pillow only.

  device.py unpack-photos PACK CACHE         JPEG pack (scripts/device/pack-photos.ts) -> uint8 image cache
  device.py generator CHECKPOINT OUT         the netG tensors of a checkpoint, with its metadata -> OUT
  device.py samples RUN_DIR OUT_TAR          RUN_DIR/run.json and the sample grids, as many as fit in 15 MiB
  device.py shrink FILE                      FILE over 15 MiB -> FILE.xz (what comes back is 16 MiB a file)
  device.py summary OUT_DIR RUN_DIR          a short account of bench.json and the run's log, for the output tail
  device.py unxz FILE.xz                     FILE decompressed to stdout (where xz is missing)
  device.py extract-deb DEB DIR              what `dpkg -x DEB DIR` does (where dpkg is missing)
"""
import datetime
import io
import json
import lzma
import os
import struct
import sys
import tarfile

MIB = 2**20
BACK_LIMIT = 15 * MIB  # a file that comes back may be 16 MiB: keep a margin

# src/node/data/cache.ts: a 4096-byte header of JSON padded with spaces and ending in a newline, then
# image i at 4096 + i*B, B = size*size*3, RGB uint8 HWC. Keys in the order cache.ts writes them.
CACHE_HEADER_BYTES = 4096
CACHE_FORMAT = 'dcgan-uint8-image-cache'
CACHE_VERSION = 1


def unpack_photos(pack_file, cache_file):
    from PIL import Image  # only this command needs Pillow

    with open(pack_file, 'rb') as f:
        header = json.loads(f.readline())
        if header.get('format') != 'dcgan-jpeg-pack' or header.get('version') != 1:
            sys.exit(f'FAILED: {pack_file} is not a JPEG pack of scripts/device/pack-photos.ts')
        size = header['imageSize']
        lengths = header['lengths']
        temporary = f'{cache_file}.{os.getpid()}.tmp'
        with open(temporary, 'wb') as out:
            out.write(b' ' * CACHE_HEADER_BYTES)
            for i, length in enumerate(lengths):
                image = Image.open(io.BytesIO(f.read(length)))
                image = image.convert('RGB')
                if image.size != (size, size):
                    sys.exit(f'FAILED: image {i} of {pack_file} is {image.size}, expected {size}x{size}')
                out.write(image.tobytes())
            cache_header = {
                'format': CACHE_FORMAT, 'version': CACHE_VERSION, 'imageSize': size, 'channels': 3,
                'layout': 'NHWC uint8 RGB', 'count': len(lengths), 'skippedCount': 0,
                'sourceHash': header.get('sourceHash', ''), 'payloadOffset': CACHE_HEADER_BYTES,
                'createdAt': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            }
            text = json.dumps(cache_header, separators=(',', ':')).encode()
            out.seek(0)
            out.write(text + b' ' * (CACHE_HEADER_BYTES - 1 - len(text)) + b'\n')
        os.replace(temporary, cache_file)
    print(f'photos: {len(lengths)} images of {size}px (JPEG quality {header.get("quality")}) -> {cache_file}, '
          f'{os.path.getsize(cache_file) / MIB:.1f} MiB')


def read_safetensors(path):
    with open(path, 'rb') as f:
        (length,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    return header, data


def generator(checkpoint, out_file):
    """netG.* only (weights float32, batchnorm counters int64 as in PyTorch), with the checkpoint's metadata
    (format, config, ...) so that `npm run generate -- --checkpoint OUT` reads it (src/train/checkpoint.ts
    decodeCheckpoint wants the format and the config; generate loads netG alone)."""
    header, data = read_safetensors(checkpoint)
    metadata = dict(header.get('__metadata__', {}))
    metadata['contents'] = 'netG only (scripts/device/device.py generator): draws with npm run generate, cannot --resume'
    out_header = {'__metadata__': metadata}
    chunks = []
    offset = 0
    for name, entry in header.items():
        if not name.startswith('netG.'):
            continue
        begin, end = entry['data_offsets']
        chunks.append(data[begin:end])
        out_header[name] = {'dtype': entry['dtype'], 'shape': entry['shape'], 'data_offsets': [offset, offset + end - begin]}
        offset += end - begin
    if len(out_header) == 1:
        sys.exit(f'FAILED: {checkpoint} holds no netG tensor')
    text = json.dumps(out_header, separators=(',', ':'))
    text += ' ' * ((8 - (len(text) + 8) % 8) % 8)  # data 8-byte aligned, as src/train/safetensors.ts writes it
    encoded = text.encode()
    with open(f'{out_file}.tmp', 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
    os.replace(f'{out_file}.tmp', out_file)
    config = json.loads(metadata.get('config', '{}'))
    print(f'generator: {len(out_header) - 1} netG tensors of iteration {metadata.get("iteration")} '
          f'({config.get("model")}) -> {out_file}, {os.path.getsize(out_file) / MIB:.1f} MiB')


def samples(run_dir, out_tar):
    """run.json, 'latest' and the last epoch's grid always, then others spread evenly over the run, under 15 MiB."""
    samples_dir = os.path.join(run_dir, 'samples')
    names = sorted(n for n in os.listdir(samples_dir) if n.endswith('.png'))
    if not names:
        print(f'samples: none in {samples_dir}')
        return
    size = {n: os.path.getsize(os.path.join(samples_dir, n)) for n in names}
    epochs = [n for n in names if n.startswith('epoch-')]
    first = [n for n in ['latest.png'] + epochs[-1:] if n in size]
    rest = [n for n in names if n not in first]
    chosen, total = [], 0
    for n in first:
        chosen.append(n)
        total += size[n]
    # halve the stride until one more pass would not fit: an even spread over the whole run
    picked = set()
    stride = max(1, len(rest))
    while stride >= 1:
        for n in rest[::stride]:
            if n not in picked and total + size[n] <= BACK_LIMIT:
                picked.add(n)
                total += size[n]
        if stride == 1:
            break
        stride //= 2
    chosen += sorted(picked)
    with tarfile.open(out_tar, 'w') as tar:
        if os.path.exists(os.path.join(run_dir, 'run.json')):
            tar.add(os.path.join(run_dir, 'run.json'), arcname='run.json')
        for n in chosen:
            tar.add(os.path.join(samples_dir, n), arcname=f'samples/{n}')
    print(f'samples: {len(chosen)} of {len(names)} grids -> {out_tar}, {os.path.getsize(out_tar) / MIB:.1f} MiB')


def shrink(path):
    if os.path.getsize(path) <= BACK_LIMIT:
        return
    with open(path, 'rb') as f, lzma.open(f'{path}.xz', 'wb', preset=6) as out:
        out.write(f.read())
    os.remove(path)
    print(f'{path} was over 15 MiB: compressed to {path}.xz, {os.path.getsize(path + ".xz") / MIB:.1f} MiB')


def summary(out_dir, run_dir):
    print('== summary')
    bench_file = os.path.join(out_dir, 'bench.json')
    if os.path.exists(bench_file):
        with open(bench_file) as f:
            bench = json.load(f)
        print(f'adapter (bench): {bench.get("adapter")}')
        print(f'bench: {bench.get("environment")}')
        c = bench.get('ceilings') or {}
        if c:
            print(f'bench ceilings: SGEMM {c["sgemm"]["size"]}^3 {c["sgemm"]["gflops"]:.0f} GFLOP/s, '
                  f'copy {c["copy"]["megabytes"]} MB {c["copy"]["gbps"]:.1f} GB/s, one dispatch {c["dispatch"]["ms"] * 1000:.0f} us')
        layers = bench.get('layers', [])
        for batch in sorted({r['batch'] for r in layers}):
            best = {}  # (layer, pass) -> the fastest version measured
            for r in layers:
                key = (r['layer'], r['pass'])
                if r['batch'] == batch and (key not in best or r['ms'] < best[key]['ms']):
                    best[key] = r
            picked = list(best.values())
            by_pass = {}
            for r in picked:
                by_pass[r['pass']] = by_pass.get(r['pass'], 0) + r['ms']
            slowest = sorted(picked, key=lambda r: -r['ms'])[:3]
            variants = '/'.join(sorted({r['variant'] for r in picked}))
            print(f'bench conv batch {batch}: {len(picked)} passes ({variants}, the fastest measured of each), '
                  + ', '.join(f'{k} {v:.2f} ms' for k, v in by_pass.items()) + f', all {sum(by_pass.values()):.2f} ms; slowest: '
                  + ', '.join(f'{r["layer"].split(" ")[0]} {r["pass"]} {r["ms"]:.2f} ms ({r["gflops"]:.3g} GFLOP/s)' for r in slowest))
        for it in bench.get('iterations', []):
            gpu = it.get('gpuMsPerIter')
            gpu = f', GPU {gpu:.2f} ms of profiled passes' if gpu is not None else ''
            print(f'bench iteration batch {it["batch"]}: {it["msPerIter"]:.2f} ms, {it["imagesPerSecond"]:.0f} img/s{gpu}')
    else:
        print('bench: no bench.json (the bench failed or ran out of time: see device.log)')
    log_file = os.path.join(run_dir, 'log.jsonl')
    if os.path.exists(log_file):
        iterations, epochs, start = [], [], None
        with open(log_file) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get('event') == 'start':
                    start = entry
                elif entry.get('event') == 'epoch':
                    epochs.append(entry)
                elif 'event' not in entry and 'iteration' in entry:
                    iterations.append(entry)
        if start:
            print(f'training: {start.get("config")} on {start.get("data")}, {start.get("kernelSet")} kernels')
        if iterations:
            last = iterations[-1]
            rates = [e['imagesPerSecond'] for e in iterations if 'imagesPerSecond' in e]
            print(f'training: {len(epochs)} epochs done, {last["iteration"]} iterations (epoch {last["epoch"]}, batch {last["batch"]}); '
                  f'{rates[-1]:.0f} img/s at the end; last ' + ' '.join(f'{k} {v:.4f}' for k, v in last.items()
                                                                       if isinstance(v, float) and k != 'imagesPerSecond'))
    else:
        print(f'training: no {log_file}')
    print('files back:')
    for name in sorted(os.listdir(out_dir)):
        size = os.path.getsize(os.path.join(out_dir, name))
        print(f'  {name} {size / MIB:.2f} MiB{"  OVER 16 MiB: will not come back" if size > 16 * MIB else ""}')
    if len(os.listdir(out_dir)) > 8:
        print('  MORE THAN 8 FILES: not all will come back')


def unxz(path):
    with lzma.open(path) as f:
        while chunk := f.read(MIB):
            sys.stdout.buffer.write(chunk)


def extract_deb(deb, folder):
    """A .deb is an ar archive: 8 bytes of magic, then members of a 60-byte header and their bytes (padded
    to even); data.tar.* holds the files."""
    with open(deb, 'rb') as f:
        if f.read(8) != b'!<arch>\n':
            sys.exit(f'FAILED: {deb} is not a .deb')
        while header := f.read(60):
            name, size = header[:16].decode().strip().rstrip('/'), int(header[48:58])
            data = f.read(size)
            f.read(size % 2)
            if name.startswith('data.tar'):
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    tar.extractall(folder, **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
                return
    sys.exit(f'FAILED: no data.tar in {deb}')


COMMANDS = {'unpack-photos': unpack_photos, 'generator': generator, 'samples': samples, 'shrink': shrink, 'summary': summary, 'unxz': unxz,
            'extract-deb': extract_deb}

if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
