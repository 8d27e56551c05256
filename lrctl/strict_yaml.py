"""Strict YAML reading for configs: duplicate keys are errors and alias expansion is bounded.

PyYAML's `safe_load` keeps the last of two equal keys without a word and expands aliases without a
limit (a few lines can stand for billions of nodes). Configs are small, so both are refused here.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_EXPANDED_NODES = 10_000
"""Most YAML nodes a document may stand for once its aliases are expanded (configs hold about 100)."""


class StrictYAMLError(ValueError):
    """A YAML text that parses but is refused: a duplicate key or too large an alias expansion."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise StrictYAMLError(f"duplicate key {excerpt(key)} on lines {seen[key]} and {line}; "
                                          "keep one")
                seen[key] = line
            except TypeError:  # an unhashable key; SafeLoader's own error names it
                break
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Nodes `node` stands for with every alias written out (shared nodes counted each time)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = MAX_EXPANDED_NODES + 1  # a node that contains itself is too large
    if isinstance(node, SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[id(node)] = size = min(size, MAX_EXPANDED_NODES + 1)
    return size


def load_yaml(text: str) -> Any:
    """Parse one YAML document strictly; raises yaml.YAMLError or StrictYAMLError."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise StrictYAMLError(f"aliases expand to more than {MAX_EXPANDED_NODES} values; write the "
                                  "values out or use fewer aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def excerpt(value: Any, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters, for error messages about values of any size."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
