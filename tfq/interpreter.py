"""`tfq.Interpreter`: LiteRT's interpreter with the tfq delegate applied."""
from __future__ import annotations

from typing import Optional, Union

from ai_edge_litert import interpreter as litert_interpreter

from tfq import delegate as tfq_delegate


class Interpreter(litert_interpreter.Interpreter):
    """`ai_edge_litert.interpreter.Interpreter` running int8 nodes on the tfq delegate.

    delegate: True (load one with `num_threads`), False (plain LiteRT), a dict
    of delegate options, or a `tfq.delegate.Delegate` to share.
    Remaining keyword arguments go to LiteRT's Interpreter.
    """

    def __init__(self, model_path: Optional[str] = None, model_content: Optional[bytes] = None,
                 *, delegate: Union[bool, dict, tfq_delegate.Delegate] = True,
                 num_threads: int = 1, **kwargs):
        if (model_path is None) == (model_content is None):
            raise ValueError("tfq.Interpreter: pass exactly one of model_path= or model_content=")
        if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
            raise ValueError(f"tfq.Interpreter: num_threads must be a positive int, "
                             f"got {num_threads!r}")
        if "experimental_delegates" in kwargs:
            raise ValueError("tfq.Interpreter: use delegate= instead of experimental_delegates=")
        if delegate is True:
            delegate = tfq_delegate.load(num_threads=num_threads)
        elif isinstance(delegate, dict):
            delegate = tfq_delegate.load(**{"num_threads": num_threads, **delegate})
        elif delegate is False:
            delegate = None
        elif not isinstance(delegate, tfq_delegate.Delegate):
            raise TypeError("tfq.Interpreter: delegate must be True, False, a dict of options "
                            f"or a tfq.delegate.Delegate, got {type(delegate).__name__}")
        self.tfq_delegate = delegate
        super().__init__(model_path=model_path, model_content=model_content,
                         experimental_delegates=[delegate] if delegate else None,
                         num_threads=num_threads, **kwargs)
