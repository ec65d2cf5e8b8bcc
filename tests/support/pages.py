"""What a browser shows of the course's HTML, for tests that read a page as a learner would."""
from __future__ import annotations

import html
import re


def page_text(page: str) -> str:
    """What a browser's innerText gives for our HTML (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))
