"""The example tools of lesson 06, and the RAG template that renders documents.

get_weather lives in `world.py`: it is the exact tool the nano instruct model was trained to
call, so the schema the learner sees and the one in its training data cannot drift apart.
"""
from __future__ import annotations

from ..assets import read_template
from ..world import COUNTRIES, get_weather

__all__ = ["get_weather", "get_capital", "convert_temperature", "EXAMPLE_TOOLS", "rag_template"]


def get_capital(country: str) -> str:
    """
    Get the capital city of a country.

    Args:
        country: The name of the country, for example France.
    """
    if country not in COUNTRIES:
        # Raising is the honest answer; the tool loop turns it into a tool message.
        raise KeyError(f"no capital known for {country!r}")
    return COUNTRIES[country]


def convert_temperature(celsius: float, unit: str) -> float:
    """
    Convert a temperature from degrees Celsius to another unit.

    Args:
        celsius: The temperature in degrees Celsius.
        unit: The unit to convert to. (choices: ["fahrenheit", "kelvin"])
    """
    # The "(choices: ...)" suffix becomes an "enum" in the schema, so `validate_call` rejects
    # other units before the function runs.
    if unit == "fahrenheit":
        return round(celsius * 9 / 5 + 32, 2)
    return round(celsius + 273.15, 2)


EXAMPLE_TOOLS = [get_weather, get_capital, convert_temperature]


def rag_template() -> str:
    """A ChatML template that renders `apply_chat_template(documents=...)` into the system turn."""
    return read_template("rag.jinja")
