"""Training in several processes on this machine: ``hngraph train --nproc
N`` starts its workers here, through ``torchrun --standalone``; the
collectives the workers use are in :mod:`hngraph.distributed`."""
from __future__ import annotations

import os


def launch(argv: list[str], nproc: int) -> int:
    """Run ``hngraph <argv>`` in ``nproc`` processes on this machine through
    ``torchrun --standalone`` (``torch.distributed.run``). Each process gets
    ``cores // nproc`` threads unless ``OMP_NUM_THREADS`` is set. Returns
    the exit status."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import (
        ChildFailedError,
    )
    from torch.distributed.run import get_args_parser, run
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // nproc)))
    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--module",
         "hngraph.cli"])
    args.training_script_args = list(argv)  # kept away from torchrun's flags
    try:
        run(args)
    except SignalException as err:  # Ctrl-C or a kill: the workers end too
        raise KeyboardInterrupt from err
    except ChildFailedError as err:
        failures = "; ".join(f"rank {f.local_rank} exit code {f.exitcode}"
                             for f in err.failures.values())
        print(f"hngraph: error: a training process failed ({failures}); its "
              "message is printed above.", flush=True)
        return 1
    return 0


#: The public names (the API reference lists these).
__all__ = ["launch"]
