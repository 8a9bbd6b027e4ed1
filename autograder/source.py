"""Rules read from the student's source on the trusted side: "write it yourself, don't call the built-in", and
"evaluate without gradients".

Some exercises ask students to write what torch already has (a linear layer, an activation). Whether
their function calls the built-in is read here, from the notebook's code cells, with :mod:`ast`: the
function's own definition and every function or class of the student's that it uses, followed through
the student's source. A run-time trace in the kernel can add evidence (it finds calls the reading missed)
but never clears a function the reading flagged, and the reading cannot be fooled by what the kernel
says. Code the reading cannot follow (a name built at run time: ``getattr`` with a computed name,
``eval``, ``exec``, ``__import__``, ``globals()[...]``) fails the rule: a plain function has no need of it.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

DYNAMIC_CALLS = frozenset({"eval", "exec", "compile", "__import__", "globals", "vars", "locals", "import_module",
                           "getattr", "__getattribute__", "attrgetter", "methodcaller"})
DYNAMIC_ATTRIBUTES = frozenset({"__dict__", "__getattribute__", "__globals__", "__builtins__"})


@dataclass
class Reading:
    """What the definitions reached from one name refer to."""

    found: bool = False
    names: set = field(default_factory=set)  # bare names used, after import aliases
    attributes: set = field(default_factory=set)  # attribute names used: x.relu, F.linear -> relu, linear
    dynamic: list = field(default_factory=list)  # lines that look names up at run time


def python_source(source: str) -> str:
    """A notebook cell as plain Python: IPython-only lines (magics, shell escapes) become ``pass`` at their own
    indentation (blocks stay valid), and a cell magic's first line is dropped."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in lines)


def parse_cells(cells) -> list[ast.Module]:
    """The syntax tree of each ``(name, source)`` cell that parses (one that does not is left out)."""
    trees = []
    for _, source in cells:
        try:
            trees.append(ast.parse(python_source(source)))
        except SyntaxError:
            continue
    return trees


def definitions(cells) -> dict[str, ast.AST]:
    """The student's top-level functions and classes (and ``name = lambda ...``) by name; later ones win."""
    found: dict[str, ast.AST] = {}
    for tree in parse_cells(cells):
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found[node.name] = node
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = node
    return found


def import_aliases(cells) -> dict[str, str]:
    """Names bound by imports anywhere in the notebook: alias -> the imported name's last part."""
    aliases = {}
    for tree in parse_cells(cells):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
    return aliases


def reachable(defs: dict[str, ast.AST], name: str, stop_at: set | frozenset = frozenset()):
    """``name``'s definition, then each student function or class it refers to, and those they refer to (each
    once; those in ``stop_at`` are not followed)."""
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen or current not in defs:
            continue
        seen.add(current)
        yield defs[current]
        todo += [node.id for node in ast.walk(defs[current])
                 if isinstance(node, ast.Name) and node.id in defs and node.id not in stop_at]


def read(cells, name: str, stop_at: set | frozenset = frozenset()) -> Reading:
    """What ``name``'s definition refers to, with every student function or class it uses (but those in
    ``stop_at``, judged on their own) followed."""
    defs = definitions(cells)
    aliases = import_aliases(cells)
    reading = Reading(found=name in defs)
    for definition in reachable(defs, name, stop_at):
        for node in ast.walk(definition):
            if isinstance(node, ast.Name):
                reading.names.add(aliases.get(node.id, node.id))
                if node.id in DYNAMIC_CALLS:
                    reading.dynamic.append(f"line {node.lineno}: {node.id}")
            elif isinstance(node, ast.Attribute):
                reading.attributes.add(node.attr)
                if node.attr in DYNAMIC_ATTRIBUTES or node.attr in DYNAMIC_CALLS:
                    reading.dynamic.append(f"line {node.lineno}: .{node.attr}")
    return reading


def calls_builtin(cells, name: str, builtins: set, stop_at: set | frozenset = frozenset()) -> list[str]:
    """Which of torch's ``builtins`` (names such as ``linear``, ``Linear``, ``relu``) the student's ``name`` uses,
    by attribute (``F.linear``, ``x.relu()``, ``nn.Linear``) or by an imported name; ``["a name looked up at run
    time (...)"]`` when its source builds names the reading cannot follow."""
    reading = read(cells, name, stop_at)
    used = sorted((reading.attributes & set(builtins)) | {n for n in reading.names if n in builtins
                                                         and n in set(import_aliases(cells).values())})
    if reading.dynamic:
        used.append(f"a name looked up at run time ({reading.dynamic[0]})")
    return used


# ------------------------------------------------------------------ running without gradients (part 5's evaluate)
NO_GRAD = frozenset({"no_grad", "inference_mode"})


def _turns_gradients_off(node: ast.AST, aliases: dict) -> bool:
    """``torch.no_grad()``, ``torch.inference_mode()``, ``torch.set_grad_enabled(False)`` (or the bare class, as a
    decorator), by attribute or by an imported name."""
    target = node.func if isinstance(node, ast.Call) else node
    name = (target.attr if isinstance(target, ast.Attribute) else
            aliases.get(target.id, target.id) if isinstance(target, ast.Name) else "")
    if name in NO_GRAD:
        return True
    return (name == "set_grad_enabled" and isinstance(node, ast.Call) and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant) and node.args[0].value is False)


def _first_parameter(definition: ast.AST) -> str | None:
    args = getattr(definition, "args", None) or getattr(getattr(definition, "value", None), "args", None)
    names = [a.arg for a in (args.posonlyargs + args.args)] if args is not None else []
    return names[0] if names else None


def _runs_model(nodes, model: str | None) -> bool:
    """Whether statements call the model (``model(x)``) or hand it on (``helper(model, ...)``); with no model
    parameter to follow, whether they call anything."""
    for stmt in nodes:
        for node in ast.walk(stmt):
            if not isinstance(node, ast.Call):
                continue
            if model is None:
                return True
            if isinstance(node.func, ast.Name) and node.func.id == model:
                return True
            if any(isinstance(a, ast.Name) and a.id == model for a in list(node.args) + [k.value for k in
                                                                                        node.keywords]):
                return True
    return False


def runs_without_gradients(cells, name: str) -> bool:
    """Whether the student's ``name``, or a function of theirs it uses, runs its model inside a
    ``with torch.no_grad():`` (or ``inference_mode``) block, or is decorated so: read from the source, which the
    kernel cannot change. (The Recorder's recording may still fail a function that passes this reading.)"""
    aliases = import_aliases(cells)
    for definition in reachable(definitions(cells), name):
        model = _first_parameter(definition)
        functions = [definition] + [n for n in ast.walk(definition) if n is not definition and
                                    isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for function in functions:
            if any(_turns_gradients_off(d, aliases) for d in getattr(function, "decorator_list", [])) and \
                    _runs_model(function.body, _first_parameter(function)):
                return True
        for node in ast.walk(definition):
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                    _turns_gradients_off(item.context_expr, aliases) for item in node.items) and \
                    _runs_model(node.body, model):
                return True
    return False
