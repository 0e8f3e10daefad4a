"""Networks the lessons build, kept here so the tests can build the very same ones.

``dcgan_mnist()`` is the DCGAN of Radford et al. 2015 sized for 28 x 28 MNIST, as in the
PyTorch DCGAN example scaled down: the generator projects z to a 128 x 7 x 7 feature map
and doubles its size twice with stride-2 transposed convolutions (7 -> 14 -> 28); the
discriminator mirrors it with stride-2 convolutions (28 -> 14 -> 7) and one logit.
"""
from . import init
from .conditioning import ConcatLabel, Conditional, Joint
from .layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dense, Dropout,
                     Embedding, Flatten, InstanceNorm2d, LeakyReLU, Maxout, Parts, ReflectionPad2d,
                     ReLU, Reshape, ResidualBlock, Sequential, Sigmoid, Tanh)


def dcgan_mnist(z_dim=100, g_channels=128, d_channels=64):
    """(G, D) for MNIST, DCGAN-initialised (weights N(0, 0.02), BN gamma N(1, 0.02), biases 0).

    G: z (N, z_dim) -> images (N, 1, 28, 28) in [-1, 1]
    D: images (N, 1, 28, 28) -> logits (N, 1)   (use bce_with_logits, no sigmoid layer)
    """
    c, d = g_channels, d_channels
    G = Sequential(Dense(z_dim, c * 7 * 7), BatchNorm1d(c * 7 * 7), ReLU(), *generator_convs(c))
    D = Sequential(*discriminator_convs(d), Dense(2 * d * 7 * 7, 1))
    return init.dcgan_init(G), init.dcgan_init(D)


def generator_convs(c):
    """G's layers after its dense projection: (N, c*7*7) -> Reshape (c, 7, 7)
    -> ConvT c->c/2 k4 s2 p1 (14x14), BN, ReLU -> ConvT c/2->1 k4 s2 p1 (28x28), tanh."""
    return [Reshape((c, 7, 7)),
            ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), BatchNorm2d(c // 2), ReLU(),  # 7 -> 14
            ConvTranspose2d(c // 2, 1, 4, stride=2, padding=1), Tanh()]                       # 14 -> 28


def discriminator_convs(d):
    """D's two stride-2 convolutions: (N, 1, 28, 28) -> Conv 1->d k4 s2 p1, LeakyReLU 0.2
    -> Conv d->2d k4 s2 p1, BN, LeakyReLU 0.2 -> flattened (N, 2d*7*7)."""
    return [Conv2d(1, d, 4, stride=2, padding=1), LeakyReLU(0.2),                              # 28 -> 14
            Conv2d(d, 2 * d, 4, stride=2, padding=1), BatchNorm2d(2 * d), LeakyReLU(0.2),      # 14 -> 7
            Flatten()]


def dcgan_mnist_deep(z_dim=100, g_channels=128, d_channels=32):
    """(G, D) of lesson 02's --arch deep: ``dcgan_mnist``'s G, and a D of three stride-2
    convolutions (28 -> 14 -> 7 -> 4), so that its last feature map sees the whole digit
    before the linear read-out. DCGAN-initialised.

    G: as dcgan_mnist: z -> Dense 128*7*7, BN, ReLU -> (128, 7, 7)
       -> ConvT 128->64 k4 s2 p1 (14x14), BN, ReLU -> ConvT 64->1 k4 s2 p1 (28x28), tanh
    D: Conv 1->32 k4 s2 p1 (14x14), LeakyReLU 0.2
       -> Conv 32->64 k4 s2 p1 (7x7), BN, LeakyReLU 0.2
       -> Conv 64->128 k3 s2 p1 (4x4), BN, LeakyReLU 0.2 -> Dense 128*4*4 -> 1 logit
    A unit of dcgan_mnist's D reads a 10 x 10 patch, so its read-out can only add up local
    evidence; here a unit reads 18 x 18 pixels, and the 4 x 4 map covers the image.
    """
    G, _ = dcgan_mnist(z_dim, g_channels=g_channels)
    d = d_channels
    D = Sequential(
        Conv2d(1, d, 4, stride=2, padding=1), LeakyReLU(0.2),                              # 28 -> 14
        Conv2d(d, 2 * d, 4, stride=2, padding=1), BatchNorm2d(2 * d), LeakyReLU(0.2),      # 14 -> 7
        Conv2d(2 * d, 4 * d, 3, stride=2, padding=1), BatchNorm2d(4 * d), LeakyReLU(0.2),  # 7 -> 4
        Flatten(),
        Dense(4 * d * 4 * 4, 1),
    )
    return G, init.dcgan_init(D)


def dcgan_mnist_fc(z_dim=100, g_channels=128, d_channels=64, hidden=1024):
    """(G, D) of lesson 02's --arch fc: the MNIST networks of InfoGAN (Chen et al. 2016,
    appendix C.1, table 5), without InfoGAN's extra code inputs and Q head. The DCGAN
    recipe (stride-2 transposed convolutions with BatchNorm and ReLU in G, stride-2
    convolutions with BatchNorm and LeakyReLU 0.2 in D, N(0, 0.02) init) plus one hidden
    dense layer of ``hidden`` units on each side of the convolutions.

    G: z -> Dense 1024, BN, ReLU -> Dense 128*7*7, BN, ReLU -> (128, 7, 7)
       -> ConvT 128->64 k4 s2 p1 (14x14), BN, ReLU -> ConvT 64->1 k4 s2 p1 (28x28), tanh
    D: Conv 1->64 k4 s2 p1 (14x14), LeakyReLU 0.2 -> Conv 64->128 k4 s2 p1 (7x7), BN,
       LeakyReLU 0.2 -> Dense 6272 -> 1024, BN, LeakyReLU 0.2 -> Dense -> 1 logit
    D's hidden layer reads the whole 7 x 7 map at once: a nonlinear feature of the digit's
    global shape, which a linear read-out of local evidence (``dcgan_mnist``) cannot form.
    """
    c, d = g_channels, d_channels
    G = Sequential(Dense(z_dim, hidden), BatchNorm1d(hidden), ReLU(),
                   Dense(hidden, c * 7 * 7), BatchNorm1d(c * 7 * 7), ReLU(), *generator_convs(c))
    D = Sequential(*discriminator_convs(d),
                   Dense(2 * d * 7 * 7, hidden), BatchNorm1d(hidden), LeakyReLU(0.2),
                   Dense(hidden, 1))
    return init.dcgan_init(G), init.dcgan_init(D)


# ----------------------------------------------------------------------------- lessons 01, 03


def mlp_gan(z_dim=100, side=28, g_hidden=(128, 256, 512, 1024), d_hidden=(512, 256)):
    """(G, D) of lesson 01's --arch mlp and lesson 03's --arch mlp, in the style of
    PyTorch-GAN's gan.py and wgan.py (PyTorch's default init). D's last layer is a bare
    score: lesson 01 reads it as a logit, lesson 03 as the critic's value.

    G: z (N, z_dim) -> 128 -> 256 -> 512 -> 1024 (LeakyReLU 0.2, BatchNorm after all but
       the first) -> 784, tanh, reshaped to (N, 1, 28, 28) like the DCGAN G's output
    D: images -> flatten -> 512 -> 256 (LeakyReLU 0.2) -> 1, no sigmoid
    BatchNorm's eps is the usual 1e-5. gan.py's BatchNorm1d(n, 0.8) passes 0.8 as eps (the
    second argument), not as momentum, and x / sqrt(var + 0.8) hardly normalises features
    of small variance: lesson 01 scores 6.80 with it and 7.99 without (15 epochs, 5,000
    samples; docs/lessons/01_gan.md has the runs and their commands).
    """
    pixels = side * side
    g_layers, width = [], z_dim
    for i, h in enumerate(g_hidden):
        g_layers += [Dense(width, h)] + ([BatchNorm1d(h)] if i else []) + [LeakyReLU(0.2)]
        width = h
    G = Sequential(*g_layers, Dense(width, pixels), Tanh(), Reshape((1, side, side)))
    d_layers, width = [Flatten()], pixels
    for h in d_hidden:
        d_layers += [Dense(width, h), LeakyReLU(0.2)]
        width = h
    D = Sequential(*d_layers, Dense(width, 1))
    return G, D


def gan_paper_mnist(z_dim=100, side=28):
    """(G, D) of the GAN paper's MNIST model, as the authors' mnist.yaml (goodfeli/
    adversarial) defines them; weights uniform in +-irange, biases 0:

    G: z (N, 100) -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid      irange 0.05
       (the lesson sets the output bias from the data: init.sigmoid_bias_from_marginals)
    D: images -> flatten -> dropout (keep 0.8) -> maxout 240 x 5 -> dropout (keep 0.5)
       -> maxout 240 x 5 -> dropout (keep 0.5) -> 1 logit        irange 0.005
    (pylearn2 drops a layer's *inputs*, scaled by 1 / keep: 1.25 and 2, the yaml's
    input scales.) G outputs (N, 1, 28, 28) like every other G here."""
    pixels = side * side
    G = Sequential(Dense(z_dim, 1200), ReLU(), Dense(1200, 1200), ReLU(),
                   Dense(1200, pixels), Sigmoid(), Reshape((1, side, side)))
    D = Sequential(Flatten(), Dropout(0.2), Maxout(pixels, 240, 5), Dropout(0.5),
                   Maxout(240, 240, 5), Dropout(0.5), Dense(240, 1))
    return init.irange_init(G, 0.05), init.irange_init(D, 0.005)


# ----------------------------------------------------------------------------- lesson 04


def cgan_mlp(z_dim=100, classes=10, side=28, g_z=200, g_y=1000, g_joint=1200,
             d_x=(240, 5), d_y=(50, 5), d_joint=(240, 4), dropout=(0.2, 0.5), g_dropout=0.5):
    """(G, D) of Mirza & Osindero 2014, sec. 4.1, as Joint networks (minigan.conditioning):

    "In the generator net, a noise prior z with dimensionality 100 was drawn from a uniform
    distribution within the unit hypercube. Both z and y are mapped to hidden layers with
    Rectified Linear Unit (ReLu) activation, with layer sizes 200 and 1000 respectively,
    before both being mapped to second, combined hidden ReLu layer of dimensionality 1200.
    We then have a final sigmoid unit layer as our output for generating the
    784-dimensional MNIST samples."
        G: z -> 200 ReLU;  y -> 1000 ReLU;  [200, 1000] -> 1200 ReLU -> 784 sigmoid

    "The discriminator maps x to a maxout layer with 240 units and 5 pieces, and y to a
    maxout layer with 50 units and 5 pieces. Both of the hidden layers mapped to a joint
    maxout layer with 240 units and 4 pieces before being fed to the sigmoid layer."
        D: x -> maxout 240x5;  y -> maxout 50x5;  [240, 50] -> maxout 240x4 -> 1 logit

    "Dropout with probability of 0.5 was applied to both the generator and discriminator":
    in G on the joint layer's and the output layer's inputs (``g_dropout``); in D on the
    image (``dropout[0]``, 0.2: the GAN yaml's input include probability 0.8) and before
    each layer that reads hidden units (``dropout[1]``). The sigmoid is left to the loss
    (BCE on logits). Images go in and come out as (N, 1, side, side), like the conv nets'.

    Where the paper is silent, the GAN paper's mnist.yaml (gan_paper_mnist above): weights
    uniform in +-0.05 in G and +-0.005 in D, biases 0 (the lesson sets G's output bias from
    the data: init.sigmoid_bias_from_marginals).
    """
    p_in, p_hidden = dropout
    pixels = side * side
    G = Joint(Sequential(Dense(z_dim, g_z), ReLU()),
              Sequential(Dense(classes, g_y), ReLU()),
              Sequential(Dropout(g_dropout), Dense(g_z + g_y, g_joint), ReLU(),
                         Dropout(g_dropout), Dense(g_joint, pixels), Sigmoid(),
                         Reshape((1, side, side))))
    D = Joint(Sequential(Flatten(), Dropout(p_in), Maxout(pixels, *d_x)),
              Maxout(classes, *d_y),
              Sequential(Dropout(p_hidden), Maxout(d_x[0] + d_y[0], *d_joint),
                         Dropout(p_hidden), Dense(d_joint[0], 1)))
    return init.irange_init(G, 0.05), init.irange_init(D, 0.005)


def cgan_dcgan(z_dim=100, classes=10, side=28, g_fc=1024, g_ch=128, d_ch=64, d_fc=1024):
    """(G, D): the conditional DCGAN of carpedm20/DCGAN-tensorflow (its MNIST model), as
    Conditional networks: ConcatLabel() appends the one-hot label y (K = ``classes``) as
    a vector after a dense layer and as K constant feature maps after a conv layer.
    Convolutions are 5 x 5, stride 2 ("SAME" padding: p 2, and output_padding 1 for the
    transposed ones); weights N(0, 0.02) as in that code.

    G: [z, y] -> 1024, BN, ReLU -> [., y] -> 128*7*7, BN, ReLU -> (128, 7, 7)
       -> [., y maps] -> ConvT 138->128 (14x14), BN, ReLU -> [., y maps] -> ConvT 138->1
       (28x28), sigmoid
    D: [x, y maps] (11 ch) -> Conv 11->11 (14x14), LeakyReLU 0.2 -> [., y maps] (21 ch)
       -> Conv 21->74 (7x7), BN, LeakyReLU -> flatten -> [., y] (3626 + 10) -> 1024, BN,
       LeakyReLU -> [., y] -> 1 logit
    """
    K, s = classes, side // 4
    G = Conditional(
        ConcatLabel(), Dense(z_dim + K, g_fc), BatchNorm1d(g_fc), ReLU(),
        ConcatLabel(), Dense(g_fc + K, g_ch * s * s), BatchNorm1d(g_ch * s * s), ReLU(),
        Reshape((g_ch, s, s)),
        ConcatLabel(), ConvTranspose2d(g_ch + K, g_ch, 5, stride=2, padding=2, output_padding=1),
        BatchNorm2d(g_ch), ReLU(),
        ConcatLabel(), ConvTranspose2d(g_ch + K, 1, 5, stride=2, padding=2, output_padding=1),
        Sigmoid(),
    )
    D = Conditional(
        ConcatLabel(), Conv2d(1 + K, 1 + K, 5, stride=2, padding=2), LeakyReLU(0.2),
        ConcatLabel(), Conv2d(1 + 2 * K, d_ch + K, 5, stride=2, padding=2),
        BatchNorm2d(d_ch + K), LeakyReLU(0.2), Flatten(),
        ConcatLabel(), Dense((d_ch + K) * s * s + K, d_fc), BatchNorm1d(d_fc), LeakyReLU(0.2),
        ConcatLabel(), Dense(d_fc + K, 1),
    )
    return init.dcgan_init(G), init.dcgan_init(D)


# ----------------------------------------------------------------------------- lesson 05


def keras_generator(z_dim=100, side=28, g_ch=128):
    """The generator of Keras-GAN's dcgan.py and acgan.py (PyTorch-GAN's dcgan.py has the
    same layout): z_dim -> Dense 128*7*7, ReLU -> (128, 7, 7), BN -> ConvT 128->128 k4 s2 p1
    (14x14), ReLU, BN -> ConvT 128->64 k4 s2 p1 (28x28), ReLU, BN -> Conv 64->1 k3 p1, tanh.
    (They double the size with UpSampling2D + a 3x3 conv; a stride-2 transposed convolution
    learns the upsampling and costs half as much.) BatchNorm momentum 0.2 = Keras's
    momentum=0.8 (the weight of the old running value). Not initialised here."""
    c, s = g_ch, side // 4
    return Sequential(
        Dense(z_dim, c * s * s), ReLU(), Reshape((c, s, s)), BatchNorm2d(c, momentum=0.2),
        ConvTranspose2d(c, c, 4, stride=2, padding=1), ReLU(), BatchNorm2d(c, momentum=0.2),
        ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), ReLU(), BatchNorm2d(c // 2, momentum=0.2),
        Conv2d(c // 2, 1, 3, stride=1, padding=1), Tanh(),
    )


def keras_trunk(d_ch=(16, 32, 64, 128), dropout=0.25):
    """The discriminator's convolutions in Keras-GAN's acgan.py, up to the flattened
    features: Conv 1->16 k3 s2 p1 (14x14), LeakyReLU 0.2, Dropout -> Conv 16->32 (7x7),
    LeakyReLU, Dropout, BN -> Conv 32->64 (4x4), LeakyReLU, Dropout, BN -> Conv 64->128 k3
    s1 p1 (4x4), LeakyReLU, Dropout -> flatten (128*4*4 = 2048 for 28 x 28 inputs)."""
    c1, c2, c3, c4 = d_ch
    return Sequential(
        Conv2d(1, c1, 3, stride=2, padding=1), LeakyReLU(0.2), Dropout(dropout),
        Conv2d(c1, c2, 3, stride=2, padding=1), LeakyReLU(0.2), Dropout(dropout), BatchNorm2d(c2, momentum=0.2),
        Conv2d(c2, c3, 3, stride=2, padding=1), LeakyReLU(0.2), Dropout(dropout), BatchNorm2d(c3, momentum=0.2),
        Conv2d(c3, c4, 3, stride=1, padding=1), LeakyReLU(0.2), Dropout(dropout),
        Flatten(),
    )


def trunk_features(side, d_ch):
    """Size of keras_trunk's flattened output: three stride-2 halvings, rounded up."""
    side_d = -(-(-(-side // 2) // 2) // 2)
    return d_ch[-1] * side_d * side_d


def dcgan_mnist_keras(z_dim=100, side=28, g_ch=128, d_ch=(16, 32, 64, 128), dropout=0.25):
    """(G, D) of lesson 02's --arch keras: lesson 05's networks without the labels, i.e.
    keras_generator and keras_trunk + Dense -> 1 logit. DCGAN-initialised."""
    D = Sequential(keras_trunk(d_ch, dropout), Dense(trunk_features(side, d_ch), 1))
    return init.dcgan_init(keras_generator(z_dim, side, g_ch)), init.dcgan_init(D)


def acgan_mnist(z_dim=100, classes=10, side=28, g_ch=128, d_ch=(16, 32, 64, 128), dropout=0.25):
    """(G, D) of the ACGAN lesson, after Keras-GAN's acgan.py, as Parts that the lesson
    wires by hand. Weights N(0, 0.02) (the embedding keeps N(0, 1)).

    G.embed: Embedding(classes, z_dim);  the lesson feeds G.net with z * embed(label)
    G.net:   keras_generator (z_dim -> ... -> (1, 28, 28), tanh)
    D.trunk: keras_trunk (Conv 16 -> 32 -> 64 -> 128 with dropout -> flatten, 2048)
    D.source: Dense 2048 -> 1 real/fake logit;   D.classes: Dense 2048 -> 10 class logits
    """
    net = keras_generator(z_dim, side, g_ch)          # built before the embedding: RNG order
    G = Parts(embed=Embedding(classes, z_dim), net=init.dcgan_init(net))
    features = trunk_features(side, d_ch)
    D = Parts(trunk=keras_trunk(d_ch, dropout), source=Dense(features, 1), classes=Dense(features, classes))
    return G, init.dcgan_init(D)


# ----------------------------------------------------------------------------- lesson 06


def wgan_gp_mnist(z_dim=128, dim=64, g_batchnorm=True):
    """(G, critic) of Gulrajani et al. 2017's MNIST model (the authors' gan_mnist.py), with
    `dim` base channels (theirs: 64). Layers keep their default (PyTorch-style) init.

    G: z (128) -> Dense 4*dim*4*4, ReLU -> (4 dim, 4, 4)
       -> ConvT 4dim->2dim k5 s2 p2 (4 -> 7; the authors draw 8 x 8 and crop to 7 x 7), ReLU
       -> ConvT 2dim->dim k5 s2 p2 op1 (14x14), ReLU -> ConvT dim->1 k5 s2 p2 op1 (28x28),
       sigmoid: images in [0, 1], like the authors' MNIST pixels.
       g_batchnorm puts a BatchNorm after each of G's hidden layers (the authors use it
       only for their clipped-WGAN runs; the penalty constrains the critic alone, so G may).
    critic: Conv 1->dim k5 s2 p2 (14x14), LeakyReLU 0.2 -> Conv dim->2dim (7x7), LeakyReLU
       -> Conv 2dim->4dim (4x4), LeakyReLU -> Flatten -> Dense -> 1 score. No BatchNorm:
       the penalty is taken per sample, and BatchNorm would mix the samples of a batch.
    """
    def norm(layer, features, bn):
        return [layer, bn(features), ReLU()] if g_batchnorm else [layer, ReLU()]

    G = Sequential(
        *norm(Dense(z_dim, 4 * dim * 4 * 4), 4 * dim * 4 * 4, BatchNorm1d),
        Reshape((4 * dim, 4, 4)),
        *norm(ConvTranspose2d(4 * dim, 2 * dim, 5, stride=2, padding=2), 2 * dim, BatchNorm2d),   # 4 -> 7
        *norm(ConvTranspose2d(2 * dim, dim, 5, stride=2, padding=2, output_padding=1), dim,
              BatchNorm2d),                                                                    # 7 -> 14
        ConvTranspose2d(dim, 1, 5, stride=2, padding=2, output_padding=1),                     # 14 -> 28
        Sigmoid(),
    )
    critic = Sequential(
        Conv2d(1, dim, 5, stride=2, padding=2), LeakyReLU(0.2),                  # 28 -> 14
        Conv2d(dim, 2 * dim, 5, stride=2, padding=2), LeakyReLU(0.2),            # 14 -> 7
        Conv2d(2 * dim, 4 * dim, 5, stride=2, padding=2), LeakyReLU(0.2),        # 7 -> 4
        Flatten(),
        Dense(4 * dim * 4 * 4, 1),
    )
    return G, critic


# ----------------------------------------------------------------------------- lesson 07


def resnet_generator(channels=32, residual_blocks=3):
    """CycleGAN's generator (Zhu et al. 2017, appendix 7.2; the layout after Johnson et al.
    2016, whose residual blocks use BatchNorm and unpadded convolutions: the reflection-padded,
    InstanceNorm blocks are CycleGAN's), scaled to 28 x 28 with `channels` base channels (the
    paper's: 64, and 6 or 9 blocks):

        c7s1-c:   ReflectionPad 3, Conv 1->c 7x7, InstanceNorm, ReLU          (c, 28, 28)
        d2c, d4c: Conv 3x3 stride 2, InstanceNorm, ReLU                (2c, 14, 14), (4c, 7, 7)
        R4c x residual_blocks                                           (4c, 7, 7)
        u2c, uc:  ConvT 3x3 stride 2 (output_padding 1), InstanceNorm, ReLU  (2c, 14), (c, 28)
        c7s1-1:   ReflectionPad 3, Conv c->1 7x7, tanh                     (1, 28, 28)
    InstanceNorm without gamma and beta, as the authors' code has it; init N(0, 0.02)."""
    c = channels
    G = Sequential(
        ReflectionPad2d(3), Conv2d(1, c, 7), InstanceNorm2d(c), ReLU(),
        Conv2d(c, 2 * c, 3, stride=2, padding=1), InstanceNorm2d(2 * c), ReLU(),           # 28 -> 14
        Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), InstanceNorm2d(4 * c), ReLU(),       # 14 -> 7
        *[ResidualBlock(4 * c) for _ in range(residual_blocks)],
        ConvTranspose2d(4 * c, 2 * c, 3, stride=2, padding=1, output_padding=1),           # 7 -> 14
        InstanceNorm2d(2 * c), ReLU(),
        ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1),               # 14 -> 28
        InstanceNorm2d(c), ReLU(),
        ReflectionPad2d(3), Conv2d(c, 1, 7), Tanh(),
    )
    return init.dcgan_init(G)


def patch_discriminator(channels=64, patch=26):
    """CycleGAN's PatchGAN (appendix 7.2: C64-C128-C256-C512, each score judging a 70 x 70
    patch of a 256 x 256 image), scaled to 28 x 28: a map of scores, one per overlapping
    patch, each judging only its patch. ``patch`` is the side of that patch:

    12:           Conv 1->c 4x4 s2 p1, LeakyReLU 0.2     (c, 14, 14)   (no norm on C64)
                  Conv c->2c 3x3 p1, InstanceNorm, LeakyReLU 0.2  (2c, 14, 14)
                  Conv 2c->1 3x3 p1                       (1, 14, 14): one score per patch
    26 (default): Conv 1->c 4x4 s2 p1, LeakyReLU 0.2     (c, 14, 14)
                  Conv c->2c 4x4 s2 p1, InstanceNorm, LeakyReLU 0.2  (2c, 7, 7)
                  Conv 2c->4c 3x3 p1, InstanceNorm, LeakyReLU 0.2    (4c, 7, 7)
                  Conv 4c->1 3x3 p1                       (1, 7, 7)
    (receptive field: r += (k - 1) * jump, jump *= stride; 4, 8, 12 and 4, 10, 18, 26.)
    The paper's patch is 27% of its image's side (70 of 256). On MNIST a patch must hold a
    whole stroke and its joins: the 12 x 12 one passes strokes of the wrong thickness, and
    lesson 07's translations land further from the truth with it (docs/lessons/07_cyclegan.md
    has the runs).
    Init N(0, 0.02)."""
    if patch not in (12, 26):
        raise ValueError(f"patch must be 12 or 26, got {patch}")
    c = channels
    first = [Conv2d(1, c, 4, stride=2, padding=1), LeakyReLU(0.2)]                  # 28 -> 14
    if patch == 12:
        rest = [Conv2d(c, 2 * c, 3, padding=1), InstanceNorm2d(2 * c), LeakyReLU(0.2),
                Conv2d(2 * c, 1, 3, padding=1)]
    else:
        rest = [Conv2d(c, 2 * c, 4, stride=2, padding=1), InstanceNorm2d(2 * c), LeakyReLU(0.2),  # -> 7
                Conv2d(2 * c, 4 * c, 3, padding=1), InstanceNorm2d(4 * c), LeakyReLU(0.2),
                Conv2d(4 * c, 1, 3, padding=1)]
    return init.dcgan_init(Sequential(*first, *rest))
