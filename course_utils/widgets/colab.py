"""Colab's custom widget manager: switched on once per kernel, and only on Colab.

Colab's built-in manager is made for the ipywidgets 7 that Colab ships; ipywidgets 8 widgets
(the laptop pin, or one a learner installs) are drawn by the custom manager only, which is also
what third-party widget libraries switch on over Colab's ipywidgets 7. The manager is attached
to an output by a hook on ``display()`` (``google.colab.output._widgets._widget_display_hook``:
it marks display_data messages that carry a widget view), so on Colab a widget must be shown
through ``display()``, not as a cell's result.
"""
from __future__ import annotations

import sys
import warnings

__all__ = ["in_colab", "enable_colab_widget_manager"]

_colab_widget_manager_enabled = False


def in_colab() -> bool:
    """True inside a Colab kernel (the test the install cell makes, too)."""
    return "google.colab" in sys.modules


def enable_colab_widget_manager() -> None:
    """On Colab, switch on its custom widget manager, once per kernel; elsewhere do nothing."""
    global _colab_widget_manager_enabled
    if _colab_widget_manager_enabled or not in_colab():
        return
    _colab_widget_manager_enabled = True
    try:
        from google.colab import output

        output.enable_custom_widget_manager()
    except Exception as exc:  # noqa: BLE001 - an unusual Colab must not stop the lesson
        warnings.warn(f"could not enable Colab's custom widget manager ({type(exc).__name__}: {exc}); "
                      "the playground may not show", RuntimeWarning, stacklevel=3)
