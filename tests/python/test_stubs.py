"""python/shmkit/__init__.pyi against the module itself: every public name
is in the stub, with the bindings' parameter names, and has a docstring that
says more than its signature (so help(shmkit.X) reads as a manual)."""

import ast
import inspect
import re
import types
from pathlib import Path

import pytest

import shmkit
import shmkit.compat

STUB = Path(shmkit.__file__).with_name("__init__.pyi")
# pybind11 adds these to every class; they are Python's, not shmkit's API.
INHERITED = {"__init__", "__new__", "__repr__", "__module__", "__doc__", "__dict__", "__weakref__"}


def stub():
    return ast.parse(STUB.read_text(), filename=str(STUB))


def stub_names(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
    return names


def public_names():
    return sorted(n for n in dir(shmkit) if not n.startswith("_") and not isinstance(getattr(shmkit, n), types.ModuleType))


def doc_text(obj):
    """The docstring without pybind11's signature lines."""
    doc = inspect.getdoc(obj) or ""
    return "\n".join(line for line in doc.splitlines() if not re.match(r"^\w+\(.*\)( -> .*)?$", line)).strip()


def binding_parameters(function):
    """Parameter names from a pybind11 signature line, or from the text
    signature of a method written against the C API (ArrayLock's); None for
    overloads."""
    doc = function.__doc__ or ""
    match = re.match(r"^\w+\((.*?)\)( -> .*)?$", doc.splitlines()[0] if doc else "")
    if not match and getattr(function, "__text_signature__", None):
        return [p for p in inspect.signature(function).parameters if p != "self"]
    if not match or "Overloaded function" in doc:
        return None
    names = []
    depth = 0
    current = ""
    for ch in match.group(1) + ",":
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            part = current.strip()
            if part and part not in ("*", "/"):
                names.append(part.split(":")[0].split("=")[0].strip().lstrip("*"))
            current = ""
        else:
            current += ch
    return names


def stub_parameters(node):
    args = node.args
    return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs] + (
        [args.vararg.arg] if args.vararg else []) + ([args.kwarg.arg] if args.kwarg else [])


def test_every_public_name_is_in_the_stub_and_nothing_else():
    names = stub_names(stub())
    public = set(public_names())
    missing = public - set(names)
    assert not missing, f"in shmkit but not in {STUB.name}: {sorted(missing)}"
    extra = {n for n in names if not n.startswith("_")} - public
    assert not extra, f"in {STUB.name} but not in shmkit: {sorted(extra)}"


@pytest.mark.parametrize("name", public_names())
def test_docstrings(name):
    obj = getattr(shmkit, name)
    if isinstance(obj, str):
        return
    assert doc_text(obj), f"shmkit.{name} has no docstring"
    if isinstance(obj, type) and not issubclass(obj, BaseException):
        for member, value in vars(obj).items():
            if member.startswith("_") and member not in ("__enter__", "__exit__", "__iter__", "__next__",
                                                         "__getitem__", "__setitem__", "__delitem__",
                                                         "__contains__", "__len__"):
                continue
            assert doc_text(value), f"shmkit.{name}.{member} has no docstring"


@pytest.mark.parametrize("name", [n for n in public_names() if isinstance(getattr(shmkit, n), type)])
def test_class_members_and_parameters_match(name):
    cls = getattr(shmkit, name)
    node = stub_names(stub())[name]
    assert isinstance(node, ast.ClassDef), f"{name} is a class in shmkit but not in the stub"
    in_stub = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            in_stub.setdefault(item.name, item)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            in_stub[item.target.id] = item
    if issubclass(cls, BaseException):
        return
    real = {m for m in vars(cls) if m not in INHERITED and not (m.startswith("_") and not m.startswith("__"))
            and m not in ("__getstate__", "__setstate__", "__hash__", "__eq__", "__ne__")}
    missing = real - set(in_stub)
    assert not missing, f"shmkit.{name} members missing from the stub: {sorted(missing)}"
    extra = {m for m in in_stub if m not in ("__init__",)} - real
    assert not extra, f"stub members of {name} that shmkit.{name} lacks: {sorted(extra)}"
    for member, item in in_stub.items():
        value = vars(cls).get(member)
        if not isinstance(item, ast.FunctionDef) or value is None:
            continue
        function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        expected = binding_parameters(function)
        if expected is None:
            continue
        got = stub_parameters(item)
        if got and got[0] in ("self", "cls") and (not expected or expected[0] != "self"):
            got = got[1:]
        assert got == expected, f"shmkit.{name}.{member}: stub parameters {got}, binding {expected}"
    init = vars(cls).get("__init__")
    if init is not None and "__init__" in in_stub and binding_parameters(init) is not None:
        assert stub_parameters(in_stub["__init__"]) == binding_parameters(init), f"shmkit.{name}.__init__"


@pytest.mark.parametrize("name", [n for n in public_names() if callable(getattr(shmkit, n))
                                  and not isinstance(getattr(shmkit, n), type)])
def test_function_parameters_match(name):
    node = stub_names(stub())[name]
    assert isinstance(node, ast.FunctionDef)
    expected = binding_parameters(getattr(shmkit, name))
    assert expected is not None and stub_parameters(node) == expected


def test_the_stub_catches_a_wrong_parameter_name():
    # The checks above are only as good as the signature parsing: a renamed
    # parameter must be noticed.
    good = binding_parameters(shmkit.SharedArray.create)
    assert good and good[0] == "name"
    node = ast.parse("def create(nam: str) -> None: ...").body[0]
    assert stub_parameters(node) != good


def test_compat_is_typed_inline():
    # shmkit.compat is pure Python: its annotations are its stub (py.typed).
    for name in shmkit.compat.__all__:
        obj = getattr(shmkit.compat, name)
        assert inspect.getdoc(obj), f"shmkit.compat.{name} has no docstring"
    assert (Path(shmkit.__file__).parent / "py.typed").is_file()
