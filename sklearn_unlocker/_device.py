"""Where a fit runs: the device, mixed precision, the accelerator and its refusals, seeding.

Plain functions on the estimator (``est``); :func:`seeded` is the context a fit
trains in, which leaves the global random state as it found it.
"""

import contextlib

import torch
from sklearn.utils import check_random_state

#: the largest seed drawn from a ``random_state``
SEED_MAX = 2**31 - 1


def accelerator(est):
    """The ``accelerator`` parameter (UnlockerClassifier's), checked against the others."""
    given = getattr(est, "accelerator", None)
    if given is None:
        return None
    if isinstance(given, type):
        raise TypeError(f"accelerator={given.__name__} is a class; pass an instance, "
                        f"accelerator={given.__name__}()")
    if est.mixed_precision is not None:
        raise ValueError(
            f"mixed_precision={est.mixed_precision!r} with an accelerator: the accelerator "
            f"sets the precision; pass Accelerator(mixed_precision='bf16') and leave "
            f"mixed_precision=None")
    if str(est.device) != "auto":
        raise ValueError(
            f"device={est.device!r} with an accelerator: the accelerator places the model "
            f"(Accelerator(cpu=True) for the CPU); leave device='auto'")
    if not getattr(given, "even_batches", True) or getattr(given, "split_batches", False):
        raise ValueError(
            "the accelerator must give every process as many batches of batch_size "
            "samples (accelerate's defaults: even_batches=True, split_batches=False); "
            "processes with fewer steps would wait for the others forever")
    steps = getattr(given, "gradient_accumulation_steps", 1)
    if steps != 1:
        raise ValueError(
            f"the accelerator accumulates gradients over {steps} steps, which this "
            f"estimator does not support; raise batch_size instead (it is per process)")
    _check_strategy_for(est, given)
    return given


def _check_strategy_for(est, given):
    """A strategy that cannot run under this accelerator refuses it (its own check)."""
    check = getattr(est._make_strategy(), "check_accelerator", None)
    if check is not None:  # a user strategy need not subclass BaseStrategy
        check(given.num_processes)


def shared_random_state(est, accelerator):
    """random_state, or with several processes one seed that every process shares."""
    if accelerator is None or accelerator.num_processes == 1:
        return est.random_state
    from accelerate.utils import broadcast_object_list  # an optional dependency

    return broadcast_object_list(
        [int(check_random_state(est.random_state).randint(SEED_MAX))], from_process=0)[0]


def resolve_device(est, accelerator=None):
    """The device this fit trains on, as a string; a device not here is an error."""
    if accelerator is not None:  # "cuda:<local rank>"; on CPUs "cpu:0", which torch.load
        device = torch.device(accelerator.device)  # cannot map to: "cpu"
        return "cpu" if device.type == "cpu" else str(device)
    if str(est.device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        check_precision(est, device)
        return device
    try:
        device = torch.device(est.device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={est.device!r} is not a torch device; use 'auto', 'cpu', "
                         f"'cuda' or 'cuda:<index>' ({error})") from None
    if device.type == "cuda":
        _check_cuda(est, device)
    elif device.type != "cpu":
        try:  # mps, xpu, ...: torch says whether this build and machine have it
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as error:
            reason = str(error).splitlines()[0][:100]
            raise ValueError(f"device={est.device!r} is not available here ({reason}); use "
                             f"device='auto' (CUDA when available, else the CPU) or "
                             f"'cpu'") from None
    check_precision(est, str(est.device))
    return str(est.device)


def _check_cuda(est, device):
    """A CUDA device asked for must exist on this machine."""
    if not torch.cuda.is_available():
        raise ValueError(f"device={est.device!r} but torch finds no CUDA device here; "
                         f"use device='auto' (CUDA when available, else the CPU) or "
                         f"'cpu'")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device={est.device!r} but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")


def check_precision(est, device):
    """bfloat16 autocast needs a device that computes in it (CUDA from Ampere on)."""
    if (est.mixed_precision == "bfloat16" and torch.device(device).type == "cuda"
            and not torch.cuda.is_bf16_supported(including_emulation=False)):
        raise ValueError(f"mixed_precision='bfloat16' but {device} "
                         f"({torch.cuda.get_device_name(device)}) does not compute in "
                         f"bfloat16; leave mixed_precision=None")


@contextlib.contextmanager
def seeded(device, random_state):
    """Seed torch inside a forked RNG: global state is untouched once fit returns.

    On CUDA, cuDNN runs its deterministic algorithms during the fit (its
    settings are restored after): convolutions give the same model for the same
    ``random_state``. Kernels that add with atomics (e.g. the backward of
    ``index_add`` and ``scatter_add``) may still differ in the last bits from
    run to run; the estimator's tag ``non_deterministic`` says so on CUDA.
    """
    seed = int(check_random_state(random_state).randint(SEED_MAX))
    cuda = torch.device(device).type == "cuda"
    devices = [torch.device(device).index or 0] if cuda else []
    cudnn = torch.backends.cudnn
    settings = cudnn.deterministic, cudnn.benchmark
    try:
        if cuda:
            cudnn.deterministic, cudnn.benchmark = True, False
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield seed
    finally:
        cudnn.deterministic, cudnn.benchmark = settings
