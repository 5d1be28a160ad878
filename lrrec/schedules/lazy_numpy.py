"""numpy for the schedule modules, imported when a schedule is first evaluated: commands that only name, check or
describe schedules (`lrrec suggest`, `lrrec store ...`) start without it (numpy's import is 0.03 s of a 0.3 s
`lrrec suggest`). `from lrrec.schedules.lazy_numpy import np` reads as `import numpy as np`, to readers and mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
else:
    class _Numpy:
        """Stands for the numpy module: the first read of an attribute imports numpy, and each attribute is kept."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            value = getattr(numpy, name)
            setattr(self, name, value)
            return value

    np = _Numpy()

__all__ = ["np"]
