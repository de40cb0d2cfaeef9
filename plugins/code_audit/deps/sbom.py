"""The target's SBOM: CycloneDX 1.6 (cyclonedx-python-lib) from the same inventory as the check.

Packages become ``library`` components with a PyPI package URL; the same name and version
declared in several files is one component, its files listed in properties. A requirement
that pins no version is a component without a version, its specifier kept as a property.
Model files are ``machine-learning-model`` components with their SHA-256; hub references
(``from_pretrained``...) are ``machine-learning-model`` components with the repository and
revision (or ``unpinned``) as properties.
"""

from __future__ import annotations


def build_bom(target: str, deps: list, models: list[dict], refs: list[dict], *, tool_version: str = ""):
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    import os

    from .osvdb import normalise_name

    bom = Bom()
    bom.metadata.component = Component(name=os.path.basename(os.path.abspath(target)) or target,
                                       type=ComponentType.APPLICATION, bom_ref="target")
    bom.metadata.properties.add(Property(name="workbench:tool", value=f"AI Security Workbench {tool_version}".strip()))
    grouped: dict[tuple, dict] = {}
    for n, dep in enumerate(deps):
        if dep.unchecked:
            # a path, URL or git source: listed, with no package URL to claim a registry release
            bom.components.add(Component(
                name=dep.name, type=ComponentType.LIBRARY, bom_ref=f"unresolved:{n}:{dep.file}:{dep.line}",
                properties=[Property(name="workbench:declared-in", value=f"{dep.file}:{dep.line}"),
                            Property(name="workbench:unchecked", value=dep.unchecked)]))
            continue
        name = normalise_name(dep.ecosystem, dep.name)
        version = dep.version
        key = (name, version or dep.spec)
        entry = grouped.setdefault(key, {"dep": dep, "files": [], "hashes": set()})
        entry["files"].append(f"{dep.file}:{dep.line}" if dep.line else dep.file)
        entry["hashes"].update(h for h in dep.hashes if h.startswith("sha256:"))
    for (name, what), entry in sorted(grouped.items()):
        dep = entry["dep"]
        version = dep.version
        props = [Property(name="workbench:declared-in", value=f) for f in sorted(set(entry["files"]))]
        if version is None:
            props.append(Property(name="workbench:requirement", value=dep.spec or "(any version)"))
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=h.split(":", 1)[1]) for h in sorted(entry["hashes"])
                  if len(h.split(":", 1)[1]) == 64]
        purl = _purl(dep.ecosystem, name, version)
        ref = purl.to_string() if version else f"{purl.to_string()}?requirement={what}"
        bom.components.add(Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl, bom_ref=ref,
                                     hashes=hashes, properties=props))
    for m in models:
        bom.components.add(Component(
            name=m["path"], type=ComponentType.MACHINE_LEARNING_MODEL, bom_ref=f"model:{m['path']}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=m["sha256"])],
            properties=[Property(name="workbench:format", value=m["format"]),
                        Property(name="workbench:size", value=str(m["size"]))]))
    seen = set()
    for r in refs:
        key = (r["repo"], r["revision"])
        if key in seen:
            continue
        seen.add(key)
        revision = r["revision"] if r["revision"] else "unpinned"
        bom.components.add(Component(
            name=r["repo"], version=r["revision"] if r["pinned"] else None, type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=f"hub:{r['repo']}@{revision}",
            properties=[Property(name="workbench:revision", value=revision),
                        Property(name="workbench:pinned", value="true" if r["pinned"] else "false"),
                        Property(name="workbench:referenced-in", value=f"{r['file']}:{r['line']}")]))
    # Everything found is a direct part of the target: the graph says so instead of being left incomplete.
    bom.register_dependency(bom.metadata.component, list(bom.components))
    return bom


_PURL_TYPES = {"PyPI": "pypi", "npm": "npm", "Go": "golang"}


def _purl(ecosystem: str, name: str, version: str | None):
    """A package URL: npm scopes and Go module paths go in the namespace."""
    from packageurl import PackageURL

    kind = _PURL_TYPES.get(ecosystem, ecosystem.lower())
    namespace = None
    if kind in ("npm", "golang") and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return PackageURL(type=kind, namespace=namespace, name=name, version=version)


def to_json(bom) -> str:
    """CycloneDX 1.6 JSON."""
    from cyclonedx.output.json import JsonV1Dot6

    return JsonV1Dot6(bom).output_as_string(indent=2)
