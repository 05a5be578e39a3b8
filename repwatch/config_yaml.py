"""Reading schedules.yaml as YAML, strictly and within limits.

PyYAML's safe loader silently keeps the last of two equal keys (a second `url:` or `sources:` wins
without a word), expands aliases without bound (a few lines of "billion laughs" hang the process),
recurses once per nesting level (20,000 levels end in a RecursionError traceback), and hands
integers to int(), which refuses more than 4,300 digits with a ValueError. A configuration file
needs none of these, so each is refused with a message naming the line."""
from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000     # a real schedules.yaml is a few KB
MAX_DEPTH = 50            # the deepest real key path is about 6
MAX_SCALAR = 10_000       # characters in one value; keys and numbers are far shorter
MAX_INT_DIGITS = 30       # ports, sizes and counts; no setting needs more


class StrictYAMLError(yaml.YAMLError):
    """One problem, with where it is: formatted like PyYAML's own errors by the config loader."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class StrictLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise StrictYAMLError(f"aliases (*{event.anchor}) are not allowed in schedules.yaml; "
                                  "write the value out again", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise StrictYAMLError(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise StrictYAMLError("merge keys (<<) are not allowed in schedules.yaml", key_node.start_mark)
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:   # an unhashable key; PyYAML reports it below
                    continue
                if first is not None:
                    raise StrictYAMLError(f"key {key!r} appears twice in one mapping (first on line "
                                          f"{first.line + 1}); keep one", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_scalar(self, node):
        value = super().construct_scalar(node)
        if isinstance(value, str) and len(value) > MAX_SCALAR:
            raise StrictYAMLError(f"a value of {len(value)} characters; at most {MAX_SCALAR} are allowed",
                                  node.start_mark)
        return value

    def construct_yaml_int(self, node):
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise StrictYAMLError(f"a number of {digits} digits; no setting takes more than {MAX_INT_DIGITS}",
                                  node.start_mark)
        return super().construct_yaml_int(node)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """The document as plain data, or StrictYAMLError / yaml.YAMLError with a mark."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise StrictYAMLError(f"the file is larger than {MAX_BYTES // 1000} KB; is it the right file?")
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


def key_lines(text: str) -> dict[tuple, int]:
    """Line number (1-based) of every key path in the document: ("sources", 0, "url") -> 3. A list item
    maps to the line its entry starts on. Empty when the text is not a mapping (load_yaml reports why)."""
    try:
        root = yaml.compose(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader; composing builds no objects
    except (yaml.YAMLError, RecursionError):
        return {}
    lines: dict[tuple, int] = {}

    def walk(node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    lines.setdefault(path + (key,), key_node.start_mark.line + 1)
                    walk(value, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault(path + (index,), item.start_mark.line + 1)
                walk(item, path + (index,))

    if root is not None:
        walk(root, ())
    return lines
