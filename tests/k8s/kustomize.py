"""Render a kustomization offline: the subset of kustomize that deploy/k8s uses, in Python.

Our own lines because kustomize is a Go binary that is on no Python index, and the one Debian
ships (inside kubectl 1.20, from 2019) predates `patches:`; `make test` must render the overlays
offline on a machine with neither. The subset, and nothing else (any other field of a
kustomization is an error, so a manifest cannot quietly rely on what this does not do):

    resources   files (multi-document YAML) and folders holding a kustomization.yaml
    namespace   set on every namespaced object (not on Namespace and other cluster kinds)
    images      {name, newName?, newTag?}: containers' images whose name (before the tag) matches
    patches     {target: {kind?, name?}, patch: <JSON 6902 op list>}; `name` is an anchored
                regex, as in kustomize; ops add, replace, remove

Real kustomize renders the same objects (it also sorts them; order carries no meaning here):
`kubectl kustomize deploy/k8s/overlays/local` is what an operator runs.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

Doc = dict[str, Any]
KNOWN = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_KINDS = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                 "PersistentVolume", "StorageClass", "PriorityClass"}  # fmt: skip


class KustomizeError(ValueError):
    """The kustomization uses something outside the subset, or a patch does not apply."""


def load_all(path: Path) -> list[Doc]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]


def render(folder: Path) -> list[Doc]:
    """Every object the kustomization in `folder` produces, transformed."""
    (kustomization,) = load_all(folder / "kustomization.yaml")
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise KustomizeError(f"{folder}: fields outside the supported subset: {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        docs.extend(render(path) if path.is_dir() else copy.deepcopy(load_all(path)))
    for patch in kustomization.get("patches", []):
        matched = [doc for doc in docs if _targets(patch.get("target", {}), doc)]
        if not matched:
            raise KustomizeError(f"{folder}: patch target {patch.get('target')} matches nothing")
        ops = YAML(typ="safe").load(patch["patch"])
        for doc in matched:
            for op in ops:
                apply_op(doc, op)
    for image in kustomization.get("images", []):
        for doc in docs:
            _set_image(doc, image)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_KINDS:
                doc.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    return docs


def _targets(target: dict[str, str], doc: Doc) -> bool:
    if "kind" in target and doc["kind"] != target["kind"]:
        return False
    return "name" not in target or re.fullmatch(target["name"], doc["metadata"]["name"]) is not None


def _set_image(doc: Doc, image: dict[str, str]) -> None:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            tag = image.get("newTag", tag)
            container["image"] = image.get("newName", name) + (f":{tag}" if tag else "")


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"not a JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_op(doc: Doc, op: dict[str, Any]) -> None:
    """One JSON 6902 operation (add, replace, remove), in place; a missing path is an error."""
    *parents, last = _pointer(op["path"])
    node: Any = doc
    try:
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] == "add" and isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), op["value"])
        elif op["op"] == "add":
            node[last] = op["value"]
        elif op["op"] in ("replace", "remove"):
            key: Any = int(last) if isinstance(node, list) else last
            if not isinstance(node, list) and key not in node:
                raise KeyError(key)
            if op["op"] == "replace":
                node[key] = op["value"]
            else:
                del node[key]
        else:
            raise KustomizeError(f"unsupported op {op['op']!r}")
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise KustomizeError(f"{op['op']} {op['path']}: no such path ({exc})") from exc
