"""A conversation's later turns, made on the hot path without serializing the history again.

A turn's body is the previous turn's body with two messages spliced in before the end of its
`messages` array: the assistant's answer (its content, byte for byte as the server streamed
it, JSON-encoded once) and the next user message (built before load, with the payload). The
media of the first turn stay where they are, base64 and all: a splice is two copies of the
body, ~0.1 ms for a megabyte, where encoding the history again would cost the event loop more.
"""

from __future__ import annotations

import dataclasses

import orjson

from harness.load.payloads import Payload

# The end of the messages array: request_body writes "messages" and then "max_tokens" first of the body's
# fields; the sequence cannot occur inside a JSON string (a quote there is escaped) or in base64.
MESSAGES_END = b'],"max_tokens":'


def next_turn(first: Payload, previous_body: bytes, answer: str, turn: int) -> Payload:
    """Turn `turn` (2 and on) of the conversation that `first` opened, after `previous_body` was answered."""
    end = previous_body.index(MESSAGES_END)
    added = b',{"role":"assistant","content":' + orjson.dumps(answer) + b"}," + first.next_turns[turn - 2]
    return dataclasses.replace(
        first,
        body=previous_body[:end] + added + previous_body[end:],
        expected_text_tokens=first.next_turn_tokens[turn - 2],
        history_tokens=1,
    )
