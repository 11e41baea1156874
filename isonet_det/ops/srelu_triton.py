"""Triton kernels of SReLU's one-pass backward (:mod:`isonet_det.ops.srelu_backward` launches
them and holds their CPU twin). Importing this module needs Triton.

``b`` comes as float32 (the threshold already rounded to the activations' dtype, so comparing
``y`` widened to float32 with it is the comparison in that dtype, exactly)."""
import triton
import triton.language as tl

__all__ = ['rows_kernel', 'columns_kernel']


@triton.jit
def rows_kernel(g_ptr, y_ptr, b_ptr, gx_ptr, part_ptr, rows, C, inner, CHUNK: tl.constexpr,
                BLOCK: tl.constexpr):
    """Row ``r`` (channel ``r % C``) of ``inner`` elements; program (r, s) does elements
    ``[s CHUNK, (s + 1) CHUNK)`` and writes its sum of ``g [y <= b]`` to ``part[s, r]``."""
    row = tl.program_id(0)
    split = tl.program_id(1)
    b = tl.load(b_ptr + row % C)
    base = row.to(tl.int64) * inner
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, CHUNK, BLOCK):
        idx = split * CHUNK + start + tl.arange(0, BLOCK)
        inside = idx < inner
        g = tl.load(g_ptr + base + idx, mask=inside, other=0.0)
        y = tl.load(y_ptr + base + idx, mask=inside, other=0.0)
        keep = y.to(tl.float32) > b
        tl.store(gx_ptr + base + idx, tl.where(keep, g, 0.0), mask=inside)
        acc += tl.where(keep, 0.0, g.to(tl.float32))
    tl.store(part_ptr + split * rows + row, tl.sum(acc, axis=0))


@triton.jit
def columns_kernel(g_ptr, y_ptr, b_ptr, gx_ptr, part_ptr, P, C, ROWS: tl.constexpr,
                   BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr):
    """Channels-last ``(P, C)``: program (p, c) does rows ``[p ROWS, (p + 1) ROWS)`` of
    channels ``[c BLOCK_C, ...)`` and writes its sums to ``part[p, channel]``."""
    pid_p = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    col_in = cols < C
    b = tl.load(b_ptr + cols, mask=col_in, other=0.0)
    acc = tl.zeros([BLOCK_C], dtype=tl.float32)
    for start in range(0, ROWS, BLOCK_P):
        rows = pid_p * ROWS + start + tl.arange(0, BLOCK_P)
        inside = (rows < P)[:, None] & col_in[None, :]
        offs = rows.to(tl.int64)[:, None] * C + cols[None, :]
        g = tl.load(g_ptr + offs, mask=inside, other=0.0)
        y = tl.load(y_ptr + offs, mask=inside, other=0.0)
        keep = y.to(tl.float32) > b[None, :]
        tl.store(gx_ptr + offs, tl.where(keep, g, 0.0), mask=inside)
        acc += tl.sum(tl.where(keep, 0.0, g.to(tl.float32)), axis=0)
    tl.store(part_ptr + pid_p * C + cols, acc, mask=col_in)
