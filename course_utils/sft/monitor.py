"""Watch training: in a notebook, a loss plot that redraws itself; elsewhere a tqdm bar.

`TrainingMonitor` is a `transformers.TrainerCallback`. It replaces the Trainer's own progress
callback (`build_trainer` swaps them). In a notebook the plot is the progress display: its
title counts the steps. A tqdm bar there would be a widget, and a notebook saved after the
run keeps only a widget's first text ("0%"), so the stored lesson would show training stuck
at zero. Outside a notebook (scripts, tests, `accelerate launch`) the plot is a no-op and the
main process draws a tqdm bar.

The figure is a bare `matplotlib.figure.Figure`, not `pyplot.figure()`: pyplot's inline
backend would display every open figure again when the cell ends. It is shown as a PNG that
it renders itself, because IPython registers its Figure formatter only once pyplot's inline
backend is active, and without it a notebook stores "<Figure size ...>" instead of the plot.
"""
from __future__ import annotations

from transformers import TrainerCallback


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where `display` updates an output in place)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LossPlot:
    """A loss-vs-step line in one notebook output that is updated in place."""

    def __init__(self, title: str = "training loss"):
        from IPython.display import display
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 3), dpi=80)
        self.axes = self.figure.add_subplot()
        self.title = title
        self._draw([], [])
        self.handle = display(self._png(), display_id=True)

    def _png(self):
        import io

        from IPython.display import Image

        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return Image(data=buffer.getvalue(), format="png")

    def _draw(self, steps, losses, progress: str = "") -> None:
        self.axes.clear()
        self.axes.plot(steps, losses, marker=".", color="tab:blue")
        title = f"{self.title} · {progress}" if progress else self.title
        self.axes.set(xlabel="optimizer step", ylabel="loss (assistant tokens)", title=title)
        self.axes.grid(alpha=0.3)
        self.figure.tight_layout()

    def update(self, steps, losses, progress: str = "") -> None:
        self._draw(steps, losses, progress)
        self.handle.update(self._png())


class TrainingMonitor(TrainerCallback):
    """A live loss plot in notebooks; tqdm over optimizer steps with the latest loss elsewhere.

    Args:
        live_plot: draw the plot when running in a notebook (never elsewhere).
        title: the plot's title.

    After training, `history` holds `(step, loss)` for every logged step.
    """

    def __init__(self, live_plot: bool = True, title: str = "training loss"):
        self.live_plot, self.title = live_plot, title
        self.history: list[tuple[int, float]] = []
        self.bar = None
        self.plot = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        if self.live_plot and in_notebook():
            self.plot = LossPlot(self.title)
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, desc="SFT", unit="step", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        self.history.append((state.global_step, float(logs["loss"])))
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}")
        if self.plot is not None:
            self.plot.update(*zip(*self.history), progress=f"step {state.global_step}/{state.max_steps}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.plot is not None and self.history:  # the last log may come a few steps early
            self.plot.update(*zip(*self.history), progress=f"step {state.global_step}/{state.max_steps} · done")
