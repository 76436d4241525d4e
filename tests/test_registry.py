"""The env registry: registration rules, lazy entry-point discovery, broken plugins, and every message it can print."""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

import agentgym
from agentgym import registry as registry_module
from agentgym.envs.arith import ArithEnv
from agentgym.errors import (
    AgentGymError,
    EnvConstructionError,
    PluginLoadError,
    RegistrationError,
    UnregisteredEnv,
)
from agentgym.registry import ENTRY_POINT_GROUP, Registry

ARITH = "agentgym.envs.arith:ArithEnv"
LIST_HINT = (
    "Run `agentgym envs list` to see them with their sources; an env from a plugin needs that plugin installed "
    "(`pip install <plugin>`)."
)


def exactly(message: str) -> str:
    """A `match=` pattern for the whole message, nothing more or less."""
    return "^" + re.escape(message) + "$"


def entry_point(name: str, value: str, dist: str | None = "pkg-a", version: str = "1.0") -> md.EntryPoint:
    """A real `importlib.metadata.EntryPoint`, attached to a fake distribution as `importlib.metadata` does."""
    ep = md.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    if dist is None:
        return ep
    return ep._for(SimpleNamespace(name=dist, version=version))  # what md.Distribution.entry_points does


@pytest.fixture
def plugins(monkeypatch):
    """Set the entry points a fresh Registry discovers; records how often discovery asked for them."""
    state = SimpleNamespace(entry_points=[], calls=[])

    def fake(group: str) -> list:
        state.calls.append(group)
        return list(state.entry_points)

    monkeypatch.setattr(registry_module, "_entry_points", fake)
    return state


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """Write throwaway plugin modules on sys.path; they are dropped from sys.modules afterwards."""
    written: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


class Dummy:
    """The smallest object `make` accepts as an env; records its kwargs."""

    name = "dummy"

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        raise NotImplementedError

    async def step(self, action):
        raise NotImplementedError

    async def close(self):
        return None


# --- register / make / list_envs -----------------------------------------------------------------------------------
def test_register_make_and_list_with_defaults_and_overrides(plugins):
    reg = Registry()
    spec = reg.register("dummy", Dummy, colour="red", size=1)
    assert spec.name == "dummy" and spec.source == "register()" and spec.error is None
    assert spec.defaults == {"colour": "red", "size": 1}
    env = reg.make("dummy", size=2, extra=True)
    assert isinstance(env, Dummy)
    assert env.kwargs == {"colour": "red", "size": 2, "extra": True}
    assert [s.name for s in reg.list_envs()] == ["dummy"]


def test_register_by_string_entry_point_builds_the_class(plugins):
    reg = Registry()
    reg.register("arith-hard", ARITH, difficulty=5)
    env = reg.make("arith-hard")
    assert isinstance(env, ArithEnv)
    assert env.difficulty == 5
    assert reg.load("arith-hard") is ArithEnv


def test_list_envs_is_sorted_and_includes_plugins(plugins):
    plugins.entry_points = [entry_point("zeta", ARITH), entry_point("alpha", ARITH, dist="pkg-b", version="2.3")]
    reg = Registry()
    reg.register("mid", Dummy)
    specs = reg.list_envs()
    assert [s.name for s in specs] == ["alpha", "mid", "zeta"]
    assert [s.source for s in specs] == ["plugin pkg-b 2.3", "register()", "plugin pkg-a 1.0"]
    assert specs[1].entry_point_str == f"{__name__}:Dummy"


def test_plugin_without_a_distribution_is_still_registered(plugins):
    plugins.entry_points = [entry_point("loose", ARITH, dist=None)]
    (spec,) = Registry().list_envs()
    assert spec.source == "plugin (unknown distribution)"
    assert spec.error is None


def test_discovery_is_lazy_and_happens_once(plugins):
    plugins.entry_points = [entry_point("arith", ARITH)]
    reg = Registry()
    assert plugins.calls == [] and not reg.is_discovered
    reg.list_envs()
    reg.make("arith")
    reg.list_envs()
    assert plugins.calls == [ENTRY_POINT_GROUP]


def test_a_registry_reads_its_own_group(plugins):
    Registry(group="my.group").list_envs()
    assert plugins.calls == ["my.group"]


def test_import_agentgym_does_not_discover_plugins():
    code = (
        "import agentgym, agentgym.registry as r, sys; "
        "print(r.default.is_discovered, 'agentgym.envs.arith' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_builtin_arith_comes_from_the_entry_point():
    # The real installed metadata: built-ins register through the same group a third-party plugin uses.
    values = {ep.name: ep.value for ep in md.entry_points(group=ENTRY_POINT_GROUP)}
    assert values.get("arith") == ARITH
    spec = Registry().spec("arith")
    assert spec.source.startswith("plugin agentgym-rl ")


# --- malformed registrations ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["", "1abc", "_x", "has space", "a/b", "a:b", "ärith"])
def test_malformed_names_are_rejected(plugins, name):
    with pytest.raises(RegistrationError, match=exactly(
        f"invalid env name {name!r}: use letters, digits, '_', '.', '-', starting with a letter"
    )):
        Registry().register(name, Dummy)


def test_non_string_name_is_rejected(plugins):
    with pytest.raises(RegistrationError, match=exactly(
        "invalid env name 3: use letters, digits, '_', '.', '-', starting with a letter"
    )):
        Registry().register(3, Dummy)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no_colon", "mod:", ":Attr", "mod:Attr:More", "my-plugin:Env", "mod:1Env", "a b:C"])
def test_malformed_entry_points_are_rejected(plugins, value):
    with pytest.raises(RegistrationError, match=exactly(
        f"env 'x': invalid entry point {value!r}; expected 'package.module:Attribute', e.g. 'my_plugin.env:MyEnv'"
    )):
        Registry().register("x", value)


def test_entry_point_that_is_neither_string_nor_callable(plugins):
    with pytest.raises(RegistrationError, match=exactly(
        "env 'x': entry point must be a 'module:Attribute' string or a callable, got int"
    )):
        Registry().register("x", 42)  # type: ignore[arg-type]


def test_nested_attribute_entry_point_loads(plugins, plugin_modules):
    mod = plugin_modules("agp_nested", """
        class Outer:
            class Inner:
                def __init__(self): pass
                def tools(self): return []
                async def reset(self, task, *, seed=None): ...
                async def step(self, action): ...
                async def close(self): ...
    """)
    reg = Registry()
    reg.register("nested", f"{mod}:Outer.Inner")
    assert type(reg.make("nested")).__qualname__ == "Outer.Inner"


# --- duplicates ----------------------------------------------------------------------------------------------------
def test_duplicate_name_names_both_entry_points(plugins):
    reg = Registry()
    reg.register("dup", ARITH)
    with pytest.raises(RegistrationError, match=exactly(
        f"env 'dup' is registered twice: {ARITH} (from register()) and {__name__}:Dummy (from register()). "
        "Rename one of them, or uninstall the plugin you do not want (`pip uninstall <distribution>`)."
    )):
        reg.register("dup", Dummy)
    assert reg.load("dup") is ArithEnv  # the first registration is untouched


def test_register_over_an_installed_plugin_names_the_plugin(plugins):
    plugins.entry_points = [entry_point("arith", ARITH, dist="agentgym-rl", version="0.1.0")]
    reg = Registry()
    with pytest.raises(RegistrationError, match=exactly(
        f"env 'arith' is registered twice: {ARITH} (from plugin agentgym-rl 0.1.0) and {__name__}:Dummy "
        "(from register()). Rename one of them, or uninstall the plugin you do not want "
        "(`pip uninstall <distribution>`)."
    )):
        reg.register("arith", Dummy)  # caught now, before anyone calls make()


def test_same_registration_twice_is_harmless(plugins):
    reg = Registry()
    first = reg.register("same", ARITH, difficulty=2)
    second = reg.register("same", ARITH, difficulty=2)
    assert second is first
    assert [s.name for s in reg.list_envs()] == ["same"]
    assert reg.make("same").difficulty == 2


def test_same_entry_point_with_different_defaults_is_a_conflict(plugins):
    reg = Registry()
    reg.register("same", ARITH, difficulty=2)
    with pytest.raises(RegistrationError, match=exactly(
        f"env 'same' is registered twice: {ARITH} (from register()) and {ARITH} (from register()). "
        "Rename one of them, or uninstall the plugin you do not want (`pip uninstall <distribution>`)."
    )):
        reg.register("same", ARITH, difficulty=7)  # silently keeping difficulty=2 would be a lie
    assert reg.make("same").difficulty == 2


def test_two_distributions_registering_the_same_name(plugins):
    plugins.entry_points = [
        entry_point("clash", ARITH, dist="pkg-a", version="1.0"),
        entry_point("clash", f"{__name__}:Dummy", dist="pkg-b", version="2.0"),
        entry_point("fine", ARITH, dist="pkg-c"),
    ]
    reg = Registry()
    message = (
        f"two plugins register env 'clash': {ARITH} (from plugin pkg-a 1.0) and {__name__}:Dummy "
        "(from plugin pkg-b 2.0). Uninstall one of the two distributions."
    )
    specs = {s.name: s for s in reg.list_envs()}
    assert specs["clash"].error == message
    assert specs["fine"].error is None
    with pytest.raises(RegistrationError, match=exactly(message)):
        reg.make("clash")
    assert isinstance(reg.make("fine"), ArithEnv)  # the conflict does not hide the others


def test_the_same_distribution_seen_twice_on_sys_path_is_not_a_conflict(plugins):
    plugins.entry_points = [entry_point("arith", ARITH), entry_point("arith", ARITH)]
    reg = Registry()
    (spec,) = reg.list_envs()
    assert spec.error is None
    assert isinstance(reg.make("arith"), ArithEnv)


def test_plugin_clashing_with_an_earlier_non_default_registration(plugins):
    plugins.entry_points = [entry_point("clash", f"{__name__}:Dummy", dist="pkg-b", version="2.0")]
    reg = Registry()
    reg.register("clash", ARITH, source="conftest")  # a custom source skips discovery until first use
    message = (
        f"env 'clash' is registered twice: {ARITH} (from conftest) and {__name__}:Dummy (from plugin pkg-b 2.0). "
        "Rename one of them."
    )
    (spec,) = reg.list_envs()
    assert spec.error == message
    with pytest.raises(RegistrationError, match=exactly(message)):
        reg.make("clash")


def test_unregister_then_register_again(plugins):
    reg = Registry()
    reg.register("tmp", ARITH)
    reg.unregister("tmp")
    reg.unregister("tmp")  # unknown names are ignored
    reg.register("tmp", Dummy)
    assert isinstance(reg.make("tmp"), Dummy)


# --- unknown names -------------------------------------------------------------------------------------------------
def test_unknown_name_suggests_the_closest(plugins):
    plugins.entry_points = [entry_point("arith", ARITH), entry_point("code_repair", ARITH)]
    with pytest.raises(UnregisteredEnv, match=exactly(
        f"no env named 'arth'. Did you mean 'arith'? Registered envs: arith, code_repair. {LIST_HINT}"
    )) as info:
        Registry().make("arth")
    assert isinstance(info.value, KeyError) and isinstance(info.value, AgentGymError)


def test_unknown_name_with_several_suggestions(plugins):
    reg = Registry()
    for name in ("search", "serch-web", "code_repair"):
        reg.register(name, Dummy)
    with pytest.raises(UnregisteredEnv, match=exactly(
        f"no env named 'serch'. Did you mean 'search' or 'serch-web'? Registered envs: code_repair, search, "
        f"serch-web. {LIST_HINT}"
    )):
        reg.spec("serch")


def test_unknown_name_without_a_close_match(plugins):
    plugins.entry_points = [entry_point("arith", ARITH)]
    with pytest.raises(UnregisteredEnv, match=exactly(f"no env named 'zzz'. Registered envs: arith. {LIST_HINT}")):
        Registry().load("zzz")


def test_unknown_name_in_an_empty_registry(plugins):
    with pytest.raises(UnregisteredEnv, match=exactly(f"no env named 'arith'. Registered envs: none. {LIST_HINT}")):
        Registry().make("arith")


# --- loading plugin code -------------------------------------------------------------------------------------------
def where(name: str, value: str, source: str = "plugin pkg-a 1.0") -> str:
    return f"env {name!r} (entry point '{value}', from {source})"


def test_missing_module(plugins):
    plugins.entry_points = [entry_point("ghost", "agp_no_such_module.env:GhostEnv")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("ghost", "agp_no_such_module.env:GhostEnv") + ": module 'agp_no_such_module.env' cannot be imported "
        "(No module named 'agp_no_such_module'). Fix: install the package that provides it, or correct the entry "
        "point in the plugin's pyproject.toml [project.entry-points.\"agentgym.envs\"]."
    )) as info:
        Registry().make("ghost")
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_missing_submodule_of_an_existing_package(plugins):
    plugins.entry_points = [entry_point("ghost", "agentgym.envs.nope:Env")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("ghost", "agentgym.envs.nope:Env") + ": module 'agentgym.envs.nope' cannot be imported (No module "
        "named 'agentgym.envs.nope'). Fix: install the package that provides it, or correct the entry point in the "
        "plugin's pyproject.toml [project.entry-points.\"agentgym.envs\"]."
    )):
        Registry().make("ghost")


def test_module_whose_own_dependency_is_missing(plugins, plugin_modules):
    mod = plugin_modules("agp_needs_dep", "import agp_missing_dependency_xyz\nclass Env: pass\n")
    plugins.entry_points = [entry_point("needy", f"{mod}:Env")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("needy", f"{mod}:Env") + ": module 'agp_needs_dep' needs 'agp_missing_dependency_xyz', which is not "
        "installed (No module named 'agp_missing_dependency_xyz'). Fix: install the plugin's dependencies (e.g. "
        "`pip install agp_missing_dependency_xyz` or the plugin's extra)."
    )):
        Registry().make("needy")


def test_missing_dependency_whose_name_prefixes_the_module_name(plugins, plugin_modules):
    # 'agp_dep_plugin' imports 'agp_dep', which is missing: that is a missing dependency, not a missing plugin module
    mod = plugin_modules("agp_dep_plugin", "import agp_dep.core\nclass Env: pass\n")
    plugins.entry_points = [entry_point("dep", f"{mod}:Env")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("dep", f"{mod}:Env") + ": module 'agp_dep_plugin' needs 'agp_dep', which is not installed (No module "
        "named 'agp_dep'). Fix: install the plugin's dependencies (e.g. `pip install agp_dep` or the plugin's extra)."
    )):
        Registry().make("dep")


def test_module_whose_import_raises(plugins, plugin_modules):
    mod = plugin_modules("agp_crashes", "raise RuntimeError('config file missing')\n")
    plugins.entry_points = [entry_point("crashy", f"{mod}:Env")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("crashy", f"{mod}:Env") + ": importing module 'agp_crashes' failed with RuntimeError: config file "
        "missing. Fix the plugin module (the error is inside it)."
    )) as info:
        Registry().make("crashy")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_module_with_a_bad_import_inside(plugins, plugin_modules):
    mod = plugin_modules("agp_bad_name", "from os import no_such_function_xyz\n")
    plugins.entry_points = [entry_point("badname", f"{mod}:Env")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("badname", f"{mod}:Env") + ": importing module 'agp_bad_name' failed with ImportError: cannot import "
        f"name 'no_such_function_xyz' from 'os' ({__import__('os').__file__}). Fix the plugin module (the error is "
        "inside it)."
    )):
        Registry().make("badname")


def test_module_with_a_syntax_error(plugins, plugin_modules):
    mod = plugin_modules("agp_syntax", "def broken(:\n")
    plugins.entry_points = [entry_point("syntax", f"{mod}:Env")]
    with pytest.raises(PluginLoadError, match=re.escape(
        where("syntax", f"{mod}:Env") + ": importing module 'agp_syntax' failed with SyntaxError: "
    ) + r".+\. Fix the plugin module \(the error is inside it\)\.$"):
        Registry().make("syntax")


def test_missing_attribute(plugins, plugin_modules):
    mod = plugin_modules("agp_no_attr", "class OtherEnv: pass\n")
    plugins.entry_points = [entry_point("noattr", f"{mod}:MyEnv")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("noattr", f"{mod}:MyEnv") + ": module 'agp_no_attr' has no attribute 'MyEnv'. Fix: correct the entry "
        "point (expected 'module:ClassName')."
    )):
        Registry().make("noattr")


def test_non_callable_attribute(plugins, plugin_modules):
    mod = plugin_modules("agp_not_callable", "ENV = {'name': 'not a class'}\n")
    plugins.entry_points = [entry_point("notcallable", f"{mod}:ENV")]
    with pytest.raises(PluginLoadError, match=exactly(
        where("notcallable", f"{mod}:ENV") + ": 'ENV' is a dict, not a class or function."
    )):
        Registry().make("notcallable")


def test_factory_that_builds_something_that_is_not_an_env(plugins):
    reg = Registry()
    reg.register("notenv", lambda **kw: 42)
    with pytest.raises(PluginLoadError, match=exactly(
        f"env 'notenv' (entry point '{__name__}:test_factory_that_builds_something_that_is_not_an_env.<locals>."
        "<lambda>') built a int that has no 'reset' method; an env must implement the agentgym.api.Env protocol."
    )):
        reg.make("notenv")


def test_broken_plugins_are_listed_and_do_not_hide_the_others(plugins, plugin_modules):
    crash = plugin_modules("agp_broken_listing", "raise ImportError('libfoo.so: cannot open shared object file')\n")
    plugins.entry_points = [
        entry_point("aaa-malformed", "not an entry point", dist="pkg-bad"),
        entry_point("arith", ARITH, dist="agentgym", version="0.1.0"),
        entry_point("crashy", f"{crash}:Env", dist="pkg-crash"),
        entry_point("zzz-missing", "agp_gone_entirely:Env", dist="pkg-gone"),
    ]
    reg = Registry()
    specs = {s.name: s for s in reg.list_envs()}
    assert sorted(specs) == ["aaa-malformed", "arith", "crashy", "zzz-missing"]
    malformed = (
        "env 'aaa-malformed': invalid entry point 'not an entry point'; expected 'package.module:Attribute', "
        "e.g. 'my_plugin.env:MyEnv'"
    )
    assert specs["aaa-malformed"].error == malformed
    assert specs["aaa-malformed"].source == "plugin pkg-bad 1.0"
    with pytest.raises(RegistrationError, match=exactly(malformed)):
        reg.make("aaa-malformed")
    with pytest.raises(PluginLoadError, match=exactly(
        where("crashy", f"{crash}:Env", "plugin pkg-crash 1.0") + ": importing module 'agp_broken_listing' failed "
        "with ImportError: libfoo.so: cannot open shared object file. Fix the plugin module (the error is inside it)."
    )):
        reg.make("crashy")
    with pytest.raises(PluginLoadError, match="^" + re.escape(where("zzz-missing", "agp_gone_entirely:Env",
                                                                       "plugin pkg-gone 1.0"))):
        reg.make("zzz-missing")
    assert isinstance(reg.make("arith"), ArithEnv)  # the good one still works after each failure
    assert [s.name for s in reg.list_envs()] == ["aaa-malformed", "arith", "crashy", "zzz-missing"]


# --- constructor errors --------------------------------------------------------------------------------------------
class Picky(Dummy):
    def __init__(self, *, size: int = 1):
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        super().__init__(size=size)


def test_constructor_type_error_names_env_entry_point_and_kwargs(plugins):
    reg = Registry()
    reg.register("picky", f"{__name__}:Picky", size=2)
    with pytest.raises(EnvConstructionError, match=exactly(
        f"env 'picky' (entry point '{__name__}:Picky') rejected its config {{'size': 2, 'colour': 'red'}}: "
        "Picky.__init__() got an unexpected keyword argument 'colour'"
    )) as info:
        reg.make("picky", colour="red")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value.__cause__, TypeError)


def test_constructor_value_error_names_env_entry_point_and_kwargs(plugins):
    reg = Registry()
    reg.register("picky", Picky)
    with pytest.raises(EnvConstructionError, match=exactly(
        f"env 'picky' (entry point '{__name__}:Picky') rejected its config {{'size': -3}}: size must be >= 0, got -3"
    )) as info:
        reg.make("picky", size=-3)
    assert isinstance(info.value.__cause__, ValueError)


def test_arith_rejects_a_bad_difficulty_at_make_time(plugins):
    plugins.entry_points = [entry_point("arith", ARITH)]
    with pytest.raises(EnvConstructionError, match=exactly(
        f"env 'arith' (entry point '{ARITH}') rejected its config {{'difficulty': 0}}: "
        "difficulty must be an integer in [1, 32], got 0"
    )):
        Registry().make("arith", difficulty=0)


def test_other_constructor_errors_are_not_rewrapped(plugins):
    def explode(**kwargs):
        raise OSError("disk full")

    reg = Registry()
    reg.register("explode", explode)
    with pytest.raises(OSError, match=exactly("disk full")):
        reg.make("explode")


# --- the default registry and the package surface ------------------------------------------------------------------
def test_package_level_functions_use_the_default_registry(monkeypatch, plugins):
    fresh = Registry()
    monkeypatch.setattr(registry_module, "default", fresh)
    agentgym.register("dummy-top", Dummy, size=3)
    assert "dummy-top" in fresh.specs
    assert agentgym.make("dummy-top").kwargs == {"size": 3}
    assert [s.name for s in agentgym.list_envs()] == ["dummy-top"]
    assert [s.name for s in agentgym.list()] == ["dummy-top"]


def test_default_registry_lists_arith():
    names = [s.name for s in agentgym.list_envs()]
    assert "arith" in names
    assert all(s.error is None for s in agentgym.list_envs()), [s.error for s in agentgym.list_envs()]
    assert isinstance(agentgym.make("arith", max_turns=3), ArithEnv)

