"""Each command's ``--help`` explains itself (issue 14 item 5).

Every option has help, choices are listed, and the key phrases a user needs
(what the command does, where secrets come from, what to run instead) are there.
"""

from __future__ import annotations

import argparse

import pytest
from django.core.management import get_commands, load_command_class

COMMANDS = sorted(name for name, app in get_commands().items() if app == "django_apiauth")

#: Phrases each command's --help must contain (whitespace-normalised).
KEY_PHRASES = {
    "apiauth_check": ["--all", "--timeout", "status 1", "NAME", "every active credential"],
    "apiauth_clear_tokens": ["NAME", "fleet-wide", "every credential"],
    "apiauth_credential": ["set", "list", "delete"],
    "apiauth_generate_key": ["ENCRYPTION_KEYS", "apiauth_rotate_keys"],
    "apiauth_prune_notifications": ["--days", "NOTIFICATION_RETENTION_DAYS", "daily"],
    "apiauth_rotate_keys": ["--dry-run", "--batch-size", "--database"],
    "apiauth_status": ["NAME", "--json", "status 1", "blocked"],
    "apiauth_sandbox": ["addrport", "APIAUTH_SANDBOX_API_KEY", "APIAUTH_SANDBOX_API_SECRET"],
}


def parser_of(name: str) -> argparse.ArgumentParser:
    return load_command_class("django_apiauth", name).create_parser("manage.py", name)


def parsers_of(name: str) -> list[argparse.ArgumentParser]:
    """The command's parser and its subcommands' parsers."""
    found = [parser_of(name)]
    for parser in found:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.extend(action.choices.values())
    return found


def help_text(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_help().split())


def test_every_command_of_the_app_is_covered():
    assert set(COMMANDS) == set(KEY_PHRASES)


@pytest.mark.parametrize("name", COMMANDS)
def test_the_command_says_what_it_does(name):
    assert (load_command_class("django_apiauth", name).help or "").strip()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name):
    for parser in parsers_of(name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            label = action.option_strings or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"{parser.prog} {label}"


@pytest.mark.parametrize("name", COMMANDS)
def test_choices_are_listed_in_the_help(name):
    for parser in parsers_of(name):
        text = help_text(parser)
        for action in parser._actions:
            for choice in action.choices or ():
                assert str(choice) in text, f"{parser.prog}: {choice}"


@pytest.mark.parametrize("name", COMMANDS)
def test_the_help_has_its_key_phrases(name):
    text = " ".join(help_text(parser) for parser in parsers_of(name))
    missing = [phrase for phrase in KEY_PHRASES[name] if phrase not in text]
    assert missing == []


@pytest.mark.parametrize("name", COMMANDS)
def test_no_help_points_at_nothing(name):
    # "see above" with nothing above it is the example of a useless help.
    for parser in parsers_of(name):
        assert "see above" not in help_text(parser).lower(), parser.prog
