"""The one plugin registry: built-ins and entry points found by short name, checked against the base class."""
from __future__ import annotations

import pytest

from alerts.exceptions import AlertError, UnknownNotifier
from alerts.notify.registry import NOTIFIERS, get_notifier
from collectors.exceptions import CollectorsError, UnknownCollector
from collectors.registry import COLLECTORS, get_collector
from storage.exceptions import RepwatchError
from storage.plugins import BadPlugin, Registry, UnknownPlugin


def test_an_unknown_name_lists_the_known_ones_and_is_no_keyerror():
    with pytest.raises(UnknownCollector) as caught:
        get_collector("mastodon")
    assert str(caught.value) == ("unknown collector kind 'mastodon'; known kinds: "
                                 "feed, import, json, rsshub, web")
    assert isinstance(caught.value, (UnknownPlugin, CollectorsError, RepwatchError))
    assert not isinstance(caught.value, KeyError)
    with pytest.raises(UnknownNotifier) as caught:
        get_notifier("pager")
    assert isinstance(caught.value, AlertError) and "email" in str(caught.value)


def test_builtins_load_lazily_and_are_subclasses_of_the_base():
    assert get_collector("feed").kind == "feed" and get_notifier("slack").kind == "slack"
    assert "feed" in COLLECTORS.known() and "zendesk" in NOTIFIERS.known()


def test_a_path_to_something_else_is_refused_with_its_name():
    reg = Registry("notifier", NOTIFIERS.base, "repwatch.test-nothing", {"bad": "storage.plugins:Registry",
                                                                         "gone": "storage.nowhere:X"})
    with pytest.raises(BadPlugin, match="'bad'.*not a subclass of Notifier"):
        reg.get("bad")
    with pytest.raises(BadPlugin, match="'gone': cannot load"):
        reg.get("gone")
    with pytest.raises(BadPlugin):
        reg.register("obj", int)


def test_from_config_sets_what_the_pipeline_used_to_patch_in():
    cls = get_notifier("webhook")
    n = cls.from_config("hook", cls.Options.model_validate({"url": "http://127.0.0.1:9/hook"}),
                        min_severity="urgent")
    assert (n.name, n.min_severity, str(n.options.url)) == ("hook", "urgent", "http://127.0.0.1:9/hook")
