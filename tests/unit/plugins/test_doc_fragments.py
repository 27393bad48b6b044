"""The doc fragment of a service's options: ipvs_table's TABLE_CONFIG repeats KEY, SERVICE and REAL_SERVERS one level
deeper (each fragment attribute must be one literal string for ansible-test's yamllint), so the repeated texts must stay
the same, apart from the option paths of their references."""
from __future__ import annotations

import ast
import inspect

import yaml

from ansible_collections.lvs.ipvs.plugins.doc_fragments._service import ModuleDocFragment as Fragment


def options(text: str, *path: str) -> dict:
    """The options of a fragment text, at `path` (e.g. "config", "suboptions"), with the option paths of their
    references taken out (O(config[].real_servers[].weight) -> O(weight)), as YAML text per option."""
    node = yaml.safe_load(text)["options"]
    for key in path:
        node = node[key]
    dumped = yaml.safe_dump(node, sort_keys=True)
    for prefix in ("config[].real_servers[].", "config[].", "real_servers[]."):
        dumped = dumped.replace(f"O({prefix}", "O(")
    return yaml.safe_load(dumped)


def test_the_table_config_repeats_the_key_and_the_service_options_word_for_word():
    table = options(Fragment.TABLE_CONFIG, "config", "suboptions")
    key, service = options(Fragment.KEY), options(Fragment.SERVICE)
    assert set(key) | set(service) <= set(table)
    for name, entry in {**key, **service}.items():
        assert table[name] == entry, name


def test_the_table_config_repeats_the_real_server_options_word_for_word():
    table = options(Fragment.TABLE_CONFIG, "config", "suboptions", "real_servers", "suboptions")
    real_servers = options(Fragment.REAL_SERVERS, "real_servers", "suboptions")
    assert table == real_servers and len(table) > 5


def test_each_attribute_is_one_literal_string():
    # ansible-test's yamllint reads the class body without running it: a computed value stops it with a traceback.
    tree = ast.parse(inspect.getsource(inspect.getmodule(Fragment)))
    (body,) = [node.body for node in tree.body if isinstance(node, ast.ClassDef)]
    values = {node.targets[0].id: node.value for node in body if isinstance(node, ast.Assign)}
    assert set(values) == {"KEY", "SERVICE", "REAL_SERVERS", "TABLE_CONFIG"}
    assert all(isinstance(value, ast.Constant) and isinstance(value.value, str) for value in values.values())
