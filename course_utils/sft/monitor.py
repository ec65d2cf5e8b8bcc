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

With an `eval_dataset` (and `eval_strategy="steps"` in the config) the Trainer also logs the
loss on held-out conversations: the plot draws it as a second line, `eval_history` keeps it,
and `summary()` prints both curves' landmarks as text (where the validation loss was lowest,
and where it went after), so the numbers behind the picture can be read and tested.
"""
from __future__ import annotations

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from transformers.utils.notebook import NotebookProgressCallback


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

    def _draw(self, steps, losses, progress: str = "", eval_steps=(), eval_losses=()) -> None:
        self.axes.clear()
        self.axes.plot(steps, losses, marker=".", color="tab:blue", label="training")
        if eval_steps:
            self.axes.plot(eval_steps, eval_losses, marker="o", color="tab:orange", label="validation")
            self.axes.legend(loc="upper right")
        title = f"{self.title} · {progress}" if progress else self.title
        self.axes.set(xlabel="optimizer step", ylabel="loss (trained tokens)", title=title)
        self.axes.grid(alpha=0.3)
        self.figure.tight_layout()

    def update(self, steps, losses, progress: str = "", eval_steps=(), eval_losses=()) -> None:
        self._draw(steps, losses, progress, eval_steps, eval_losses)
        self.handle.update(self._png())


class TrainingMonitor(TrainerCallback):
    """A live loss plot in notebooks; tqdm over optimizer steps with the latest loss elsewhere.

    Args:
        live_plot: draw the plot when running in a notebook (never elsewhere).
        title: the plot's title.

    After training, `history` holds `(step, loss)` for every logged step, and `eval_history`
    `(step, eval_loss)` for every evaluation (empty without an eval dataset).
    """

    def __init__(self, live_plot: bool = True, title: str = "training loss"):
        self.live_plot, self.title = live_plot, title
        self.history: list[tuple[int, float]] = []
        self.eval_history: list[tuple[int, float]] = []
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

    def _redraw(self, progress: str) -> None:
        if self.plot is None or not self.history:
            return
        eval_steps, eval_losses = zip(*self.eval_history) if self.eval_history else ((), ())
        self.plot.update(*zip(*self.history), progress=progress, eval_steps=eval_steps, eval_losses=eval_losses)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "eval_loss" in logs:
            if not self.eval_history or self.eval_history[-1][0] != state.global_step:
                self.eval_history.append((state.global_step, float(logs["eval_loss"])))
        if "loss" not in logs:
            return
        self.history.append((state.global_step, float(logs["loss"])))
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}")
        self._redraw(f"step {state.global_step}/{state.max_steps}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        # the last log may come a few steps early
        self._redraw(f"step {state.global_step}/{state.max_steps} · done")

    def summary(self) -> str:
        """The curves' landmarks as text: first and last training loss; the validation loss's
        minimum, its last value, and how far it rose after the minimum."""
        if not self.history:
            return "no loss logged"
        (first_step, first), (last_step, last) = self.history[0], self.history[-1]
        lines = [f"training loss:   {first:.3f} at step {first_step} -> {last:.3f} at step {last_step}"]
        if self.eval_history:
            best_step, best = min(self.eval_history, key=lambda point: point[1])
            end_step, end = self.eval_history[-1]
            lines.append(f"validation loss: lowest {best:.3f} at step {best_step}, {end:.3f} at step {end_step} "
                         f"({end - best:+.3f} after its lowest)")
        return "\n".join(lines)


def remove_progress_callbacks(trainer):
    """Remove the progress output Trainer adds itself (a tqdm bar, a notebook table, or printed
    log dicts, depending on where it runs and on `disable_tqdm`): a `TrainingMonitor` passed in
    `callbacks` shows progress and the losses instead. Returns the trainer."""
    for progress in (ProgressCallback, NotebookProgressCallback, PrinterCallback):
        trainer.remove_callback(progress)
    return trainer
