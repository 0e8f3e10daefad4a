"""The plumbing every lesson shares, so a lesson file holds only its GAN.

    parser = make_parser("02_dcgan", __doc__, epochs=12, batch_size=128, lr=2e-4)
    args = parser.parse_args()                 # the common flags (+ the lesson's own)
    setup(args)                                # device, seed, output folder
    data = training_data(args)                 # seeded MNIST batches in [-1, 1]
    run = Run(args, "02_dcgan", models={"G": G, "D": D},
              optimizers={"G": opt_G, "D": opt_D}, data=data)
    for epoch in run.epochs():                 # resumes after the last checkpoint
        for x, y in run.batches():             # progress bar
            ...the GAN step, written out in the lesson...
            run.log(d_loss=..., g_loss=...)    # NaN check, bar, loss history
        run.end_epoch(grid_images)             # grid + loss curve + atomic checkpoint
    run.finish(sample_fn)                      # samples.npz + metrics.json

What is here: argument parsing, device and seed set-up, a tqdm bar, sample grids from
fixed noise, loss curves, checkpoints written atomically, resume, Ctrl-C, the NaN stop,
and the final samples and metrics. What is not here: anything about how a GAN trains.

A checkpoint holds everything a run needs to go on from the step it was written after:
the parameters (and BatchNorm's running statistics), the optimizers' state and step
counts, every random generator (the training noise's and the data order's), the
position inside the epoch's shuffled batch order, the lesson's own state (extra_state:
image pools, model selection, measured points), the loss history the plots are drawn
from, and the training time so far. It is written at every epoch end, every
--checkpoint-minutes of training inside an epoch (after a step that called run.log), and
when Ctrl-C or SIGTERM arrives (after the step in progress); --resume then continues
from that step and ends with exactly the numbers of a run that was never stopped.
"""
import argparse
import errno
import json
import math
import os
import shlex
import signal
import sys
import time

import numpy as np
from tqdm import tqdm

from . import backend, plot
from .data import Batches

CHECKPOINT = "checkpoint.npz"


def _signal_at_step(text):
    """MINIGAN_SIGNAL_AT_STEP=N[:TERM][:K]: the run sends itself SIGINT (or SIGTERM), K
    times (default once), right after step N is logged, as a user's Ctrl-C would arrive.
    The tests interrupt runs at an exact step with it."""
    if not text:
        return None
    step, name, count = (text.split(":") + ["", ""])[:3]
    return int(step), signal.SIGTERM if name.upper() == "TERM" else signal.SIGINT, int(count or 1)


_SIGNAL_AT_STEP = _signal_at_step(os.environ.get("MINIGAN_SIGNAL_AT_STEP"))


THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")   # they change a run's speed and rounding


def command_line(argv=None):
    """The command that ran, as a user would retype it: the BLAS thread settings it ran
    under (where set), then python and its arguments."""
    env = " ".join(f"{v}={os.environ[v]}" for v in THREAD_VARS if v in os.environ)
    return (env + " " if env else "") + "python " + " ".join(sys.argv if argv is None else argv)


def positive_int(text):
    """argparse type: an integer >= 1, or a one-line error."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0, or a one-line error."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0, or a one-line error."""
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0, or a one-line error."""
    value = float(text)
    if not value >= 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def unit_float(text):
    """argparse type: a number in [0, 1), or a one-line error."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, but a bad flag is one line on stderr ("prog: error: ..."), exit 2,
    without the usage block above it (--help still prints the usage)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser(lesson, description, epochs=None, batch_size=None, lr=None, b1=0.5, b2=0.999,
                latent_dim=100, sample_interval=200, arch_table=None):
    """The flags every lesson has, with the lesson's defaults; a lesson adds its own.

    A lesson whose defaults depend on --arch passes them as arch_table ({arch: {flag: value}})
    and leaves those flags at None here; apply_arch_defaults(args, arch_table) fills them in
    after parsing, and the help lists each arch's value."""
    def help_for(key, text):
        if arch_table and any(key in d for d in arch_table.values()):
            return arch_defaults_help(arch_table, key, text)
        return text + " (default: %(default)s)"
    lr_in_table = bool(arch_table) and any("lr" in d for d in arch_table.values())
    p = OneLineParser(prog=f"python lessons/{lesson}.py", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=backend.DEVICES, default=os.environ.get("MINIGAN_DEVICE", "cpu"),
                   help="cpu (NumPy) or gpu (CuPy on an NVIDIA GPU) (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=epochs,
                   help=help_for("epochs", "passes over the training set"))
    p.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=help_for("batch_size", "images per step"))
    p.add_argument("--lr", type=positive_float, default=lr,
                   help=help_for("lr", "learning rate") if lr is not None or lr_in_table
                   else "learning rate (default: the lesson's)")
    p.add_argument("--b1", type=unit_float, default=b1, help="Adam beta1 (default: %(default)s)")
    p.add_argument("--b2", type=unit_float, default=b2, help="Adam beta2 (default: %(default)s)")
    p.add_argument("--latent-dim", type=positive_int, default=latent_dim,
                   help=help_for("latent_dim", "size of the noise vector z"))
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed on the CPU, same numbers")
    p.add_argument("--out", default=os.path.join("runs", lesson),
                   help="output folder for grids, curves, checkpoint, samples (default: %(default)s)")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                   help="continue from OUT/checkpoint.npz (or the given file), at the step it was written after")
    p.add_argument("--checkpoint-minutes", type=non_negative_float, default=5.0, metavar="M",
                   help="inside an epoch, also checkpoint every M minutes of training "
                        "(fractions allowed; 0: at epoch ends only) (default: %(default)s)")
    p.add_argument("--sample-interval", type=positive_int, default=sample_interval,
                   help="save a sample grid every N steps (default: %(default)s)")
    p.add_argument("--no-eval", action="store_true", help="skip the metrics at the end")
    p.add_argument("--n-samples", type=positive_int, default=10000,
                   help="images written to samples.npz and measured (default: %(default)s)")
    p.add_argument("--subset", type=positive_int, default=None,
                   help="train on the first N training images only (quick tries and tests)")
    return p


def arch_defaults_help(table, key, text):
    """Help text for a flag whose default depends on --arch, e.g. "passes over the training
    set (default: 7 for --arch dcgan, 20 for --arch paper)"."""
    per_arch = ", ".join(f"{d[key]} for --arch {arch}" for arch, d in table.items() if key in d)
    return f"{text} (default: {per_arch})"


def apply_arch_defaults(args, table):
    """Fill every flag the user left at None with the chosen --arch's default from table."""
    for key, value in table[args.arch].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def fraction(text):
    """argparse type: a number in [0, 1], or a one-line error."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def add_decay_from(parser, prefix="", constant="", default=0.5):
    """The --decay-from flag of the lessons that use linear_decay (below): `prefix` says
    which --arch it applies to, `constant` whose schedule a constant rate is."""
    parser.add_argument("--decay-from", type=fraction, default=default,
                        help=f"{prefix}keep the lr for this share of the run, then decay it "
                             f"linearly to 0 (default: %(default)s; 1 keeps it constant{constant})")


def linear_decay(base_lr, step, total_steps, start=0.5):
    """The learning rate at `step` of `total_steps`: base_lr for the first `start` share of
    the run, then falling linearly to 0 at the last step (CycleGAN's schedule, Zhu et al.
    2017, sec. 7: "keep the same learning rate for the first 100 epochs and linearly decay
    the rate to zero over the next 100 epochs"). start=1 keeps the rate constant."""
    decay_steps = total_steps * (1 - start)
    if decay_steps <= 0 or step < total_steps * start:
        return base_lr
    return base_lr * max(0.0, (total_steps - step) / decay_steps)


def fail(message, code=2):
    """One line on stderr and a non-zero exit: how every lesson reports bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def setup(args):
    """Select the device, seed the generator and create the output folder, or fail in one line."""
    try:
        backend.use(args.device)
    except backend.DeviceError as exc:
        fail(str(exc))
    backend.seed(args.seed)
    try:
        os.makedirs(args.out, exist_ok=True)
        probe = os.path.join(args.out, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as exc:
        fail(f"cannot write to --out {args.out}: {exc.strerror or exc}")


def training_data(args, low=-1.0, split="train+valid"):
    """MNIST train+valid (60,000; or --subset N) scaled to [low, 1], as seeded Batches.
    split="train": the first 50,000 only (the GAN paper's; "valid" is then held out)."""
    from .data import load_mnist
    x, y = load_mnist(split)
    if args.subset:
        x, y = x[:args.subset], y[:args.subset]
    if args.batch_size > len(x):
        fail(f"--batch-size {args.batch_size} is larger than the {len(x)} training images")
    return Batches(low + (1 - low) * x, y, args.batch_size, seed=args.seed)


# ------------------------------------------------------------------------- checkpoints


def save_checkpoint(path, arrays, meta):
    """Write arrays + JSON metadata to path atomically: a temp file, flushed to the disk,
    then a rename, so a write that is interrupted (a kill, a full disk) never leaves a
    half-written checkpoint in place of a good one. A failed write raises OSError."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path):
    """(arrays, meta) from a checkpoint, or one clear ValueError."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except FileNotFoundError:
        raise ValueError(f"no checkpoint at {path}") from None
    except Exception as exc:
        raise ValueError(f"{path} is not a readable minigan checkpoint ({type(exc).__name__})") from None
    return arrays, meta


def _split(arrays, prefix):
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


# ------------------------------------------------------------------------------- Run


class Measurements:
    """Points a lesson measures along a run (one dict each, e.g. {"epoch": 5, "fd": 311.2}).
    Given to Run as extra_state, they are saved in the checkpoint, so --resume keeps the
    points already taken."""

    def __init__(self):
        self.points = []

    def state_dict(self):
        return {"points": self.points}

    def load_state_dict(self, state):
        self.points = [dict(p) for p in state["points"]]

    def curve(self, key, x="epoch"):
        """[(x, value), ...] of every point, e.g. curve("fd") -> [(1, 1046.5), (5, 1010.8)]."""
        return [(p[x], p[key]) for p in self.points]


class ParzenSelection(Measurements):
    """The model selection of the GAN and CGAN papers: every few epochs, the Parzen
    estimate of G's samples on the validation split (the last 10,000 training digits, held
    out: train on split="train"); the best G so far is copied into best_G, the network the
    final samples come from. Give it to Run as extra_state and best_G to Run's models:
    both are then saved in the checkpoint, so --resume keeps the scores and the kept G."""

    def __init__(self, G, best_G):
        super().__init__()
        self.G, self.best_G = G, best_G

    def __call__(self, epoch, images):
        """Score images (N, 28, 28) in [0, 1], drawn from G now, as the model of epoch
        `epoch` (counted from 1); keep G if no earlier epoch scored higher."""
        from .metrics import parzen_validation
        ll, sigma = parzen_validation(images)
        best = max((p["valid_parzen"] for p in self.points), default=-float("inf"))
        self.points.append({"epoch": epoch, "valid_parzen": ll, "sigma": sigma})
        if ll > best:
            self.best_G.load_state_dict(self.G.state_dict())
        print(f"epoch {epoch}: validation Parzen {ll:.1f} (sigma {sigma:.3f}; best {max(ll, best):.1f})",
              flush=True)


class Run:
    """One training run: its models and optimizers, progress, pictures and checkpoints."""

    def __init__(self, args, lesson, models, optimizers, data, extra_state=None):
        self.args, self.lesson = args, lesson
        self.models, self.optimizers, self.data = models, optimizers, data
        self.extra_state = extra_state or {}     # name -> object with state_dict/load_state_dict
        self.history = {}                        # loss name -> [(step, value)]
        self.step = 0
        self.start_epoch = 0
        self.epoch_seconds = []                  # training time of each finished epoch
        self.resumed_seconds = 0.0               # of the resumed epoch, before the checkpoint
        self.resumed_at = None                   # "resumed at epoch 3, step 412 of 937"
        self.bar = None
        self.stop_signal = None                  # SIGINT/SIGTERM received: stop after this step
        self.fixed_noise_rng = np.random.default_rng(args.seed + 10_000)  # never touches the main stream
        self.path = os.path.join(args.out, CHECKPOINT)
        if args.resume is not None:
            self.resume(args.resume or self.path)
        self.next_save = time.monotonic() + 60 * getattr(args, "checkpoint_minutes", 0)

    def fixed_noise(self, *shape, low=None, high=None):
        """Noise for the sample grids, the same in every frame and after a resume. It comes
        from its own generator, so drawing it does not shift the training noise."""
        if low is None:
            z = self.fixed_noise_rng.standard_normal(shape)
        else:
            z = self.fixed_noise_rng.uniform(low, high, shape)
        return backend.asarray(z.astype(np.float32))

    # ------------------------------------------------------------------ the loop

    def epochs(self):
        self.catch_signals()
        for epoch in range(self.start_epoch, self.args.epochs):
            self.epoch = epoch
            # a resumed epoch's clock starts at the training time it had when it was saved
            self.t0 = time.perf_counter() - (self.resumed_seconds if epoch == self.start_epoch else 0)
            yield epoch

    def batches(self):
        """The epoch's batches, under a progress bar that shows the latest losses.

        Between two steps (after a step that called log, so a lesson that logs every
        n-th batch is never stopped half-way through its cycle) it writes the checkpoint
        when --checkpoint-minutes have passed, and stops the run when Ctrl-C or SIGTERM
        came during the step."""
        desc = f"epoch {self.epoch + 1}/{self.args.epochs}"
        if self.resumed_at and self.epoch == self.start_epoch:
            desc += f" ({self.resumed_at})"
        self.bar = tqdm(self.data, desc=desc, total=len(self.data), initial=self.data.start,
                        leave=False, mininterval=1.0, file=sys.stderr, dynamic_ncols=True)
        logged = self.step
        for batch in self.bar:
            yield batch
            if self.step == logged or not self.data.mid_epoch():
                continue                         # inside a step's cycle, or the epoch's end
            logged = self.step
            if self.stop_signal is not None:
                self.save(mid_epoch=True)
                self.exit_interrupted()
            if getattr(self.args, "checkpoint_minutes", 0) > 0 and time.monotonic() >= self.next_save:
                self.save(mid_epoch=True)
        self.bar.close()

    # ------------------------------------------------------------------ Ctrl-C and SIGTERM

    def catch_signals(self):
        """The first SIGINT or SIGTERM asks the run to stop after the step in progress
        (with a checkpoint); a second one ends the process at once, writing nothing."""
        def handler(signum, frame):
            if self.stop_signal is not None:
                os._exit(128 + signum)
            self.stop_signal = signum
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, handler)
        except ValueError:                       # not the main thread (e.g. a notebook worker)
            pass

    def release_signals(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
            except ValueError:
                pass

    def resume_command(self):
        """The command line of this run with --resume (replacing any --resume it had)."""
        argv, keep = sys.argv[1:], []
        i = 0
        while i < len(argv):
            if argv[i] == "--resume":
                i += 2 if i + 1 < len(argv) and not argv[i + 1].startswith("-") else 1
                continue
            if not argv[i].startswith("--resume="):
                keep.append(argv[i])
            i += 1
        return "python " + shlex.join([sys.argv[0], *keep, "--resume"])

    def exit_interrupted(self):
        """One line (where the checkpoint is, the command that resumes it), exit 130/143."""
        if self.bar is not None:
            self.bar.close()
        name = signal.Signals(self.stop_signal).name
        print(f"{name}: stopped at epoch {self.epoch + 1}, step {self.data.position} of "
              f"{len(self.data)}; checkpoint {self.path}; resume with: {self.resume_command()}",
              file=sys.stderr, flush=True)
        raise SystemExit(128 + self.stop_signal)

    def log(self, **losses):
        """Record this step's losses; stop the run if one is NaN or infinite."""
        self.step += 1
        for name, value in losses.items():
            value = float(value)
            if not math.isfinite(value):
                if self.bar is not None:
                    self.bar.close()
                kept = (f"the last good checkpoint ({self.path}) is kept" if os.path.exists(self.path)
                        else "no checkpoint was written yet")
                fail(f"{name} became {value} at step {self.step} (epoch {self.epoch + 1}); "
                     f"training stopped, {kept}", code=1)
            self.history.setdefault(name, []).append((self.step, value))
        if _SIGNAL_AT_STEP and self.step == _SIGNAL_AT_STEP[0]:
            for _ in range(_SIGNAL_AT_STEP[2]):              # the tests' stand-in for a Ctrl-C
                os.kill(os.getpid(), _SIGNAL_AT_STEP[1])
        if self.bar is not None:
            self.bar.set_postfix({k: f"{float(v):.3f}" for k, v in losses.items()}, refresh=False)
        return self.step

    def should_sample(self):
        return self.step % self.args.sample_interval == 0

    def save_grid(self, images, name=None, nrow=10, title=None):
        name = name or f"step_{self.step:06d}.png"
        plot.save_grid(images, os.path.join(self.args.out, name), nrow=nrow, title=title)

    def end_epoch(self, grid_images=None, nrow=10):
        """Epoch-end grid and loss curves, then the checkpoint."""
        self.epoch_seconds.append(time.perf_counter() - self.t0)
        if grid_images is not None:
            self.save_grid(grid_images, f"epoch_{self.epoch + 1:03d}.png", nrow,
                           title=f"{self.lesson}  epoch {self.epoch + 1}")
        plot.save_curves(self.history, os.path.join(self.args.out, "losses.png"), title=self.lesson)
        self.save()
        print(f"epoch {self.epoch + 1}/{self.args.epochs}  {self.epoch_seconds[-1]:.1f}s  "
              + "  ".join(f"{k} {v[-1][1]:.4f}" for k, v in self.history.items() if v), flush=True)
        if self.stop_signal is not None:
            self.exit_interrupted()

    # ------------------------------------------------------------------ checkpoints

    def save(self, mid_epoch=False):
        """Write the checkpoint. mid_epoch: between two steps of self.epoch (which then
        counts as not finished); else at the end of self.epoch. A failed write (a full
        disk) keeps the previous checkpoint, says so in one line, and training goes on:
        the next checkpoint tries again."""
        self.next_save = time.monotonic() + 60 * getattr(self.args, "checkpoint_minutes", 0)
        arrays = {}
        for name, model in self.models.items():
            arrays.update({f"model/{name}/{k}": v for k, v in model.state_dict().items()})
        for name, opt in self.optimizers.items():
            state = opt.state_dict()
            arrays.update({f"optim/{name}/{k}": v for k, v in state.items() if k not in ("t", "lr")})
        epoch_so_far = time.perf_counter() - self.t0 if mid_epoch else 0.0
        meta = {
            "lesson": self.lesson, "epoch": self.epoch + (0 if mid_epoch else 1), "step": self.step,
            "position": self.data.position if mid_epoch else 0, "steps_per_epoch": len(self.data),
            "args": {k: v for k, v in vars(self.args).items() if k != "resume"},
            "rng": backend.rng_state(), "data_rng": self.data.state_dict(),
            "optim_scalars": {n: {"t": o.t, "lr": o.lr} for n, o in self.optimizers.items()},
            "extra": {n: s.state_dict() for n, s in self.extra_state.items()},
            "history": self.history, "epoch_seconds": self.epoch_seconds,
            "epoch_seconds_so_far": epoch_so_far,
            "training_seconds": float(sum(self.epoch_seconds)) + epoch_so_far,
        }
        try:
            save_checkpoint(self.path, arrays, meta)
        except OSError as exc:
            reason = exc.strerror or (errno.errorcode.get(exc.errno) if exc.errno else None) or str(exc)
            kept = "the previous one is kept" if os.path.exists(self.path) else "none was written yet"
            message = (f"warning: could not write the checkpoint {self.path} ({reason}); {kept}; "
                       "training goes on and the next checkpoint tries again")
            tqdm.write(message, file=sys.stderr)
            return False
        return True

    def resume(self, path):
        try:
            arrays, meta = load_checkpoint(path)
            if meta.get("lesson") != self.lesson:
                raise ValueError(f"{path} is a checkpoint of {meta.get('lesson')!r}, not {self.lesson!r}")
            written, running = meta.get("args", {}).get("arch"), getattr(self.args, "arch", None)
            if written != running:
                raise ValueError(f"{path} was written by {self.lesson} "
                                 + (f"--arch {written}" if written else "before it had --arch")
                                 + f", this run is --arch {running}"
                                 + (f" (add --arch {written} to continue it)" if written else ""))
            for name, model in self.models.items():
                model.load_state_dict(_split(arrays, f"model/{name}/"))
            for name, opt in self.optimizers.items():
                opt.load_state_dict({**_split(arrays, f"optim/{name}/"), **meta["optim_scalars"][name]})
            for name, obj in self.extra_state.items():
                obj.load_state_dict(meta["extra"][name])
        except (ValueError, KeyError) as exc:
            fail(f"cannot resume: {exc}")
        position = meta.get("position", 0)
        if position and meta.get("steps_per_epoch") != len(self.data):
            fail(f"cannot resume: {path} was written at step {position} of an epoch of "
                 f"{meta.get('steps_per_epoch')} steps; with these flags an epoch has {len(self.data)} "
                 "(resume with the --batch-size and --subset it was written with)")
        backend.set_rng_state(meta["rng"])
        self.data.load_state_dict(meta["data_rng"])
        self.history = {k: [tuple(p) for p in v] for k, v in meta["history"].items()}
        self.start_epoch, self.step = meta["epoch"], meta["step"]
        self.epoch_seconds = meta["epoch_seconds"]
        self.resumed_seconds = meta.get("epoch_seconds_so_far", 0.0)
        self.resumed_at = f"resumed at epoch {self.start_epoch + 1}, step {position} of {len(self.data)}"
        print(f"{self.resumed_at} (from {path})", flush=True)

    # ------------------------------------------------------------------ the end

    def result_header(self):
        """What every metrics.json starts with: the run, its device, speed and command."""
        return {"lesson": self.lesson, "epochs": self.args.epochs, "device": self.args.device,
                # the median epoch: one epoch slowed by a pause or a neighbour does not skew it
                "seconds_per_epoch": (float(np.median(self.epoch_seconds)) if self.epoch_seconds else None),
                "command": command_line(),
                # these slow NumPy's GEMM by ~1/3 where set (see the README's Speed section)
                "blas_env": " and ".join(v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                                         if v in os.environ) or None}

    def finish(self, sample, conditional=False, chunk=500):
        """Write samples.npz (images in [0, 1], (N, 28, 28); labels if conditional) and,
        unless --no-eval, measure them (minigan.metrics) into metrics.json.

        sample(n) returns n images in [0, 1]; with conditional=True, sample(labels) returns
        one image per label, and the labels run 0, 1, ..., 9, 0, 1, ... (equal shares).
        Generated in chunks of 500 so memory stays small.
        """
        self.release_signals()                   # training is over: Ctrl-C stops as usual
        xp = backend.xp()
        n = self.args.n_samples
        labels = xp.arange(n) % 10 if conditional else None
        parts = [backend.to_host(sample(labels[i:i + chunk] if conditional else min(chunk, n - i)))
                 for i in range(0, n, chunk)]
        images = np.clip(np.concatenate(parts).reshape(-1, 28, 28).astype(np.float32), 0, 1)
        out = {"images": images}
        if labels is not None:
            out["labels"] = backend.to_host(labels).astype(np.int64)
        np.savez_compressed(os.path.join(self.args.out, "samples.npz"), **out)
        result = self.result_header()
        if not self.args.no_eval:
            from . import metrics
            result.update(metrics.evaluate(images, out.get("labels")))
            print(metrics.format_metrics(result), flush=True)
        with open(os.path.join(self.args.out, "metrics.json"), "w") as f:
            json.dump(result, f, indent=2)
        return result
