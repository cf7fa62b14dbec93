#!/usr/bin/env python3
"""Writes the safetensors harness's seed files (fuzz/corpus/safetensors/): tiny synthetic files,
a few bytes of weights each, covering every dtype the reader knows, the "bert." prefix,
__metadata__, an empty tensor and a multi-tensor layout. Standard library only.

  python3 fuzz/make_safetensors_seeds.py
"""
import json
import pathlib
import struct

out = pathlib.Path(__file__).resolve().parent / "corpus" / "safetensors"


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> the file's bytes."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(text)) + text + data


seeds = {
    "f32_matrix": safetensors([("embeddings.word_embeddings.weight", "F32", [2, 2],
                                struct.pack("<4f", 1.0, -2.5, 0.0, 3.25))]),
    "f16_bf16_prefixed": safetensors([("bert.pooler.dense.bias", "F16", [3], struct.pack("<3H", 0x3C00, 0x8001, 0x7C00)),
                                      ("bert.pooler.dense.weight", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0xFFC0))],
                                     {"format": "pt"}),
    "int_dtypes": safetensors([("embeddings.position_ids", "I64", [1, 2], struct.pack("<2q", 0, 1)),
                               ("a", "I32", [1], struct.pack("<i", -1)), ("b", "I16", [1], struct.pack("<h", 7)),
                               ("c", "I8", [2], b"\x01\xff"), ("d", "U8", [1], b"\x02"), ("e", "BOOL", [1], b"\x01"),
                               ("f", "F64", [1], struct.pack("<d", 0.5))]),
    "empty_tensor": safetensors([("empty", "F32", [0, 4], b""), ("scalar", "F32", [], struct.pack("<f", 2.0))]),
    "no_tensors": safetensors([], {"note": "only metadata"}),
}
out.mkdir(parents=True, exist_ok=True)
for name, blob in seeds.items():
    (out / f"{name}.safetensors").write_bytes(blob)
print(f"wrote {len(seeds)} seeds to {out}")
