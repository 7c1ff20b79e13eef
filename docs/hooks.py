"""MkDocs hooks (registered in mkdocs.yml): the configuration reference, generated at build time.

``docs/reference/configuration.md`` holds the marker ``<!-- config-reference -->``; the build
replaces it with tables made from the two places that define the configuration, so nothing is
written twice:

- the typed schema ``lossmatch.config`` (pydantic models): each field's type, constraints and
  description, with its default from the composed ``conf/train.yaml``;
- the YAML files of the groups that name a ``_target_`` (``conf/data``, ``conf/similarity``,
  ``conf/model``, ``conf/loss``) and of the overlays (``experiment``, ``hparams_search``): each
  option's keys, defaults and the comments written beside them.

``tests/test_docs.py`` imports :func:`config_reference` to check that every field of the schema
and every option of ``conf/`` appears.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MARKER = "<!-- config-reference -->"
# Groups whose options build an object (``_target_``) and overlays: documented from their YAML files.
TARGET_GROUPS = ("data", "similarity", "model", "loss")
OVERLAY_GROUPS = ("experiment", "hparams_search")


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, config_reference(Path(config.config_file_path).parent))


def config_reference(root: Path) -> str:
    """The Markdown tables of the configuration reference for the checkout at ``root``."""
    src = str(root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)  # document this checkout's schema, not another installed copy
    from omegaconf import OmegaConf

    from lossmatch.cli import compose
    from lossmatch.config import CacheConfig, FeaturesConfig, PathsConfig, RunConfig, TrackingConfig, TrainerConfig

    conf = root / "conf"
    defaults = OmegaConf.to_container(compose(conf, "train", []), resolve=False)
    parts = [
        "## Top-level keys\n",
        _schema_table(RunConfig, defaults, "", conf / "train.yaml"),
    ]
    for section, model in (("trainer", TrainerConfig), ("tracking", TrackingConfig), ("paths", PathsConfig)):
        parts += [
            f"## `{section}`\n",
            f"{_first_line(model.__doc__)} Default file: `conf/{section}/{_default_option(conf, section)}.yaml`.\n",
            _schema_table(model, defaults[section], f"{section}.", conf / section / f"{_default_option(conf, section)}.yaml"),
        ]
    for section, model in (("features", FeaturesConfig), ("cache", CacheConfig)):  # sections of train.yaml itself
        parts += [
            f"## `{section}`\n",
            f"{_first_line(model.__doc__)} Set in `conf/train.yaml`.\n",
            _schema_table(model, defaults[section], f"{section}.", conf / "train.yaml"),
        ]
    for group in TARGET_GROUPS:
        parts.append(_group_section(conf, group, defaults))
    parts.append("## Overlays\n")
    for group in OVERLAY_GROUPS:
        parts.append(_overlay_table(conf, group))
    return "\n".join(parts)


# -- schema tables ------------------------------------------------------------------------------
def _schema_table(model, defaults: dict, prefix: str, yaml_file: Path) -> str:
    schema = model.model_json_schema()
    comments = yaml_comments(yaml_file) if yaml_file.is_file() else {}
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        prop = schema["properties"][name]
        if not prefix and _is_section(prop):
            continue  # a config group of its own (conf/<name>/), documented below
        meaning = field.description or _attribute_doc(model, name) or comments.get(name, "")
        kind = _type(prop, schema)
        if "dict[int" in str(field.annotation):
            kind = kind.replace("{str:", "{int:")  # JSON schema keys are strings; the schema takes ints
        rows.append(f"| `{prefix}{name}` | {kind} | {_value(defaults.get(name))} | {_cell(meaning)} |")
    return "\n".join(rows) + "\n"


def _attribute_doc(model, name: str) -> str:
    """The description of ``name`` in the "Attributes:" section of the model's docstring."""
    doc = (model.__doc__ or "").split("Attributes:", 1)
    match = re.search(rf"^\s+{name}:\s*(.+?)(?=^\s+\w+:|\Z)", doc[1], flags=re.MULTILINE | re.DOTALL) if len(doc) > 1 else None
    return " ".join(match[1].split()) if match else ""


def _is_section(prop: dict) -> bool:
    """A top-level field that is a config group: a nested model, or a free-form group (data, model...).

    Only asked at the top level: inside a section a free-form dict (``tracking.tags``) is a key.
    """
    if "$ref" in prop:
        return True
    return prop.get("type") == "object" and prop.get("additionalProperties") is True


_TYPES = {"integer": "int", "number": "float", "string": "str", "boolean": "bool", "null": "null"}
# JSON schema's names, and pydantic's own (what it writes for a Field(ge=...) inside Annotated).
_BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
           ("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _type(prop: dict, schema: dict) -> str:
    if "$ref" in prop:
        return _type(schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]], schema)
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " \\| ".join(_type(p, schema) for p in prop["anyOf"])
    kind = prop.get("type")
    if kind == "object":
        value = prop.get("additionalProperties")
        return f"`{{str: {_type(value, schema) if isinstance(value, dict) else 'any'}}}`"
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), schema)}"
    text = _TYPES.get(kind, "any")
    bounds = [f"{sign} {_number(prop[key])}" for key, sign in _BOUNDS if key in prop]
    if "minLength" in prop:
        bounds.append("not empty")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- YAML-defined groups ----------------------------------------------------------------------
def _group_section(conf: Path, group: str, defaults: dict) -> str:
    folder = conf / group
    chosen = _default_option(conf, group)
    lines = [
        f"## `{group}`\n",
        f"Options: {', '.join(f'`{group}={p.stem}`' for p in sorted(folder.glob('*.yaml')))}"
        f" (default `{chosen}`). Each builds `_target_` with the keys below; the schema checks them"
        " before anything is built.\n",
    ]
    for path in sorted(folder.glob("*.yaml")):
        lines.append(_option_table(path, group))
    return "\n".join(lines)


def _option_table(path: Path, group: str) -> str:
    text = path.read_text(encoding="utf-8")
    raw = _load_yaml(text) or {}
    comments = yaml_comments(path)
    head, usage = yaml_header(path)
    target = raw.get("_target_", "")
    out = [f"### `{group}={path.stem}`\n"]
    if group == "similarity":
        # A map reads best as the file itself, comments included.
        return "\n".join(out + ["```yaml", text.rstrip(), "```", ""])
    if head:
        out.append(_cell(head) + "\n")
    if usage:
        out += ["```bash", *usage, "```", ""]
    if target:
        # An autorefs link: the build fails if the API reference does not document the target.
        out.append(f"Builds [`{target}`][{target}] (its parameters are documented there).\n")
    rows = [(k, v) for k, v in raw.items() if not str(k).startswith("_")]
    if rows:
        out += ["| key | default | meaning |", "|---|---|---|"]
        for key, value in rows:
            out.append(f"| `{group}.{key}` | {_value(value)} | {_cell(comments.get(key, ''))} |")
        out.append("")
    return "\n".join(out)


def _overlay_table(conf: Path, group: str) -> str:
    rows = [f"### `{group}=<name>`\n", "| option | what it does |", "|---|---|"]
    for path in sorted((conf / group).glob("*.yaml")):
        head, usage = yaml_header(path)
        head = head.split(" Resumable")[0]  # the same sentence in every hparams_search file
        rows.append(f"| `{group}={path.stem}` | {_cell(head)}{''.join(f' `{u}`' for u in usage)} |")
    return "\n".join(rows) + "\n"


def _default_option(conf: Path, group: str) -> str:
    import yaml

    for entry in yaml.safe_load((conf / "train.yaml").read_text(encoding="utf-8"))["defaults"]:
        if isinstance(entry, dict) and group in entry:
            return str(entry[group])
    return ""


_KEY = re.compile(r"^([A-Za-z_][\w]*):(.*)$")


def yaml_comments(path: Path) -> dict[str, str]:
    """Top-level key -> the comment beside it, or else the comment lines right above it."""
    comments: dict[str, str] = {}
    above: list[str] = []
    header = True  # the comment block a file starts with describes the file, not its first key
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match:
            key, rest = match.groups()
            inline = rest.split(" #", 1)[1].strip() if " #" in rest else ""
            comments[key] = inline or ("" if header else " ".join(a for a in above if a))
            header = False
        if stripped or match:
            above = []
    return comments


def yaml_header(path: Path) -> tuple[str, list[str]]:
    """The comment lines a YAML file starts with: its description, and the command lines among them."""
    lines, usage = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("# @package"):
            continue
        if not stripped.startswith("#"):
            break
        text = stripped.lstrip("#").strip()
        (usage if text.startswith("python ") else lines).append(text)
    return " ".join(lines).rstrip(":").removesuffix(", e.g.").removesuffix(" e.g."), usage


def _load_yaml(text: str):
    """YAML as Hydra reads it for display, except that ``on:`` stays a key (YAML 1.1 makes it true)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return yaml.load(text, Loader=Loader)


# -- formatting -------------------------------------------------------------------------------
def _value(value) -> str:
    import yaml

    if value is None:
        return "`null`"
    if isinstance(value, (dict, list)):
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return f"`{text}`".replace("|", "\\|")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("``", "`").replace("|", "\\|")


def _first_line(doc: str | None) -> str:
    """The first paragraph of a docstring, in Markdown."""
    return " ".join((doc or "").strip().split("\n\n")[0].split()).replace("``", "`")
