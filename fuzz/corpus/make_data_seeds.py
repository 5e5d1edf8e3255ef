#!/usr/bin/python3
"""Writes the seed corpora of the data-loader fuzz targets (idx/, cifar10/, csv/, npy/ beside this script).

Each seed follows its target's input layout (see fuzz/targets/fuzz_<target>.cpp): a few control bytes, then the
file(s). Valid files, gzip-compressed files and typical corruptions, all tiny. Re-run after changing a layout:
    /usr/bin/python3 fuzz/corpus/make_data_seeds.py
"""
import gzip
import io
import os
import struct
import zlib

import numpy as np  # npy/ only

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# --- IDX: [split u16 le][max_classes u8][images][labels] -----------------------------------------------------------
def idx_images(n, h, w, fill=7):
    return struct.pack(">BBBBiii", 0, 0, 8, 3, n, h, w) + bytes((fill + i) % 256 for i in range(n * h * w))


def idx_labels(labels):
    return struct.pack(">BBBBi", 0, 0, 8, 1, len(labels)) + bytes(labels)


def idx(images, labels, classes=0):
    return struct.pack("<HB", len(images), classes) + images + labels


put("idx", "valid", idx(idx_images(2, 2, 3), idx_labels([0, 1])))
put("idx", "valid_10_classes", idx(idx_images(3, 4, 4), idx_labels([9, 0, 3]), classes=10))
put("idx", "valid_gzip", idx(gz(idx_images(2, 3, 3)), gz(idx_labels([1, 0]))))
put("idx", "label_out_of_range", idx(idx_images(2, 2, 2), idx_labels([0, 5]), classes=3))
put("idx", "count_mismatch", idx(idx_images(3, 2, 2), idx_labels([0, 1])))
put("idx", "truncated_images", idx(idx_images(2, 2, 3)[:-4], idx_labels([0, 1])))
put("idx", "bad_magic", idx(b"\x01\x02\x08\x03" + idx_images(1, 1, 1)[4:], idx_labels([0])))
put("idx", "swapped_files", idx(idx_labels([0, 1]), idx_images(2, 2, 3)))
put("idx", "truncated_gzip", idx(gz(idx_images(2, 3, 3))[:-6], gz(idx_labels([1, 0]))))

# --- CIFAR-10: [files u8: odd = the batch twice][batch] -------------------------------------------------------------
def record(label, fill=0):
    return bytes([label]) + bytes((fill + i) % 256 for i in range(3072))


put("cifar10", "one_record", b"\x00" + record(3))
put("cifar10", "two_records_twice", b"\x01" + record(0) + record(9, 5))
put("cifar10", "gzip", b"\x00" + gz(record(7) + record(2)))
put("cifar10", "label_ten", b"\x00" + record(10))
put("cifar10", "truncated", b"\x00" + record(1)[:3000])
put("cifar10", "empty", b"\x01")

# --- CSV: [options u8: bit 0 header, bits 1-3 label column: last first 0 1 2 17 -1 x][file] -----------------------
LAST, FIRST, COL0, COL1 = 0 << 1, 1 << 1, 2 << 1, 3 << 1
HEADER = 1
put("csv", "header_last", bytes([HEADER | LAST]) + b"f0,f1,label\n0.1,0.2,0\n0.3,0.1,1\n0.5,-2e3,0\n")
put("csv", "sklearn_header", bytes([HEADER | LAST]) + b"3,2,malignant,benign\n1.5,2,0\n3,4.25,1\n5,6,1\n")
put("csv", "no_header_first", bytes([FIRST]) + b"1,0.5,0.25\n0,1e-3,7\n2,3,4\n")
put("csv", "column_1_crlf", bytes([HEADER | COL1]) + b"a,label,b\r\n1,0,2\r\n3,1,4\r\n\r\n")
put("csv", "quoted_blank_lines", bytes([HEADER | LAST]) + b'"x","y"\n\n "1.0" , "0"\n\t\n2.0,1\n')
put("csv", "gzip", bytes([HEADER | LAST]) + gz(b"f,label\n0.5,1\n0.25,0\n"))
put("csv", "ragged", bytes([HEADER | LAST]) + b"a,b,label\n1,2,0\n1,2\n")
put("csv", "not_a_number", bytes([HEADER | LAST]) + b"a,label\nnan,0\n1,1\n")
put("csv", "bad_label", bytes([HEADER | LAST]) + b"a,label\n1,0.5\n2,-1\n")
put("csv", "header_disagrees", bytes([HEADER | LAST]) + b"5,1,a,b\n1,0\n2,1\n")
put("csv", "column_0", bytes([COL0]) + b"0,1\n1,2\n")

# --- npy: [mode u8: %3 == 0 .npy, 1 .npz, 2 PNG/JPEG][file] -----------------------------------------------------------
def npy(a, version=None):
    f = io.BytesIO()
    if version is None:
        np.save(f, a)
    else:
        np.lib.format.write_array(f, a, version=version)
    return f.getvalue()


def npz(compressed=False, **arrays):
    f = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return f.getvalue()


def png(pixels, color_type, bit_depth=8, palette=None):
    h, w = pixels.shape[:2]
    rows = b"".join(b"\x00" + np.ascontiguousarray(pixels[r]).astype(">u2" if bit_depth == 16 else "u1").tobytes()
                    for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    return out + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


NPY, NPZ, IMAGE = b"\x00", b"\x01", b"\x02"
small = np.arange(6, dtype="<f4").reshape(2, 3)
put("npy", "f4_2x3", NPY + npy(small))
put("npy", "u1_3d", NPY + npy(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)))
put("npy", "bool", NPY + npy(np.array([True, False, True])))
put("npy", "big_endian_i8", NPY + npy(np.arange(4, dtype=">i8")))
put("npy", "fortran_f8", NPY + npy(np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3))))
put("npy", "f2_scalar", NPY + npy(np.float16(1.5)))
put("npy", "empty_dim", NPY + npy(np.zeros((0, 3), dtype="<u2")))
put("npy", "version2", NPY + npy(small, (2, 0)))
put("npy", "version3", NPY + npy(small, (3, 0)))
put("npy", "complex", NPY + npy(np.zeros(2, dtype=np.complex64)))
put("npy", "truncated", NPY + npy(small)[:-5])
put("npy", "npz_stored", NPZ + npz(x_train=np.arange(4, dtype=np.uint8), y_train=np.array([0, 1, 0, 1])))
put("npy", "npz_deflated", NPZ + npz(True, x=small, y=np.array([1, 0], dtype=np.int16)))
put("npy", "png_gray", IMAGE + png(np.arange(12, dtype=np.uint8).reshape(3, 4), 0))
put("npy", "png_rgba", IMAGE + png(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 6))
put("npy", "png_palette", IMAGE + png(np.array([[0, 1], [1, 0]], dtype=np.uint8), 3, palette=[0, 0, 0, 255, 128, 7]))
put("npy", "png_gray16", IMAGE + png(np.arange(4, dtype=np.uint16).reshape(2, 2) * 257, 0, bit_depth=16))
put("npy", "png_truncated", IMAGE + png(np.arange(12, dtype=np.uint8).reshape(3, 4), 0)[:-20])
