# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Leaving the gather module with a large result, without walks that change nothing.

exit_json does two things to a result that cost more than the gather at a few
thousand listeners, and neither changes a byte of this module's result:

- It runs ``remove_values`` over every value to blank those of no_log options.
  The gather module has no such option, so ``no_log_values`` is empty, yet the
  walk copies tens of thousands of values.
- From ansible-core 2.19, its JSON encoder wraps every list and dict it meets
  and hands each back to Python (``_record_module_result``): 18,000 containers at
  6,000 listeners took about 50 ms, where the C encoder of the standard library
  writes the same text in 12 ms.

So, with nothing to blank, the walk is skipped; and the bulky keys (listeners,
processes: plain str, int, bool, None, list and dict built by this collection)
are written by the standard encoder, while ansible-core's own encoder writes the
rest (invocation, warnings, deprecations), which may hold its own types. The
standard encoder escapes as ansible-core's does: whether ansible-core writes
non-ASCII as is or escapes it is read from its own output for a probe. If any
step does not hold (a no_log value, a value the standard encoder refuses,
output not shaped as expected, an ansible-core without these names, or, with
the walk skipped, an encoder that refuses a value the walk would have converted,
such as a date), the normal exit_json path runs for the whole result.

On the split path ansible-core's recorder is called for a probe and for the
result without its bulky keys, never for the whole result: code that wraps or
mocks ``_record_module_result`` sees those parts, not what was printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from ansible.module_utils import basic

BULKY_KEYS = ('listeners', 'processes', 'ansible_facts')
_PROBE = '\u00e9'


def exit_with_result(module, result):
    """module.exit_json(changed=False, **result), through the cheap path when it is exact."""
    if module.no_log_values or not callable(getattr(basic, 'remove_values', None)):
        module.exit_json(changed=False, **result)
    recorder = getattr(module, '_record_module_result', None)
    if callable(recorder):
        module._record_module_result = _split_recorder(recorder)
    original = basic.remove_values
    basic.remove_values = _unchanged
    try:
        module.exit_json(changed=False, **result)
    except (TypeError, ValueError):
        # Raised before anything was printed: the encoder refused a value that remove_values would have
        # converted on the way (a date, a read-only mapping). The normal path below writes it.
        pass
    finally:  # exit_json raises SystemExit
        basic.remove_values = original
        if callable(recorder):
            del module._record_module_result
    module.exit_json(changed=False, **result)


def _unchanged(value, no_log_strings):  # pylint: disable=unused-argument
    return value


def _split_recorder(recorder):
    """A _record_module_result that writes the bulky keys with the standard encoder."""
    def record(outcome):
        text = split_encode(outcome, lambda part: _captured(recorder, part))
        if text is None:
            recorder(outcome)
        else:  # what print(text) writes, as ansible-core's recorder prints its text
            sys.stdout.write(text + '\n')
    return record


def _captured(recorder, part):
    """What ansible-core's recorder prints for part: '\\n' + JSON + '\\n'."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        recorder(part)
    return buffer.getvalue()


def split_encode(outcome, ansible_print):
    """The text ansible-core would print for outcome, minus the leading newline, or None.

    ``ansible_print(part)`` returns what ansible-core prints for a part of the
    result. The bulky keys are encoded by json.dumps; None means the normal path
    must run (a bulky value json refuses, or ansible-core's output not shaped as
    '\\n{...}\\n').
    """
    bulky = {key: outcome[key] for key in BULKY_KEYS if key in outcome}
    if not bulky:
        return None
    probe = _json_body(ansible_print({'probe': _PROBE}))
    if probe == json.dumps({'probe': _PROBE}, ensure_ascii=True):
        ensure_ascii = True
    elif probe == json.dumps({'probe': _PROBE}, ensure_ascii=False):
        ensure_ascii = False
    else:
        return None
    try:
        bulky_text = json.dumps(bulky, ensure_ascii=ensure_ascii)
    except (TypeError, ValueError):
        return None
    rest = {key: value for key, value in outcome.items() if key not in bulky}
    rest_text = _json_body(ansible_print(rest))
    if rest_text is None:
        return None
    if rest_text == '{}':
        return '\n' + bulky_text
    return '\n' + rest_text[:-1] + ', ' + bulky_text[1:]


def _json_body(printed):
    """The JSON object in '\\n{...}\\n', or None when printed is not shaped so."""
    if not (printed.startswith('\n{') and printed.endswith('}\n')):
        return None
    return printed[1:-1]
