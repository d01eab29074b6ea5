"""Sphinx directives that generate the model and experiment pages from the package
itself, so that the documentation cannot drift from the files it describes.

Directives (all arguments are names as the package knows them):

``neuron-header NAME``
    file, kind, source, description, header options and the leading comment of
    ``models/neurons/NAME.toml``, read through :func:`dendritic.neurons.load_neuron`.
``neuron-parameters NAME``
    the parameter tables of that file: name, value and unit (the loader's value,
    expressed in the unit the file writes), meaning (the kind's schema) and the
    file's comment; one table per commented group of the ``[parameters]`` table.
``neuron-equations NAME``
    the Brian equations the model generates (parameter declarations left out), with
    its threshold and reset.
``dendritic-tests``
    the test files given as content (one path per line, relative to the repository;
    a missing file is a warning), each with the first paragraph of its docstring;
    ``:mentions: WORD`` also lists every other test file that contains ``"WORD"``.
``dendritic-experiment NAME``
    the command, the one-line help, the module and the experiment's own options (with
    defaults) of ``dendritic run NAME``.
``readme-commands REGEX``
    the command lines of README.md (in code blocks) that match REGEX.
``measured-here``
    the rows of README.md's "Measured here" table whose command (``:command:``) or
    "what" column (``:what:``) match a regular expression.
``dendritic-automodules MODULE``
    ``automodule`` of MODULE and of each of its submodules (a package's re-exported
    names are documented once, at the package).

And the role ``:doi:`10.xxxx/...``` (a link to https://doi.org/).

At the end of reading, every neuron file in ``models/neurons/`` must have had a
``neuron-parameters`` table and every experiment of ``dendritic list`` a
``dendritic-experiment`` page, or the build warns (and fails under ``-W``).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


# ---------------------------------------------------------------------------------------
# small node builders

def _inline(text: str) -> list[nodes.Node]:
    """Plain text with inline code (Markdown's single or reStructuredText's double
    backticks) and **bold** as docutils nodes."""
    out: list[nodes.Node] = []
    for part in re.split(r"(``.+?``|`[^`]+`|\*\*[^*]+\*\*)", text):
        if not part:
            continue
        if part.startswith("``") and part.endswith("``") and len(part) > 4:
            out.append(nodes.literal(part[2:-2], part[2:-2]))
        elif part.startswith("`") and part.endswith("`"):
            out.append(nodes.literal(part[1:-1], part[1:-1]))
        elif part.startswith("**") and part.endswith("**"):
            out.append(nodes.strong(part[2:-2], "", *_inline(part[2:-2])))
        else:
            out.append(nodes.Text(part))
    return out


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph("", "", *_inline(text))


def _block(content) -> nodes.Element:
    """A paragraph for text or inline nodes; block nodes as they are."""
    if isinstance(content, nodes.Node):
        if isinstance(content, (nodes.Inline, nodes.Text)):
            return nodes.paragraph("", "", content)
        return content
    return _paragraph(str(content))


def _cell(content) -> nodes.entry:
    entry = nodes.entry()
    entry += _block(content)
    return entry


def _table(header: list[str], rows: list[list], caption: str | None = None, widths=None,
           classes=("dendritic-table",)) -> nodes.table:
    table = nodes.table(classes=list(classes))
    if caption:
        table += nodes.title(caption, caption)
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths or [1] * len(header):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for text in header:
        row += _cell(text)
    head += row
    body = nodes.tbody()
    group += body
    for values in rows:
        row = nodes.row()
        for value in values:
            row += _cell(value)
        body += row
    return table


def _field_list(items: list[tuple[str, object]]) -> nodes.field_list:
    fields = nodes.field_list()
    for name, value in items:
        field = nodes.field()
        field += nodes.field_name(name, name)
        body = nodes.field_body()
        body += _block(value)
        field += body
        fields += field
    return fields


def _relative(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _first_paragraph(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n")[0].split())


def doi_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    doi = text.strip()
    node = nodes.reference(rawtext, f"doi:{doi}", refuri=f"https://doi.org/{doi}")
    return [node], []


# ---------------------------------------------------------------------------------------
# neuron files

def _toml_comment(line: str) -> tuple[str, str | None]:
    """(code, comment) of one TOML line: the comment starts at a '#' outside strings."""
    quote = None
    for k, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:k], line[k + 1:].strip()
    return line, None


def parameter_groups(path: Path) -> list[tuple[str | None, list[tuple[str, str, str]]]]:
    """The ``[parameters]`` table of a neuron file as groups: (caption from the comment
    lines before them or None, [(name, written value, comment)])."""
    groups: list[tuple[str | None, list]] = []
    caption_lines: list[str] = []
    in_parameters = False
    for raw in path.read_text().splitlines():
        code, comment = _toml_comment(raw)
        code = code.strip()
        if code.startswith("["):
            in_parameters = code == "[parameters]"
            caption_lines = []
            continue
        if not in_parameters:
            continue
        if not code:
            if comment is not None:
                caption_lines.append(comment)
            continue
        key, _, value = code.partition("=")
        if caption_lines or not groups:
            groups.append((" ".join(caption_lines) or None, []))
            caption_lines = []
        groups[-1][1].append((key.strip(), value.strip().strip("\"'"), comment or ""))
    return groups


def leading_comment(path: Path) -> str:
    lines = []
    for raw in path.read_text().splitlines():
        if not raw.startswith("#"):
            break
        lines.append(raw[1:].strip())
    return " ".join(lines)


def _format_number(value: float) -> str:
    return f"{value:.6g}"


def value_and_unit(loaded, written: str) -> tuple[str, str]:
    """The loader's value in the unit the file writes: ``(600 nS loaded, "600 nS")`` ->
    ``("600", "nS")``; dimensionless values get the unit ``1``."""
    from dendritic import config as cfg

    match = re.match(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\s*/\s*[-+]?(?:\d+\.?\d*|\.\d+)"
                     r"(?:[eE][-+]?\d+)?)?)\s*(.*?)\s*$", written)
    unit_text = match.group(2) if match else ""
    if unit_text:
        unit = cfg.parse_quantity("1 " + unit_text)
        return _format_number(float(loaded / unit)), unit_text
    return _format_number(float(loaded)), "1"


def _load(name):
    from dendritic.neurons import load_neuron

    return load_neuron(name)


class _NeuronDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def model(self):
        model = _load(self.arguments[0])
        self.env.note_dependency(str(model.file))
        return model


class NeuronHeader(_NeuronDirective):
    def run(self):
        model = self.model()
        spec = model.spec
        items = [("file", nodes.literal("", _relative(model.file))),
                 ("kind", nodes.literal("", model.kind)),
                 ("source", model.source)]
        if model.description:
            items.append(("description", model.description))
        result = [_field_list(items)]
        if spec.header:
            rows = [[nodes.literal("", key), nodes.literal("", repr(model.options[key])),
                     "yes" if key in _raw_header(model.file) else "no (the kind's default)",
                     field.doc or ""] for key, field in spec.header.items()]
            result.append(_table(["option", "value", "set in the file", "meaning"], rows,
                                 caption="header options", widths=[2, 2, 2, 6]))
        comment = leading_comment(model.file)
        if comment:
            result.append(nodes.block_quote("", _paragraph(comment)))
        return result


def _raw_header(path):
    import tomllib

    return tomllib.loads(Path(path).read_text())


class NeuronParameters(_NeuronDirective):
    def run(self):
        model = self.model()
        schema = model.spec.parameter_schema(model.options)
        self.env.dendritic_parameter_tables = getattr(self.env, "dendritic_parameter_tables", {})
        self.env.dendritic_parameter_tables[Path(model.file).stem] = self.env.docname
        tables, seen = [], set()
        for caption, entries in parameter_groups(Path(model.file)):
            rows = []
            for key, written, comment in entries:
                if key not in model.parameters:
                    raise self.error(f"{model.file}: parameter {key!r} is in the file but not in what "
                                     f"load_neuron returns")
                value, unit = value_and_unit(model.parameters[key], written)
                field = schema.get(key)
                rows.append([nodes.literal("", key), value, unit, getattr(field, "doc", "") or "", comment])
                seen.add(key)
            tables.append(_table(["name", "value", "unit", "meaning", "comment in the file"], rows,
                                 caption=caption or "parameters", widths=[2, 2, 1, 5, 6],
                                 classes=("dendritic-table", "parameter-table")))
        # values the loader supplies that the file does not write (schema defaults)
        rows = []
        for key in model.parameters:
            if key not in seen:
                field = schema.get(key)
                default = getattr(field, "default", None)
                value, unit = value_and_unit(model.parameters[key], default if isinstance(default, str) else "")
                rows.append([nodes.literal("", key), value, unit, getattr(field, "doc", "") or "",
                             "not in the file: the kind's default"])
        if rows:
            tables.append(_table(["name", "value", "unit", "meaning", "comment"], rows,
                                 caption="defaults of the kind", widths=[2, 2, 1, 5, 6],
                                 classes=("dendritic-table", "parameter-table")))
        return tables


class NeuronEquations(_NeuronDirective):
    def run(self):
        model = self.model()
        lines = [line for line in str(model.equations()).splitlines() if "(shared, constant)" not in line]
        # the group of one neuron, for what the NeuronGroup adds: events, reset, refractoriness
        group = model.make_group(1)
        lines += ["", f"# integration: {group.state_updater.method_choice}"]
        for event, condition in group.events.items():
            lines += [f"# event {event!r} when: {condition}"]
            code = group.event_codes.get(event)
            if code:
                lines += [f"#   then:", *(f"#     {line}" for line in code.splitlines())]
        if group._refractory is not False:
            lines.append(f"# refractory: {group._refractory}")
        text = "\n".join(lines)
        return [nodes.literal_block(text, text, language="text")]


# ---------------------------------------------------------------------------------------
# tests

def _docstring(path: Path) -> str:
    try:
        return ast.get_docstring(ast.parse(path.read_text())) or ""
    except SyntaxError:
        return ""


class DendriticTests(SphinxDirective):
    has_content = True
    option_spec = {"mentions": directives.unchanged}

    def run(self):
        listed = []
        for line in self.content:
            line = line.strip()
            if not line:
                continue
            path = ROOT / line
            if not path.is_file():
                logger.warning(f"dendritic-tests: no test file {line}", location=self.get_location())
                continue
            listed.append(path)
        items = nodes.bullet_list()
        for path in listed:
            self.env.note_dependency(str(path))
            items += self._item(path)
        result = [items]
        words = [w.strip() for w in self.options.get("mentions", "").split(",") if w.strip()]
        if words:
            others = []
            for path in sorted((ROOT / "tests").rglob("*.py")):
                if path in listed:
                    continue
                text = path.read_text()
                if any(f'"{w}"' in text or f"'{w}'" in text or f"{w}.toml" in text for w in words):
                    others.append(path)
            if others:
                para = nodes.paragraph("", "Other tests that use it: ")
                for k, path in enumerate(others):
                    if k:
                        para += nodes.Text(", ")
                    para += nodes.literal("", _relative(path))
                para += nodes.Text(".")
                result.append(para)
        return result

    @staticmethod
    def _item(path):
        item = nodes.list_item()
        para = nodes.paragraph("", "", nodes.literal("", _relative(path)))
        summary = _first_paragraph(_docstring(path))
        if summary:
            para += nodes.Text(": ")
            para.extend(_inline(summary))
        item += para
        return item


# ---------------------------------------------------------------------------------------
# experiments and the README

def _experiments():
    from dendritic.experiments import available

    return available()


def _expand_help(action, prog):
    if not action.help:
        return ""
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    params["prog"] = prog
    for key in ("choices",):
        if params.get(key) is not None:
            params[key] = ", ".join(map(str, params[key]))
    try:
        return action.help % params
    except (KeyError, TypeError, ValueError):
        return action.help


class DendriticExperiment(SphinxDirective):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        modules = _experiments()
        if name not in modules:
            raise self.error(f"no experiment {name!r}; dendritic list has {sorted(modules)}")
        module = modules[name]
        self.env.note_dependency(module.__file__)
        self.env.dendritic_experiment_pages = getattr(self.env, "dendritic_experiment_pages", {})
        self.env.dendritic_experiment_pages[name] = self.env.docname
        parser = argparse.ArgumentParser(prog=f"dendritic run {name}", add_help=False)
        module.add_arguments(parser)
        items = [("command", nodes.literal("", f"dendritic run {name}")),
                 ("what it does", module.HELP),
                 ("module", nodes.literal("", f"{module.__name__} ({_relative(Path(module.__file__))})"))]
        if getattr(module, "RUN_TIME", None):
            items.append(("default run's wall time", module.RUN_TIME))
        items.append(("uses Brian", "yes" if getattr(module, "BRIAN", True) else "no (NumPy only, no --target)"))
        config = next((a.default for a in parser._actions if "--config" in a.option_strings), None)
        if config:
            from dendritic import config as cfg

            for folder in ("experiments", "networks"):
                try:
                    path = cfg.resolve_model_file(config, folder)
                except Exception:  # noqa: BLE001 - any failure: try the next folder
                    continue
                self.env.note_dependency(str(path))
                items.append(("default file", nodes.literal("", _relative(path))))
                break
        rows = []
        for action in parser._actions:
            if not action.option_strings:
                continue
            default = action.default
            rows.append([nodes.literal("", ", ".join(action.option_strings)),
                         "" if default in (None, argparse.SUPPRESS) else str(default),
                         _expand_help(action, parser.prog)])
        result = [_field_list(items)]
        if rows:
            result.append(_table(["option", "default", "help"], rows, caption=f"options of dendritic run {name} "
                                 "(besides the common ones)", widths=[3, 2, 8]))
        return result


def _readme_command_lines() -> list[str]:
    lines, fence = [], False
    for raw in README.read_text().splitlines():
        if raw.strip().startswith("```"):
            fence = not fence
            continue
        if fence or raw.startswith("    "):
            line = raw.strip()
            if line.startswith(("dendritic ", "python ", "DENDRITIC_")):
                lines.append(line)
    return lines


class ReadmeCommands(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        self.env.note_dependency(str(README))
        pattern = re.compile(self.arguments[0])
        lines = [line for line in _readme_command_lines() if pattern.search(line)]
        if not lines:
            logger.warning(f"readme-commands: no command in README.md matches {self.arguments[0]!r}",
                           location=self.get_location())
            return []
        text = "\n".join(lines)
        return [nodes.literal_block(text, text, language="bash")]


def measured_rows() -> list[dict]:
    """The rows of README.md's "Measured here" table as {what, command, result}."""
    text = README.read_text()
    section = text.split("## Measured here", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 3 or cells[0] == "what":
            continue
        rows.append(dict(zip(("what", "command", "result"), cells)))
    return rows


class MeasuredHere(SphinxDirective):
    option_spec = {"command": directives.unchanged, "what": directives.unchanged}

    def run(self):
        self.env.note_dependency(str(README))
        command = re.compile(self.options["command"]) if "command" in self.options else None
        what = re.compile(self.options["what"]) if "what" in self.options else None
        rows = [row for row in measured_rows()
                if (command and command.search(row["command"])) or (what and what.search(row["what"]))]
        if not rows:
            logger.warning("measured-here: no row of README.md's Measured here table matches",
                           location=self.get_location())
            return []
        items = nodes.bullet_list()
        for row in rows:
            item = nodes.list_item()
            head = nodes.paragraph("", "", nodes.strong("", "", *_inline(row["what"])))
            head += nodes.Text(" — ")
            head.extend(_inline(row["command"]))
            item += head
            item += _paragraph(row["result"])
            items += item
        return [items]


# ---------------------------------------------------------------------------------------
# tables of Python objects: a schema (key -> dendritic.config field) and presets

def _object(env, path: str):
    """The object at a dotted path; the page is rebuilt when its module changes."""
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    env.note_dependency(module.__file__)
    return getattr(module, name)


def _unit_name(unit) -> str:
    if unit is None:
        return ""
    text = str(unit)
    return "1" if text in ("1", "Unit(1)") else text


class SchemaTable(SphinxDirective):
    """``schema-table dotted.path.TO_SCHEMA``: key, kind, default, unit, meaning."""
    required_arguments = 1

    def run(self):
        schema = _object(self.env, self.arguments[0])
        rows = []
        for key, field in schema.items():
            default = getattr(field, "default", None)
            required = default is None or type(default).__name__ == "object"
            options = getattr(field, "options", None)
            meaning = field.doc or ""
            if options:
                meaning += f" (one of: {', '.join(map(str, options))})"
            rows.append([nodes.literal("", key), type(field).__name__.lower(),
                         "required" if required else str(default), _unit_name(getattr(field, "unit", None)), meaning])
        return [_table(["key", "kind", "default", "unit", "meaning"], rows,
                       caption=f"{self.arguments[0]}", widths=[2, 1, 2, 1, 6])]


class PresetsTable(SphinxDirective):
    """``presets-table dotted.path.TO_PRESETS``: a mapping name -> {key: value}."""
    required_arguments = 1

    def run(self):
        presets = _object(self.env, self.arguments[0])
        keys = list(dict.fromkeys(k for values in presets.values() for k in values))
        rows = [[nodes.literal("", name), *(str(values.get(k, "")) for k in keys)] for name, values in presets.items()]
        return [_table(["preset", *keys], rows, caption=self.arguments[0])]


# ---------------------------------------------------------------------------------------
# API

class DendriticAutomodules(SphinxDirective):
    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        package = importlib.import_module(name)
        exported = {}
        for key in getattr(package, "__all__", []):
            obj = getattr(package, key, None)
            if obj is not None:
                exported[id(obj)] = key
        lines = [f".. automodule:: {name}", "   :members:", ""]
        for info in sorted(pkgutil.iter_modules(getattr(package, "__path__", [])), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            full = f"{name}.{info.name}"
            module = importlib.import_module(full)
            here = [key for key, obj in vars(module).items()
                    if id(obj) in exported and getattr(obj, "__module__", None) == full]
            aliases = self.env.__dict__.setdefault("dendritic_aliases", {})
            for key in here:
                aliases[f"{full}.{key}"] = (f"{name}.{exported[id(vars(module)[key])]}", self.env.docname)
            lines += [full, "-" * len(full), "", f".. automodule:: {full}", "   :members:"]
            if here:
                lines.append(f"   :exclude-members: {', '.join(sorted(here))}")
                lines += ["", f"   (Documented at :mod:`{name}`: {', '.join(f'``{k}``' for k in sorted(here))}.)"]
            lines.append("")
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"<dendritic-automodules {name}>"), node)
        return node.children


# ---------------------------------------------------------------------------------------
# docstrings shown verbatim until fixed (conf.py: pending_docstring_fixes)

def _resolve(dotted: str):
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attribute in parts[k:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(dotted)


def _pending_objects(app) -> dict:
    cache = getattr(app, "_dendritic_pending", None)
    if cache is None:
        cache = {}
        for dotted in app.config.pending_docstring_fixes:
            try:
                cache[id(_resolve(dotted))] = dotted
            except (ImportError, AttributeError):
                logger.warning(f"pending_docstring_fixes: no object {dotted}")
        app._dendritic_pending = cache
    return cache


def _verbatim_docstring(app, what, name, obj, options, lines):
    if id(obj) not in _pending_objects(app) or not lines:
        return
    text = list(lines)
    lines[:] = ["::", ""] + [f"    {line}" if line.strip() else "" for line in text] + [""]


# ---------------------------------------------------------------------------------------
# completeness: every neuron file and every experiment has its page

def _check_complete(app, env):
    from dendritic import config as cfg

    tables = getattr(env, "dendritic_parameter_tables", {})
    for path in sorted((cfg.MODELS_DIR / "neurons").glob("*.toml")):
        if path.stem not in tables:
            logger.warning(f"models/neurons/{path.name} has no page with a neuron-parameters table")
    pages = getattr(env, "dendritic_experiment_pages", {})
    for name in _experiments():
        if name not in pages:
            logger.warning(f"experiment {name!r} (dendritic list) has no page with a dendritic-experiment directive")


def _resolve_alias(app, env, node, contnode):
    """A reference to a re-exported object under its defining module
    (``dendritic.neurons.model.load_neuron``) resolves to where it is documented, the
    package (``dendritic.neurons.load_neuron``)."""
    if node.get("refdomain") != "py":
        return None
    alias = getattr(env, "dendritic_aliases", {}).get(node.get("reftarget"))
    if alias is None:
        return None
    domain = env.get_domain("py")
    node = node.deepcopy()
    node["reftarget"] = alias[0]
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], alias[0], node, contnode)


def _purge(app, env, docname):
    for attribute in ("dendritic_parameter_tables", "dendritic_experiment_pages"):
        table = getattr(env, attribute, {})
        for key in [k for k, v in table.items() if v == docname]:
            del table[key]
    aliases = getattr(env, "dendritic_aliases", {})
    for key in [k for k, v in aliases.items() if v[1] == docname]:
        del aliases[key]


def _merge(app, env, docnames, other):
    aliases = env.__dict__.setdefault("dendritic_aliases", {})
    aliases.update(getattr(other, "dendritic_aliases", {}))
    for attribute in ("dendritic_parameter_tables", "dendritic_experiment_pages"):
        table = getattr(env, attribute, {})
        table.update(getattr(other, attribute, {}))
        setattr(env, attribute, table)


def setup(app):
    # the one-neuron groups of neuron-equations are never run: Brian need not say so
    from brian2.utils.logger import BrianLogger

    BrianLogger.suppress_name("unused_brian_object")
    app.add_role("doi", doi_role)
    app.add_directive("neuron-header", NeuronHeader)
    app.add_directive("neuron-parameters", NeuronParameters)
    app.add_directive("neuron-equations", NeuronEquations)
    app.add_directive("dendritic-tests", DendriticTests)
    app.add_directive("dendritic-experiment", DendriticExperiment)
    app.add_directive("readme-commands", ReadmeCommands)
    app.add_directive("measured-here", MeasuredHere)
    app.add_directive("dendritic-automodules", DendriticAutomodules)
    app.add_directive("schema-table", SchemaTable)
    app.add_directive("presets-table", PresetsTable)
    app.add_config_value("pending_docstring_fixes", [], "env")
    app.connect("autodoc-process-docstring", _verbatim_docstring, priority=600)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check_complete)
    app.connect("missing-reference", _resolve_alias)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
