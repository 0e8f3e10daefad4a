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
Neither function loops over pixels: im2col is one strided copy, col2im one add per kernel
offset, each moving a whole (C, Ho, Wo, N) slab. How fast such a copy is depends on the
memory layout, so the conv layers work in "CHWN" order: an activation
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

``im2col`` builds the matrix without a Python loop over pixels: ``as_strided`` gives a 6-d
*view* (C, k, k, Ho, Wo, N) of the zero-padded input whose strides step through the
patches, and one copy makes it contiguous. ``col2im`` loops over the k*k kernel offsets
(16 for k=4) and adds one whole (C, Ho, Wo, N) block per offset; its docstring explains
how it keeps those adds streaming. (``np.add.at`` would scatter element by element, far
slower.)
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


def pad_hw(x, padding):
    """Zero-pad the H and W axes of x (C, H, W, N) by `padding` on each side."""
    if padding == 0:
        return x
    xp = backend.get_array_module(x)
    C, H, W, N = x.shape
    out = xp.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=x.dtype)
    out[:, padding:padding + H, padding:padding + W] = x
    return out


def im2col(x, k, stride, padding, out_hw):
    """x (C, H, W, N) -> cols (C*k*k, Ho*Wo*N) for output size out_hw = (Ho, Wo)."""
    xp = backend.get_array_module(x)
    C, N = x.shape[0], x.shape[3]
    Ho, Wo = out_hw
    xpad = pad_hw(x, padding)
    sC, sH, sW, sN = xpad.strides
    patches = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, k, k, Ho, Wo, N),
        strides=(sC, sH, sW, stride * sH, stride * sW, sN))   # a view: nothing copied yet
    return xp.ascontiguousarray(patches).reshape(C * k * k, Ho * Wo * N)


def col2im(cols, x_shape, k, stride, padding, out_hw):
    """The adjoint of im2col: cols (C*k*k, Ho*Wo*N) -> x (C, H, W, N), overlaps summed.

    Block (i, j) of cols, cols[:, i, j] of shape (C, Ho, Wo, N), holds the entries of kernel
    offset (i, j); entry (ho, wo) belongs to pixel (s*ho + i - p, s*wo + j - p), and entries
    that fall in the padding are dropped. So col2im is one add per offset.

    With stride s, offset (i, j) only ever reaches the pixels (h, w) with h = i - p and
    w = j - p (mod s): the image splits into s*s interleaved sub-images ("phases")
    x[:, a::s, b::s], and each offset adds its block, shifted, into one of them. Added
    there the block is contiguous (runs of Wo*N floats rather than N floats s apart), so we
    accumulate in the phases and interleave them into x once at the end.
    """
    xp = backend.get_array_module(cols)
    C, H, W, N = x_shape
    Ho, Wo = out_hw
    s = stride
    cols = cols.reshape(C, k, k, Ho, Wo, N)
    phases = xp.zeros((s, s, C, -(-H // s), -(-W // s), N), dtype=cols.dtype)
    for i in range(k):
        h_lo, h_hi, h0 = _span(i, H, Ho, s, padding)
        for j in range(k):
            w_lo, w_hi, w0 = _span(j, W, Wo, s, padding)
            a, b = h0 // s, w0 // s                 # first row, column in phase (h0%s, w0%s)
            phases[h0 % s, w0 % s, :, a:a + h_hi - h_lo, b:b + w_hi - w_lo] += \
                cols[:, i, j, h_lo:h_hi, w_lo:w_hi]
    if s == 1:
        return phases[0, 0]
    x = xp.empty((C, H, W, N), dtype=cols.dtype)
    for a in range(s):
        for b in range(s):
            x[:, a::s, b::s] = phases[a, b, :, :(H - a + s - 1) // s, :(W - b + s - 1) // s]
    return x
