"""im2col / col2im: the one place where convolution becomes a matrix product.

A convolution with a k x k kernel reads, for every output pixel, a C x k x k patch of the
(padded) input. Lay those patches out as the columns of a matrix and the whole layer is
one GEMM:

    cols[(c, i, j), (n, h, w)] = x_pad[n, c, s*h + i, s*w + j]      (C*k*k, N*Ho*Wo)
    y[f, (n, h, w)]            = W[f, (c, i, j)] @ cols             (F, N*Ho*Wo)

``im2col`` builds that matrix without a Python loop: ``as_strided`` gives a 6-d *view*
(C, k, k, N, Ho, Wo) of the padded input whose strides step through the patches, and one
copy makes it contiguous. The row order (c, i, j) matches W.reshape(F, C*k*k), and the
column order (n, h, w) keeps each (c, i, j) row a contiguous block, so the copy streams.

``col2im`` is the adjoint (used by conv backward and transposed-conv forward): each column
entry is *added* back to the pixel it came from. Pixels are shared by overlapping patches,
so it loops over the k*k kernel offsets (16 iterations for k=4), and each iteration adds
one strided (C, N, Ho, Wo) slab at once. Accumulating in (C, N, H, W) order makes the slab
and the target line up without a transpose per offset; one transpose at the end returns
NCHW. (``np.add.at`` would do the same scatter element by element, far slower.)
"""
from . import backend


def conv_out_size(size, k, stride, padding):
    """Conv2d: floor((H + 2p - k) / s) + 1."""
    return (size + 2 * padding - k) // stride + 1


def pad_hw(x, padding, extra=0):
    """Zero-pad the last two axes by `padding` (plus `extra` more at the bottom/right)."""
    if padding == 0 and extra == 0:
        return x
    xp = backend.get_array_module(x)
    *lead, H, W = x.shape
    out = xp.zeros((*lead, H + 2 * padding + extra, W + 2 * padding + extra), dtype=x.dtype)
    out[..., padding:padding + H, padding:padding + W] = x
    return out


def im2col(x, k, stride, padding, out_hw):
    """x (N, C, H, W) -> cols (C*k*k, N*Ho*Wo) for output size out_hw = (Ho, Wo)."""
    xp = backend.get_array_module(x)
    N, C = x.shape[:2]
    Ho, Wo = out_hw
    xpad = pad_hw(x, padding)
    sN, sC, sH, sW = xpad.strides
    patches = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, k, k, N, Ho, Wo),
        strides=(sC, sH, sW, sN, stride * sH, stride * sW))     # a view: nothing copied yet
    return xp.ascontiguousarray(patches).reshape(C * k * k, N * Ho * Wo)


def col2im(cols, x_shape, k, stride, padding, out_hw):
    """The adjoint of im2col: cols (C*k*k, N*Ho*Wo) -> x (N, C, H, W), overlaps summed."""
    xp = backend.get_array_module(cols)
    N, C, H, W = x_shape
    Ho, Wo = out_hw
    cols = cols.reshape(C, k, k, N, Ho, Wo)
    # rows/cols past H + 2p are never read by a patch when (H + 2p - k) % s != 0
    Hp = max(H + 2 * padding, stride * (Ho - 1) + k)
    Wp = max(W + 2 * padding, stride * (Wo - 1) + k)
    acc = xp.zeros((C, N, Hp, Wp), dtype=cols.dtype)                 # (C, N, H+2p, W+2p)
    for i in range(k):
        for j in range(k):
            acc[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += cols[:, i, j]
    acc = acc[:, :, padding:padding + H, padding:padding + W]
    return xp.ascontiguousarray(acc.transpose(1, 0, 2, 3))          # (N, C, H, W)
