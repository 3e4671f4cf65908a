"""Progress bars that leave a one-line summary when they finish.

While a loop runs, :class:`ProgressBar` shows tqdm's bar: a widget in Jupyter (when ipywidgets
is installed), text elsewhere. When it closes, the bar is replaced by one plain line, such as
``pretrain (sop): 300 steps in 41 s, loss 5.871``. In a notebook the replacement happens in the
cell's output itself (a display update), so a saved notebook holds that line instead of a
widget that cannot be redrawn once the kernel is gone (or a bar frozen at 0%).
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm
from tqdm.notebook import tqdm as notebook_tqdm


class ProgressBar:
    """A tqdm bar whose ``close(summary)`` leaves one line.

    Either wrap an iterable (``for batch in ProgressBar(desc=..., iterable=loader)``) or count
    by hand (``ProgressBar(total, desc)`` and ``update()``).
    """
    def __init__(self, total: int | None = None, desc: str = "", initial: int = 0,
                 disable: bool = False, unit: str = "step", iterable=None):
        self.desc, self.unit, self.disable = desc, unit, disable
        self.start, self.count = time.perf_counter(), initial
        self.handle = None
        # tqdm.auto picks the widget bar inside Jupyter (when ipywidgets is installed), text elsewhere

        options = dict(total=total, initial=initial, desc=desc, unit=unit, disable=disable)
        if issubclass(tqdm, notebook_tqdm) and not disable:
            from IPython.display import display

            self.bar = tqdm(iterable, display=False, mininterval=1.0, **options)
            self.handle = display(self.bar.container, display_id=True)
        else:
            self.bar = tqdm(iterable, leave=False, mininterval=2.0, file=sys.stderr, **options)

    def __iter__(self):
        """Iterate over ``iterable`` (given at construction), advancing the bar."""
        for item in self.bar:
            self.count += 1
            yield item

    def update(self, n: int = 1) -> None:
        self.count += n
        self.bar.update(n)

    def set_postfix(self, **values) -> None:
        self.bar.set_postfix(values, refresh=False)  # shown at the next timed refresh

    def close(self, summary: str | None = None) -> str:
        """Close the bar; return (and show, unless disabled) the one-line summary."""
        seconds = time.perf_counter() - self.start
        plural = self.unit + ("es" if self.unit.endswith(("s", "x", "ch", "sh")) else "s")
        line = f"{self.desc}: {self.count} {plural} in {seconds:.0f} s" + (
            f", {summary}" if summary else "")
        self.bar.close()
        if self.disable:
            return line
        if self.handle is not None:
            from IPython.display import Pretty

            self.handle.update(Pretty(line))  # the widget's output becomes this text
        else:
            print(line)
        return line

