"""im2col / col2im: the one place where convolution becomes a matrix product.

A convolution with a k x k kernel reads, for every output pixel, a C x k x k patch of the
(zero-padded) input. Lay those patches out as the columns of a matrix and the whole layer
is one GEMM:

    cols[(c, i, j), (h, w, n)] = x_pad[n, c, s*h + i, s*w + j]       (C*k*k, Ho*Wo*N)
    y[f, (h, w, n)]            = W[f, (c, i, j)] @ cols              (F, Ho*Wo*N)

``col2im`` is the adjoint (used by conv backward and transposed-conv forward): each column
entry is *added* back to the pixel it came from; pixels shared by overlapping patches sum.

Speed: where the batch lives in memory
--------------------------------------
Both functions loop over the k*k kernel offsets (16 iterations for k=4, never over pixels),
and each iteration moves one whole (C, Ho, Wo, N) slab with one NumPy call. How fast that
is depends on the memory layout, so the conv layers work in "CHWN" order: an activation
(N, C, H, W) is stored as a C-contiguous (C, H, W, N) array and handed around as the
transposed *view* ``a.transpose(3, 0, 1, 2)``, which has the right shape (N, C, H, W) and
costs nothing. With the batch innermost:

* a slab's innermost run is N contiguous floats even with stride 2 (in NCHW it would be
  Wo floats two apart: 7 for DCGAN-MNIST, far too short for NumPy's inner loop);
* the GEMM's output (F, Ho*Wo*N) *is* the next activation in CHWN order, and the upstream
  gradient of a conv output is already the (F, Ho*Wo*N) matrix backward needs, so no
  transpose copy sits on either side of any GEMM;
* elementwise layers (NumPy keeps an input's memory order for its outputs) and BatchNorm
  (each channel's N*H*W values are one contiguous block) run on it unchanged.

``to_chwn`` is the only conversion: free for a conv output (or its gradient), one copy
for anything else (the generator's reshaped Dense output, images from the data set).

Zero padding is not materialised: for each offset only the output positions whose input
pixel lies inside the image are copied (``_span``), and the rest of cols is set to 0.

``col2im_matmul(A, B, ...)`` is ``col2im(A @ B, ...)`` without ever holding the product:
conv backward (dx = col2im(W_m^T dy)) and transposed-conv forward (y = col2im(W_m^T x))
would otherwise write a (C*k*k, Ho*Wo*N) matrix (25 MB for DCGAN-MNIST's big layers)
only to read it straight back. Row block (i, j) of A @ B is A's rows for offset (i, j)
times B, so one small GEMM per offset gives that block while it is still in cache, and it
is added into the image at once. The GEMMs do the same arithmetic as the big one.
(The adds themselves go through stride "phases" so that they stream: see ``_scatter_add``.)
"""
from . import backend


def conv_out_size(size, k, stride, padding):
    """Conv2d: floor((H + 2p - k) / s) + 1."""
    return (size + 2 * padding - k) // stride + 1


def to_chwn(x):
    """x (N, C, H, W) -> the C-contiguous (C, H, W, N) array of the same numbers.

    No copy when x is a CHWN view (every conv layer returns one); otherwise one transpose copy.
    """
    return backend.get_array_module(x).ascontiguousarray(x.transpose(1, 2, 3, 0))


def from_chwn(a):
    """a (C, H, W, N) -> the (N, C, H, W) view of it (no copy)."""
    return a.transpose(3, 0, 1, 2)


def _span(i, size, out_size, stride, padding):
    """For kernel offset i: the output positions o in [lo, hi) whose input position
    stride*o + i - padding lies inside [0, size), and that first input position."""
    lo = max(0, -(-(padding - i) // stride))                     # ceil((p - i) / s)
    hi = min(out_size, (size - 1 + padding - i) // stride + 1)
    return lo, max(hi, lo), stride * lo + i - padding


def im2col(x, k, stride, padding, out_hw):
    """x (C, H, W, N) -> cols (C*k*k, Ho*Wo*N) for output size out_hw = (Ho, Wo).

    Offset (i, j)'s block of cols is x shifted by (i - p, j - p) and sampled every s pixels,
    i.e. a shifted window of one stride phase x[:, a::s, b::s] (see ``_scatter_add``);
    split into phases first, every block copy streams.
    """
    xp = backend.get_array_module(x)
    C, H, W, N = x.shape
    Ho, Wo = out_hw
    s = stride
    if s == 1:
        phases = x[None, None]
    else:
        phases = xp.empty((s, s, C, -(-H // s), -(-W // s), N), dtype=x.dtype)
        for a in range(s):
            for b in range(s):
                phases[a, b, :, :(H - a + s - 1) // s, :(W - b + s - 1) // s] = x[:, a::s, b::s]
    cols = xp.empty((C, k, k, Ho, Wo, N), dtype=x.dtype)
    for i in range(k):
        h_lo, h_hi, h0 = _span(i, H, Ho, s, padding)
        for j in range(k):
            w_lo, w_hi, w0 = _span(j, W, Wo, s, padding)
            block = cols[:, i, j]                                        # (C, Ho, Wo, N) view
            block[:, :h_lo] = 0                                          # patches that hang
            block[:, h_hi:] = 0                                          # over the padding
            block[:, h_lo:h_hi, :w_lo] = 0
            block[:, h_lo:h_hi, w_hi:] = 0
            a, b = h0 // s, w0 // s                 # first row, column in phase (h0%s, w0%s)
            block[:, h_lo:h_hi, w_lo:w_hi] = phases[h0 % s, w0 % s, :, a:a + h_hi - h_lo,
                                                    b:b + w_hi - w_lo]
    return cols.reshape(C * k * k, Ho * Wo * N)


def col2im(cols, x_shape, k, stride, padding, out_hw):
    """The adjoint of im2col: cols (C*k*k, Ho*Wo*N) -> x (C, H, W, N), overlaps summed."""
    Ho, Wo = out_hw
    cols = cols.reshape(x_shape[0], k, k, Ho, Wo, x_shape[3])
    return _scatter_add(lambda i, j: cols[:, i, j], x_shape, k, stride, padding, out_hw, cols)


def col2im_matmul(A, B, x_shape, k, stride, padding, out_hw):
    """col2im(A @ B, x_shape, ...) for A (C*k*k, K) with rows in (c, i, j) order and
    B (K, Ho*Wo*N), computed one kernel offset at a time (see the module docstring)."""
    xp = backend.get_array_module(B)
    C, _, _, N = x_shape
    Ho, Wo = out_hw
    if C < 32:
        # Each offset's GEMM reads all of B: with few rows per offset (C) that re-reading
        # costs more than the product it saves (for C = 1 the GEMMs would be k*k GEMVs).
        return col2im(A @ B, x_shape, k, stride, padding, out_hw)
    A_taps = xp.ascontiguousarray(A.reshape(C, k, k, -1).transpose(1, 2, 0, 3))  # (k, k, C, K)
    block = xp.empty((C, Ho, Wo, N), dtype=B.dtype)      # one offset's rows of A @ B

    def offset_block(i, j):
        xp.matmul(A_taps[i, j], B, out=block.reshape(C, -1))
        return block
    return _scatter_add(offset_block, x_shape, k, stride, padding, out_hw, B)


def _scatter_add(offset_block, x_shape, k, stride, padding, out_hw, like):
    """x (C, H, W, N) = the sum over kernel offsets (i, j) of offset_block(i, j), a
    (C, Ho, Wo, N) array whose entry (ho, wo) belongs to pixel (s*ho + i - p, s*wo + j - p);
    entries that fall in the padding are dropped. This is col2im's scatter-add.

    With stride s, offset (i, j) only ever reaches the pixels (h, w) with h = i - p and
    w = j - p (mod s): the image splits into s*s interleaved sub-images ("phases")
    x[:, a::s, b::s], and each offset adds its block, shifted, into one of them. Added
    there the block is contiguous (runs of Wo*N floats rather than N floats s apart), so we
    accumulate in the phases and interleave them into x once at the end.
    """
    xp = backend.get_array_module(like)
    C, H, W, N = x_shape
    Ho, Wo = out_hw
    s = stride
    phases = xp.zeros((s, s, C, -(-H // s), -(-W // s), N), dtype=like.dtype)
    for i in range(k):
        h_lo, h_hi, h0 = _span(i, H, Ho, s, padding)
        for j in range(k):
            w_lo, w_hi, w0 = _span(j, W, Wo, s, padding)
            block = offset_block(i, j)
            a, b = h0 // s, w0 // s                 # first row, column in phase (h0%s, w0%s)
            phases[h0 % s, w0 % s, :, a:a + h_hi - h_lo, b:b + w_hi - w_lo] += \
                block[:, h_lo:h_hi, w_lo:w_hi]
    if s == 1:
        return phases[0, 0]
    x = xp.empty((C, H, W, N), dtype=like.dtype)
    for a in range(s):
        for b in range(s):
            x[:, a::s, b::s] = phases[a, b, :, :(H - a + s - 1) // s, :(W - b + s - 1) // s]
    return x
