"""YAML with line numbers: config and question files report mistakes at file:line and key path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from judge.errors import InputError


@dataclass(frozen=True)
class Located:
    """A YAML document as plain values, plus the line (1-based) of every key path in it."""

    value: Any
    lines: Mapping[str, int]


def load_yaml(path: Path) -> Located:
    """Parse a YAML file keeping node lines; syntax errors and duplicate keys are InputErrors at file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file ({exc})", path=path) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        value = None if node is None else _build(loader, node, "", lines, path)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError(f"not valid YAML: {exc.problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=path) from None
    finally:
        loader.dispose()
    return Located(value, lines)


def _build(loader: yaml.SafeLoader, node: yaml.Node, at: str, lines: dict[str, int], path: Path) -> Any:
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            sub = f"{at}.{key}" if at else str(key)
            if key in out:
                raise InputError(f"{sub}: key appears twice", path=path, line=key_node.start_mark.line + 1)
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, sub, lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, f"{at}[{i}]", lines, path) for i, item in enumerate(node.value)]
    return loader.construct_object(node)
